// schedulingConfig (spec §4.6): start and end times, endBehavior and maintenance windows, and the
// SCHEDULED / IN_PROGRESS decision they imply. Pure functions, thread-safe; all times UTC.
//
// Time rules, checked at CreateJob against `now` ("a year" is 365 days [inferred]):
// - startTime: at least 30 minutes from now and at most 365 days from now.
// - endTime: at least 30 minutes from now, at least 30 minutes after startTime, and at most 730
//   days after startTime (after now when there is no startTime).
// Job status while the job is active (not canceled, completed or being deleted):
// - before startTime: SCHEDULED, nothing rolls out;
// - from startTime (or creation) until endTime: without maintenance windows IN_PROGRESS and rolling
//   out; with windows IN_PROGRESS and rolling out inside a window, SCHEDULED between windows;
// - from endTime: no more rollout, ever; endBehavior says what else happens (STOP_ROLLOUT: existing
//   executions continue; CANCEL: like CancelJob; FORCE_CANCEL: like CancelJob with force). The
//   status is IN_PROGRESS until the cancel or completion logic moves it on [inferred: SCHEDULED
//   would tell the user more rollouts are coming].
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "jobs/cron.h"
#include "jobs/job.h"

namespace iotjobs::jobs {

inline constexpr Millis kMinScheduleLead = std::chrono::minutes(30);
inline constexpr Millis kMaxStartAhead = std::chrono::days(365);
inline constexpr Millis kMaxEndAfterStart = std::chrono::days(730);
inline constexpr size_t kScheduledRolloutsShown = 7;

// Parses an ISO-8601 date-time: YYYY-MM-DD, optionally followed by T (or a space) HH:MM, :SS and
// .fraction (milliseconds kept), and optionally Z or an offset ±HH:MM / ±HHMM, which is applied
// (the result is UTC). No offset means UTC. e.g. "2026-10-01T12:00", "2026-10-01T12:00:30.5Z".
// Errors: InvalidRequest naming `field` and quoting the text, for a bad shape or an impossible date
// or time (2026-02-29, 24:00).
Result<Instant> ParseIsoUtc(std::string_view field, std::string_view text);

// "2026-10-01T12:00" when `t` falls on a whole minute, else "2026-10-01T12:00:30" or
// "2026-10-01T12:00:30.500"; always UTC, without a zone suffix (the form of the guide's examples).
std::string FormatIsoUtc(Instant t);

enum class EndBehavior { kStopRollout, kCancel, kForceCancel };

// Wire names STOP_ROLLOUT, CANCEL, FORCE_CANCEL.
const char* ToString(EndBehavior b);
// Errors: InvalidRequest "schedulingConfig.endBehavior must be one of ...".
Result<EndBehavior> ParseEndBehavior(std::string_view text);

// A job's schedule with every string already parsed.
struct Schedule {
  std::optional<Instant> start;
  std::optional<Instant> end;
  // Applies only when `end` is set. STOP_ROLLOUT when the request gave none [inferred: the
  // behaviour that destroys nothing].
  EndBehavior end_behavior = EndBehavior::kStopRollout;
  std::vector<CronWindow> windows;
};

// Parses a job's schedulingConfig (times, endBehavior, maintenance windows). Errors:
// InvalidRequest naming schedulingConfig.<field>.
Result<Schedule> ParseSchedule(const SchedulingConfig& config);

// The time rules above, against `now` (the CreateJob instant). Errors: InvalidRequest naming
// schedulingConfig.startTime or .endTime, the rule, and the limit as an ISO time.
Status ValidateScheduleTimes(std::optional<Instant> start, std::optional<Instant> end, Instant now);

// The job status the schedule asks for.
enum class ScheduledStatus { kScheduled, kInProgress };

struct ScheduleDecision {
  ScheduledStatus status = ScheduledStatus::kInProgress;
  bool may_roll_out = false;  // whether executions may be created now
  // Set once `now` ≥ end: what endBehavior demands. The service applies it once; calling again is
  // harmless because canceling a canceled job changes nothing.
  std::optional<EndBehavior> end_action;
  // The next instant at which the decision can change (start, a window opening or closing, end);
  // nullopt when it never will. The scheduler re-evaluates then.
  std::optional<Instant> next_change;
};

ScheduleDecision DecideSchedule(const Schedule& schedule, Instant now);

// DescribeJob's scheduledJobRollouts: the next kScheduledRolloutsShown window starts after `now`,
// not before `start` and before `end`. Empty without maintenance windows.
std::vector<Instant> ScheduledRollouts(const Schedule& schedule, Instant now);

}  // namespace iotjobs::jobs
