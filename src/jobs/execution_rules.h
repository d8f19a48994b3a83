// What happens to executions and jobs when a device reports, a timer expires, or an operator
// cancels or deletes: the deciders service::Applier runs for UpdateJobExecution, StartNext, the
// timeouts, CancelJob, DeleteJob, AssociateTargetsWithJob, CancelJobExecution and
// DeleteJobExecution. Pure functions of typed rows and `now`, thread-safe; each returns a
// jobs::Decision (or a refusal) and records every change through jobs/rules.h, so counters,
// events and thing changes follow one rule. The caller reads the rows in one transaction, calls
// the decider and writes the decision in the same transaction.
//
// Rules shared by every decider here:
// - An execution's versionNumber grows by 1 and lastUpdatedAt becomes `now` on every change the
//   device or the service makes (spec §3.1 "Versioning"), except the clearing of a stale timer,
//   which is bookkeeping, not a change anyone sees.
// - An execution reaching a terminal status stops all its timers (spec §4.1).
// - What follows a terminal outcome (AfterTerminal, spec §3.3, §4.3, §3.2): while the job is
//   IN_PROGRESS or SCHEDULED (a job between maintenance windows still runs its executions), a
//   FAILED or TIMED_OUT latest execution is retried when the job's jobExecutionsRetryConfig
//   allows it (jobs/retry_rules.h, with the thing's retries counted from its executions'
//   retry_cause): the failed execution stops being the latest and a new QUEUED one, numbered
//   next, retryAttempt + 1, version 1, becomes it. Then the job's abortConfig is evaluated on
//   its counters after the change (jobs/abort_rules.h); a criterion met cancels the job like a
//   non-forced CancelJob with the abort's reasonCode and comment (Decision::job_aborted). Else
//   a SNAPSHOT job may complete (jobs::CompleteIfDone). A job in any other status only checks
//   completion.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "jobs/records.h"
#include "jobs/retry_rules.h"

