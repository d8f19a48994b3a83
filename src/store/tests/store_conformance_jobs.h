// The store conformance suite, second half: the registry (things, groups, memberships) and jobs
// (creation, targets), written once against the Store interface. The rules over them (rollout in
// batches, executions, cancellation, deletion, timers, retries, abort, the change outbox) are
// store_conformance_rules.h's, which reuses this fixture. A backend's test file includes this
// header in exactly one translation unit and instantiates it with a factory for fresh, empty
// stores:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StoreJobsConformanceTest,
//                            ::testing::Values(StoreJobsBackend{"Sqlite", [](bool track) {...}}),
//                            StoreJobsBackendName);
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
#include "store/store.h"

namespace iotjobs::jobs {

// Failure messages show counters by name (found by ADL).
inline void PrintTo(const JobCounters& c, std::ostream* os) {
  *os << "{queued=" << c.queued << " in_progress=" << c.in_progress << " succeeded=" << c.succeeded
      << " failed=" << c.failed << " rejected=" << c.rejected << " canceled=" << c.canceled
      << " removed=" << c.removed << " timed_out=" << c.timed_out << "}";
}

}  // namespace iotjobs::jobs

namespace iotjobs::store::testing {

struct StoreJobsBackend {
  std::string name;
  // Returns a fresh, empty store; `track_thing_changes` turns the ThingChanges outbox on (what
  // SqliteStore::Options::track_thing_changes does). Called at most twice per test.
  std::function<std::unique_ptr<Store>(bool track_thing_changes)> make;
};

inline void PrintTo(const StoreJobsBackend& b, std::ostream* os) { *os << b.name; }

inline std::string StoreJobsBackendName(const ::testing::TestParamInfo<StoreJobsBackend>& info) {
  return info.param.name;
}

class StoreJobsConformanceTest : public ::testing::TestWithParam<StoreJobsBackend> {
 protected:
  static constexpr const char* kRegion = "us-east-1";
  static constexpr const char* kAccount = "123456789012";
  using ES = jobs::ExecutionStatus;

  void SetUp() override {
    store_ = GetParam().make(false);
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override { store_.reset(); }

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
    Status st = (s ? s : store_.get())->CreateThing(t);
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
    Status st = (s ? s : store_.get())->CreateJob(j, jobs::JobArn(kRegion, kAccount, j.id), {});
    ASSERT_TRUE(st.ok()) << j.id << ": " << st.ToString();
  }

