// A job's background work, decided: the rollout release of a batch, the background cancel and
// purge batches, and schedule starts and ends. Pure functions of typed rows and `now` (the
// rollout also reads the registry through a RolloutSource the caller provides), thread-safe; the
// applier (service/applier.h) reads the rows, calls these inside one transaction and writes the
// result. Spec: /work/shared/spec/aws-iot-jobs.md.
//
// Rules:
// - Rollout (§3.5, §4.2): executions are created in target order, at most `max` per release (the
//   scheduler's pacing decides `max`). A thing target gets one unless the thing was deleted since
//   the job was created; a group target covers the group and every descendant, listed once when
//   the rollout reaches the target (snapshot semantics: things added later get nothing from the
//   rollout) and walked group by group in member-id order. A thing covered twice (two targets, a
//   group and its child) gets one execution: a thing that already has an execution of the job
//   (an earlier target, a continuous job's joiner) is skipped. Each creation is QUEUED, counts
//   as notified, and the release is recorded in the job's pacing history (jobs/rollout.h). When
//   every target is done the rollout is done (rollout_done, the work's rollout flag cleared), and
//   a SNAPSHOT job whose executions are all terminal completes (§1.3, CompleteIfDone). Only an
//   IN_PROGRESS job with rollout work releases: a SCHEDULED one waits for its window (§4.6), a
//   canceled or ending one never does.
// - Cancel (CancelJob, abort, endBehavior CANCEL / FORCE_CANCEL; §3.2): the job is CANCELED at
//   once (execution_rules.h); its QUEUED latest executions, and with force its IN_PROGRESS ones
//   (force_canceled set), become CANCELED in batches of things in id order, each batch resuming
//   after the last thing of the previous one (JobWork::cursor). When none is left the work ends
//   and the job's `canceled` event fires (§5).
// - Delete (DeleteJob; §1.2): the job's executions are deleted in batches, each with its
//   `deleted` execution event; when none is left the job is purged with its `deleted` event (§5).
//   A job being deleted keeps the jobProcessDetails it had when the deletion started.
// - Schedule (§4.6): the scheduler moves a SCHEDULED job to IN_PROGRESS when its start time or a
//   window comes and back between windows; STOP_ROLLOUT at the end time ends the rollout for
//   good (then the job may complete). Jobs in any other status are not moved.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "jobs/records.h"

namespace iotjobs::jobs {

// What the rollout needs to know of the registry and of the job's existing executions, as of the
// transaction the release runs in. Implemented by the applier over store::Txn (and by a fake in
// tests). Errors are returned unchanged by DecideRolloutRelease.
class RolloutSource {
 public:
  virtual ~RolloutSource() = default;
  // `group` and every descendant, parents before children (at least `group` itself).
  virtual Result<std::vector<int64_t>> GroupAndDescendants(int64_t group) = 0;
  // Direct members of `group` with id > after, ascending, at most `limit` (exactly `limit` when
  // that many remain).
  virtual Result<std::vector<int64_t>> GroupMembers(int64_t group, int64_t after,
                                                    int64_t limit) = 0;
  // Whether the thing exists (a target may name a thing deleted since).
  virtual Result<bool> ThingExists(int64_t thing) = 0;
  // Whether (job, thing) has any execution. Asked only when the thing could have one: a job with
  // several targets, or a CONTINUOUS one (its joiners get theirs outside the rollout). A job whose
  // one target is a group meets each thing once (a thing is in one group per hierarchy).
  virtual Result<bool> HasExecution(int64_t job, int64_t thing) = 0;
};

// The job's pending work as the scheduler sees it: the stored work, with the rollout only while
// the job is IN_PROGRESS (a SCHEDULED job rolls out once its window opens).
JobWork PendingWork(const JobRecord& job);

// True when no more rollout will happen for the job: its rollout finished or was stopped.
bool RolloutStopped(const JobRecord& job);

struct RolloutRelease {
  Decision decision;     // the executions created, counters, the job's new state, the batch
  RolloutCursor cursor;  // where the rollout stands now (the caller stores it when it changed)
  int64_t created = 0;   // executions created
};

// Releases up to `max` (≥ 0) executions of `job`, whose targets are `targets` (in index order) and
// whose rollout stands at `cursor`. Creates nothing (an empty decision, the cursor unchanged)
// unless the job is IN_PROGRESS with rollout work. Otherwise: the executions (number 1, QUEUED,
// version 1, queued and updated at `now`), the counters (queued, notified), lastUpdatedAt = now
// when any were created, the batch {now, created} in decision.rollout_batch when any were, the
// cursor advanced past every target / member walked, and when the last target is done
// rollout_done with the work's rollout flag cleared and the completion check. Targets and members
// that get nothing (deleted, already covered) are passed over, so a release creates fewer than
// `max` only when the rollout is done. Errors: those of `source` (nothing decided).
Result<RolloutRelease> DecideRolloutRelease(const JobRecord& job,
                                            const std::vector<Target>& targets,
                                            const RolloutCursor& cursor, int64_t max,
                                            RolloutSource& source, Instant now);

struct WorkBatch {
  Decision decision;
  int64_t touched = 0;  // executions changed or deleted; 0 once the work is finished
};

// One cancel batch of a job with cancel work (job.work.cancel or force_cancel). `rows`: every
// execution of the job on its first `max` things with id > job.work.cursor, by (thing, number)
// (store::Txn::ExecutionsOfJob). The batch is the first `max` of those rows (all of the last
// thing's): of them, the latest QUEUED executions (and with force_cancel the IN_PROGRESS ones)
// become CANCELED (version + 1, updated at `now`, timer cleared, force_canceled when it was
// IN_PROGRESS), and the cursor moves to the batch's last thing; touched is at least 1 then, so
// the caller comes back. With no rows the work's cancel flags and cursor clear and, for a
// CANCELED job, the `canceled` event fires; touched 0. Empty decision when the job has no cancel
// work.
WorkBatch DecideCancelBatch(const JobRecord& job, const std::vector<ExecutionRecord>& rows,
                            int64_t max, Instant now);

// One purge batch of a job being deleted (job.work.deletion). `rows`: every execution of the job
// on its first `max` things, by (thing, number) (store::Txn::ExecutionsOfJob with after 0). The
// batch is the first `max` rows and every other execution of their last thing: deleted, each with
// its `deleted` execution event (counters unchanged). With no rows the job is purged
// (decision.purge_job, with the job's `deleted` event); touched 0. Empty decision when the job is
// not being deleted.
WorkBatch DecidePurgeBatch(const JobRecord& job, const std::vector<ExecutionRecord>& rows,
                           int64_t max);

// Moves a SCHEDULED / IN_PROGRESS job to `status` (kJobScheduled or kJobInProgress; lastUpdatedAt
// = now when it changes); with `stop_rollout` the rollout ends for good (rollout_done, the work's
// rollout flag cleared). Then the completion check. Empty decision for a job in any other status,
// or when nothing changes.
Decision DecideScheduledState(const JobRecord& job, const std::string& status, bool stop_rollout,
                              Instant now);

}  // namespace iotjobs::jobs
