// The rules conformance suite: what service::Applier does over a Store (rollout in batches, the
// device's updates, cancellation and deletion in batches, continuous jobs following membership,
// timers, retries, abort, the change outbox), on every backend. It was the store's rules suite
// (store/tests/store_conformance_rules.h, over the legacy rule operations of store.h); issue 10
// moved the rules to jobs/ and the Applier, and this suite with them: same tests, same
// assertions, only the calls go through the Applier now. A backend's test includes this header
// in exactly one translation unit and instantiates it with a factory for fresh, empty stores:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, RulesConformanceTest,
//                            ::testing::Values(RulesBackend{"Sqlite", [](bool track) {...}}),
//                            RulesBackendName);
//
// Time is passed in: every test drives `now` by hand, nothing sleeps.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "jobs/abort_rules.h"
#include "jobs/job.h"
#include "jobs/registry.h"
#include "service/applier.h"
#include "store/store.h"
#include "store/txn.h"

namespace iotjobs::jobs {

// Failure messages show counters by name (found by ADL).
inline void PrintTo(const JobCounters& c, std::ostream* os) {
  *os << "{queued=" << c.queued << " in_progress=" << c.in_progress << " succeeded=" << c.succeeded
      << " failed=" << c.failed << " rejected=" << c.rejected << " canceled=" << c.canceled
      << " removed=" << c.removed << " timed_out=" << c.timed_out << "}";
}

}  // namespace iotjobs::jobs

namespace iotjobs::service::testing {

using store::Store;

struct RulesBackend {
  std::string name;
  // Returns a fresh, empty store; `track_thing_changes` turns the ThingChanges outbox on (what
  // SqliteStore::Options::track_thing_changes does). Called at most twice per test.
  std::function<std::unique_ptr<Store>(bool track_thing_changes)> make;
};

inline void PrintTo(const RulesBackend& b, std::ostream* os) { *os << b.name; }

inline std::string RulesBackendName(const ::testing::TestParamInfo<RulesBackend>& info) {
  return info.param.name;
}

// The fixture: a store and the Applier over it (registered as its registry observer, so
// membership changes and deleted things cascade into continuous jobs' executions).
class RulesConformanceTest : public ::testing::TestWithParam<RulesBackend> {
 protected:
  static constexpr const char* kRegion = "us-east-1";
  static constexpr const char* kAccount = "123456789012";
  using ES = jobs::ExecutionStatus;

  // A store with its Applier; the store goes first (it points at the Applier, its observer).
  struct Backend {
    std::unique_ptr<Applier> applier;
    std::unique_ptr<Store> store;
    Backend() = default;
    Backend(Backend&&) = default;
    Backend& operator=(Backend&& o) {
      store.reset();
      applier = std::move(o.applier);
      store = std::move(o.store);
      return *this;
    }
    ~Backend() { store.reset(); }
  };
  Backend Open(bool track_thing_changes) {
    Backend b;
    b.store = GetParam().make(track_thing_changes);
    if (b.store) b.applier = std::make_unique<Applier>(b.store.get());
    return b;
  }

  void SetUp() override {
    backend_ = Open(false);
    ASSERT_NE(backend_.store, nullptr);
    store_ = backend_.store.get();
    applier_ = backend_.applier.get();
  }
  void TearDown() override {
    store_ = nullptr;
    applier_ = nullptr;
    backend_ = Backend();
  }

  Instant T(int64_t seconds) const { return t0_ + std::chrono::seconds(seconds); }

  static std::string ThingArn(const std::string& name) {
    return jobs::ThingArn(kRegion, kAccount, name);
  }
  static std::string GroupArn(const std::string& name) {
    return jobs::ThingGroupArn(kRegion, kAccount, name);
  }

  void Thing(const std::string& name, Store* s = nullptr) {
    jobs::Thing t;
    t.region = kRegion;
    t.name = name;
    t.id = "id-" + name;
    Status st = (s ? s : store_)->CreateThing(t);
    ASSERT_TRUE(st.ok()) << name << ": " << st.ToString();
  }
  Status Group(const std::string& name, const std::optional<std::string>& parent = std::nullopt) {
    jobs::ThingGroup g;
    g.region = kRegion;
    g.name = name;
    g.id = "gid-" + name;
    g.parent_name = parent;
    g.created_at = t0_;
    return store_->CreateThingGroup(g, GroupArn(name), {});
  }
  void Member(const std::string& thing, const std::string& group, Instant now) {
    Status st = store_->AddThingToGroup(kRegion, thing, group, now);
    ASSERT_TRUE(st.ok()) << thing << " -> " << group << ": " << st.ToString();
  }

  static jobs::Job MakeJob(const std::string& id, std::vector<std::string> targets, Instant created,
                           const std::string& selection = "SNAPSHOT") {
    jobs::Job j;
    j.region = kRegion;
    j.id = id;
    j.targets = std::move(targets);
    j.target_selection = selection;
    j.document = R"({"op":"noop"})";
    j.created_at = created;
    j.last_updated_at = created;
    return j;
  }
  void CreateJob(const jobs::Job& j, Store* s = nullptr) {
    Status st = (s ? s : store_)->CreateJob(j, jobs::JobArn(kRegion, kAccount, j.id), {});
    ASSERT_TRUE(st.ok()) << j.id << ": " << st.ToString();
  }

