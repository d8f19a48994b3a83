// MemoryStore: a Store that keeps every row in memory, for the services' unit tests, the
// scheduler's tests and the what-if simulator. Same semantics and errors as SqliteStore (one
// conformance suite, tests/store_conformance*.h), minus durability: nothing survives the object.
//
// It implements the data operations and Transact / View / store::Txn; the rule operations marked
// legacy in store.h are refused (Internal) — the rules run through service::Applier.
//
// Threading: one readers-writer lock. Transact and every write hold it exclusively, reads and View
// share it. A function passed to Transact or View must not call back into the store (it would
// deadlock); it reads and writes through its Txn only.
//
// Atomicity: every write runs against an undo log (each change records its inverse); a write or a
// Transact whose function fails replays the log backwards, so nothing of it is left and a
// transaction costs what it changes, never a copy of the state.
//
// Indexes mirror SQLite's primary keys and indexes: executions by (job, thing, number) and by
// (thing, job, number), timers by (timeout_at, job, thing, number), each thing's queue by (thing,
// IN_PROGRESS before QUEUED, queued_at, job, number), memberships both ways, targets by group and
// by thing. Per-thing and per-job calls are O(log n + rows returned).
#pragma once

#include <memory>
#include <shared_mutex>

#include "store/store.h"

namespace iotjobs::store {

class MemoryStore final : public Store {
 public:
  struct Options {
    bool track_thing_changes = false;  // fill the thing_changes outbox (MQTT notifications)
  };

  MemoryStore();
  explicit MemoryStore(Options options);
  ~MemoryStore() override;
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  Status Transact(const std::function<Status(Txn&)>& fn) override;
  Status View(const std::function<Status(Txn&)>& fn) override;
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

  Result<std::vector<ThingChange>> ThingChanges(int limit) override;
  Result<std::optional<NotifiedState>> GetNotified(const std::string& region,
                                                   const std::string& thing) override;
  Status AckThingChanges(int64_t up_to, const std::vector<NotifiedState>& states) override;
  Result<EventConfigurations> GetEventConfigurations(const std::string& region) override;
  Status UpdateEventConfigurations(const std::string& region,
                                   const std::map<std::string, bool>& changes,
                                   Instant now) override;
  Result<std::vector<Event>> EventOutbox(int limit) override;
  Status AckEvents(int64_t up_to) override;

 private:
  struct State;
  class Tx;

  // Runs `fn(Tx&)` holding the lock exclusively; undoes everything it changed when it fails.
  Status Write(const std::function<Status(Tx&)>& fn);
  // Makes `thing` a direct member of `group` with every rule of AddThingToThingGroup checked, then
  // tells the registry observer (inside the same write).
  Status AddMembership(Tx& tx, int64_t thing, const std::string& thing_name, int64_t group,
                       const std::string& group_name, Instant now);

  const Options options_;
  std::shared_mutex mu_;
  std::unique_ptr<State> state_;
  RegistryObserver* observer_ = nullptr;
};

}  // namespace iotjobs::store
