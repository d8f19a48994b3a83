// The store conformance suite, third part: store::Txn (store/txn.h), Store::Transact / View and
// the RegistryObserver hook, written once against the interfaces. Every Txn operation is covered:
// results, orders, limits, NotFound / AlreadyExists, names of deleted things, rollback, read-only
// views, visibility within a transaction, the outboxes with and without tracking, and concurrent
// read-modify-write transactions. A backend's test file includes this header in exactly one
// translation unit and instantiates the suite with the factory of store_conformance_jobs.h:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StoreTxnConformanceTest,
//                            ::testing::Values(StoreJobsBackend{"Sqlite", [](bool track) {...}}),
//                            StoreJobsBackendName);
//
// Every test sets a RegistryObserver first (one that does nothing unless the test says so), so
// registry writes have no effect on jobs in any backend. Time is passed in; nothing sleeps.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <latch>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "jobs/job.h"
#include "jobs/records.h"
#include "jobs/registry.h"
#include "store/store.h"
#include "store/tests/store_conformance_jobs.h"
#include "store/txn.h"

namespace iotjobs::store::testing {

// Records the registry's calls and runs what a test asks for in them.
class RecordingObserver : public RegistryObserver {
 public:
  struct Call {
    std::string kind;  // added | removed | deleting
    int64_t thing = 0, group = -1;
    Instant now{};
  };
  // Run inside the call, with the registry write's Txn; its error fails the registry write.
  std::function<Status(Txn&, const Call&)> action;

  Status OnMembershipAdded(Txn& txn, int64_t thing, int64_t group, Instant now) override {
    return Record(txn, {"added", thing, group, now});
  }
  Status OnMembershipRemoved(Txn& txn, int64_t thing, int64_t group, Instant now) override {
    return Record(txn, {"removed", thing, group, now});
  }
  Status OnThingDeleting(Txn& txn, int64_t thing, Instant now) override {
    return Record(txn, {"deleting", thing, -1, now});
  }
  std::vector<Call> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  void clear() {
    std::lock_guard lock(mu_);
    calls_.clear();
  }

 private:
  Status Record(Txn& txn, const Call& c) {
    {
      std::lock_guard lock(mu_);
      calls_.push_back(c);
    }
    return action ? action(txn, c) : Status::Ok();
  }
  std::mutex mu_;
  std::vector<Call> calls_;
};

class StoreTxnConformanceTest : public ::testing::TestWithParam<StoreJobsBackend> {
 protected:
  static constexpr const char* kRegion = "us-east-1";
  static constexpr const char* kOther = "eu-west-1";
  static constexpr const char* kAccount = "123456789012";
  using ES = jobs::ExecutionStatus;

  void SetUp() override { Open(false); }
  void TearDown() override { store_.reset(); }

  // A fresh store (`track`: the outboxes on), with the recording observer set.
  void Open(bool track) {
    store_.reset();
    store_ = GetParam().make(track);
    ASSERT_NE(store_, nullptr);
    store_->SetRegistryObserver(&observer_);
  }

  static Instant Ms(int64_t ms) { return FromEpochMillis(1'800'000'000'000 + ms); }

  static std::string ThingArn(const std::string& name, const std::string& region = kRegion) {
    return jobs::ThingArn(region, kAccount, name);
  }
  static std::string GroupArn(const std::string& name) {
    return jobs::ThingGroupArn(kRegion, kAccount, name);
  }

  void Thing(const std::string& name, const std::string& region = kRegion) {
    jobs::Thing t;
    t.region = region;
    t.name = name;
    t.id = "id-" + name;
    Status st = store_->CreateThing(t);
    ASSERT_TRUE(st.ok()) << name << ": " << st.ToString();
  }
  void Group(const std::string& name, const std::optional<std::string>& parent = std::nullopt) {
    jobs::ThingGroup g;
    g.region = kRegion;
    g.name = name;
    g.id = "gid-" + name;
    g.parent_name = parent;
    g.created_at = Ms(0);
    Status st = store_->CreateThingGroup(g, GroupArn(name), {});
    ASSERT_TRUE(st.ok()) << name << ": " << st.ToString();
  }
  void Member(const std::string& thing, const std::string& group) {
    Status st = store_->AddThingToGroup(kRegion, thing, group, Ms(0));
    ASSERT_TRUE(st.ok()) << thing << " -> " << group << ": " << st.ToString();
  }

  static jobs::Job MakeJob(const std::string& id, std::vector<std::string> targets,
                           const std::string& region = kRegion) {
    jobs::Job j;
    j.region = region;
    j.id = id;
    j.targets = std::move(targets);
    j.document = R"({"op":"noop"})";
    j.created_at = Ms(1000);
    j.last_updated_at = Ms(1000);
    return j;
  }
  static jobs::SchedulingConfig Schedule(std::optional<std::string> start,
                                         std::optional<std::string> end) {
    jobs::SchedulingConfig c;
    c.start_time = std::move(start);
    c.end_time = std::move(end);
    return c;
  }
  // Creates the job; returns its internal id.
  int64_t Job(const jobs::Job& j) {
    Status st = store_->CreateJob(j, jobs::JobArn(j.region, kAccount, j.id), {});
    EXPECT_TRUE(st.ok()) << j.id << ": " << st.ToString();
    return JobId(j.id, j.region);
  }
  int64_t Job(const std::string& id, std::vector<std::string> targets = {}) {
    return Job(MakeJob(id, std::move(targets)));
  }

