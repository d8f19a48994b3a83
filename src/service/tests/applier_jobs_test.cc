// Applier's background-work operations (service/applier_jobs.cc) over real stores: rollout
// releases in one transaction, the pacing history, cancel and purge batches with their events,
// schedules. The decisions themselves are jobs/tests/job_rules_test.cc's; these check that they are
// read and written whole through store::Txn on every backend.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "jobs/job_rules.h"
#include "service/applier.h"
#include "store/tests/scratch_store.h"
#include "store/tests/temp_dir.h"

namespace iotjobs::service {
namespace {

using jobs::ExecutionStatus;
using std::chrono::seconds;

constexpr const char* kRegion = "us-east-1";
constexpr const char* kAccount = "123456789012";

// The SQLite backend still has triggers that write events and thing changes (issue 10 removes
// them); dropped here so the outboxes hold what Applier::Apply wrote, and nothing twice.
void DropLegacyTriggers(const std::string& path) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db,
                              "DROP TRIGGER IF EXISTS thing_changes_ins;"
                              "DROP TRIGGER IF EXISTS thing_changes_upd;"
                              "DROP TRIGGER IF EXISTS thing_changes_del;"
                              "DROP TRIGGER IF EXISTS job_events_status;"
                              "DROP TRIGGER IF EXISTS job_events_deleted;"
                              "DROP TRIGGER IF EXISTS execution_events_status;"
                              "DROP TRIGGER IF EXISTS execution_events_deleted;",
                              nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

std::unique_ptr<store::Store> OpenBackend(const std::string& backend,
                                          const iotjobs::testing::TempDir& dir) {
  if (backend == "sqlite") {
    auto s = iotjobs::testing::OpenScratchStore(dir, /*track_thing_changes=*/true);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return nullptr;
    DropLegacyTriggers(dir.File("iotjobs.db"));
    return std::move(s).value();
  }
  ADD_FAILURE() << "unknown backend " << backend;
  return nullptr;
}

class ApplierJobsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    store_ = OpenBackend(GetParam(), dir_);
    ASSERT_TRUE(store_);
    applier_ = std::make_unique<Applier>(store_.get());
  }

