// MemoryStore against the data, more and Txn conformance suites (the rules run on it through
// service::Applier: service/tests/rules_conformance_test.cc), plus what only an in-memory store can
// be asked: that a failed write leaves nothing behind, through its undo log.
#include "store/memory/memory_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "store/tests/store_conformance.h"
#include "store/tests/store_conformance_jobs.h"
#include "store/tests/store_conformance_more.h"
#include "store/tests/store_conformance_txn.h"

namespace iotjobs::store {
namespace {

using testing::StoreBackend;
using testing::StoreConformanceTest;
using testing::StoreJobsBackend;
using testing::StoreJobsConformanceTest;
using testing::StoreMoreConformanceTest;
using testing::StoreTxnConformanceTest;

std::unique_ptr<Store> FreshMemoryStore(bool track_thing_changes) {
  MemoryStore::Options o;
  o.track_thing_changes = track_thing_changes;
  return std::make_unique<MemoryStore>(o);
}

INSTANTIATE_TEST_SUITE_P(Memory, StoreConformanceTest,
                         ::testing::Values(StoreBackend{"Memory",
                                                        [] { return FreshMemoryStore(false); }}),
                         testing::StoreBackendName);

INSTANTIATE_TEST_SUITE_P(Memory, StoreJobsConformanceTest,
                         ::testing::Values(StoreJobsBackend{"Memory", FreshMemoryStore}),
                         testing::StoreJobsBackendName);

INSTANTIATE_TEST_SUITE_P(Memory, StoreMoreConformanceTest,
                         ::testing::Values(StoreBackend{"Memory",
                                                        [] { return FreshMemoryStore(false); }}),
                         testing::StoreBackendName);

INSTANTIATE_TEST_SUITE_P(Memory, StoreTxnConformanceTest,
                         ::testing::Values(StoreJobsBackend{"Memory", FreshMemoryStore}),
                         testing::StoreJobsBackendName);

// --- MemoryStore's own: Txn over the undo log, indexes, the registry observer ---

constexpr const char* kRegion = "us-east-1";
constexpr const char* kAccount = "123456789012";
const Instant kT0 = FromEpochMillis(1'800'000'000'000);

Instant At(int64_t seconds) { return kT0 + std::chrono::seconds(seconds); }

class MemoryStoreTest : public ::testing::Test {
 protected:
  void Thing(const std::string& name) {
    jobs::Thing t;
    t.region = kRegion;
    t.name = name;
    t.id = "id-" + name;
    ASSERT_TRUE(store_.CreateThing(t).ok()) << name;
  }
  void Group(const std::string& name, const std::optional<std::string>& parent = std::nullopt) {
    jobs::ThingGroup g;
    g.region = kRegion;
    g.name = name;
    g.id = "gid-" + name;
    g.parent_name = parent;
    g.created_at = kT0;
    ASSERT_TRUE(store_.CreateThingGroup(g, jobs::ThingGroupArn(kRegion, kAccount, name), {}).ok())
        << name;
  }
  // Creates job `id` over `targets` (thing names) and returns its internal id.
  int64_t Job(const std::string& id, const std::vector<std::string>& things) {
    jobs::Job j;
    j.region = kRegion;
    j.id = id;
    for (const auto& t : things) j.targets.push_back(jobs::ThingArn(kRegion, kAccount, t));
    j.document = "{}";
    j.created_at = kT0;
    Status st = store_.CreateJob(j, jobs::JobArn(kRegion, kAccount, id), {});
    EXPECT_TRUE(st.ok()) << st.ToString();
    int64_t internal = 0;
    EXPECT_TRUE(store_
                    .View([&](Txn& txn) -> Status {
                      auto r = txn.FindJob(kRegion, id);
                      if (!r.ok()) return r.status();
                      internal = (*r)->id;
                      return Status::Ok();
                    })
                    .ok());
    return internal;
  }
  int64_t ThingIdOf(const std::string& name) {
    int64_t id = 0;
    EXPECT_TRUE(store_
                    .View([&](Txn& txn) -> Status {
                      auto r = txn.ThingId(kRegion, name);
                      if (!r.ok()) return r.status();
                      if (!*r) return Status::NotFound(name);
                      id = **r;
                      return Status::Ok();
                    })
                    .ok());
    return id;
  }
  static jobs::ExecutionRecord Exec(int64_t job, int64_t thing, int64_t number,
                                    jobs::ExecutionStatus status, Instant queued) {
    jobs::ExecutionRecord r;
    r.job = job;
    r.thing = thing;
    r.e.execution_number = number;
    r.e.status = status;
    r.e.queued_at = queued;
    r.e.last_updated_at = queued;
    return r;
  }
  Status Insert(const std::vector<jobs::ExecutionRecord>& rows) {
    return store_.Transact([&](Txn& txn) -> Status {
      for (const auto& r : rows) IOTJOBS_RETURN_IF_ERROR(txn.InsertExecution(r));
      return Status::Ok();
    });
  }

