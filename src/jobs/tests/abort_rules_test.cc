#include "jobs/abort_rules.h"

#include <gtest/gtest.h>

namespace iotjobs::jobs {
namespace {

AbortCriteria Criterion(const std::string& type, double threshold, int32_t min_executed) {
  return AbortCriteria{type, "CANCEL", threshold, min_executed};
}

AbortConfig Config(std::vector<AbortCriteria> list) { return AbortConfig{std::move(list)}; }

TerminalCounts Counts(int64_t succeeded, int64_t failed, int64_t rejected = 0,
                      int64_t timed_out = 0) {
  TerminalCounts c;
  c.succeeded = succeeded;
  c.failed = failed;
  c.rejected = rejected;
  c.timed_out = timed_out;
  return c;
}

TEST(AbortRulesTest, ExactlyAtTheThresholdTripsJustUnderDoesNot) {
  const AbortConfig c = Config({Criterion("FAILED", 10, 100)});
  EXPECT_TRUE(EvaluateAbort(c, Counts(90, 10)));     // 10.0%
  EXPECT_FALSE(EvaluateAbort(c, Counts(91, 9)));     // 9.0%
  EXPECT_FALSE(EvaluateAbort(c, Counts(901, 100)));  // 9.99%
  EXPECT_TRUE(EvaluateAbort(c, Counts(900, 100)));   // 10.0%
}

TEST(AbortRulesTest, TwoDecimalThresholdsCompareExactly) {
  // 1 of 3 is 33.333…%: it reaches 33.33 but not 33.34.
  EXPECT_TRUE(EvaluateAbort(Config({Criterion("FAILED", 33.33, 3)}), Counts(2, 1)));
  EXPECT_FALSE(EvaluateAbort(Config({Criterion("FAILED", 33.34, 3)}), Counts(2, 1)));
  // 0.01% of 10,000 is exactly 1.
  EXPECT_TRUE(EvaluateAbort(Config({Criterion("FAILED", 0.01, 1)}), Counts(9999, 1)));
  // 1 of 10,001 is just under 0.01%.
  EXPECT_FALSE(EvaluateAbort(Config({Criterion("FAILED", 0.01, 1)}), Counts(10000, 1)));
  EXPECT_TRUE(EvaluateAbort(Config({Criterion("FAILED", 100, 1)}), Counts(0, 5)));
  EXPECT_FALSE(EvaluateAbort(Config({Criterion("FAILED", 100, 1)}), Counts(1, 5)));
}

TEST(AbortRulesTest, MinimumExecutedBoundary) {
  const AbortConfig c = Config({Criterion("FAILED", 50, 100)});
  EXPECT_FALSE(EvaluateAbort(c, Counts(0, 99)));  // 100% failed, but only 99 executed
  EXPECT_TRUE(EvaluateAbort(c, Counts(0, 100)));
  EXPECT_TRUE(EvaluateAbort(c, Counts(50, 50)));
}

TEST(AbortRulesTest, CanceledAndRemovedAreNotExecuted) {
  const AbortConfig c = Config({Criterion("FAILED", 10, 100)});
  TerminalCounts counts = Counts(89, 10);  // 99 executed
  counts.canceled = 500;
  counts.removed = 500;
  EXPECT_EQ(ExecutedCount(counts), 99);
  EXPECT_FALSE(EvaluateAbort(c, counts));  // the minimum is not reached through cancels
  counts.succeeded = 90;                   // 100 executed, 10%: cancels do not dilute it
  EXPECT_TRUE(EvaluateAbort(c, counts));
}

TEST(AbortRulesTest, AllSumsFailedRejectedAndTimedOut) {
  const TerminalCounts counts = Counts(90, 4, 3, 3);  // 100 executed
  EXPECT_EQ(FailureCount(counts, "ALL"), 10);
  EXPECT_TRUE(EvaluateAbort(Config({Criterion("ALL", 10, 1)}), counts));
  EXPECT_FALSE(EvaluateAbort(Config({Criterion("ALL", 10.01, 1)}), counts));
  EXPECT_FALSE(EvaluateAbort(Config({Criterion("FAILED", 10, 1)}), counts));
  EXPECT_FALSE(EvaluateAbort(Config({Criterion("REJECTED", 10, 1)}), counts));
  EXPECT_FALSE(EvaluateAbort(Config({Criterion("TIMED_OUT", 10, 1)}), counts));
  EXPECT_TRUE(EvaluateAbort(Config({Criterion("REJECTED", 3, 1)}), counts));
  EXPECT_TRUE(EvaluateAbort(Config({Criterion("TIMED_OUT", 3, 1)}), counts));
}

TEST(AbortRulesTest, FirstTrippingCriterionInListOrderWins) {
  const TerminalCounts counts = Counts(80, 10, 10);  // FAILED 10%, REJECTED 10%, ALL 20%
  std::optional<AbortDecision> d = EvaluateAbort(
      Config({Criterion("REJECTED", 5, 1), Criterion("FAILED", 5, 1), Criterion("ALL", 5, 1)}),
      counts);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->criterion_index, 0u);
  EXPECT_EQ(d->criterion.failure_type, "REJECTED");

  d = EvaluateAbort(
      Config({Criterion("TIMED_OUT", 5, 1), Criterion("ALL", 15, 1), Criterion("FAILED", 5, 1)}),
      counts);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->criterion_index, 1u);  // the first does not trip; the second does, before the third
  EXPECT_EQ(d->criterion.failure_type, "ALL");

  // One criterion's minimum not met does not stop the next from tripping.
  d = EvaluateAbort(Config({Criterion("FAILED", 1, 1000), Criterion("REJECTED", 10, 100)}), counts);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->criterion_index, 1u);
}

TEST(AbortRulesTest, ZeroThresholdNeedsAtLeastOneFailure) {
  const AbortConfig c = Config({Criterion("FAILED", 0, 1)});
  EXPECT_FALSE(EvaluateAbort(c, Counts(100, 0)));
  EXPECT_TRUE(EvaluateAbort(c, Counts(100, 1)));
}

TEST(AbortRulesTest, NothingExecutedOrNoCriteriaNeverTrips) {
  EXPECT_FALSE(EvaluateAbort(Config({}), Counts(0, 100)));
  EXPECT_FALSE(EvaluateAbort(Config({Criterion("ALL", 0, 1)}), TerminalCounts{}));
  AbortCriteria not_cancel = Criterion("FAILED", 1, 1);
  not_cancel.action = "PAUSE";
  EXPECT_FALSE(EvaluateAbort(Config({not_cancel}), Counts(0, 100)));
}

TEST(AbortRulesTest, DecisionCarriesReasonCodeAndAComment) {
  std::optional<AbortDecision> d = EvaluateAbort(
      Config({Criterion("FAILED", 50, 10), Criterion("ALL", 12.5, 8)}), Counts(6, 1, 1));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->reason_code, "ABORT_CRITERIA_MET");
  EXPECT_EQ(d->comment,
            "Job aborted by abortConfig criterion 2 (failureType=ALL, thresholdPercentage=12.5, "
            "minNumberOfExecutedThings=8): 2 of 8 executed things failed (25%)");
  d = EvaluateAbort(Config({Criterion("TIMED_OUT", 33.33, 3)}), Counts(2, 0, 0, 1));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->comment,
            "Job aborted by abortConfig criterion 1 (failureType=TIMED_OUT, "
            "thresholdPercentage=33.33, minNumberOfExecutedThings=3): 1 of 3 executed things "
            "TIMED_OUT (33.33%)");
}

}  // namespace
}  // namespace iotjobs::jobs
