#include "jobs/timeouts.h"

#include <gtest/gtest.h>

#include "jobs/tests/utc.h"

namespace iotjobs::jobs {
namespace {

using S = ExecutionStatus;
using testing::Min;
using testing::Utc;

TEST(TimeoutValidationTest, InProgressTimeoutIsOneToTenThousandEighty) {
  EXPECT_TRUE(ValidateInProgressTimeout(1).ok());
  EXPECT_TRUE(ValidateInProgressTimeout(10080).ok());
  for (int64_t bad : {int64_t{0}, int64_t{10081}, int64_t{-1}}) {
    Status s = ValidateInProgressTimeout(bad);
    EXPECT_EQ(s.code(), Code::kInvalidRequest) << bad;
    EXPECT_EQ(s.message(),
              "timeoutConfig.inProgressTimeoutInMinutes must be between 1 and 10080, "
              "got " +
                  std::to_string(bad));
  }
}

TEST(TimeoutValidationTest, StepTimeoutAllowsMinusOneOnlyWhereItClears) {
  EXPECT_TRUE(ValidateStepTimeout(1, false).ok());
  EXPECT_TRUE(ValidateStepTimeout(10080, false).ok());
  EXPECT_FALSE(ValidateStepTimeout(0, true).ok());
  EXPECT_FALSE(ValidateStepTimeout(10081, true).ok());
  EXPECT_FALSE(ValidateStepTimeout(-2, true).ok());
  EXPECT_TRUE(ValidateStepTimeout(-1, /*allow_clear=*/true).ok());
  Status start_next = ValidateStepTimeout(-1, /*allow_clear=*/false);
  EXPECT_EQ(start_next.message(), "stepTimeoutInMinutes must be between 1 and 10080, got -1");
  EXPECT_EQ(ValidateStepTimeout(0, true).message(),
            "stepTimeoutInMinutes must be between 1 and 10080 (or -1 to cancel the step timer), "
            "got 0");
}

// The developer guide's example: in-progress 20 min from 12:00, step timers of 7, 5 and 9 minutes
// at 12:05, 12:10 and 12:13 move the deadline 12:12 → 12:15 → 12:20 (capped).
TEST(TimersTest, GuideExample) {
  const std::optional<int64_t> in_progress = 20;
  ExecutionTimers t = TimersAfterTransition({}, S::kQueued, S::kInProgress, in_progress,
                                            std::nullopt, Utc(2024, 5, 1, 12, 0));
  EXPECT_EQ(EffectiveDeadline(t), Utc(2024, 5, 1, 12, 20));

  t = TimersAfterTransition(t, S::kInProgress, S::kInProgress, in_progress, 7,
                            Utc(2024, 5, 1, 12, 5));
  EXPECT_EQ(EffectiveDeadline(t), Utc(2024, 5, 1, 12, 12));

  t = TimersAfterTransition(t, S::kInProgress, S::kInProgress, in_progress, 5,
                            Utc(2024, 5, 1, 12, 10));
  EXPECT_EQ(EffectiveDeadline(t), Utc(2024, 5, 1, 12, 15));  // replaces, does not add

  t = TimersAfterTransition(t, S::kInProgress, S::kInProgress, in_progress, 9,
                            Utc(2024, 5, 1, 12, 13));
  EXPECT_EQ(t.step_deadline, Utc(2024, 5, 1, 12, 22));
  EXPECT_EQ(EffectiveDeadline(t), Utc(2024, 5, 1, 12, 20));  // capped by the in-progress timer

  EXPECT_FALSE(HasTimedOut(t, Utc(2024, 5, 1, 12, 19, 59, 999)));
  EXPECT_TRUE(HasTimedOut(t, Utc(2024, 5, 1, 12, 20)));
}

TEST(TimersTest, InProgressTimerStartsOnlyOnFirstEntry) {
  // QUEUED: no timer runs.
  EXPECT_EQ(EffectiveDeadline({}), std::nullopt);
  ExecutionTimers t = TimersAfterTransition({}, S::kQueued, S::kInProgress, 10, std::nullopt,
                                            Utc(2024, 5, 1, 12, 0));
  // Re-sending IN_PROGRESS (a statusDetails update) must not restart it.
  ExecutionTimers again = TimersAfterTransition(t, S::kInProgress, S::kInProgress, 10, std::nullopt,
                                                Utc(2024, 5, 1, 12, 9));
  EXPECT_EQ(again, t);
  EXPECT_EQ(EffectiveDeadline(again), Utc(2024, 5, 1, 12, 10));
}

TEST(TimersTest, NoTimeoutConfigMeansOnlyTheStepTimer) {
  ExecutionTimers t = TimersAfterTransition({}, S::kQueued, S::kInProgress, std::nullopt, 3,
                                            Utc(2024, 5, 1, 12, 0));
  EXPECT_EQ(t.in_progress_deadline, std::nullopt);
  EXPECT_EQ(EffectiveDeadline(t), Utc(2024, 5, 1, 12, 3));
  EXPECT_EQ(ApproximateSecondsBeforeTimedOut(t, Utc(2024, 5, 1, 12, 0)), 180);
}

TEST(TimersTest, MinusOneClearsTheStepTimer) {
  ExecutionTimers t =
      TimersAfterTransition({}, S::kQueued, S::kInProgress, 60, 5, Utc(2024, 5, 1, 12, 0));
  EXPECT_EQ(EffectiveDeadline(t), Utc(2024, 5, 1, 12, 5));
  t = TimersAfterTransition(t, S::kInProgress, S::kInProgress, 60, kClearStepTimer,
                            Utc(2024, 5, 1, 12, 4));
  EXPECT_EQ(t.step_deadline, std::nullopt);
  EXPECT_EQ(EffectiveDeadline(t), Utc(2024, 5, 1, 13, 0));
}

TEST(TimersTest, TerminalUpdateStopsEveryTimerAndIgnoresTheStep) {
  ExecutionTimers t =
      TimersAfterTransition({}, S::kQueued, S::kInProgress, 60, 5, Utc(2024, 5, 1, 12, 0));
  for (S terminal :
       {S::kSucceeded, S::kFailed, S::kRejected, S::kTimedOut, S::kCanceled, S::kRemoved}) {
    ExecutionTimers after =
        TimersAfterTransition(t, S::kInProgress, terminal, 60, 7, Utc(2024, 5, 1, 12, 1));
    EXPECT_EQ(after, ExecutionTimers{}) << ToString(terminal);
    EXPECT_EQ(ApproximateSecondsBeforeTimedOut(after, Utc(2024, 5, 1, 12, 1)), std::nullopt);
    EXPECT_FALSE(HasTimedOut(after, Utc(2030, 1, 1)));
  }
}

TEST(TimersTest, StepOnStartNextStartsBothTimers) {
  ExecutionTimers t =
      TimersAfterTransition({}, S::kQueued, S::kInProgress, 30, 45, Utc(2024, 5, 1, 12, 0));
  EXPECT_EQ(t.in_progress_deadline, Utc(2024, 5, 1, 12, 30));
  EXPECT_EQ(t.step_deadline, Utc(2024, 5, 1, 12, 45));
  EXPECT_EQ(EffectiveDeadline(t), Utc(2024, 5, 1, 12, 30));  // a step never extends the job's
}

TEST(TimersTest, ApproximateSecondsRoundsDownAndNeverGoesNegative) {
  ExecutionTimers t =
      TimersAfterTransition({}, S::kQueued, S::kInProgress, 20, std::nullopt, Utc(2024, 5, 1, 12));
  EXPECT_EQ(ApproximateSecondsBeforeTimedOut(t, Utc(2024, 5, 1, 12, 0)), 1200);
  EXPECT_EQ(ApproximateSecondsBeforeTimedOut(t, Utc(2024, 5, 1, 12, 19, 58, 500)), 1);
  EXPECT_EQ(ApproximateSecondsBeforeTimedOut(t, Utc(2024, 5, 1, 12, 19, 59, 1)), 0);
  EXPECT_EQ(ApproximateSecondsBeforeTimedOut(t, Utc(2024, 5, 1, 12, 25)), 0);
  EXPECT_EQ(ApproximateSecondsBeforeTimedOut({}, Utc(2024, 5, 1, 12, 0)), std::nullopt);
}

TEST(TimersTest, DeadlinesAreAbsoluteSoReevaluationGivesTheSameAnswer) {
  ExecutionTimers t = TimersAfterTransition({}, S::kQueued, S::kInProgress, 10080, std::nullopt,
                                            Utc(2024, 12, 28, 0, 0));
  EXPECT_EQ(EffectiveDeadline(t), Utc(2025, 1, 4, 0, 0));  // 7 days, across the year boundary
  EXPECT_EQ(EffectiveDeadline(t), Utc(2024, 12, 28) + Min(10080));
  // A restart re-evaluates the stored deadline; asking twice gives the same answer.
  for (int i = 0; i < 2; ++i) {
    EXPECT_FALSE(HasTimedOut(t, Utc(2025, 1, 3, 23, 59)));
    EXPECT_TRUE(HasTimedOut(t, Utc(2025, 1, 4)));
  }
}

}  // namespace
}  // namespace iotjobs::jobs
