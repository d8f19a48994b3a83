// SqliteTxn: store::Txn (store/txn.h) over one SQLite connection that is inside a transaction.
// SqliteStore::Transact hands one over the writer's connection (inside the write's SAVEPOINT, so
// an error rolls every write of it back), SqliteStore::View one over a pooled read connection
// inside BEGIN ... ROLLBACK (one snapshot), and the registry writes one to their RegistryObserver.
//
// The operations are the rows only: every status, counter, timer, retry and abort decision is the
// caller's. Reads fill the AWS names of what they return (a deleted thing's from deleted_things).
//
// Not thread-safe: used by the one thread that owns the connection, during the transaction.
#pragma once

#include "store/sqlite/sqlite_db.h"
#include "store/txn.h"

namespace iotjobs::store {

class SqliteTxn final : public Txn {
 public:
  // `db` must stay in its transaction while this is used. `writable` false: every write fails
  // with Internal (a View). `track_changes`: AppendEvent / AppendThingChange write the outboxes
  // (SqliteStore::Options::track_thing_changes), else they are no-ops.
  SqliteTxn(SqliteDb& db, bool writable, bool track_changes)
      : db_(db), writable_(writable), track_changes_(track_changes) {}

  Result<std::optional<jobs::JobRecord>> FindJob(const std::string& region,
                                                 const std::string& job_id) override;
  Result<std::optional<jobs::JobRecord>> JobById(int64_t job) override;
  Status PutJobState(const jobs::JobRecord& r) override;
  Status AddCounters(int64_t job, const jobs::JobCounters& deltas, int64_t notified) override;
  Result<int64_t> CountJobsWithStatus(const std::string& status) override;
  Result<std::vector<jobs::JobRecord>> JobsWithWork() override;
  Result<std::vector<jobs::JobRecord>> ScheduledJobsIn(
      const std::vector<std::string>& statuses) override;
  Status PurgeJob(int64_t job) override;
  Status DeleteTags(const std::string& arn) override;

  Result<std::vector<jobs::Target>> Targets(int64_t job) override;
  Status AddTargets(int64_t job, const std::string& region, const std::vector<std::string>& arns,
                    int64_t first) override;
  Result<std::optional<int64_t>> ThingId(const std::string& region,
                                         const std::string& name) override;
  Result<bool> ThingExists(int64_t thing) override;
  Result<std::vector<int64_t>> GroupAndDescendants(int64_t group) override;
  Result<std::vector<int64_t>> GroupMembers(int64_t group, int64_t after, int64_t limit) override;
  Result<std::vector<int64_t>> JobsTargetingGroupOrAncestors(int64_t group) override;
  Result<bool> TargetsCover(int64_t job, int64_t thing, int64_t exclude) override;

  Result<std::optional<jobs::ExecutionRecord>> Execution(int64_t job, int64_t thing,
                                                         std::optional<int64_t> number) override;
  Result<std::vector<jobs::ExecutionRecord>> ExecutionsOf(int64_t job, int64_t thing) override;
  Result<bool> HasExecution(int64_t job, int64_t thing) override;
  Status InsertExecution(const jobs::ExecutionRecord& r) override;
  Status InsertExecutions(const std::vector<jobs::ExecutionRecord>& rows) override;
  Status UpdateExecution(const jobs::ExecutionRecord& r) override;
  Status DeleteExecution(int64_t job, int64_t thing, int64_t number) override;
  Result<std::vector<jobs::ExecutionRecord>> LatestOfJob(
      int64_t job, int64_t after_thing, const std::vector<jobs::ExecutionStatus>& statuses,
      int64_t limit) override;
  Result<std::vector<jobs::ExecutionRecord>> ExecutionsOfJob(int64_t job, int64_t after_thing,
                                                             int64_t limit_things) override;
  Result<std::vector<jobs::ExecutionRecord>> LatestOfThing(int64_t thing) override;
  Result<std::vector<jobs::ExecutionRecord>> ThingQueue(
      int64_t thing, const std::vector<std::string>& hidden_job_statuses, int64_t limit) override;
  Result<std::vector<jobs::ExecutionRecord>> DueTimers(Instant now, int64_t limit) override;
  Result<std::optional<Instant>> NextTimer() override;

  Result<jobs::RolloutCursor> RolloutCursor(int64_t job) override;
  Status PutRolloutCursor(int64_t job, const jobs::RolloutCursor& c) override;
  Status AddRolloutBatch(int64_t job, const jobs::RolloutBatch& b, Instant forget_up_to) override;
  Result<std::vector<jobs::RolloutBatch>> RolloutBatches(int64_t job, Instant since) override;

  Result<EventConfigurations> EventConfig(const std::string& region) override;
  Status AppendEvent(const Event& e) override;
  Status AppendThingChange(int64_t thing) override;

 private:
  // Internal("<op>: ...") in a read-only transaction, else OK.
  Status Writable(const char* op) const;

  SqliteDb& db_;
  const bool writable_;
  const bool track_changes_;
};

}  // namespace iotjobs::store
