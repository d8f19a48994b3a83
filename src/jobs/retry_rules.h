// Retry decisions (spec §3.3): whether a FAILED or TIMED_OUT execution gets a new QUEUED execution
// on the same thing. Pure functions, thread-safe.
//
// Budgets, per thing (reset when a thing re-joins a continuous job's group):
// - A FAILED criterion allows `numberOfRetries` retries of FAILED executions; a TIMED_OUT criterion
//   likewise for TIMED_OUT ones.
// - An ALL criterion is one budget shared by both types: FAILED and TIMED_OUT retries together.
// - A failure is retried only if every criterion that covers its type (its own and ALL) still has
//   budget, and at least one does. With {ALL 5, FAILED 3}, FAILED retries stop at 3 and all retries
//   at 5 [inferred: the model allows both entries and says nothing about how they combine; taking
//   each as a ceiling never retries more than any single entry allows].
// - Never more than kMaxRetriesPerThing retries in total, whatever the config says.
// - REJECTED (and every other status) is never retried.
#pragma once

#include <cstdint>

#include "jobs/configs.h"
#include "jobs/execution_state.h"

namespace iotjobs::jobs {

inline constexpr int32_t kMaxRetriesPerThing = 10;

// The retries this thing has already had, by the status of the execution that was retried.
struct RetriesUsed {
  int32_t failed = 0;
  int32_t timed_out = 0;
  int32_t total() const { return failed + timed_out; }
};

// True when an execution that just ended in `outcome` should be followed by a retry.
// Precondition: `config` passed ValidateConfigs.
bool ShouldRetry(const RetryConfig& config, ExecutionStatus outcome, const RetriesUsed& used);

// `used` after one more retry of `outcome` (FAILED or TIMED_OUT; others leave it unchanged).
RetriesUsed CountRetry(RetriesUsed used, ExecutionStatus outcome);

}  // namespace iotjobs::jobs
