// Txn: the narrow, typed operations the rules need, inside one transaction of a Store
// (Store::Transact for writes, Store::View for reads). The store keeps rows; it decides nothing:
// every status, counter, timer, retry and abort decision is jobs/rules.h's, written by the
// service's applier (service/applier.h) through these operations.
//
// Contract (every backend, checked by tests/store_conformance.h):
// - Everything a Txn writes becomes visible to later calls of the same Txn at once, and to other
//   transactions only when Transact's function returns OK and the commit succeeds; an error
//   (returned by the function or by the commit) leaves nothing of it behind.
// - Transactions are serializable with respect to each other: a function never sees another
//   transaction's partial writes, and two transactions that read and then write the same job or
//   execution do not both commit on stale reads (SQLite: one writer; PostgreSQL: row locks).
// - Ids are internal integers, never reused. Reads fill the AWS names of what they return
//   (JobExecution::region / job_id / thing_name; a deleted thing keeps its name).
// - Orders are part of the contract where stated; "at most `limit`" means exactly `limit` rows
//   when that many match.
// - A Txn is used by one thread, and only during the function it was passed to.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "jobs/records.h"
#include "jobs/registry.h"

namespace iotjobs::store {

// Per region, which event types are enabled (jobs/records.h).
using EventConfigurations = jobs::EventConfigurations;

// One job or job-execution event of the outbox (jobs/records.h).
using Event = jobs::OutboxEvent;

class Txn {
 public:
  virtual ~Txn() = default;

  // --- Jobs ---
  // nullopt when absent.
  virtual Result<std::optional<jobs::JobRecord>> FindJob(const std::string& region,
                                                         const std::string& job_id) = 0;
  virtual Result<std::optional<jobs::JobRecord>> JobById(int64_t job) = 0;
  // Writes the job as decided: every part of r.job (status, spec with force_canceled, reason_code,
  // comment and the targets' ARN list, times, rollout_done) and r.work, except the counters and
  // notified (AddCounters writes those). Target rows are AddTargets'. NotFound when the job is
  // gone.
  virtual Status PutJobState(const jobs::JobRecord& r) = 0;
  // Adds `deltas` to the job's counters and `notified` to its notified count. NotFound when the
  // job is gone.
  virtual Status AddCounters(int64_t job, const jobs::JobCounters& deltas, int64_t notified) = 0;
  // How many jobs (any region) have `status`.
  virtual Result<int64_t> CountJobsWithStatus(const std::string& status) = 0;
  // Jobs whose work is not empty (any region), by id.
  virtual Result<std::vector<jobs::JobRecord>> JobsWithWork() = 0;
  // Jobs with a schedulingConfig whose status is one of `statuses` (any region), by id. At most 8
  // distinct statuses (there are 5).
  virtual Result<std::vector<jobs::JobRecord>> ScheduledJobsIn(
      const std::vector<std::string>& statuses) = 0;
  // Deletes the job's row, its targets, rollout cursor and batches. Its executions must be gone.
  // NotFound when the job is gone already.
  virtual Status PurgeJob(int64_t job) = 0;
  // Deletes every tag of `arn`.
  virtual Status DeleteTags(const std::string& arn) = 0;

  // --- Targets and the registry as the rules see it ---
  // The job's targets in index order.
  virtual Result<std::vector<jobs::Target>> Targets(int64_t job) = 0;
  // Appends targets (thing / thinggroup ARNs of `region`) at indexes first, first + 1, ...
  // NotFound naming the ARN for a missing target; InvalidRequest for an ARN of another type.
  virtual Status AddTargets(int64_t job, const std::string& region,
                            const std::vector<std::string>& arns, int64_t first) = 0;
  virtual Result<std::optional<int64_t>> ThingId(const std::string& region,
                                                 const std::string& name) = 0;
  virtual Result<bool> ThingExists(int64_t thing) = 0;
  // `group` and every descendant, parents before children.
  virtual Result<std::vector<int64_t>> GroupAndDescendants(int64_t group) = 0;
  // Direct members of `group` with id > after, ascending, at most `limit`.
  virtual Result<std::vector<int64_t>> GroupMembers(int64_t group, int64_t after,
                                                    int64_t limit) = 0;
  // Ids of jobs with a target on `group` or one of its ancestors, ascending.
  virtual Result<std::vector<int64_t>> JobsTargetingGroupOrAncestors(int64_t group) = 0;
  // True when a target of `job` covers `thing` without going through group `exclude` (-1: none):
  // `thing` itself, or a group target that is an ancestor-or-self of a group `thing` is a direct
  // member of, other than `exclude`.
  virtual Result<bool> TargetsCover(int64_t job, int64_t thing, int64_t exclude) = 0;

