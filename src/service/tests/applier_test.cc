// The Applier's execution and control-plane operations (service/applier_exec.cc) over each
// backend: each decision written atomically, errors as the legacy store gave them, and the events
// and thing changes it appends.
#include "service/applier.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "jobs/registry.h"
#include "jobs/timeouts.h"
#include "service/tests/commit_failing_store.h"
#include "store/memory/memory_store.h"
#include "store/tests/scratch_store.h"
#include "store/tests/temp_dir.h"

namespace iotjobs::service {
namespace {

using ES = jobs::ExecutionStatus;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr const char* kRegion = "us-east-1";
constexpr const char* kAccount = "123456789012";

struct Backend {
  std::string name;
  std::function<std::unique_ptr<store::Store>(const iotjobs::testing::TempDir&)> open;
};

std::ostream& operator<<(std::ostream& os, const Backend& b) { return os << b.name; }

std::vector<Backend> Backends() {
  std::vector<Backend> out;
  out.push_back(
      {"Sqlite", [](const iotjobs::testing::TempDir& dir) -> std::unique_ptr<store::Store> {
         auto s = iotjobs::testing::OpenScratchStore(dir, /*track_thing_changes=*/true);
         if (!s.ok()) return nullptr;
         return std::move(s).value();
       }});
  out.push_back({"Memory", [](const iotjobs::testing::TempDir&) -> std::unique_ptr<store::Store> {
                   return std::make_unique<store::MemoryStore>(
                       store::MemoryStore::Options{.track_thing_changes = true});
                 }});
  return out;
}

class ApplierTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    inner_ = GetParam().open(dir_);
    ASSERT_TRUE(inner_);
    store_ = std::make_unique<store::CommitFailingStore>(inner_.get());
    applier_ = std::make_unique<Applier>(store_.get());
  }

  void Thing(const std::string& name) {
    jobs::Thing t;
    t.region = kRegion;
    t.name = name;
    t.id = "id-" + name;
    ASSERT_TRUE(store_->CreateThing(t).ok());
  }

  // A job on `things`, its rollout finished (executions are added by Exec).
  void Job(const std::string& id, const std::vector<std::string>& things,
           const std::function<void(jobs::Job&)>& configure = {}) {
    jobs::Job j;
    j.region = kRegion;
    j.id = id;
    j.document = "{}";
    j.created_at = j.last_updated_at = clock_;
    for (const auto& t : things) j.targets.push_back(jobs::ThingArn(kRegion, kAccount, t));
    if (configure) configure(j);
    ASSERT_TRUE(store_->CreateJob(j, jobs::JobArn(kRegion, kAccount, id), {}).ok());
    ASSERT_TRUE(store_
                    ->Transact([&](store::Txn& txn) -> Status {
                      auto r = txn.FindJob(kRegion, id);
                      if (!r.ok()) return r.status();
                      jobs::JobRecord rec = **r;
                      rec.work.rollout = false;
                      rec.job.rollout_done = j.target_selection == "SNAPSHOT";
                      return txn.PutJobState(rec);
                    })
                    .ok());
  }

