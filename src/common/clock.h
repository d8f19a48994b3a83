// Clock: the one seam for time. Every rule takes `now` from an injected Clock so tests use
// FakeClock and `--time-scale N` runs the service N times faster without touching rule code.
//
// Times are UTC instants with millisecond resolution (AWS timestamps are epoch seconds with a
// fractional part). Implementations are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace iotjobs {

using Millis = std::chrono::milliseconds;
// A UTC instant as milliseconds since the Unix epoch.
using Instant = std::chrono::time_point<std::chrono::system_clock, Millis>;

inline int64_t ToEpochMillis(Instant t) { return t.time_since_epoch().count(); }
inline Instant FromEpochMillis(int64_t ms) { return Instant(Millis(ms)); }

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Instant Now() const = 0;
};

// Wall-clock time, optionally running `scale` times faster from the moment it is constructed:
// now = start + scale * (wall - start). scale 1 is plain system time.
class SystemClock final : public Clock {
 public:
  explicit SystemClock(double scale = 1.0);
  Instant Now() const override;
  double scale() const { return scale_; }

 private:
  double scale_;
  std::chrono::system_clock::time_point start_;
};

// Manually advanced time for tests.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(Instant start = FromEpochMillis(1'700'000'000'000))
      : ms_(ToEpochMillis(start)) {}
  Instant Now() const override { return FromEpochMillis(ms_.load()); }
  void Advance(Millis d) { ms_ += d.count(); }
  void Set(Instant t) { ms_ = ToEpochMillis(t); }

 private:
  std::atomic<int64_t> ms_;
};

}  // namespace iotjobs