  // Runs `f` (Txn& -> Result<T>) in a View and returns its value (T{} after a failure).
  template <typename F>
  auto Get(F f) {
    using R = decltype(f(std::declval<Txn&>()));
    using T = std::remove_cvref_t<decltype(std::declval<R&>().value())>;
    std::optional<T> out;
    Status st = store_->View([&](Txn& t) -> Status {
      auto r = f(t);
      if (!r.ok()) return r.status();
      out = std::move(r).value();
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out.value_or(T{});
  }
  void Tx(const std::function<Status(Txn&)>& fn) {
    Status st = store_->Transact(fn);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  int64_t JobId(const std::string& id, const std::string& region = kRegion) {
    auto r = Get([&](Txn& t) { return t.FindJob(region, id); });
    EXPECT_TRUE(r.has_value()) << "job " << id;
    return r ? r->id : 0;
  }
  jobs::JobRecord JobRec(int64_t id) {
    auto r = Get([&](Txn& t) { return t.JobById(id); });
    EXPECT_TRUE(r.has_value()) << "job " << id;
    return r.value_or(jobs::JobRecord{});
  }
  int64_t ThingIdOf(const std::string& name) {
    auto r = Get([&](Txn& t) { return t.ThingId(kRegion, name); });
    EXPECT_TRUE(r.has_value()) << "thing " << name;
    return r.value_or(0);
  }
  // The internal id of a group: the group target of a job "probe-<name>" made for it.
  int64_t GroupIdOf(const std::string& name) {
    const int64_t job = Job("probe-" + name, {GroupArn(name)});
    auto targets = Get([&](Txn& t) { return t.Targets(job); });
    EXPECT_EQ(targets.size(), 1u);
    return targets.empty() || !targets[0].group ? 0 : *targets[0].group;
  }

  // An execution of job `job_id` (internal `job`) on thing `thing` (internal id, name).
  static jobs::ExecutionRecord Rec(int64_t job, const std::string& job_id, int64_t thing,
                                   const std::string& thing_name, int64_t number, ES status,
                                   int64_t queued_ms = 0) {
    jobs::ExecutionRecord r;
    r.job = job;
    r.thing = thing;
    r.e.region = kRegion;
    r.e.job_id = job_id;
    r.e.thing_name = thing_name;
    r.e.execution_number = number;
    r.e.status = status;
    r.e.queued_at = Ms(queued_ms);
    r.e.last_updated_at = Ms(queued_ms);
    return r;
  }
  void Insert(const std::vector<jobs::ExecutionRecord>& rs) {
    Tx([&](Txn& t) -> Status {
      for (const auto& r : rs) IOTJOBS_RETURN_IF_ERROR(t.InsertExecution(r));
      return Status::Ok();
    });
  }
  static std::vector<std::pair<int64_t, int64_t>> Keys(
      const std::vector<jobs::ExecutionRecord>& rs) {
    std::vector<std::pair<int64_t, int64_t>> out;
    for (const auto& r : rs) out.emplace_back(r.thing, r.e.execution_number);
    return out;
  }

  RecordingObserver observer_;
  std::unique_ptr<Store> store_;
};

// --- Jobs ---

TEST_P(StoreTxnConformanceTest, FindJobAndJobByIdReadTheWholeJob) {
  Thing("t1");
  jobs::Job j = MakeJob("j1", {ThingArn("t1")});
  j.description = "desc";
  j.namespace_id = "ns-1";
  j.configs.timeout_config = jobs::TimeoutConfig{int64_t{30}};
  j.configs.retry_config = jobs::RetryConfig{{{"FAILED", 3}}};
  j.configs.abort_config = jobs::AbortConfig{{{"FAILED", "CANCEL", 50, 10}}};
  j.configs.rollout_config = jobs::RolloutConfig{};
  j.configs.rollout_config->maximum_per_minute = 7;
  j.scheduling_config =
      jobs::SchedulingConfig{"2026-10-01T12:00", "2026-10-02T12:00", "STOP_ROLLOUT", std::nullopt};
  j.document_parameters = {{"k", "v"}};
  const int64_t id = Job(j);
  auto stored = store_->GetJob(kRegion, "j1");
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();

  auto found = Get([&](Txn& t) { return t.FindJob(kRegion, "j1"); });
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, id);
  EXPECT_TRUE(found->job == *stored);
  EXPECT_EQ(found->job.namespace_id, "ns-1");
  EXPECT_TRUE(found->job.scheduling_config.has_value());
  // A new job has its rollout to do.
  EXPECT_EQ(found->work, (jobs::JobWork{.rollout = true}));
  auto by_id = Get([&](Txn& t) { return t.JobById(id); });
  ASSERT_TRUE(by_id.has_value());
  EXPECT_TRUE(*by_id == *found);

  EXPECT_FALSE(Get([&](Txn& t) { return t.FindJob(kRegion, "nope"); }).has_value());
  EXPECT_FALSE(Get([&](Txn& t) { return t.FindJob(kOther, "j1"); }).has_value());
  EXPECT_FALSE(Get([&](Txn& t) { return t.JobById(id + 1000); }).has_value());
}

TEST_P(StoreTxnConformanceTest, PutJobStateWritesEverythingButCountersAndNotified) {
  Thing("t1");
  Thing("t2");
  const int64_t id = Job("j1", {ThingArn("t1")});
  jobs::JobRecord before = JobRec(id);
  jobs::JobRecord r = before;
  r.job.status = jobs::kJobCanceled;
  r.job.force_canceled = true;
  r.job.reason_code = "BECAUSE";
  r.job.comment = "a comment";
  r.job.targets.push_back(ThingArn("t2"));
  r.job.last_updated_at = Ms(5000);
  r.job.completed_at = Ms(6000);
  r.job.rollout_done = true;
  r.work = jobs::JobWork{.rollout = false, .cancel = true, .force_cancel = true, .cursor = 42};
  r.job.counters.queued = 99;  // not written by PutJobState
  r.job.notified = 77;
  Tx([&](Txn& t) { return t.PutJobState(r); });

  jobs::JobRecord want = r;
  want.job.counters = before.job.counters;
  want.job.notified = before.job.notified;
  EXPECT_TRUE(JobRec(id) == want);
  auto got = store_->GetJob(kRegion, "j1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->status, jobs::kJobCanceled);
  EXPECT_EQ(got->reason_code, "BECAUSE");
  EXPECT_EQ(got->targets.size(), 2u);
  EXPECT_EQ(got->completed_at, Ms(6000));

  // Every work bit round-trips, and clearing completed_at too.
  r.work = jobs::JobWork{.deletion = true};
  r.job.completed_at.reset();
  r.job.status = jobs::kJobDeletionInProgress;
  Tx([&](Txn& t) { return t.PutJobState(r); });
  EXPECT_EQ(JobRec(id).work, (jobs::JobWork{.deletion = true}));
  EXPECT_FALSE(JobRec(id).job.completed_at.has_value());

  jobs::JobRecord gone = r;
  gone.id = id + 1000;
  EXPECT_EQ(store_->Transact([&](Txn& t) { return t.PutJobState(gone); }).code(), Code::kNotFound);
}

TEST_P(StoreTxnConformanceTest, AddCountersAddsEveryCounterAndNotified) {
  const int64_t id = Job("j1");
  const jobs::JobCounters d{1, 2, 3, 4, 5, 6, 7, 8};
  Tx([&](Txn& t) -> Status {
    IOTJOBS_RETURN_IF_ERROR(t.AddCounters(id, d, 10));
    return t.AddCounters(id, d, 1);
  });
  jobs::JobRecord r = JobRec(id);
  EXPECT_EQ(r.job.counters, (jobs::JobCounters{2, 4, 6, 8, 10, 12, 14, 16}));
  EXPECT_EQ(r.job.notified, 11);
  Tx([&](Txn& t) { return t.AddCounters(id, jobs::JobCounters{-2, -1, 0, 0, 0, 0, 0, -16}, -1); });
  r = JobRec(id);
  EXPECT_EQ(r.job.counters, (jobs::JobCounters{0, 3, 6, 8, 10, 12, 14, 0}));
  EXPECT_EQ(r.job.notified, 10);
  auto got = store_->GetJob(kRegion, "j1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->counters, r.job.counters);
  EXPECT_EQ(store_->Transact([&](Txn& t) { return t.AddCounters(id + 1000, d, 0); }).code(),
            Code::kNotFound);
}

TEST_P(StoreTxnConformanceTest, CountJobsWithStatusCountsEveryRegion) {
  const int64_t a = Job("a");
  Job("b");
  Job(MakeJob("c", {}, kOther));
  jobs::JobRecord r = JobRec(a);
  r.job.status = jobs::kJobDeletionInProgress;
  Tx([&](Txn& t) { return t.PutJobState(r); });
  EXPECT_EQ(Get([](Txn& t) { return t.CountJobsWithStatus(jobs::kJobInProgress); }), 2);
  EXPECT_EQ(Get([](Txn& t) { return t.CountJobsWithStatus(jobs::kJobDeletionInProgress); }), 1);
  EXPECT_EQ(Get([](Txn& t) { return t.CountJobsWithStatus(jobs::kJobCompleted); }), 0);
}

TEST_P(StoreTxnConformanceTest, JobsWithWorkListsJobsWithAnyWorkById) {
  const int64_t a = Job("a");
  const int64_t b = Job(MakeJob("b", {}, kOther));
  const int64_t c = Job("c");
  const int64_t d = Job("d");
  Tx([&](Txn& t) -> Status {
    auto rb = t.JobById(b);
    if (!rb.ok()) return rb.status();
    (*rb)->work = {};
    IOTJOBS_RETURN_IF_ERROR(t.PutJobState(**rb));
    auto rd = t.JobById(d);
    if (!rd.ok()) return rd.status();
    (*rd)->work = jobs::JobWork{.deletion = true};
    return t.PutJobState(**rd);
  });
  auto work = Get([](Txn& t) { return t.JobsWithWork(); });
  std::vector<int64_t> ids;
  for (const auto& r : work) ids.push_back(r.id);
  std::vector<int64_t> want = {a, c, d};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(ids, want);
  ASSERT_EQ(work.size(), 3u);
  EXPECT_TRUE(work.back().id != d || work.back().work == (jobs::JobWork{.deletion = true}));
  EXPECT_TRUE(work.front().job.id == "a" || work.front().job.id == "c");
}

TEST_P(StoreTxnConformanceTest, ScheduledJobsInFiltersByScheduleAndStatus) {
  jobs::Job a = MakeJob("a", {});
  a.status = jobs::kJobScheduled;
  a.scheduling_config = Schedule("2026-10-01T12:00", std::nullopt);
  jobs::Job b = MakeJob("b", {}, kOther);
  b.scheduling_config = Schedule(std::nullopt, "2026-10-01T12:00");
  jobs::Job c = MakeJob("c", {});  // no schedule
  jobs::Job d = MakeJob("d", {});
  d.status = jobs::kJobCompleted;
  d.scheduling_config = Schedule("2026-10-01T12:00", std::nullopt);
  const int64_t ia = Job(a), ib = Job(b);
  Job(c);
  const int64_t id = Job(d);
  auto ids = [&](std::vector<std::string> statuses) {
    std::vector<int64_t> out;
    for (const auto& r : Get([&](Txn& t) { return t.ScheduledJobsIn(statuses); })) {
      out.push_back(r.id);
      EXPECT_TRUE(r.job.scheduling_config.has_value());
    }
    return out;
  };
  std::vector<int64_t> both = {ia, ib};
  std::sort(both.begin(), both.end());
  EXPECT_EQ(ids({jobs::kJobScheduled, jobs::kJobInProgress}), both);
  EXPECT_EQ(ids({jobs::kJobScheduled}), std::vector<int64_t>{ia});
  EXPECT_EQ(ids({jobs::kJobCompleted}), std::vector<int64_t>{id});
  EXPECT_TRUE(ids({}).empty());
}

TEST_P(StoreTxnConformanceTest, PurgeJobDeletesTheJobItsTargetsCursorAndBatches) {
  Thing("t1");
  const int64_t id = Job("j1", {ThingArn("t1")});
  const int64_t kept = Job("j2", {ThingArn("t1")});
  Tx([&](Txn& t) -> Status {
    IOTJOBS_RETURN_IF_ERROR(t.AddRolloutBatch(id, {Ms(10), 3}, Ms(0)));
    return t.AddRolloutBatch(kept, {Ms(10), 3}, Ms(0));
  });
  Tx([&](Txn& t) { return t.PurgeJob(id); });
  EXPECT_FALSE(Get([&](Txn& t) { return t.JobById(id); }).has_value());
  EXPECT_FALSE(Get([&](Txn& t) { return t.FindJob(kRegion, "j1"); }).has_value());
  EXPECT_TRUE(Get([&](Txn& t) { return t.Targets(id); }).empty());
  EXPECT_TRUE(Get([&](Txn& t) { return t.RolloutBatches(id, Ms(0)); }).empty());
  Status st = store_->View([&](Txn& t) { return t.RolloutCursor(id).status(); });
  EXPECT_EQ(st.code(), Code::kNotFound) << st.ToString();
  EXPECT_EQ(store_->GetJob(kRegion, "j1").status().code(), Code::kNotFound);
  // The other job keeps everything.
  EXPECT_EQ(Get([&](Txn& t) { return t.Targets(kept); }).size(), 1u);
  EXPECT_EQ(Get([&](Txn& t) { return t.RolloutBatches(kept, Ms(0)); }).size(), 1u);
  EXPECT_EQ(store_->Transact([&](Txn& t) { return t.PurgeJob(id); }).code(), Code::kNotFound);
}

TEST_P(StoreTxnConformanceTest, DeleteTagsDeletesEveryTagOfOneArn) {
  ASSERT_TRUE(store_->TagResource("arn:a", {{"k1", "v"}, {"k2", "v"}}, 50).ok());
  ASSERT_TRUE(store_->TagResource("arn:b", {{"k1", "v"}}, 50).ok());
  Tx([](Txn& t) { return t.DeleteTags("arn:a"); });
  Tx([](Txn& t) { return t.DeleteTags("arn:none"); });
  auto a = store_->ListTags("arn:a", "", 10);
  auto b = store_->ListTags("arn:b", "", 10);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(a->items.empty());
  EXPECT_EQ(b->items.size(), 1u);
}

// --- Targets and the registry ---

TEST_P(StoreTxnConformanceTest, TargetsKeepTheirOrderAndAddTargetsAppends) {
  Thing("a");
  Thing("b");
  Thing("c");
  Thing("x", kOther);
  Group("g");
  Group("h");
  const int64_t job = Job("j", {ThingArn("b"), GroupArn("g"), ThingArn("a")});
  auto targets = Get([&](Txn& t) { return t.Targets(job); });
  ASSERT_EQ(targets.size(), 3u);
  EXPECT_EQ(targets[0], (jobs::Target{ThingIdOf("b"), std::nullopt}));
  EXPECT_FALSE(targets[1].thing.has_value());
  ASSERT_TRUE(targets[1].group.has_value());
  EXPECT_EQ(targets[2], (jobs::Target{ThingIdOf("a"), std::nullopt}));
  const int64_t g = *targets[1].group;

  Tx([&](Txn& t) { return t.AddTargets(job, kRegion, {GroupArn("h"), ThingArn("c")}, 3); });
  targets = Get([&](Txn& t) { return t.Targets(job); });
  ASSERT_EQ(targets.size(), 5u);
  EXPECT_TRUE(targets[3].group.has_value() && *targets[3].group != g);
  EXPECT_EQ(targets[4], (jobs::Target{ThingIdOf("c"), std::nullopt}));

  // A missing target, one of another region, one of another type: nothing is added.
  Status st = store_->Transact([&](Txn& t) {
    return t.AddTargets(job, kRegion, {ThingArn("a"), ThingArn("nope")}, 5);
  });
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_NE(st.message().find(ThingArn("nope")), std::string::npos) << st.message();
  st = store_->Transact([&](Txn& t) { return t.AddTargets(job, kRegion, {ThingArn("x")}, 5); });
  EXPECT_EQ(st.code(), Code::kNotFound);
  st = store_->Transact([&](Txn& t) {
    return t.AddTargets(job, kRegion, {jobs::JobArn(kRegion, kAccount, "j")}, 5);
  });
  EXPECT_EQ(st.code(), Code::kInvalidRequest);
  EXPECT_EQ(Get([&](Txn& t) { return t.Targets(job); }).size(), 5u);
}

TEST_P(StoreTxnConformanceTest, ThingIdAndThingExists) {
  Thing("a");
  Thing("a", kOther);
  const int64_t a = ThingIdOf("a");
  auto other = Get([](Txn& t) { return t.ThingId(kOther, "a"); });
  ASSERT_TRUE(other.has_value());
  EXPECT_NE(*other, a);
  EXPECT_FALSE(Get([](Txn& t) { return t.ThingId(kRegion, "b"); }).has_value());
  EXPECT_TRUE(Get([&](Txn& t) { return t.ThingExists(a); }));
  ASSERT_TRUE(store_->DeleteThing(kRegion, "a", -1, Ms(0)).ok());
  EXPECT_FALSE(Get([&](Txn& t) { return t.ThingExists(a); }));
  EXPECT_FALSE(Get([](Txn& t) { return t.ThingId(kRegion, "a"); }).has_value());
  EXPECT_TRUE(Get([&](Txn& t) { return t.ThingExists(*other); }));
}

TEST_P(StoreTxnConformanceTest, GroupAndDescendantsListsParentsBeforeChildren) {
  Group("root");
  Group("a", "root");
  Group("b", "root");
  Group("a1", "a");
  Group("a2", "a");
  Group("b1", "b");
  Group("other");
  std::map<std::string, int64_t> id;
  for (const char* n : {"root", "a", "b", "a1", "a2", "b1", "other"}) id[n] = GroupIdOf(n);
  std::map<std::string, std::string> parent = {
      {"a", "root"}, {"b", "root"}, {"a1", "a"}, {"a2", "a"}, {"b1", "b"}};
  auto got = Get([&](Txn& t) { return t.GroupAndDescendants(id["root"]); });
  ASSERT_EQ(got.size(), 6u);
  EXPECT_EQ(got[0], id["root"]);
  auto pos = [&](const std::string& n) {
    return std::find(got.begin(), got.end(), id[n]) - got.begin();
  };
  for (const auto& [child, p] : parent) {
    EXPECT_LT(pos(child), 6) << child;
    EXPECT_LT(pos(p), pos(child)) << p << " before " << child;
  }
  EXPECT_EQ(Get([&](Txn& t) { return t.GroupAndDescendants(id["a1"]); }),
            std::vector<int64_t>{id["a1"]});
  auto a = Get([&](Txn& t) { return t.GroupAndDescendants(id["a"]); });
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0], id["a"]);
}

TEST_P(StoreTxnConformanceTest, GroupMembersPagesThroughDirectMembersAscending) {
  Group("g");
  Group("child", "g");
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) {
    const std::string n = "t" + std::to_string(i);
    Thing(n);
    Member(n, "g");
    ids.push_back(ThingIdOf(n));
  }
  Thing("deep");
  Member("deep", "child");
  std::sort(ids.begin(), ids.end());
  const int64_t g = GroupIdOf("g");
  EXPECT_EQ(Get([&](Txn& t) { return t.GroupMembers(g, 0, 2); }),
            (std::vector<int64_t>{ids[0], ids[1]}));
  EXPECT_EQ(Get([&](Txn& t) { return t.GroupMembers(g, ids[1], 3); }),
            (std::vector<int64_t>{ids[2], ids[3], ids[4]}));
  EXPECT_EQ(Get([&](Txn& t) { return t.GroupMembers(g, ids[4], 3); }), std::vector<int64_t>{});
  EXPECT_EQ(Get([&](Txn& t) { return t.GroupMembers(g, 0, 100); }), ids);
}

TEST_P(StoreTxnConformanceTest, JobsTargetingGroupOrAncestorsAndTargetsCover) {
  Group("root");
  Group("a", "root");
  Group("a1", "a");
  Group("b", "root");
  Group("c");
  Thing("x");
  Thing("y");
  Thing("z");
  Member("y", "a1");
  Member("y", "c");
  Member("z", "b");
  const int64_t ga = GroupIdOf("a"), ga1 = GroupIdOf("a1"), gc = GroupIdOf("c");
  const int64_t groot = GroupIdOf("root"), gb = GroupIdOf("b");
  // probe-<name> jobs target each group; j targets a and x.
  const int64_t j = Job("j", {GroupArn("a"), ThingArn("x")});
  std::vector<int64_t> want = {JobId("probe-root"), JobId("probe-a"), JobId("probe-a1"), j};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(Get([&](Txn& t) { return t.JobsTargetingGroupOrAncestors(ga1); }), want);
  EXPECT_EQ(Get([&](Txn& t) { return t.JobsTargetingGroupOrAncestors(gb); }),
            (std::vector<int64_t>{JobId("probe-root"), JobId("probe-b")}));
  EXPECT_EQ(Get([&](Txn& t) { return t.JobsTargetingGroupOrAncestors(groot); }),
            std::vector<int64_t>{JobId("probe-root")});

  const int64_t x = ThingIdOf("x"), y = ThingIdOf("y"), z = ThingIdOf("z");
  auto cover = [&](int64_t thing, int64_t exclude) {
    return Get([&](Txn& t) { return t.TargetsCover(j, thing, exclude); });
  };
  EXPECT_TRUE(cover(x, -1));    // a thing target
  EXPECT_TRUE(cover(x, ga));    // ... whatever is excluded
  EXPECT_TRUE(cover(y, -1));    // through a1, below target a
  EXPECT_TRUE(cover(y, gc));    // c does not cover it, a1 still does
  EXPECT_FALSE(cover(y, ga1));  // a1 was the only way
  EXPECT_FALSE(cover(z, -1));   // b is not below a
  EXPECT_TRUE(Get([&](Txn& t) { return t.TargetsCover(JobId("probe-root"), z, -1); }));
  EXPECT_FALSE(Get([&](Txn& t) { return t.TargetsCover(JobId("probe-root"), z, gb); }));
}

// --- Executions ---

// A rollout's batch: fresh rows (the shape a backend may insert with one statement) and a batch
// that is not all fresh (row by row) both land whole; a batch meeting an existing key fails and
// its transaction leaves nothing.
TEST_P(StoreTxnConformanceTest, ExecutionsAreInsertedInBatches) {
  std::vector<std::string> names;
  for (int i = 0; i < 40; ++i) {
    names.push_back("t" + std::to_string(100 + i));
    Thing(names.back());
  }
  const int64_t job = Job("j");
  std::vector<jobs::ExecutionRecord> fresh, mixed;
  for (int i = 0; i < 20; ++i) {
    fresh.push_back(Rec(job, "j", ThingIdOf(names[i]), names[i], 1, ES::kQueued, 10));
  }
  for (int i = 20; i < 40; ++i) {
    mixed.push_back(Rec(job, "j", ThingIdOf(names[i]), names[i], 1, ES::kQueued, 10));
  }
  mixed.back().e.status_details = {{"k", "v"}};  // not a fresh row: the batch goes row by row
  mixed.front().e.execution_number = 2;
  ASSERT_TRUE(store_->Transact([&](Txn& x) { return x.InsertExecutions(fresh); }).ok());
  ASSERT_TRUE(store_->Transact([&](Txn& x) { return x.InsertExecutions(mixed); }).ok());
  for (const auto& r : fresh) {
    EXPECT_EQ(Get([&](Txn& x) { return x.Execution(job, r.thing, std::nullopt); }), r);
  }
  for (const auto& r : mixed) {
    EXPECT_EQ(Get([&](Txn& x) { return x.Execution(job, r.thing, std::nullopt); }), r);
  }
  // Thing t100 already has execution 1: the whole batch is refused and undone.
  Thing("late-1");
  Thing("late-2");
  std::vector<jobs::ExecutionRecord> clash = {
      Rec(job, "j", ThingIdOf("late-1"), "late-1", 1, ES::kQueued, 20), fresh.front(),
      Rec(job, "j", ThingIdOf("late-2"), "late-2", 1, ES::kQueued, 20)};
  clash[1].e.queued_at = clash[1].e.last_updated_at = Ms(20);
  Status st = store_->Transact([&](Txn& x) { return x.InsertExecutions(clash); });
  EXPECT_EQ(st.code(), Code::kAlreadyExists) << st.ToString();
  EXPECT_FALSE(Get([&](Txn& x) { return x.HasExecution(job, ThingIdOf("late-1")); }));
  EXPECT_FALSE(Get([&](Txn& x) { return x.HasExecution(job, ThingIdOf("late-2")); }));
  EXPECT_EQ(Get([&](Txn& x) { return x.Execution(job, fresh.front().thing, 1); }), fresh.front());
}

TEST_P(StoreTxnConformanceTest, ExecutionsAreInsertedReadUpdatedAndDeleted) {
  Thing("t");
  Thing("u");
  const int64_t job = Job("j");
  const int64_t t = ThingIdOf("t"), u = ThingIdOf("u");
  jobs::ExecutionRecord one = Rec(job, "j", t, "t", 1, ES::kFailed, 10);
  one.latest = false;
  one.e.started_at = Ms(11);
  one.e.version_number = 3;
  one.e.status_details = {{"k", "v \"quoted\""}, {"n", "1"}};
  jobs::ExecutionRecord two = Rec(job, "j", t, "t", 2, ES::kQueued, 20);
  two.retry_cause = ES::kFailed;
  two.e.retry_attempt = 1;
  Insert({one, two});

  EXPECT_EQ(Get([&](Txn& x) { return x.Execution(job, t, std::nullopt); }), two);
  EXPECT_EQ(Get([&](Txn& x) { return x.Execution(job, t, 1); }), one);
  EXPECT_FALSE(Get([&](Txn& x) { return x.Execution(job, t, 3); }).has_value());
  EXPECT_FALSE(Get([&](Txn& x) { return x.Execution(job, u, std::nullopt); }).has_value());
  EXPECT_EQ(Get([&](Txn& x) { return x.ExecutionsOf(job, t); }),
            (std::vector<jobs::ExecutionRecord>{one, two}));
  EXPECT_TRUE(Get([&](Txn& x) { return x.ExecutionsOf(job, u); }).empty());
  EXPECT_TRUE(Get([&](Txn& x) { return x.HasExecution(job, t); }));
  EXPECT_FALSE(Get([&](Txn& x) { return x.HasExecution(job, u); }));

  Status st = store_->Transact([&](Txn& x) { return x.InsertExecution(two); });
  EXPECT_EQ(st.code(), Code::kAlreadyExists) << st.ToString();

  // Rewritten whole: every field.
  jobs::ExecutionRecord upd = two;
  upd.latest = false;
  upd.retry_cause.reset();
  upd.e.status = ES::kInProgress;
  upd.e.version_number = 5;
  upd.e.force_canceled = true;
  upd.e.started_at = Ms(30);
  upd.e.last_updated_at = Ms(31);
  upd.e.queued_at = Ms(21);
  upd.e.retry_attempt = 4;
  upd.e.in_progress_deadline = Ms(100);
  upd.e.step_deadline = Ms(90);
  upd.e.timeout_at = Ms(90);
  upd.e.status_details = {{"step", "2"}};
  Tx([&](Txn& x) { return x.UpdateExecution(upd); });
  EXPECT_EQ(Get([&](Txn& x) { return x.Execution(job, t, 2); }), upd);
  // ... and back to the optional fields unset.
  Tx([&](Txn& x) { return x.UpdateExecution(two); });
  EXPECT_EQ(Get([&](Txn& x) { return x.Execution(job, t, 2); }), two);

  jobs::ExecutionRecord missing = Rec(job, "j", u, "u", 1, ES::kQueued);
  EXPECT_EQ(store_->Transact([&](Txn& x) { return x.UpdateExecution(missing); }).code(),
            Code::kNotFound);
  Tx([&](Txn& x) { return x.DeleteExecution(job, t, 2); });
  EXPECT_EQ(Get([&](Txn& x) { return x.Execution(job, t, std::nullopt); }), one);
  EXPECT_EQ(store_->Transact([&](Txn& x) { return x.DeleteExecution(job, t, 2); }).code(),
            Code::kNotFound);
  // The store's own reads see the rows the Txn wrote.
  auto listed = store_->ListExecutionsForJob(kRegion, "j", std::nullopt, "", 10);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->items.size(), 1u);
  EXPECT_EQ(listed->items[0], one.e);
}

TEST_P(StoreTxnConformanceTest, LatestOfJobFiltersByStatusAndPagesByThing) {
  const int64_t job = Job("j");
  const int64_t other = Job("k");
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) {
    Thing("t" + std::to_string(i));
    ids.push_back(ThingIdOf("t" + std::to_string(i)));
  }
  std::sort(ids.begin(), ids.end());
  std::map<int64_t, std::string> names;
  for (int i = 0; i < 5; ++i) names[ThingIdOf("t" + std::to_string(i))] = "t" + std::to_string(i);
  std::vector<jobs::ExecutionRecord> rs;
  const ES status[5] = {ES::kQueued, ES::kSucceeded, ES::kInProgress, ES::kQueued, ES::kFailed};
  for (int i = 0; i < 5; ++i) {
    rs.push_back(Rec(job, "j", ids[i], names[ids[i]], 2, status[i]));
    jobs::ExecutionRecord old = Rec(job, "j", ids[i], names[ids[i]], 1, ES::kQueued);
    old.latest = false;  // not the latest: never listed
    rs.push_back(old);
  }
  rs.push_back(Rec(other, "k", ids[0], names[ids[0]], 1, ES::kQueued));
  Insert(rs);
  auto keys = [&](int64_t after, std::vector<ES> s, int64_t limit) {
    return Keys(Get([&](Txn& t) { return t.LatestOfJob(job, after, s, limit); }));
  };
  using K = std::vector<std::pair<int64_t, int64_t>>;
  EXPECT_EQ(keys(0, {}, 100), (K{{ids[0], 2}, {ids[1], 2}, {ids[2], 2}, {ids[3], 2}, {ids[4], 2}}));
  EXPECT_EQ(keys(0, {}, 2), (K{{ids[0], 2}, {ids[1], 2}}));
  EXPECT_EQ(keys(ids[1], {}, 2), (K{{ids[2], 2}, {ids[3], 2}}));
  EXPECT_EQ(keys(0, {ES::kQueued}, 100), (K{{ids[0], 2}, {ids[3], 2}}));
  EXPECT_EQ(keys(0, {ES::kQueued, ES::kInProgress}, 100),
            (K{{ids[0], 2}, {ids[2], 2}, {ids[3], 2}}));
  EXPECT_EQ(keys(ids[0], {ES::kQueued, ES::kInProgress}, 1), (K{{ids[2], 2}}));
  EXPECT_EQ(keys(0, {ES::kCanceled}, 100), K{});
  auto first = Get([&](Txn& t) { return t.LatestOfJob(job, 0, {}, 1); });
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0], rs[0]);
}

