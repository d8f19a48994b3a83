#include "jobs/execution_rules.h"

#include <algorithm>

#include "jobs/abort_rules.h"
#include "jobs/rules.h"
#include "jobs/timeouts.h"

namespace iotjobs::jobs {
namespace {

bool RunsExecutions(const Job& j) {
  return j.status == kJobInProgress || j.status == kJobScheduled;
}

// Cancels `job` as CancelJob does (see DecideCancelJob), recording it in `d`. OK with nothing
// recorded when there is nothing to do.
Status CancelJobInto(JobRecord* job, bool force, const std::optional<std::string>& reason_code,
                     const std::optional<std::string>& comment, Instant now, Decision* d) {
  Job& j = job->job;
  if (j.status == kJobDeletionInProgress) {
    return Status::InvalidRequest("job " + j.id + " is being deleted and cannot be canceled");
  }
  if (j.status == kJobCompleted) {
    return Status::InvalidRequest("job " + j.id + " is COMPLETED and cannot be canceled");
  }
  if (j.status == kJobCanceled && (!force || j.force_canceled)) {
    return Status::Ok();  // already canceled; nothing more to do
  }
  const bool status_changed = j.status != kJobCanceled;
  if (reason_code) j.reason_code = reason_code;
  if (comment) j.comment = comment;
  if (force) j.force_canceled = true;
  j.status = kJobCanceled;
  j.last_updated_at = now;
  job->work.rollout = false;
  job->work.cancel = true;
  if (force) job->work.force_cancel = true;
  job->work.cursor = 0;
  RecordJob(*job, d);
  // A forced re-cancel restarts the batches but is not a new cancellation: no second event (the
  // status did not change).
  if (status_changed) d->job_events.push_back(JobEventKind::kCancellationInProgress);
  return Status::Ok();
}

// Records `before` → `after` (a terminal outcome) and what follows it: header comment.
void AfterTerminal(JobRecord* job, const ExecutionRecord& before, ExecutionRecord after,
                   const RetriesUsed& used, Instant now, Decision* d) {
  if (!RunsExecutions(job->job)) {
    RecordUpdate(before, after, job, d);
    CompleteIfDone(job, now, d);
    return;
  }
  const auto& retry = job->job.configs.retry_config;
  const bool retry_now =
      MayRetry(job->job, before, after.e.status) && ShouldRetry(*retry, after.e.status, used);
  if (!retry_now) {
    RecordUpdate(before, after, job, d);
  } else {
    // A new execution with the next number; the failed one stays, no longer the latest.
    after.latest = false;
    RecordUpdate(before, after, job, d);
    ExecutionRecord r;
    r.job = after.job;
    r.thing = after.thing;
    r.latest = true;
    r.retry_cause = after.e.status;
    r.e.region = after.e.region;
    r.e.job_id = after.e.job_id;
    r.e.thing_name = after.e.thing_name;
    r.e.execution_number = after.e.execution_number + 1;
    r.e.status = ExecutionStatus::kQueued;
    r.e.version_number = 1;
    r.e.retry_attempt = after.e.retry_attempt + 1;
    r.e.queued_at = now;
    r.e.last_updated_at = now;
    RecordInsert(r, job, d);
  }
  if (const auto& abort = job->job.configs.abort_config) {
    const JobCounters& c = job->job.counters;
    TerminalCounts counts{c.succeeded, c.failed, c.rejected, c.timed_out, c.canceled, c.removed};
    if (auto a = EvaluateAbort(*abort, counts)) {
      // Cannot fail: the job is IN_PROGRESS or SCHEDULED.
      (void)CancelJobInto(job, /*force=*/false, a->reason_code, a->comment, now, d);
      d->job_aborted = true;
      return;
    }
  }
  CompleteIfDone(job, now, d);
}

// The device transition `current` → `next` (accepted by ApplyDeviceUpdate) recorded in `out`.
void DeviceTransition(const JobRecord& job, const ExecutionRecord& current, ExecutionStatus next,
                      const std::optional<std::map<std::string, std::string>>& details,
                      std::optional<int64_t> step_minutes, const RetriesUsed& used, Instant now,
                      DeviceOutcome* out) {
  JobRecord j = job;
  ExecutionRecord after = current;
  JobExecution& e = after.e;
  std::optional<int64_t> in_progress_minutes;
  if (j.job.configs.timeout_config) {
    in_progress_minutes = j.job.configs.timeout_config->in_progress_timeout_in_minutes;
  }
  ExecutionTimers timers =
      TimersAfterTransition({e.in_progress_deadline, e.step_deadline}, current.e.status, next,
                            in_progress_minutes, step_minutes, now);
  e.status = next;
  e.in_progress_deadline = timers.in_progress_deadline;
  e.step_deadline = timers.step_deadline;
  e.timeout_at = EffectiveDeadline(timers);
  if (details) e.status_details = *details;
  if (!e.started_at && next != ExecutionStatus::kQueued) e.started_at = now;
  e.version_number += 1;
  e.last_updated_at = now;
  out->decision.job_id = j.id;
  if (IsTerminal(next)) {
    AfterTerminal(&j, current, after, used, now, &out->decision);
  } else {
    RecordUpdate(current, after, &j, &out->decision);
  }
  out->execution = e;
}

}  // namespace

const std::vector<std::string>& PendingHiddenJobStatuses() {
  static const std::vector<std::string> kHidden = {kJobScheduled, kJobDeletionInProgress};
  return kHidden;
}

bool MayRetry(const Job& job, const ExecutionRecord& r, ExecutionStatus outcome) {
  return r.latest && job.configs.retry_config && RunsExecutions(job) &&
         (outcome == ExecutionStatus::kFailed || outcome == ExecutionStatus::kTimedOut);
}

RetriesUsed RetriesUsedOf(const std::vector<ExecutionRecord>& executions) {
  RetriesUsed used;
  for (const auto& r : executions) {
    if (!r.retry_cause) continue;
    (*r.retry_cause == ExecutionStatus::kFailed ? used.failed : used.timed_out) += 1;
  }
  return used;
}

Status AcceptsDeviceUpdates(const JobRecord& job) {
  if (job.job.status == kJobDeletionInProgress) {
    return Status::NotFound("job " + job.job.id + " is being deleted");
  }
  return Status::Ok();
}

DeviceOutcome DecideDeviceUpdate(const JobRecord& job, const ExecutionRecord& current,
                                 const DeviceRequest& req, const RetriesUsed& used, Instant now) {
  DeviceOutcome out;
  if (req.expected_version && *req.expected_version != current.e.version_number) {
    out.status =
        Status(Code::kVersionConflict, "expectedVersion " + std::to_string(*req.expected_version) +
                                           " does not match the execution's version " +
                                           std::to_string(current.e.version_number));
    out.execution = current.e;
    return out;
  }
  auto next = ApplyDeviceUpdate(current.e.status, req.status);
  if (!next.ok()) {
    out.status = next.status();
    if (next.status().code() == Code::kInvalidStateTransition) out.execution = current.e;
    return out;
  }
  DeviceTransition(job, current, *next, req.status_details, req.step_timeout_minutes, used, now,
                   &out);
  return out;
}

DeviceOutcome DecideStartNext(const JobRecord& job, const ExecutionRecord& head,
                              const std::optional<std::map<std::string, std::string>>& details,
                              std::optional<int64_t> step_timeout_minutes, Instant now) {
  DeviceOutcome out;
  if (head.e.status == ExecutionStatus::kInProgress) {
    out.execution = head.e;  // already started: returned unchanged [doc]
    return out;
  }
  DeviceTransition(job, head, ExecutionStatus::kInProgress, details, step_timeout_minutes,
                   RetriesUsed{}, now, &out);
  return out;
}

TimeoutOutcome DecideTimeOut(const JobRecord& job, const ExecutionRecord& r,
                             const RetriesUsed& used, Instant now) {
  TimeoutOutcome out;
  out.decision.job_id = job.id;
  JobRecord j = job;
  ExecutionRecord after = r;
  const ExecutionTimers timers{r.e.in_progress_deadline, r.e.step_deadline};
  if (r.e.status == ExecutionStatus::kInProgress && HasTimedOut(timers, now)) {
    after.e.status = ExecutionStatus::kTimedOut;
    after.e.version_number += 1;
    after.e.last_updated_at = now;
    after.e.timeout_at.reset();
    after.e.in_progress_deadline.reset();
    after.e.step_deadline.reset();
    out.timed_out = true;
    AfterTerminal(&j, r, after, used, now, &out.decision);
    return out;
  }
  // The stored timer disagrees with the timers (or the status): correct it, so the row is no
  // longer due, without a change a device could see.
  if (r.e.status == ExecutionStatus::kInProgress) {
    after.e.timeout_at = EffectiveDeadline(timers);
  } else {
    after.e.timeout_at.reset();
    after.e.in_progress_deadline.reset();
    after.e.step_deadline.reset();
  }
  RecordUpdate(r, after, &j, &out.decision);
  return out;
}

Result<Decision> DecideCancelJob(const JobRecord& job, bool force,
                                 const std::optional<std::string>& reason_code,
                                 const std::optional<std::string>& comment, Instant now) {
  Decision d;
  d.job_id = job.id;
  JobRecord j = job;
  IOTJOBS_RETURN_IF_ERROR(CancelJobInto(&j, force, reason_code, comment, now, &d));
  return d;
}

Result<Decision> DecideDeleteJob(const JobRecord& job, bool force, int64_t deleting,
                                 int64_t max_deleting, Instant now) {
  const Job& j = job.job;
  if (j.status == kJobDeletionInProgress) {
    return Status::InvalidRequest("job " + j.id + " is already being deleted");
  }
  const bool terminal = j.status == kJobCompleted || j.status == kJobCanceled;
  if (!terminal && !force) {
    return Status(Code::kInvalidStateTransition,
                  "job " + j.id + " is " + j.status +
                      "; only COMPLETED or CANCELED jobs can be deleted without force");
  }
  if (deleting >= max_deleting) {
    return Status::LimitExceeded(std::to_string(deleting) +
                                 " jobs are already being deleted; try again when one finishes");
  }
  Decision d;
  JobRecord r = job;
  r.job.status = kJobDeletionInProgress;
  r.job.last_updated_at = now;
  r.work = JobWork{};
  r.work.deletion = true;
  RecordJob(r, &d);
  d.job_events.push_back(JobEventKind::kDeletionInProgress);
  return d;
}

Result<TargetsDecision> DecideAssociateTargets(const JobRecord& job,
                                               const std::vector<std::string>& targets,
                                               int64_t max_targets, Instant now) {
  const Job& j = job.job;
  if (j.target_selection != "CONTINUOUS" || j.status != kJobInProgress) {
    return Status::InvalidRequest(
        "targets can be associated only with a CONTINUOUS job that is IN_PROGRESS; job " + j.id +
        " is " + j.target_selection + " and " + j.status);
  }
  TargetsDecision out;
  for (const auto& t : targets) {
    if (std::find(j.targets.begin(), j.targets.end(), t) == j.targets.end() &&
        std::find(out.added.begin(), out.added.end(), t) == out.added.end()) {
      out.added.push_back(t);
    }
  }
  const size_t total = j.targets.size() + out.added.size();
  if (total > static_cast<size_t>(std::max<int64_t>(max_targets, 0))) {
    return Status::LimitExceeded("a job can have at most " + std::to_string(max_targets) +
                                 " targets; this would make " + std::to_string(total));
  }
  out.first = static_cast<int64_t>(j.targets.size());
  JobRecord r = job;
  r.job.targets.insert(r.job.targets.end(), out.added.begin(), out.added.end());
  r.job.rollout_done = false;
  r.job.last_updated_at = now;
  r.work.rollout = true;
  RecordJob(r, &out.decision);
  return out;
}

Result<Decision> DecideCancelExecution(const JobRecord& job, const ExecutionRecord& current,
                                       bool force, std::optional<int64_t> expected_version,
                                       const std::map<std::string, std::string>& details,
                                       Instant now) {
  const JobExecution& e = current.e;
  if (expected_version && *expected_version != e.version_number) {
    return Status(Code::kVersionConflict, "the execution is at version " +
                                              std::to_string(e.version_number) + ", not " +
                                              std::to_string(*expected_version));
  }
  auto next =
      ApplyServiceEvent(e.status, force ? ServiceEvent::kForceCancel : ServiceEvent::kCancel);
  if (!next.ok()) {
    return Status(Code::kInvalidStateTransition,
                  std::string("cannot cancel an execution that is ") + ToString(e.status) +
                      (e.status == ExecutionStatus::kInProgress ? " without force" : ""));
  }
  Decision d;
  d.job_id = job.id;
  JobRecord j = job;
  ExecutionRecord after = current;
  after.e.status = *next;
  after.e.force_canceled = force;
  for (const auto& [k, v] : details) after.e.status_details[k] = v;
  after.e.version_number += 1;
  after.e.last_updated_at = now;
  after.e.timeout_at.reset();
  after.e.in_progress_deadline.reset();
  after.e.step_deadline.reset();
  RecordUpdate(current, after, &j, &d);
  CompleteIfDone(&j, now, &d);
  return d;
}

Result<Decision> DecideDeleteExecution(const JobRecord& job, const ExecutionRecord& r, bool force,
                                       Instant now) {
  if (!IsTerminal(r.e.status) && !force) {
    return Status(Code::kInvalidStateTransition,
                  std::string("the execution is ") + ToString(r.e.status) +
                      "; only terminal executions can be deleted without force");
  }
  Decision d;
  d.job_id = job.id;
  JobRecord j = job;
  RecordDelete(r, &j, &d);
  CompleteIfDone(&j, now, &d);
  return d;
}

}  // namespace iotjobs::jobs
