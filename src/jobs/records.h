// The rows the rules read and the decisions they return (jobs/rules.h decides, the service's
// applier writes, store/txn.h keeps). Plain values: no I/O, no JSON.
//
// A job and its executions carry internal integer ids (`JobRecord::id`, `ExecutionRecord::job`,
// `ExecutionRecord::thing`) given by the store; the AWS names (region, jobId, thingName) ride along
// in the embedded jobs::Job / jobs::JobExecution for replies and events.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "jobs/execution_state.h"
#include "jobs/job.h"
#include "jobs/rollout.h"

namespace iotjobs::jobs {

// Background work a job has pending, kept on the job's row (the scheduler claims it).
struct JobWork {
  bool rollout = false;       // targets still get executions (initial rollout, new targets)
  bool cancel = false;        // QUEUED executions are being canceled in batches
  bool force_cancel = false;  // ... and IN_PROGRESS ones too
  bool deletion = false;      // the job's executions are being purged, then the job
  int64_t cursor = 0;         // cancel batches: the last thing id done
  bool Any() const { return rollout || cancel || force_cancel || deletion; }
  bool operator==(const JobWork&) const = default;
};

// A job as stored: the AWS job (status, spec, times, counters, notified, rollout_done) and the
// rules' own state.
struct JobRecord {
  int64_t id = 0;
  Job job;
  JobWork work;
  bool operator==(const JobRecord&) const = default;
};

// One execution as stored. `latest` marks the thing's current execution of the job (the one
// jobProcessDetails counts); a retry or a re-join makes a new latest with the next number.
struct ExecutionRecord {
  int64_t job = 0, thing = 0;
  bool latest = true;
  // Set on an execution created as a retry: the status of the execution it retries (FAILED or
  // TIMED_OUT), so the retry budgets can be counted.
  std::optional<ExecutionStatus> retry_cause;
  JobExecution e;  // e.execution_number is the third part of the key
  bool operator==(const ExecutionRecord&) const = default;
};

// One target of a job, in the order given: a thing or a thing group (internal ids).
struct Target {
  std::optional<int64_t> thing, group;
  bool operator==(const Target&) const = default;
};

// Where a job's rollout stands: targets before `target_idx` are done. Within a group target,
// `groups` lists the group and its descendants (fixed when the target's turn came: snapshot
// semantics), `group_idx` the one being walked and `last_thing` the last member id released.
struct RolloutCursor {
  int64_t target_idx = 0;
  std::vector<int64_t> groups;
  int64_t group_idx = 0;
  int64_t last_thing = 0;
  bool operator==(const RolloutCursor&) const = default;
};

// Job events ($aws/events/job/<jobId>/<operation>).
enum class JobEventKind {
  kCompleted,
  kCancellationInProgress,
  kCanceled,
  kDeletionInProgress,
  kDeleted
};
// The event's operation as published: "completed", "cancellation_in_progress", "canceled",
// "deletion_in_progress", "deleted".
const char* ToString(JobEventKind k);

// Job execution events ($aws/events/jobExecution/<jobId>/<operation>).
enum class ExecutionEventKind {
  kTerminal,  // the execution reached a terminal status (operation named after it)
  kDeleted,   // the execution was deleted (DeleteJobExecution or the job's purge)
};

struct ExecutionEvent {
  ExecutionEventKind kind = ExecutionEventKind::kTerminal;
  ExecutionRecord execution;  // after the change (for kDeleted: as it was)
  bool operator==(const ExecutionEvent&) const = default;
};

// What a decider decided about one job: the writes that make it so, in one transaction. The
// applier (service/applier.h) writes them in this order: deletes, updates, inserts, the job's
// state, counter deltas, the rollout batch, the events (each only when its region enabled its
// type), thing changes, and last the job's purge.
struct Decision {
  int64_t job_id = 0;  // the job every change below belongs to (a decision concerns one job)
  std::vector<ExecutionRecord> deletes;  // executions removed, as they were
  std::vector<ExecutionRecord> updates;  // executions rewritten whole (key unchanged)
  std::vector<ExecutionRecord> inserts;  // new executions
  // The job's state after the decision when any part of it changed (status, force/reason/comment,
  // targets, work, rollout_done, times). Counters and notified in it are the values after the
  // deltas below, for events; the applier writes the deltas, not these.
  std::optional<JobRecord> job;
  JobCounters counter_deltas;  // added to the job's jobProcessDetails counters
  int64_t notified_delta = 0;  // added to the job's notified count
  // A rollout release: the batch to record in the job's pacing history (jobs/rollout.h).
  std::optional<RolloutBatch> rollout_batch;
  std::vector<JobEventKind> job_events;
  std::vector<ExecutionEvent> execution_events;
  // Things whose pending executions changed (for notify / notify-next), internal ids. A thing may
  // be named more than once (not twice in a row); the applier appends each to the outbox once.
  std::vector<int64_t> changed_things;
  // The job was canceled by its abortConfig in this decision.
  bool job_aborted = false;
  // The job is gone after this decision (its purge finished): the applier deletes its row.
  bool purge_job = false;

  bool Empty() const {
    return deletes.empty() && updates.empty() && inserts.empty() && !job &&
           counter_deltas == JobCounters{} && notified_delta == 0 && !rollout_batch &&
           job_events.empty() && execution_events.empty() && !purge_job;
  }
};

// What the MQTT notifier last told a thing's devices: its pending members and head, encoded by
// the notifier. Empty members means nothing pending. Kept by the store so a restarted notifier
// compares a change with what devices were told.
struct NotifiedState {
  std::string region, thing, members, head;
};

// Per region, which event types ($aws/events/...) are enabled (UpdateEventConfigurations).
struct EventConfigurations {
  std::map<std::string, bool> enabled;  // event type (JOB, JOB_EXECUTION, THING, ...) -> Enabled
  std::optional<Instant> created_at, updated_at;  // unset until first updated
  bool Enabled(const std::string& type) const {
    auto it = enabled.find(type);
    return it != enabled.end() && it->second;
  }
};

// One job or job-execution event, as recorded when it happened, for the events publisher.
struct OutboxEvent {
  int64_t seq = 0;
  std::string region, type, job_id, operation;  // type JOB | JOB_EXECUTION
  std::string thing;                            // JOB_EXECUTION
  std::optional<jobs::ExecutionStatus> status;  // JOB_EXECUTION
  std::map<std::string, std::string> status_details;
  std::optional<jobs::Job> job;             // JOB: the job as it was (spec, times)
  std::map<std::string, int64_t> counters;  // JOB completed: jobProcessDetails counts
};

}  // namespace iotjobs::jobs
