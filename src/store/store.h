// Store: durable state behind one interface, with one conformance suite (tests/store_conformance.h)
// run against every backend.
//
// Contract: every method is blocking and thread-safe; every `limit` of a list call is >= 1 (the
// services enforce maxResults 1..250 before they call); call it from worker threads, never from I/O
// threads. A write returns only after it is durable (it survives kill -9 of the process). Writes
// issued concurrently are group-committed by the backend. Errors: NotFound / Conflict as documented
// per method; Unavailable or Internal when the database fails.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "jobs/configs.h"
#include "jobs/job.h"
#include "jobs/job_template.h"
#include "jobs/registry.h"
#include "jobs/rollout.h"
#include "store/txn.h"

namespace iotjobs::store {

template <typename T>
struct Page {
  std::vector<T> items;
  // Key of the last item when more items follow, else empty. Feed it back as `after`.
  std::string next_after;
};

class Store {
 public:
  virtual ~Store() = default;

  // --- Transactions (store/txn.h): the rules' typed operations ---
  // Runs `fn` in one write transaction and commits it when `fn` returns OK; returns `fn`'s error
  // (nothing written) or the commit's. Durable on return, like every write. `fn` may run more than
  // once (a backend may retry it on a serialization failure), so it must not have effects outside
  // the Txn before it returns. Writes from concurrent callers may share one commit (group commit).
  virtual Status Transact(const std::function<Status(Txn&)>& fn) = 0;
  // Runs `fn` over a consistent read-only snapshot; a write through the Txn fails with Internal.
  virtual Status View(const std::function<Status(Txn&)>& fn) = 0;
  // The rules' hook into registry writes (store/txn.h). Set once, before any write; not owned.
  virtual void SetRegistryObserver(RegistryObserver* observer) = 0;

  // --- Job templates (keyed by region + id) ---
  // Stores `t` and its tags (under `arn`) atomically. Conflict when (region, id) exists.
  virtual Status CreateJobTemplate(const jobs::JobTemplate& t, const std::string& arn,
                                   const std::vector<jobs::Tag>& tags) = 0;
  // NotFound when absent.
  virtual Result<jobs::JobTemplate> GetJobTemplate(const std::string& region,
                                                   const std::string& id) = 0;
  // Templates of `region` ordered by id, starting after id `after` ("" = from the start).
  virtual Result<Page<jobs::JobTemplate>> ListJobTemplates(const std::string& region,
                                                           const std::string& after, int limit) = 0;
  // Deletes the template and its tags. NotFound when absent.
  virtual Status DeleteJobTemplate(const std::string& region, const std::string& id,
                                   const std::string& arn) = 0;

  // --- Tags, keyed by resource ARN. The caller checks that the resource exists. ---
  // Adds or overwrites tags; LimitExceeded when the resource would carry more than `max_tags`.
  virtual Status TagResource(const std::string& arn, const std::vector<jobs::Tag>& tags,
                             int max_tags) = 0;
  virtual Status UntagResource(const std::string& arn, const std::vector<std::string>& keys) = 0;
  // Tags ordered by key, starting after key `after`.
  virtual Result<Page<jobs::Tag>> ListTags(const std::string& arn, const std::string& after,
                                           int limit) = 0;

  // --- Things (keyed by region + name) ---
  // Conflict when the name is taken.
  virtual Status CreateThing(const jobs::Thing& t) = 0;
  virtual Result<jobs::Thing> GetThing(const std::string& region, const std::string& name) = 0;
  using ThingFilter = jobs::ThingFilter;  // jobs/registry.h
  // Things of `region` ordered by name, after name `after`.
  virtual Result<Page<jobs::Thing>> ListThings(const std::string& region, const ThingFilter& filter,
                                               const std::string& after, int limit) = 0;
  // Replaces the stored thing (matched by region + name) with `t`, whose version must be
  // expected_version + 1. VersionConflict when the stored version is not expected_version;
  // NotFound when absent.
  virtual Status UpdateThing(const jobs::Thing& t, int64_t expected_version) = 0;
  // Deletes the thing and its group memberships. NotFound when absent; VersionConflict when
  // expected_version >= 0 and differs.
  // The RegistryObserver is told first (OnThingDeleting, in the same transaction, at `now`).
  virtual Status DeleteThing(const std::string& region, const std::string& name,
                             int64_t expected_version, Instant now) = 0;

