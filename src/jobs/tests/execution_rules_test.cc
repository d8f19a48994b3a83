#include "jobs/execution_rules.h"

#include <gtest/gtest.h>

#include "jobs/abort_rules.h"
#include "jobs/timeouts.h"

namespace iotjobs::jobs {
namespace {

using ES = ExecutionStatus;

const Instant kT0 = FromEpochMillis(1'700'000'000'000);
const Instant kNow = kT0 + Millis(60'000);
Instant MinutesAfter(Instant t, int64_t m) { return t + std::chrono::minutes(m); }

JobRecord Job1(const char* status = kJobInProgress, const char* selection = "SNAPSHOT") {
  JobRecord r;
  r.id = 7;
  r.job.region = "us-east-1";
  r.job.id = "job";
  r.job.target_selection = selection;
  r.job.status = status;
  r.job.rollout_done = true;
  r.job.last_updated_at = kT0;
  return r;
}

// A job counting one thing whose latest execution is `s` (as the store keeps it).
JobRecord JobWith(ES s, const char* status = kJobInProgress) {
  JobRecord r = Job1(status);
  r.job.counters.For(s) = 1;
  return r;
}

ExecutionRecord Exec(ES s, int64_t number = 1, bool latest = true) {
  ExecutionRecord r;
  r.job = 7;
  r.thing = 3;
  r.latest = latest;
  r.e.region = "us-east-1";
  r.e.job_id = "job";
  r.e.thing_name = "t3";
  r.e.execution_number = number;
  r.e.status = s;
  r.e.version_number = 2;
  r.e.queued_at = kT0;
  r.e.last_updated_at = kT0;
  if (s != ES::kQueued) r.e.started_at = kT0;
  return r;
}

DeviceRequest Req(ES s) {
  DeviceRequest q;
  q.status = s;
  return q;
}

RetryConfig Retry(std::vector<RetryCriteria> list) { return RetryConfig{std::move(list)}; }

// --- The pending list (spec §2.3) ---

TEST(PendingList, ScheduledAndDeletingJobsHideTheirExecutions) {
  EXPECT_EQ(PendingHiddenJobStatuses(),
            (std::vector<std::string>{kJobScheduled, kJobDeletionInProgress}));
}

// --- Device updates: the state-transition table (spec §3.1), walked whole ---

TEST(DeviceUpdate, EveryCurrentAndRequestedStatus) {
  for (ES current : kAllExecutionStatuses) {
    for (ES requested : kAllExecutionStatuses) {
      SCOPED_TRACE(std::string(ToString(current)) + " -> " + ToString(requested));
      JobRecord job = JobWith(current);
      job.job.rollout_done = false;  // no completion in this test
      DeviceOutcome o = DecideDeviceUpdate(job, Exec(current), Req(requested), {}, kNow);
      const bool service_only = requested == ES::kQueued || requested == ES::kCanceled ||
                                requested == ES::kTimedOut || requested == ES::kRemoved;
      if (service_only) {
        EXPECT_EQ(o.status.code(), Code::kInvalidRequest);
        EXPECT_FALSE(o.execution);
        EXPECT_TRUE(o.decision.Empty());
      } else if (IsTerminal(current)) {
        EXPECT_EQ(o.status.code(), Code::kInvalidStateTransition);
        ASSERT_TRUE(o.execution);
        EXPECT_EQ(*o.execution, Exec(current).e);  // the current state, unchanged
        EXPECT_TRUE(o.decision.Empty());
      } else {
        ASSERT_TRUE(o.status.ok()) << o.status.ToString();
        ASSERT_TRUE(o.execution);
        EXPECT_EQ(o.execution->status, requested);
        EXPECT_EQ(o.execution->version_number, 3);
        EXPECT_EQ(o.execution->last_updated_at, kNow);
        ASSERT_EQ(o.decision.updates.size(), 1u);
        EXPECT_EQ(o.decision.updates[0].e, *o.execution);
        if (current != requested) {
          EXPECT_EQ(o.decision.counter_deltas.Get(current), -1);
          EXPECT_EQ(o.decision.counter_deltas.Get(requested), 1);
        } else {
          EXPECT_EQ(o.decision.counter_deltas, JobCounters{});
        }
        EXPECT_EQ(o.decision.execution_events.size(), IsTerminal(requested) ? 1u : 0u);
      }
    }
  }
}

TEST(DeviceUpdate, VersionConflictComesFirstAndReturnsTheCurrentState) {
  DeviceRequest q = Req(ES::kQueued);  // also an invalid request: the version is checked first
  q.expected_version = 1;
  DeviceOutcome o =
      DecideDeviceUpdate(JobWith(ES::kInProgress), Exec(ES::kInProgress), q, {}, kNow);
  EXPECT_EQ(o.status.code(), Code::kVersionConflict);
  EXPECT_EQ(o.status.message(), "expectedVersion 1 does not match the execution's version 2");
  ASSERT_TRUE(o.execution);
  EXPECT_EQ(o.execution->version_number, 2);
  EXPECT_TRUE(o.decision.Empty());
  q = Req(ES::kInProgress);
  q.expected_version = 2;
  EXPECT_TRUE(
      DecideDeviceUpdate(JobWith(ES::kInProgress), Exec(ES::kInProgress), q, {}, kNow).status.ok());
}

TEST(DeviceUpdate, DetailsReplaceWhenGivenAndStayOtherwise) {
  ExecutionRecord cur = Exec(ES::kInProgress);
  cur.e.status_details = {{"a", "1"}, {"b", "2"}};
  DeviceRequest q = Req(ES::kInProgress);
  auto o = DecideDeviceUpdate(JobWith(ES::kInProgress), cur, q, {}, kNow);
  EXPECT_EQ(o.execution->status_details, cur.e.status_details);
  q.status_details = std::map<std::string, std::string>{{"c", "3"}};
  o = DecideDeviceUpdate(JobWith(ES::kInProgress), cur, q, {}, kNow);
  EXPECT_EQ(o.execution->status_details, (std::map<std::string, std::string>{{"c", "3"}}));
}

TEST(DeviceUpdate, StartedAtOnTheFirstUpdateOnly) {
  auto o =
      DecideDeviceUpdate(JobWith(ES::kQueued), Exec(ES::kQueued), Req(ES::kSucceeded), {}, kNow);
  EXPECT_EQ(o.execution->started_at, kNow);  // direct terminal update: set then
  o = DecideDeviceUpdate(JobWith(ES::kInProgress), Exec(ES::kInProgress), Req(ES::kSucceeded), {},
                         kNow);
  EXPECT_EQ(o.execution->started_at, kT0);
}

TEST(DeviceUpdate, ANonLatestExecutionMovesNoCounter) {
  // An older execution (numbered explicitly) is not what jobProcessDetails counts.
  JobRecord job = Job1();
  job.job.counters.queued = 1;  // the latest, another execution
  auto o = DecideDeviceUpdate(job, Exec(ES::kInProgress, 1, false), Req(ES::kSucceeded), {}, kNow);
  ASSERT_TRUE(o.status.ok());
  EXPECT_EQ(o.decision.counter_deltas, JobCounters{});
  EXPECT_EQ(o.decision.execution_events.size(), 1u);
  EXPECT_FALSE(o.decision.job);  // nothing completes: the latest is still queued
}

TEST(DeviceUpdate, DeletingJobTakesNoUpdates) {
  EXPECT_EQ(AcceptsDeviceUpdates(Job1(kJobDeletionInProgress)).code(), Code::kNotFound);
  EXPECT_EQ(AcceptsDeviceUpdates(Job1(kJobDeletionInProgress)).message(),
            "job job is being deleted");
  for (const char* s : {kJobInProgress, kJobScheduled, kJobCanceled, kJobCompleted}) {
    EXPECT_TRUE(AcceptsDeviceUpdates(Job1(s)).ok()) << s;
  }
}

// --- Timers (spec §4.1) ---

JobRecord WithTimeout(JobRecord j, int64_t minutes) {
  j.job.configs.timeout_config = TimeoutConfig{minutes};
  return j;
}

TEST(DeviceTimers, InProgressTimerStartsOnFirstEntryOnly) {
  JobRecord job = WithTimeout(JobWith(ES::kQueued), 20);
  auto o = DecideDeviceUpdate(job, Exec(ES::kQueued), Req(ES::kInProgress), {}, kNow);
  EXPECT_EQ(o.execution->in_progress_deadline, MinutesAfter(kNow, 20));
  EXPECT_EQ(o.execution->timeout_at, MinutesAfter(kNow, 20));
  EXPECT_FALSE(o.execution->step_deadline);
  // Re-sending IN_PROGRESS later does not restart it.
  ExecutionRecord running = o.decision.updates[0];
  o = DecideDeviceUpdate(WithTimeout(JobWith(ES::kInProgress), 20), running, Req(ES::kInProgress),
                         {}, MinutesAfter(kNow, 5));
  EXPECT_EQ(o.execution->in_progress_deadline, MinutesAfter(kNow, 20));
}

TEST(DeviceTimers, NoTimeoutConfigNoTimer) {
  auto o =
      DecideDeviceUpdate(JobWith(ES::kQueued), Exec(ES::kQueued), Req(ES::kInProgress), {}, kNow);
  EXPECT_FALSE(o.execution->timeout_at || o.execution->in_progress_deadline ||
               o.execution->step_deadline);
}

TEST(DeviceTimers, StepTimersReplaceCapAndClear) {
  // The guide's example: in-progress 20 min from 12:00, step timers of 7, 5 and 9 minutes at
  // 12:05, 12:10 and 12:13: the deadline moves 12:12 -> 12:15 -> 12:20 (capped).
  const Instant noon = kNow;
  JobRecord job = WithTimeout(JobWith(ES::kQueued), 20);
  auto o = DecideDeviceUpdate(job, Exec(ES::kQueued), Req(ES::kInProgress), {}, noon);
  ExecutionRecord r = o.decision.updates[0];
  job = WithTimeout(JobWith(ES::kInProgress), 20);
  const std::pair<int64_t, int64_t> steps[] = {{5, 7}, {10, 5}, {13, 9}};
  const int64_t expected[] = {12, 15, 20};
  for (int i = 0; i < 3; ++i) {
    DeviceRequest q = Req(ES::kInProgress);
    q.step_timeout_minutes = steps[i].second;
    o = DecideDeviceUpdate(job, r, q, {}, MinutesAfter(noon, steps[i].first));
    r = o.decision.updates[0];
    EXPECT_EQ(r.e.timeout_at, MinutesAfter(noon, expected[i])) << i;
  }
  DeviceRequest clear = Req(ES::kInProgress);
  clear.step_timeout_minutes = kClearStepTimer;
  o = DecideDeviceUpdate(job, r, clear, {}, MinutesAfter(noon, 14));
  EXPECT_FALSE(o.execution->step_deadline);
  EXPECT_EQ(o.execution->timeout_at, MinutesAfter(noon, 20));
}

TEST(DeviceTimers, TerminalUpdateStopsEveryTimerAndIgnoresAStepTimer) {
  ExecutionRecord r = Exec(ES::kInProgress);
  r.e.in_progress_deadline = r.e.timeout_at = MinutesAfter(kNow, 3);
  r.e.step_deadline = MinutesAfter(kNow, 9);
  DeviceRequest q = Req(ES::kSucceeded);
  q.step_timeout_minutes = 5;
  auto o = DecideDeviceUpdate(WithTimeout(JobWith(ES::kInProgress), 20), r, q, {}, kNow);
  EXPECT_FALSE(o.execution->timeout_at || o.execution->in_progress_deadline ||
               o.execution->step_deadline);
}

// --- StartNext (spec §2.1) ---

TEST(StartNext, QueuedHeadStartsWithDetailsAndTimers) {
  JobRecord job = WithTimeout(JobWith(ES::kQueued), 10);
  std::map<std::string, std::string> details = {{"k", "v"}};
  auto o = DecideStartNext(job, Exec(ES::kQueued), details, 3, kNow);
  ASSERT_TRUE(o.status.ok());
  EXPECT_EQ(o.execution->status, ES::kInProgress);
  EXPECT_EQ(o.execution->status_details, details);
  EXPECT_EQ(o.execution->started_at, kNow);
  EXPECT_EQ(o.execution->version_number, 3);
  EXPECT_EQ(o.execution->in_progress_deadline, MinutesAfter(kNow, 10));
  EXPECT_EQ(o.execution->timeout_at, MinutesAfter(kNow, 3));
  EXPECT_EQ(o.decision.counter_deltas.queued, -1);
  EXPECT_EQ(o.decision.counter_deltas.in_progress, 1);
  EXPECT_EQ(o.decision.changed_things, std::vector<int64_t>{3});
}

TEST(StartNext, InProgressHeadComesBackUnchanged) {
  ExecutionRecord head = Exec(ES::kInProgress);
  head.e.status_details = {{"old", "1"}};
  auto o = DecideStartNext(JobWith(ES::kInProgress), head,
                           std::map<std::string, std::string>{{"new", "2"}}, 5, kNow);
  ASSERT_TRUE(o.status.ok());
  EXPECT_EQ(*o.execution, head.e);
  EXPECT_TRUE(o.decision.Empty());
}

// --- Retries (spec §3.3) ---

ExecutionRecord Retried(ES cause, int64_t number) {
  ExecutionRecord r = Exec(ES::kFailed, number, false);
  r.retry_cause = cause;
  return r;
}

TEST(Retry, RetriesUsedCountsByCause) {
  RetriesUsed u = RetriesUsedOf({Exec(ES::kFailed, 1, false), Retried(ES::kFailed, 2),
                                 Retried(ES::kTimedOut, 3), Retried(ES::kFailed, 4)});
  EXPECT_EQ(u.failed, 2);
  EXPECT_EQ(u.timed_out, 1);
}

TEST(Retry, FailureWithBudgetQueuesTheNextExecution) {
  JobRecord job = JobWith(ES::kInProgress);
  job.job.configs.retry_config = Retry({{"FAILED", 2}});
  ExecutionRecord cur = Exec(ES::kInProgress, 2);
  cur.e.retry_attempt = 1;
  cur.e.status_details = {{"x", "y"}};
  ASSERT_TRUE(MayRetry(job.job, cur, ES::kFailed));
  auto o = DecideDeviceUpdate(job, cur, Req(ES::kFailed), RetriesUsed{1, 0}, kNow);
  ASSERT_TRUE(o.status.ok());
  const Decision& d = o.decision;
  ASSERT_EQ(d.updates.size(), 1u);
  EXPECT_EQ(d.updates[0].e.status, ES::kFailed);
  EXPECT_FALSE(d.updates[0].latest);
  ASSERT_EQ(d.inserts.size(), 1u);
  const ExecutionRecord& n = d.inserts[0];
  EXPECT_TRUE(n.latest);
  EXPECT_EQ(n.e.execution_number, 3);
  EXPECT_EQ(n.e.retry_attempt, 2);
  EXPECT_EQ(n.retry_cause, ES::kFailed);
  EXPECT_EQ(n.e.status, ES::kQueued);
  EXPECT_EQ(n.e.version_number, 1);
  EXPECT_EQ(n.e.queued_at, kNow);
  EXPECT_FALSE(n.e.started_at);
  EXPECT_TRUE(n.e.status_details.empty());
  EXPECT_EQ(n.e.thing_name, "t3");
  // The thing is counted by its new latest: QUEUED, not FAILED.
  EXPECT_EQ(d.counter_deltas.in_progress, -1);
  EXPECT_EQ(d.counter_deltas.queued, 1);
  EXPECT_EQ(d.counter_deltas.failed, 0);
  ASSERT_EQ(d.execution_events.size(), 1u);  // failed, then the retry is queued
  EXPECT_EQ(d.execution_events[0].execution.e.status, ES::kFailed);
  EXPECT_EQ(d.changed_things, std::vector<int64_t>{3});
  EXPECT_FALSE(d.job);  // no completion: the retry is pending
}

TEST(Retry, BudgetsPerTypeAndShared) {
  struct Row {
    std::vector<RetryCriteria> criteria;
    ES outcome;
    RetriesUsed used;
    bool retried;
  };
  const Row rows[] = {
      {{{"FAILED", 2}}, ES::kFailed, {1, 0}, true},
      {{{"FAILED", 2}}, ES::kFailed, {2, 0}, false},    // exhausted
      {{{"FAILED", 2}}, ES::kTimedOut, {0, 0}, false},  // no criterion covers TIMED_OUT
      {{{"TIMED_OUT", 1}}, ES::kTimedOut, {0, 0}, true},
      {{{"TIMED_OUT", 1}}, ES::kTimedOut, {0, 1}, false},
      {{{"ALL", 3}}, ES::kFailed, {1, 1}, true},
      {{{"ALL", 3}}, ES::kTimedOut, {2, 1}, false},  // shared budget spent
      {{{"ALL", 5}, {"FAILED", 3}}, ES::kFailed, {3, 0}, false},
      {{{"ALL", 5}, {"FAILED", 3}}, ES::kTimedOut, {3, 1}, true},
      {{{"FAILED", 0}}, ES::kFailed, {0, 0}, false},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(std::string(ToString(row.outcome)) + " used " + std::to_string(row.used.failed) +
                 "/" + std::to_string(row.used.timed_out));
    JobRecord job = JobWith(ES::kInProgress);
    job.job.configs.retry_config = Retry(row.criteria);
    ExecutionRecord r = Exec(ES::kInProgress);
    r.e.in_progress_deadline = r.e.timeout_at = kNow;
    Decision d = row.outcome == ES::kFailed
                     ? DecideDeviceUpdate(job, r, Req(ES::kFailed), row.used, kNow).decision
                     : DecideTimeOut(job, r, row.used, kNow).decision;
    EXPECT_EQ(d.inserts.size(), row.retried ? 1u : 0u);
  }
}

TEST(Retry, RejectedIsNeverRetried) {
  JobRecord job = JobWith(ES::kInProgress);
  job.job.configs.retry_config = Retry({{"ALL", 10}});
  EXPECT_FALSE(MayRetry(job.job, Exec(ES::kInProgress), ES::kRejected));
  auto o = DecideDeviceUpdate(job, Exec(ES::kInProgress), Req(ES::kRejected), {}, kNow);
  EXPECT_TRUE(o.decision.inserts.empty());
}

TEST(Retry, OnlyTheLatestOfARunningJobIsRetried) {
  JobRecord job = JobWith(ES::kInProgress);
  job.job.configs.retry_config = Retry({{"ALL", 10}});
  EXPECT_FALSE(MayRetry(job.job, Exec(ES::kInProgress, 1, false), ES::kFailed));
  EXPECT_TRUE(DecideDeviceUpdate(job, Exec(ES::kInProgress, 1, false), Req(ES::kFailed), {}, kNow)
                  .decision.inserts.empty());
  // A job between maintenance windows retries; a canceled one does not.
  job.job.status = kJobScheduled;
  EXPECT_TRUE(MayRetry(job.job, Exec(ES::kInProgress), ES::kFailed));
  EXPECT_EQ(DecideDeviceUpdate(job, Exec(ES::kInProgress), Req(ES::kFailed), {}, kNow)
                .decision.inserts.size(),
            1u);
  job.job.status = kJobCanceled;
  EXPECT_FALSE(MayRetry(job.job, Exec(ES::kInProgress), ES::kFailed));
  EXPECT_TRUE(DecideDeviceUpdate(job, Exec(ES::kInProgress), Req(ES::kFailed), {}, kNow)
                  .decision.inserts.empty());
  job.job.status = kJobInProgress;
  job.job.configs.retry_config.reset();
  EXPECT_FALSE(MayRetry(job.job, Exec(ES::kInProgress), ES::kFailed));
}

// --- Abort (spec §4.3) ---

JobRecord WithAbort(JobRecord j, const char* type, double threshold, int32_t min_executed) {
  j.job.configs.abort_config =
      AbortConfig{{AbortCriteria{type, "CANCEL", threshold, min_executed}}};
  return j;
}

TEST(Abort, ThresholdReachedCancelsTheJobLikeANonForcedCancel) {
  // 10 things: 8 succeeded, 1 failed, 1 in progress. The failure makes 2 of 10 = 20%: inclusive.
  JobRecord job = WithAbort(Job1(), "FAILED", 20, 10);
  job.job.rollout_done = false;
  job.work.rollout = true;
  job.job.counters.succeeded = 8;
  job.job.counters.failed = 1;
  job.job.counters.in_progress = 1;
  auto o = DecideDeviceUpdate(job, Exec(ES::kInProgress), Req(ES::kFailed), {}, kNow);
  ASSERT_TRUE(o.status.ok());
  const Decision& d = o.decision;
  EXPECT_TRUE(d.job_aborted);
  ASSERT_TRUE(d.job);
  EXPECT_EQ(d.job->job.status, kJobCanceled);
  EXPECT_EQ(d.job->job.reason_code, std::string(kAbortReasonCode));
  ASSERT_TRUE(d.job->job.comment);
  EXPECT_NE(d.job->job.comment->find("criterion"), std::string::npos);
  EXPECT_FALSE(d.job->job.force_canceled);
  EXPECT_FALSE(d.job->work.rollout);
  EXPECT_TRUE(d.job->work.cancel);
  EXPECT_FALSE(d.job->work.force_cancel);
  EXPECT_EQ(d.job->job.last_updated_at, kNow);
  EXPECT_EQ(d.job->job.counters.failed, 2);
  EXPECT_EQ(d.job_events, std::vector<JobEventKind>{JobEventKind::kCancellationInProgress});
}

TEST(Abort, JustUnderTheThresholdOrMinimumDoesNotAbort) {
  JobRecord job = WithAbort(Job1(), "FAILED", 20.01, 10);
  job.job.rollout_done = false;
  job.job.counters.succeeded = 8;
  job.job.counters.failed = 1;
  job.job.counters.in_progress = 1;
  EXPECT_FALSE(DecideDeviceUpdate(job, Exec(ES::kInProgress), Req(ES::kFailed), {}, kNow)
                   .decision.job_aborted);
  job = WithAbort(job, "FAILED", 20, 11);  // 10 executed < 11
  EXPECT_FALSE(DecideDeviceUpdate(job, Exec(ES::kInProgress), Req(ES::kFailed), {}, kNow)
                   .decision.job_aborted);
  job = WithAbort(job, "FAILED", 20, 10);
  EXPECT_TRUE(DecideDeviceUpdate(job, Exec(ES::kInProgress), Req(ES::kFailed), {}, kNow)
                  .decision.job_aborted);
}

TEST(Abort, CountsAfterTheRetrySoAQueuedRetryDoesNotCount) {
  // 1 of 2 failed would be 50%, but the failure is retried: 0 failed of 1 executed.
  JobRecord job = WithAbort(Job1(), "FAILED", 50, 1);
  job.job.configs.retry_config = Retry({{"FAILED", 1}});
  job.job.counters.succeeded = 1;
  job.job.counters.in_progress = 1;
  auto o = DecideDeviceUpdate(job, Exec(ES::kInProgress), Req(ES::kFailed), {}, kNow);
  EXPECT_FALSE(o.decision.job_aborted);
  EXPECT_EQ(o.decision.inserts.size(), 1u);
  // Without budget left it counts and aborts.
  o = DecideDeviceUpdate(job, Exec(ES::kInProgress), Req(ES::kFailed), RetriesUsed{1, 0}, kNow);
  EXPECT_TRUE(o.decision.job_aborted);
}

TEST(Abort, TimeoutsCountForTimedOutAndAll) {
  for (const char* type : {"TIMED_OUT", "ALL"}) {
    JobRecord job = WithAbort(JobWith(ES::kInProgress), type, 100, 1);
    ExecutionRecord r = Exec(ES::kInProgress);
    r.e.in_progress_deadline = r.e.timeout_at = kNow;
    TimeoutOutcome o = DecideTimeOut(job, r, {}, kNow);
    EXPECT_TRUE(o.timed_out) << type;
    EXPECT_TRUE(o.decision.job_aborted) << type;
  }
}

TEST(Abort, NotEvaluatedForAJobNoLongerRunning) {
  JobRecord job = WithAbort(JobWith(ES::kInProgress, kJobCanceled), "FAILED", 0, 1);
  auto o = DecideDeviceUpdate(job, Exec(ES::kInProgress), Req(ES::kFailed), {}, kNow);
  EXPECT_FALSE(o.decision.job_aborted);
  EXPECT_FALSE(o.decision.job);
}

TEST(Abort, AScheduledJobIsAbortedToo) {
  JobRecord job = WithAbort(JobWith(ES::kInProgress, kJobScheduled), "FAILED", 100, 1);
  auto o = DecideDeviceUpdate(job, Exec(ES::kInProgress), Req(ES::kFailed), {}, kNow);
  EXPECT_TRUE(o.decision.job_aborted);
  EXPECT_EQ(o.decision.job->job.status, kJobCanceled);
}

// --- Completion (spec §3.2) ---

TEST(Completion, LastTerminalOutcomeCompletesASnapshotJob) {
  JobRecord job = JobWith(ES::kInProgress);
  job.job.counters.succeeded = 3;
  auto o = DecideDeviceUpdate(job, Exec(ES::kInProgress), Req(ES::kSucceeded), {}, kNow);
  ASSERT_TRUE(o.decision.job);
  EXPECT_EQ(o.decision.job->job.status, kJobCompleted);
  EXPECT_EQ(o.decision.job->job.completed_at, kNow);
  EXPECT_EQ(o.decision.job->job.counters.succeeded, 4);
  EXPECT_EQ(o.decision.job_events, std::vector<JobEventKind>{JobEventKind::kCompleted});
}

TEST(Completion, NotWhileRolloutPendingOrOthersRunningOrContinuous) {
  JobRecord job = JobWith(ES::kInProgress);
  job.job.rollout_done = false;
  EXPECT_FALSE(
      DecideDeviceUpdate(job, Exec(ES::kInProgress), Req(ES::kSucceeded), {}, kNow).decision.job);
  job = JobWith(ES::kInProgress);
  job.job.counters.queued = 1;
  EXPECT_FALSE(
      DecideDeviceUpdate(job, Exec(ES::kInProgress), Req(ES::kSucceeded), {}, kNow).decision.job);
  job = JobWith(ES::kInProgress);
  job.job.target_selection = "CONTINUOUS";
  EXPECT_FALSE(
      DecideDeviceUpdate(job, Exec(ES::kInProgress), Req(ES::kSucceeded), {}, kNow).decision.job);
}

// --- Timeouts (spec §4.1) ---

TEST(TimeOut, DueInProgressExecutionTimesOutWithTimersStopped) {
  JobRecord job = JobWith(ES::kInProgress);
  job.job.rollout_done = false;
  ExecutionRecord r = Exec(ES::kInProgress);
  r.e.in_progress_deadline = MinutesAfter(kNow, 5);
  r.e.step_deadline = kNow;  // the step timer is the effective one, due exactly now
  r.e.timeout_at = kNow;
  TimeoutOutcome o = DecideTimeOut(job, r, {}, kNow);
  EXPECT_TRUE(o.timed_out);
  ASSERT_EQ(o.decision.updates.size(), 1u);
  const JobExecution& e = o.decision.updates[0].e;
  EXPECT_EQ(e.status, ES::kTimedOut);
  EXPECT_EQ(e.version_number, 3);
  EXPECT_EQ(e.last_updated_at, kNow);
  EXPECT_FALSE(e.timeout_at || e.in_progress_deadline || e.step_deadline);
  EXPECT_EQ(o.decision.counter_deltas.in_progress, -1);
  EXPECT_EQ(o.decision.counter_deltas.timed_out, 1);
  ASSERT_EQ(o.decision.execution_events.size(), 1u);
  EXPECT_EQ(o.decision.changed_things, std::vector<int64_t>{3});
}

TEST(TimeOut, NotYetDueByItsTimersGetsItsStoredTimerCorrected) {
  ExecutionRecord r = Exec(ES::kInProgress);
  r.e.in_progress_deadline = MinutesAfter(kNow, 5);
  r.e.timeout_at = kNow;  // stale: disagrees with the timers
  TimeoutOutcome o = DecideTimeOut(JobWith(ES::kInProgress), r, {}, kNow);
  EXPECT_FALSE(o.timed_out);
  ASSERT_EQ(o.decision.updates.size(), 1u);
  const ExecutionRecord& u = o.decision.updates[0];
  EXPECT_EQ(u.e.status, ES::kInProgress);
  EXPECT_EQ(u.e.timeout_at, MinutesAfter(kNow, 5));
  EXPECT_EQ(u.e.version_number, 2);  // nothing a device sees
  EXPECT_EQ(u.e.last_updated_at, kT0);
  EXPECT_EQ(o.decision.counter_deltas, JobCounters{});
  EXPECT_TRUE(o.decision.execution_events.empty());
  EXPECT_TRUE(o.decision.changed_things.empty());
}

TEST(TimeOut, DueButNotInProgressGetsItsStaleTimersCleared) {
  for (ES s : {ES::kQueued, ES::kSucceeded, ES::kCanceled}) {
    ExecutionRecord r = Exec(s);
    r.e.timeout_at = r.e.in_progress_deadline = kT0;
    r.e.step_deadline = kT0;
    TimeoutOutcome o = DecideTimeOut(JobWith(s), r, {}, kNow);
    EXPECT_FALSE(o.timed_out) << ToString(s);
    ASSERT_EQ(o.decision.updates.size(), 1u);
    const ExecutionRecord& u = o.decision.updates[0];
    EXPECT_EQ(u.e.status, s);
    EXPECT_FALSE(u.e.timeout_at || u.e.in_progress_deadline || u.e.step_deadline);
    EXPECT_EQ(u.e.version_number, 2);
    EXPECT_TRUE(o.decision.execution_events.empty());
    EXPECT_FALSE(o.decision.job);
  }
}

TEST(TimeOut, TimedOutLastExecutionCompletesTheJob) {
  ExecutionRecord r = Exec(ES::kInProgress);
  r.e.in_progress_deadline = r.e.timeout_at = kT0;
  TimeoutOutcome o = DecideTimeOut(JobWith(ES::kInProgress), r, {}, kNow);
  ASSERT_TRUE(o.decision.job);
  EXPECT_EQ(o.decision.job->job.status, kJobCompleted);
}

// --- CancelJob (spec §1.2, §3.2) ---

TEST(CancelJob, InProgressJobIsCanceledAndItsExecutionsScheduledForCancel) {
  JobRecord job = Job1();
  job.work.rollout = true;
  job.work.cursor = 42;
  auto d = DecideCancelJob(job, false, std::string("R1"), std::string("why"), kNow);
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(d->job);
  const JobRecord& r = *d->job;
  EXPECT_EQ(r.job.status, kJobCanceled);
  EXPECT_EQ(r.job.reason_code, "R1");
  EXPECT_EQ(r.job.comment, "why");
  EXPECT_FALSE(r.job.force_canceled);
  EXPECT_EQ(r.job.last_updated_at, kNow);
  EXPECT_EQ(r.work, (JobWork{false, true, false, false, 0}));
  EXPECT_EQ(d->job_events, std::vector<JobEventKind>{JobEventKind::kCancellationInProgress});
  EXPECT_TRUE(d->updates.empty());  // the executions are the background work's
  EXPECT_TRUE(d->changed_things.empty());
}

TEST(CancelJob, ForceAndKeptReasonAndComment) {
  JobRecord job = Job1(kJobScheduled);
  job.job.reason_code = "OLD";
  auto d = DecideCancelJob(job, true, std::nullopt, std::nullopt, kNow);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->job->job.force_canceled);
  EXPECT_EQ(d->job->job.reason_code, "OLD");
  EXPECT_FALSE(d->job->job.comment);
  EXPECT_TRUE(d->job->work.cancel);
  EXPECT_TRUE(d->job->work.force_cancel);
}

TEST(CancelJob, CanceledAgainOnlyUpgradesToForced) {
  JobRecord job = Job1(kJobCanceled);
  auto d = DecideCancelJob(job, false, std::string("X"), std::nullopt, kNow);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->Empty());
  d = DecideCancelJob(job, true, std::nullopt, std::nullopt, kNow);
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(d->job);
  EXPECT_TRUE(d->job->job.force_canceled);
  EXPECT_EQ(d->job->work, (JobWork{false, true, true, false, 0}));
  EXPECT_TRUE(d->job_events.empty());  // the status did not change
  job.job.force_canceled = true;
  d = DecideCancelJob(job, true, std::nullopt, std::nullopt, kNow);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->Empty());
}