namespace iotjobs::jobs {

// --- The pending list (spec §2.3) ---

// The job statuses whose executions are not pending for a device: SCHEDULED (outside its
// schedule nothing runs [doc]) and DELETION_IN_PROGRESS (being purged).
const std::vector<std::string>& PendingHiddenJobStatuses();

// --- Retries ---

// Whether an execution `r` of `job` ending in `outcome` may be retried, so that the caller must
// count the thing's retries (RetriesUsedOf) before deciding. False when the job has no retry
// config, `r` is not the latest, the outcome is not FAILED / TIMED_OUT, or the job is neither
// IN_PROGRESS nor SCHEDULED.
bool MayRetry(const Job& job, const ExecutionRecord& r, ExecutionStatus outcome);

// The retries a thing has had of one job: its executions (every one, any order) created as
// retries, by the status of the execution each retried (ExecutionRecord::retry_cause).
RetriesUsed RetriesUsedOf(const std::vector<ExecutionRecord>& executions);

// --- The device (jobs data plane, spec §2.1, §3.1, §4.1) ---

// A device's UpdateJobExecution as the rules see it (already validated: details, step minutes).
struct DeviceRequest {
  ExecutionStatus status = ExecutionStatus::kInProgress;
  std::optional<std::map<std::string, std::string>> status_details;  // replaces when given
  std::optional<int64_t> step_timeout_minutes;  // kClearStepTimer clears the step timer
  std::optional<int64_t> expected_version;
};

// A device decision: accepted (status OK, `execution` the execution after it, `decision` the
// writes) or refused (status the refusal, `decision` empty; `execution` the current state on
// VersionConflict and InvalidStateTransition, so the device can resynchronise).
struct DeviceOutcome {
  Status status;
  std::optional<JobExecution> execution;
  Decision decision;
};

// A job being deleted takes no device updates: NotFound "job <id> is being deleted". OK otherwise.
Status AcceptsDeviceUpdates(const JobRecord& job);

// UpdateJobExecution of `current` (an execution of `job`). Refusals, in this order:
//   VersionConflict          expected_version given and not current's version;
//   InvalidRequest           a status only the service sets (jobs::ApplyDeviceUpdate);
//   InvalidStateTransition   current is terminal.
// Accepted: the status becomes req.status; timers follow jobs::TimersAfterTransition with the
// job's timeoutConfig and req.step_timeout_minutes (timeout_at = the effective deadline);
// statusDetails are replaced when given; startedAt is set on the first update; version + 1;
// lastUpdatedAt = now. A terminal status is followed by AfterTerminal (header comment), with
// `used` the thing's retries (only read when MayRetry(job, current, req.status)).
// Precondition: current.job == job.id.
DeviceOutcome DecideDeviceUpdate(const JobRecord& job, const ExecutionRecord& current,
                                 const DeviceRequest& req, const RetriesUsed& used, Instant now);

// StartNextPendingJobExecution of the thing's queue head `head` (spec §2.1): an IN_PROGRESS head
// is returned unchanged (empty decision, not even its version moves); a QUEUED head moves to
// IN_PROGRESS as DecideDeviceUpdate would (in-progress timer started, step timer set when
// given, details replaced when given). Always OK. Precondition: head is QUEUED or IN_PROGRESS.
DeviceOutcome DecideStartNext(const JobRecord& job, const ExecutionRecord& head,
                              const std::optional<std::map<std::string, std::string>>& details,
                              std::optional<int64_t> step_timeout_minutes, Instant now);

// --- Timers (spec §4.1) ---

struct TimeoutOutcome {
  bool timed_out = false;  // the execution became TIMED_OUT
  Decision decision;
};

// An execution `r` whose stored timer (JobExecution::timeout_at) is due at `now`. The TIMED_OUT
// decision is jobs::HasTimedOut of its two timers at `now`, for an IN_PROGRESS execution only:
// it becomes TIMED_OUT (version + 1, lastUpdatedAt = now, every timer stopped), followed by
// AfterTerminal with `used` (read only when MayRetry(job, r, TIMED_OUT)). Otherwise the stored
// timer is stale and is corrected without a visible change: an IN_PROGRESS execution's timeout_at
// becomes its effective deadline, any other execution's timers are cleared.
TimeoutOutcome DecideTimeOut(const JobRecord& job, const ExecutionRecord& r,
                             const RetriesUsed& used, Instant now);

// --- The control plane (spec §1.2, §1.3, §3.2) ---

// CancelJob. Refusals: InvalidRequest "job <id> is being deleted and cannot be canceled" and
// "job <id> is COMPLETED and cannot be canceled". A CANCELED job is canceled again only to
// upgrade it to forced (force and not yet force_canceled); otherwise OK with an empty decision.
// Accepted: status CANCELED, reasonCode / comment set when given, forceCanceled set with force,
// lastUpdatedAt = now; its work: rollout stops, QUEUED executions (with force also IN_PROGRESS
// ones) are canceled in the background from the first thing on (JobWork cancel / force_cancel,
// cursor 0); a pending deletion stays. The event cancellation_in_progress when the status
// changed. The executions themselves are not touched here.
Result<Decision> DecideCancelJob(const JobRecord& job, bool force,
                                 const std::optional<std::string>& reason_code,
                                 const std::optional<std::string>& comment, Instant now);

// DeleteJob. `deleting`: how many jobs (any region) are DELETION_IN_PROGRESS now. Refusals, in
// this order: InvalidRequest when already being deleted; InvalidStateTransition when neither
// COMPLETED nor CANCELED and !force; LimitExceeded when deleting >= max_deleting. Accepted:
// status DELETION_IN_PROGRESS, lastUpdatedAt = now, the only work left is the purge (every other
// work flag dropped, cursor 0); the event deletion_in_progress. The job's tags are the caller's.
Result<Decision> DecideDeleteJob(const JobRecord& job, bool force, int64_t deleting,
                                 int64_t max_deleting, Instant now);

struct TargetsDecision {
  std::vector<std::string> added;  // targets to append, in request order, without duplicates
  int64_t first = 0;               // the target index the first of them gets
  Decision decision;
};

// AssociateTargetsWithJob. Refusals: InvalidRequest unless the job is CONTINUOUS and
// IN_PROGRESS; LimitExceeded when the job would have more than `max_targets` targets. Targets
// already on the job (or repeated in the request) are dropped. Accepted: the job's target list
// grows by `added`, its rollout resumes (JobWork::rollout on, rollout_done off: the new targets
// are rolled out like the first ones), lastUpdatedAt = now.
Result<TargetsDecision> DecideAssociateTargets(const JobRecord& job,
                                               const std::vector<std::string>& targets,
                                               int64_t max_targets, Instant now);

// CancelJobExecution of `current`, the thing's highest-numbered execution of `job`. Refusals:
// VersionConflict when expected_version is given and differs; InvalidStateTransition for a
// terminal execution and, without force, an IN_PROGRESS one. Accepted: CANCELED,
// forceCanceled = force, `details` merged into its statusDetails, version + 1, lastUpdatedAt =
// now, every timer stopped; then the job may complete. No retry or abort follows a cancel.
Result<Decision> DecideCancelExecution(const JobRecord& job, const ExecutionRecord& current,
                                       bool force, std::optional<int64_t> expected_version,
                                       const std::map<std::string, std::string>& details,
                                       Instant now);

// DeleteJobExecution of `r`. Refusal: InvalidStateTransition when it is not terminal and !force.
// Accepted: the execution is deleted (it stops counting when it was the latest; the event
// deleted), then the job may complete.
Result<Decision> DecideDeleteExecution(const JobRecord& job, const ExecutionRecord& r, bool force,
                                       Instant now);

}  // namespace iotjobs::jobs