TEST_P(StoreTxnConformanceTest, ExecutionsOfJobReturnsWholeThingsInThingAndNumberOrder) {
  const int64_t job = Job("j");
  std::vector<int64_t> ids;
  for (int i = 0; i < 3; ++i) {
    Thing("t" + std::to_string(i));
    ids.push_back(ThingIdOf("t" + std::to_string(i)));
  }
  std::sort(ids.begin(), ids.end());
  std::vector<jobs::ExecutionRecord> rs;
  const int count[3] = {3, 1, 2};
  for (int i = 0; i < 3; ++i) {
    for (int n = count[i]; n >= 1; --n) {  // inserted out of order
      auto r = Rec(job, "j", ids[i], "", n, ES::kFailed);
      r.latest = n == count[i];
      rs.push_back(r);
    }
  }
  Insert(rs);
  using K = std::vector<std::pair<int64_t, int64_t>>;
  auto keys = [&](int64_t after, int64_t limit) {
    return Keys(Get([&](Txn& t) { return t.ExecutionsOfJob(job, after, limit); }));
  };
  EXPECT_EQ(keys(0, 2), (K{{ids[0], 1}, {ids[0], 2}, {ids[0], 3}, {ids[1], 1}}));
  EXPECT_EQ(keys(ids[1], 5), (K{{ids[2], 1}, {ids[2], 2}}));
  EXPECT_EQ(keys(0, 1), (K{{ids[0], 1}, {ids[0], 2}, {ids[0], 3}}));
  EXPECT_EQ(keys(ids[2], 5), K{});
}