  // Adds execution `number` of (job, thing) as the store would hold it (counted when latest).
  void Exec(const std::string& job, const std::string& thing, ES status, int64_t number = 1,
            bool latest = true, const std::function<void(jobs::ExecutionRecord&)>& edit = {}) {
    Status st = store_->Transact([&](store::Txn& txn) -> Status {
      auto j = txn.FindJob(kRegion, job);
      if (!j.ok()) return j.status();
      auto t = txn.ThingId(kRegion, thing);
      if (!t.ok()) return t.status();
      jobs::ExecutionRecord r;
      r.job = (*j)->id;
      r.thing = **t;
      r.latest = latest;
      r.e.region = kRegion;
      r.e.job_id = job;
      r.e.thing_name = thing;
      r.e.execution_number = number;
      r.e.status = status;
      r.e.queued_at = r.e.last_updated_at = clock_;
      if (status != ES::kQueued) r.e.started_at = clock_;
      if (edit) edit(r);
      IOTJOBS_RETURN_IF_ERROR(txn.InsertExecution(r));
      jobs::JobCounters c;
      if (latest) c.For(status) = 1;
      return txn.AddCounters(r.job, c, 1);
    });
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  jobs::JobExecution Get(const std::string& job, const std::string& thing,
                         std::optional<int64_t> number = std::nullopt) {
    auto e = store_->GetExecution(kRegion, job, thing, number);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    return e.ok() ? *e : jobs::JobExecution{};
  }
  jobs::JobRecord Record(const std::string& job) {
    jobs::JobRecord out;
    Status st = store_->View([&](store::Txn& txn) -> Status {
      auto r = txn.FindJob(kRegion, job);
      if (!r.ok()) return r.status();
      if (!*r) return Status::NotFound(job);
      out = **r;
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }
  void EnableEvents() {
    ASSERT_TRUE(
        store_->UpdateEventConfigurations(kRegion, {{"JOB", true}, {"JOB_EXECUTION", true}}, clock_)
            .ok());
  }
  std::vector<store::Event> Events() {
    auto e = store_->EventOutbox(1000);
    EXPECT_TRUE(e.ok());
    return e.ok() ? *e : std::vector<store::Event>{};
  }
  size_t ThingChanges() {
    auto c = store_->ThingChanges(1000);
    EXPECT_TRUE(c.ok());
    return c.ok() ? c->size() : 0;
  }

  Applier::DeviceResult Update(const std::string& thing, const std::string& job, ES status,
                               std::optional<int64_t> expected_version = std::nullopt) {
    Applier::DeviceUpdate u;
    u.status = status;
    u.expected_version = expected_version;
    return applier_->UpdateExecution(kRegion, thing, job, u, clock_);
  }

  Instant clock_ = FromEpochMillis(1'800'000'000'000);
  iotjobs::testing::TempDir dir_;
  std::unique_ptr<store::Store> inner_;
  std::unique_ptr<store::CommitFailingStore> store_;  // over inner_
  std::unique_ptr<Applier> applier_;
};

// --- UpdateExecution ---

TEST_P(ApplierTest, UpdateExecutionWritesTheTransitionAndCompletesTheJob) {
  Thing("t1");
  Job("j", {"t1"});
  Exec("j", "t1", ES::kQueued);
  EnableEvents();
  auto r = Update("t1", "j", ES::kInProgress, 1);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_TRUE(r.changed);
  ASSERT_TRUE(r.execution);
  EXPECT_EQ(r.execution->version_number, 2);
  EXPECT_EQ(Get("j", "t1"), *r.execution);
  clock_ += seconds(5);
  r = Update("t1", "j", ES::kSucceeded);
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Get("j", "t1").status, ES::kSucceeded);
  jobs::JobRecord job = Record("j");
  EXPECT_EQ(job.job.status, jobs::kJobCompleted);
  EXPECT_EQ(job.job.completed_at, clock_);
  EXPECT_EQ(job.job.counters.succeeded, 1);
  EXPECT_EQ(job.job.counters.in_progress, 0);
  auto events = Events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, "JOB_EXECUTION");
  EXPECT_EQ(events[0].status, ES::kSucceeded);
  EXPECT_EQ(events[0].thing, "t1");
  EXPECT_EQ(events[1].type, "JOB");
  EXPECT_EQ(events[1].operation, "completed");
  EXPECT_EQ(events[1].counters.at("numberOfSucceededThings"), 1);
  EXPECT_EQ(ThingChanges(), 2u);  // QUEUED -> IN_PROGRESS, IN_PROGRESS -> SUCCEEDED
}

TEST_P(ApplierTest, UpdateExecutionRefusalsAsTheLegacyStoreGaveThem) {
  Thing("t1");
  Thing("t2");
  Job("j", {"t1"});
  Exec("j", "t1", ES::kInProgress);
  auto r = Update("t1", "nope", ES::kSucceeded);
  EXPECT_EQ(r.status.code(), Code::kNotFound);
  EXPECT_EQ(r.status.message(), "job nope does not exist");
  r = Update("ghost", "j", ES::kSucceeded);
  EXPECT_EQ(r.status.message(), "thing ghost does not exist");
  r = Update("t2", "j", ES::kSucceeded);
  EXPECT_EQ(r.status.code(), Code::kNotFound);
  EXPECT_EQ(r.status.message(), "job j has no execution for thing t2");
  Applier::DeviceUpdate u;
  u.execution_number = 4;
  r = applier_->UpdateExecution(kRegion, "t1", "j", u, clock_);
  EXPECT_EQ(r.status.message(), "job j has no execution number 4 for thing t1");
  EXPECT_FALSE(r.execution);

  r = Update("t1", "j", ES::kSucceeded, 7);
  EXPECT_EQ(r.status.code(), Code::kVersionConflict);
  ASSERT_TRUE(r.execution);  // the current state, to resynchronise
  EXPECT_EQ(r.execution->version_number, 1);
  EXPECT_FALSE(r.changed);
  r = Update("t1", "j", ES::kCanceled);
  EXPECT_EQ(r.status.code(), Code::kInvalidRequest);
  EXPECT_FALSE(r.execution);
  ASSERT_TRUE(Update("t1", "j", ES::kSucceeded).status.ok());
  r = Update("t1", "j", ES::kFailed);
  EXPECT_EQ(r.status.code(), Code::kInvalidStateTransition);
  ASSERT_TRUE(r.execution);
  EXPECT_EQ(r.execution->status, ES::kSucceeded);
}

TEST_P(ApplierTest, UpdateExecutionOnADeletingJobIsNotFound) {
  Thing("t1");
  Job("j", {"t1"});
  Exec("j", "t1", ES::kInProgress);
  ASSERT_TRUE(applier_->DeleteJob(kRegion, "j", "arn", true, 10, clock_).ok());
  auto r = Update("t1", "j", ES::kSucceeded);
  EXPECT_EQ(r.status.code(), Code::kNotFound);
  EXPECT_EQ(r.status.message(), "job j is being deleted");
}

TEST_P(ApplierTest, FailureRetriedWithTheBudgetCountedFromTheStore) {
  Thing("t1");
  Job("j", {"t1"}, [](jobs::Job& j) {
    j.configs.retry_config = jobs::RetryConfig{{{"FAILED", 1}}};
  });
  Exec("j", "t1", ES::kInProgress);
  ASSERT_TRUE(Update("t1", "j", ES::kFailed).status.ok());
  jobs::JobExecution retry = Get("j", "t1");
  EXPECT_EQ(retry.execution_number, 2);
  EXPECT_EQ(retry.status, ES::kQueued);
  EXPECT_EQ(retry.retry_attempt, 1);
  EXPECT_EQ(Get("j", "t1", 1).status, ES::kFailed);
  EXPECT_EQ(Record("j").job.counters.queued, 1);
  EXPECT_EQ(Record("j").job.counters.failed, 0);
  // The budget (1) is spent: the second failure stays, and the job completes.
  ASSERT_TRUE(Update("t1", "j", ES::kFailed).status.ok());
  EXPECT_EQ(Get("j", "t1").execution_number, 2);
  EXPECT_EQ(Record("j").job.counters.failed, 1);
  EXPECT_EQ(Record("j").job.status, jobs::kJobCompleted);
}

// A decision that fails half-way (here the retry's number is taken by a stray execution) leaves
// nothing behind: not the failed execution's update, not the counters, not the outboxes.
TEST_P(ApplierTest, UpdateExecutionFailingHalfWayLeavesNothing) {
  Thing("t1");
  Job("j", {"t1"}, [](jobs::Job& j) {
    j.configs.retry_config = jobs::RetryConfig{{{"FAILED", 1}}};
  });
  EnableEvents();
  Exec("j", "t1", ES::kInProgress, 1);
  Exec("j", "t1", ES::kSucceeded, 2, /*latest=*/false);
  const size_t events = Events().size(), changes = ThingChanges();
  const jobs::JobRecord before = Record("j");
  Applier::DeviceUpdate u;
  u.status = ES::kFailed;
  u.execution_number = 1;
  auto r = applier_->UpdateExecution(kRegion, "t1", "j", u, clock_);
  EXPECT_EQ(r.status.code(), Code::kAlreadyExists) << r.status.ToString();
  EXPECT_FALSE(r.changed);
  EXPECT_EQ(Get("j", "t1", 1).status, ES::kInProgress);
  EXPECT_EQ(Get("j", "t1", 1).version_number, 1);
  EXPECT_EQ(Record("j"), before);
  EXPECT_EQ(Events().size(), events);
  EXPECT_EQ(ThingChanges(), changes);
}

TEST_P(ApplierTest, AbortingUpdateCancelsTheJobAndSaysSo) {
  Thing("t1");
  Thing("t2");
  Job("j", {"t1", "t2"}, [](jobs::Job& j) {
    j.configs.abort_config = jobs::AbortConfig{{{"FAILED", "CANCEL", 50, 1}}};
  });
  Exec("j", "t1", ES::kInProgress);
  Exec("j", "t2", ES::kQueued);
  EnableEvents();
  auto r = Update("t1", "j", ES::kFailed);
  ASSERT_TRUE(r.status.ok());
  EXPECT_TRUE(r.job_aborted);
  jobs::JobRecord job = Record("j");
  EXPECT_EQ(job.job.status, jobs::kJobCanceled);
  EXPECT_EQ(job.job.reason_code, "ABORT_CRITERIA_MET");
  EXPECT_TRUE(job.work.cancel);
  EXPECT_EQ(Get("j", "t2").status, ES::kQueued);  // canceled in the background
  auto events = Events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].operation, "cancellation_in_progress");
}

