#include "jobs/retry_rules.h"

#include <gtest/gtest.h>

namespace iotjobs::jobs {
namespace {

using S = ExecutionStatus;

RetryConfig Config(std::vector<RetryCriteria> list) { return RetryConfig{std::move(list)}; }

RetriesUsed Used(int32_t failed, int32_t timed_out) { return RetriesUsed{failed, timed_out}; }

TEST(RetryRulesTest, FailedBudget) {
  const RetryConfig c = Config({{"FAILED", 2}});
  EXPECT_TRUE(ShouldRetry(c, S::kFailed, Used(0, 0)));
  EXPECT_TRUE(ShouldRetry(c, S::kFailed, Used(1, 0)));
  EXPECT_FALSE(ShouldRetry(c, S::kFailed, Used(2, 0)));
  EXPECT_FALSE(ShouldRetry(c, S::kTimedOut, Used(0, 0)));  // not covered
}

TEST(RetryRulesTest, TimedOutBudget) {
  const RetryConfig c = Config({{"TIMED_OUT", 3}});
  EXPECT_TRUE(ShouldRetry(c, S::kTimedOut, Used(0, 2)));
  EXPECT_FALSE(ShouldRetry(c, S::kTimedOut, Used(0, 3)));
  EXPECT_FALSE(ShouldRetry(c, S::kFailed, Used(0, 0)));
}

TEST(RetryRulesTest, AllIsOneBudgetSharedByBothTypes) {
  const RetryConfig c = Config({{"ALL", 3}});
  EXPECT_TRUE(ShouldRetry(c, S::kFailed, Used(1, 1)));
  EXPECT_TRUE(ShouldRetry(c, S::kTimedOut, Used(1, 1)));
  EXPECT_FALSE(ShouldRetry(c, S::kFailed, Used(2, 1)));
  EXPECT_FALSE(ShouldRetry(c, S::kTimedOut, Used(0, 3)));
  EXPECT_FALSE(ShouldRetry(c, S::kFailed, Used(0, 3)));  // timeouts spent the FAILED budget too
}

TEST(RetryRulesTest, SeparateBudgetsPerType) {
  const RetryConfig c = Config({{"FAILED", 4}, {"TIMED_OUT", 6}});
  EXPECT_FALSE(ShouldRetry(c, S::kFailed, Used(4, 0)));
  EXPECT_TRUE(ShouldRetry(c, S::kTimedOut, Used(4, 5)));
  EXPECT_FALSE(ShouldRetry(c, S::kTimedOut, Used(4, 6)));
  EXPECT_TRUE(ShouldRetry(c, S::kFailed, Used(3, 6)));
}

TEST(RetryRulesTest, AllAndASpecificTypeAreBothCeilings) {
  const RetryConfig c = Config({{"ALL", 5}, {"FAILED", 3}});
  EXPECT_TRUE(ShouldRetry(c, S::kFailed, Used(2, 0)));
  EXPECT_FALSE(ShouldRetry(c, S::kFailed, Used(3, 0)));    // FAILED's own ceiling
  EXPECT_TRUE(ShouldRetry(c, S::kTimedOut, Used(3, 1)));   // ALL: 4 of 5
  EXPECT_FALSE(ShouldRetry(c, S::kTimedOut, Used(3, 2)));  // ALL: 5 of 5
  EXPECT_FALSE(ShouldRetry(c, S::kFailed, Used(1, 4)));    // ALL spent by timeouts
}

TEST(RetryRulesTest, RejectedAndOtherStatusesAreNeverRetried) {
  const RetryConfig c = Config({{"ALL", 10}});
  for (S s : kAllExecutionStatuses) {
    const bool retryable = s == S::kFailed || s == S::kTimedOut;
    EXPECT_EQ(ShouldRetry(c, s, Used(0, 0)), retryable) << ToString(s);
  }
}

TEST(RetryRulesTest, ZeroRetriesNeverRetries) {
  EXPECT_FALSE(ShouldRetry(Config({{"FAILED", 0}}), S::kFailed, Used(0, 0)));
  EXPECT_FALSE(ShouldRetry(Config({}), S::kFailed, Used(0, 0)));
}

TEST(RetryRulesTest, NeverMoreThanTenInTotal) {
  // Validation rejects this config (20 > 10); the rule holds the line anyway.
  const RetryConfig c = Config({{"FAILED", 10}, {"TIMED_OUT", 10}});
  EXPECT_TRUE(ShouldRetry(c, S::kTimedOut, Used(5, 4)));
  EXPECT_FALSE(ShouldRetry(c, S::kTimedOut, Used(5, 5)));
  EXPECT_FALSE(ShouldRetry(c, S::kFailed, Used(0, 10)));
}

// A thing that fails forever under ALL=10 gets exactly ten retries, however the failures mix.
TEST(RetryRulesTest, AThingThatAlwaysFailsGetsExactlyItsBudget) {
  const RetryConfig c = Config({{"ALL", 10}});
  RetriesUsed used;
  int executions = 1;
  for (S outcome = S::kFailed; ShouldRetry(c, outcome, used);
       outcome = (executions % 3 == 0) ? S::kTimedOut : S::kFailed) {
    used = CountRetry(used, outcome);
    ++executions;
  }
  EXPECT_EQ(executions, 11);  // the first execution plus ten retries
  EXPECT_EQ(used.total(), 10);
  EXPECT_EQ(used.timed_out, 3);
}

TEST(RetryRulesTest, CountRetryCountsOnlyRetryableOutcomes) {
  RetriesUsed used;
  used = CountRetry(used, S::kFailed);
  used = CountRetry(used, S::kTimedOut);
  used = CountRetry(used, S::kRejected);
  EXPECT_EQ(used.failed, 1);
  EXPECT_EQ(used.timed_out, 1);
}

}  // namespace
}  // namespace iotjobs::jobs