  // --- Executions ---
  // Execution `number` of (job, thing); nullopt number: the highest-numbered one. nullopt when
  // none.
  virtual Result<std::optional<jobs::ExecutionRecord>> Execution(int64_t job, int64_t thing,
                                                                 std::optional<int64_t> number) = 0;
  // Every execution of (job, thing), by number.
  virtual Result<std::vector<jobs::ExecutionRecord>> ExecutionsOf(int64_t job, int64_t thing) = 0;
  // Whether (job, thing) has any execution.
  virtual Result<bool> HasExecution(int64_t job, int64_t thing) = 0;
  // Inserts a new execution. AlreadyExists when (job, thing, number) exists.
  virtual Status InsertExecution(const jobs::ExecutionRecord& r) = 0;
  // Inserts every row of `rows` (a rollout's release: thousands at once). AlreadyExists when a
  // key exists; the rows inserted before it may remain, and the caller's transaction fails with
  // it (Transact then leaves nothing behind). A backend may do this faster than one
  // InsertExecution per row; this default is exactly that.
  virtual Status InsertExecutions(const std::vector<jobs::ExecutionRecord>& rows) {
    for (const auto& r : rows) {
      if (Status st = InsertExecution(r); !st.ok()) return st;
    }
    return Status::Ok();
  }
  // Rewrites an execution whole (matched by job, thing, number). NotFound when absent.
  virtual Status UpdateExecution(const jobs::ExecutionRecord& r) = 0;
  // NotFound when absent.
  virtual Status DeleteExecution(int64_t job, int64_t thing, int64_t number) = 0;
  // The latest executions of `job` on things with id > after_thing whose status is one of
  // `statuses` (empty: any), by thing, at most `limit`.
  virtual Result<std::vector<jobs::ExecutionRecord>> LatestOfJob(
      int64_t job, int64_t after_thing, const std::vector<jobs::ExecutionStatus>& statuses,
      int64_t limit) = 0;
  // Every execution (latest or not) of `job` on its first `limit_things` things with id >
  // after_thing, by (thing, number). All executions of a thing come together.
  virtual Result<std::vector<jobs::ExecutionRecord>> ExecutionsOfJob(int64_t job,
                                                                     int64_t after_thing,
                                                                     int64_t limit_things) = 0;
  // The latest executions of `thing` (every job), by job.
  virtual Result<std::vector<jobs::ExecutionRecord>> LatestOfThing(int64_t thing) = 0;
  // The thing's queue: latest executions of `thing` in QUEUED or IN_PROGRESS, of jobs whose status
  // is not in `hidden_job_statuses`; IN_PROGRESS first, then QUEUED, each by (queued_at, job,
  // number); at most `limit`. O(log n + limit) through an index by thing. At most 8 distinct
  // hidden statuses.
  virtual Result<std::vector<jobs::ExecutionRecord>> ThingQueue(
      int64_t thing, const std::vector<std::string>& hidden_job_statuses, int64_t limit) = 0;
  // Executions whose timer (JobExecution::timeout_at) is at or before `now`, earliest first, at
  // most `limit`. O(log n + limit).
  virtual Result<std::vector<jobs::ExecutionRecord>> DueTimers(Instant now, int64_t limit) = 0;
  // The earliest timer of any execution.
  virtual Result<std::optional<Instant>> NextTimer() = 0;

  // --- Rollout ---
  // NotFound when the job has none (a job gets one when created).
  virtual Result<jobs::RolloutCursor> RolloutCursor(int64_t job) = 0;
  // Creates or replaces the job's cursor.
  virtual Status PutRolloutCursor(int64_t job, const jobs::RolloutCursor& c) = 0;
  // Records `count` creations at `at` (added to a batch of the same instant), then forgets the
  // job's batches at or before `forget_up_to`.
  virtual Status AddRolloutBatch(int64_t job, const jobs::RolloutBatch& b,
                                 Instant forget_up_to) = 0;
  // Batches after `since`, oldest first; one per instant.
  virtual Result<std::vector<jobs::RolloutBatch>> RolloutBatches(int64_t job, Instant since) = 0;

  // --- Outboxes ---
  virtual Result<EventConfigurations> EventConfig(const std::string& region) = 0;
  // Appends to the events outbox (seq is assigned). A no-op unless the store was opened to track
  // changes (MQTT on), like AppendThingChange: nothing else publishes or drains the outbox.
  virtual Status AppendEvent(const Event& e) = 0;
  // Appends `thing` to the outbox of things whose pending list changed. A no-op unless the store
  // was opened to track changes (MQTT notifications on).
  virtual Status AppendThingChange(int64_t thing) = 0;
};

// What the registry tells the rules, inside the registry write's own transaction, so a continuous
// job's executions follow membership atomically (spec §3.5). Set once with
// Store::SetRegistryObserver; without one, registry writes have no effect on jobs.
class RegistryObserver {
 public:
  virtual ~RegistryObserver() = default;
  // After `thing` became a direct member of `group`.
  virtual Status OnMembershipAdded(Txn& txn, int64_t thing, int64_t group, Instant now) = 0;
  // After `thing` stopped being a direct member of `group`.
  virtual Status OnMembershipRemoved(Txn& txn, int64_t thing, int64_t group, Instant now) = 0;
  // Before `thing`'s row and memberships are deleted.
  virtual Status OnThingDeleting(Txn& txn, int64_t thing, Instant now) = 0;
};

}  // namespace iotjobs::store