// --- StartNext and the pending list ---

TEST_P(ApplierTest, PendingListInProgressFirstHidingScheduledAndDeletingJobs) {
  Thing("t1");
  Job("a", {"t1"});
  Job("b", {"t1"});
  Job("sched", {"t1"});
  Job("gone", {"t1"});
  Exec("a", "t1", ES::kQueued);
  clock_ += seconds(1);
  Exec("b", "t1", ES::kInProgress);
  Exec("sched", "t1", ES::kQueued);
  Exec("gone", "t1", ES::kQueued);
  ASSERT_TRUE(store_
                  ->Transact([&](store::Txn& txn) -> Status {
                    auto r = txn.FindJob(kRegion, "sched");
                    if (!r.ok()) return r.status();
                    jobs::JobRecord rec = **r;
                    rec.job.status = jobs::kJobScheduled;
                    return txn.PutJobState(rec);
                  })
                  .ok());
  ASSERT_TRUE(applier_->DeleteJob(kRegion, "gone", "arn", true, 10, clock_).ok());
  auto p = applier_->PendingExecutions(kRegion, "t1", 10);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->size(), 2u);
  EXPECT_EQ((*p)[0].job_id, "b");
  EXPECT_EQ((*p)[1].job_id, "a");
  EXPECT_EQ((*p)[1].thing_name, "t1");
  p = applier_->PendingExecutions(kRegion, "t1", 1);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->size(), 1u);
  EXPECT_EQ(applier_->PendingExecutions(kRegion, "ghost", 10).status().message(),
            "thing ghost does not exist");
}

