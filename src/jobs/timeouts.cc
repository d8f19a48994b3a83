#include "jobs/timeouts.h"

#include <algorithm>
#include <string>

namespace iotjobs::jobs {
namespace {

Instant MinutesAfter(Instant t, int64_t minutes) { return t + std::chrono::minutes(minutes); }

}  // namespace

Status ValidateInProgressTimeout(int64_t minutes) {
  if (minutes < kMinTimeoutMinutes || minutes > kMaxTimeoutMinutes) {
    return Status::InvalidRequest(
        "timeoutConfig.inProgressTimeoutInMinutes must be between 1 and 10080, got " +
        std::to_string(minutes));
  }
  return Status::Ok();
}

Status ValidateStepTimeout(int64_t minutes, bool allow_clear) {
  if (allow_clear && minutes == kClearStepTimer) return Status::Ok();
  if (minutes < kMinTimeoutMinutes || minutes > kMaxTimeoutMinutes) {
    return Status::InvalidRequest(std::string("stepTimeoutInMinutes must be between 1 and 10080") +
                                  (allow_clear ? " (or -1 to cancel the step timer)" : "") +
                                  ", got " + std::to_string(minutes));
  }
  return Status::Ok();
}

ExecutionTimers TimersAfterTransition(const ExecutionTimers& timers, ExecutionStatus from,
                                      ExecutionStatus to,
                                      std::optional<int64_t> in_progress_timeout_minutes,
                                      std::optional<int64_t> step_minutes, Instant now) {
  if (IsTerminal(to)) return {};
  ExecutionTimers out = timers;
  if (to != ExecutionStatus::kInProgress) return out;
  // Only the first entry into IN_PROGRESS starts the timer; re-sending IN_PROGRESS must not
  // restart it, or a device could postpone its time-out forever.
  if (from == ExecutionStatus::kQueued && in_progress_timeout_minutes) {
    out.in_progress_deadline = MinutesAfter(now, *in_progress_timeout_minutes);
  }
  if (step_minutes) {
    if (*step_minutes == kClearStepTimer) {
      out.step_deadline.reset();
    } else {
      out.step_deadline = MinutesAfter(now, *step_minutes);
    }
  }
  return out;
}

std::optional<Instant> EffectiveDeadline(const ExecutionTimers& timers) {
  // The step deadline is stored uncapped and capped here, so clearing the step timer needs no
  // memory of what the in-progress deadline was.
  if (timers.in_progress_deadline && timers.step_deadline) {
    return std::min(*timers.in_progress_deadline, *timers.step_deadline);
  }
  return timers.in_progress_deadline ? timers.in_progress_deadline : timers.step_deadline;
}

bool HasTimedOut(const ExecutionTimers& timers, Instant now) {
  std::optional<Instant> d = EffectiveDeadline(timers);
  return d && now >= *d;
}

std::optional<int64_t> ApproximateSecondsBeforeTimedOut(const ExecutionTimers& timers,
                                                        Instant now) {
  std::optional<Instant> d = EffectiveDeadline(timers);
  if (!d) return std::nullopt;
  return std::max<int64_t>(0, (*d - now).count() / 1000);
}

}  // namespace iotjobs::jobs
