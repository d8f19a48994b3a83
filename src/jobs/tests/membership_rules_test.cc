#include "jobs/membership_rules.h"

#include <gtest/gtest.h>

namespace iotjobs::jobs {
namespace {

const Instant kT0 = FromEpochMillis(1'700'000'000'000);
const Instant kNow = kT0 + Millis(60'000);

JobRecord Continuous(const char* status = kJobInProgress) {
  JobRecord r;
  r.id = 7;
  r.job.region = "us-east-1";
  r.job.id = "job";
  r.job.target_selection = "CONTINUOUS";
  r.job.status = status;
  r.job.last_updated_at = kT0;
  return r;
}

ExecutionRecord Exec(int64_t number, ExecutionStatus s, bool latest = true) {
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
  return r;
}

TEST(ThingJoined, NewThingGetsQueuedExecutionAtOnce) {
  JobRecord job = Continuous();
  Decision d = DecideThingJoined(job, 3, false, {}, kNow);
  ASSERT_EQ(d.inserts.size(), 1u);
  const ExecutionRecord& r = d.inserts[0];
  EXPECT_EQ(r.job, 7);
  EXPECT_EQ(r.thing, 3);
  EXPECT_TRUE(r.latest);
  EXPECT_EQ(r.e.execution_number, 1);
  EXPECT_EQ(r.e.status, ExecutionStatus::kQueued);
  EXPECT_EQ(r.e.version_number, 1);
  EXPECT_EQ(r.e.queued_at, kNow);
  EXPECT_EQ(d.counter_deltas.queued, 1);
  EXPECT_EQ(d.notified_delta, 1);
  ASSERT_TRUE(d.job);
  EXPECT_EQ(d.job->job.last_updated_at, kNow);
  EXPECT_EQ(d.job->job.notified, 1);
  EXPECT_EQ(d.job_id, 7);
  EXPECT_EQ(d.changed_things, std::vector<int64_t>{3});
  EXPECT_FALSE(d.rollout_batch);  // a joiner is outside the rollout rate
}

TEST(ThingJoined, NothingForJobsThatDoNotFollowMembership) {
  JobRecord snapshot = Continuous();
  snapshot.job.target_selection = "SNAPSHOT";
  EXPECT_TRUE(DecideThingJoined(snapshot, 3, false, {}, kNow).Empty());
  for (const char* s : {kJobCanceled, kJobCompleted, kJobScheduled, kJobDeletionInProgress}) {
    EXPECT_TRUE(DecideThingJoined(Continuous(s), 3, false, {}, kNow).Empty()) << s;
  }
}

TEST(ThingJoined, NothingWhenAnotherTargetCoversIt) {
  EXPECT_TRUE(DecideThingJoined(Continuous(), 3, true, {}, kNow).Empty());
}

TEST(ThingJoined, RunningLatestExecutionIsKept) {
  for (auto s : {ExecutionStatus::kQueued, ExecutionStatus::kInProgress}) {
    EXPECT_TRUE(DecideThingJoined(Continuous(), 3, false, {Exec(1, s)}, kNow).Empty());
  }
}

TEST(ThingJoined, TerminalLatestIsSupersededAndNumberedAfterEveryExecution) {
  JobRecord job = Continuous();
  job.job.counters.succeeded = 1;
  // Execution 3 was deleted; 2 is the latest, an older 4 is impossible but numbering must
  // follow the highest number present, not the latest's.
  std::vector<ExecutionRecord> execs = {Exec(1, ExecutionStatus::kFailed, false),
                                        Exec(4, ExecutionStatus::kCanceled, false),
                                        Exec(2, ExecutionStatus::kSucceeded, true)};
  Decision d = DecideThingJoined(job, 3, false, execs, kNow);
  ASSERT_EQ(d.updates.size(), 1u);
  EXPECT_EQ(d.updates[0].e.execution_number, 2);
  EXPECT_FALSE(d.updates[0].latest);
  EXPECT_EQ(d.updates[0].e.status, ExecutionStatus::kSucceeded);
  ASSERT_EQ(d.inserts.size(), 1u);
  EXPECT_EQ(d.inserts[0].e.execution_number, 5);
  EXPECT_EQ(d.counter_deltas.succeeded, -1);
  EXPECT_EQ(d.counter_deltas.queued, 1);
  EXPECT_TRUE(d.execution_events.empty());  // no execution reached a terminal status
  EXPECT_EQ(d.job->job.counters.succeeded, 0);
}

TEST(ThingLeft, QueuedOrInProgressLatestIsRemovedWithTimersStopped) {
  for (auto s : {ExecutionStatus::kQueued, ExecutionStatus::kInProgress}) {
    JobRecord job = Continuous();
    job.job.counters.For(s) = 1;
    ExecutionRecord latest = Exec(1, s);
    latest.e.timeout_at = latest.e.in_progress_deadline = kNow + Millis(1000);
    latest.e.step_deadline = kNow + Millis(5000);
    Decision d = DecideThingLeft(job, false, latest, kNow);
    ASSERT_EQ(d.updates.size(), 1u) << ToString(s);
    const ExecutionRecord& r = d.updates[0];
    EXPECT_EQ(r.e.status, ExecutionStatus::kRemoved);
    EXPECT_EQ(r.e.version_number, 3);
    EXPECT_EQ(r.e.last_updated_at, kNow);
    EXPECT_FALSE(r.e.timeout_at || r.e.in_progress_deadline || r.e.step_deadline);
    EXPECT_EQ(d.counter_deltas.For(s), -1);
    EXPECT_EQ(d.counter_deltas.removed, 1);
    ASSERT_EQ(d.execution_events.size(), 1u);
    EXPECT_EQ(d.execution_events[0].kind, ExecutionEventKind::kTerminal);
    EXPECT_EQ(d.changed_things, std::vector<int64_t>{3});
    EXPECT_FALSE(d.job);  // a continuous job never completes
  }
}

TEST(ThingLeft, NothingWhenStillCoveredTerminalOrNotFollowing) {
  EXPECT_TRUE(DecideThingLeft(Continuous(), true, Exec(1, ExecutionStatus::kQueued), kNow).Empty());
  EXPECT_TRUE(DecideThingLeft(Continuous(), false, std::nullopt, kNow).Empty());
  EXPECT_TRUE(
      DecideThingLeft(Continuous(), false, Exec(1, ExecutionStatus::kFailed), kNow).Empty());
  EXPECT_TRUE(
      DecideThingLeft(Continuous(kJobCanceled), false, Exec(1, ExecutionStatus::kQueued), kNow)
          .Empty());
}

TEST(ThingDeleted, RemovalCompletesASnapshotJobWithNothingLeft) {
  JobRecord job = Continuous();
  job.job.target_selection = "SNAPSHOT";
  job.job.rollout_done = true;
  job.job.counters.queued = 1;
  job.job.counters.succeeded = 4;
  Decision d = DecideThingDeleted(job, Exec(1, ExecutionStatus::kQueued), kNow);
  ASSERT_TRUE(d.job);
  EXPECT_EQ(d.job->job.status, kJobCompleted);
  EXPECT_EQ(d.job->job.completed_at, kNow);
  EXPECT_EQ(d.job->job.counters.removed, 1);
  EXPECT_EQ(d.job_events, std::vector<JobEventKind>{JobEventKind::kCompleted});
}

TEST(ThingDeleted, AppliesWhateverTheJobStatus) {
  JobRecord job = Continuous(kJobCanceled);
  Decision d = DecideThingDeleted(job, Exec(1, ExecutionStatus::kInProgress), kNow);
  ASSERT_EQ(d.updates.size(), 1u);
  EXPECT_EQ(d.updates[0].e.status, ExecutionStatus::kRemoved);
  EXPECT_FALSE(d.job);
}

TEST(ThingDeleted, SnapshotWithRolloutPendingDoesNotComplete) {
  JobRecord job = Continuous();
  job.job.target_selection = "SNAPSHOT";
  job.job.rollout_done = false;
  job.job.counters.queued = 1;
  Decision d = DecideThingDeleted(job, Exec(1, ExecutionStatus::kQueued), kNow);
  EXPECT_FALSE(d.job);
  EXPECT_TRUE(d.job_events.empty());
}

}  // namespace
}  // namespace iotjobs::jobs