  MemoryStore store_{MemoryStore::Options{.track_thing_changes = true}};  // outboxes on
};

// Everything a failing transaction wrote is undone, in every table and index it touched; what
// committed before stays.
TEST_F(MemoryStoreTest, AFailedTransactionLeavesNothingBehind) {
  Thing("a");
  Thing("b");
  const int64_t job = Job("j", {"a", "b"});
  const int64_t a = ThingIdOf("a"), b = ThingIdOf("b");
  auto committed = Exec(job, a, 1, jobs::ExecutionStatus::kInProgress, At(0));
  committed.e.timeout_at = At(100);
  ASSERT_TRUE(Insert({committed}).ok());
  ASSERT_TRUE(store_.UpdateEventConfigurations(kRegion, {{"JOB", true}}, At(0)).ok());

  Status st = store_.Transact([&](Txn& txn) -> Status {
    auto moved = committed;
    moved.e.status = jobs::ExecutionStatus::kSucceeded;
    moved.e.timeout_at.reset();
    moved.latest = false;
    IOTJOBS_RETURN_IF_ERROR(txn.UpdateExecution(moved));
    auto fresh = Exec(job, b, 1, jobs::ExecutionStatus::kQueued, At(1));
    fresh.e.timeout_at = At(5);
    IOTJOBS_RETURN_IF_ERROR(txn.InsertExecution(fresh));
    jobs::JobCounters d;
    d.queued = 1;
    IOTJOBS_RETURN_IF_ERROR(txn.AddCounters(job, d, 1));
    auto r = txn.JobById(job);
    if (!r.ok()) return r.status();
    jobs::JobRecord rec = **r;
    rec.job.status = jobs::kJobCompleted;
    rec.work = {};
    IOTJOBS_RETURN_IF_ERROR(txn.PutJobState(rec));
    IOTJOBS_RETURN_IF_ERROR(txn.PutRolloutCursor(job, jobs::RolloutCursor{2, {7}, 1, 9}));
    IOTJOBS_RETURN_IF_ERROR(txn.AddRolloutBatch(job, {At(1), 3}, At(-60)));
    IOTJOBS_RETURN_IF_ERROR(txn.AppendEvent(Event{}));
    IOTJOBS_RETURN_IF_ERROR(txn.AppendThingChange(b));
    IOTJOBS_RETURN_IF_ERROR(
        txn.AddTargets(job, kRegion, {jobs::ThingArn(kRegion, kAccount, "a")}, 2));
    IOTJOBS_RETURN_IF_ERROR(txn.DeleteExecution(job, a, 1));
    // Visible to the transaction itself.
    auto gone = txn.Execution(job, a, std::nullopt);
    if (!gone.ok() || gone->has_value()) return Status::Internal("own delete not visible");
    return Status::Unavailable("disk full (on purpose)");
  });
  EXPECT_EQ(st.code(), Code::kUnavailable);

  auto e = store_.GetExecution(kRegion, "j", "a", std::nullopt);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->status, jobs::ExecutionStatus::kInProgress);
  EXPECT_EQ(store_.GetExecution(kRegion, "j", "b", std::nullopt).status().code(), Code::kNotFound);
  auto job_after = store_.GetJob(kRegion, "j");
  ASSERT_TRUE(job_after.ok());
  EXPECT_EQ(job_after->status, jobs::kJobInProgress);
  EXPECT_EQ(job_after->counters, jobs::JobCounters{});
  EXPECT_EQ(job_after->notified, 0);
  EXPECT_TRUE(store_.EventOutbox(10)->empty());
  EXPECT_TRUE(store_.ThingChanges(10)->empty());
  ASSERT_TRUE(store_
                  .View([&](Txn& txn) -> Status {
                    EXPECT_EQ(*txn.RolloutCursor(job), jobs::RolloutCursor{});
                    EXPECT_TRUE(txn.RolloutBatches(job, At(-3600))->empty());
                    EXPECT_EQ(txn.Targets(job)->size(), 2u);
                    EXPECT_TRUE((*txn.JobById(job))->work.rollout);
                    // The timer index holds the committed timer only.
                    auto due = txn.DueTimers(At(1000), 10);
                    EXPECT_EQ(due->size(), 1u);
                    EXPECT_EQ(**txn.NextTimer(), At(100));
                    auto queue = txn.ThingQueue(a, {}, 10);
                    EXPECT_EQ(queue->size(), 1u);
                    EXPECT_TRUE(txn.ThingQueue(b, {}, 10)->empty());
                    return Status::Ok();
                  })
                  .ok());
}

// The failure of a store write after partial changes (a tag limit) undoes them too.
TEST_F(MemoryStoreTest, AFailedWriteLeavesNothingBehind) {
  const std::string arn = "arn:aws:iot:us-east-1:123456789012:thing/x";
  ASSERT_TRUE(store_.TagResource(arn, {{"k1", "1"}}, 2).ok());
  EXPECT_EQ(store_.TagResource(arn, {{"k1", "changed"}, {"k2", "2"}, {"k3", "3"}}, 2).code(),
            Code::kLimitExceeded);
  auto tags = store_.ListTags(arn, "", 10);
  ASSERT_TRUE(tags.ok());
  EXPECT_EQ(tags->items, (std::vector<jobs::Tag>{{"k1", "1"}}));
}

TEST_F(MemoryStoreTest, ViewRefusesWrites) {
  Thing("a");
  Status st = store_.View([&](Txn& txn) { return txn.AppendThingChange(1); });
  EXPECT_EQ(st.code(), Code::kInternal) << st.ToString();
  st = store_.View([&](Txn& txn) { return txn.InsertExecution(Exec(1, 1, 1, {}, kT0)); });
  EXPECT_EQ(st.code(), Code::kInternal) << st.ToString();
}

// The thing's queue: latest QUEUED / IN_PROGRESS executions only, IN_PROGRESS first, each by
// (queued_at, job, number), hidden job statuses left out; it follows every rewrite.
TEST_F(MemoryStoreTest, ThingQueueFollowsStatusLatestAndJobStatus) {
  Thing("t");
  const int64_t t = ThingIdOf("t");
  const int64_t j1 = Job("j1", {"t"}), j2 = Job("j2", {"t"}), j3 = Job("j3", {"t"});
  auto old = Exec(j1, t, 1, jobs::ExecutionStatus::kFailed, At(0));
  old.latest = false;
  ASSERT_TRUE(Insert({old, Exec(j1, t, 2, jobs::ExecutionStatus::kQueued, At(30)),
                      Exec(j2, t, 1, jobs::ExecutionStatus::kQueued, At(10)),
                      Exec(j3, t, 1, jobs::ExecutionStatus::kInProgress, At(20))})
                  .ok());
  auto queue = [&](std::vector<std::string> hidden, int64_t limit = 10) {
    std::vector<std::pair<int64_t, int64_t>> out;
    EXPECT_TRUE(store_
                    .View([&](Txn& txn) -> Status {
                      auto q = txn.ThingQueue(t, hidden, limit);
                      if (!q.ok()) return q.status();
                      for (const auto& r : *q) out.emplace_back(r.job, r.e.execution_number);
                      return Status::Ok();
                    })
                    .ok());
    return out;
  };
  using V = std::vector<std::pair<int64_t, int64_t>>;
  EXPECT_EQ(queue({}), (V{{j3, 1}, {j2, 1}, {j1, 2}}));
  EXPECT_EQ(queue({}, 2), (V{{j3, 1}, {j2, 1}}));
  ASSERT_TRUE(store_
                  .Transact([&](Txn& txn) -> Status {
                    auto r = txn.JobById(j2);
                    jobs::JobRecord rec = **r;
                    rec.job.status = jobs::kJobScheduled;
                    return txn.PutJobState(rec);
                  })
                  .ok());
  EXPECT_EQ(queue({jobs::kJobScheduled}), (V{{j3, 1}, {j1, 2}}));
  auto done = Exec(j3, t, 1, jobs::ExecutionStatus::kSucceeded, At(20));
  ASSERT_TRUE(store_.Transact([&](Txn& txn) { return txn.UpdateExecution(done); }).ok());
  EXPECT_EQ(queue({}), (V{{j2, 1}, {j1, 2}}));
}

// Reads fill the names; a deleted thing's executions keep its name, and its id is never reused.
TEST_F(MemoryStoreTest, DeletedThingsKeepTheirNameAndIdsAreNeverReused) {
  Thing("gone");
  const int64_t gone = ThingIdOf("gone");
  const int64_t job = Job("j", {"gone"});
  ASSERT_TRUE(Insert({Exec(job, gone, 1, jobs::ExecutionStatus::kQueued, At(0))}).ok());
  ASSERT_TRUE(store_.DeleteThing(kRegion, "gone", -1, At(1)).ok());
  Thing("gone");
  EXPECT_GT(ThingIdOf("gone"), gone);
  auto listed = store_.ListExecutionsForJob(kRegion, "j", std::nullopt, "", 10);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->items.size(), 1u);
  EXPECT_EQ(listed->items[0].thing_name, "gone");
  EXPECT_EQ(listed->items[0].job_id, "j");
  EXPECT_EQ(listed->items[0].region, kRegion);
  // The new "gone" has none of them.
  EXPECT_EQ(store_.GetExecution(kRegion, "j", "gone", std::nullopt).status().code(),
            Code::kNotFound);
  EXPECT_TRUE(
      store_.ListExecutionsForThing(kRegion, "gone", std::nullopt, "", "", 10)->items.empty());
}

