// FaultStore: a Store that forwards every call to an inner Store and fails chosen calls on
// purpose, so the services' error paths can be tested (issue 10). Test-only (target
// iotjobs_store_testing); nothing in the server links it.
//
//   FaultStore faulty(sqlite.get());
//   faulty.Inject(FaultStore::Fault::kDiskFull);             // the next write fails
//   faulty.Inject(FaultStore::Fault::kBusy, "CreateJob", 2);  // CreateJob's 3rd call fails
//   faulty.Inject(FaultStore::Fault::kReadError, "", 0, FaultStore::kForever);  // every read
//
// Faults, each as the SQLite backend reports the real thing (Unavailable):
// - kCommitFailure: the write ran and its commit failed, so nothing of it is kept. Transact runs
//   the caller's function in the inner store's transaction and then fails it, so the inner store
//   rolls it back; the other writes are not forwarded at all.
// - kBusy: the database stayed locked ("database is locked"); the write never ran.
// - kDiskFull: the file could not grow ("database or disk is full", naming the file); nothing kept
//   (Transact: as kCommitFailure).
// - kReadError: a read failed (Unavailable, disk I/O error). View does not run its function.
// - kInternal: the store's own defect (a row it cannot decode): Internal; nothing written.
// Write faults match write calls (Transact and every method that changes rows), kReadError
// matches reads (View and every lookup or list), kInternal matches every call; a rule naming a
// method matches that method only.
// Thread-safe: rules are consulted under a mutex, the inner call runs outside it.
#pragma once

#include <atomic>
#include <deque>
#include <mutex>
#include <string>

#include "store/store.h"

namespace iotjobs::store::testing {

class FaultStore final : public Store {
 public:
  enum class Fault { kCommitFailure, kBusy, kDiskFull, kReadError, kInternal };
  static constexpr int kForever = -1;

  struct Rule {
    Fault fault = Fault::kCommitFailure;
    // The Store method this rule applies to (its C++ name, e.g. "CreateJob"); empty: every write
    // (for write faults) or every read (kReadError).
    std::string method;
    int skip = 0;   // matching calls let through before the first failure
    int count = 1;  // matching calls failed after that; kForever until Clear()
  };

  // `inner` is not owned and must outlive this.
  explicit FaultStore(Store* inner, std::string path = "iotjobs.db")
      : inner_(inner), path_(std::move(path)) {}

  // Adds a rule; rules are consulted oldest first, the first match decides.
  void Inject(Rule r) {
    std::lock_guard<std::mutex> l(mu_);
    rules_.push_back(std::move(r));
  }
  void Inject(Fault fault, std::string method = {}, int skip = 0, int count = 1) {
    Inject(Rule{fault, std::move(method), skip, count});
  }
  // Forgets every rule: every call is forwarded again.
  void Clear() {
    std::lock_guard<std::mutex> l(mu_);
    rules_.clear();
  }
  // How many calls were failed on purpose so far.
  int injected() const { return injected_.load(); }
  // The Status a fault is reported with.
  Status StatusOf(Fault f) const {
    switch (f) {
      case Fault::kCommitFailure:
        return Status::Unavailable("sqlite commit: disk I/O error (injected fault)");
      case Fault::kBusy:
        return Status::Unavailable("sqlite step: database is locked (injected fault)");
      case Fault::kDiskFull:
        return Status::Unavailable(path_ + ": database or disk is full (injected fault)");
      case Fault::kReadError:
        return Status::Unavailable("sqlite step: disk I/O error (injected fault)");
      case Fault::kInternal:
        return Status::Internal("stored row cannot be decoded (injected fault)");
    }
    return Status::Internal("unknown fault");
  }

  // --- Transactions ---
  Status Transact(const std::function<Status(Txn&)>& fn) override {
    auto f = Match("Transact", kWrite);
    if (!f) return inner_->Transact(fn);
    if (*f == Fault::kBusy || *f == Fault::kReadError || *f == Fault::kInternal) {
      return StatusOf(*f);
    }
    // The caller's writes run, then the transaction fails: the inner store rolls them back.
    const Status injected = StatusOf(*f);
    Status st = inner_->Transact([&](Txn& txn) -> Status {
      IOTJOBS_RETURN_IF_ERROR(fn(txn));
      return injected;
    });
    return st.ok() ? injected : st;
  }
  Status View(const std::function<Status(Txn&)>& fn) override {
    if (auto f = Match("View", kRead)) return StatusOf(*f);
    return inner_->View(fn);
  }
  void SetRegistryObserver(RegistryObserver* observer) override {
    inner_->SetRegistryObserver(observer);
  }

