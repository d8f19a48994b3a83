// KeyedRateLimiter on a FakeClock: burst, refill, per-key independence, the memory bound.
#include "common/rate_limiter.h"

#include <gtest/gtest.h>

#include <string>

namespace iotjobs {
namespace {

using std::chrono::milliseconds;

int Allowed(KeyedRateLimiter& l, const std::string& key, int tries) {
  int n = 0;
  for (int i = 0; i < tries; ++i) n += l.Allow(key) ? 1 : 0;
  return n;
}

TEST(KeyedRateLimiterTest, BurstThenRate) {
  FakeClock clock;
  KeyedRateLimiter l({.rate_per_second = 10, .burst = 5, .max_keys = 100}, &clock);
  EXPECT_EQ(Allowed(l, "hot", 100), 5);  // the burst, then nothing
  clock.Advance(milliseconds(100));      // one token
  EXPECT_EQ(Allowed(l, "hot", 100), 1);
  clock.Advance(milliseconds(250));  // 2.5 tokens
  EXPECT_EQ(Allowed(l, "hot", 100), 2);
  clock.Advance(milliseconds(50));  // 0.5 + 0.5 carried over
  EXPECT_EQ(Allowed(l, "hot", 100), 1);
  clock.Advance(std::chrono::hours(1));  // refills to the burst, no more
  EXPECT_EQ(Allowed(l, "hot", 100), 5);
}

// Finding 5 (issue 16): one thing's flood must not use up anyone else's budget.
TEST(KeyedRateLimiterTest, Finding5KeysAreIndependent) {
  FakeClock clock;
  KeyedRateLimiter l({.rate_per_second = 1, .burst = 3, .max_keys = 100}, &clock);
  EXPECT_EQ(Allowed(l, "hot", 1000), 3);
  EXPECT_EQ(Allowed(l, "cold-1", 3), 3);
  EXPECT_EQ(Allowed(l, "cold-2", 1), 1);
}

TEST(KeyedRateLimiterTest, ZeroRateDisables) {
  FakeClock clock;
  KeyedRateLimiter l({.rate_per_second = 0, .burst = 1, .max_keys = 1}, &clock);
  EXPECT_FALSE(l.enabled());
  EXPECT_EQ(Allowed(l, "any", 10'000), 10'000);
  EXPECT_EQ(l.keys(), 0u);
}

TEST(KeyedRateLimiterTest, MemoryIsBoundedByForgettingTheLeastRecentlyUsedKey) {
  FakeClock clock;
  KeyedRateLimiter l({.rate_per_second = 1, .burst = 2, .max_keys = 3}, &clock);
  EXPECT_EQ(Allowed(l, "a", 5), 2);
  EXPECT_EQ(Allowed(l, "b", 5), 2);
  EXPECT_EQ(Allowed(l, "c", 5), 2);
  EXPECT_EQ(Allowed(l, "a", 1), 0);  // a is the most recent now; b the least
  for (int i = 0; i < 1000; ++i) l.Allow("new-" + std::to_string(i));
  EXPECT_EQ(l.keys(), 3u);
  EXPECT_TRUE(l.Allow("new-999"));
  EXPECT_FALSE(l.Allow("new-999")) << "a recent key keeps its bucket";
  EXPECT_EQ(Allowed(l, "a", 5), 2) << "a forgotten key starts over with a full bucket";
  EXPECT_EQ(l.keys(), 3u);
}

}  // namespace
}  // namespace iotjobs
