// Execution timers (spec §4.1): the in-progress timer of `timeoutConfig` and the device's step
// timer. Both are kept as absolute UTC deadlines, so re-evaluating after a restart or on another
// node gives the same answer. Pure functions, thread-safe.
//
// Rules:
// - The in-progress timer starts when the execution first enters IN_PROGRESS, never while QUEUED.
//   Its deadline is fixed then, so a later UpdateJob of timeoutConfig cannot move it.
// - A step timer (`stepTimeoutInMinutes` on StartNext or UpdateJobExecution) replaces the previous
//   one: deadline = now + minutes. On UpdateJobExecution, -1 clears it.
// - The effective deadline is min(in-progress deadline, step deadline): a step timer never extends
//   past the in-progress deadline.
// - A terminal update stops all timers; a step timeout sent with it is ignored.
#pragma once

#include <cstdint>
#include <optional>

#include "common/clock.h"
#include "common/status.h"
#include "jobs/execution_state.h"

namespace iotjobs::jobs {

inline constexpr int64_t kMinTimeoutMinutes = 1;
inline constexpr int64_t kMaxTimeoutMinutes = 10080;  // 7 days
inline constexpr int64_t kClearStepTimer = -1;        // UpdateJobExecution only

// The running timers of one execution. Empty = no timer.
struct ExecutionTimers {
  std::optional<Instant> in_progress_deadline;
  std::optional<Instant> step_deadline;  // the latest step timer, uncapped
  bool operator==(const ExecutionTimers&) const = default;
};

// timeoutConfig.inProgressTimeoutInMinutes: 1..10080. Error: InvalidRequest naming the field.
Status ValidateInProgressTimeout(int64_t minutes);

// stepTimeoutInMinutes: 1..10080, or -1 when `allow_clear` (UpdateJobExecution; StartNext does not
// allow it). Error: InvalidRequest naming the field.
Status ValidateStepTimeout(int64_t minutes, bool allow_clear);

// The timers after an accepted transition `from` → `to` at `now` (the transition itself is checked
// by ApplyDeviceUpdate). `in_progress_timeout_minutes` is the job's timeoutConfig (nullopt: none);
// `step_minutes` is the request's stepTimeoutInMinutes (nullopt: not given).
// - `to` terminal: both timers cleared.
// - `from` QUEUED, `to` IN_PROGRESS: the in-progress timer starts at `now`.
// - `to` IN_PROGRESS and `step_minutes` given: the step timer is replaced (or cleared by -1).
// - Otherwise the timers are returned unchanged.
// Precondition: step_minutes, when given, passed ValidateStepTimeout.
ExecutionTimers TimersAfterTransition(const ExecutionTimers& timers, ExecutionStatus from,
                                      ExecutionStatus to,
                                      std::optional<int64_t> in_progress_timeout_minutes,
                                      std::optional<int64_t> step_minutes, Instant now);

// min(in-progress deadline, step deadline); nullopt when neither timer runs.
std::optional<Instant> EffectiveDeadline(const ExecutionTimers& timers);

// True when a timer runs and `now` has reached the effective deadline (the service then applies
// ServiceEvent::kTimeOut). Idempotent: the same `now` gives the same answer.
bool HasTimedOut(const ExecutionTimers& timers, Instant now);

// approximateSecondsBeforeTimedOut: whole seconds from `now` to the effective deadline, rounded
// down and never negative; nullopt when no timer runs (the member is then omitted).
std::optional<int64_t> ApproximateSecondsBeforeTimedOut(const ExecutionTimers& timers, Instant now);

}  // namespace iotjobs::jobs