  // The internal id of job `id` (0 when there is none).
  int64_t Internal(const std::string& id, Store* s = nullptr) {
    int64_t out = 0;
    Status st = (s ? s : store_)->View([&](store::Txn& txn) -> Status {
      auto r = txn.FindJob(kRegion, id);
      if (!r.ok()) return r.status();
      out = *r ? (*r)->id : 0;
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    EXPECT_NE(out, 0) << "no job " << id;
    return out;
  }

  // The pending work by value (a range-for over *Result would outlive the temporary).
  std::vector<jobs::JobRecord> Work() {
    auto w = applier_->PendingJobWork();
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    return w.ok() ? *w : std::vector<jobs::JobRecord>{};
  }

  // One job's rollout release: how many executions it created (at most `max`).
  Result<int64_t> Materialize(int64_t job, int64_t max, Instant now, Applier* a = nullptr) {
    auto created = (a ? a : applier_)->ReleaseRollouts({{job, max}}, now);
    if (!created.ok()) return created.status();
    if (created->size() != 1) return Status::Internal("ReleaseRollouts: one entry per release");
    return created->front();
  }

  // Materializes in batches of `batch` until a short batch; returns the batch sizes.
  std::vector<int64_t> MaterializeAll(int64_t job, int64_t batch, Instant now,
                                      Applier* a = nullptr) {
    std::vector<int64_t> sizes;
    for (int i = 0; i < 100000; ++i) {
      auto n = Materialize(job, batch, now, a);
      EXPECT_TRUE(n.ok()) << n.status().ToString();
      if (!n.ok()) break;
      EXPECT_LE(*n, batch);
      sizes.push_back(*n);
      if (*n < batch) break;
    }
    return sizes;
  }

  // Runs ProcessJobWork in batches until it reports 0; returns the calls made.
  int ProcessAll(int64_t job, int64_t batch, Instant now) {
    int calls = 0;
    for (; calls < 100000; ++calls) {
      auto n = applier_->ProcessJobWork(job, batch, now);
      EXPECT_TRUE(n.ok()) << n.status().ToString();
      if (!n.ok() || *n == 0) break;
      EXPECT_LE(*n, batch);
    }
    return calls;
  }

  jobs::Job GetJob(const std::string& id) {
    auto j = store_->GetJob(kRegion, id);
    EXPECT_TRUE(j.ok()) << id << ": " << j.status().ToString();
    return j.ok() ? *j : jobs::Job{};
  }

  // Every execution of the job (all numbers), by thing then number.
  std::vector<jobs::JobExecution> Executions(const std::string& job_id) {
    std::vector<jobs::JobExecution> out;
    std::string after;
    for (int pages = 0; pages < 10000; ++pages) {
      auto p = store_->ListExecutionsForJob(kRegion, job_id, std::nullopt, after, 7);
      EXPECT_TRUE(p.ok()) << p.status().ToString();
      if (!p.ok()) break;
      out.insert(out.end(), p->items.begin(), p->items.end());
      if (p->next_after.empty()) break;
      after = p->next_after;
    }
    return out;
  }

  ES StatusOf(const std::string& job_id, const std::string& thing,
              std::optional<int64_t> number = std::nullopt) {
    auto e = store_->GetExecution(kRegion, job_id, thing, number);
    EXPECT_TRUE(e.ok()) << job_id << "/" << thing << ": " << e.status().ToString();
    return e.ok() ? e->status : ES::kQueued;
  }

  Applier::DeviceResult Update(const std::string& thing, const std::string& job_id, ES status,
                               Instant now,
                               std::optional<int64_t> expected_version = std::nullopt) {
    Applier::DeviceUpdate u;
    u.status = status;
    u.expected_version = expected_version;
    return applier_->UpdateExecution(kRegion, thing, job_id, u, now);
  }

  // The counters must always match the latest executions listed.
  void ExpectCountersMatchExecutions(const std::string& job_id) {
    std::map<std::string, const jobs::JobExecution*> latest;
    auto all = Executions(job_id);
    for (const auto& e : all) {
      auto& slot = latest[e.thing_name];
      if (!slot || slot->execution_number < e.execution_number) slot = &e;
    }
    jobs::JobCounters want;
    for (const auto& [thing, e] : latest) want.For(e->status) += 1;
    EXPECT_EQ(GetJob(job_id).counters, want) << "job " << job_id;
  }

  const Instant t0_ = FromEpochMillis(1'800'000'000'000);
  Backend backend_;
  Store* store_ = nullptr;
  Applier* applier_ = nullptr;
};

// --- Rollout ---

// Overlapping targets: a thing target also in a targeted group, a group and its child groups,
// two hierarchies. Every thing gets exactly one execution, in batches that respect `max`.
TEST_P(RulesConformanceTest, MaterializeCreatesOneExecutionPerThingInBatches) {
  std::vector<std::string> names;
  for (int i = 0; i < 25; ++i) {
    names.push_back("t" + std::string(i < 10 ? "0" : "") + std::to_string(i));
    Thing(names.back());
  }
  Thing("outsider");
  ASSERT_TRUE(Group("g").ok());
  ASSERT_TRUE(Group("g-child", "g").ok());
  ASSERT_TRUE(Group("g-grandchild", "g-child").ok());
  ASSERT_TRUE(Group("h").ok());
  ASSERT_TRUE(Group("unrelated").ok());
  for (int i = 0; i < 8; ++i) Member(names[i], "g", t0_);
  for (int i = 8; i < 12; ++i) Member(names[i], "g-child", t0_);
  for (int i = 12; i < 15; ++i) Member(names[i], "g-grandchild", t0_);
  for (int i = 10; i < 24; ++i) Member(names[i], "h", t0_);  // overlaps g's subtree
  Member("outsider", "unrelated", t0_);
  // t03 directly and through g; t24 only directly.
  CreateJob(MakeJob("j", {ThingArn("t03"), GroupArn("g"), GroupArn("h"), ThingArn("t24")}, t0_));
  const int64_t job = Internal("j");
  int64_t total = 0;
  for (int call = 0; call < 100; ++call) {
    jobs::Job before = GetJob("j");
    EXPECT_FALSE(before.rollout_done) << "call " << call;
    auto n = Materialize(job, 4, T(call));
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    ASSERT_LE(*n, 4);
    total += *n;
    jobs::Job after = GetJob("j");
    EXPECT_EQ(after.notified, total);
    EXPECT_EQ(after.counters.queued, total);
    if (*n < 4) break;
  }
  EXPECT_EQ(total, 25);
  jobs::Job j = GetJob("j");
  EXPECT_TRUE(j.rollout_done);
  EXPECT_EQ(j.status, jobs::kJobInProgress);
  EXPECT_EQ(j.counters.queued, 25);
  EXPECT_EQ(j.counters.Total(), 25);
  auto execs = Executions("j");
  std::set<std::string> things;
  for (const auto& e : execs) {
    things.insert(e.thing_name);
    EXPECT_EQ(e.execution_number, 1);
    EXPECT_EQ(e.status, ES::kQueued);
    EXPECT_EQ(e.version_number, 1);
  }
  EXPECT_EQ(execs.size(), 25u);
  EXPECT_EQ(things, std::set<std::string>(names.begin(), names.end()));
  // Rollout work is cleared; more calls create nothing.
  auto work = applier_->PendingJobWork();
  ASSERT_TRUE(work.ok());
  for (const auto& w : *work) EXPECT_FALSE(w.job.id == "j" && w.work.rollout);
  auto again = Materialize(job, 100, T(500));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
  EXPECT_EQ(GetJob("j").notified, 25);
}

// The rollout's pacing history (what jobs/rollout.h paces by) is recorded with the executions:
// one batch per call that created any, batches of one instant merged, a minute kept. (That it
// survives a restart is SchedulerTest.RestartInTheMiddleOfAPacedRolloutKeepsThePace.)
TEST_P(RulesConformanceTest, MaterializeRecordsTheLastMinuteOfRolloutBatches) {
  for (int i = 0; i < 9; ++i) Thing("p" + std::to_string(i));
  ASSERT_TRUE(Group("paced").ok());
  for (int i = 0; i < 9; ++i) Member("p" + std::to_string(i), "paced", t0_);
  CreateJob(MakeJob("paced-job", {GroupArn("paced")}, t0_));
  const int64_t job = Internal("paced-job");
  auto batches = [&](Instant since) {
    auto b = applier_->RolloutBatches(job, since);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    std::vector<std::pair<int64_t, int64_t>> out;  // (seconds after t0, count)
    if (b.ok()) {
      for (const auto& x : *b) out.emplace_back((x.at - t0_) / std::chrono::seconds(1), x.count);
    }
    return out;
  };
  using V = std::vector<std::pair<int64_t, int64_t>>;
  EXPECT_EQ(batches(T(-3600)), V{}) << "nothing created yet";

  ASSERT_EQ(*Materialize(job, 2, T(0)), 2);
  ASSERT_EQ(*Materialize(job, 1, T(10)), 1);
  ASSERT_EQ(*Materialize(job, 2, T(10)), 2);  // same instant: one batch of 3
  EXPECT_EQ(batches(T(-60)), (V{{0, 2}, {10, 3}}));
  EXPECT_EQ(batches(T(0)), (V{{10, 3}})) << "strictly after `since`";
  EXPECT_EQ(batches(T(10)), V{});

  // A minute after the first batch it is forgotten, by the call that records the next one.
  ASSERT_EQ(*Materialize(job, 1, T(60)), 1);
  EXPECT_EQ(batches(T(-3600)), (V{{10, 3}, {60, 1}}));
  // A call that creates nothing records nothing (the rollout is not paced by it).
  ASSERT_EQ(*Materialize(job, 10, T(65)), 3);
  ASSERT_EQ(*Materialize(job, 10, T(66)), 0);
  EXPECT_EQ(batches(T(-3600)), (V{{10, 3}, {60, 1}, {65, 3}}));
  EXPECT_TRUE(GetJob("paced-job").rollout_done);

  auto unknown = applier_->RolloutBatches(job + 1000, T(-3600));
  ASSERT_TRUE(unknown.ok());
  EXPECT_TRUE(unknown->empty());

  // A deleted job's history goes with it.
  ASSERT_TRUE(applier_
                  ->DeleteJob(kRegion, "paced-job", jobs::JobArn(kRegion, kAccount, "paced-job"),
                              true, 10, T(70))
                  .ok());
  ProcessAll(job, 100, T(70));
  EXPECT_EQ(batches(T(-3600)), V{});
}

// One transaction for a tick's releases: each job gets its own count, its own batch record, and
// a job that stopped rolling out (here canceled) creates nothing.
TEST_P(RulesConformanceTest, MaterializeReleasesCreatesForSeveralJobsAtOnce) {
  for (int i = 0; i < 6; ++i) Thing("r" + std::to_string(i));
  CreateJob(MakeJob("ra", {ThingArn("r0"), ThingArn("r1"), ThingArn("r2")}, t0_));
  CreateJob(MakeJob("rb", {ThingArn("r3"), ThingArn("r4")}, t0_));
  CreateJob(MakeJob("rc", {ThingArn("r5")}, t0_));
  const int64_t a = Internal("ra"), b = Internal("rb"), c = Internal("rc");
  ASSERT_TRUE(applier_->CancelJob(kRegion, "rc", false, std::nullopt, std::nullopt, T(0)).ok());
  auto created = applier_->ReleaseRollouts({{a, 2}, {b, 5}, {c, 1}}, T(1));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(*created, (std::vector<int64_t>{2, 2, 0}));
  EXPECT_EQ(GetJob("ra").notified, 2);
  EXPECT_FALSE(GetJob("ra").rollout_done);
  EXPECT_EQ(GetJob("rb").notified, 2);
  EXPECT_TRUE(GetJob("rb").rollout_done) << "fewer than asked: every target is done";
  EXPECT_EQ(GetJob("rc").notified, 0);
  auto batches = applier_->RolloutBatches(a, T(-60));
  ASSERT_TRUE(batches.ok());
  ASSERT_EQ(batches->size(), 1u);
  EXPECT_EQ(ToEpochMillis(batches->front().at), ToEpochMillis(T(1)));
  EXPECT_EQ(batches->front().count, 2);
  EXPECT_TRUE(applier_->RolloutBatches(c, T(-60))->empty());
  created = applier_->ReleaseRollouts({{a, 5}}, T(2));
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(*created, (std::vector<int64_t>{1}));
  EXPECT_EQ(GetJob("ra").counters.queued, 3);
}

TEST_P(RulesConformanceTest, SnapshotJobWithNothingToTargetCompletes) {
  ASSERT_TRUE(Group("empty").ok());
  ASSERT_TRUE(Group("empty-child", "empty").ok());
  CreateJob(MakeJob("j", {GroupArn("empty")}, t0_));
  const int64_t job = Internal("j");
  EXPECT_EQ(MaterializeAll(job, 10, T(1)), (std::vector<int64_t>{0}));
  jobs::Job j = GetJob("j");
  EXPECT_EQ(j.status, jobs::kJobCompleted);
  EXPECT_TRUE(j.rollout_done);
  ASSERT_TRUE(j.completed_at.has_value());
  EXPECT_EQ(ToEpochMillis(*j.completed_at), ToEpochMillis(T(1)));
}

// --- The device's view ---

TEST_P(RulesConformanceTest, UpdateExecutionWalksVersionsAndRefusesConflicts) {
  Thing("t");
  Thing("u");
  CreateJob(MakeJob("j", {ThingArn("t"), ThingArn("u")}, t0_));
  MaterializeAll(Internal("j"), 10, T(0));

  auto r = Update("t", "j", ES::kInProgress, T(1), /*expected_version=*/1);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_TRUE(r.changed);
  ASSERT_TRUE(r.execution.has_value());
  EXPECT_EQ(r.execution->status, ES::kInProgress);
  EXPECT_EQ(r.execution->version_number, 2);
  ASSERT_TRUE(r.execution->started_at.has_value());
  EXPECT_EQ(ToEpochMillis(*r.execution->started_at), ToEpochMillis(T(1)));

  // A stale expectedVersion is refused with the current state, and nothing changes.
  auto stale = Update("t", "j", ES::kSucceeded, T(2), /*expected_version=*/1);
  EXPECT_EQ(stale.status.code(), Code::kVersionConflict) << stale.status.ToString();
  EXPECT_FALSE(stale.changed);
  ASSERT_TRUE(stale.execution.has_value());
  EXPECT_EQ(stale.execution->status, ES::kInProgress);
  EXPECT_EQ(stale.execution->version_number, 2);
  EXPECT_EQ(StatusOf("j", "t"), ES::kInProgress);

  // Statuses only the service sets.
  for (ES s : {ES::kQueued, ES::kCanceled, ES::kTimedOut, ES::kRemoved}) {
    auto bad = Update("t", "j", s, T(2));
    EXPECT_EQ(bad.status.code(), Code::kInvalidRequest) << jobs::ToString(s);
    EXPECT_FALSE(bad.changed);
  }

  auto done = Update("t", "j", ES::kSucceeded, T(3), 2);
  ASSERT_TRUE(done.status.ok()) << done.status.ToString();
  EXPECT_EQ(done.execution->version_number, 3);
  EXPECT_FALSE(done.execution->timeout_at.has_value());

  // Terminal: every further update is refused with the current state.
  for (ES s : {ES::kInProgress, ES::kSucceeded, ES::kFailed, ES::kRejected}) {
    auto late = Update("t", "j", s, T(4));
    EXPECT_EQ(late.status.code(), Code::kInvalidStateTransition) << jobs::ToString(s);
    ASSERT_TRUE(late.execution.has_value());
    EXPECT_EQ(late.execution->status, ES::kSucceeded);
    EXPECT_EQ(late.execution->version_number, 3);
    EXPECT_FALSE(late.changed);
  }
  EXPECT_EQ(Update("nobody", "j", ES::kInProgress, T(4)).status.code(), Code::kNotFound);
  EXPECT_EQ(Update("t", "no-job", ES::kInProgress, T(4)).status.code(), Code::kNotFound);

  jobs::Job j = GetJob("j");
  EXPECT_EQ(j.counters.succeeded, 1);
  EXPECT_EQ(j.counters.queued, 1);
  EXPECT_EQ(j.status, jobs::kJobInProgress);
  // QUEUED straight to REJECTED is a device transition too; the last one completes the job.
  auto rej = Update("u", "j", ES::kRejected, T(5));
  ASSERT_TRUE(rej.status.ok()) << rej.status.ToString();
  j = GetJob("j");
  EXPECT_EQ(j.status, jobs::kJobCompleted);
  EXPECT_EQ(j.counters.rejected, 1);
  ExpectCountersMatchExecutions("j");
}

TEST_P(RulesConformanceTest, StartNextTakesInProgressFirstThenQueuedInQueueOrder) {
  Thing("t");
  for (const char* id : {"a", "b", "c", "early"}) CreateJob(MakeJob(id, {ThingArn("t")}, t0_));
  const int64_t early = Internal("early");
  // Queue order is materialisation order, not creation or id order.
  MaterializeAll(early, 10, T(0));
  MaterializeAll(Internal("b"), 10, T(1));
  MaterializeAll(Internal("c"), 10, T(2));
  MaterializeAll(Internal("a"), 10, T(3));
  // A SCHEDULED job (between maintenance windows) holds nothing pending.
  ASSERT_TRUE(applier_->SetScheduledState(early, jobs::kJobScheduled, false, T(4)).ok());
  EXPECT_EQ(GetJob("early").status, jobs::kJobScheduled);

  auto first = applier_->StartNextExecution(
      kRegion, "t", std::map<std::string, std::string>{{"k", "v"}}, std::nullopt, T(10));
  ASSERT_TRUE(first.status.ok()) << first.status.ToString();
  ASSERT_TRUE(first.execution.has_value());
  EXPECT_TRUE(first.changed);
  EXPECT_EQ(first.execution->job_id, "b");
  EXPECT_EQ(first.execution->status, ES::kInProgress);
  EXPECT_EQ(first.execution->version_number, 2);
  EXPECT_EQ(first.execution->status_details, (std::map<std::string, std::string>{{"k", "v"}}));

  // An IN_PROGRESS head is returned unchanged.
  auto same = applier_->StartNextExecution(kRegion, "t", std::nullopt, std::nullopt, T(11));
  ASSERT_TRUE(same.status.ok());
  ASSERT_TRUE(same.execution.has_value());
  EXPECT_EQ(same.execution->job_id, "b");
  EXPECT_FALSE(same.changed);
  EXPECT_EQ(same.execution->version_number, 2);

  // The job back IN_PROGRESS: its older QUEUED execution still comes after the IN_PROGRESS one.
  ASSERT_TRUE(applier_->SetScheduledState(early, jobs::kJobInProgress, false, T(12)).ok());
  auto pending = applier_->PendingExecutions(kRegion, "t", 10);
  ASSERT_TRUE(pending.ok());
  std::vector<std::string> order;
  for (const auto& e : *pending) order.push_back(e.job_id);
  EXPECT_EQ(order, (std::vector<std::string>{"b", "early", "c", "a"}));
  auto two = applier_->PendingExecutions(kRegion, "t", 2);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->size(), 2u);

  // Finishing the head moves on in queue order.
  ASSERT_TRUE(Update("t", "b", ES::kSucceeded, T(13)).status.ok());
  std::vector<std::string> started;
  for (int i = 0; i < 3; ++i) {
    auto r = applier_->StartNextExecution(kRegion, "t", std::nullopt, std::nullopt, T(20 + i));
    ASSERT_TRUE(r.status.ok());
    ASSERT_TRUE(r.execution.has_value());
    started.push_back(r.execution->job_id);
    ASSERT_TRUE(Update("t", r.execution->job_id, ES::kFailed, T(20 + i)).status.ok());
  }
  EXPECT_EQ(started, (std::vector<std::string>{"early", "c", "a"}));
  auto none = applier_->StartNextExecution(kRegion, "t", std::nullopt, std::nullopt, T(30));
  EXPECT_TRUE(none.status.ok()) << none.status.ToString();
  EXPECT_FALSE(none.execution.has_value());
  EXPECT_FALSE(none.changed);
  EXPECT_EQ(applier_->StartNextExecution(kRegion, "nobody", std::nullopt, std::nullopt, T(30))
                .status.code(),
            Code::kNotFound);
}

// --- Cancellation and deletion, in batches ---

TEST_P(RulesConformanceTest, CancelJobCancelsQueuedInBatchesAndKeepsInProgressUnlessForced) {
  std::vector<std::string> names;
  for (int i = 0; i < 12; ++i) {
    names.push_back("t" + std::string(i < 10 ? "0" : "") + std::to_string(i));
    Thing(names.back());
  }
  ASSERT_TRUE(Group("g").ok());
  for (const auto& n : names) Member(n, "g", t0_);
  CreateJob(MakeJob("j", {GroupArn("g")}, t0_));
  const int64_t job = Internal("j");
  // Part of the fleet only: cancelling must also stop the rollout.
  auto n = Materialize(job, 10, T(1));
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(*n, 10);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Update(names[i], "j", ES::kInProgress, T(2)).status.ok());
  ASSERT_TRUE(Update(names[3], "j", ES::kSucceeded, T(2)).status.ok());