TEST_P(ApplierTest, StartNextStartsTheQueuedHeadAndReturnsAStartedOneUnchanged) {
  Thing("t1");
  Job("a", {"t1"}, [](jobs::Job& j) { j.configs.timeout_config = jobs::TimeoutConfig{5}; });
  Job("b", {"t1"});
  Exec("a", "t1", ES::kQueued);
  clock_ += seconds(1);
  Exec("b", "t1", ES::kQueued);
  auto r = applier_->StartNextExecution(kRegion, "t1",
                                        std::map<std::string, std::string>{{"k", "v"}}, 2, clock_);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_TRUE(r.changed);
  ASSERT_TRUE(r.execution);
  EXPECT_EQ(r.execution->job_id, "a");
  EXPECT_EQ(r.execution->status, ES::kInProgress);
  EXPECT_EQ(r.execution->timeout_at, clock_ + minutes(2));
  EXPECT_EQ(Get("a", "t1"), *r.execution);
  EXPECT_EQ(Record("a").job.counters.in_progress, 1);
  auto again = applier_->StartNextExecution(kRegion, "t1", std::nullopt, 9, clock_ + seconds(3));
  ASSERT_TRUE(again.status.ok());
  EXPECT_FALSE(again.changed);
  EXPECT_EQ(*again.execution, *r.execution);
  EXPECT_EQ(Get("a", "t1"), *r.execution);
  auto none = applier_->StartNextExecution(kRegion, "ghost", std::nullopt, std::nullopt, clock_);
  EXPECT_EQ(none.status.code(), Code::kNotFound);
  Thing("idle");
  none = applier_->StartNextExecution(kRegion, "idle", std::nullopt, std::nullopt, clock_);
  EXPECT_TRUE(none.status.ok());
  EXPECT_FALSE(none.execution);
}

// --- Timeouts ---