  // The internal id of job `id` (0 when it does not exist).
  int64_t Internal(const std::string& id, Store* s = nullptr) {
    int64_t out = 0;
    Status st = (s ? s : store_.get())->View([&](Txn& t) -> Status {
      auto r = t.FindJob(kRegion, id);
      if (!r.ok()) return r.status();
      if (*r) out = (*r)->id;
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    EXPECT_NE(out, 0) << "job " << id << " does not exist";
    return out;
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
  std::unique_ptr<Store> store_;
};

// --- Registry ---
TEST_P(StoreJobsConformanceTest, GroupHierarchyIsAtMostSevenDeep) {
  ASSERT_TRUE(Group("d1").ok());
  for (int d = 2; d <= jobs::kMaxGroupDepth; ++d) {
    Status st = Group("d" + std::to_string(d), "d" + std::to_string(d - 1));
    ASSERT_TRUE(st.ok()) << d << ": " << st.ToString();
  }
  Status deep = Group("d8", "d7");
  EXPECT_EQ(deep.code(), Code::kInvalidRequest) << deep.ToString();
  EXPECT_EQ(store_->GetThingGroup(kRegion, "d8").status().code(), Code::kNotFound);
  auto d7 = store_->GetThingGroup(kRegion, "d7");
  ASSERT_TRUE(d7.ok());
  EXPECT_EQ(d7->root_to_parent, (std::vector<std::string>{"d1", "d2", "d3", "d4", "d5", "d6"}));
  EXPECT_EQ(Group("orphan", "no-such-parent").code(), Code::kNotFound);
  EXPECT_EQ(Group("d3").code(), Code::kConflict);
  // A sibling at depth 7 is still fine.
  EXPECT_TRUE(Group("d7b", "d6").ok());
}

TEST_P(StoreJobsConformanceTest, AThingJoinsAtMostTenGroups) {
  Thing("t");
  for (int i = 0; i < 11; ++i) ASSERT_TRUE(Group("g" + std::to_string(i)).ok());
  for (int i = 0; i < jobs::kMaxGroupsPerThing; ++i) Member("t", "g" + std::to_string(i), t0_);
  Status st = store_->AddThingToGroup(kRegion, "t", "g10", t0_);
  EXPECT_EQ(st.code(), Code::kInvalidRequest) << st.ToString();
  // Re-adding an existing membership at the limit succeeds and changes nothing.
  EXPECT_TRUE(store_->AddThingToGroup(kRegion, "t", "g3", t0_).ok());
  auto groups = store_->ListGroupsForThing(kRegion, "t", "", 100);
  ASSERT_TRUE(groups.ok());
  EXPECT_EQ(groups->items.size(), static_cast<size_t>(jobs::kMaxGroupsPerThing));
  // Leaving one frees a slot.
  ASSERT_TRUE(store_->RemoveThingFromGroup(kRegion, "t", "g0", t0_).ok());
  EXPECT_TRUE(store_->AddThingToGroup(kRegion, "t", "g10", t0_).ok());
  EXPECT_EQ(store_->AddThingToGroup(kRegion, "nope", "g1", t0_).code(), Code::kNotFound);
  EXPECT_EQ(store_->AddThingToGroup(kRegion, "t", "nope", t0_).code(), Code::kNotFound);
  // Removing a non-member succeeds.
  EXPECT_TRUE(store_->RemoveThingFromGroup(kRegion, "t", "g0", t0_).ok());
}

TEST_P(StoreJobsConformanceTest, AThingIsInOneGroupPerHierarchy) {
  Thing("t");
  ASSERT_TRUE(Group("root").ok());
  ASSERT_TRUE(Group("a", "root").ok());
  ASSERT_TRUE(Group("b", "root").ok());
  ASSERT_TRUE(Group("a1", "a").ok());
  ASSERT_TRUE(Group("other").ok());
  Member("t", "a", t0_);
  for (const char* g : {"root", "b", "a1"}) {
    Status st = store_->AddThingToGroup(kRegion, "t", g, t0_);
    EXPECT_EQ(st.code(), Code::kInvalidRequest) << g << ": " << st.ToString();
  }
  Member("t", "other", t0_);  // another hierarchy
  auto groups = store_->ListGroupsForThing(kRegion, "t", "", 100);
  ASSERT_TRUE(groups.ok());
  EXPECT_EQ(groups->items, (std::vector<std::string>{"a", "other"}));
  auto in_root = store_->ListThingsInGroup(kRegion, "root", /*recursive=*/true, "", 100);
  ASSERT_TRUE(in_root.ok());
  EXPECT_EQ(in_root->items, (std::vector<std::string>{"t"}));
  auto direct = store_->ListThingsInGroup(kRegion, "root", /*recursive=*/false, "", 100);
  ASSERT_TRUE(direct.ok());
  EXPECT_TRUE(direct->items.empty());
}

// --- Jobs: creation and rollout ---

TEST_P(StoreJobsConformanceTest, CreateJobChecksTargetsAndIdsAreUnique) {
  Thing("t");
  Status missing = store_->CreateJob(MakeJob("j", {ThingArn("t"), GroupArn("nope")}, t0_),
                                     jobs::JobArn(kRegion, kAccount, "j"), {});
  EXPECT_EQ(missing.code(), Code::kNotFound) << missing.ToString();
  EXPECT_EQ(store_->GetJob(kRegion, "j").status().code(), Code::kNotFound);
  CreateJob(MakeJob("j", {ThingArn("t")}, t0_));
  Status dup = store_->CreateJob(MakeJob("j", {ThingArn("t")}, t0_),
                                 jobs::JobArn(kRegion, kAccount, "j"), {});
  EXPECT_EQ(dup.code(), Code::kAlreadyExists) << dup.ToString();
  jobs::Job got = GetJob("j");
  EXPECT_EQ(got.status, jobs::kJobInProgress);
  EXPECT_EQ(got.targets, (std::vector<std::string>{ThingArn("t")}));
  EXPECT_EQ(got.counters, jobs::JobCounters{});
  EXPECT_FALSE(got.rollout_done);
  EXPECT_EQ(got.notified, 0);
  EXPECT_TRUE(Executions("j").empty()) << "executions come from MaterializeExecutions only";
}

}  // namespace iotjobs::store::testing