TEST_P(StoreTxnConformanceTest, LatestOfThingListsTheThingsLatestExecutionsByJob) {
  Thing("t");
  Thing("u");
  const int64_t t = ThingIdOf("t"), u = ThingIdOf("u");
  const int64_t a = Job("a"), b = Job("b"), c = Job("c");
  auto old = Rec(b, "b", t, "t", 1, ES::kFailed);
  old.latest = false;
  Insert({Rec(c, "c", t, "t", 1, ES::kSucceeded), old, Rec(b, "b", t, "t", 2, ES::kQueued),
          Rec(a, "a", t, "t", 1, ES::kInProgress), Rec(a, "a", u, "u", 1, ES::kQueued)});
  auto got = Get([&](Txn& x) { return x.LatestOfThing(t); });
  std::vector<std::pair<int64_t, int64_t>> jobs_numbers;
  for (const auto& r : got) jobs_numbers.emplace_back(r.job, r.e.execution_number);
  EXPECT_EQ(jobs_numbers, (std::vector<std::pair<int64_t, int64_t>>{{a, 1}, {b, 2}, {c, 1}}));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[1].e.job_id, "b");
  EXPECT_EQ(got[1].e.thing_name, "t");
}

TEST_P(StoreTxnConformanceTest, ThingQueuePutsInProgressFirstThenQueuedInQueueOrder) {
  Thing("t");
  const int64_t t = ThingIdOf("t");
  const int64_t a = Job("a"), b = Job("b"), c = Job("c"), d = Job("d"), e = Job("e");
  jobs::Job sj = MakeJob("s", {});
  sj.status = jobs::kJobScheduled;
  const int64_t s = Job(sj);
  auto old = Rec(e, "e", t, "t", 1, ES::kQueued, 1);
  old.latest = false;  // a retried one: only its latest counts
  Insert({Rec(a, "a", t, "t", 1, ES::kQueued, 300), Rec(b, "b", t, "t", 1, ES::kQueued, 100),
          Rec(c, "c", t, "t", 1, ES::kInProgress, 500), Rec(d, "d", t, "t", 1, ES::kSucceeded, 0),
          old, Rec(e, "e", t, "t", 2, ES::kInProgress, 600),
          Rec(s, "s", t, "t", 1, ES::kQueued, 50)});
  auto order = [&](std::vector<std::string> hidden, int64_t limit) {
    std::vector<std::string> out;
    for (const auto& r : Get([&](Txn& x) { return x.ThingQueue(t, hidden, limit); })) {
      out.push_back(r.e.job_id);
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(order({jobs::kJobScheduled, jobs::kJobDeletionInProgress}, 10),
            (V{"c", "e", "b", "a"}));
  EXPECT_EQ(order({}, 10), (V{"c", "e", "s", "b", "a"}));
  EXPECT_EQ(order({jobs::kJobScheduled}, 3), (V{"c", "e", "b"}));
  EXPECT_EQ(order({jobs::kJobScheduled}, 1), (V{"c"}));
  // Same queued_at: by job, then number.
  Thing("u");
  const int64_t u = ThingIdOf("u");
  Insert({Rec(b, "b", u, "u", 1, ES::kQueued, 100), Rec(a, "a", u, "u", 1, ES::kQueued, 100)});
  auto same = Get([&](Txn& x) { return x.ThingQueue(u, {}, 10); });
  ASSERT_EQ(same.size(), 2u);
  EXPECT_EQ(same[0].job, std::min(a, b));
  EXPECT_EQ(same[0].e.thing_name, "u");
}

TEST_P(StoreTxnConformanceTest, DueTimersListTimersAtOrBeforeNowEarliestFirst) {
  EXPECT_FALSE(Get([](Txn& x) { return x.NextTimer(); }).has_value());
  EXPECT_TRUE(Get([](Txn& x) { return x.DueTimers(Ms(1'000'000), 10); }).empty());
  const int64_t job = Job("j");
  std::vector<jobs::ExecutionRecord> rs;
  const int64_t at[5] = {500, 100, 300, -1, 200};  // -1: no timer
  for (int i = 0; i < 5; ++i) {
    Thing("t" + std::to_string(i));
    // Any status: the store has no status predicate (QUEUED rows with a timer are listed too).
    auto r = Rec(job, "j", ThingIdOf("t" + std::to_string(i)), "t" + std::to_string(i), 1,
                 i % 2 ? ES::kInProgress : ES::kQueued);
    if (at[i] >= 0) r.e.timeout_at = Ms(at[i]);
    rs.push_back(r);
  }
  Insert(rs);
  auto due = [&](int64_t now, int64_t limit) {
    std::vector<int64_t> out;
    for (const auto& r : Get([&](Txn& x) { return x.DueTimers(Ms(now), limit); })) {
      out.push_back(ToEpochMillis(*r.e.timeout_at) - ToEpochMillis(Ms(0)));
    }
    return out;
  };
  EXPECT_EQ(due(300, 10), (std::vector<int64_t>{100, 200, 300}));  // at or before
  EXPECT_EQ(due(299, 10), (std::vector<int64_t>{100, 200}));
  EXPECT_EQ(due(1000, 2), (std::vector<int64_t>{100, 200}));
  EXPECT_EQ(due(1000, 10), (std::vector<int64_t>{100, 200, 300, 500}));
  EXPECT_TRUE(due(99, 10).empty());
  auto first = Get([](Txn& x) { return x.DueTimers(Ms(100), 1); });
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0], rs[1]);
  EXPECT_EQ(Get([](Txn& x) { return x.NextTimer(); }), Ms(100));
  jobs::ExecutionRecord cleared = rs[1];
  cleared.e.timeout_at.reset();
  Tx([&](Txn& x) { return x.UpdateExecution(cleared); });
  EXPECT_EQ(Get([](Txn& x) { return x.NextTimer(); }), Ms(200));
}