  Status st = applier_->CancelJob(kRegion, "j", false, std::string("R1"), std::string("c1"), T(3));
  ASSERT_TRUE(st.ok()) << st.ToString();
  jobs::Job j = GetJob("j");
  EXPECT_EQ(j.status, jobs::kJobCanceled);
  EXPECT_EQ(j.reason_code, "R1");
  EXPECT_EQ(j.comment, "c1");
  EXPECT_FALSE(j.force_canceled);
  // Nothing is cancelled until the background work runs.
  EXPECT_EQ(j.counters.queued, 6);
  bool found = false;
  for (const auto& w : Work()) {
    if (w.job.id != "j") continue;
    found = true;
    EXPECT_TRUE(w.work.cancel);
    EXPECT_FALSE(w.work.force_cancel);
    EXPECT_FALSE(w.work.rollout);
  }
  EXPECT_TRUE(found);
  auto more = Materialize(job, 10, T(4));
  ASSERT_TRUE(more.ok());
  EXPECT_EQ(*more, 0) << "a cancelled job rolls out no more";

  const int calls = ProcessAll(job, 2, T(5));
  EXPECT_GE(calls, 5) << "10 executions in batches of 2";
  j = GetJob("j");
  EXPECT_EQ(j.counters.queued, 0);
  EXPECT_EQ(j.counters.canceled, 6);
  EXPECT_EQ(j.counters.in_progress, 3);
  EXPECT_EQ(j.counters.succeeded, 1);
  EXPECT_EQ(j.notified, 10);
  ExpectCountersMatchExecutions("j");
  for (const auto& w : Work()) EXPECT_NE(w.job.id, "j") << "work cleared";
  // The IN_PROGRESS ones keep running and may still finish.
  ASSERT_TRUE(Update(names[0], "j", ES::kSucceeded, T(6)).status.ok());
  EXPECT_EQ(Update(names[4], "j", ES::kInProgress, T(6)).status.code(),
            Code::kInvalidStateTransition);
  // Cancelling again without force changes nothing; with force it upgrades.
  ASSERT_TRUE(applier_->CancelJob(kRegion, "j", false, std::string("R2"), std::nullopt, T(7)).ok());
  EXPECT_EQ(GetJob("j").reason_code, "R1");
  ASSERT_TRUE(applier_->CancelJob(kRegion, "j", true, std::nullopt, std::nullopt, T(8)).ok());
  EXPECT_TRUE(GetJob("j").force_canceled);
  ProcessAll(job, 2, T(9));
  j = GetJob("j");
  EXPECT_EQ(j.counters.in_progress, 0);
  EXPECT_EQ(j.counters.canceled, 8);
  EXPECT_EQ(j.counters.succeeded, 2);
  auto forced = store_->GetExecution(kRegion, "j", names[1], std::nullopt);
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ(forced->status, ES::kCanceled);
  EXPECT_TRUE(forced->force_canceled);
  auto plain = store_->GetExecution(kRegion, "j", names[5], std::nullopt);
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->force_canceled);
  ExpectCountersMatchExecutions("j");
  // Things the rollout never reached got nothing.
  EXPECT_EQ(Executions("j").size(), 10u);
  EXPECT_EQ(applier_->CancelJob(kRegion, "nope", false, std::nullopt, std::nullopt, T(9)).code(),
            Code::kNotFound);
}

