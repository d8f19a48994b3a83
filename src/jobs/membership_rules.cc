#include "jobs/membership_rules.h"

#include <algorithm>

#include "jobs/rules.h"

namespace iotjobs::jobs {

bool FollowsMembership(const Job& job) {
  return job.status == kJobInProgress && job.target_selection == "CONTINUOUS";
}

Decision DecideThingJoined(const JobRecord& job, int64_t thing, bool covered_elsewhere,
                           const std::vector<ExecutionRecord>& executions, Instant now) {
  Decision d;
  if (!FollowsMembership(job.job) || covered_elsewhere) return d;
  JobRecord j = job;
  int64_t max_number = 0;
  const ExecutionRecord* latest = nullptr;
  for (const auto& r : executions) {
    max_number = std::max(max_number, r.e.execution_number);
    if (r.latest) latest = &r;
  }
  if (latest && !IsTerminal(latest->e.status)) return d;  // still running: keep it
  if (latest) {
    ExecutionRecord old = *latest;
    old.latest = false;
    RecordUpdate(*latest, old, &j, &d);
  }
  ExecutionRecord r;
  r.job = j.id;
  r.thing = thing;
  r.latest = true;
  r.e.region = j.job.region;
  r.e.job_id = j.job.id;
  if (latest) r.e.thing_name = latest->e.thing_name;
  r.e.execution_number = max_number + 1;
  r.e.status = ExecutionStatus::kQueued;
  r.e.version_number = 1;
  r.e.queued_at = now;
  r.e.last_updated_at = now;
  RecordInsert(r, &j, &d);
  d.notified_delta += 1;
  j.job.notified += 1;
  j.job.last_updated_at = now;
  RecordJob(j, &d);
  return d;
}

Decision DecideRemoval(const JobRecord& job, const ExecutionRecord& latest, Instant now) {
  Decision d;
  auto next = ApplyServiceEvent(latest.e.status, ServiceEvent::kRemove);
  if (!next.ok()) return d;  // terminal: nothing to remove
  JobRecord j = job;
  ExecutionRecord after = latest;
  after.e.status = *next;
  after.e.version_number += 1;
  after.e.last_updated_at = now;
  after.e.timeout_at.reset();
  after.e.in_progress_deadline.reset();
  after.e.step_deadline.reset();
  RecordUpdate(latest, after, &j, &d);
  CompleteIfDone(&j, now, &d);
  return d;
}

Decision DecideThingLeft(const JobRecord& job, bool still_covered,
                         const std::optional<ExecutionRecord>& latest, Instant now) {
  if (!FollowsMembership(job.job) || still_covered || !latest) return Decision{};
  return DecideRemoval(job, *latest, now);
}

Decision DecideThingDeleted(const JobRecord& job, const ExecutionRecord& latest, Instant now) {
  return DecideRemoval(job, latest, now);
}

}  // namespace iotjobs::jobs
