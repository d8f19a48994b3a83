// The rules' shared bookkeeping: how one execution's change shows in a Decision (counters,
// events, notifications) and when a job completes. Every decider (jobs/execution_rules.h,
// jobs/job_rules.h) records its changes through these, so the counters, events and outbox
// entries follow one rule whatever changed the execution. Pure functions, thread-safe.
#pragma once

#include "common/clock.h"
#include "jobs/records.h"

namespace iotjobs::jobs {

// Records that execution `before` became `after` (same key) in `d`:
// - d->updates gets `after`;
// - when `after.latest` and the status changed: the job's counters move (d->counter_deltas, and
//   job->job.counters so later rules see them);
// - when the status became terminal: an ExecutionEvent kTerminal;
// - when the status or `latest` changed: the thing is in d->changed_things.
// Precondition: before and after have the same (job, thing, number) and job->id == after.job.
void RecordUpdate(const ExecutionRecord& before, const ExecutionRecord& after, JobRecord* job,
                  Decision* d);

// Records a new execution `r` in `d` (d->inserts; counted when r.latest; the thing changed).
void RecordInsert(ExecutionRecord r, JobRecord* job, Decision* d);

// Records the deletion of `r` (d->deletes; uncounted when r.latest; an ExecutionEvent kDeleted;
// the thing changed).
void RecordDelete(const ExecutionRecord& r, JobRecord* job, Decision* d);

// Records the job's new state: d->job = *job (with its counters and notified as now known).
void RecordJob(const JobRecord& job, Decision* d);

// True when `j` completes now: an IN_PROGRESS SNAPSHOT job whose rollout is done and which has no
// QUEUED or IN_PROGRESS execution left (spec §1.3).
bool CompletesNow(const Job& j);

// When CompletesNow(job->job): the job becomes COMPLETED at `now` (completedAt, lastUpdatedAt),
// its new state is recorded and a JobEventKind::kCompleted event emitted. Returns whether it did.
bool CompleteIfDone(JobRecord* job, Instant now, Decision* d);

}  // namespace iotjobs::jobs