  // --- Thing groups ---
  // Conflict when the name is taken; NotFound when the parent is missing; InvalidRequest when the
  // hierarchy would be deeper than jobs::kMaxGroupDepth. Fills nothing back: read it with Get.
  virtual Status CreateThingGroup(const jobs::ThingGroup& g, const std::string& arn,
                                  const std::vector<jobs::Tag>& tags) = 0;
  virtual Result<jobs::ThingGroup> GetThingGroup(const std::string& region,
                                                 const std::string& name) = 0;
  using GroupFilter = jobs::GroupFilter;  // jobs/registry.h
  // Groups ordered by name. NotFound when filter.parent does not exist.
  virtual Result<Page<jobs::ThingGroup>> ListThingGroups(const std::string& region,
                                                         const GroupFilter& filter,
                                                         const std::string& after, int limit) = 0;
  // Replaces description and attributes; version must be expected_version + 1 (expected_version
  // < 0: any). VersionConflict / NotFound.
  virtual Status UpdateThingGroup(const jobs::ThingGroup& g, int64_t expected_version) = 0;
  // NotFound when absent; InvalidRequest while it has child groups; VersionConflict.
  virtual Status DeleteThingGroup(const std::string& region, const std::string& name,
                                  const std::string& arn, int64_t expected_version) = 0;
  // NotFound for a missing thing or group; InvalidRequest past jobs::kMaxGroupsPerThing,
  // or when the thing is already in another group of the same hierarchy. Adding an
  // existing membership succeeds.
  // A new membership is told to the RegistryObserver (OnMembershipAdded, same transaction).
  virtual Status AddThingToGroup(const std::string& region, const std::string& thing,
                                 const std::string& group, Instant now) = 0;
  // NotFound for a missing thing or group; removing a non-member succeeds.
  // A removed membership is told to the RegistryObserver (OnMembershipRemoved, same transaction).
  virtual Status RemoveThingFromGroup(const std::string& region, const std::string& thing,
                                      const std::string& group, Instant now) = 0;
  // Thing names in `group` (and its descendants when recursive, each thing once), in the order
  // the things were created (so a page of a huge group costs O(page) through the membership
  // key); `next_after` is an opaque cursor, not a name. NotFound when the group is missing.
  virtual Result<Page<std::string>> ListThingsInGroup(const std::string& region,
                                                      const std::string& group, bool recursive,
                                                      const std::string& after, int limit) = 0;
  // Groups the thing is a direct member of, ordered by name. NotFound when the thing is missing.
  virtual Result<Page<std::string>> ListGroupsForThing(const std::string& region,
                                                       const std::string& thing,
                                                       const std::string& after, int limit) = 0;

  // --- Bulk registration ---
  // Creates things (idempotent when the configuration is identical) and their memberships in one
  // transaction; returns one Status per item (AlreadyExists for a different configuration,
  // NotFound for a missing group, InvalidRequest for a hierarchy conflict).
  virtual Result<std::vector<Status>> RegisterThings(
      const std::string& region, const std::vector<jobs::ThingRegistration>& items,
      Instant now) = 0;
  virtual Status CreateRegistrationTask(const jobs::RegistrationTask& t) = 0;
  // Replaces status, message, counts and percentage. NotFound.
  virtual Status UpdateRegistrationTask(const jobs::RegistrationTask& t) = 0;
  virtual Result<jobs::RegistrationTask> GetRegistrationTask(const std::string& region,
                                                             const std::string& id) = 0;
  // Oldest first; `status` empty for any. With region empty: every region (used at start-up to
  // resume interrupted tasks).
  virtual Result<Page<jobs::RegistrationTask>> ListRegistrationTasks(const std::string& region,
                                                                     const std::string& status,
                                                                     const std::string& after,
                                                                     int limit) = 0;