// --- Rollout ---

TEST_P(StoreTxnConformanceTest, RolloutCursorStartsEmptyAndRoundTrips) {
  const int64_t job = Job("j");
  EXPECT_EQ(Get([&](Txn& t) { return t.RolloutCursor(job); }), jobs::RolloutCursor{});
  const jobs::RolloutCursor c{2, {7, 5, 9}, 1, 99};
  Tx([&](Txn& t) { return t.PutRolloutCursor(job, c); });
  EXPECT_EQ(Get([&](Txn& t) { return t.RolloutCursor(job); }), c);
  const jobs::RolloutCursor d{3, {}, 0, 0};
  Tx([&](Txn& t) { return t.PutRolloutCursor(job, d); });
  EXPECT_EQ(Get([&](Txn& t) { return t.RolloutCursor(job); }), d);
  Status st = store_->View([&](Txn& t) { return t.RolloutCursor(job + 1000).status(); });
  EXPECT_EQ(st.code(), Code::kNotFound) << st.ToString();
}

TEST_P(StoreTxnConformanceTest, RolloutBatchesMergeOneInstantAndForgetOldOnes) {
  const int64_t job = Job("j");
  const int64_t other = Job("k");
  auto batches = [&](int64_t j, int64_t since) {
    std::vector<std::pair<int64_t, int64_t>> out;
    for (const auto& b : Get([&](Txn& t) { return t.RolloutBatches(j, Ms(since)); })) {
      out.emplace_back(ToEpochMillis(b.at) - ToEpochMillis(Ms(0)), b.count);
    }
    return out;
  };
  using V = std::vector<std::pair<int64_t, int64_t>>;
  Tx([&](Txn& t) -> Status {
    IOTJOBS_RETURN_IF_ERROR(t.AddRolloutBatch(job, {Ms(2000), 3}, Ms(0)));
    IOTJOBS_RETURN_IF_ERROR(t.AddRolloutBatch(job, {Ms(1000), 4}, Ms(0)));
    IOTJOBS_RETURN_IF_ERROR(t.AddRolloutBatch(job, {Ms(2000), 2}, Ms(0)));
    return t.AddRolloutBatch(other, {Ms(1500), 1}, Ms(0));
  });
  EXPECT_EQ(batches(job, 0), (V{{1000, 4}, {2000, 5}}));
  EXPECT_EQ(batches(job, 1000), (V{{2000, 5}}));  // strictly after `since`
  EXPECT_EQ(batches(job, 2000), V{});
  Tx([&](Txn& t) { return t.AddRolloutBatch(job, {Ms(3000), 1}, Ms(1000)); });
  EXPECT_EQ(batches(job, 0), (V{{2000, 5}, {3000, 1}}));
  EXPECT_EQ(batches(other, 0), (V{{1500, 1}}));
}

