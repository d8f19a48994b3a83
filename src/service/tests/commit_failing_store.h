// CommitFailingStore: a Store that forwards every call to another one, and whose Transact can be
// told to fail the commit: the caller's function runs in the inner transaction, then the
// transaction is failed, so the inner store rolls back everything the function wrote. For tests
// of the atomicity of the Applier's operations, over any backend.
#pragma once

#include <atomic>

#include "store/store.h"

namespace iotjobs::store {

class CommitFailingStore final : public Store {
 public:
  explicit CommitFailingStore(Store* inner) : inner_(inner) {}

  // While set, every Transact whose function succeeds fails with Unavailable, writing nothing.
  void FailCommits(bool fail) { fail_commits_ = fail; }

  Status Transact(const std::function<Status(Txn&)>& fn) override {
    return inner_->Transact([&](Txn& txn) -> Status {
      IOTJOBS_RETURN_IF_ERROR(fn(txn));
      if (fail_commits_) return Status::Unavailable("injected: the commit failed");
      return Status::Ok();
    });
  }
  void SetRegistryObserver(RegistryObserver* observer) override {
    inner_->SetRegistryObserver(observer);
  }

  Status View(const std::function<Status(Txn&)>& fn) override { return inner_->View(fn); }
  Status CreateJobTemplate(const jobs::JobTemplate& t, const std::string& arn,
                           const std::vector<jobs::Tag>& tags) override {
    return inner_->CreateJobTemplate(t, arn, tags);
  }
  Result<jobs::JobTemplate> GetJobTemplate(const std::string& region,
                                           const std::string& id) override {
    return inner_->GetJobTemplate(region, id);
  }
  Result<Page<jobs::JobTemplate>> ListJobTemplates(const std::string& region,
                                                   const std::string& after, int limit) override {
    return inner_->ListJobTemplates(region, after, limit);
  }
  Status DeleteJobTemplate(const std::string& region, const std::string& id,
                           const std::string& arn) override {
    return inner_->DeleteJobTemplate(region, id, arn);
  }
  Status TagResource(const std::string& arn, const std::vector<jobs::Tag>& tags,
                     int max_tags) override {
    return inner_->TagResource(arn, tags, max_tags);
  }
  Status UntagResource(const std::string& arn, const std::vector<std::string>& keys) override {
    return inner_->UntagResource(arn, keys);
  }
  Result<Page<jobs::Tag>> ListTags(const std::string& arn, const std::string& after,
                                   int limit) override {
    return inner_->ListTags(arn, after, limit);
  }
  Status CreateThing(const jobs::Thing& t) override { return inner_->CreateThing(t); }
  Result<jobs::Thing> GetThing(const std::string& region, const std::string& name) override {
    return inner_->GetThing(region, name);
  }
  Result<Page<jobs::Thing>> ListThings(const std::string& region, const ThingFilter& filter,
                                       const std::string& after, int limit) override {
    return inner_->ListThings(region, filter, after, limit);
  }
  Status UpdateThing(const jobs::Thing& t, int64_t expected_version) override {
    return inner_->UpdateThing(t, expected_version);
  }
  Status DeleteThing(const std::string& region, const std::string& name, int64_t expected_version,
                     Instant now) override {
    return inner_->DeleteThing(region, name, expected_version, now);
  }
  Status CreateThingGroup(const jobs::ThingGroup& g, const std::string& arn,
                          const std::vector<jobs::Tag>& tags) override {
    return inner_->CreateThingGroup(g, arn, tags);
  }
  Result<jobs::ThingGroup> GetThingGroup(const std::string& region,
                                         const std::string& name) override {
    return inner_->GetThingGroup(region, name);
  }
  Result<Page<jobs::ThingGroup>> ListThingGroups(const std::string& region,
                                                 const GroupFilter& filter,
                                                 const std::string& after, int limit) override {
    return inner_->ListThingGroups(region, filter, after, limit);
  }
  Status UpdateThingGroup(const jobs::ThingGroup& g, int64_t expected_version) override {
    return inner_->UpdateThingGroup(g, expected_version);
  }
  Status DeleteThingGroup(const std::string& region, const std::string& name,
                          const std::string& arn, int64_t expected_version) override {
    return inner_->DeleteThingGroup(region, name, arn, expected_version);
  }
  Status AddThingToGroup(const std::string& region, const std::string& thing,
                         const std::string& group, Instant now) override {
    return inner_->AddThingToGroup(region, thing, group, now);
  }
  Status RemoveThingFromGroup(const std::string& region, const std::string& thing,
                              const std::string& group, Instant now) override {
    return inner_->RemoveThingFromGroup(region, thing, group, now);
  }
  Result<Page<std::string>> ListThingsInGroup(const std::string& region, const std::string& group,
                                              bool recursive, const std::string& after,
                                              int limit) override {
    return inner_->ListThingsInGroup(region, group, recursive, after, limit);
  }
  Result<Page<std::string>> ListGroupsForThing(const std::string& region, const std::string& thing,
                                               const std::string& after, int limit) override {
    return inner_->ListGroupsForThing(region, thing, after, limit);
  }
  Result<std::vector<Status>> RegisterThings(const std::string& region,
                                             const std::vector<jobs::ThingRegistration>& items,
                                             Instant now) override {
    return inner_->RegisterThings(region, items, now);
  }
  Status CreateRegistrationTask(const jobs::RegistrationTask& t) override {
    return inner_->CreateRegistrationTask(t);
  }
  Status UpdateRegistrationTask(const jobs::RegistrationTask& t) override {
    return inner_->UpdateRegistrationTask(t);
  }
  Result<jobs::RegistrationTask> GetRegistrationTask(const std::string& region,
                                                     const std::string& id) override {
    return inner_->GetRegistrationTask(region, id);
  }
  Result<Page<jobs::RegistrationTask>> ListRegistrationTasks(const std::string& region,
                                                             const std::string& status,
                                                             const std::string& after,
                                                             int limit) override {
    return inner_->ListRegistrationTasks(region, status, after, limit);
  }
  Status CreateJob(const jobs::Job& j, const std::string& arn,
                   const std::vector<jobs::Tag>& tags) override {
    return inner_->CreateJob(j, arn, tags);
  }
  Result<jobs::Job> GetJob(const std::string& region, const std::string& id) override {
    return inner_->GetJob(region, id);
  }
  Result<Page<jobs::Job>> ListJobs(const std::string& region, const JobFilter& filter,
                                   const std::string& after, int limit) override {
    return inner_->ListJobs(region, filter, after, limit);
  }
  Status UpdateJob(const jobs::Job& j) override { return inner_->UpdateJob(j); }
  Result<std::vector<ThingChange>> ThingChanges(int limit) override {
    return inner_->ThingChanges(limit);
  }
  Result<std::optional<NotifiedState>> GetNotified(const std::string& region,
                                                   const std::string& thing) override {
    return inner_->GetNotified(region, thing);
  }
  Status AckThingChanges(int64_t up_to, const std::vector<NotifiedState>& states) override {
    return inner_->AckThingChanges(up_to, states);
  }
  Result<EventConfigurations> GetEventConfigurations(const std::string& region) override {
    return inner_->GetEventConfigurations(region);
  }
  Status UpdateEventConfigurations(const std::string& region,
                                   const std::map<std::string, bool>& changes,
                                   Instant now) override {
    return inner_->UpdateEventConfigurations(region, changes, now);
  }
  Result<std::vector<Event>> EventOutbox(int limit) override { return inner_->EventOutbox(limit); }
  Status AckEvents(int64_t up_to) override { return inner_->AckEvents(up_to); }
  Result<jobs::JobExecution> GetExecution(const std::string& region, const std::string& job_id,
                                          const std::string& thing,
                                          std::optional<int64_t> number) override {
    return inner_->GetExecution(region, job_id, thing, number);
  }
  Result<Page<jobs::JobExecution>> ListExecutionsForJob(const std::string& region,
                                                        const std::string& job_id,
                                                        std::optional<jobs::ExecutionStatus> status,
                                                        const std::string& after,
                                                        int limit) override {
    return inner_->ListExecutionsForJob(region, job_id, status, after, limit);
  }
  Result<Page<jobs::JobExecution>> ListExecutionsForThing(
      const std::string& region, const std::string& thing,
      std::optional<jobs::ExecutionStatus> status, const std::string& job_id,
      const std::string& after, int limit) override {
    return inner_->ListExecutionsForThing(region, thing, status, job_id, after, limit);
  }

 private:
  Store* inner_;
  std::atomic<bool> fail_commits_{false};
};

}  // namespace iotjobs::store