TEST_P(ApplierTest, TimeOutExecutionsAtTheDeadlineThenRetryAndCompletion) {
  Thing("t1");
  Thing("t2");
  Job("j", {"t1", "t2"}, [](jobs::Job& j) {
    j.configs.timeout_config = jobs::TimeoutConfig{1};
    j.configs.retry_config = jobs::RetryConfig{{{"TIMED_OUT", 1}}};
  });
  Exec("j", "t1", ES::kQueued);
  Exec("j", "t2", ES::kQueued);
  ASSERT_TRUE(
      applier_->StartNextExecution(kRegion, "t1", std::nullopt, std::nullopt, clock_).status.ok());
  ASSERT_TRUE(Update("t2", "j", ES::kSucceeded).status.ok());
  auto next = applier_->NextTimeout();
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, clock_ + minutes(1));
  auto n = applier_->TimeOutExecutions(clock_ + seconds(59), 100);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0);
  n = applier_->TimeOutExecutions(clock_ + minutes(1), 100);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(Get("j", "t1", 1).status, ES::kTimedOut);
  EXPECT_FALSE(Get("j", "t1", 1).timeout_at);
  EXPECT_EQ(Get("j", "t1").execution_number, 2);  // the retry
  EXPECT_EQ(Record("j").job.status, jobs::kJobInProgress);
  // The retry times out too, with the budget spent: the job completes.
  const Instant later = clock_ + minutes(2);
  ASSERT_TRUE(
      applier_->StartNextExecution(kRegion, "t1", std::nullopt, std::nullopt, later).status.ok());
  n = applier_->TimeOutExecutions(later + minutes(1), 100);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(Get("j", "t1").status, ES::kTimedOut);
  jobs::JobRecord job = Record("j");
  EXPECT_EQ(job.job.status, jobs::kJobCompleted);
  EXPECT_EQ(job.job.counters.timed_out, 1);
  EXPECT_EQ(job.job.counters.succeeded, 1);
  next = applier_->NextTimeout();
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(*next);
}

TEST_P(ApplierTest, StaleTimerOfAFinishedExecutionIsClearedNotTimedOut) {
  Thing("t1");
  Job("j", {"t1"});
  Exec("j", "t1", ES::kCanceled, 1, true,
       [&](jobs::ExecutionRecord& r) { r.e.timeout_at = r.e.in_progress_deadline = clock_; });
  auto n = applier_->TimeOutExecutions(clock_ + seconds(1), 100);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 0);
  jobs::JobExecution e = Get("j", "t1");
  EXPECT_EQ(e.status, ES::kCanceled);
  EXPECT_FALSE(e.timeout_at || e.in_progress_deadline);
  EXPECT_EQ(e.version_number, 1);
  auto next = applier_->NextTimeout();
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(*next);
}

// One transaction per call: a row failing half-way undoes the rows timed out before it.
TEST_P(ApplierTest, TimeOutExecutionsFailingOnOneRowUndoesTheCall) {
  Thing("t1");
  Thing("t2");
  Job("j", {"t1", "t2"}, [](jobs::Job& j) {
    j.configs.retry_config = jobs::RetryConfig{{{"TIMED_OUT", 1}}};
  });
  Exec("j", "t1", ES::kInProgress, 1, true,
       [&](jobs::ExecutionRecord& r) { r.e.timeout_at = r.e.step_deadline = clock_; });
  Exec("j", "t2", ES::kInProgress, 1, true,
       [&](jobs::ExecutionRecord& r) { r.e.timeout_at = r.e.step_deadline = clock_ + seconds(1); });
  Exec("j", "t2", ES::kSucceeded, 2, /*latest=*/false);  // takes t2's retry number
  const jobs::JobRecord before = Record("j");
  auto n = applier_->TimeOutExecutions(clock_ + minutes(1), 100);
  EXPECT_FALSE(n.ok());
  EXPECT_EQ(Get("j", "t1", 1).status, ES::kInProgress);
  EXPECT_EQ(Record("j"), before);
}

// --- CancelJob / DeleteJob / AssociateTargets ---

TEST_P(ApplierTest, CancelJobAndItsRefusals) {
  Thing("t1");
  Job("j", {"t1"});
  Exec("j", "t1", ES::kInProgress);
  EnableEvents();
  ASSERT_TRUE(
      applier_
          ->CancelJob(kRegion, "j", false, std::string("R"), std::string("c"), clock_ + seconds(1))
          .ok());
  jobs::JobRecord job = Record("j");
  EXPECT_EQ(job.job.status, jobs::kJobCanceled);
  EXPECT_EQ(job.job.reason_code, "R");
  EXPECT_EQ(job.job.comment, "c");
  EXPECT_EQ(job.job.last_updated_at, clock_ + seconds(1));
  EXPECT_EQ(job.work, (jobs::JobWork{false, true, false, false, 0}));
  ASSERT_TRUE(applier_->CancelJob(kRegion, "j", true, std::nullopt, std::nullopt, clock_).ok());
  EXPECT_TRUE(Record("j").job.force_canceled);
  EXPECT_TRUE(Record("j").work.force_cancel);
  EXPECT_EQ(
      applier_->CancelJob(kRegion, "nope", false, std::nullopt, std::nullopt, clock_).message(),
      "job nope does not exist");
  Job("done", {"t1"});
  ASSERT_TRUE(store_
                  ->Transact([&](store::Txn& txn) -> Status {
                    auto r = txn.FindJob(kRegion, "done");
                    if (!r.ok()) return r.status();
                    jobs::JobRecord rec = **r;
                    rec.job.status = jobs::kJobCompleted;
                    return txn.PutJobState(rec);
                  })
                  .ok());
  Status st = applier_->CancelJob(kRegion, "done", false, std::nullopt, std::nullopt, clock_);
  EXPECT_EQ(st.code(), Code::kInvalidRequest);
  EXPECT_EQ(st.message(), "job done is COMPLETED and cannot be canceled");
  auto events = Events();
  ASSERT_EQ(events.size(), 1u);  // the forced upgrade is not a second cancellation
  EXPECT_EQ(events[0].operation, "cancellation_in_progress");
}