// Pages of executions: by (thing, number) for a job, by (job, number) newest first for a thing.
TEST_F(MemoryStoreTest, ExecutionListsPageWithoutGapsOrDuplicates) {
  std::vector<std::string> names;
  for (int i = 0; i < 5; ++i) {
    names.push_back("t" + std::to_string(i));
    Thing(names.back());
  }
  const int64_t j1 = Job("j1", names), j2 = Job("j2", names);
  std::vector<jobs::ExecutionRecord> rows;
  for (const auto& n : names) {
    const int64_t t = ThingIdOf(n);
    auto first = Exec(j1, t, 1, jobs::ExecutionStatus::kFailed, At(0));
    first.latest = false;
    rows.push_back(first);
    rows.push_back(Exec(j1, t, 2, jobs::ExecutionStatus::kQueued, At(1)));
    rows.push_back(Exec(j2, t, 1, jobs::ExecutionStatus::kQueued, At(2)));
  }
  ASSERT_TRUE(Insert(rows).ok());
  std::vector<std::string> seen;
  std::string after;
  for (int pages = 0; pages < 100; ++pages) {
    auto p = store_.ListExecutionsForJob(kRegion, "j1", std::nullopt, after, 3);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    for (const auto& e : p->items) {
      seen.push_back(e.thing_name + "#" + std::to_string(e.execution_number));
    }
    if (p->next_after.empty()) break;
    after = p->next_after;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"t0#1", "t0#2", "t1#1", "t1#2", "t2#1", "t2#2", "t3#1",
                                            "t3#2", "t4#1", "t4#2"}));
  auto failed = store_.ListExecutionsForJob(kRegion, "j1", jobs::ExecutionStatus::kFailed, "", 100);
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->items.size(), 5u);
  seen.clear();
  after.clear();
  for (int pages = 0; pages < 100; ++pages) {
    auto p = store_.ListExecutionsForThing(kRegion, "t3", std::nullopt, "", after, 2);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    for (const auto& e : p->items)
      seen.push_back(e.job_id + "#" + std::to_string(e.execution_number));
    if (p->next_after.empty()) break;
    after = p->next_after;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"j2#1", "j1#2", "j1#1"}));
  EXPECT_EQ(store_.ListExecutionsForJob(kRegion, "j1", std::nullopt, "x", 3).status().code(),
            Code::kInvalidRequest);
}

