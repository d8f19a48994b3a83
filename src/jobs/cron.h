// AWS cron expressions and maintenance windows (spec §4.6). Pure, thread-safe; all times UTC.
//
// Syntax: cron(minutes hours day-of-month month day-of-week year), fields separated by spaces.
//   minutes      0-59
//   hours        0-23
//   day-of-month 1-31, or L (last day), LW (last weekday), nW (weekday nearest day n, within the
//                month), or ?
//   month        1-12 or JAN-DEC
//   day-of-week  1-7 or SUN-SAT (1 = SUN), or L (= SAT), dL / DAYL (last such day of the month),
//                d#k / DAY#k (k-th such day, k 1-5), or ?
//   year         1970-2199
// Every field takes * (all), a value, a range a-b, a step a/s, */s or a-b/s, and comma lists of
// these. Names are case-insensitive. L, W and # forms stand alone in their field. As in AWS,
// exactly one of day-of-month and day-of-week must be ? (the other field selects the days). Ranges
// do not wrap (FRI-MON is an error). Occurrences fall on whole minutes.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "jobs/configs.h"

namespace iotjobs::jobs {

inline constexpr int kCronMinYear = 1970;
inline constexpr int kCronMaxYear = 2199;

class CronExpression {
 public:
  // Parses `text`, e.g. "cron(0 22 ? * SUN *)". Errors: InvalidRequest naming the field and the
  // offending token, e.g. "cron day-of-month field '32': 32 is outside 1-31".
  static Result<CronExpression> Parse(std::string_view text);

  // The first occurrence strictly after `t`, or nullopt when there is none up to the end of
  // kCronMaxYear (e.g. cron(0 0 30 2 ? *), or a year list in the past).
  std::optional<Instant> NextAfter(Instant t) const;

  // True when minute `t` (seconds ignored) is an occurrence.
  bool Matches(Instant t) const;

  const std::string& text() const { return text_; }

 private:
  CronExpression() = default;

  bool DayMatches(int y, unsigned m, unsigned d) const;

  std::string text_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<13> months_;  // 1-12
  std::bitset<kCronMaxYear - kCronMinYear + 1> years_;

  // day-of-month; unused when dom_question_
  bool dom_question_ = false;
  std::bitset<32> dom_days_;  // 1-31
  bool dom_last_ = false;
  bool dom_last_weekday_ = false;
  int dom_nearest_weekday_ = 0;  // n of nW, 0 when absent

  // day-of-week; unused when dow_question_. Days 1-7, 1 = Sunday.
  bool dow_question_ = false;
  std::bitset<8> dow_days_;
  int dow_nth_day_ = 0;  // d of d#k, 0 when absent
  int dow_nth_ = 0;      // k of d#k
  int dow_last_of_ = 0;  // d of dL, 0 when absent
};

// One maintenance window: an occurrence of `start` opens it for `duration`.
struct CronWindow {
  CronExpression start;
  Millis duration;
};

// Parses every window's cron expression. Errors: InvalidRequest prefixed with the field, e.g.
// "maintenanceWindows[1].startTime: cron hours field '24': 24 is outside 0-23".
// Precondition: durations passed ValidateConfigs (1-1430 minutes).
Result<std::vector<CronWindow>> ParseMaintenanceWindows(
    const std::vector<MaintenanceWindow>& windows);

struct WindowState {
  bool open = false;
  // When open: the end of the open occurrence that ends last. An occurrence that starts before
  // then and runs past it is not merged in; re-evaluating at closes_at finds it open.
  std::optional<Instant> closes_at;
  // When closed: the next occurrence of any window; nullopt when none will ever open.
  std::optional<Instant> next_opens_at;
};

// Whether a window is open at `now`: some occurrence s of some window has s ≤ now < s + duration.
WindowState WindowStateAt(std::span<const CronWindow> windows, Instant now);

// The first `n` distinct occurrences of any window strictly after `after`, ascending (fewer when
// the expressions run out). DescribeJob's scheduledJobRollouts uses n = 7.
std::vector<Instant> NextWindowStarts(std::span<const CronWindow> windows, Instant after,
                                      size_t n = 7);

}  // namespace iotjobs::jobs