TEST_P(ApplierTest, DeleteJobRefusalsLimitAndTags) {
  Thing("t1");
  Job("a", {"t1"});
  Job("b", {"t1"});
  const std::string arn = jobs::JobArn(kRegion, kAccount, "a");
  ASSERT_TRUE(store_->TagResource(arn, {{"k", "v"}}, 50).ok());
  Status st = applier_->DeleteJob(kRegion, "a", arn, false, 10, clock_);
  EXPECT_EQ(st.code(), Code::kInvalidStateTransition);
  EXPECT_EQ(st.message(),
            "job a is IN_PROGRESS; only COMPLETED or CANCELED jobs can be deleted without force");
  EXPECT_EQ(store_->ListTags(arn, "", 10)->items.size(), 1u);  // a refusal writes nothing
  ASSERT_TRUE(applier_->DeleteJob(kRegion, "a", arn, true, 1, clock_).ok());
  jobs::JobRecord job = Record("a");
  EXPECT_EQ(job.job.status, jobs::kJobDeletionInProgress);
  EXPECT_EQ(job.work, (jobs::JobWork{false, false, false, true, 0}));
  EXPECT_TRUE(store_->ListTags(arn, "", 10)->items.empty());
  st = applier_->DeleteJob(kRegion, "a", arn, true, 1, clock_);
  EXPECT_EQ(st.code(), Code::kInvalidRequest);
  EXPECT_EQ(st.message(), "job a is already being deleted");
  st = applier_->DeleteJob(kRegion, "b", "arn-b", true, 1, clock_);
  EXPECT_EQ(st.code(), Code::kLimitExceeded);
  EXPECT_EQ(st.message(), "1 jobs are already being deleted; try again when one finishes");
  EXPECT_EQ(Record("b").job.status, jobs::kJobInProgress);
  EXPECT_EQ(applier_->DeleteJob(kRegion, "nope", "x", true, 10, clock_).code(), Code::kNotFound);
}

TEST_P(ApplierTest, AssociateTargetsAddsTargetsAtomically) {
  Thing("t1");
  Thing("t2");
  Job("c", {"t1"}, [](jobs::Job& j) { j.target_selection = "CONTINUOUS"; });
  const std::string t1 = jobs::ThingArn(kRegion, kAccount, "t1");
  const std::string t2 = jobs::ThingArn(kRegion, kAccount, "t2");
  const std::string ghost = jobs::ThingArn(kRegion, kAccount, "ghost");
  // A missing target after a good one: nothing of the call stays.
  Status st = applier_->AssociateTargets(kRegion, "c", {t2, ghost}, 10, clock_);
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_NE(st.message().find(ghost), std::string::npos) << st.message();
  EXPECT_EQ(Record("c").job.targets, std::vector<std::string>{t1});
  ASSERT_TRUE(applier_->AssociateTargets(kRegion, "c", {t1, t2, t2}, 10, clock_).ok());
  jobs::JobRecord job = Record("c");
  EXPECT_EQ(job.job.targets, (std::vector<std::string>{t1, t2}));
  EXPECT_TRUE(job.work.rollout);
  EXPECT_FALSE(job.job.rollout_done);
  Status targets = store_->View([&](store::Txn& txn) -> Status {
    auto t = txn.Targets(job.id);
    if (!t.ok()) return t.status();
    EXPECT_EQ(t->size(), 2u);
    return Status::Ok();
  });
  EXPECT_TRUE(targets.ok()) << targets.ToString();
  st = applier_->AssociateTargets(kRegion, "c", {ghost}, 2, clock_);
  EXPECT_EQ(st.code(), Code::kLimitExceeded);
  Job("s", {"t1"});
  st = applier_->AssociateTargets(kRegion, "s", {t2}, 10, clock_);
  EXPECT_EQ(st.code(), Code::kInvalidRequest);
}