  void Group(const std::string& name) {
    jobs::ThingGroup g;
    g.region = kRegion;
    g.name = name;
    g.id = "gid-" + name;
    g.created_at = clock_.Now();
    ASSERT_TRUE(store_->CreateThingGroup(g, jobs::ThingGroupArn(kRegion, kAccount, name), {}).ok());
  }
  void Things(const std::string& prefix, int n, const std::optional<std::string>& group) {
    for (int i = 0; i < n; ++i) {
      jobs::Thing t;
      t.region = kRegion;
      t.name = prefix + std::to_string(i);
      t.id = "id-" + t.name;
      ASSERT_TRUE(store_->CreateThing(t).ok());
      if (group) {
        ASSERT_TRUE(store_->AddThingToGroup(kRegion, t.name, *group, clock_.Now()).ok());
      }
    }
  }
  std::string ThingArn(const std::string& name) { return jobs::ThingArn(kRegion, kAccount, name); }
  std::string GroupArn(const std::string& name) {
    return jobs::ThingGroupArn(kRegion, kAccount, name);
  }
  // Creates the job and returns its internal id.
  int64_t CreateJob(const std::string& id, std::vector<std::string> targets,
                    const std::string& status = jobs::kJobInProgress) {
    jobs::Job j;
    j.region = kRegion;
    j.id = id;
    j.status = status;
    j.targets = std::move(targets);
    j.document = "{}";
    j.created_at = j.last_updated_at = clock_.Now();
    Status st = store_->CreateJob(j, jobs::JobArn(kRegion, kAccount, id), {});
    EXPECT_TRUE(st.ok()) << st.ToString();
    auto r = Job(id);
    return r ? r->id : 0;
  }
  std::optional<jobs::JobRecord> Job(const std::string& id) {
    std::optional<jobs::JobRecord> out;
    Status st = store_->View([&](store::Txn& txn) -> Status {
      auto r = txn.FindJob(kRegion, id);
      if (!r.ok()) return r.status();
      out = *r;
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }
  // Rewrites the job's state as a control-plane operation would (CancelJob, DeleteJob).
  void PutJob(const jobs::JobRecord& r) {
    Status st = store_->Transact([&](store::Txn& txn) { return txn.PutJobState(r); });
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  std::vector<jobs::ExecutionRecord> Executions(int64_t job) {
    std::vector<jobs::ExecutionRecord> out;
    Status st = store_->View([&](store::Txn& txn) -> Status {
      auto r = txn.ExecutionsOfJob(job, 0, 1'000'000);
      if (!r.ok()) return r.status();
      out = *r;
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }
  std::vector<std::string> ThingNames(const std::vector<jobs::ExecutionRecord>& rs) {
    std::vector<std::string> out;
    for (const auto& r : rs) out.push_back(r.e.thing_name);
    return out;
  }
  // Starts the thing's execution of the job, as a device would (through the Txn: the device
  // rules are another test's).
  void Start(int64_t job, const std::string& thing) {
    Status st = store_->Transact([&](store::Txn& txn) -> Status {
      auto t = txn.ThingId(kRegion, thing);
      if (!t.ok()) return t.status();
      auto r = txn.Execution(job, **t, std::nullopt);
      if (!r.ok()) return r.status();
      jobs::ExecutionRecord e = **r;
      e.e.status = ExecutionStatus::kInProgress;
      e.e.version_number += 1;
      e.e.started_at = clock_.Now();
      e.e.timeout_at = e.e.in_progress_deadline = clock_.Now() + std::chrono::minutes(5);
      IOTJOBS_RETURN_IF_ERROR(txn.UpdateExecution(e));
      return txn.AddCounters(job, jobs::JobCounters{.queued = -1, .in_progress = 1}, 0);
    });
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  void EnableEvents() {
    ASSERT_TRUE(store_
                    ->UpdateEventConfigurations(kRegion, {{"JOB", true}, {"JOB_EXECUTION", true}},
                                                clock_.Now())
                    .ok());
  }
  std::vector<store::Event> DrainEvents() {
    auto e = store_->EventOutbox(100'000);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    if (!e.ok() || e->empty()) return {};
    EXPECT_TRUE(store_->AckEvents(e->back().seq).ok());
    return *e;
  }
  std::vector<std::string> DrainThingChanges() {
    auto c = store_->ThingChanges(100'000);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (!c.ok() || c->empty()) return {};
    EXPECT_TRUE(store_->AckThingChanges(c->back().seq, {}).ok());
    std::vector<std::string> out;
    for (const auto& x : *c) out.push_back(x.thing);
    return out;
  }
  Result<std::vector<int64_t>> Release(std::vector<Applier::Release> r) {
    return applier_->ReleaseRollouts(r, clock_.Now());
  }

  FakeClock clock_{FromEpochMillis(1'800'000'000'000)};
  iotjobs::testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Applier> applier_;
};

TEST_P(ApplierJobsTest, ReleasesInTargetOrderAndRecordsEachJobsBatch) {
  Group("fleet");
  Things("t", 6, "fleet");
  Things("solo", 1, std::nullopt);
  const int64_t a = CreateJob("a", {ThingArn("solo0"), GroupArn("fleet")});
  const int64_t b = CreateJob("b", {GroupArn("fleet")});
  DrainThingChanges();

  auto created = Release({{a, 4}, {b, 2}});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(*created, (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(ThingNames(Executions(a)), (std::vector<std::string>{"t0", "t1", "t2", "solo0"}));
  for (const auto& r : Executions(a)) {
    EXPECT_EQ(r.e.status, ExecutionStatus::kQueued);
    EXPECT_EQ(r.e.execution_number, 1);
    EXPECT_EQ(r.e.version_number, 1);
    EXPECT_EQ(r.e.queued_at, clock_.Now());
    EXPECT_TRUE(r.latest);
  }
  auto job = Job("a");
  ASSERT_TRUE(job);
  EXPECT_EQ(job->job.counters.queued, 4);
  EXPECT_EQ(job->job.notified, 4);
  EXPECT_EQ(job->job.last_updated_at, clock_.Now());
  EXPECT_FALSE(job->job.rollout_done);
  EXPECT_TRUE(job->work.rollout);
  auto batches = applier_->RolloutBatches(a, clock_.Now() - jobs::kRolloutWindow);
  ASSERT_TRUE(batches.ok());
  ASSERT_EQ(batches->size(), 1u);
  EXPECT_EQ((*batches)[0].at, clock_.Now());
  EXPECT_EQ((*batches)[0].count, 4);
  EXPECT_EQ(DrainThingChanges().size(), 6u);  // one per execution created

  // The cursor was stored: the next release resumes; the rest of the rollout, then done.
  clock_.Advance(seconds(1));
  created = Release({{a, 10}});
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(*created, std::vector<int64_t>{3});
  job = Job("a");
  EXPECT_EQ(job->job.counters.queued, 7);
  EXPECT_TRUE(job->job.rollout_done);
  EXPECT_FALSE(job->work.rollout);
  EXPECT_EQ(job->job.status, jobs::kJobInProgress);
  batches = applier_->RolloutBatches(a, clock_.Now() - jobs::kRolloutWindow);
  ASSERT_EQ(batches->size(), 2u);
  EXPECT_EQ((*batches)[1].count, 3);
  // Only batches after `since` come back.
  batches = applier_->RolloutBatches(a, clock_.Now() - seconds(1));
  ASSERT_EQ(batches->size(), 1u);

  // PendingJobWork lists what still rolls out.
  auto work = applier_->PendingJobWork();
  ASSERT_TRUE(work.ok());
  ASSERT_EQ(work->size(), 1u);
  EXPECT_EQ((*work)[0].id, b);
  EXPECT_EQ((*work)[0].job.id, "b");
}

TEST_P(ApplierJobsTest, AThingCoveredTwiceOrDeletedGetsOneOrNone) {
  Group("fleet");
  Things("t", 3, "fleet");
  const int64_t a = CreateJob("a", {ThingArn("t1"), GroupArn("fleet"), ThingArn("t2")});
  ASSERT_TRUE(store_->DeleteThing(kRegion, "t2", -1, clock_.Now()).ok());
  auto created = Release({{a, 100}});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(*created, std::vector<int64_t>{2});
  EXPECT_EQ(ThingNames(Executions(a)), (std::vector<std::string>{"t0", "t1"}));
  auto job = Job("a");
  EXPECT_EQ(job->job.counters.queued, 2);
  EXPECT_EQ(job->job.notified, 2);
  EXPECT_TRUE(job->job.rollout_done);
}

TEST_P(ApplierJobsTest, SnapshotJobWithNothingLeftToDoCompletesAtTheEndOfItsRollout) {
  Things("t", 1, std::nullopt);
  EnableEvents();
  const int64_t a = CreateJob("a", {ThingArn("t0")});
  ASSERT_TRUE(store_->DeleteThing(kRegion, "t0", -1, clock_.Now()).ok());
  DrainEvents();
  auto created = Release({{a, 10}});
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(*created, std::vector<int64_t>{0});
  auto job = Job("a");
  EXPECT_EQ(job->job.status, jobs::kJobCompleted);
  EXPECT_EQ(job->job.completed_at, clock_.Now());
  auto events = DrainEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "JOB");
  EXPECT_EQ(events[0].operation, "completed");
  // Nothing created: no batch in the pacing history.
  EXPECT_TRUE(applier_->RolloutBatches(a, clock_.Now() - jobs::kRolloutWindow)->empty());
}

TEST_P(ApplierJobsTest, OnlyInProgressJobsWithRolloutWorkRelease) {
  Things("t", 2, std::nullopt);
  const int64_t s = CreateJob("scheduled", {ThingArn("t0")}, jobs::kJobScheduled);
  const int64_t c = CreateJob("canceled", {ThingArn("t1")});
  jobs::JobRecord r = *Job("canceled");
  r.job.status = jobs::kJobCanceled;
  r.work = jobs::JobWork{.cancel = true};
  PutJob(r);

  auto work = applier_->PendingJobWork();
  ASSERT_TRUE(work.ok());
  ASSERT_EQ(work->size(), 1u);  // the SCHEDULED job's rollout waits; it has no other work
  EXPECT_EQ((*work)[0].id, c);
  EXPECT_FALSE((*work)[0].work.rollout);
  EXPECT_TRUE((*work)[0].work.cancel);

  auto created = Release({{s, 10}, {c, 10}, {999, 10}});  // 999: no such job
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(*created, (std::vector<int64_t>{0, 0, 0}));
  EXPECT_TRUE(Executions(s).empty());
  EXPECT_TRUE(Executions(c).empty());
}

TEST_P(ApplierJobsTest, CancelBatchesThenTheCanceledEvent) {
  Group("fleet");
  Things("t", 5, "fleet");
  EnableEvents();
  const int64_t a = CreateJob("a", {GroupArn("fleet")});
  ASSERT_TRUE(Release({{a, 10}}).ok());
  Start(a, "t1");
  Start(a, "t3");
  jobs::JobRecord r = *Job("a");
  r.job.status = jobs::kJobCanceled;
  r.work = jobs::JobWork{.cancel = true};
  PutJob(r);
  DrainEvents();
  DrainThingChanges();

  clock_.Advance(seconds(1));
  std::vector<int64_t> touched;
  for (int i = 0; i < 10; ++i) {
    auto n = applier_->ProcessJobWork(a, 2, clock_.Now());
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    touched.push_back(*n);
    if (*n == 0) break;
  }
  // Batches of two things: {t0 t1} {t2 t3} {t4}: QUEUED ones canceled, IN_PROGRESS kept.
  EXPECT_EQ(touched, (std::vector<int64_t>{1, 1, 1, 0}));
  std::vector<ExecutionStatus> statuses;
  for (const auto& e : Executions(a)) statuses.push_back(e.e.status);
  EXPECT_EQ(statuses,
            (std::vector<ExecutionStatus>{ExecutionStatus::kCanceled, ExecutionStatus::kInProgress,
                                          ExecutionStatus::kCanceled, ExecutionStatus::kInProgress,
                                          ExecutionStatus::kCanceled}));
  for (const auto& e : Executions(a)) {
    if (e.e.status != ExecutionStatus::kCanceled) continue;
    EXPECT_EQ(e.e.version_number, 2);
    EXPECT_EQ(e.e.last_updated_at, clock_.Now());
    EXPECT_FALSE(e.e.force_canceled);
  }
  auto job = Job("a");
  EXPECT_EQ(job->job.counters, (jobs::JobCounters{.in_progress = 2, .canceled = 3}));
  EXPECT_EQ(job->work, jobs::JobWork{});
  auto events = DrainEvents();
  ASSERT_EQ(events.size(), 4u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(events[i].type, "JOB_EXECUTION");
    EXPECT_EQ(events[i].status, ExecutionStatus::kCanceled);
    EXPECT_EQ(events[i].job_id, "a");
  }
  EXPECT_EQ(events[0].thing, "t0");
  EXPECT_EQ(events[2].thing, "t4");
  EXPECT_EQ(events[3].type, "JOB");
  EXPECT_EQ(events[3].operation, "canceled");
  EXPECT_EQ(DrainThingChanges(), (std::vector<std::string>{"t0", "t2", "t4"}));
  // Finished: nothing more to do.
  EXPECT_EQ(*applier_->ProcessJobWork(a, 2, clock_.Now()), 0);
  EXPECT_TRUE(DrainEvents().empty());
  EXPECT_TRUE(applier_->PendingJobWork()->empty());
}

TEST_P(ApplierJobsTest, ForceCancelAlsoCancelsInProgress) {
  Things("t", 2, std::nullopt);
  const int64_t a = CreateJob("a", {ThingArn("t0"), ThingArn("t1")});
  ASSERT_TRUE(Release({{a, 10}}).ok());
  Start(a, "t1");
  jobs::JobRecord r = *Job("a");
  r.job.status = jobs::kJobCanceled;
  r.job.force_canceled = true;
  r.work = jobs::JobWork{.cancel = true, .force_cancel = true};
  PutJob(r);
  ASSERT_EQ(*applier_->ProcessJobWork(a, 100, clock_.Now()), 2);
  ASSERT_EQ(*applier_->ProcessJobWork(a, 100, clock_.Now()), 0);
  auto rows = Executions(a);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].e.status, ExecutionStatus::kCanceled);
  EXPECT_FALSE(rows[0].e.force_canceled);
  EXPECT_EQ(rows[1].e.status, ExecutionStatus::kCanceled);
  EXPECT_TRUE(rows[1].e.force_canceled);
  EXPECT_FALSE(rows[1].e.timeout_at);
  EXPECT_EQ(Job("a")->job.counters, (jobs::JobCounters{.canceled = 2}));
}

TEST_P(ApplierJobsTest, PurgeBatchesThenTheJobIsGoneWithItsDeletedEvent) {
  Group("fleet");
  Things("t", 5, "fleet");
  EnableEvents();
  const int64_t a = CreateJob("a", {GroupArn("fleet")});
  ASSERT_TRUE(Release({{a, 10}}).ok());
  jobs::JobRecord r = *Job("a");
  r.job.status = jobs::kJobDeletionInProgress;
  r.work = jobs::JobWork{.deletion = true};
  PutJob(r);
  ASSERT_TRUE(store_->DeleteThing(kRegion, "t4", -1, clock_.Now()).ok());  // a deleted thing's
  DrainEvents();                                                           // name is kept
  DrainThingChanges();

  std::vector<int64_t> touched;
  for (int i = 0; i < 10; ++i) {
    auto n = applier_->ProcessJobWork(a, 2, clock_.Now());
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    touched.push_back(*n);
    if (*n == 0) break;
  }
  EXPECT_EQ(touched, (std::vector<int64_t>{2, 2, 1, 0}));
  EXPECT_FALSE(Job("a"));
  auto events = DrainEvents();
  ASSERT_EQ(events.size(), 6u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(events[i].type, "JOB_EXECUTION");
    EXPECT_EQ(events[i].operation, "deleted");
    EXPECT_EQ(events[i].thing, "t" + std::to_string(i));
  }
  EXPECT_EQ(events[5].type, "JOB");
  EXPECT_EQ(events[5].operation, "deleted");
  EXPECT_EQ(events[5].job_id, "a");
  EXPECT_EQ(DrainThingChanges().size(), 5u);
  EXPECT_TRUE(applier_->PendingJobWork()->empty());
  EXPECT_TRUE(applier_->RolloutBatches(a, clock_.Now() - jobs::kRolloutWindow)->empty());
  // The job id may be used again.
  Things("u", 1, std::nullopt);
  EXPECT_NE(CreateJob("a", {ThingArn("u0")}), 0);
}

TEST_P(ApplierJobsTest, PurgeKeepsTheCountersOfTheJobBeingDeleted) {
  Things("t", 3, std::nullopt);
  const int64_t a = CreateJob("a", {ThingArn("t0"), ThingArn("t1"), ThingArn("t2")});
  ASSERT_TRUE(Release({{a, 10}}).ok());
  jobs::JobRecord r = *Job("a");
  r.job.status = jobs::kJobDeletionInProgress;
  r.work = jobs::JobWork{.deletion = true};
  PutJob(r);
  ASSERT_EQ(*applier_->ProcessJobWork(a, 2, clock_.Now()), 2);
  EXPECT_EQ(Job("a")->job.counters.queued, 3);
}

TEST_P(ApplierJobsTest, ScheduledJobsAndTheirStates) {
  Things("t", 1, std::nullopt);
  jobs::Job j;
  j.region = kRegion;
  j.id = "s";
  j.status = jobs::kJobScheduled;
  j.targets = {ThingArn("t0")};
  j.document = "{}";
  j.scheduling_config = jobs::SchedulingConfig{};
  j.scheduling_config->start_time = "2027-01-15T08:00";
  j.created_at = j.last_updated_at = clock_.Now();
  ASSERT_TRUE(store_->CreateJob(j, jobs::JobArn(kRegion, kAccount, "s"), {}).ok());
  CreateJob("plain", {ThingArn("t0")});
  EnableEvents();

  auto scheduled = applier_->ScheduledJobs();
  ASSERT_TRUE(scheduled.ok()) << scheduled.status().ToString();
  ASSERT_EQ(scheduled->size(), 1u);
  const int64_t id = (*scheduled)[0].id;
  EXPECT_EQ((*scheduled)[0].job.scheduling_config->start_time, "2027-01-15T08:00");

  clock_.Advance(seconds(1));
  ASSERT_TRUE(applier_->SetScheduledState(id, jobs::kJobInProgress, false, clock_.Now()).ok());
  auto r = Job("s");
  EXPECT_EQ(r->job.status, jobs::kJobInProgress);
  EXPECT_EQ(r->job.last_updated_at, clock_.Now());
  EXPECT_EQ(applier_->PendingJobWork()->size(), 2u);  // it rolls out now
  ASSERT_EQ(*Release({{id, 10}}), std::vector<int64_t>{1});

  // STOP_ROLLOUT with the execution still QUEUED: stopped, not complete.
  ASSERT_TRUE(applier_->SetScheduledState(id, jobs::kJobInProgress, true, clock_.Now()).ok());
  r = Job("s");
  EXPECT_TRUE(jobs::RolloutStopped(*r));
  EXPECT_EQ(r->job.status, jobs::kJobInProgress);
  EXPECT_TRUE(DrainEvents().empty());

  // A job in another status is not moved; an unknown one is no error.
  jobs::JobRecord canceled = *r;
  canceled.job.status = jobs::kJobCanceled;
  PutJob(canceled);
  ASSERT_TRUE(applier_->SetScheduledState(id, jobs::kJobScheduled, false, clock_.Now()).ok());
  EXPECT_EQ(Job("s")->job.status, jobs::kJobCanceled);
  EXPECT_TRUE(applier_->SetScheduledState(12345, jobs::kJobScheduled, false, clock_.Now()).ok());
  EXPECT_TRUE(applier_->ScheduledJobs()->empty());
}

TEST_P(ApplierJobsTest, StopRolloutCompletesAJobWithNothingPending) {
  Things("t", 2, std::nullopt);
  EnableEvents();
  const int64_t a = CreateJob("a", {ThingArn("t0"), ThingArn("t1")});
  ASSERT_TRUE(Release({{a, 1}}).ok());
  Status st = store_->Transact([&](store::Txn& txn) -> Status {  // t0's execution succeeds
    auto rows = txn.ExecutionsOfJob(a, 0, 10);
    if (!rows.ok()) return rows.status();
    jobs::ExecutionRecord e = rows->front();
    e.e.status = ExecutionStatus::kSucceeded;
    IOTJOBS_RETURN_IF_ERROR(txn.UpdateExecution(e));
    return txn.AddCounters(a, jobs::JobCounters{.queued = -1, .succeeded = 1}, 0);
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  DrainEvents();
  ASSERT_TRUE(applier_->SetScheduledState(a, jobs::kJobInProgress, true, clock_.Now()).ok());
  auto r = Job("a");
  EXPECT_EQ(r->job.status, jobs::kJobCompleted);
  EXPECT_EQ(ThingNames(Executions(a)), std::vector<std::string>{"t0"});  // t1 never got one
  auto events = DrainEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].operation, "completed");
  EXPECT_EQ(events[0].counters.at("numberOfSucceededThings"), 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, ApplierJobsTest, ::testing::Values("sqlite"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace iotjobs::service