// --- Outboxes ---

TEST_P(StoreTxnConformanceTest, EventConfigReadsTheRegionsConfiguration) {
  auto none = Get([](Txn& t) { return t.EventConfig(kRegion); });
  EXPECT_FALSE(none.Enabled("JOB"));
  EXPECT_FALSE(none.created_at.has_value());
  ASSERT_TRUE(
      store_->UpdateEventConfigurations(kRegion, {{"JOB", true}, {"THING", false}}, Ms(5)).ok());
  auto c = Get([](Txn& t) { return t.EventConfig(kRegion); });
  EXPECT_TRUE(c.Enabled("JOB"));
  EXPECT_FALSE(c.Enabled("THING"));
  EXPECT_FALSE(c.Enabled("JOB_EXECUTION"));
  EXPECT_EQ(c.created_at, Ms(5));
  EXPECT_EQ(c.updated_at, Ms(5));
  EXPECT_FALSE(Get([](Txn& t) { return t.EventConfig(kOther); }).Enabled("JOB"));
}

TEST_P(StoreTxnConformanceTest, AppendEventAndThingChangeWriteNothingWithoutTracking) {
  Thing("t");
  const int64_t t = ThingIdOf("t");
  Tx([&](Txn& x) -> Status {
    Event e;
    e.region = kRegion;
    e.type = "JOB";
    e.job_id = "j";
    e.operation = "completed";
    IOTJOBS_RETURN_IF_ERROR(x.AppendEvent(e));
    return x.AppendThingChange(t);
  });
  auto events = store_->EventOutbox(10);
  auto changes = store_->ThingChanges(10);
  ASSERT_TRUE(events.ok() && changes.ok());
  EXPECT_TRUE(events->empty());
  EXPECT_TRUE(changes->empty());
}

TEST_P(StoreTxnConformanceTest, AppendEventAndThingChangeFillTheOutboxesWhenTracking) {
  Open(/*track=*/true);
  Thing("t");
  Thing("u");
  const int64_t t = ThingIdOf("t"), u = ThingIdOf("u");
  jobs::Job j = MakeJob("j", {});
  j.description = "d";
  j.completed_at = Ms(3000);
  Event job_event;
  job_event.region = kRegion;
  job_event.type = "JOB";
  job_event.job_id = "j";
  job_event.operation = "completed";
  job_event.job = j;
  job_event.counters = {{"numberOfSucceededThings", 3}, {"numberOfFailedThings", 0}};
  Event exec_event;
  exec_event.region = kRegion;
  exec_event.type = "JOB_EXECUTION";
  exec_event.job_id = "j";
  exec_event.operation = "";
  exec_event.thing = "t";
  exec_event.status = ES::kFailed;
  exec_event.status_details = {{"why", "disk"}};
  Tx([&](Txn& x) -> Status {
    IOTJOBS_RETURN_IF_ERROR(x.AppendThingChange(u));
    IOTJOBS_RETURN_IF_ERROR(x.AppendEvent(job_event));
    IOTJOBS_RETURN_IF_ERROR(x.AppendEvent(exec_event));
    return x.AppendThingChange(t);
  });
  auto events = store_->EventOutbox(10);
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ(events->size(), 2u);
  const Event& a = (*events)[0];
  const Event& b = (*events)[1];
  EXPECT_LT(a.seq, b.seq);
  EXPECT_EQ(a.type, "JOB");
  EXPECT_EQ(a.operation, "completed");
  EXPECT_EQ(a.counters, job_event.counters);
  ASSERT_TRUE(a.job.has_value());
  EXPECT_EQ(a.job->id, "j");
  EXPECT_EQ(a.job->region, kRegion);
  EXPECT_EQ(a.job->description, "d");
  EXPECT_EQ(a.job->target_selection, "SNAPSHOT");
  EXPECT_EQ(a.job->created_at, Ms(1000));
  EXPECT_EQ(a.job->completed_at, Ms(3000));
  EXPECT_EQ(b.type, "JOB_EXECUTION");
  EXPECT_EQ(b.thing, "t");
  EXPECT_EQ(b.status, ES::kFailed);
  EXPECT_EQ(b.status_details, exec_event.status_details);
  EXPECT_FALSE(b.job.has_value());

  auto changes = store_->ThingChanges(10);
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->size(), 2u);
  EXPECT_EQ((*changes)[0].thing, "u");
  EXPECT_EQ((*changes)[1].thing, "t");
  EXPECT_LT((*changes)[0].seq, (*changes)[1].seq);
}

// --- Deleted things, rollback, views, visibility, concurrency ---

TEST_P(StoreTxnConformanceTest, ExecutionsOfADeletedThingKeepItsName) {
  Thing("doomed");
  const int64_t job = Job("j");
  const int64_t t = ThingIdOf("doomed");
  Insert({Rec(job, "j", t, "doomed", 1, ES::kSucceeded)});
  ASSERT_TRUE(store_->DeleteThing(kRegion, "doomed", -1, Ms(0)).ok());
  EXPECT_FALSE(Get([&](Txn& x) { return x.ThingExists(t); }));
  auto e = Get([&](Txn& x) { return x.Execution(job, t, std::nullopt); });
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->e.thing_name, "doomed");
  auto latest = Get([&](Txn& x) { return x.LatestOfJob(job, 0, {}, 10); });
  ASSERT_EQ(latest.size(), 1u);
  EXPECT_EQ(latest[0].e.thing_name, "doomed");
  auto of_job = Get([&](Txn& x) { return x.ExecutionsOfJob(job, 0, 10); });
  ASSERT_EQ(of_job.size(), 1u);
  EXPECT_EQ(of_job[0].e.thing_name, "doomed");
}