TEST_P(RulesConformanceTest, DeleteJobPurgesInBatches) {
  for (int i = 0; i < 9; ++i) Thing("t" + std::to_string(i));
  std::vector<std::string> targets;
  for (int i = 0; i < 9; ++i) targets.push_back(ThingArn("t" + std::to_string(i)));
  CreateJob(MakeJob("j", targets, t0_));
  CreateJob(MakeJob("keep", {ThingArn("t0")}, t0_));
  const int64_t job = Internal("j");
  MaterializeAll(job, 100, T(1));
  MaterializeAll(Internal("keep"), 100, T(1));
  ASSERT_TRUE(Update("t0", "j", ES::kInProgress, T(2)).status.ok());

  const std::string arn = jobs::JobArn(kRegion, kAccount, "j");
  Status st = applier_->DeleteJob(kRegion, "j", arn, /*force=*/false, 10, T(3));
  EXPECT_EQ(st.code(), Code::kInvalidStateTransition) << st.ToString();
  EXPECT_EQ(GetJob("j").status, jobs::kJobInProgress);
  st = applier_->DeleteJob(kRegion, "j", arn, /*force=*/true, /*max_deleting=*/0, T(3));
  EXPECT_EQ(st.code(), Code::kLimitExceeded) << st.ToString();
  ASSERT_TRUE(applier_->DeleteJob(kRegion, "j", arn, /*force=*/true, 10, T(3)).ok());
  EXPECT_EQ(GetJob("j").status, jobs::kJobDeletionInProgress);
  EXPECT_EQ(applier_->DeleteJob(kRegion, "j", arn, true, 10, T(4)).code(), Code::kInvalidRequest);
  EXPECT_EQ(applier_->CancelJob(kRegion, "j", true, std::nullopt, std::nullopt, T(4)).code(),
            Code::kInvalidRequest);
  // A job being deleted is gone for devices at once.
  EXPECT_EQ(Update("t1", "j", ES::kInProgress, T(4)).status.code(), Code::kNotFound);
  auto pending = applier_->PendingExecutions(kRegion, "t0", 10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ(pending->front().job_id, "keep");

  const int calls = ProcessAll(job, 2, T(5));
  EXPECT_GE(calls, 5) << "9 executions in batches of 2";
  EXPECT_EQ(store_->GetJob(kRegion, "j").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->ListExecutionsForJob(kRegion, "j", std::nullopt, "", 10).status().code(),
            Code::kNotFound);
  auto left = store_->ListExecutionsForThing(kRegion, "t0", std::nullopt, "", "", 10);
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->items.size(), 1u);
  EXPECT_EQ(left->items[0].job_id, "keep");
  for (const auto& w : Work()) EXPECT_NE(w.job.id, "j");
  // The id is free again.
  CreateJob(MakeJob("j", {ThingArn("t1")}, T(6)));
  EXPECT_EQ(GetJob("j").counters, jobs::JobCounters{});
  EXPECT_EQ(applier_->DeleteJob(kRegion, "nope", arn, true, 10, T(7)).code(), Code::kNotFound);
}

