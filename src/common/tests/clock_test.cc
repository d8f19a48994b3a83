#include "common/clock.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace iotjobs {
namespace {

using std::chrono::system_clock;

int64_t WallMillis() {
  return std::chrono::duration_cast<Millis>(system_clock::now().time_since_epoch()).count();
}

// Spins (no sleep) until the wall clock has advanced by at least `ms` milliseconds from `from`.
system_clock::time_point SpinFor(system_clock::time_point from, Millis ms) {
  system_clock::time_point now;
  do {
    now = system_clock::now();
  } while (now - from < ms);
  return now;
}

TEST(EpochMillisTest, RoundTrips) {
  EXPECT_EQ(ToEpochMillis(FromEpochMillis(0)), 0);
  EXPECT_EQ(ToEpochMillis(FromEpochMillis(1'700'000'000'123)), 1'700'000'000'123);
  EXPECT_EQ(ToEpochMillis(FromEpochMillis(-5)), -5);
}

TEST(FakeClockTest, StartsAtTheGivenInstantAndOnlyMovesWhenTold) {
  FakeClock clock(FromEpochMillis(1000));
  EXPECT_EQ(ToEpochMillis(clock.Now()), 1000);
  EXPECT_EQ(ToEpochMillis(clock.Now()), 1000);
  clock.Advance(Millis(250));
  EXPECT_EQ(ToEpochMillis(clock.Now()), 1250);
  clock.Advance(std::chrono::minutes(2));
  EXPECT_EQ(ToEpochMillis(clock.Now()), 1250 + 120'000);
  clock.Set(FromEpochMillis(42));
  EXPECT_EQ(ToEpochMillis(clock.Now()), 42);
}

TEST(FakeClockTest, DefaultStartIsFixed) {
  FakeClock a, b;
  EXPECT_EQ(ToEpochMillis(a.Now()), 1'700'000'000'000);
  EXPECT_EQ(a.Now(), b.Now());
}

TEST(FakeClockTest, ConcurrentAdvancesAreNotLost) {
  FakeClock clock(FromEpochMillis(0));
  constexpr int kThreads = 4, kSteps = 10000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kSteps; ++i) clock.Advance(Millis(1));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ToEpochMillis(clock.Now()), kThreads * kSteps);
}

TEST(SystemClockTest, UnscaledIsWallTime) {
  SystemClock clock;
  EXPECT_EQ(clock.scale(), 1.0);
  const int64_t before = WallMillis();
  const int64_t now = ToEpochMillis(clock.Now());
  const int64_t after = WallMillis();
  EXPECT_LE(before, now);
  EXPECT_LE(now, after);
}

TEST(SystemClockTest, ScaledClockStartsAtWallTime) {
  const auto before = system_clock::now();
  SystemClock clock(1000.0);
  const Instant now = clock.Now();
  const auto after = system_clock::now();
  EXPECT_EQ(clock.scale(), 1000.0);
  // now = start + 1000 * (read - start) with before <= start <= read <= after, truncated to ms.
  const double now_ms = static_cast<double>(ToEpochMillis(now));
  const double before_ms =
      std::chrono::duration<double, std::milli>(before.time_since_epoch()).count();
  const double elapsed_ms = std::chrono::duration<double, std::milli>(after - before).count();
  EXPECT_GE(now_ms, before_ms - 1.0);
  EXPECT_LE(now_ms, before_ms + 1000.0 * elapsed_ms + 1.0);
}

// Ratio check that cannot be flaky: the scaled interval is bounded below by 1000x the wall time
// measured strictly inside it and above by 1000x the wall time measured around it (+ truncation of
// both readings to whole milliseconds). We only assert the lower bound at 100x and the upper bound
// at 1000x + 2 ms, and spin (not sleep) until at least 2 wall ms have passed inside.
TEST(SystemClockTest, ScaledClockRunsScaleTimesFaster) {
  SystemClock clock(1000.0);
  const auto outer_start = system_clock::now();
  const Instant scaled_start = clock.Now();
  const auto inner_start = system_clock::now();
  const auto inner_end = SpinFor(inner_start, Millis(2));
  const Instant scaled_end = clock.Now();
  const auto outer_end = system_clock::now();

  const double inner_ms =
      std::chrono::duration<double, std::milli>(inner_end - inner_start).count();
  const double outer_ms =
      std::chrono::duration<double, std::milli>(outer_end - outer_start).count();
  const double scaled_ms = static_cast<double>((scaled_end - scaled_start).count());
  ASSERT_GE(inner_ms, 2.0);
  EXPECT_GE(scaled_ms, 100.0 * inner_ms) << "inner " << inner_ms << " ms";
  EXPECT_LE(scaled_ms, 1000.0 * outer_ms + 2.0) << "outer " << outer_ms << " ms";
}

}  // namespace
}  // namespace iotjobs
