#include "jobs/rules.h"

#include <algorithm>
#include <utility>

namespace iotjobs::jobs {
namespace {

// Only a repeat of the last thing is dropped here: a search of the whole list made a release of
// n executions cost O(n²) (20,000 creations: 2·10⁸ comparisons). The applier appends each thing
// once (service/applier.cc).
void NoteThing(int64_t thing, Decision* d) {
  if (d->changed_things.empty() || d->changed_things.back() != thing) {
    d->changed_things.push_back(thing);
  }
}

void Count(JobRecord* job, Decision* d, ExecutionStatus s, int64_t delta) {
  d->job_id = job->id;
  d->counter_deltas.For(s) += delta;
  job->job.counters.For(s) += delta;
}

}  // namespace

const char* ToString(JobEventKind k) {
  switch (k) {
    case JobEventKind::kCompleted:
      return "completed";
    case JobEventKind::kCancellationInProgress:
      return "cancellation_in_progress";
    case JobEventKind::kCanceled:
      return "canceled";
    case JobEventKind::kDeletionInProgress:
      return "deletion_in_progress";
    case JobEventKind::kDeleted:
      return "deleted";
  }
  return "";
}

void RecordUpdate(const ExecutionRecord& before, const ExecutionRecord& after, JobRecord* job,
                  Decision* d) {
  d->updates.push_back(after);
  const bool status_changed = before.e.status != after.e.status;
  if (before.latest) Count(job, d, before.e.status, -1);
  if (after.latest) Count(job, d, after.e.status, 1);
  if (status_changed && IsTerminal(after.e.status)) {
    d->execution_events.push_back({ExecutionEventKind::kTerminal, after});
  }
  if (status_changed || before.latest != after.latest) NoteThing(after.thing, d);
}

void RecordInsert(ExecutionRecord r, JobRecord* job, Decision* d) {
  if (r.latest) Count(job, d, r.e.status, 1);
  NoteThing(r.thing, d);
  d->inserts.push_back(std::move(r));
}

void RecordDelete(const ExecutionRecord& r, JobRecord* job, Decision* d) {
  d->deletes.push_back(r);
  if (r.latest) Count(job, d, r.e.status, -1);
  d->execution_events.push_back({ExecutionEventKind::kDeleted, r});
  NoteThing(r.thing, d);
}

void RecordJob(const JobRecord& job, Decision* d) {
  d->job_id = job.id;
  d->job = job;
}

bool CompletesNow(const Job& j) {
  return j.status == kJobInProgress && j.target_selection == "SNAPSHOT" && j.rollout_done &&
         j.counters.queued == 0 && j.counters.in_progress == 0;
}

bool CompleteIfDone(JobRecord* job, Instant now, Decision* d) {
  if (!CompletesNow(job->job)) return false;
  job->job.status = kJobCompleted;
  job->job.completed_at = now;
  job->job.last_updated_at = now;
  RecordJob(*job, d);
  d->job_events.push_back(JobEventKind::kCompleted);
  return true;
}

}  // namespace iotjobs::jobs