TEST_P(RulesConformanceTest, DeleteThingRemovesItsUnfinishedExecutions) {
  Thing("t");
  Thing("other");
  for (const char* id : {"queued", "running", "done"}) {
    CreateJob(MakeJob(id, {ThingArn("t"), ThingArn("other")}, t0_));
    MaterializeAll(Internal(id), 10, T(1));
  }
  ASSERT_TRUE(Update("t", "running", ES::kInProgress, T(2)).status.ok());
  ASSERT_TRUE(Update("t", "done", ES::kSucceeded, T(2)).status.ok());
  ASSERT_TRUE(Update("other", "done", ES::kSucceeded, T(2)).status.ok());
  ASSERT_EQ(GetJob("done").status, jobs::kJobCompleted);

  EXPECT_EQ(store_->DeleteThing(kRegion, "t", /*expected_version=*/7, T(3)).code(),
            Code::kVersionConflict);
  ASSERT_TRUE(store_->DeleteThing(kRegion, "t", -1, T(3)).ok());
  EXPECT_EQ(store_->GetThing(kRegion, "t").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->DeleteThing(kRegion, "t", -1, T(3)).code(), Code::kNotFound);
  for (const char* id : {"queued", "running"}) {
    jobs::Job j = GetJob(id);
    EXPECT_EQ(j.counters.removed, 1) << id;
    EXPECT_EQ(j.counters.queued + j.counters.in_progress, 1) << id;
    EXPECT_EQ(j.status, jobs::kJobInProgress) << id;
    // The deleted thing's execution is still listed, under its name, as REMOVED.
    bool seen = false;
    for (const auto& e : Executions(id)) {
      if (e.thing_name != "t") continue;
      seen = true;
      EXPECT_EQ(e.status, ES::kRemoved) << id;
      EXPECT_FALSE(e.timeout_at.has_value());
    }
    EXPECT_TRUE(seen) << id;
    ExpectCountersMatchExecutions(id);
  }
  jobs::Job done = GetJob("done");
  EXPECT_EQ(done.counters.succeeded, 2);
  EXPECT_EQ(done.counters.removed, 0);
  // The last thing finishing completes the job.
  ASSERT_TRUE(Update("other", "queued", ES::kSucceeded, T(4)).status.ok());
  EXPECT_EQ(GetJob("queued").status, jobs::kJobCompleted);
}

// --- Continuous jobs follow membership ---

