// SqliteStore: the default backend. One SQLite database in WAL mode under the data directory.
//
// Threading: reads run on the calling thread with a connection from a pool (WAL lets them proceed
// while a write commits). Writes are queued to one writer thread, which applies every write waiting
// at that moment in one transaction (each inside its own SAVEPOINT, so one failing write does not
// undo the others) and commits once: group commit, one fsync for the whole batch. The caller blocks
// until its write is durable. A checkpointer thread copies the WAL back into the database file
// (passive checkpoints on a connection of its own, once Options::checkpoint_pages have been
// appended), so no write waits for a checkpoint.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "store/sqlite/sqlite_db.h"
#include "store/store.h"

namespace iotjobs::store {

class SqliteStore final : public Store {
 public:
  struct Options {
    std::string path;                  // database file; created when missing
    bool synchronous_full = true;      // fsync every commit (durable across power loss)
    int max_batch = 512;               // writes per group commit at most
    bool track_thing_changes = false;  // fill the thing_changes outbox (MQTT notifications)
    // WAL pages appended since the last checkpoint that wake the checkpointer (SQLite's own
    // automatic checkpoint, which this replaces, uses 1000 too).
    int checkpoint_pages = 1000;
  };

  // Opens the database and applies pending schema migrations (PRAGMA user_version).
  static Result<std::unique_ptr<SqliteStore>> Open(const Options& options);
  // Drains queued writes, then stops the writer thread.
  ~SqliteStore() override;

  // Schema version after migrations (the number of migrations applied in total).
  static int SchemaVersion();

  // Transactions (store/txn.h) through SqliteTxn. Transact runs `fn` on the writer thread, in its
  // own SAVEPOINT of a group commit, exactly once: `fn` must not call this store (its writes
  // would wait for the writer thread, which waits for `fn`). View runs `fn` on the calling thread
  // over a pooled read connection inside one read transaction (one snapshot); writes through its
  // Txn fail with Internal.
  Status Transact(const std::function<Status(Txn&)>& fn) override;
  Status View(const std::function<Status(Txn&)>& fn) override;
  // Registry writes call `observer` on the writer thread inside their transaction (a failure
  // undoes the registry write). Until one is set they apply the legacy rules of sqlite_jobs.cc.
  void SetRegistryObserver(RegistryObserver* observer) override;

  Status CreateJobTemplate(const jobs::JobTemplate& t, const std::string& arn,
                           const std::vector<jobs::Tag>& tags) override;
  Result<jobs::JobTemplate> GetJobTemplate(const std::string& region,
                                           const std::string& id) override;
  Result<Page<jobs::JobTemplate>> ListJobTemplates(const std::string& region,
                                                   const std::string& after, int limit) override;
  Status DeleteJobTemplate(const std::string& region, const std::string& id,
                           const std::string& arn) override;
  Status TagResource(const std::string& arn, const std::vector<jobs::Tag>& tags,
                     int max_tags) override;
  Status UntagResource(const std::string& arn, const std::vector<std::string>& keys) override;
  Result<Page<jobs::Tag>> ListTags(const std::string& arn, const std::string& after,
                                   int limit) override;

  // Bulk registration (sqlite_registry.cc).
  Result<std::vector<Status>> RegisterThings(const std::string& region,
                                             const std::vector<jobs::ThingRegistration>& items,
                                             Instant now) override;
  Status CreateRegistrationTask(const jobs::RegistrationTask& t) override;
  Status UpdateRegistrationTask(const jobs::RegistrationTask& t) override;
  Result<jobs::RegistrationTask> GetRegistrationTask(const std::string& region,
                                                     const std::string& id) override;
  Result<Page<jobs::RegistrationTask>> ListRegistrationTasks(const std::string& region,
                                                             const std::string& status,
                                                             const std::string& after,
                                                             int limit) override;

  // Jobs and executions (sqlite_jobs.cc).
  Status CreateJob(const jobs::Job& j, const std::string& arn,
                   const std::vector<jobs::Tag>& tags) override;
  Result<jobs::Job> GetJob(const std::string& region, const std::string& id) override;
  Result<Page<jobs::Job>> ListJobs(const std::string& region, const JobFilter& filter,
                                   const std::string& after, int limit) override;
  Status UpdateJob(const jobs::Job& j) override;
  Result<jobs::JobExecution> GetExecution(const std::string& region, const std::string& job_id,
                                          const std::string& thing,
                                          std::optional<int64_t> number) override;
  Result<Page<jobs::JobExecution>> ListExecutionsForJob(const std::string& region,
                                                        const std::string& job_id,
                                                        std::optional<jobs::ExecutionStatus> status,
                                                        const std::string& after,
                                                        int limit) override;
  Result<Page<jobs::JobExecution>> ListExecutionsForThing(
      const std::string& region, const std::string& thing,
      std::optional<jobs::ExecutionStatus> status, const std::string& job_id,
      const std::string& after, int limit) override;