// --- CancelExecution / DeleteExecution ---

// Finding: a force-canceled IN_PROGRESS execution kept its in-progress and step deadlines (the
// legacy store cleared only timeout_at), so the data plane's DescribeJobExecution, which reports
// approximateSecondsBeforeTimedOut from those timers, counted down on a CANCELED execution. Every
// terminal status now stops all three timers (spec 4.1).
TEST_P(ApplierTest, ForceCanceledExecutionReportsNoTimeLeft) {
  Thing("t1");
  Job("j", {"t1"}, [](jobs::Job& j) { j.configs.timeout_config = jobs::TimeoutConfig{10}; });
  Exec("j", "t1", ES::kQueued);
  ASSERT_TRUE(applier_->StartNextExecution(kRegion, "t1", std::nullopt, 5, clock_).status.ok());
  ASSERT_TRUE(jobs::ApproximateSecondsBeforeTimedOut(
      {Get("j", "t1").in_progress_deadline, Get("j", "t1").step_deadline}, clock_));
  ASSERT_TRUE(applier_->CancelExecution(kRegion, "j", "t1", true, std::nullopt, {}, clock_).ok());
  const jobs::JobExecution e = Get("j", "t1");
  EXPECT_EQ(e.status, ES::kCanceled);
  EXPECT_FALSE(e.timeout_at || e.in_progress_deadline || e.step_deadline);
  EXPECT_FALSE(
      jobs::ApproximateSecondsBeforeTimedOut({e.in_progress_deadline, e.step_deadline}, clock_));
}

TEST_P(ApplierTest, CancelExecutionAndItsRefusals) {
  Thing("t1");
  Thing("t2");
  Job("j", {"t1", "t2"});
  Exec("j", "t1", ES::kQueued, 1, true, [](jobs::ExecutionRecord& r) {
    r.e.status_details = {{"a", "1"}};
  });
  Exec("j", "t2", ES::kInProgress);
  Status st = applier_->CancelExecution(kRegion, "j", "t1", false, 5, {}, clock_);
  EXPECT_EQ(st.code(), Code::kVersionConflict);
  EXPECT_EQ(st.message(), "the execution is at version 1, not 5");
  ASSERT_TRUE(applier_->CancelExecution(kRegion, "j", "t1", false, 1, {{"b", "2"}}, clock_).ok());
  jobs::JobExecution e = Get("j", "t1");
  EXPECT_EQ(e.status, ES::kCanceled);
  EXPECT_EQ(e.version_number, 2);
  EXPECT_EQ(e.status_details, (std::map<std::string, std::string>{{"a", "1"}, {"b", "2"}}));
  st = applier_->CancelExecution(kRegion, "j", "t2", false, std::nullopt, {}, clock_);
  EXPECT_EQ(st.code(), Code::kInvalidStateTransition);
  EXPECT_EQ(st.message(), "cannot cancel an execution that is IN_PROGRESS without force");
  EXPECT_EQ(Get("j", "t2").status, ES::kInProgress);
  ASSERT_TRUE(applier_->CancelExecution(kRegion, "j", "t2", true, std::nullopt, {}, clock_).ok());
  EXPECT_TRUE(Get("j", "t2").force_canceled);
  EXPECT_EQ(Record("j").job.status, jobs::kJobCompleted);
  EXPECT_EQ(Record("j").job.counters.canceled, 2);
  Thing("t3");
  EXPECT_EQ(
      applier_->CancelExecution(kRegion, "j", "t3", false, std::nullopt, {}, clock_).message(),
      "job j has no execution on thing t3");
}

TEST_P(ApplierTest, DeleteExecutionAndItsRefusals) {
  Thing("t1");
  Thing("t2");
  Job("j", {"t1", "t2"});
  Exec("j", "t1", ES::kQueued);
  Exec("j", "t2", ES::kSucceeded);
  EnableEvents();
  Status st = applier_->DeleteExecution(kRegion, "j", "t1", 1, false, clock_);
  EXPECT_EQ(st.code(), Code::kInvalidStateTransition);
  EXPECT_EQ(st.message(),
            "the execution is QUEUED; only terminal executions can be deleted without force");
  EXPECT_EQ(applier_->DeleteExecution(kRegion, "j", "t1", 9, true, clock_).message(),
            "job j has no execution number 9 on thing t1");
  ASSERT_TRUE(applier_->DeleteExecution(kRegion, "j", "t2", 1, false, clock_).ok());
  EXPECT_EQ(store_->GetExecution(kRegion, "j", "t2", std::nullopt).status().code(),
            Code::kNotFound);
  EXPECT_EQ(Record("j").job.counters.succeeded, 0);
  ASSERT_TRUE(applier_->DeleteExecution(kRegion, "j", "t1", 1, true, clock_).ok());
  EXPECT_EQ(Record("j").job.status, jobs::kJobCompleted);  // nothing left running
  auto events = Events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].operation, "deleted");
  EXPECT_EQ(events[0].status, ES::kSucceeded);
  EXPECT_EQ(events[2].operation, "completed");
}