TEST_P(RulesConformanceTest, ContinuousJobFollowsGroupMembership) {
  for (const char* t : {"a", "b", "c"}) Thing(t);
  ASSERT_TRUE(Group("g").ok());
  ASSERT_TRUE(Group("g-child", "g").ok());
  ASSERT_TRUE(Group("h").ok());
  ASSERT_TRUE(Group("elsewhere").ok());
  Member("a", "g", t0_);
  CreateJob(MakeJob("cont", {GroupArn("g"), GroupArn("h")}, t0_, "CONTINUOUS"));
  CreateJob(MakeJob("snap", {GroupArn("g")}, t0_));
  MaterializeAll(Internal("cont"), 10, T(1));
  MaterializeAll(Internal("snap"), 10, T(1));
  ASSERT_EQ(GetJob("cont").counters.queued, 1);
  ASSERT_TRUE(GetJob("cont").rollout_done);
  EXPECT_EQ(GetJob("cont").status, jobs::kJobInProgress) << "a continuous job never completes";

  // Joining a child group of a target: a QUEUED execution at once; the snapshot job ignores it.
  Member("b", "g-child", T(2));
  EXPECT_EQ(StatusOf("cont", "b"), ES::kQueued);
  EXPECT_EQ(GetJob("cont").counters.queued, 2);
  EXPECT_EQ(GetJob("cont").notified, 2);
  EXPECT_EQ(store_->GetExecution(kRegion, "snap", "b", std::nullopt).status().code(),
            Code::kNotFound);
  // Joining an untargeted group: nothing.
  Member("c", "elsewhere", T(2));
  EXPECT_EQ(store_->GetExecution(kRegion, "cont", "c", std::nullopt).status().code(),
            Code::kNotFound);

  // Covered through two targets: leaving one keeps the execution; a second join adds none.
  Member("b", "h", T(3));
  EXPECT_EQ(GetJob("cont").counters.queued, 2);
  ASSERT_TRUE(store_->RemoveThingFromGroup(kRegion, "b", "g-child", T(4)).ok());
  EXPECT_EQ(StatusOf("cont", "b"), ES::kQueued);
  ASSERT_TRUE(store_->RemoveThingFromGroup(kRegion, "b", "h", T(5)).ok());
  EXPECT_EQ(StatusOf("cont", "b"), ES::kRemoved);

  // A finished thing that leaves keeps its outcome; re-joining starts a new execution.
  ASSERT_TRUE(Update("a", "cont", ES::kSucceeded, T(6)).status.ok());
  ASSERT_TRUE(store_->RemoveThingFromGroup(kRegion, "a", "g", T(7)).ok());
  EXPECT_EQ(StatusOf("cont", "a"), ES::kSucceeded);
  Member("a", "g", T(8));
  auto again = store_->GetExecution(kRegion, "cont", "a", std::nullopt);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->execution_number, 2);
  EXPECT_EQ(again->status, ES::kQueued);
  Member("b", "h", T(9));
  auto b2 = store_->GetExecution(kRegion, "cont", "b", std::nullopt);
  ASSERT_TRUE(b2.ok());
  EXPECT_EQ(b2->execution_number, 2);
  EXPECT_EQ(b2->status, ES::kQueued);
  jobs::Job cont = GetJob("cont");
  EXPECT_EQ(cont.counters.queued, 2);
  EXPECT_EQ(cont.counters.removed, 0) << "counters count latest executions only";
  EXPECT_EQ(cont.counters.succeeded, 0);
  ExpectCountersMatchExecutions("cont");
  EXPECT_EQ(GetJob("snap").counters.queued, 1);

  // Once cancelled, membership changes no longer touch it.
  ASSERT_TRUE(applier_->CancelJob(kRegion, "cont", false, std::nullopt, std::nullopt, T(10)).ok());
  Member("c", "h", T(11));
  EXPECT_EQ(store_->GetExecution(kRegion, "cont", "c", std::nullopt).status().code(),
            Code::kNotFound);
}

// --- Timers, retries, abort ---

TEST_P(RulesConformanceTest, TimeOutFiresAtTheDeadlineAndRetriesWithinBudget) {
  Thing("t");
  Thing("u");
  jobs::Job spec = MakeJob("j", {ThingArn("t"), ThingArn("u")}, t0_);
  spec.configs.timeout_config = jobs::TimeoutConfig{int64_t{10}};
  spec.configs.retry_config = jobs::RetryConfig{{{"TIMED_OUT", 1}, {"FAILED", 2}}};
  CreateJob(spec);
  MaterializeAll(Internal("j"), 10, T(0));
  auto none = applier_->NextTimeout();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value()) << "a QUEUED execution has no timer";

  ASSERT_TRUE(Update("t", "j", ES::kInProgress, T(60)).status.ok());
  const Instant deadline = T(60) + std::chrono::minutes(10);
  auto next = applier_->NextTimeout();
  ASSERT_TRUE(next.ok());
  ASSERT_TRUE(next->has_value());
  EXPECT_EQ(ToEpochMillis(**next), ToEpochMillis(deadline));
  auto early = applier_->TimeOutExecutions(deadline - Millis(1), 100);
  ASSERT_TRUE(early.ok());
  EXPECT_EQ(*early, 0);
  EXPECT_EQ(StatusOf("j", "t"), ES::kInProgress);
  auto fired = applier_->TimeOutExecutions(deadline, 100);
  ASSERT_TRUE(fired.ok());
  EXPECT_EQ(*fired, 1);
  EXPECT_EQ(StatusOf("j", "t", 1), ES::kTimedOut);
  // Idempotent.
  EXPECT_EQ(*applier_->TimeOutExecutions(deadline, 100), 0);
  // The retry: execution 2, QUEUED, attempt 1; the timed-out one no longer counts.
  auto retry = store_->GetExecution(kRegion, "j", "t", std::nullopt);
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(retry->execution_number, 2);
  EXPECT_EQ(retry->status, ES::kQueued);
  EXPECT_EQ(retry->retry_attempt, 1);
  jobs::Job j = GetJob("j");
  EXPECT_EQ(j.counters.timed_out, 0);
  EXPECT_EQ(j.counters.queued, 2);
  ExpectCountersMatchExecutions("j");

  // The TIMED_OUT budget (1) is spent: the second time-out stays.
  ASSERT_TRUE(Update("t", "j", ES::kInProgress, T(1000)).status.ok());
  const Instant deadline2 = T(1000) + std::chrono::minutes(10);
  EXPECT_EQ(*applier_->TimeOutExecutions(deadline2 + Millis(5), 100), 1);
  auto last = store_->GetExecution(kRegion, "j", "t", std::nullopt);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->execution_number, 2);
  EXPECT_EQ(last->status, ES::kTimedOut);

  // FAILED has its own budget of 2: three failures, two retries.
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto r = Update("u", "j", ES::kFailed, T(2000 + attempt));
    ASSERT_TRUE(r.status.ok()) << attempt << ": " << r.status.ToString();
  }
  auto u = store_->GetExecution(kRegion, "j", "u", std::nullopt);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->execution_number, 3);
  EXPECT_EQ(u->status, ES::kFailed);
  EXPECT_EQ(u->retry_attempt, 2);
  EXPECT_EQ(Update("u", "j", ES::kFailed, T(2010)).status.code(), Code::kInvalidStateTransition);
  j = GetJob("j");
  EXPECT_EQ(j.counters.timed_out, 1);
  EXPECT_EQ(j.counters.failed, 1);
  EXPECT_EQ(j.counters.Total(), 2);
  EXPECT_EQ(j.status, jobs::kJobCompleted);
  ExpectCountersMatchExecutions("j");
  EXPECT_EQ(Executions("j").size(), 5u);
}

