// Applier: writing a jobs::Decision (the operations themselves live in applier_*.cc).
#include "service/applier.h"

#include <algorithm>
#include <functional>
#include <unordered_set>

#include "jobs/membership_rules.h"
#include "jobs/rollout.h"

namespace iotjobs::service {
namespace {

store::Event JobEvent(const jobs::JobRecord& r, jobs::JobEventKind kind) {
  store::Event e;
  e.region = r.job.region;
  e.type = "JOB";
  e.job_id = r.job.id;
  e.operation = jobs::ToString(kind);
  e.job = r.job;
  if (kind == jobs::JobEventKind::kCompleted) {
    const jobs::JobCounters& c = r.job.counters;
    e.counters = {{"numberOfCanceledThings", c.canceled},
                  {"numberOfRejectedThings", c.rejected},
                  {"numberOfFailedThings", c.failed},
                  {"numberOfRemovedThings", c.removed},
                  {"numberOfSucceededThings", c.succeeded}};
  }
  return e;
}

store::Event ExecutionEvent(const jobs::ExecutionEvent& x) {
  store::Event e;
  e.region = x.execution.e.region;
  e.type = "JOB_EXECUTION";
  e.job_id = x.execution.e.job_id;
  e.operation = x.kind == jobs::ExecutionEventKind::kDeleted ? "deleted" : "";
  e.thing = x.execution.e.thing_name;
  e.status = x.execution.e.status;
  e.status_details = x.execution.e.status_details;
  return e;
}

}  // namespace

Applier::Applier(store::Store* store) : store_(store) { store_->SetRegistryObserver(this); }

Status Applier::Apply(store::Txn& txn, const jobs::Decision& d) {
  for (const auto& r : d.deletes) {
    IOTJOBS_RETURN_IF_ERROR(txn.DeleteExecution(r.job, r.thing, r.e.execution_number));
  }
  for (const auto& r : d.updates) IOTJOBS_RETURN_IF_ERROR(txn.UpdateExecution(r));
  if (d.inserts.size() == 1) {
    IOTJOBS_RETURN_IF_ERROR(txn.InsertExecution(d.inserts.front()));
  } else if (!d.inserts.empty()) {
    IOTJOBS_RETURN_IF_ERROR(txn.InsertExecutions(d.inserts));
  }
  if (d.job && !d.purge_job) IOTJOBS_RETURN_IF_ERROR(txn.PutJobState(*d.job));
  if (d.counter_deltas != jobs::JobCounters{} || d.notified_delta != 0) {
    IOTJOBS_RETURN_IF_ERROR(txn.AddCounters(d.job_id, d.counter_deltas, d.notified_delta));
  }
  if (d.rollout_batch) {
    IOTJOBS_RETURN_IF_ERROR(txn.AddRolloutBatch(d.job_id, *d.rollout_batch,
                                                d.rollout_batch->at - jobs::kRolloutWindow));
  }
  if (!d.job_events.empty() || !d.execution_events.empty()) {
    // Every event of a decision is of one job, hence one region.
    const std::string& region =
        d.job ? d.job->job.region : d.execution_events.front().execution.e.region;
    auto config = txn.EventConfig(region);
    if (!config.ok()) return config.status();
    if (config->Enabled("JOB_EXECUTION")) {
      for (const auto& x : d.execution_events) {
        IOTJOBS_RETURN_IF_ERROR(txn.AppendEvent(ExecutionEvent(x)));
      }
    }
    if (config->Enabled("JOB") && d.job) {
      for (auto kind : d.job_events)
        IOTJOBS_RETURN_IF_ERROR(txn.AppendEvent(JobEvent(*d.job, kind)));
    }
  }
  // Each thing once, in the order first named (jobs::Decision may repeat one). A decision about
  // one execution names one or two things: no set for those.
  const auto& things = d.changed_things;
  // A rollout's release names its things once each, in ascending order: no set needed.
  const bool distinct = std::adjacent_find(things.begin(), things.end(),
                                           std::greater_equal<int64_t>()) == things.end();
  std::unordered_set<int64_t> noted;
  if (!distinct && things.size() > 8) noted.reserve(things.size());
  for (size_t i = 0; i < things.size(); ++i) {
    if (distinct) {
      IOTJOBS_RETURN_IF_ERROR(txn.AppendThingChange(things[i]));
      continue;
    }
    const bool repeat = things.size() <= 8 ? std::find(things.begin(), things.begin() + i,
                                                       things[i]) != things.begin() + i
                                           : !noted.insert(things[i]).second;
    if (!repeat) IOTJOBS_RETURN_IF_ERROR(txn.AppendThingChange(things[i]));
  }
  if (d.purge_job) IOTJOBS_RETURN_IF_ERROR(txn.PurgeJob(d.job_id));
  return Status::Ok();
}

Status Applier::OnMembershipAdded(store::Txn& txn, int64_t thing, int64_t group, Instant now) {
  auto ids = txn.JobsTargetingGroupOrAncestors(group);
  if (!ids.ok()) return ids.status();
  for (int64_t id : *ids) {
    auto job = txn.JobById(id);
    if (!job.ok()) return job.status();
    if (!*job || !jobs::FollowsMembership((*job)->job)) continue;
    auto covered = txn.TargetsCover(id, thing, group);
    if (!covered.ok()) return covered.status();
    if (*covered) continue;
    auto executions = txn.ExecutionsOf(id, thing);
    if (!executions.ok()) return executions.status();
    IOTJOBS_RETURN_IF_ERROR(
        Apply(txn, jobs::DecideThingJoined(**job, thing, false, *executions, now)));
  }
  return Status::Ok();
}

Status Applier::OnMembershipRemoved(store::Txn& txn, int64_t thing, int64_t group, Instant now) {
  auto ids = txn.JobsTargetingGroupOrAncestors(group);
  if (!ids.ok()) return ids.status();
  for (int64_t id : *ids) {
    auto job = txn.JobById(id);
    if (!job.ok()) return job.status();
    if (!*job || !jobs::FollowsMembership((*job)->job)) continue;
    auto covered = txn.TargetsCover(id, thing, -1);
    if (!covered.ok()) return covered.status();
    if (*covered) continue;
    auto executions = txn.ExecutionsOf(id, thing);
    if (!executions.ok()) return executions.status();
    std::optional<jobs::ExecutionRecord> latest;
    for (const auto& r : *executions) {
      if (r.latest) latest = r;
    }
    IOTJOBS_RETURN_IF_ERROR(Apply(txn, jobs::DecideThingLeft(**job, false, latest, now)));
  }
  return Status::Ok();
}

Status Applier::OnThingDeleting(store::Txn& txn, int64_t thing, Instant now) {
  auto latest = txn.LatestOfThing(thing);
  if (!latest.ok()) return latest.status();
  for (const auto& r : *latest) {
    if (jobs::IsTerminal(r.e.status)) continue;
    auto job = txn.JobById(r.job);
    if (!job.ok()) return job.status();
    if (!*job) continue;
    IOTJOBS_RETURN_IF_ERROR(Apply(txn, jobs::DecideThingDeleted(**job, r, now)));
  }
  return Status::Ok();
}

}  // namespace iotjobs::service