// Every operation's decision is one transaction: when its commit fails, nothing of it is left
// (rows, counters, job state, tags, targets, outboxes), and the error is the store's.
TEST_P(ApplierTest, AFailedCommitLeavesNothingOfAnyOperation) {
  Thing("t1");
  Thing("t2");
  Job("j", {"t1", "t2"}, [](jobs::Job& j) {
    j.configs.timeout_config = jobs::TimeoutConfig{1};
    j.configs.retry_config = jobs::RetryConfig{{{"ALL", 2}}};
  });
  Job("c", {"t1"}, [](jobs::Job& j) { j.target_selection = "CONTINUOUS"; });
  Exec("j", "t1", ES::kQueued);
  Exec("j", "t2", ES::kInProgress, 1, true,
       [&](jobs::ExecutionRecord& r) { r.e.timeout_at = r.e.in_progress_deadline = clock_; });
  EnableEvents();
  const std::string arn = jobs::JobArn(kRegion, kAccount, "j");
  ASSERT_TRUE(store_->TagResource(arn, {{"k", "v"}}, 50).ok());
  const jobs::JobRecord j0 = Record("j"), c0 = Record("c");
  const jobs::JobExecution e1 = Get("j", "t1"), e2 = Get("j", "t2");
  const size_t events = Events().size(), changes = ThingChanges();
  auto unchanged = [&](const char* op) {
    SCOPED_TRACE(op);
    EXPECT_EQ(Record("j"), j0);
    EXPECT_EQ(Record("c"), c0);
    EXPECT_EQ(Get("j", "t1"), e1);
    EXPECT_EQ(Get("j", "t2"), e2);
    EXPECT_EQ(store_->ListTags(arn, "", 10)->items.size(), 1u);
    EXPECT_EQ(Events().size(), events);
    EXPECT_EQ(ThingChanges(), changes);
  };
  store_->FailCommits(true);
  const Code kFailed = Code::kUnavailable;
  EXPECT_EQ(Update("t1", "j", ES::kFailed).status.code(), kFailed);
  unchanged("UpdateExecution");
  auto started = applier_->StartNextExecution(kRegion, "t1", std::nullopt, 3, clock_);
  EXPECT_EQ(started.status.code(), kFailed);
  EXPECT_FALSE(started.execution);
  unchanged("StartNextExecution");
  EXPECT_EQ(applier_->TimeOutExecutions(clock_ + minutes(1), 10).status().code(), kFailed);
  unchanged("TimeOutExecutions");
  EXPECT_EQ(applier_->CancelJob(kRegion, "j", true, std::string("R"), std::nullopt, clock_).code(),
            kFailed);
  unchanged("CancelJob");
  EXPECT_EQ(applier_->DeleteJob(kRegion, "j", arn, true, 10, clock_).code(), kFailed);
  unchanged("DeleteJob");
  EXPECT_EQ(
      applier_
          ->AssociateTargets(kRegion, "c", {jobs::ThingArn(kRegion, kAccount, "t2")}, 10, clock_)
          .code(),
      kFailed);
  unchanged("AssociateTargets");
  EXPECT_EQ(applier_->CancelExecution(kRegion, "j", "t1", false, std::nullopt, {}, clock_).code(),
            kFailed);
  unchanged("CancelExecution");
  EXPECT_EQ(applier_->DeleteExecution(kRegion, "j", "t2", 1, true, clock_).code(), kFailed);
  unchanged("DeleteExecution");
  // Reads need no commit.
  store_->FailCommits(false);
  EXPECT_TRUE(applier_->PendingExecutions(kRegion, "t1", 10).ok());
  EXPECT_TRUE(applier_->NextTimeout().ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, ApplierTest, ::testing::ValuesIn(Backends()),
                         [](const ::testing::TestParamInfo<Backend>& i) { return i.param.name; });

}  // namespace
}  // namespace iotjobs::service