TEST_P(StoreTxnConformanceTest, AFunctionReturningAnErrorLeavesNothingBehind) {
  Open(/*track=*/true);
  Thing("t");
  Thing("u");
  Group("g");
  const int64_t job = Job("j", {ThingArn("t")});
  const int64_t t = ThingIdOf("t"), u = ThingIdOf("u");
  Insert({Rec(job, "j", t, "t", 1, ES::kQueued)});
  ASSERT_TRUE(store_->TagResource("arn:x", {{"k", "v"}}, 50).ok());
  const jobs::JobRecord before = JobRec(job);
  auto changes_before = store_->ThingChanges(100);
  auto events_before = store_->EventOutbox(100);
  ASSERT_TRUE(changes_before.ok() && events_before.ok());

  Status st = store_->Transact([&](Txn& x) -> Status {
    auto r = Rec(job, "j", t, "t", 1, ES::kInProgress);
    IOTJOBS_RETURN_IF_ERROR(x.UpdateExecution(r));
    IOTJOBS_RETURN_IF_ERROR(x.InsertExecution(Rec(job, "j", u, "u", 1, ES::kQueued)));
    IOTJOBS_RETURN_IF_ERROR(x.AddCounters(job, jobs::JobCounters{.queued = 5}, 5));
    jobs::JobRecord changed = before;
    changed.job.status = jobs::kJobCanceled;
    changed.work = {};
    IOTJOBS_RETURN_IF_ERROR(x.PutJobState(changed));
    IOTJOBS_RETURN_IF_ERROR(x.PutRolloutCursor(job, {1, {2}, 0, 3}));
    IOTJOBS_RETURN_IF_ERROR(x.AddRolloutBatch(job, {Ms(10), 1}, Ms(0)));
    IOTJOBS_RETURN_IF_ERROR(x.AddTargets(job, kRegion, {GroupArn("g")}, 1));
    IOTJOBS_RETURN_IF_ERROR(x.DeleteTags("arn:x"));
    Event e;
    e.region = kRegion;
    e.type = "JOB";
    e.job_id = "j";
    e.operation = "canceled";
    IOTJOBS_RETURN_IF_ERROR(x.AppendEvent(e));
    IOTJOBS_RETURN_IF_ERROR(x.AppendThingChange(u));
    IOTJOBS_RETURN_IF_ERROR(x.DeleteExecution(job, t, 1));
    return Status::Conflict("changed my mind");
  });
  EXPECT_EQ(st.code(), Code::kConflict);
  EXPECT_EQ(st.message(), "changed my mind");
  EXPECT_EQ(JobRec(job), before);
  EXPECT_EQ(Get([&](Txn& x) { return x.Execution(job, t, std::nullopt); }),
            Rec(job, "j", t, "t", 1, ES::kQueued));
  EXPECT_FALSE(Get([&](Txn& x) { return x.HasExecution(job, u); }));
  EXPECT_EQ(Get([&](Txn& x) { return x.RolloutCursor(job); }), jobs::RolloutCursor{});
  EXPECT_TRUE(Get([&](Txn& x) { return x.RolloutBatches(job, Ms(0)); }).empty());
  EXPECT_EQ(Get([&](Txn& x) { return x.Targets(job); }).size(), 1u);
  auto tags = store_->ListTags("arn:x", "", 10);
  ASSERT_TRUE(tags.ok());
  EXPECT_EQ(tags->items.size(), 1u);
  auto changes = store_->ThingChanges(100);
  auto events = store_->EventOutbox(100);
  ASSERT_TRUE(changes.ok() && events.ok());
  EXPECT_EQ(changes->size(), changes_before->size());
  EXPECT_EQ(events->size(), events_before->size());
}

TEST_P(StoreTxnConformanceTest, AViewRefusesEveryWrite) {
  Thing("t");
  const int64_t job = Job("j");
  const int64_t t = ThingIdOf("t");
  const jobs::JobRecord r = JobRec(job);
  const auto e = Rec(job, "j", t, "t", 1, ES::kQueued);
  std::vector<std::pair<std::string, std::function<Status(Txn&)>>> writes = {
      {"PutJobState", [&](Txn& x) { return x.PutJobState(r); }},
      {"AddCounters",
       [&](Txn& x) { return x.AddCounters(job, jobs::JobCounters{.queued = 1}, 1); }},
      {"PurgeJob", [&](Txn& x) { return x.PurgeJob(job); }},
      {"DeleteTags", [&](Txn& x) { return x.DeleteTags("arn:x"); }},
      {"AddTargets", [&](Txn& x) { return x.AddTargets(job, kRegion, {ThingArn("t")}, 0); }},
      {"InsertExecution", [&](Txn& x) { return x.InsertExecution(e); }},
      {"UpdateExecution", [&](Txn& x) { return x.UpdateExecution(e); }},
      {"DeleteExecution", [&](Txn& x) { return x.DeleteExecution(job, t, 1); }},
      {"PutRolloutCursor",
       [&](Txn& x) {
         return x.PutRolloutCursor(job, {1, {}, 0, 0});
       }},
      {"AddRolloutBatch",
       [&](Txn& x) {
         return x.AddRolloutBatch(job, {Ms(1), 1}, Ms(0));
       }},
      {"AppendEvent", [&](Txn& x) { return x.AppendEvent(Event{}); }},
      {"AppendThingChange", [&](Txn& x) { return x.AppendThingChange(t); }},
  };
  for (const auto& [name, write] : writes) {
    Status st = store_->View([&](Txn& x) { return write(x); });
    EXPECT_EQ(st.code(), Code::kInternal) << name << ": " << st.ToString();
  }
  EXPECT_EQ(JobRec(job), r);
  EXPECT_FALSE(Get([&](Txn& x) { return x.HasExecution(job, t); }));
  EXPECT_EQ(Get([&](Txn& x) { return x.RolloutCursor(job); }), jobs::RolloutCursor{});
  // A View returns the function's own error too.
  EXPECT_EQ(store_->View([](Txn&) { return Status::NotFound("x"); }).code(), Code::kNotFound);
}

TEST_P(StoreTxnConformanceTest, WritesAreVisibleToLaterCallsOfTheSameTransaction) {
  Thing("t");
  Group("g");
  const int64_t job = Job("j");
  const int64_t t = ThingIdOf("t");
  Tx([&](Txn& x) -> Status {
    const auto e = Rec(job, "j", t, "t", 1, ES::kInProgress);
    IOTJOBS_RETURN_IF_ERROR(x.InsertExecution(e));
    auto got = x.Execution(job, t, std::nullopt);
    EXPECT_TRUE(got.ok() && *got == e);
    EXPECT_TRUE(*x.HasExecution(job, t));
    IOTJOBS_RETURN_IF_ERROR(x.AddCounters(job, jobs::JobCounters{.in_progress = 1}, 1));
    auto r = x.JobById(job);
    EXPECT_TRUE(r.ok() && (*r)->job.counters.in_progress == 1 && (*r)->job.notified == 1);
    jobs::JobRecord changed = **r;
    changed.job.status = jobs::kJobCanceled;
    IOTJOBS_RETURN_IF_ERROR(x.PutJobState(changed));
    EXPECT_EQ(*x.CountJobsWithStatus(jobs::kJobCanceled), 1);
    auto found = x.FindJob(kRegion, "j");
    EXPECT_TRUE(found.ok() && (*found)->job.status == jobs::kJobCanceled);
    IOTJOBS_RETURN_IF_ERROR(x.PutRolloutCursor(job, {4, {}, 0, 0}));
    EXPECT_EQ(x.RolloutCursor(job)->target_idx, 4);
    IOTJOBS_RETURN_IF_ERROR(x.AddTargets(job, kRegion, {GroupArn("g")}, 0));
    EXPECT_EQ(x.Targets(job)->size(), 1u);
    IOTJOBS_RETURN_IF_ERROR(x.AddRolloutBatch(job, {Ms(5), 2}, Ms(0)));
    EXPECT_EQ(x.RolloutBatches(job, Ms(0))->size(), 1u);
    IOTJOBS_RETURN_IF_ERROR(x.DeleteExecution(job, t, 1));
    EXPECT_FALSE(*x.HasExecution(job, t));
    return Status::Ok();
  });
  EXPECT_EQ(JobRec(job).job.status, jobs::kJobCanceled);
}

