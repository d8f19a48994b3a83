// Test helper: UTC instants from calendar fields, independent of the code under test.
#pragma once

#include <chrono>

#include "common/clock.h"

namespace iotjobs::jobs::testing {

inline Instant Utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0, int ms = 0) {
  using namespace std::chrono;  // NOLINT: a test helper spelling out a calendar date
  return time_point_cast<Millis>(sys_days(year(y) / month(mo) / day(d))) + hours(h) + minutes(mi) +
         seconds(s) + Millis(ms);
}

inline constexpr Millis Min(int64_t n) { return std::chrono::minutes(n); }

}  // namespace iotjobs::jobs::testing