// Registry writes tell the observer inside their own transaction, and its error undoes them.
class RecordingObserver : public RegistryObserver {
 public:
  Status OnMembershipAdded(Txn& txn, int64_t thing, int64_t group, Instant) override {
    calls.push_back("added " + std::to_string(thing) + " " + std::to_string(group));
    // The membership is already visible to the observer.
    auto members = txn.GroupMembers(group, 0, 10);
    if (!members.ok() || std::find(members->begin(), members->end(), thing) == members->end()) {
      return Status::Internal("membership not visible to the observer");
    }
    return fail;
  }
  Status OnMembershipRemoved(Txn&, int64_t thing, int64_t group, Instant) override {
    calls.push_back("removed " + std::to_string(thing) + " " + std::to_string(group));
    return fail;
  }
  Status OnThingDeleting(Txn& txn, int64_t thing, Instant) override {
    calls.push_back("deleting " + std::to_string(thing));
    if (!*txn.ThingExists(thing)) return Status::Internal("thing already gone");
    return fail;
  }
  std::vector<std::string> calls;
  Status fail = Status::Ok();
};

TEST_F(MemoryStoreTest, RegistryWritesCallTheObserverInTheirTransaction) {
  RecordingObserver observer;
  store_.SetRegistryObserver(&observer);
  Thing("t");
  Group("g");
  const std::string t = std::to_string(ThingIdOf("t"));
  ASSERT_TRUE(store_.AddThingToGroup(kRegion, "t", "g", kT0).ok());
  ASSERT_TRUE(store_.AddThingToGroup(kRegion, "t", "g", kT0).ok());  // already a member
  ASSERT_TRUE(store_.RemoveThingFromGroup(kRegion, "t", "g", kT0).ok());
  ASSERT_TRUE(store_.RemoveThingFromGroup(kRegion, "t", "g", kT0).ok());  // not a member
  EXPECT_EQ(observer.calls, (std::vector<std::string>{"added " + t + " 1", "removed " + t + " 1"}));

  observer.fail = Status::Unavailable("observer failed");
  EXPECT_EQ(store_.AddThingToGroup(kRegion, "t", "g", kT0).code(), Code::kUnavailable);
  EXPECT_TRUE(store_.ListGroupsForThing(kRegion, "t", "", 10)->items.empty());
  EXPECT_EQ(store_.DeleteThing(kRegion, "t", -1, kT0).code(), Code::kUnavailable);
  EXPECT_TRUE(store_.GetThing(kRegion, "t").ok());
  // Bulk registration: the failing item is undone, the others stay.
  jobs::ThingRegistration plain, member;
  plain.thing.name = "plain";
  member.thing.name = "member";
  member.groups = {"g"};
  auto results = store_.RegisterThings(kRegion, {plain, member}, kT0);
  ASSERT_TRUE(results.ok());
  EXPECT_TRUE((*results)[0].ok());
  EXPECT_EQ((*results)[1].code(), Code::kUnavailable);
  EXPECT_TRUE(store_.GetThing(kRegion, "plain").ok());
  EXPECT_EQ(store_.GetThing(kRegion, "member").status().code(), Code::kNotFound);

  observer.fail = Status::Ok();
  observer.calls.clear();
  ASSERT_TRUE(store_.DeleteThing(kRegion, "t", -1, kT0).ok());
  EXPECT_EQ(observer.calls, (std::vector<std::string>{"deleting " + t}));
}

// Transactions from many threads serialize: counters added concurrently all count.
TEST_F(MemoryStoreTest, ConcurrentTransactionsSerialize) {
  Thing("t");
  const int64_t job = Job("j", {"t"});
  constexpr int kThreads = 8, kEach = 200;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < kEach; ++k) {
        Status st = store_.Transact([&](Txn& txn) -> Status {
          auto r = txn.JobById(job);
          if (!r.ok()) return r.status();
          jobs::JobCounters d;
          d.succeeded = 1;
          return txn.AddCounters(job, d, 0);
        });
        EXPECT_TRUE(st.ok());
        EXPECT_TRUE(store_.GetJob(kRegion, "j").ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(store_.GetJob(kRegion, "j")->counters.succeeded, kThreads * kEach);
}

}  // namespace
}  // namespace iotjobs::store