  // --- Jobs ---
  // Stores the job, its targets (thing / thing-group ARNs of `j.region`) and tags. AlreadyExists
  // when the id exists in any state (JobService maps it to ResourceAlreadyExists); NotFound when a
  // target does not exist. The job starts with rollout work (jobs::JobWork::rollout) and an empty
  // rollout cursor; its executions are created later by the rules (service::Applier).
  virtual Status CreateJob(const jobs::Job& j, const std::string& arn,
                           const std::vector<jobs::Tag>& tags) = 0;
  virtual Result<jobs::Job> GetJob(const std::string& region, const std::string& id) = 0;
  using JobFilter = jobs::JobFilter;  // jobs/job.h
  // Newest first. NotFound when filter.thing_group does not exist.
  virtual Result<Page<jobs::Job>> ListJobs(const std::string& region, const JobFilter& filter,
                                           const std::string& after, int limit) = 0;
  // Replaces the mutable parts of a job (description and configs). NotFound.
  virtual Status UpdateJob(const jobs::Job& j) = 0;

  // The outbox of things whose pending list may have changed (oldest first), for the MQTT
  // notifier; empty unless the backend was opened to track changes. A deleted thing is never
  // named: its changes come with region and thing empty, so their seq can still be acknowledged.
  struct ThingChange {
    int64_t seq = 0;
    std::string region, thing;
  };
  virtual Result<std::vector<ThingChange>> ThingChanges(int limit) = 0;
  using NotifiedState = jobs::NotifiedState;  // jobs/records.h
  // The stored state of `thing`; nullopt when nothing is pending for it as far as devices know.
  virtual Result<std::optional<NotifiedState>> GetNotified(const std::string& region,
                                                           const std::string& thing) = 0;
  // Forgets the changes up to and including `up_to` and, in the same transaction, records what
  // was published for them (`states` with empty members are removed).
  virtual Status AckThingChanges(int64_t up_to, const std::vector<NotifiedState>& states) = 0;

  // --- Event configurations and the events outbox ($aws/events/...) ---
  using EventConfigurations = store::EventConfigurations;  // store/txn.h
  virtual Result<EventConfigurations> GetEventConfigurations(const std::string& region) = 0;
  // Merges `changes` into the region's configuration.
  virtual Status UpdateEventConfigurations(const std::string& region,
                                           const std::map<std::string, bool>& changes,
                                           Instant now) = 0;
  using Event = store::Event;  // store/txn.h
  virtual Result<std::vector<Event>> EventOutbox(int limit) = 0;
  virtual Status AckEvents(int64_t up_to) = 0;

  // --- Executions ---
  // `number` nullopt: the latest execution. NotFound.
  virtual Result<jobs::JobExecution> GetExecution(const std::string& region,
                                                  const std::string& job_id,
                                                  const std::string& thing,
                                                  std::optional<int64_t> number) = 0;
  // Ordered by thing; NotFound for a missing job.
  virtual Result<Page<jobs::JobExecution>> ListExecutionsForJob(
      const std::string& region, const std::string& job_id,
      std::optional<jobs::ExecutionStatus> status, const std::string& after, int limit) = 0;
  // Ordered by job, newest first; NotFound for a missing thing.
  virtual Result<Page<jobs::JobExecution>> ListExecutionsForThing(
      const std::string& region, const std::string& thing,
      std::optional<jobs::ExecutionStatus> status, const std::string& job_id,
      const std::string& after, int limit) = 0;
};

}  // namespace iotjobs::store