TEST_P(RulesConformanceTest, StepTimerCapsTheDeadline) {
  Thing("t");
  jobs::Job spec = MakeJob("j", {ThingArn("t")}, t0_);
  spec.configs.timeout_config = jobs::TimeoutConfig{int64_t{60}};
  CreateJob(spec);
  MaterializeAll(Internal("j"), 10, T(0));
  auto r = applier_->StartNextExecution(kRegion, "t", std::nullopt, int64_t{2}, T(0));
  ASSERT_TRUE(r.status.ok());
  ASSERT_TRUE(r.execution && r.execution->timeout_at);
  EXPECT_EQ(ToEpochMillis(*r.execution->timeout_at), ToEpochMillis(T(120)));
  EXPECT_EQ(*applier_->TimeOutExecutions(T(120) - Millis(1), 10), 0);
  EXPECT_EQ(*applier_->TimeOutExecutions(T(120), 10), 1);
  EXPECT_EQ(StatusOf("j", "t"), ES::kTimedOut);
  EXPECT_EQ(GetJob("j").status, jobs::kJobCompleted);
  auto next = applier_->NextTimeout();
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->has_value());
}

TEST_P(RulesConformanceTest, FailuresPastTheAbortThresholdCancelTheJob) {
  for (int i = 0; i < 6; ++i) Thing("t" + std::to_string(i));
  std::vector<std::string> targets;
  for (int i = 0; i < 6; ++i) targets.push_back(ThingArn("t" + std::to_string(i)));
  jobs::Job spec = MakeJob("j", targets, t0_);
  spec.configs.abort_config = jobs::AbortConfig{{{"FAILED", "CANCEL", 50.0, 3}}};
  CreateJob(spec);
  const int64_t job = Internal("j");
  MaterializeAll(job, 100, T(0));
  ASSERT_TRUE(Update("t0", "j", ES::kInProgress, T(1)).status.ok());
  ASSERT_TRUE(Update("t1", "j", ES::kFailed, T(1)).status.ok());
  auto second = Update("t2", "j", ES::kFailed, T(2));
  ASSERT_TRUE(second.status.ok());
  EXPECT_FALSE(second.job_aborted);
  EXPECT_EQ(GetJob("j").status, jobs::kJobInProgress) << "2 executed < minNumberOfExecutedThings";
  auto third = Update("t3", "j", ES::kSucceeded, T(3));
  ASSERT_TRUE(third.status.ok());
  EXPECT_TRUE(third.job_aborted) << "the update that met the criteria says so";
  // 2 of 3 executed failed (67% >= 50%): the job aborts as the update commits.
  jobs::Job j = GetJob("j");
  EXPECT_EQ(j.status, jobs::kJobCanceled);
  EXPECT_EQ(j.reason_code, jobs::kAbortReasonCode);
  ASSERT_TRUE(j.comment.has_value());
  EXPECT_FALSE(j.force_canceled);
  ProcessAll(job, 100, T(4));
  j = GetJob("j");
  EXPECT_EQ(j.counters.canceled, 2);  // t4, t5
  EXPECT_EQ(j.counters.in_progress, 1);
  EXPECT_EQ(j.counters.failed, 2);
  EXPECT_EQ(j.counters.succeeded, 1);
  ExpectCountersMatchExecutions("j");
}

TEST_P(RulesConformanceTest, ThingChangesOnlyWhenTracked) {
  // Untracked (the fixture's store): the outbox stays empty whatever happens.
  Thing("t");
  CreateJob(MakeJob("j", {ThingArn("t")}, t0_));
  MaterializeAll(Internal("j"), 10, T(0));
  ASSERT_TRUE(Update("t", "j", ES::kInProgress, T(1)).status.ok());
  auto untracked = store_->ThingChanges(100);
  ASSERT_TRUE(untracked.ok());
  EXPECT_TRUE(untracked->empty());

  Backend tracked = Open(true);
  ASSERT_NE(tracked.store, nullptr);
  Store* s = tracked.store.get();
  Applier* a = tracked.applier.get();
  Thing("a", s);
  Thing("b", s);
  Thing("c", s);
  CreateJob(MakeJob("j", {ThingArn("a"), ThingArn("b")}, t0_), s);
  auto empty = s->ThingChanges(100);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty()) << "creating a job changes no pending list yet";
  MaterializeAll(Internal("j", s), 10, T(0), a);
  auto changes = s->ThingChanges(100);
  ASSERT_TRUE(changes.ok());
  std::set<std::string> things;
  int64_t last_seq = 0;
  for (const auto& c : *changes) {
    EXPECT_EQ(c.region, kRegion);
    EXPECT_GT(c.seq, last_seq) << "oldest first";
    last_seq = c.seq;
    things.insert(c.thing);
  }
  EXPECT_EQ(things, (std::set<std::string>{"a", "b"}));
  auto one = s->ThingChanges(1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->size(), 1u);
  ASSERT_TRUE(s->AckThingChanges(last_seq, {}).ok());
  EXPECT_TRUE(s->ThingChanges(100)->empty());
  Applier::DeviceUpdate u;
  u.status = ES::kInProgress;
  ASSERT_TRUE(a->UpdateExecution(kRegion, "a", "j", u, T(1)).status.ok());
  auto after = s->ThingChanges(100);
  ASSERT_TRUE(after.ok());
  ASSERT_FALSE(after->empty());
  for (const auto& c : *after) {
    EXPECT_EQ(c.thing, "a");
    EXPECT_GT(c.seq, last_seq);
  }
  // A details-only update leaves the pending list's membership alone.
  ASSERT_TRUE(s->AckThingChanges(after->back().seq, {}).ok());
  u.status_details = std::map<std::string, std::string>{{"step", "2"}};
  ASSERT_TRUE(a->UpdateExecution(kRegion, "a", "j", u, T(2)).status.ok());
  EXPECT_TRUE(s->ThingChanges(100)->empty());
}

TEST_P(RulesConformanceTest, DeletedThingsAreNeverNamedInThingChanges) {
  Backend tracked = Open(true);
  ASSERT_NE(tracked.store, nullptr);
  Store* s = tracked.store.get();
  Applier* a = tracked.applier.get();
  Thing("gone", s);
  Thing("stays", s);
  CreateJob(MakeJob("j", {ThingArn("gone"), ThingArn("stays")}, t0_), s);
  MaterializeAll(Internal("j", s), 10, T(0), a);
  ASSERT_TRUE(s->DeleteThing(kRegion, "gone", -1, T(1)).ok());
  auto changes = s->ThingChanges(100);
  ASSERT_TRUE(changes.ok());
  std::set<std::string> named;
  for (const auto& c : *changes) {
    named.insert(c.thing);
    EXPECT_EQ(c.thing.empty(), c.region.empty()) << "seq " << c.seq;
  }
  EXPECT_EQ(named.count("gone"), 0u);
  EXPECT_EQ(named.count("stays"), 1u);
  // Whatever was returned can be acknowledged past.
  ASSERT_FALSE(changes->empty());
  ASSERT_TRUE(s->AckThingChanges(changes->back().seq, {}).ok());
  EXPECT_TRUE(s->ThingChanges(100)->empty());
}

