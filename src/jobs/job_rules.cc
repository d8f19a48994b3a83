#include "jobs/job_rules.h"

#include <algorithm>
#include <unordered_set>

#include "jobs/rules.h"

namespace iotjobs::jobs {

JobWork PendingWork(const JobRecord& job) {
  JobWork w = job.work;
  // A SCHEDULED job rolls out only once the scheduler has moved it to IN_PROGRESS.
  w.rollout = w.rollout && job.job.status == kJobInProgress;
  return w;
}

bool RolloutStopped(const JobRecord& job) { return !job.work.rollout && job.job.rollout_done; }

Result<RolloutRelease> DecideRolloutRelease(const JobRecord& job,
                                            const std::vector<Target>& targets,
                                            const RolloutCursor& cursor, int64_t max,
                                            RolloutSource& source, Instant now) {
  RolloutRelease out;
  out.cursor = cursor;
  // The caller read the job's work before this transaction; a CancelJob, an abort or a schedule
  // may have stopped the rollout since. Re-checked on the row read in the same transaction.
  if (job.job.status != kJobInProgress || !job.work.rollout) return out;

  JobRecord j = job;
  Decision& d = out.decision;
  d.job_id = j.id;
  RolloutCursor& c = out.cursor;
  // Whether a thing met here can already have an execution of this job: only when another target
  // covers it too (a direct thing target, another group's subtree) or a continuous job's joiner
  // got one. A thing is in at most one group of a hierarchy, so a job whose one target is a group
  // (or a thing) meets each thing once, and asking the store for each would double the cost of a
  // release (BENCHMARKS.md, fleet scale).
  const bool may_exist = targets.size() > 1 || j.job.target_selection == "CONTINUOUS";
  // Things given an execution by this release: the source sees the transaction as it was before
  // the decision is written, so a thing covered twice within one release is caught here.
  std::unordered_set<int64_t> created;
  auto create = [&](int64_t thing) {
    ExecutionRecord r;
    r.job = j.id;
    r.thing = thing;
    r.latest = true;
    r.e.region = j.job.region;
    r.e.job_id = j.job.id;
    r.e.execution_number = 1;
    r.e.status = ExecutionStatus::kQueued;
    r.e.version_number = 1;
    r.e.queued_at = now;
    r.e.last_updated_at = now;
    RecordInsert(std::move(r), &j, &d);
    if (may_exist) created.insert(thing);
    ++out.created;
  };
  const auto n_targets = static_cast<int64_t>(targets.size());
  while (out.created < max && c.target_idx < n_targets) {
    const Target& t = targets[c.target_idx];
    if (t.thing) {
      // The thing may have been deleted since the job was created: no execution for it.
      auto exists = source.ThingExists(*t.thing);
      if (!exists.ok()) return exists.status();
      if (*exists && !created.count(*t.thing)) {
        auto has = may_exist ? source.HasExecution(j.id, *t.thing) : Result<bool>(false);
        if (!has.ok()) return has.status();
        if (!*has) create(*t.thing);
      }
      ++c.target_idx;
      continue;
    }
    if (!t.group) {  // a target row naming nothing: nothing to create
      ++c.target_idx;
      continue;
    }
    // A group target covers the group and every descendant, listed once when its rollout starts
    // (snapshot semantics) and walked group by group in member order.
    if (c.groups.empty()) {
      auto groups = source.GroupAndDescendants(*t.group);
      if (!groups.ok()) return groups.status();
      c.groups = std::move(groups).value();
      c.group_idx = 0;
      c.last_thing = 0;
    }
    if (c.group_idx >= static_cast<int64_t>(c.groups.size())) {
      ++c.target_idx;
      c.groups.clear();
      c.group_idx = 0;
      c.last_thing = 0;
      continue;
    }
    auto members = source.GroupMembers(c.groups[c.group_idx], c.last_thing, max - out.created);
    if (!members.ok()) return members.status();
    if (members->empty()) {
      ++c.group_idx;  // this group is exhausted
      c.last_thing = 0;
      continue;
    }
    if (!may_exist) d.inserts.reserve(d.inserts.size() + members->size());
    for (int64_t thing : *members) {
      if (!may_exist) {
        create(thing);
        continue;
      }
      if (created.count(thing)) continue;
      auto has = source.HasExecution(j.id, thing);
      if (!has.ok()) return has.status();
      if (!*has) create(thing);
    }
    c.last_thing = members->back();
  }
  const bool done = c.target_idx >= n_targets;
  const bool changed = out.created > 0 || done != j.job.rollout_done || (done && j.work.rollout);
  if (!changed) return out;
  if (out.created > 0) {
    d.notified_delta += out.created;
    j.job.notified += out.created;
    j.job.last_updated_at = now;
    d.rollout_batch = RolloutBatch{now, out.created};
  }
  j.job.rollout_done = done;
  if (done) j.work.rollout = false;
  RecordJob(j, &d);
  CompleteIfDone(&j, now, &d);
  return out;
}

namespace {

// The first `max` of `rows` (sorted by thing) and every other row of the last thing among them:
// the end index of the batch in `rows`.
size_t BatchEnd(const std::vector<ExecutionRecord>& rows, int64_t max) {
  if (rows.empty() || max <= 0) return 0;
  size_t end = std::min(rows.size(), static_cast<size_t>(max));
  const int64_t upto = rows[end - 1].thing;
  while (end < rows.size() && rows[end].thing == upto) ++end;
  return end;
}

}  // namespace

WorkBatch DecideCancelBatch(const JobRecord& job, const std::vector<ExecutionRecord>& rows,
                            int64_t max, Instant now) {
  WorkBatch out;
  if (!job.work.cancel && !job.work.force_cancel) return out;
  JobRecord j = job;
  Decision& d = out.decision;
  d.job_id = j.id;
  const size_t end = BatchEnd(rows, max);
  if (end == 0) {
    // Every execution is done: the work ends, and with it the job's cancellation (§5 `canceled`).
    j.work.cancel = false;
    j.work.force_cancel = false;
    j.work.cursor = 0;
    RecordJob(j, &d);
    if (j.job.status == kJobCanceled) d.job_events.push_back(JobEventKind::kCanceled);
    return out;
  }
  for (size_t i = 0; i < end; ++i) {
    const ExecutionRecord& r = rows[i];
    if (!r.latest) continue;
    const bool queued = r.e.status == ExecutionStatus::kQueued;
    const bool in_progress = r.e.status == ExecutionStatus::kInProgress && j.work.force_cancel;
    if (!queued && !in_progress) continue;
    ExecutionRecord after = r;
    after.e.status = ExecutionStatus::kCanceled;
    after.e.version_number += 1;
    after.e.last_updated_at = now;
    after.e.timeout_at.reset();
    after.e.force_canceled = in_progress;
    RecordUpdate(r, after, &j, &d);
    ++out.touched;
  }
  j.work.cursor = rows[end - 1].thing;
  RecordJob(j, &d);
  out.touched = std::max<int64_t>(out.touched, 1);  // progress was made; call again
  return out;
}

WorkBatch DecidePurgeBatch(const JobRecord& job, const std::vector<ExecutionRecord>& rows,
                           int64_t max) {
  WorkBatch out;
  if (!job.work.deletion) return out;
  Decision& d = out.decision;
  d.job_id = job.id;
  const size_t end = BatchEnd(rows, max);
  if (end == 0) {
    RecordJob(job, &d);
    d.job_events.push_back(JobEventKind::kDeleted);
    d.purge_job = true;
    return out;
  }
  JobRecord j = job;
  for (size_t i = 0; i < end; ++i) RecordDelete(rows[i], &j, &d);
  // A job being deleted keeps the jobProcessDetails it had when its deletion started (as the
  // store always did): its counters are not walked down to zero on the way out.
  d.counter_deltas = JobCounters{};
  out.touched = static_cast<int64_t>(end);
  return out;
}

Decision DecideScheduledState(const JobRecord& job, const std::string& status, bool stop_rollout,
                              Instant now) {
  Decision d;
  if (job.job.status != kJobScheduled && job.job.status != kJobInProgress) return d;
  JobRecord j = job;
  bool changed = false;
  if (j.job.status != status) {
    j.job.status = status;
    j.job.last_updated_at = now;
    changed = true;
  }
  if (stop_rollout && (j.work.rollout || !j.job.rollout_done)) {
    j.work.rollout = false;
    j.job.rollout_done = true;
    changed = true;
  }
  if (changed) RecordJob(j, &d);
  CompleteIfDone(&j, now, &d);
  return d;
}

}  // namespace iotjobs::jobs
