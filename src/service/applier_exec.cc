// Applier: the operations on executions and the control plane's cancel / delete / associate
// (jobs/execution_rules.h decides; each operation is one Store::Transact).
#include "jobs/execution_rules.h"
#include "service/applier.h"

namespace iotjobs::service {
namespace {

Result<jobs::JobRecord> FindJob(store::Txn& txn, const std::string& region, const std::string& id) {
  auto job = txn.FindJob(region, id);
  if (!job.ok()) return job.status();
  if (!*job) return Status::NotFound("job " + id + " does not exist");
  return std::move(**job);
}

Result<int64_t> FindThing(store::Txn& txn, const std::string& region, const std::string& name) {
  auto thing = txn.ThingId(region, name);
  if (!thing.ok()) return thing.status();
  if (!*thing) return Status::NotFound("thing " + name + " does not exist");
  return **thing;
}

// The thing's retries of the job, read only when the rules may retry `r` ending in `outcome`.
Result<jobs::RetriesUsed> ThingRetries(store::Txn& txn, const jobs::JobRecord& job,
                                       const jobs::ExecutionRecord& r,
                                       jobs::ExecutionStatus outcome) {
  if (!jobs::MayRetry(job.job, r, outcome)) return jobs::RetriesUsed{};
  auto all = txn.ExecutionsOf(r.job, r.thing);
  if (!all.ok()) return all.status();
  return jobs::RetriesUsedOf(*all);
}

}  // namespace

Status Applier::CancelJob(const std::string& region, const std::string& id, bool force,
                          const std::optional<std::string>& reason_code,
                          const std::optional<std::string>& comment, Instant now) {
  return store_->Transact([&](store::Txn& txn) -> Status {
    auto job = FindJob(txn, region, id);
    if (!job.ok()) return job.status();
    auto d = jobs::DecideCancelJob(*job, force, reason_code, comment, now);
    if (!d.ok()) return d.status();
    return Apply(txn, *d);
  });
}

Status Applier::DeleteJob(const std::string& region, const std::string& id, const std::string& arn,
                          bool force, int max_deleting, Instant now) {
  return store_->Transact([&](store::Txn& txn) -> Status {
    auto job = FindJob(txn, region, id);
    if (!job.ok()) return job.status();
    auto deleting = txn.CountJobsWithStatus(jobs::kJobDeletionInProgress);
    if (!deleting.ok()) return deleting.status();
    auto d = jobs::DecideDeleteJob(*job, force, *deleting, max_deleting, now);
    if (!d.ok()) return d.status();
    IOTJOBS_RETURN_IF_ERROR(txn.DeleteTags(arn));
    return Apply(txn, *d);
  });
}

Status Applier::AssociateTargets(const std::string& region, const std::string& id,
                                 const std::vector<std::string>& targets, int max_targets,
                                 Instant now) {
  return store_->Transact([&](store::Txn& txn) -> Status {
    auto job = FindJob(txn, region, id);
    if (!job.ok()) return job.status();
    auto t = jobs::DecideAssociateTargets(*job, targets, max_targets, now);
    if (!t.ok()) return t.status();
    IOTJOBS_RETURN_IF_ERROR(txn.AddTargets(job->id, region, t->added, t->first));
    return Apply(txn, t->decision);
  });
}

Status Applier::CancelExecution(const std::string& region, const std::string& job_id,
                                const std::string& thing, bool force,
                                std::optional<int64_t> expected_version,
                                const std::map<std::string, std::string>& status_details,
                                Instant now) {
  return store_->Transact([&](store::Txn& txn) -> Status {
    auto job = FindJob(txn, region, job_id);
    if (!job.ok()) return job.status();
    auto t = FindThing(txn, region, thing);
    if (!t.ok()) return t.status();
    // The highest-numbered execution, as DescribeJobExecution without a number shows it.
    auto current = txn.Execution(job->id, *t, std::nullopt);
    if (!current.ok()) return current.status();
    if (!*current) {
      return Status::NotFound("job " + job_id + " has no execution on thing " + thing);
    }
    auto d =
        jobs::DecideCancelExecution(*job, **current, force, expected_version, status_details, now);
    if (!d.ok()) return d.status();
    return Apply(txn, *d);
  });
}

Status Applier::DeleteExecution(const std::string& region, const std::string& job_id,
                                const std::string& thing, int64_t number, bool force, Instant now) {
  return store_->Transact([&](store::Txn& txn) -> Status {
    auto job = FindJob(txn, region, job_id);
    if (!job.ok()) return job.status();
    auto t = FindThing(txn, region, thing);
    if (!t.ok()) return t.status();
    auto r = txn.Execution(job->id, *t, number);
    if (!r.ok()) return r.status();
    if (!*r) {
      return Status::NotFound("job " + job_id + " has no execution number " +
                              std::to_string(number) + " on thing " + thing);
    }
    auto d = jobs::DecideDeleteExecution(*job, **r, force, now);
    if (!d.ok()) return d.status();
    return Apply(txn, *d);
  });
}

Result<std::vector<jobs::JobExecution>> Applier::PendingExecutions(const std::string& region,
                                                                   const std::string& thing,
                                                                   int limit) {
  std::vector<jobs::JobExecution> out;
  Status st = store_->View([&](store::Txn& txn) -> Status {
    out.clear();
    auto t = FindThing(txn, region, thing);
    if (!t.ok()) return t.status();
    auto queue = txn.ThingQueue(*t, jobs::PendingHiddenJobStatuses(), limit);
    if (!queue.ok()) return queue.status();
    for (auto& r : *queue) out.push_back(std::move(r.e));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Applier::DeviceResult Applier::UpdateExecution(const std::string& region, const std::string& thing,
                                               const std::string& job_id,
                                               const DeviceUpdate& update, Instant now) {
  DeviceResult out;
  Status st = store_->Transact([&](store::Txn& txn) -> Status {
    out = DeviceResult{};
    auto job = FindJob(txn, region, job_id);
    if (!job.ok()) return job.status();
    IOTJOBS_RETURN_IF_ERROR(jobs::AcceptsDeviceUpdates(*job));
    auto t = FindThing(txn, region, thing);
    if (!t.ok()) return t.status();
    auto current = txn.Execution(job->id, *t, update.execution_number);
    if (!current.ok()) return current.status();
    if (!*current) {
      return Status::NotFound("job " + job_id + " has no execution" +
                              (update.execution_number
                                   ? " number " + std::to_string(*update.execution_number)
                                   : std::string()) +
                              " for thing " + thing);
    }
    auto used = ThingRetries(txn, *job, **current, update.status);
    if (!used.ok()) return used.status();
    jobs::DeviceRequest req;
    req.status = update.status;
    req.status_details = update.status_details;
    req.step_timeout_minutes = update.step_timeout_minutes;
    req.expected_version = update.expected_version;
    jobs::DeviceOutcome o = jobs::DecideDeviceUpdate(*job, **current, req, *used, now);
    out.execution = std::move(o.execution);
    IOTJOBS_RETURN_IF_ERROR(o.status);
    IOTJOBS_RETURN_IF_ERROR(Apply(txn, o.decision));
    out.changed = true;
    out.job_aborted = o.decision.job_aborted;
    return Status::Ok();
  });
  out.status = st;
  if (!st.ok()) {
    out.changed = false;
    out.job_aborted = false;
    // The current state goes back only with the refusals a device resolves by reading it.
    if (st.code() != Code::kVersionConflict && st.code() != Code::kInvalidStateTransition) {
      out.execution.reset();
    }
  }
  return out;
}

Applier::DeviceResult Applier::StartNextExecution(
    const std::string& region, const std::string& thing,
    const std::optional<std::map<std::string, std::string>>& status_details,
    std::optional<int64_t> step_timeout_minutes, Instant now) {
  DeviceResult out;
  Status st = store_->Transact([&](store::Txn& txn) -> Status {
    out = DeviceResult{};
    auto t = FindThing(txn, region, thing);
    if (!t.ok()) return t.status();
    auto head = txn.ThingQueue(*t, jobs::PendingHiddenJobStatuses(), 1);
    if (!head.ok()) return head.status();
    if (head->empty()) return Status::Ok();  // nothing pending: not an error
    const jobs::ExecutionRecord& r = head->front();
    auto job = txn.JobById(r.job);
    if (!job.ok()) return job.status();
    if (!*job) return Status::Internal("execution of a missing job " + r.e.job_id);
    jobs::DeviceOutcome o =
        jobs::DecideStartNext(**job, r, status_details, step_timeout_minutes, now);
    IOTJOBS_RETURN_IF_ERROR(o.status);
    out.execution = std::move(o.execution);
    if (o.decision.Empty()) return Status::Ok();  // already IN_PROGRESS: unchanged
    IOTJOBS_RETURN_IF_ERROR(Apply(txn, o.decision));
    out.changed = true;
    return Status::Ok();
  });
  out.status = st;
  if (!st.ok()) {
    out.execution.reset();
    out.changed = false;
  }
  return out;
}

Result<int64_t> Applier::TimeOutExecutions(Instant now, int64_t max) {
  int64_t timed_out = 0;
  Status st = store_->Transact([&](store::Txn& txn) -> Status {
    timed_out = 0;
    auto due = txn.DueTimers(now, max);
    if (!due.ok()) return due.status();
    // Each row is decided on the job as the previous decisions left it (counters for abort and
    // completion). The rows themselves need no re-read: a decision here changes only its own
    // execution (and inserts a retry, which has no timer).
    for (const auto& r : *due) {
      auto job = txn.JobById(r.job);
      if (!job.ok()) return job.status();
      if (!*job) continue;  // cannot happen: a job's executions go before it
      auto used = ThingRetries(txn, **job, r, jobs::ExecutionStatus::kTimedOut);
      if (!used.ok()) return used.status();
      jobs::TimeoutOutcome o = jobs::DecideTimeOut(**job, r, *used, now);
      IOTJOBS_RETURN_IF_ERROR(Apply(txn, o.decision));
      if (o.timed_out) ++timed_out;
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return timed_out;
}

Result<std::optional<Instant>> Applier::NextTimeout() {
  std::optional<Instant> next;
  Status st = store_->View([&](store::Txn& txn) -> Status {
    auto t = txn.NextTimer();
    if (!t.ok()) return t.status();
    next = *t;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return next;
}

}  // namespace iotjobs::service