TEST_P(RulesConformanceTest, ThingTargetDeletedBeforeRolloutGetsNoExecution) {
  Thing("gone");
  Thing("stays");
  CreateJob(MakeJob("j", {ThingArn("gone"), ThingArn("stays")}, t0_));
  ASSERT_TRUE(store_->DeleteThing(kRegion, "gone", -1, T(1)).ok());
  EXPECT_EQ(MaterializeAll(Internal("j"), 10, T(2)), (std::vector<int64_t>{1}));
  jobs::Job j = GetJob("j");
  EXPECT_EQ(j.notified, 1);
  EXPECT_TRUE(j.rollout_done);
  EXPECT_EQ(Executions("j").size(), 1u);
  ASSERT_TRUE(Update("stays", "j", ES::kSucceeded, T(3)).status.ok());
  EXPECT_EQ(GetJob("j").status, jobs::kJobCompleted);
}

TEST_P(RulesConformanceTest, AssociateTargetsExtendsAContinuousRollout) {
  for (const char* t : {"a", "b", "c"}) Thing(t);
  ASSERT_TRUE(Group("g").ok());
  Member("a", "g", t0_);
  CreateJob(MakeJob("cont", {GroupArn("g")}, t0_, "CONTINUOUS"));
  CreateJob(MakeJob("snap", {GroupArn("g")}, t0_));
  const int64_t job = Internal("cont");
  MaterializeAll(job, 10, T(1));
  ASSERT_TRUE(GetJob("cont").rollout_done);
  EXPECT_EQ(applier_->AssociateTargets(kRegion, "snap", {ThingArn("b")}, 100, T(2)).code(),
            Code::kInvalidRequest);
  EXPECT_EQ(
      applier_->AssociateTargets(kRegion, "cont", {ThingArn("b"), ThingArn("c")}, 2, T(2)).code(),
      Code::kLimitExceeded);
  EXPECT_EQ(applier_->AssociateTargets(kRegion, "cont", {ThingArn("nope")}, 100, T(2)).code(),
            Code::kNotFound);
  EXPECT_EQ(GetJob("cont").targets.size(), 1u) << "refused calls change nothing";
  // A target already there is not added twice; a thing already covered gets no second execution.
  ASSERT_TRUE(applier_
                  ->AssociateTargets(kRegion, "cont", {GroupArn("g"), ThingArn("a"), ThingArn("b")},
                                     100, T(3))
                  .ok());
  jobs::Job j = GetJob("cont");
  EXPECT_EQ(j.targets, (std::vector<std::string>{GroupArn("g"), ThingArn("a"), ThingArn("b")}));
  EXPECT_FALSE(j.rollout_done);
  EXPECT_EQ(MaterializeAll(job, 10, T(4)), (std::vector<int64_t>{1}));
  j = GetJob("cont");
  EXPECT_TRUE(j.rollout_done);
  EXPECT_EQ(j.notified, 2);
  EXPECT_EQ(j.counters.queued, 2);
  EXPECT_EQ(StatusOf("cont", "b"), ES::kQueued);
  EXPECT_EQ(store_->GetExecution(kRegion, "cont", "a", 2).status().code(), Code::kNotFound);
}

// A thing whose retry was deleted still has its first execution (no longer the latest): it can
// leave and re-join a continuous job's group, and gets a new execution numbered after both.
TEST_P(RulesConformanceTest, RejoinAfterTheLatestExecutionWasDeleted) {
  Thing("t");
  ASSERT_TRUE(Group("g").ok());
  Member("t", "g", t0_);
  jobs::Job spec = MakeJob("cont", {GroupArn("g")}, t0_, "CONTINUOUS");
  spec.configs.retry_config = jobs::RetryConfig{{{"FAILED", 1}}};
  CreateJob(spec);
  MaterializeAll(Internal("cont"), 10, T(1));
  ASSERT_TRUE(Update("t", "cont", ES::kFailed, T(2)).status.ok());
  ASSERT_EQ(store_->GetExecution(kRegion, "cont", "t", std::nullopt)->execution_number, 2);
  ASSERT_TRUE(applier_->DeleteExecution(kRegion, "cont", "t", 2, /*force=*/true, T(3)).ok());
  ASSERT_TRUE(store_->RemoveThingFromGroup(kRegion, "t", "g", T(4)).ok());
  Status st = store_->AddThingToGroup(kRegion, "t", "g", T(5));
  ASSERT_TRUE(st.ok()) << st.ToString();
  auto e = store_->GetExecution(kRegion, "cont", "t", std::nullopt);
  ASSERT_TRUE(e.ok());
  EXPECT_GT(e->execution_number, 1);
  EXPECT_EQ(e->status, ES::kQueued);
  auto first = store_->GetExecution(kRegion, "cont", "t", 1);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->status, ES::kFailed);
}

// A thing created after another was deleted must not inherit its executions, whatever internal
// ids the backend reuses.
TEST_P(RulesConformanceTest, ANewThingDoesNotInheritADeletedThingsExecutions) {
  Thing("old");
  CreateJob(MakeJob("j", {ThingArn("old")}, t0_));
  MaterializeAll(Internal("j"), 10, T(1));
  ASSERT_TRUE(store_->DeleteThing(kRegion, "old", -1, T(2)).ok());
  Thing("new");
  auto mine = store_->ListExecutionsForThing(kRegion, "new", std::nullopt, "", "", 10);
  ASSERT_TRUE(mine.ok());
  EXPECT_TRUE(mine->items.empty()) << "inherited " << mine->items.size() << " execution(s)";
  auto listed = Executions("j");
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].thing_name, "old");
  EXPECT_EQ(listed[0].status, ES::kRemoved);
  EXPECT_EQ(store_->GetExecution(kRegion, "j", "new", std::nullopt).status().code(),
            Code::kNotFound);
  // The new thing can have executions of its own and be deleted in turn.
  CreateJob(MakeJob("k", {ThingArn("new")}, T(3)));
  MaterializeAll(Internal("k"), 10, T(3));
  Status st = store_->DeleteThing(kRegion, "new", -1, T(4));
  EXPECT_TRUE(st.ok()) << st.ToString();
}

// Likewise a group created after a targeted group was deleted is not a target of its jobs.
TEST_P(RulesConformanceTest, ANewGroupIsNotTargetedByADeletedGroupsJobs) {
  Thing("t");
  ASSERT_TRUE(Group("old").ok());
  CreateJob(MakeJob("cont", {GroupArn("old")}, t0_, "CONTINUOUS"));
  MaterializeAll(Internal("cont"), 10, T(1));
  ASSERT_TRUE(store_->DeleteThingGroup(kRegion, "old", GroupArn("old"), -1).ok());
  ASSERT_TRUE(Group("new").ok());
  Member("t", "new", T(2));
  EXPECT_EQ(store_->GetExecution(kRegion, "cont", "t", std::nullopt).status().code(),
            Code::kNotFound);
  Store::JobFilter f;
  f.thing_group = "new";
  auto jobs = store_->ListJobs(kRegion, f, "", 10);
  ASSERT_TRUE(jobs.ok());
  EXPECT_TRUE(jobs->items.empty());
}

}  // namespace iotjobs::service::testing
