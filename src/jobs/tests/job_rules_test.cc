#include "jobs/job_rules.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace iotjobs::jobs {
namespace {

const Instant kT0 = FromEpochMillis(1'700'000'000'000);
const Instant kNow = kT0 + Millis(60'000);
constexpr int64_t kJob = 7;

// The registry and the job's executions as a transaction would show them.
class FakeSource : public RolloutSource {
 public:
  std::map<int64_t, std::vector<int64_t>> children;  // group -> child groups, in order
  std::map<int64_t, std::set<int64_t>> members;      // group -> direct member things
  std::set<int64_t> things;                          // existing things
  std::set<std::pair<int64_t, int64_t>> executions;  // (job, thing) with an execution
  std::set<int64_t> deleted_groups;                  // listing them gives nothing
  std::optional<Status> fail;                        // every call fails with it when set
  int calls = 0;
  int has_execution_calls = 0;

  Result<std::vector<int64_t>> GroupAndDescendants(int64_t group) override {
    ++calls;
    if (fail) return *fail;
    std::vector<int64_t> out;
    if (deleted_groups.count(group)) return out;
    // Breadth first: parents before children.
    out.push_back(group);
    for (size_t i = 0; i < out.size(); ++i) {
      auto it = children.find(out[i]);
      if (it != children.end()) out.insert(out.end(), it->second.begin(), it->second.end());
    }
    return out;
  }
  Result<std::vector<int64_t>> GroupMembers(int64_t group, int64_t after, int64_t limit) override {
    ++calls;
    if (fail) return *fail;
    std::vector<int64_t> out;
    const auto& m = members[group];
    for (auto it = m.upper_bound(after); it != m.end() && static_cast<int64_t>(out.size()) < limit;
         ++it) {
      out.push_back(*it);
    }
    return out;
  }
  Result<bool> ThingExists(int64_t thing) override {
    ++calls;
    if (fail) return *fail;
    return things.count(thing) > 0;
  }
  Result<bool> HasExecution(int64_t job, int64_t thing) override {
    ++calls;
    ++has_execution_calls;
    if (fail) return *fail;
    return executions.count({job, thing}) > 0;
  }

  // Adds things [from, to] to `group` (and to the registry).
  void Members(int64_t group, std::initializer_list<int64_t> ids) {
    for (int64_t id : ids) {
      members[group].insert(id);
      things.insert(id);
    }
  }
  // What a store would hold after `d` is written.
  void Write(const Decision& d) {
    for (const auto& r : d.inserts) executions.insert({r.job, r.thing});
  }
};

JobRecord Job(const char* status = kJobInProgress, const char* selection = "SNAPSHOT") {
  JobRecord r;
  r.id = kJob;
  r.job.region = "us-east-1";
  r.job.id = "job";
  r.job.target_selection = selection;
  r.job.status = status;
  r.job.created_at = kT0;
  r.job.last_updated_at = kT0;
  r.work.rollout = true;
  return r;
}

Target ThingTarget(int64_t id) { return Target{id, std::nullopt}; }
Target GroupTarget(int64_t id) { return Target{std::nullopt, id}; }

std::vector<int64_t> Created(const Decision& d) {
  std::vector<int64_t> out;
  for (const auto& r : d.inserts) out.push_back(r.thing);
  return out;
}

// Runs one release and returns it, writing its decision into `job`, `cursor` and `src` as the
// applier would.
RolloutRelease Release(JobRecord* job, const std::vector<Target>& targets, RolloutCursor* cursor,
                       int64_t max, FakeSource* src, Instant now = kNow) {
  auto r = DecideRolloutRelease(*job, targets, *cursor, max, *src, now);
  EXPECT_TRUE(r.ok()) << r.status().message();
  if (!r.ok()) return {};
  src->Write(r->decision);
  if (r->decision.job) *job = *r->decision.job;
  *cursor = r->cursor;
  return std::move(r).value();
}

// --- Pending work -------------------------------------------------------------------------------

TEST(PendingWork, RolloutOnlyWhileInProgress) {
  JobRecord j = Job();
  j.work.cancel = true;
  EXPECT_TRUE(PendingWork(j).rollout);
  for (const char* s : {kJobScheduled, kJobCanceled, kJobCompleted, kJobDeletionInProgress}) {
    j.job.status = s;
    JobWork w = PendingWork(j);
    EXPECT_FALSE(w.rollout) << s;
    EXPECT_TRUE(w.cancel) << s;  // the rest of the work is kept whatever the status
  }
  j.job.status = kJobScheduled;
  j.work.cancel = false;
  EXPECT_FALSE(PendingWork(j).Any());
}

TEST(RolloutStopped, OnlyWhenDoneAndNoRolloutWork) {
  JobRecord j = Job();
  EXPECT_FALSE(RolloutStopped(j));
  j.job.rollout_done = true;
  EXPECT_FALSE(RolloutStopped(j));  // new targets (AssociateTargets) are still to roll out
  j.work.rollout = false;
  EXPECT_TRUE(RolloutStopped(j));
}

// --- Rollout release ----------------------------------------------------------------------------

TEST(RolloutRelease, ThingTargetsInOrderUpToMax) {
  FakeSource src;
  src.things = {1, 2, 3, 4, 5};
  JobRecord job = Job();
  job.job.counters.queued = 2;  // say, from continuous joiners
  job.job.notified = 2;
  const std::vector<Target> targets = {ThingTarget(5), ThingTarget(2), ThingTarget(4),
                                       ThingTarget(1), ThingTarget(3)};
  RolloutCursor cursor;
  RolloutRelease r = Release(&job, targets, &cursor, 3, &src);
  EXPECT_EQ(r.created, 3);
  EXPECT_EQ(Created(r.decision), (std::vector<int64_t>{5, 2, 4}));
  EXPECT_EQ(r.decision.changed_things, (std::vector<int64_t>{5, 2, 4}));
  EXPECT_EQ(r.cursor.target_idx, 3);
  EXPECT_EQ(r.decision.job_id, kJob);
  EXPECT_EQ(r.decision.counter_deltas.queued, 3);
  EXPECT_EQ(r.decision.counter_deltas, (JobCounters{.queued = 3}));
  EXPECT_EQ(r.decision.notified_delta, 3);
  ASSERT_TRUE(r.decision.rollout_batch);
  EXPECT_EQ(r.decision.rollout_batch->at, kNow);
  EXPECT_EQ(r.decision.rollout_batch->count, 3);
  ASSERT_TRUE(r.decision.job);
  EXPECT_EQ(r.decision.job->job.counters.queued, 5);  // after the deltas, for events
  EXPECT_EQ(r.decision.job->job.notified, 5);
  EXPECT_EQ(r.decision.job->job.last_updated_at, kNow);
  EXPECT_FALSE(r.decision.job->job.rollout_done);
  EXPECT_TRUE(r.decision.job->work.rollout);
  EXPECT_TRUE(r.decision.job_events.empty());
  for (const auto& e : r.decision.inserts) {
    EXPECT_EQ(e.job, kJob);
    EXPECT_TRUE(e.latest);
    EXPECT_FALSE(e.retry_cause);
    EXPECT_EQ(e.e.region, "us-east-1");
    EXPECT_EQ(e.e.job_id, "job");
    EXPECT_EQ(e.e.execution_number, 1);
    EXPECT_EQ(e.e.status, ExecutionStatus::kQueued);
    EXPECT_EQ(e.e.version_number, 1);
    EXPECT_EQ(e.e.queued_at, kNow);
    EXPECT_EQ(e.e.last_updated_at, kNow);
    EXPECT_FALSE(e.e.started_at);
    EXPECT_FALSE(e.e.timeout_at);
  }

  // The next release resumes after the third target and finishes the rollout.
  const Instant later = kNow + Millis(1000);
  r = Release(&job, targets, &cursor, 3, &src, later);
  EXPECT_EQ(Created(r.decision), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(r.cursor.target_idx, 5);
  ASSERT_TRUE(r.decision.job);
  EXPECT_TRUE(r.decision.job->job.rollout_done);
  EXPECT_FALSE(r.decision.job->work.rollout);
  EXPECT_EQ(r.decision.job->job.counters.queued, 7);
  EXPECT_EQ(r.decision.job->job.notified, 7);
  EXPECT_EQ(r.decision.job->job.status, kJobInProgress);  // QUEUED executions are left
  ASSERT_TRUE(r.decision.rollout_batch);
  EXPECT_EQ(r.decision.rollout_batch->at, later);
  EXPECT_EQ(r.decision.rollout_batch->count, 2);
}

TEST(RolloutRelease, NestedGroupsWalkedParentsFirstInMemberOrderAcrossReleases) {
  FakeSource src;
  src.children = {{10, {11}}, {11, {12}}};
  src.Members(10, {1, 5, 9});
  src.Members(11, {2, 6});
  src.Members(12, {3, 7, 8});
  JobRecord job = Job();
  const std::vector<Target> targets = {GroupTarget(10)};
  RolloutCursor cursor;
  std::vector<std::vector<int64_t>> releases;
  std::vector<RolloutCursor> cursors;
  for (int i = 0; i < 10 && !job.job.rollout_done; ++i) {
    RolloutRelease r = Release(&job, targets, &cursor, 2, &src);
    releases.push_back(Created(r.decision));
    cursors.push_back(r.cursor);
    if (i == 0) {
      // The groups are listed when the target's turn comes; a group added later is not walked.
      src.children[12].push_back(13);
      src.Members(13, {4});
    }
  }
  EXPECT_EQ(releases, (std::vector<std::vector<int64_t>>{{1, 5}, {9, 2}, {6, 3}, {7, 8}, {}}));
  EXPECT_EQ(cursors[0], (RolloutCursor{0, {10, 11, 12}, 0, 5}));
  EXPECT_EQ(cursors[1], (RolloutCursor{0, {10, 11, 12}, 1, 2}));
  EXPECT_EQ(cursors[2], (RolloutCursor{0, {10, 11, 12}, 2, 3}));
  EXPECT_EQ(cursors[3], (RolloutCursor{0, {10, 11, 12}, 2, 8}));
  EXPECT_EQ(cursors[4], (RolloutCursor{1, {}, 0, 0}));
  EXPECT_TRUE(job.job.rollout_done);
  EXPECT_FALSE(job.work.rollout);
  EXPECT_EQ(job.job.counters.queued, 8);
  EXPECT_EQ(job.job.notified, 8);
}

TEST(RolloutRelease, ExactlyMaxLeftInAGroupFinishesOnTheNextRelease) {
  FakeSource src;
  src.Members(10, {1, 2, 3});
  JobRecord job = Job();
  RolloutCursor cursor;
  RolloutRelease r = Release(&job, {GroupTarget(10)}, &cursor, 3, &src);
  EXPECT_EQ(r.created, 3);
  EXPECT_FALSE(job.job.rollout_done);  // the walk stopped at max, before seeing the group's end
  r = Release(&job, {GroupTarget(10)}, &cursor, 3, &src, kNow + Millis(5));
  EXPECT_EQ(r.created, 0);
  EXPECT_FALSE(r.decision.rollout_batch);  // nothing created: no batch in the pacing history
  EXPECT_EQ(r.decision.notified_delta, 0);
  ASSERT_TRUE(r.decision.job);
  EXPECT_TRUE(r.decision.job->job.rollout_done);
  EXPECT_EQ(r.decision.job->job.last_updated_at, kNow);  // from the first release only
}

TEST(RolloutRelease, ExactlyMaxThingTargetsLeftFinishesTheRollout) {
  FakeSource src;
  src.things = {1, 2};
  JobRecord job = Job();
  RolloutCursor cursor;
  RolloutRelease r = Release(&job, {ThingTarget(1), ThingTarget(2)}, &cursor, 2, &src);
  EXPECT_EQ(r.created, 2);
  EXPECT_TRUE(job.job.rollout_done);
}

TEST(RolloutRelease, MaxOneWalksOneExecutionAtATime) {
  FakeSource src;
  src.Members(10, {4, 8});
  src.things.insert(2);
  JobRecord job = Job();
  RolloutCursor cursor;
  const std::vector<Target> targets = {ThingTarget(2), GroupTarget(10)};
  std::vector<int64_t> order;
  for (int i = 0; i < 10 && !job.job.rollout_done; ++i) {
    RolloutRelease r = Release(&job, targets, &cursor, 1, &src);
    EXPECT_LE(r.created, 1);
    for (int64_t t : Created(r.decision)) order.push_back(t);
  }
  EXPECT_EQ(order, (std::vector<int64_t>{2, 4, 8}));
  EXPECT_TRUE(job.job.rollout_done);
}

TEST(RolloutRelease, MaxZeroCreatesNothing) {
  FakeSource src;
  src.things = {1};
  JobRecord job = Job();
  RolloutCursor cursor;
  RolloutRelease r = Release(&job, {ThingTarget(1)}, &cursor, 0, &src);
  EXPECT_EQ(r.created, 0);
  EXPECT_TRUE(r.decision.Empty());
  EXPECT_EQ(r.cursor, RolloutCursor{});
}

TEST(RolloutRelease, AThingCoveredTwiceGetsOneExecution) {
  FakeSource src;
  src.children = {{10, {11}}};
  src.Members(10, {1, 2, 3});
  src.Members(11, {2, 4});  // 2 is in the group and its child
  JobRecord job = Job();
  RolloutCursor cursor;
  // Thing 3 is a target of its own, then covered by the group again; group 10 is targeted twice.
  const std::vector<Target> targets = {ThingTarget(3), GroupTarget(10), GroupTarget(10)};
  RolloutRelease r = Release(&job, targets, &cursor, 100, &src);
  EXPECT_EQ(Created(r.decision), (std::vector<int64_t>{3, 1, 2, 4}));
  EXPECT_EQ(r.created, 4);
  EXPECT_EQ(r.decision.counter_deltas.queued, 4);
  EXPECT_EQ(r.decision.notified_delta, 4);
  EXPECT_TRUE(job.job.rollout_done);
}

TEST(RolloutRelease, DuplicatesAcrossReleasesAndExistingExecutionsAreSkippedWithinMax) {
  FakeSource src;
  src.Members(10, {1, 2, 3, 4, 5, 6});
  src.executions = {
      {kJob, 2}, {kJob, 3}, {kJob + 1, 4}};           // 2 and 3 joined earlier; 4 of another job
  JobRecord job = Job(kJobInProgress, "CONTINUOUS");  // joiners exist only for continuous jobs
  RolloutCursor cursor;
  // Skipped members do not count against max: the release goes on to create max.
  RolloutRelease r = Release(&job, {GroupTarget(10)}, &cursor, 3, &src);
  EXPECT_EQ(Created(r.decision), (std::vector<int64_t>{1, 4, 5}));
  EXPECT_EQ(r.cursor.last_thing, 5);
  r = Release(&job, {GroupTarget(10), ThingTarget(1)}, &cursor, 3, &src);
  EXPECT_EQ(Created(r.decision), (std::vector<int64_t>{6}));  // 1 already has one from release 1
  EXPECT_TRUE(job.job.rollout_done);
  EXPECT_EQ(job.job.notified, 4);
}

TEST(RolloutRelease, DeletedThingTargetGetsNothing) {
  FakeSource src;
  src.things = {2};  // thing 1 was deleted after the job was created
  JobRecord job = Job();
  job.job.counters.queued = 1;  // an earlier execution is still QUEUED: no completion
  RolloutCursor cursor;
  RolloutRelease r = Release(&job, {ThingTarget(1), ThingTarget(2)}, &cursor, 10, &src);
  EXPECT_EQ(Created(r.decision), (std::vector<int64_t>{2}));
  EXPECT_EQ(r.cursor.target_idx, 2);
  EXPECT_TRUE(job.job.rollout_done);
  EXPECT_EQ(job.job.status, kJobInProgress);
}

TEST(RolloutRelease, DeletedGroupTargetIsPassedOver) {
  FakeSource src;
  src.deleted_groups = {10};
  src.things = {1};
  JobRecord job = Job();
  RolloutCursor cursor;
  RolloutRelease r = Release(&job, {GroupTarget(10), ThingTarget(1)}, &cursor, 10, &src);
  EXPECT_EQ(Created(r.decision), (std::vector<int64_t>{1}));
  EXPECT_TRUE(job.job.rollout_done);
}

TEST(RolloutRelease, SnapshotJobWithNothingToCreateCompletes) {
  FakeSource src;  // every target thing is gone
  JobRecord job = Job();
  RolloutCursor cursor;
  RolloutRelease r = Release(&job, {ThingTarget(1)}, &cursor, 10, &src);
  EXPECT_EQ(r.created, 0);
  ASSERT_TRUE(r.decision.job);
  EXPECT_EQ(r.decision.job->job.status, kJobCompleted);
  EXPECT_EQ(r.decision.job->job.completed_at, kNow);
  EXPECT_EQ(r.decision.job->job.last_updated_at, kNow);
  EXPECT_TRUE(r.decision.job->job.rollout_done);
  EXPECT_EQ(r.decision.job_events, std::vector<JobEventKind>{JobEventKind::kCompleted});
  EXPECT_FALSE(r.decision.rollout_batch);

  // No targets at all: done, and complete, at the first release.
  JobRecord empty = Job();
  RolloutCursor c2;
  r = Release(&empty, {}, &c2, 10, &src);
  EXPECT_EQ(empty.job.status, kJobCompleted);
}

TEST(RolloutRelease, SnapshotJobWhoseExecutionsAreAllTerminalCompletesWhenTheRolloutEnds) {
  FakeSource src;
  src.Members(10, {1, 2});
  // Both already finished: 1 through the thing target before the group's turn came, 2 likewise
  // through a second thing target.
  src.executions = {{kJob, 1}, {kJob, 2}};
  JobRecord job = Job();
  job.job.counters.succeeded = 2;
  RolloutCursor cursor{2, {}, 0, 0};
  Release(&job, {ThingTarget(1), ThingTarget(2), GroupTarget(10)}, &cursor, 5, &src);
  EXPECT_EQ(job.job.status, kJobCompleted);
}

// A snapshot job whose one target is a group meets each thing once (a thing is in one group per
// hierarchy) and nothing else gives its things executions: the store is not asked, per thing,
// whether one exists (it doubled the cost of a release: BENCHMARKS.md, fleet scale).
TEST(RolloutRelease, OneGroupTargetOfASnapshotJobAsksNothingPerThing) {
  FakeSource src;
  src.Members(10, {1, 2, 3});
  src.Members(11, {4});
  src.children[10] = {11};
  JobRecord job = Job();
  RolloutCursor cursor;
  RolloutRelease r = Release(&job, {GroupTarget(10)}, &cursor, 10, &src);
  EXPECT_EQ(Created(r.decision), (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(src.has_execution_calls, 0);
  // Two targets, or a continuous job: each thing is checked.
  JobRecord two = Job();
  RolloutCursor c2;
  src.has_execution_calls = 0;
  Release(&two, {GroupTarget(10), ThingTarget(1)}, &c2, 10, &src);
  EXPECT_GT(src.has_execution_calls, 0);
  JobRecord continuous = Job(kJobInProgress, "CONTINUOUS");
  RolloutCursor c3;
  src.has_execution_calls = 0;
  Release(&continuous, {GroupTarget(10)}, &c3, 10, &src);
  EXPECT_GT(src.has_execution_calls, 0);
}

TEST(RolloutRelease, ContinuousJobNeverCompletes) {
  FakeSource src;
  JobRecord job = Job(kJobInProgress, "CONTINUOUS");
  RolloutCursor cursor;
  RolloutRelease r = Release(&job, {GroupTarget(10)}, &cursor, 10, &src);
  EXPECT_TRUE(job.job.rollout_done);
  EXPECT_EQ(job.job.status, kJobInProgress);
  EXPECT_TRUE(r.decision.job_events.empty());
}

TEST(RolloutRelease, OnlyAnInProgressJobWithRolloutWorkReleases) {
  FakeSource src;
  src.things = {1};
  const RolloutCursor at{0, {}, 0, 0};
  for (const char* s : {kJobScheduled, kJobCanceled, kJobCompleted, kJobDeletionInProgress}) {
    auto r = DecideRolloutRelease(Job(s), {ThingTarget(1)}, at, 10, src, kNow);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->decision.Empty()) << s;
    EXPECT_EQ(r->created, 0) << s;
    EXPECT_EQ(r->cursor, at) << s;
  }
  JobRecord stopped = Job();
  stopped.work.rollout = false;  // canceled, or STOP_ROLLOUT, since the scheduler read it
  auto r = DecideRolloutRelease(stopped, {ThingTarget(1)}, at, 10, src, kNow);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->decision.Empty());
  EXPECT_EQ(src.calls, 0);
}

TEST(RolloutRelease, SourceErrorsAreReturned) {
  FakeSource src;
  src.things = {1};
  src.fail = Status::Unavailable("disk");
  auto r = DecideRolloutRelease(Job(), {ThingTarget(1)}, RolloutCursor{}, 10, src, kNow);
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  r = DecideRolloutRelease(Job(), {GroupTarget(10)}, RolloutCursor{}, 10, src, kNow);
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
}

TEST(RolloutRelease, ManyMembersExactCounts) {
  FakeSource src;
  for (int64_t t = 1; t <= 5000; ++t) src.Members(t % 2 ? 10 : 11, {t});
  src.children = {{10, {11}}};
  JobRecord job = Job();
  RolloutCursor cursor;
  int64_t total = 0, releases = 0;
  while (!job.job.rollout_done && releases < 100) {
    RolloutRelease r = Release(&job, {GroupTarget(10)}, &cursor, 700, &src);
    EXPECT_TRUE(r.created == 700 || job.job.rollout_done);
    total += r.created;
    ++releases;
  }
  EXPECT_EQ(total, 5000);
  EXPECT_EQ(job.job.counters.queued, 5000);
  EXPECT_EQ(job.job.notified, 5000);
  EXPECT_EQ(src.executions.size(), 5000u);
  EXPECT_EQ(releases, 8);  // 7 full releases and one of 100 that reaches the end
}

// --- Cancel batches -----------------------------------------------------------------------------

ExecutionRecord Exec(int64_t thing, int64_t number, ExecutionStatus s, bool latest = true) {
  ExecutionRecord r;
  r.job = kJob;
  r.thing = thing;
  r.latest = latest;
  r.e.region = "us-east-1";
  r.e.job_id = "job";
  r.e.thing_name = "t" + std::to_string(thing);
  r.e.execution_number = number;
  r.e.status = s;
  r.e.version_number = 3;
  r.e.queued_at = kT0;
  r.e.last_updated_at = kT0;
  r.e.status_details = {{"k", "v"}};
  return r;
}

JobRecord Canceling(bool force) {
  JobRecord j = Job(kJobCanceled);
  j.work = JobWork{};
  j.work.cancel = true;
  j.work.force_cancel = force;
  return j;
}

TEST(CancelBatch, QueuedLatestExecutionsAreCanceled) {
  JobRecord job = Canceling(false);
  job.job.counters = JobCounters{.queued = 2, .in_progress = 1, .succeeded = 1};
  ExecutionRecord q = Exec(1, 1, ExecutionStatus::kQueued);
  ExecutionRecord ip = Exec(2, 1, ExecutionStatus::kInProgress);
  ip.e.timeout_at = kNow;
  ExecutionRecord done = Exec(3, 1, ExecutionStatus::kSucceeded);
  ExecutionRecord q2 = Exec(4, 2, ExecutionStatus::kQueued);
  WorkBatch b = DecideCancelBatch(job, {q, ip, done, q2}, 10, kNow);
  EXPECT_EQ(b.touched, 2);
  const Decision& d = b.decision;
  ASSERT_EQ(d.updates.size(), 2u);
  for (const auto& u : d.updates) {
    EXPECT_EQ(u.e.status, ExecutionStatus::kCanceled);
    EXPECT_EQ(u.e.version_number, 4);
    EXPECT_EQ(u.e.last_updated_at, kNow);
    EXPECT_FALSE(u.e.force_canceled);
    EXPECT_EQ(u.e.status_details, (std::map<std::string, std::string>{{"k", "v"}}));
  }
  EXPECT_EQ(d.updates[0].thing, 1);
  EXPECT_EQ(d.updates[1].thing, 4);
  EXPECT_EQ(d.updates[1].e.execution_number, 2);
  EXPECT_EQ(d.counter_deltas, (JobCounters{.queued = -2, .canceled = 2}));
  ASSERT_EQ(d.execution_events.size(), 2u);
  EXPECT_EQ(d.execution_events[0].kind, ExecutionEventKind::kTerminal);
  EXPECT_EQ(d.execution_events[0].execution, d.updates[0]);
  EXPECT_EQ(d.changed_things, (std::vector<int64_t>{1, 4}));
  ASSERT_TRUE(d.job);
  EXPECT_EQ(d.job->work.cursor, 4);
  EXPECT_TRUE(d.job->work.cancel);
  EXPECT_EQ(d.job->job.counters.canceled, 2);
  EXPECT_EQ(d.job->job.last_updated_at, kT0);  // the job was updated when it was canceled
  EXPECT_TRUE(d.job_events.empty());
}

TEST(CancelBatch, ForceAlsoCancelsInProgressAndMarksThem) {
  JobRecord job = Canceling(true);
  job.job.counters = JobCounters{.queued = 1, .in_progress = 1};
  ExecutionRecord ip = Exec(2, 1, ExecutionStatus::kInProgress);
  ip.e.timeout_at = ip.e.in_progress_deadline = kNow + Millis(5000);
  WorkBatch b = DecideCancelBatch(job, {Exec(1, 1, ExecutionStatus::kQueued), ip}, 10, kNow);
  EXPECT_EQ(b.touched, 2);
  ASSERT_EQ(b.decision.updates.size(), 2u);
  EXPECT_FALSE(b.decision.updates[0].e.force_canceled);
  const ExecutionRecord& u = b.decision.updates[1];
  EXPECT_EQ(u.e.status, ExecutionStatus::kCanceled);
  EXPECT_TRUE(u.e.force_canceled);
  EXPECT_FALSE(u.e.timeout_at);  // no timer fires for it any more
  EXPECT_EQ(b.decision.counter_deltas,
            (JobCounters{.queued = -1, .in_progress = -1, .canceled = 2}));
}

TEST(CancelBatch, OlderExecutionsAndTerminalOnesAreLeft) {
  JobRecord job = Canceling(true);
  WorkBatch b = DecideCancelBatch(
      job,
      {Exec(1, 1, ExecutionStatus::kQueued, /*latest=*/false), Exec(1, 2, ExecutionStatus::kFailed),
       Exec(2, 1, ExecutionStatus::kRemoved)},
      10, kNow);
  EXPECT_TRUE(b.decision.updates.empty());
  EXPECT_EQ(b.touched, 1);  // a batch was walked: come back for the next one
  ASSERT_TRUE(b.decision.job);
  EXPECT_EQ(b.decision.job->work.cursor, 2);
  EXPECT_EQ(b.decision.counter_deltas, JobCounters{});
}

TEST(CancelBatch, BatchIsTheFirstMaxRowsAndTheRestOfTheirLastThing) {
  JobRecord job = Canceling(false);
  const std::vector<ExecutionRecord> rows = {
      Exec(1, 1, ExecutionStatus::kFailed, false), Exec(1, 2, ExecutionStatus::kFailed, false),
      Exec(1, 3, ExecutionStatus::kQueued), Exec(2, 1, ExecutionStatus::kQueued),
      Exec(3, 1, ExecutionStatus::kQueued)};
  // max 2: the first two rows are thing 1's; the batch is all of thing 1.
  WorkBatch b = DecideCancelBatch(job, rows, 2, kNow);
  ASSERT_EQ(b.decision.updates.size(), 1u);
  EXPECT_EQ(b.decision.updates[0].thing, 1);
  EXPECT_EQ(b.decision.updates[0].e.execution_number, 3);
  EXPECT_EQ(b.decision.job->work.cursor, 1);
  // max 4: things 1 and 2.
  b = DecideCancelBatch(job, rows, 4, kNow);
  EXPECT_EQ(b.touched, 2);
  EXPECT_EQ(b.decision.job->work.cursor, 2);
  // max 1: still the whole of thing 1.
  b = DecideCancelBatch(job, rows, 1, kNow);
  EXPECT_EQ(b.touched, 1);
  EXPECT_EQ(b.decision.job->work.cursor, 1);
}

TEST(CancelBatch, NoneLeftEndsTheWorkWithTheCanceledEvent) {
  JobRecord job = Canceling(true);
  job.work.cursor = 42;
  WorkBatch b = DecideCancelBatch(job, {}, 10, kNow);
  EXPECT_EQ(b.touched, 0);
  ASSERT_TRUE(b.decision.job);
  EXPECT_EQ(b.decision.job->work, JobWork{});
  EXPECT_EQ(b.decision.job->job.status, kJobCanceled);
  EXPECT_EQ(b.decision.job_events, std::vector<JobEventKind>{JobEventKind::kCanceled});
  EXPECT_TRUE(b.decision.updates.empty());

  // Other work is kept.
  job.work.rollout = true;
  b = DecideCancelBatch(job, {}, 10, kNow);
  EXPECT_TRUE(b.decision.job->work.rollout);
}

TEST(CancelBatch, CanceledEventOnlyForACanceledJob) {
  JobRecord job = Canceling(false);
  job.job.status = kJobInProgress;  // (not a state the service makes; the trigger's condition)
  WorkBatch b = DecideCancelBatch(job, {}, 10, kNow);
  EXPECT_TRUE(b.decision.job_events.empty());
  EXPECT_FALSE(b.decision.job->work.cancel);
}

TEST(CancelBatch, NothingWithoutCancelWork) {
  JobRecord job = Job(kJobCanceled);
  job.work = JobWork{};
  WorkBatch b = DecideCancelBatch(job, {Exec(1, 1, ExecutionStatus::kQueued)}, 10, kNow);
  EXPECT_TRUE(b.decision.Empty());
  EXPECT_EQ(b.touched, 0);
}

// --- Purge batches ------------------------------------------------------------------------------

JobRecord Deleting() {
  JobRecord j = Job(kJobDeletionInProgress);
  j.work = JobWork{};
  j.work.deletion = true;
  j.job.counters = JobCounters{.queued = 2, .succeeded = 1};
  return j;
}

TEST(PurgeBatch, DeletesTheBatchWithEventsCountersKept) {
  JobRecord job = Deleting();
  const std::vector<ExecutionRecord> rows = {
      Exec(1, 1, ExecutionStatus::kFailed, false), Exec(1, 2, ExecutionStatus::kSucceeded),
      Exec(2, 1, ExecutionStatus::kQueued), Exec(3, 1, ExecutionStatus::kQueued)};
  WorkBatch b = DecidePurgeBatch(job, rows, 2);  // thing 1's two rows
  EXPECT_EQ(b.touched, 2);
  b = DecidePurgeBatch(job, rows, 3);  // things 1 and 2
  EXPECT_EQ(b.touched, 3);
  const Decision& d = b.decision;
  ASSERT_EQ(d.deletes.size(), 3u);
  EXPECT_EQ(d.deletes[0], rows[0]);
  EXPECT_EQ(d.deletes[2], rows[2]);
  ASSERT_EQ(d.execution_events.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(d.execution_events[i].kind, ExecutionEventKind::kDeleted);
    EXPECT_EQ(d.execution_events[i].execution, rows[i]);
  }
  EXPECT_EQ(d.changed_things, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(d.counter_deltas, JobCounters{});
  EXPECT_FALSE(d.job);
  EXPECT_FALSE(d.purge_job);
  EXPECT_TRUE(d.job_events.empty());
  EXPECT_EQ(d.job_id, kJob);
}

TEST(PurgeBatch, NoneLeftPurgesTheJobWithTheDeletedEvent) {
  JobRecord job = Deleting();
  WorkBatch b = DecidePurgeBatch(job, {}, 10);
  EXPECT_EQ(b.touched, 0);
  EXPECT_TRUE(b.decision.purge_job);
  ASSERT_TRUE(b.decision.job);
  EXPECT_EQ(*b.decision.job, job);  // the job as it was, for the event
  EXPECT_EQ(b.decision.job_events, std::vector<JobEventKind>{JobEventKind::kDeleted});
}

TEST(PurgeBatch, NothingForAJobNotBeingDeleted) {
  EXPECT_TRUE(DecidePurgeBatch(Canceling(true), {}, 10).decision.Empty());
}

// --- Schedules ----------------------------------------------------------------------------------

TEST(ScheduledState, MovesBetweenScheduledAndInProgress) {
  JobRecord job = Job(kJobScheduled);
  Decision d = DecideScheduledState(job, kJobInProgress, false, kNow);
  ASSERT_TRUE(d.job);
  EXPECT_EQ(d.job->job.status, kJobInProgress);
  EXPECT_EQ(d.job->job.last_updated_at, kNow);
  EXPECT_TRUE(d.job->work.rollout);
  EXPECT_TRUE(d.job_events.empty());

  d = DecideScheduledState(Job(kJobInProgress), kJobScheduled, false, kNow);
  ASSERT_TRUE(d.job);
  EXPECT_EQ(d.job->job.status, kJobScheduled);
  EXPECT_TRUE(d.job_events.empty());
}

TEST(ScheduledState, SameStatusIsANoOp) {
  EXPECT_TRUE(DecideScheduledState(Job(kJobInProgress), kJobInProgress, false, kNow).Empty());
  EXPECT_TRUE(DecideScheduledState(Job(kJobScheduled), kJobScheduled, false, kNow).Empty());
}

TEST(ScheduledState, OtherStatusesAreNotMoved) {
  for (const char* s : {kJobCanceled, kJobCompleted, kJobDeletionInProgress}) {
    EXPECT_TRUE(DecideScheduledState(Job(s), kJobInProgress, true, kNow).Empty()) << s;
  }
}

TEST(ScheduledState, StopRolloutEndsTheRolloutForGoodAndMayComplete) {
  JobRecord job = Job(kJobInProgress);
  job.job.counters.succeeded = 3;
  Decision d = DecideScheduledState(job, kJobInProgress, true, kNow);
  ASSERT_TRUE(d.job);
  EXPECT_TRUE(d.job->job.rollout_done);
  EXPECT_FALSE(d.job->work.rollout);
  EXPECT_EQ(d.job->job.status, kJobCompleted);  // nothing QUEUED or IN_PROGRESS left
  EXPECT_EQ(d.job->job.completed_at, kNow);
  EXPECT_EQ(d.job_events, std::vector<JobEventKind>{JobEventKind::kCompleted});

  job.job.counters.queued = 1;
  d = DecideScheduledState(job, kJobInProgress, true, kNow);
  ASSERT_TRUE(d.job);
  EXPECT_EQ(d.job->job.status, kJobInProgress);
  EXPECT_EQ(d.job->job.last_updated_at, kT0);  // the status did not change
  EXPECT_TRUE(RolloutStopped(*d.job));

  // Stopped while moving to SCHEDULED (a window closing at endTime): no completion there.
  job.job.counters.queued = 0;
  d = DecideScheduledState(job, kJobScheduled, true, kNow);
  EXPECT_EQ(d.job->job.status, kJobScheduled);
  EXPECT_TRUE(d.job_events.empty());

  // Stopping a stopped rollout again changes nothing.
  JobRecord stopped = job;
  stopped.job.counters.queued = 1;
  stopped.work.rollout = false;
  stopped.job.rollout_done = true;
  EXPECT_TRUE(DecideScheduledState(stopped, kJobInProgress, true, kNow).Empty());
}

}  // namespace
}  // namespace iotjobs::jobs