TEST(CancelJob, DeletingOrCompletedIsRefused) {
  auto d = DecideCancelJob(Job1(kJobDeletionInProgress), true, std::nullopt, std::nullopt, kNow);
  EXPECT_EQ(d.status().code(), Code::kInvalidRequest);
  EXPECT_EQ(d.status().message(), "job job is being deleted and cannot be canceled");
  d = DecideCancelJob(Job1(kJobCompleted), false, std::nullopt, std::nullopt, kNow);
  EXPECT_EQ(d.status().code(), Code::kInvalidRequest);
  EXPECT_EQ(d.status().message(), "job job is COMPLETED and cannot be canceled");
}

// --- DeleteJob ---

TEST(DeleteJob, TerminalJobGoesToDeletionWithOnlyThePurgeLeft) {
  for (const char* s : {kJobCompleted, kJobCanceled}) {
    JobRecord job = Job1(s);
    job.work = JobWork{true, true, true, false, 9};
    auto d = DecideDeleteJob(job, false, 3, 4, kNow);
    ASSERT_TRUE(d.ok()) << s;
    EXPECT_EQ(d->job->job.status, kJobDeletionInProgress);
    EXPECT_EQ(d->job->job.last_updated_at, kNow);
    EXPECT_EQ(d->job->work, (JobWork{false, false, false, true, 0}));
    EXPECT_EQ(d->job_events, std::vector<JobEventKind>{JobEventKind::kDeletionInProgress});
  }
}

