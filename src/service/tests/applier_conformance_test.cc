// The legacy store's rule conformance tests (store/tests/store_conformance_jobs.h), run with every
// rule operation the Applier now owns routed through it: CancelJob, DeleteJob, AssociateTargets,
// CancelExecution, DeleteExecution, the pending list, device updates, start-next and the
// timeouts (and, through the registry observer, continuous jobs following membership). The
// scheduler's own operations still go to the SQLite backend. The same assertions pass either way:
// the Applier keeps the legacy behaviour, errors and messages.
#include <gtest/gtest.h>

#include <atomic>

#include "service/applier.h"
#include "store/sqlite/sqlite_store.h"
#include "store/tests/store_conformance_jobs.h"
#include "store/tests/temp_dir.h"

namespace iotjobs::store {
namespace {

class ApplierBackedStore final : public Store {
 public:
  explicit ApplierBackedStore(std::unique_ptr<Store> inner)
      : inner_(std::move(inner)), applier_(inner_.get()) {}

  Status Transact(const std::function<Status(Txn&)>& fn) override { return inner_->Transact(fn); }
  void SetRegistryObserver(RegistryObserver* observer) override {
    inner_->SetRegistryObserver(observer);
  }
  DeviceResult UpdateExecution(const std::string& region, const std::string& thing,
                               const std::string& job_id, const DeviceUpdate& update,
                               Instant now) override {
    service::Applier::DeviceUpdate u;
    u.status = update.status;
    u.status_details = update.status_details;
    u.step_timeout_minutes = update.step_timeout_minutes;
    u.expected_version = update.expected_version;
    u.execution_number = update.execution_number;
    return Convert(applier_.UpdateExecution(region, thing, job_id, u, now));
  }
  DeviceResult StartNextExecution(
      const std::string& region, const std::string& thing,
      const std::optional<std::map<std::string, std::string>>& status_details,
      std::optional<int64_t> step_timeout_minutes, Instant now) override {
    return Convert(
        applier_.StartNextExecution(region, thing, status_details, step_timeout_minutes, now));
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
  Status CancelJob(const std::string& region, const std::string& id, bool force,
                   const std::optional<std::string>& reason_code,
                   const std::optional<std::string>& comment, Instant now) override {
    return applier_.CancelJob(region, id, force, reason_code, comment, now);
  }
  Status DeleteJob(const std::string& region, const std::string& id, const std::string& arn,
                   bool force, int max_deleting, Instant now) override {
    return applier_.DeleteJob(region, id, arn, force, max_deleting, now);
  }
  Status AssociateTargets(const std::string& region, const std::string& id,
                          const std::vector<std::string>& targets, int max_targets,
                          Instant now) override {
    return applier_.AssociateTargets(region, id, targets, max_targets, now);
  }
  Result<std::vector<JobWork>> PendingJobWork() override { return inner_->PendingJobWork(); }
  Result<int64_t> MaterializeExecutions(int64_t job, int64_t max, Instant now) override {
    return inner_->MaterializeExecutions(job, max, now);
  }
  Result<std::vector<int64_t>> MaterializeReleases(const std::vector<Release>& releases,
                                                   Instant now) override {
    return inner_->MaterializeReleases(releases, now);
  }
  Result<std::vector<jobs::RolloutBatch>> RolloutBatches(int64_t job, Instant since) override {
    return inner_->RolloutBatches(job, since);
  }
  Result<int64_t> ProcessJobWork(int64_t job, int64_t max, Instant now) override {
    return inner_->ProcessJobWork(job, max, now);
  }
  Result<std::vector<jobs::JobExecution>> PendingExecutions(const std::string& region,
                                                            const std::string& thing,
                                                            int limit) override {
    return applier_.PendingExecutions(region, thing, limit);
  }
  Result<std::vector<ScheduledJob>> ScheduledJobs() override { return inner_->ScheduledJobs(); }
  Status SetScheduledState(int64_t job, const std::string& status, bool stop_rollout,
                           Instant now) override {
    return inner_->SetScheduledState(job, status, stop_rollout, now);
  }
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
  Result<int64_t> TimeOutExecutions(Instant now, int64_t max) override {
    return applier_.TimeOutExecutions(now, max);
  }
  Result<std::optional<Instant>> NextTimeout() override { return applier_.NextTimeout(); }
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
  Status CancelExecution(const std::string& region, const std::string& job_id,
                         const std::string& thing, bool force,
                         std::optional<int64_t> expected_version,
                         const std::map<std::string, std::string>& status_details,
                         Instant now) override {
    return applier_.CancelExecution(region, job_id, thing, force, expected_version, status_details,
                                    now);
  }
  Status DeleteExecution(const std::string& region, const std::string& job_id,
                         const std::string& thing, int64_t number, bool force,
                         Instant now) override {
    return applier_.DeleteExecution(region, job_id, thing, number, force, now);
  }

 private:
  static DeviceResult Convert(const service::Applier::DeviceResult& r) {
    DeviceResult out;
    out.status = r.status;
    out.execution = r.execution;
    out.changed = r.changed;
    out.job_aborted = r.job_aborted;
    return out;
  }

  std::unique_ptr<Store> inner_;
  service::Applier applier_;  // over inner_, its registry observer
};

iotjobs::testing::TempDir& ScratchRoot() {
  static iotjobs::testing::TempDir dir;
  return dir;
}

std::unique_ptr<Store> FreshApplierBackedStore(bool track_thing_changes) {
  static std::atomic<int> n{0};
  SqliteStore::Options o;
  o.path = ScratchRoot().File("applier-" + std::to_string(n++) + ".db");
  o.synchronous_full = false;
  o.track_thing_changes = track_thing_changes;
  auto s = SqliteStore::Open(o);
  if (!s.ok()) {
    ADD_FAILURE() << s.status().ToString();
    return nullptr;
  }
  return std::make_unique<ApplierBackedStore>(std::move(s).value());
}

using testing::StoreJobsConformanceTest;
INSTANTIATE_TEST_SUITE_P(SqliteThroughApplier, StoreJobsConformanceTest,
                         ::testing::Values(testing::StoreJobsBackend{"SqliteThroughApplier",
                                                                     FreshApplierBackedStore}),
                         testing::StoreJobsBackendName);

}  // namespace
}  // namespace iotjobs::store
