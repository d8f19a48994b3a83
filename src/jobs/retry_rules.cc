#include "jobs/retry_rules.h"

namespace iotjobs::jobs {

bool ShouldRetry(const RetryConfig& config, ExecutionStatus outcome, const RetriesUsed& used) {
  const char* type;
  int32_t used_of_type;
  if (outcome == ExecutionStatus::kFailed) {
    type = "FAILED";
    used_of_type = used.failed;
  } else if (outcome == ExecutionStatus::kTimedOut) {
    type = "TIMED_OUT";
    used_of_type = used.timed_out;
  } else {
    return false;
  }
  if (used.total() >= kMaxRetriesPerThing) return false;
  bool covered = false;
  for (const RetryCriteria& k : config.criteria_list) {
    if (k.failure_type == type) {
      covered = true;
      if (used_of_type >= k.number_of_retries) return false;
    } else if (k.failure_type == "ALL") {
      covered = true;
      if (used.total() >= k.number_of_retries) return false;
    }
  }
  return covered;
}

RetriesUsed CountRetry(RetriesUsed used, ExecutionStatus outcome) {
  if (outcome == ExecutionStatus::kFailed) ++used.failed;
  if (outcome == ExecutionStatus::kTimedOut) ++used.timed_out;
  return used;
}

}  // namespace iotjobs::jobs
