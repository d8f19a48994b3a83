#include "jobs/rollout.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "jobs/tests/utc.h"

namespace iotjobs::jobs {
namespace {

using testing::Utc;

RolloutConfig Exponential(int32_t base, double factor, std::optional<int32_t> notified,
                          std::optional<int32_t> succeeded,
                          std::optional<int32_t> maximum = std::nullopt) {
  RolloutConfig c;
  c.maximum_per_minute = maximum;
  c.exponential_rate = ExponentialRolloutRate{base, factor, {notified, succeeded}};
  return c;
}

TEST(RolloutRateTest, DefaultsToOneThousandPerMinute) {
  EXPECT_EQ(RolloutRatePerMinute(std::nullopt, 0, 0), 1000);
  EXPECT_EQ(RolloutRatePerMinute(RolloutConfig{}, 123456, 0), 1000);
  RolloutConfig ten;
  ten.maximum_per_minute = 10;
  EXPECT_EQ(RolloutRatePerMinute(ten, 0, 0), 10);
  EXPECT_EQ(RolloutRatePerMinute(ten, 0, 0, /*server_cap=*/5), 5);
  EXPECT_EQ(RolloutRatePerMinute(std::nullopt, 0, 0, /*server_cap=*/250), 250);
  // A server cap above the API's limit does not lift the default.
  EXPECT_EQ(RolloutRatePerMinute(std::nullopt, 0, 0, /*server_cap=*/5000), 1000);
}

// The developer guide's example, figure by figure: base 50, factor 2, both criteria 1000.
TEST(RolloutRateTest, GuideExponentialCurve) {
  const RolloutConfig c = Exponential(50, 2.0, 1000, 1000);
  struct Point {
    int64_t notified, succeeded;
    int32_t rate;
  };
  for (const Point& p : std::vector<Point>{
           {0, 0, 50},
           {999, 999, 50},
           {1000, 0, 100},    // 1000 notified …
           {999, 1000, 100},  // … or 1000 succeeded
           {1999, 1999, 100},
           {2000, 0, 200},
           {2999, 0, 200},
           {3000, 0, 400},
           {3999, 0, 400},
           {4000, 0, 800},
           {4999, 0, 800},
           {5000, 0, 1000},  // 1600, capped at the default maximum
           {1'000'000, 0, 1000},
           {2500, 3000, 400},  // whichever criterion has fired more often counts
       }) {
    EXPECT_EQ(RolloutRatePerMinute(c, p.notified, p.succeeded), p.rate)
        << "notified=" << p.notified << " succeeded=" << p.succeeded;
  }
  EXPECT_EQ(RolloutIncreases(c, 3000, 0), 3);
  EXPECT_EQ(RolloutIncreases(c, 0, 2999), 2);
}

TEST(RolloutRateTest, AbsentCriterionNeverFires) {
  const RolloutConfig notified_only = Exponential(10, 2.0, 100, std::nullopt);
  EXPECT_EQ(RolloutRatePerMinute(notified_only, 99, 1'000'000), 10);
  EXPECT_EQ(RolloutRatePerMinute(notified_only, 100, 0), 20);
  const RolloutConfig succeeded_only = Exponential(10, 2.0, std::nullopt, 100);
  EXPECT_EQ(RolloutRatePerMinute(succeeded_only, 1'000'000, 99), 10);
  EXPECT_EQ(RolloutRatePerMinute(succeeded_only, 0, 200), 40);
}

TEST(RolloutRateTest, MaximumPerMinuteCapsTheCurve) {
  const RolloutConfig c = Exponential(50, 2.0, 1000, std::nullopt, 300);
  EXPECT_EQ(RolloutRatePerMinute(c, 0, 0), 50);
  EXPECT_EQ(RolloutRatePerMinute(c, 1000, 0), 100);
  EXPECT_EQ(RolloutRatePerMinute(c, 2000, 0), 200);
  EXPECT_EQ(RolloutRatePerMinute(c, 3000, 0), 300);
  EXPECT_EQ(RolloutRatePerMinute(c, 3000, 0, /*server_cap=*/150), 150);
}

TEST(RolloutRateTest, FractionalFactorsRoundDownWithoutCompounding) {
  // 1 × 1.5^k = 1, 1.5, 2.25, 3.375, 5.06, 7.59, 11.39: rounding each step would stay at 1.
  const RolloutConfig slow = Exponential(1, 1.5, 1, std::nullopt);
  const int32_t want[] = {1, 1, 2, 3, 5, 7, 11};
  for (int k = 0; k < 7; ++k) EXPECT_EQ(RolloutRatePerMinute(slow, k, 0), want[k]) << k;
  // 100 × 1.1^k = 110, 121, 133.1 despite binary noise.
  const RolloutConfig tenth = Exponential(100, 1.1, 1, std::nullopt);
  EXPECT_EQ(RolloutRatePerMinute(tenth, 1, 0), 110);
  EXPECT_EQ(RolloutRatePerMinute(tenth, 2, 0), 121);
  EXPECT_EQ(RolloutRatePerMinute(tenth, 3, 0), 133);
  // Products that land a hair under an integer in binary still count as that integer.
  EXPECT_EQ(RolloutRatePerMinute(Exponential(25, 1.4, 1, std::nullopt), 2, 0), 49);
  EXPECT_EQ(RolloutRatePerMinute(Exponential(125, 1.2, 1, std::nullopt), 3, 0), 216);
  // A huge number of increases saturates instead of overflowing.
  EXPECT_EQ(RolloutRatePerMinute(Exponential(1000, 5.0, 1, 1), 2'000'000'000, 0), 1000);
}

TEST(RolloutPacingTest, IdleJobMayBurstUpToTheBucket) {
  const Instant now = Utc(2024, 1, 1);
  EXPECT_EQ(RolloutBurst(1000), 17);
  EXPECT_EQ(RolloutBurst(60), 2);
  EXPECT_EQ(RolloutBurst(50), 1);
  EXPECT_EQ(RolloutBurst(1), 1);
  EXPECT_EQ(RolloutAllowance(1000, {}, now), 17);
  EXPECT_EQ(RolloutAllowance(1, {}, now), 1);
  EXPECT_EQ(NextRolloutAt(1000, {}, now), now);
}

TEST(RolloutPacingTest, BucketRefillsContinuously) {
  const Instant now = Utc(2024, 1, 1);
  // 60/min: interval 1 s, tolerance 1 s, so two at once and then one a second.
  std::vector<Instant> created = {now, now};
  EXPECT_EQ(RolloutAllowance(60, created, now), 0);
  EXPECT_EQ(NextRolloutAt(60, created, now), now + Millis(1000));
  EXPECT_EQ(RolloutAllowance(60, created, now + Millis(999)), 0);
  EXPECT_EQ(RolloutAllowance(60, created, now + Millis(1000)), 1);
  created.push_back(now + Millis(1000));
  EXPECT_EQ(NextRolloutAt(60, created, now + Millis(1000)), now + Millis(2000));
  // Credit is not lost by asking late, up to the bucket's size.
  EXPECT_EQ(RolloutAllowance(60, created, now + Millis(3000)), 2);
  EXPECT_EQ(RolloutAllowance(60, created, now + Millis(30000)), 2);
}

TEST(RolloutPacingTest, NoMoreThanTheRateInAnyRollingMinute) {
  const Instant now = Utc(2024, 1, 1, 0, 10);
  // Ten creations spread over the last minute fill a rate of 10; the bucket alone would allow more.
  std::vector<Instant> created;
  for (int i = 0; i < 10; ++i) created.push_back(now - Millis(59'000) + Millis(6'000 * i));
  EXPECT_EQ(RolloutAllowance(10, created, now), 0);
  // The oldest, at now − 59 s, leaves the window (t − 60 s, t] at now + 1 s.
  EXPECT_EQ(NextRolloutAt(10, created, now), now + Millis(1000));
  EXPECT_EQ(RolloutAllowance(10, created, now + Millis(999)), 0);
  EXPECT_EQ(RolloutAllowance(10, created, now + Millis(1000)), 1);
  // Instants older than the window do not count, whatever their order.
  std::vector<Instant> old_and_shuffled = {now - Millis(60'000), now - Millis(90'000)};
  EXPECT_EQ(RolloutAllowance(10, old_and_shuffled, now), RolloutBurst(10));
  std::reverse(created.begin(), created.end());
  EXPECT_EQ(NextRolloutAt(10, created, now), now + Millis(1000));
}

// The next creation is allowed from NextRolloutAt and due by RolloutDueAt: τ later while the
// bucket paces the job, the same instant while the rolling-minute cap holds it.
TEST(RolloutPacingTest, DueAtIsTheBucketsTatOrTheCapsFreeSlot) {
  const Instant now = Utc(2024, 1, 1, 0, 10);
  EXPECT_EQ(RolloutDueAt(60, {}, now), now) << "an idle job is due at once";
  // 60/min after a burst of two at `now`: TAT = now + 2 s; allowed from now + 1 s.
  std::vector<Instant> created = {now, now};
  EXPECT_EQ(NextRolloutAt(60, created, now), now + Millis(1000));
  EXPECT_EQ(RolloutDueAt(60, created, now), now + Millis(2000));
  // 600/min: TAT after 11 at once is now + 1.1 s, allowed from now + 100 ms.
  std::vector<Instant> burst(11, now);
  EXPECT_EQ(NextRolloutAt(600, burst, now), now + Millis(100));
  EXPECT_EQ(RolloutDueAt(600, burst, now), now + Millis(1100));
  // Already past TAT: due now (the job is behind its curve from here on).
  EXPECT_EQ(RolloutDueAt(60, created, now + Millis(5000)), now + Millis(5000));
  // The cap binds: ten a minute spread over the last minute, the oldest leaving at now + 1 s.
  std::vector<Instant> spread;
  for (int i = 0; i < 10; ++i) spread.push_back(now - Millis(59'000) + Millis(6'000 * i));
  EXPECT_EQ(NextRolloutAt(10, spread, now), now + Millis(1000));
  EXPECT_EQ(RolloutDueAt(10, spread, now), now + Millis(1000));
  // Batches give the same as instants.
  EXPECT_EQ(RolloutDueAtOfBatches(600, std::vector<RolloutBatch>{{now, 11}}, now),
            now + Millis(1100));
}

TEST(RolloutPacingTest, RateIncreaseTakesEffectAtOnce) {
  const Instant now = Utc(2024, 1, 1);
  std::vector<Instant> created(50, now - Millis(30'000));
  EXPECT_EQ(RolloutAllowance(50, created, now), 0);
  EXPECT_GT(RolloutAllowance(100, created, now), 0);
}

// A rollout driven over a fake clock, as the service's scheduler would drive it.
struct Rollout {
  std::vector<Instant> created;  // ascending
  std::vector<int32_t> rate;     // the rate that allowed created[i]
};

// Creates `things` executions. With `poll`, the scheduler wakes every `poll`; without, it sleeps
// until NextRolloutAt.
Rollout Simulate(const std::optional<RolloutConfig>& config, size_t things,
                 std::optional<Millis> poll, Instant start) {
  FakeClock clock(start);
  Rollout run;
  size_t window_begin = 0;
  for (int wakeups = 0; run.created.size() < things; ++wakeups) {
    if (wakeups > 1'000'000) {
      ADD_FAILURE() << "the rollout stalled after " << run.created.size();
      break;
    }
    const Instant now = clock.Now();
    while (window_begin < run.created.size() && run.created[window_begin] <= now - kRolloutWindow) {
      ++window_begin;
    }
    auto recent = [&] { return std::span<const Instant>(run.created).subspan(window_begin); };
    const int32_t rate = RolloutRatePerMinute(config, static_cast<int64_t>(run.created.size()), 0);
    const int64_t n = std::min<int64_t>(RolloutAllowance(rate, recent(), now),
                                        static_cast<int64_t>(things - run.created.size()));
    // Stop a batch where the rate changes, so each creation is paced by the rate it produced; the
    // rest follows at once when the new rate allows.
    for (int64_t i = 0;
         i < n && RolloutRatePerMinute(config, static_cast<int64_t>(run.created.size()), 0) == rate;
         ++i) {
      run.created.push_back(now);
      run.rate.push_back(rate);
    }
    if (run.created.size() == things) break;
    if (poll) {
      clock.Advance(*poll);
      continue;
    }
    const int32_t next_rate =
        RolloutRatePerMinute(config, static_cast<int64_t>(run.created.size()), 0);
    const Instant next = NextRolloutAt(next_rate, recent(), now);
    if (next == now && next_rate == rate) {
      ADD_FAILURE() << "NextRolloutAt returned now after the allowance was used up";
      break;
    }
    clock.Set(next);
  }
  return run;
}

// Every window (t − 60 s, t] holds no more than the rate in force at t.
void ExpectRollingMinuteWithinRate(const Rollout& run) {
  size_t lo = 0;
  for (size_t i = 0; i < run.created.size(); ++i) {
    if (i + 1 < run.created.size() && run.created[i + 1] == run.created[i]) continue;
    while (run.created[lo] <= run.created[i] - kRolloutWindow) ++lo;
    ASSERT_LE(static_cast<int64_t>(i - lo + 1), run.rate[i])
        << "window ending " << (run.created[i] - run.created[0]).count() << " ms in";
  }
}

std::vector<int64_t> PerMinute(const Rollout& run, Instant start) {
  std::vector<int64_t> counts;
  for (Instant t : run.created) {
    const size_t m = static_cast<size_t>((t - start) / kRolloutWindow);
    if (counts.size() <= m) counts.resize(m + 1);
    ++counts[m];
  }
  return counts;
}

class RolloutSimulationTest : public ::testing::TestWithParam<std::optional<Millis>> {};

TEST_P(RolloutSimulationTest, TenThousandThingsAtOneThousandPerMinute) {
  const Instant start = Utc(2024, 3, 1, 8, 0);
  const Rollout run = Simulate(std::nullopt, 10'000, GetParam(), start);
  ASSERT_EQ(run.created.size(), 10'000u);
  ExpectRollingMinuteWithinRate(run);
  // Every full minute hits the rate within 2% (and never exceeds it).
  const std::vector<int64_t> minutes = PerMinute(run, start);
  ASSERT_GE(minutes.size(), 10u);
  for (size_t m = 0; m + 1 < minutes.size(); ++m) {
    EXPECT_GE(minutes[m], 980) << "minute " << m;
    EXPECT_LE(minutes[m], 1000) << "minute " << m;
  }
  // 10,000 at 1000/min: the last ones go out in the tenth minute.
  EXPECT_GE(run.created.back() - start, std::chrono::minutes(9));
  EXPECT_LT(run.created.back() - start, std::chrono::minutes(10) + Millis(1000));
  // Spread, not dumped: no instant carries more than the bucket.
  int64_t largest_batch = 0;
  for (size_t i = 0, j = 0; i < run.created.size(); i = j) {
    while (j < run.created.size() && run.created[j] == run.created[i]) ++j;
    largest_batch = std::max<int64_t>(largest_batch, static_cast<int64_t>(j - i));
  }
  EXPECT_LE(largest_batch, RolloutBurst(1000));
}

INSTANTIATE_TEST_SUITE_P(Wakeups, RolloutSimulationTest,
                         ::testing::Values(std::nullopt, Millis(100), Millis(600), Millis(1000)),
                         [](const auto& info) {
                           return info.param ? "Poll" + std::to_string(info.param->count()) + "ms"
                                             : std::string("AtNextRolloutAt");
                         });

TEST(RolloutSimulationTest, GuideExponentialRolloutOverTenThousandThings) {
  const Instant start = Utc(2024, 3, 1, 8, 0);
  const std::optional<RolloutConfig> config = Exponential(50, 2.0, 1000, 1000);
  const Rollout run = Simulate(config, 10'000, std::nullopt, start);
  ASSERT_EQ(run.created.size(), 10'000u);
  ExpectRollingMinuteWithinRate(run);
  // The k-th thousand goes out at the k-th rate, and takes 1000 / rate minutes within 2%.
  const int32_t rates[] = {50, 100, 200, 400, 800, 1000, 1000, 1000, 1000, 1000};
  for (int k = 0; k < 10; ++k) {
    const size_t first = static_cast<size_t>(k) * 1000;
    EXPECT_EQ(run.rate[first], rates[k]) << "thousand " << k;
    EXPECT_EQ(run.rate[first + 999], rates[k]) << "thousand " << k;
    if (k == 9) break;
    const double minutes =
        std::chrono::duration<double>(run.created[first + 1000] - run.created[first]).count() /
        60.0;
    const double measured = 1000 / minutes;
    EXPECT_NEAR(measured, rates[k], rates[k] * 0.02) << "thousand " << k;
  }
  // The first phase alone: 1000 things at 50/min take 20 minutes.
  const std::vector<int64_t> minutes = PerMinute(run, start);
  for (size_t m = 0; m < 19; ++m) EXPECT_EQ(minutes[m], 50) << "minute " << m;
}

}  // namespace
}  // namespace iotjobs::jobs
