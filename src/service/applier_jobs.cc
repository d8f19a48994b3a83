// Applier: a job's background work for the scheduler (jobs/job_rules.h decides): rollout releases,
// cancel and purge batches, schedules.
#include "jobs/job_rules.h"
#include "service/applier.h"

namespace iotjobs::service {
namespace {

// The rollout's view of the registry and of the job's executions: the transaction's.
class TxnRolloutSource final : public jobs::RolloutSource {
 public:
  explicit TxnRolloutSource(store::Txn& txn) : txn_(txn) {}
  Result<std::vector<int64_t>> GroupAndDescendants(int64_t group) override {
    return txn_.GroupAndDescendants(group);
  }
  Result<std::vector<int64_t>> GroupMembers(int64_t group, int64_t after, int64_t limit) override {
    return txn_.GroupMembers(group, after, limit);
  }
  Result<bool> ThingExists(int64_t thing) override { return txn_.ThingExists(thing); }
  Result<bool> HasExecution(int64_t job, int64_t thing) override {
    return txn_.HasExecution(job, thing);
  }

 private:
  store::Txn& txn_;
};

// One job's release inside the caller's transaction; returns how many executions it created.
Result<int64_t> ReleaseOne(store::Txn& txn, int64_t id, int64_t max, Instant now) {
  auto job = txn.JobById(id);
  if (!job.ok()) return job.status();
  // Gone already, or no longer rolling out (canceled, scheduled, stopped since the scheduler read
  // it): the decider would decide nothing, so its inputs are not read.
  if (!*job || !jobs::PendingWork(**job).rollout) return int64_t{0};
  auto targets = txn.Targets(id);
  if (!targets.ok()) return targets.status();
  auto cursor = txn.RolloutCursor(id);
  if (!cursor.ok()) return cursor.status();
  TxnRolloutSource source(txn);
  auto r = jobs::DecideRolloutRelease(**job, *targets, *cursor, max, source, now);
  if (!r.ok()) return r.status();
  IOTJOBS_RETURN_IF_ERROR(Applier::Apply(txn, r->decision));
  if (r->cursor != *cursor) IOTJOBS_RETURN_IF_ERROR(txn.PutRolloutCursor(id, r->cursor));
  return r->created;
}

}  // namespace

Result<std::vector<jobs::JobRecord>> Applier::PendingJobWork() {
  std::vector<jobs::JobRecord> out;
  Status st = store_->View([&](store::Txn& txn) -> Status {
    out.clear();
    auto jobs = txn.JobsWithWork();
    if (!jobs.ok()) return jobs.status();
    for (auto& r : *jobs) {
      r.work = jobs::PendingWork(r);
      if (r.work.Any()) out.push_back(std::move(r));
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<std::vector<int64_t>> Applier::ReleaseRollouts(const std::vector<Release>& releases,
                                                      Instant now) {
  std::vector<int64_t> created;
  // Every release of a tick in one transaction: one commit per tick however many jobs roll out.
  Status st = store_->Transact([&](store::Txn& txn) -> Status {
    created.assign(releases.size(), 0);
    for (size_t i = 0; i < releases.size(); ++i) {
      auto n = ReleaseOne(txn, releases[i].job, releases[i].max, now);
      if (!n.ok()) return n.status();
      created[i] = *n;
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return created;
}

Result<std::vector<jobs::RolloutBatch>> Applier::RolloutBatches(int64_t job, Instant since) {
  std::vector<jobs::RolloutBatch> out;
  Status st = store_->View([&](store::Txn& txn) -> Status {
    auto batches = txn.RolloutBatches(job, since);
    if (!batches.ok()) return batches.status();
    out = std::move(batches).value();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<int64_t> Applier::ProcessJobWork(int64_t job, int64_t max, Instant now) {
  int64_t touched = 0;
  Status st = store_->Transact([&](store::Txn& txn) -> Status {
    touched = 0;
    auto r = txn.JobById(job);
    if (!r.ok()) return r.status();
    if (!*r) return Status::Ok();  // gone already
    const jobs::JobRecord& j = **r;
    jobs::WorkBatch b;
    if (j.work.deletion) {  // a deletion supersedes a cancellation under way
      auto rows = txn.ExecutionsOfJob(job, 0, max);
      if (!rows.ok()) return rows.status();
      b = jobs::DecidePurgeBatch(j, *rows, max);
    } else if (j.work.cancel || j.work.force_cancel) {
      auto rows = txn.ExecutionsOfJob(job, j.work.cursor, max);
      if (!rows.ok()) return rows.status();
      b = jobs::DecideCancelBatch(j, *rows, max, now);
    } else {
      return Status::Ok();
    }
    IOTJOBS_RETURN_IF_ERROR(Apply(txn, b.decision));
    touched = b.touched;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return touched;
}

Result<std::vector<jobs::JobRecord>> Applier::ScheduledJobs() {
  std::vector<jobs::JobRecord> out;
  Status st = store_->View([&](store::Txn& txn) -> Status {
    auto jobs = txn.ScheduledJobsIn({jobs::kJobScheduled, jobs::kJobInProgress});
    if (!jobs.ok()) return jobs.status();
    out = std::move(jobs).value();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Status Applier::SetScheduledState(int64_t job, const std::string& status, bool stop_rollout,
                                  Instant now) {
  return store_->Transact([&](store::Txn& txn) -> Status {
    auto r = txn.JobById(job);
    if (!r.ok()) return r.status();
    if (!*r) return Status::Ok();  // gone: nothing to move
    return Apply(txn, jobs::DecideScheduledState(**r, status, stop_rollout, now));
  });
}

}  // namespace iotjobs::service