TEST(DeleteJob, RefusalsInOrder) {
  auto d = DecideDeleteJob(Job1(kJobDeletionInProgress), true, 100, 1, kNow);
  EXPECT_EQ(d.status().code(), Code::kInvalidRequest);
  EXPECT_EQ(d.status().message(), "job job is already being deleted");
  d = DecideDeleteJob(Job1(kJobInProgress), false, 100, 1, kNow);
  EXPECT_EQ(d.status().code(), Code::kInvalidStateTransition);
  EXPECT_EQ(d.status().message(),
            "job job is IN_PROGRESS; only COMPLETED or CANCELED jobs can be deleted without force");
  d = DecideDeleteJob(Job1(kJobInProgress), true, 4, 4, kNow);  // the limit is inclusive
  EXPECT_EQ(d.status().code(), Code::kLimitExceeded);
  EXPECT_EQ(d.status().message(), "4 jobs are already being deleted; try again when one finishes");
  EXPECT_TRUE(DecideDeleteJob(Job1(kJobScheduled), true, 3, 4, kNow).ok());
}

// --- AssociateTargetsWithJob ---

TEST(AssociateTargets, NewTargetsDedupedAndRolloutResumed) {
  JobRecord job = Job1(kJobInProgress, "CONTINUOUS");
  job.job.targets = {"a", "b"};
  job.work.rollout = false;
  auto t = DecideAssociateTargets(job, {"b", "c", "c", "d"}, 4, kNow);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->added, (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(t->first, 2);
  const JobRecord& r = *t->decision.job;
  EXPECT_EQ(r.job.targets, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_TRUE(r.work.rollout);
  EXPECT_FALSE(r.job.rollout_done);
  EXPECT_EQ(r.job.last_updated_at, kNow);
  EXPECT_TRUE(t->decision.job_events.empty());
}

TEST(AssociateTargets, LimitAndJobKind) {
  JobRecord job = Job1(kJobInProgress, "CONTINUOUS");
  job.job.targets = {"a", "b"};
  auto t = DecideAssociateTargets(job, {"c", "d"}, 3, kNow);
  EXPECT_EQ(t.status().code(), Code::kLimitExceeded);
  EXPECT_EQ(t.status().message(), "a job can have at most 3 targets; this would make 4");
  t = DecideAssociateTargets(Job1(kJobInProgress, "SNAPSHOT"), {"c"}, 3, kNow);
  EXPECT_EQ(t.status().code(), Code::kInvalidRequest);
  EXPECT_EQ(t.status().message(),
            "targets can be associated only with a CONTINUOUS job that is IN_PROGRESS; job job "
            "is SNAPSHOT and IN_PROGRESS");
  t = DecideAssociateTargets(Job1(kJobScheduled, "CONTINUOUS"), {"c"}, 3, kNow);
  EXPECT_EQ(t.status().code(), Code::kInvalidRequest);
}

// --- CancelJobExecution (spec §1.3) ---

TEST(CancelExecution, QueuedAlwaysInProgressOnlyWithForceTerminalNever) {
  for (ES s : kAllExecutionStatuses) {
    for (bool force : {false, true}) {
      SCOPED_TRACE(std::string(ToString(s)) + (force ? " force" : ""));
      auto d = DecideCancelExecution(JobWith(s), Exec(s), force, std::nullopt, {}, kNow);
      const bool ok = s == ES::kQueued || (s == ES::kInProgress && force);
      if (!ok) {
        EXPECT_EQ(d.status().code(), Code::kInvalidStateTransition);
        EXPECT_EQ(d.status().message(), std::string("cannot cancel an execution that is ") +
                                            ToString(s) +
                                            (s == ES::kInProgress ? " without force" : ""));
        continue;
      }
      ASSERT_TRUE(d.ok());
      const ExecutionRecord& u = d->updates.at(0);
      EXPECT_EQ(u.e.status, ES::kCanceled);
      EXPECT_EQ(u.e.force_canceled, force);
      EXPECT_EQ(u.e.version_number, 3);
      EXPECT_EQ(d->counter_deltas.Get(s), -1);
      EXPECT_EQ(d->counter_deltas.canceled, 1);
    }
  }
}

TEST(CancelExecution, MergesDetailsStopsTimersChecksVersionAndCompletes) {
  ExecutionRecord cur = Exec(ES::kInProgress);
  cur.e.status_details = {{"a", "1"}, {"b", "2"}};
  cur.e.in_progress_deadline = cur.e.timeout_at = MinutesAfter(kNow, 1);
  cur.e.step_deadline = MinutesAfter(kNow, 2);
  auto d = DecideCancelExecution(JobWith(ES::kInProgress), cur, true, 3, {}, kNow);
  EXPECT_EQ(d.status().code(), Code::kVersionConflict);
  EXPECT_EQ(d.status().message(), "the execution is at version 2, not 3");
  d = DecideCancelExecution(JobWith(ES::kInProgress), cur, true, 2, {{"b", "x"}, {"c", "3"}}, kNow);
  ASSERT_TRUE(d.ok());
  const JobExecution& e = d->updates.at(0).e;
  EXPECT_EQ(e.status_details,
            (std::map<std::string, std::string>{{"a", "1"}, {"b", "x"}, {"c", "3"}}));
  EXPECT_FALSE(e.timeout_at || e.in_progress_deadline || e.step_deadline);
  EXPECT_EQ(e.last_updated_at, kNow);
  ASSERT_TRUE(d->job);
  EXPECT_EQ(d->job->job.status, kJobCompleted);
  EXPECT_EQ(d->execution_events.size(), 1u);
}

TEST(CancelExecution, NoRetryOrAbortFollows) {
  JobRecord job = WithAbort(JobWith(ES::kQueued), "ALL", 0, 1);
  job.job.configs.retry_config = Retry({{"ALL", 10}});
  job.job.counters.failed = 5;
  job.job.rollout_done = false;
  auto d = DecideCancelExecution(job, Exec(ES::kQueued), false, std::nullopt, {}, kNow);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->inserts.empty());
  EXPECT_FALSE(d->job_aborted);
  EXPECT_FALSE(d->job);
}

// --- DeleteJobExecution ---

TEST(DeleteExecution, TerminalOrForced) {
  for (ES s : kAllExecutionStatuses) {
    auto d = DecideDeleteExecution(JobWith(s), Exec(s), false, kNow);
    if (!IsTerminal(s)) {
      EXPECT_EQ(d.status().code(), Code::kInvalidStateTransition);
      EXPECT_EQ(d.status().message(), std::string("the execution is ") + ToString(s) +
                                          "; only terminal executions can be deleted without "
                                          "force");
      d = DecideDeleteExecution(JobWith(s), Exec(s), true, kNow);
    }
    ASSERT_TRUE(d.ok()) << ToString(s);
    ASSERT_EQ(d->deletes.size(), 1u);
    EXPECT_EQ(d->counter_deltas.Get(s), -1);
    ASSERT_EQ(d->execution_events.size(), 1u);
    EXPECT_EQ(d->execution_events[0].kind, ExecutionEventKind::kDeleted);
    EXPECT_EQ(d->changed_things, std::vector<int64_t>{3});
  }
}

TEST(DeleteExecution, NonLatestIsNotUncountedAndDeletingTheLastRunningCompletes) {
  JobRecord job = JobWith(ES::kSucceeded);
  auto d = DecideDeleteExecution(job, Exec(ES::kFailed, 1, false), false, kNow);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->counter_deltas, JobCounters{});
  EXPECT_EQ(d->job_id, 7);
  job = JobWith(ES::kQueued);
  job.job.counters.succeeded = 2;
  d = DecideDeleteExecution(job, Exec(ES::kQueued), true, kNow);
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(d->job);
  EXPECT_EQ(d->job->job.status, kJobCompleted);
}

}  // namespace
}  // namespace iotjobs::jobs
