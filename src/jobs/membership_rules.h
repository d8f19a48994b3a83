// Continuous jobs follow their groups (spec §3.5), and a deleted thing's executions end: the
// decisions for a thing joining or leaving a group, or being deleted. Pure functions,
// thread-safe; the applier (service/applier.h) reads the rows, calls these and writes the result.
//
// Rules:
// - Only an IN_PROGRESS CONTINUOUS job follows membership. A SNAPSHOT job fixed its things when
//   its rollout listed them; a job in any other status creates nothing.
// - Join: a thing that was not yet covered by another target of the job gets a new QUEUED
//   execution at once, outside the rollout rate [doc: "when a thing is added to a target group"],
//   unless its latest execution of the job is still QUEUED or IN_PROGRESS. A terminal latest
//   execution stays but stops being the latest (and stops counting in jobProcessDetails); the new
//   one is numbered after every execution the thing has (a deleted latest may leave older ones).
//   The join counts as notified and updates the job's lastUpdatedAt.
// - Leave: when no other target covers the thing any more, its latest execution, if QUEUED or
//   IN_PROGRESS, becomes REMOVED (ServiceEvent::kRemove).
// - Deleted thing: every job's QUEUED or IN_PROGRESS latest execution on it becomes REMOVED,
//   whatever the job's status or target selection.
// - A REMOVED execution's timers stop. Removal may complete a SNAPSHOT job (CompleteIfDone).
#pragma once

#include <optional>
#include <vector>

#include "common/clock.h"
#include "jobs/records.h"

namespace iotjobs::jobs {

// True when `job` follows membership changes now (IN_PROGRESS and CONTINUOUS).
bool FollowsMembership(const Job& job);

// Thing `thing` became a member of a group `job` targets. `covered_elsewhere`: another target of
// the job (the thing itself, or a group other than the one joined) already covered it.
// `executions`: every execution of (job, thing), any order. Empty decision when nothing changes.
Decision DecideThingJoined(const JobRecord& job, int64_t thing, bool covered_elsewhere,
                           const std::vector<ExecutionRecord>& executions, Instant now);

// Thing left a group `job` targets. `still_covered`: another target still covers it. `latest`:
// its latest execution of the job, if any.
Decision DecideThingLeft(const JobRecord& job, bool still_covered,
                         const std::optional<ExecutionRecord>& latest, Instant now);

// The thing is being deleted; `latest` is its latest execution of `job`.
Decision DecideThingDeleted(const JobRecord& job, const ExecutionRecord& latest, Instant now);

// The execution `latest` is removed (REMOVED) when it is not terminal; shared by leave and delete.
// Empty decision when it is terminal.
Decision DecideRemoval(const JobRecord& job, const ExecutionRecord& latest, Instant now);

}  // namespace iotjobs::jobs