  // --- Templates and tags ---
  Status CreateJobTemplate(const jobs::JobTemplate& t, const std::string& arn,
                           const std::vector<jobs::Tag>& tags) override {
    return Write("CreateJobTemplate", [&] { return inner_->CreateJobTemplate(t, arn, tags); });
  }
  Result<jobs::JobTemplate> GetJobTemplate(const std::string& region,
                                           const std::string& id) override {
    return Read("GetJobTemplate", [&] { return inner_->GetJobTemplate(region, id); });
  }
  Result<Page<jobs::JobTemplate>> ListJobTemplates(const std::string& region,
                                                   const std::string& after, int limit) override {
    return Read("ListJobTemplates", [&] { return inner_->ListJobTemplates(region, after, limit); });
  }
  Status DeleteJobTemplate(const std::string& region, const std::string& id,
                           const std::string& arn) override {
    return Write("DeleteJobTemplate", [&] { return inner_->DeleteJobTemplate(region, id, arn); });
  }
  Status TagResource(const std::string& arn, const std::vector<jobs::Tag>& tags,
                     int max_tags) override {
    return Write("TagResource", [&] { return inner_->TagResource(arn, tags, max_tags); });
  }
  Status UntagResource(const std::string& arn, const std::vector<std::string>& keys) override {
    return Write("UntagResource", [&] { return inner_->UntagResource(arn, keys); });
  }
  Result<Page<jobs::Tag>> ListTags(const std::string& arn, const std::string& after,
                                   int limit) override {
    return Read("ListTags", [&] { return inner_->ListTags(arn, after, limit); });
  }

  // --- Registry ---
  Status CreateThing(const jobs::Thing& t) override {
    return Write("CreateThing", [&] { return inner_->CreateThing(t); });
  }
  Result<jobs::Thing> GetThing(const std::string& region, const std::string& name) override {
    return Read("GetThing", [&] { return inner_->GetThing(region, name); });
  }
  Result<Page<jobs::Thing>> ListThings(const std::string& region, const ThingFilter& filter,
                                       const std::string& after, int limit) override {
    return Read("ListThings", [&] { return inner_->ListThings(region, filter, after, limit); });
  }
  Status UpdateThing(const jobs::Thing& t, int64_t expected_version) override {
    return Write("UpdateThing", [&] { return inner_->UpdateThing(t, expected_version); });
  }
  Status DeleteThing(const std::string& region, const std::string& name, int64_t expected_version,
                     Instant now) override {
    return Write("DeleteThing",
                 [&] { return inner_->DeleteThing(region, name, expected_version, now); });
  }
  Status CreateThingGroup(const jobs::ThingGroup& g, const std::string& arn,
                          const std::vector<jobs::Tag>& tags) override {
    return Write("CreateThingGroup", [&] { return inner_->CreateThingGroup(g, arn, tags); });
  }
  Result<jobs::ThingGroup> GetThingGroup(const std::string& region,
                                         const std::string& name) override {
    return Read("GetThingGroup", [&] { return inner_->GetThingGroup(region, name); });
  }
  Result<Page<jobs::ThingGroup>> ListThingGroups(const std::string& region,
                                                 const GroupFilter& filter,
                                                 const std::string& after, int limit) override {
    return Read("ListThingGroups",
                [&] { return inner_->ListThingGroups(region, filter, after, limit); });
  }
  Status UpdateThingGroup(const jobs::ThingGroup& g, int64_t expected_version) override {
    return Write("UpdateThingGroup", [&] { return inner_->UpdateThingGroup(g, expected_version); });
  }
  Status DeleteThingGroup(const std::string& region, const std::string& name,
                          const std::string& arn, int64_t expected_version) override {
    return Write("DeleteThingGroup",
                 [&] { return inner_->DeleteThingGroup(region, name, arn, expected_version); });
  }
  Status AddThingToGroup(const std::string& region, const std::string& thing,
                         const std::string& group, Instant now) override {
    return Write("AddThingToGroup",
                 [&] { return inner_->AddThingToGroup(region, thing, group, now); });
  }
  Status RemoveThingFromGroup(const std::string& region, const std::string& thing,
                              const std::string& group, Instant now) override {
    return Write("RemoveThingFromGroup",
                 [&] { return inner_->RemoveThingFromGroup(region, thing, group, now); });
  }
  Result<Page<std::string>> ListThingsInGroup(const std::string& region, const std::string& group,
                                              bool recursive, const std::string& after,
                                              int limit) override {
    return Read("ListThingsInGroup",
                [&] { return inner_->ListThingsInGroup(region, group, recursive, after, limit); });
  }
  Result<Page<std::string>> ListGroupsForThing(const std::string& region, const std::string& thing,
                                               const std::string& after, int limit) override {
    return Read("ListGroupsForThing",
                [&] { return inner_->ListGroupsForThing(region, thing, after, limit); });
  }

  // --- Bulk registration ---
  Result<std::vector<Status>> RegisterThings(const std::string& region,
                                             const std::vector<jobs::ThingRegistration>& items,
                                             Instant now) override {
    return Write("RegisterThings", [&] { return inner_->RegisterThings(region, items, now); });
  }
  Status CreateRegistrationTask(const jobs::RegistrationTask& t) override {
    return Write("CreateRegistrationTask", [&] { return inner_->CreateRegistrationTask(t); });
  }
  Status UpdateRegistrationTask(const jobs::RegistrationTask& t) override {
    return Write("UpdateRegistrationTask", [&] { return inner_->UpdateRegistrationTask(t); });
  }
  Result<jobs::RegistrationTask> GetRegistrationTask(const std::string& region,
                                                     const std::string& id) override {
    return Read("GetRegistrationTask", [&] { return inner_->GetRegistrationTask(region, id); });
  }
  Result<Page<jobs::RegistrationTask>> ListRegistrationTasks(const std::string& region,
                                                             const std::string& status,
                                                             const std::string& after,
                                                             int limit) override {
    return Read("ListRegistrationTasks",
                [&] { return inner_->ListRegistrationTasks(region, status, after, limit); });
  }

