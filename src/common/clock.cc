#include "common/clock.h"

namespace iotjobs {

SystemClock::SystemClock(double scale) : scale_(scale), start_(std::chrono::system_clock::now()) {}

Instant SystemClock::Now() const {
  auto wall = std::chrono::system_clock::now();
  if (scale_ == 1.0) return std::chrono::time_point_cast<Millis>(wall);
  auto elapsed = std::chrono::duration<double, std::milli>(wall - start_) * scale_;
  return std::chrono::time_point_cast<Millis>(start_) +
         Millis(static_cast<int64_t>(elapsed.count()));
}

}  // namespace iotjobs
