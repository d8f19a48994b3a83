// Stats: what a fleet run counts and times. One Stats per event-loop thread (no locks on the hot
// path; the live counters are relaxed atomics so the progress line can read them), merged at the
// end into a Summary.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace iotjobs::fleet {

// Series of the timeline, one count per bucket.
enum Series { kNotified, kStarted, kSucceeded, kFailed, kRejected, kHung, kSeriesCount };
const char* SeriesName(int s);

struct Percentiles {
  size_t n = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;  // milliseconds
};
// Percentiles of `samples_us` (microseconds); sorts the vector.
Percentiles ComputePercentiles(std::vector<uint32_t>& samples_us);

class Stats {
 public:
  Stats(int64_t start_ms, int64_t bucket_ms) : start_ms_(start_ms), bucket_ms_(bucket_ms) {}

  // Moves the timeline's origin (bucket 0 starts there; earlier events land in bucket 0). The
  // fleet sets it when every device is ready, which is when a benchmark creates its job.
  void SetOrigin(int64_t ms) { start_ms_.store(ms, kRelaxed); }

  void Count(Series s, int64_t now_ms);
  void Error(const std::string& code) {
    ++errors_[code];
    errors_total.fetch_add(1, kRelaxed);
  }

  // Live counters, read by the progress line from another thread.
  static constexpr auto kRelaxed = std::memory_order_relaxed;
  std::atomic<int64_t> connected{0}, subscribed{0}, connect_failures{0}, disconnects{0};
  std::array<std::atomic<int64_t>, kSeriesCount> totals{};
  std::atomic<int64_t> updates_accepted{0}, requests_sent{0}, errors_total{0};
  // Unix ms of the first and last event of each series (0: none yet).
  std::array<int64_t, kSeriesCount> first_ms{}, last_ms{};

  std::vector<uint32_t> start_next_us, update_us, notify_to_done_us, connect_us;

  int64_t start_ms() const { return start_ms_.load(kRelaxed); }
  int64_t bucket_ms() const { return bucket_ms_; }
  const std::vector<std::array<int64_t, kSeriesCount>>& buckets() const { return buckets_; }
  const std::map<std::string, int64_t>& errors() const { return errors_; }

  // Adds `other` into this one (same start and bucket size).
  void Merge(const Stats& other);

 private:
  std::atomic<int64_t> start_ms_;
  int64_t bucket_ms_;
  std::vector<std::array<int64_t, kSeriesCount>> buckets_;
  std::map<std::string, int64_t> errors_;
};

}  // namespace iotjobs::fleet