  // --- Jobs ---
  Status CreateJob(const jobs::Job& j, const std::string& arn,
                   const std::vector<jobs::Tag>& tags) override {
    return Write("CreateJob", [&] { return inner_->CreateJob(j, arn, tags); });
  }
  Result<jobs::Job> GetJob(const std::string& region, const std::string& id) override {
    return Read("GetJob", [&] { return inner_->GetJob(region, id); });
  }
  Result<Page<jobs::Job>> ListJobs(const std::string& region, const JobFilter& filter,
                                   const std::string& after, int limit) override {
    return Read("ListJobs", [&] { return inner_->ListJobs(region, filter, after, limit); });
  }
  Status UpdateJob(const jobs::Job& j) override {
    return Write("UpdateJob", [&] { return inner_->UpdateJob(j); });
  }

  // --- Outboxes ---
  Result<std::vector<ThingChange>> ThingChanges(int limit) override {
    return Read("ThingChanges", [&] { return inner_->ThingChanges(limit); });
  }
  Result<std::optional<NotifiedState>> GetNotified(const std::string& region,
                                                   const std::string& thing) override {
    return Read("GetNotified", [&] { return inner_->GetNotified(region, thing); });
  }
  Status AckThingChanges(int64_t up_to, const std::vector<NotifiedState>& states) override {
    return Write("AckThingChanges", [&] { return inner_->AckThingChanges(up_to, states); });
  }
  Result<EventConfigurations> GetEventConfigurations(const std::string& region) override {
    return Read("GetEventConfigurations", [&] { return inner_->GetEventConfigurations(region); });
  }
  Status UpdateEventConfigurations(const std::string& region,
                                   const std::map<std::string, bool>& changes,
                                   Instant now) override {
    return Write("UpdateEventConfigurations",
                 [&] { return inner_->UpdateEventConfigurations(region, changes, now); });
  }
  Result<std::vector<Event>> EventOutbox(int limit) override {
    return Read("EventOutbox", [&] { return inner_->EventOutbox(limit); });
  }
  Status AckEvents(int64_t up_to) override {
    return Write("AckEvents", [&] { return inner_->AckEvents(up_to); });
  }

  // --- Executions ---
  Result<jobs::JobExecution> GetExecution(const std::string& region, const std::string& job_id,
                                          const std::string& thing,
                                          std::optional<int64_t> number) override {
    return Read("GetExecution",
                [&] { return inner_->GetExecution(region, job_id, thing, number); });
  }
  Result<Page<jobs::JobExecution>> ListExecutionsForJob(const std::string& region,
                                                        const std::string& job_id,
                                                        std::optional<jobs::ExecutionStatus> status,
                                                        const std::string& after,
                                                        int limit) override {
    return Read("ListExecutionsForJob",
                [&] { return inner_->ListExecutionsForJob(region, job_id, status, after, limit); });
  }
  Result<Page<jobs::JobExecution>> ListExecutionsForThing(
      const std::string& region, const std::string& thing,
      std::optional<jobs::ExecutionStatus> status, const std::string& job_id,
      const std::string& after, int limit) override {
    return Read("ListExecutionsForThing", [&] {
      return inner_->ListExecutionsForThing(region, thing, status, job_id, after, limit);
    });
  }

 private:
  enum Kind { kRead, kWrite };

  // The fault to inject into this call of `method`, if any (and counts the call against the
  // first matching rule).
  std::optional<Fault> Match(const char* method, Kind kind) {
    std::lock_guard<std::mutex> l(mu_);
    for (auto it = rules_.begin(); it != rules_.end(); ++it) {
      const bool matches = !it->method.empty()              ? it->method == method
                           : it->fault == Fault::kInternal  ? true
                           : it->fault == Fault::kReadError ? kind == kRead
                                                            : kind == kWrite;
      if (!matches) continue;
      if (it->skip > 0) {
        --it->skip;
        return std::nullopt;
      }
      const Fault f = it->fault;
      if (it->count != kForever && --it->count == 0) rules_.erase(it);
      ++injected_;
      return f;
    }
    return std::nullopt;
  }

  template <typename F>
  auto Write(const char* method, F&& forward) -> decltype(forward()) {
    if (auto f = Match(method, kWrite)) return StatusOf(*f);
    return forward();
  }
  template <typename F>
  auto Read(const char* method, F&& forward) -> decltype(forward()) {
    if (auto f = Match(method, kRead)) return StatusOf(*f);
    return forward();
  }

  Store* inner_;
  const std::string path_;
  std::mutex mu_;
  std::deque<Rule> rules_;
  std::atomic<int> injected_{0};
};

}  // namespace iotjobs::store::testing