TEST_P(StoreTxnConformanceTest, ConcurrentReadModifyWriteTransactionsLoseNoUpdate) {
  const int64_t job = Job("j");
  constexpr int kThreads = 8, kEach = 200;
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      for (int k = 0; k < kEach; ++k) {
        Status st = store_->Transact([&](Txn& x) -> Status {
          auto r = x.JobById(job);
          if (!r.ok()) return r.status();
          const int64_t before = (*r)->job.counters.succeeded;
          IOTJOBS_RETURN_IF_ERROR(x.AddCounters(job, jobs::JobCounters{.succeeded = 1}, 1));
          auto after = x.JobById(job);
          if (!after.ok()) return after.status();
          if ((*after)->job.counters.succeeded != before + 1) {
            return Status::Internal("AddCounters was not seen by the same transaction");
          }
          // A true read-modify-write: the cursor is read, incremented and written back.
          auto c = x.RolloutCursor(job);
          if (!c.ok()) return c.status();
          jobs::RolloutCursor next = *c;
          next.target_idx += 1;
          next.last_thing = (*after)->job.counters.succeeded;
          return x.PutRolloutCursor(job, next);
        });
        if (!st.ok()) {
          ++failures;
          ADD_FAILURE() << st.ToString();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  const jobs::JobRecord r = JobRec(job);
  EXPECT_EQ(r.job.counters.succeeded, kThreads * kEach);
  EXPECT_EQ(r.job.notified, kThreads * kEach);
  const auto c = Get([&](Txn& x) { return x.RolloutCursor(job); });
  EXPECT_EQ(c.target_idx, kThreads * kEach);
  EXPECT_EQ(c.last_thing, kThreads * kEach);
}

// --- The registry observer ---

TEST_P(StoreTxnConformanceTest, MembershipChangesCallTheObserverInsideTheirTransaction) {
  Thing("t");
  Group("g");
  const int64_t job = Job("j");
  const int64_t t = ThingIdOf("t");
  const int64_t g = GroupIdOf("g");
  observer_.clear();
  // The observer's writes commit with the membership.
  observer_.action = [&](Txn& x, const RecordingObserver::Call& c) -> Status {
    if (c.kind != "added") return Status::Ok();
    return x.InsertExecution(Rec(job, "j", c.thing, "t", 1, ES::kQueued));
  };
  ASSERT_TRUE(store_->AddThingToGroup(kRegion, "t", "g", Ms(7)).ok());
  auto calls = observer_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].kind, "added");
  EXPECT_EQ(calls[0].thing, t);
  EXPECT_EQ(calls[0].group, g);
  EXPECT_EQ(calls[0].now, Ms(7));
  EXPECT_TRUE(Get([&](Txn& x) { return x.HasExecution(job, t); }));
  // Adding an existing membership is no change: no call.
  ASSERT_TRUE(store_->AddThingToGroup(kRegion, "t", "g", Ms(8)).ok());
  EXPECT_EQ(observer_.calls().size(), 1u);

  // A failing observer fails the registry write and undoes it, with its own writes.
  observer_.clear();
  observer_.action = [&](Txn& x, const RecordingObserver::Call&) -> Status {
    IOTJOBS_RETURN_IF_ERROR(x.DeleteExecution(job, t, 1));
    return Status::Unavailable("observer says no");
  };
  Status st = store_->RemoveThingFromGroup(kRegion, "t", "g", Ms(9));
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.ToString();
  ASSERT_EQ(observer_.calls().size(), 1u);
  EXPECT_EQ(observer_.calls()[0].kind, "removed");
  EXPECT_EQ(observer_.calls()[0].group, g);
  EXPECT_TRUE(Get([&](Txn& x) { return x.HasExecution(job, t); }));
  auto groups = store_->ListGroupsForThing(kRegion, "t", "", 10);
  ASSERT_TRUE(groups.ok());
  EXPECT_EQ(groups->items, std::vector<std::string>{"g"});

  observer_.action = nullptr;
  observer_.clear();
  ASSERT_TRUE(store_->RemoveThingFromGroup(kRegion, "t", "g", Ms(10)).ok());
  ASSERT_EQ(observer_.calls().size(), 1u);
  EXPECT_EQ(observer_.calls()[0].kind, "removed");
  // Removing a non-member is no change: no call.
  ASSERT_TRUE(store_->RemoveThingFromGroup(kRegion, "t", "g", Ms(11)).ok());
  EXPECT_EQ(observer_.calls().size(), 1u);

  Group("h");
  observer_.clear();
  observer_.action = [](Txn&, const RecordingObserver::Call&) { return Status::Unavailable("no"); };
  EXPECT_EQ(store_->AddThingToGroup(kRegion, "t", "h", Ms(12)).code(), Code::kUnavailable);
  groups = store_->ListGroupsForThing(kRegion, "t", "", 10);
  ASSERT_TRUE(groups.ok());
  EXPECT_TRUE(groups->items.empty());
}

TEST_P(StoreTxnConformanceTest, DeleteThingCallsTheObserverBeforeTheRowsGo) {
  Thing("t");
  Group("g");
  Member("t", "g");
  const int64_t job = Job("j");
  const int64_t t = ThingIdOf("t");
  const int64_t g = GroupIdOf("g");
  Insert({Rec(job, "j", t, "t", 1, ES::kQueued)});
  observer_.clear();
  bool saw_rows = false;
  observer_.action = [&](Txn& x, const RecordingObserver::Call& c) -> Status {
    auto exists = x.ThingExists(c.thing);
    auto members = x.GroupMembers(g, 0, 10);
    saw_rows = exists.ok() && *exists && members.ok() && *members == std::vector<int64_t>{t};
    return Status::Unavailable("not yet");
  };
  EXPECT_EQ(store_->DeleteThing(kRegion, "t", -1, Ms(3)).code(), Code::kUnavailable);
  EXPECT_TRUE(saw_rows);
  EXPECT_TRUE(store_->GetThing(kRegion, "t").ok());

  // The observer's writes are part of the deletion.
  observer_.clear();
  observer_.action = [&](Txn& x, const RecordingObserver::Call& c) -> Status {
    auto r = Rec(job, "j", c.thing, "t", 1, ES::kRemoved);
    return x.UpdateExecution(r);
  };
  ASSERT_TRUE(store_->DeleteThing(kRegion, "t", -1, Ms(4)).ok());
  auto calls = observer_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].kind, "deleting");
  EXPECT_EQ(calls[0].thing, t);
  EXPECT_EQ(calls[0].now, Ms(4));
  auto e = Get([&](Txn& x) { return x.Execution(job, t, std::nullopt); });
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->e.status, ES::kRemoved);
  EXPECT_EQ(e->e.thing_name, "t");
}

TEST_P(StoreTxnConformanceTest, RegisterThingsUndoesOnlyTheItemWhoseObserverFailed) {
  Group("g");
  const int64_t job = Job("j");
  observer_.clear();
  observer_.action = [&](Txn& x, const RecordingObserver::Call& c) -> Status {
    IOTJOBS_RETURN_IF_ERROR(x.InsertExecution(Rec(job, "j", c.thing, "", 1, ES::kQueued)));
    auto name_is_bad = x.ThingId(kRegion, "bad");
    if (name_is_bad.ok() && *name_is_bad && **name_is_bad == c.thing) {
      return Status::Unavailable("not this one");
    }
    return Status::Ok();
  };
  std::vector<jobs::ThingRegistration> items;
  for (const char* n : {"ok1", "bad", "ok2"}) {
    jobs::ThingRegistration r;
    r.thing.region = kRegion;
    r.thing.name = n;
    r.thing.id = std::string("id-") + n;
    r.groups = {"g"};
    items.push_back(r);
  }
  auto results = store_->RegisterThings(kRegion, items, Ms(1));
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  ASSERT_EQ(results->size(), 3u);
  EXPECT_TRUE((*results)[0].ok());
  EXPECT_EQ((*results)[1].code(), Code::kUnavailable);
  EXPECT_TRUE((*results)[2].ok());
  EXPECT_EQ(observer_.calls().size(), 3u);
  EXPECT_EQ(store_->GetThing(kRegion, "bad").status().code(), Code::kNotFound);
  EXPECT_TRUE(Get([&](Txn& x) { return x.HasExecution(job, ThingIdOf("ok1")); }));
  EXPECT_TRUE(Get([&](Txn& x) { return x.HasExecution(job, ThingIdOf("ok2")); }));
  auto latest = Get([&](Txn& x) { return x.LatestOfJob(job, 0, {}, 10); });
  EXPECT_EQ(latest.size(), 2u);
  auto members = store_->ListThingsInGroup(kRegion, "g", false, "", 10);
  ASSERT_TRUE(members.ok());
  EXPECT_EQ(members->items.size(), 2u);
}

}  // namespace iotjobs::store::testing
