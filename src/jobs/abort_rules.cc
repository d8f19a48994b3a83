#include "jobs/abort_rules.h"

#include <cmath>
#include <cstdio>

namespace iotjobs::jobs {
namespace {

// "12.5" / "10" / "33.33": two decimals at most, trailing zeros dropped.
std::string Percent(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string s = buf;
  s.erase(s.find_last_not_of('0') + 1);
  if (s.back() == '.') s.pop_back();
  return s;
}

bool Trips(const AbortCriteria& k, const TerminalCounts& counts) {
  if (k.action != "CANCEL") return false;
  const int64_t executed = ExecutedCount(counts);
  const int64_t failures = FailureCount(counts, k.failure_type);
  if (executed < k.min_number_of_executed_things || executed == 0 || failures == 0) return false;
  // failures / executed × 100 ≥ threshold, with the threshold in hundredths of a percent so the
  // boundary is exact: 1 of 3 is 33.333…%, which must trip 33.33 and not 33.34.
  const int64_t threshold_hundredths = std::llround(k.threshold_percentage * 100);
  return failures * 10'000 >= threshold_hundredths * executed;
}

}  // namespace

int64_t ExecutedCount(const TerminalCounts& c) {
  return c.succeeded + c.failed + c.rejected + c.timed_out;
}

int64_t FailureCount(const TerminalCounts& c, const std::string& failure_type) {
  if (failure_type == "FAILED") return c.failed;
  if (failure_type == "REJECTED") return c.rejected;
  if (failure_type == "TIMED_OUT") return c.timed_out;
  if (failure_type == "ALL") return c.failed + c.rejected + c.timed_out;
  return 0;
}

std::optional<AbortDecision> EvaluateAbort(const AbortConfig& config,
                                           const TerminalCounts& counts) {
  for (size_t i = 0; i < config.criteria_list.size(); ++i) {
    const AbortCriteria& k = config.criteria_list[i];
    if (!Trips(k, counts)) continue;
    const int64_t executed = ExecutedCount(counts);
    const int64_t failures = FailureCount(counts, k.failure_type);
    AbortDecision d;
    d.criterion_index = i;
    d.criterion = k;
    d.reason_code = kAbortReasonCode;
    d.comment = "Job aborted by abortConfig criterion " + std::to_string(i + 1) +
                " (failureType=" + k.failure_type +
                ", thresholdPercentage=" + Percent(k.threshold_percentage) +
                ", minNumberOfExecutedThings=" + std::to_string(k.min_number_of_executed_things) +
                "): " + std::to_string(failures) + " of " + std::to_string(executed) +
                " executed things " + (k.failure_type == "ALL" ? "failed" : k.failure_type) + " (" +
                Percent(100.0 * failures / executed) + "%)";
    return d;
  }
  return std::nullopt;
}

}  // namespace iotjobs::jobs
