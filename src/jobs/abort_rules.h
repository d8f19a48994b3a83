// Abort criteria (spec §4.3): whether a job's failure counts trip its abortConfig.
// Pure functions, thread-safe.
//
// What counts:
// - The counts are the job's things by the status of their latest execution, i.e. the
//   jobProcessDetails counters [inferred]. A failure whose retry is queued therefore stops counting
//   until the retry ends; deleted executions drop out (spec §4.3).
// - executed = SUCCEEDED + FAILED + REJECTED + TIMED_OUT: the executions that ran to an outcome.
//   CANCELED and REMOVED are terminal too but say nothing about how the job is doing; counting them
//   would let an operator's cancels or a shrinking dynamic group dilute the failure rate and
//   suppress an abort [inferred; the guide says "completed job executions"].
// - failures = the count of the criterion's failureType; ALL = FAILED + REJECTED + TIMED_OUT.
//
// A criterion trips when executed ≥ minNumberOfExecutedThings, failures ≥ 1 and
// failures / executed × 100 ≥ thresholdPercentage (inclusive; compared in exact integer arithmetic
// at the threshold's two decimal places). The failures ≥ 1 guard is ours [inferred]: a literal
// reading of threshold 0 would abort a job in which nothing failed. Criteria are checked in list
// order; the first that trips wins.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "jobs/configs.h"

namespace iotjobs::jobs {

inline constexpr const char* kAbortReasonCode = "ABORT_CRITERIA_MET";

struct TerminalCounts {
  int64_t succeeded = 0;
  int64_t failed = 0;
  int64_t rejected = 0;
  int64_t timed_out = 0;
  int64_t canceled = 0;  // not "executed"; carried so callers can pass jobProcessDetails whole
  int64_t removed = 0;   // likewise
};

// SUCCEEDED + FAILED + REJECTED + TIMED_OUT.
int64_t ExecutedCount(const TerminalCounts& c);

// The failures a failureType ("FAILED", "REJECTED", "TIMED_OUT", "ALL") counts; 0 for others.
int64_t FailureCount(const TerminalCounts& c, const std::string& failure_type);

struct AbortDecision {
  size_t criterion_index = 0;  // into AbortConfig::criteria_list
  AbortCriteria criterion;
  std::string reason_code;  // kAbortReasonCode: tells an abort apart from a user's CancelJob
  // Names the criterion and the counts: "Job aborted by abortConfig criterion 1
  // (failureType=FAILED, ...): 10 of 100 executed things FAILED (10%)".
  std::string comment;
};

// The first criterion of `config` that trips on `counts`, or nullopt. The job is then canceled
// like a non-forced CancelJob with the decision's reason_code and comment. Criteria whose action
// is not CANCEL or whose failureType is unknown never trip. Precondition: `config` passed
// ValidateConfigs.
std::optional<AbortDecision> EvaluateAbort(const AbortConfig& config, const TerminalCounts& counts);

}  // namespace iotjobs::jobs