  Result<EventConfigurations> GetEventConfigurations(const std::string& region) override;
  Status UpdateEventConfigurations(const std::string& region,
                                   const std::map<std::string, bool>& changes,
                                   Instant now) override;
  Result<std::vector<Event>> EventOutbox(int limit) override;
  Status AckEvents(int64_t up_to) override;
  Result<std::vector<ThingChange>> ThingChanges(int limit) override;
  Result<std::optional<NotifiedState>> GetNotified(const std::string& region,
                                                   const std::string& thing) override;
  Status AckThingChanges(int64_t up_to, const std::vector<NotifiedState>& states) override;

  // Registry (sqlite_registry.cc).
  Status CreateThing(const jobs::Thing& t) override;
  Result<jobs::Thing> GetThing(const std::string& region, const std::string& name) override;
  Result<Page<jobs::Thing>> ListThings(const std::string& region, const ThingFilter& filter,
                                       const std::string& after, int limit) override;
  Status UpdateThing(const jobs::Thing& t, int64_t expected_version) override;
  Status DeleteThing(const std::string& region, const std::string& name, int64_t expected_version,
                     Instant now) override;
  Status CreateThingGroup(const jobs::ThingGroup& g, const std::string& arn,
                          const std::vector<jobs::Tag>& tags) override;
  Result<jobs::ThingGroup> GetThingGroup(const std::string& region,
                                         const std::string& name) override;
  Result<Page<jobs::ThingGroup>> ListThingGroups(const std::string& region,
                                                 const GroupFilter& filter,
                                                 const std::string& after, int limit) override;
  Status UpdateThingGroup(const jobs::ThingGroup& g, int64_t expected_version) override;
  Status DeleteThingGroup(const std::string& region, const std::string& name,
                          const std::string& arn, int64_t expected_version) override;
  Status AddThingToGroup(const std::string& region, const std::string& thing,
                         const std::string& group, Instant now) override;
  Status RemoveThingFromGroup(const std::string& region, const std::string& thing,
                              const std::string& group, Instant now) override;
  Result<Page<std::string>> ListThingsInGroup(const std::string& region, const std::string& group,
                                              bool recursive, const std::string& after,
                                              int limit) override;
  Result<Page<std::string>> ListGroupsForThing(const std::string& region, const std::string& thing,
                                               const std::string& after, int limit) override;

 private:
  using WriteFn = std::function<Status(SqliteDb&)>;
  struct PendingWrite {
    WriteFn fn;
    std::promise<Status> done;
  };

  explicit SqliteStore(Options options) : options_(std::move(options)) {}
  Status Migrate();
  Status Write(WriteFn fn);
  void WriterLoop();
  void CheckpointLoop();
  // sqlite3_wal_hook: after every commit of the writer, with the WAL's size in pages.
  static int OnWalCommit(void* self, sqlite3* db, const char* name, int pages);

  // Runs `fn` with a read connection from the pool.
  template <typename T, typename F>
  Result<T> Read(F&& fn) {
    std::unique_ptr<SqliteDb> db = AcquireReader();
    if (!db)
      return Status::Unavailable("sqlite: cannot open a read connection to " + options_.path);
    Result<T> r = fn(*db);
    ReleaseReader(std::move(db));
    return r;
  }
  std::unique_ptr<SqliteDb> AcquireReader();
  static Status InsertTags(SqliteDb& db, const std::string& arn,
                           const std::vector<jobs::Tag>& tags);
  static Status DeleteAllTags(SqliteDb& db, const std::string& arn);
  void ReleaseReader(std::unique_ptr<SqliteDb> db);

  // The registry's hooks into the rules (sqlite_registry.cc), on the writer's connection.
  Status MembershipAdded(SqliteDb& db, int64_t thing, int64_t grp, Instant now);
  Status MembershipRemoved(SqliteDb& db, int64_t thing, int64_t grp, Instant now);
  Status ThingDeleting(SqliteDb& db, int64_t thing, Instant now);

  Options options_;
  std::atomic<RegistryObserver*> observer_{nullptr};
  std::unique_ptr<SqliteDb> writer_db_;
  std::thread writer_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<PendingWrite> queue_;
  bool stopping_ = false;

  std::mutex pool_mu_;
  std::vector<std::unique_ptr<SqliteDb>> readers_;

  std::unique_ptr<SqliteDb> checkpoint_db_;
  std::thread checkpointer_;
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  int wal_pages_ = 0;           // the WAL's size after the writer's last commit
  int checkpointed_pages_ = 0;  // its size when the last checkpoint started
  bool checkpoint_stopping_ = false;
};

}  // namespace iotjobs::store
