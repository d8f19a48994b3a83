#include "fleet/profile.h"

#include <gtest/gtest.h>

#include <map>

namespace iotjobs::fleet {
namespace {

TEST(ProfileTest, DurationsWithUnits) {
  EXPECT_DOUBLE_EQ(*ParseDurationMs("250"), 250);
  EXPECT_DOUBLE_EQ(*ParseDurationMs("250ms"), 250);
  EXPECT_DOUBLE_EQ(*ParseDurationMs("2s"), 2000);
  EXPECT_DOUBLE_EQ(*ParseDurationMs("1.5m"), 90000);
  EXPECT_FALSE(ParseDurationMs("2h").ok());
  EXPECT_FALSE(ParseDurationMs("-1s").ok());
  EXPECT_FALSE(ParseDurationMs("soon").ok());
}

TEST(ProfileTest, RunTimeForms) {
  auto u = ParseRunTime("uniform:100ms-2s");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->kind, RunTime::Kind::kUniform);
  EXPECT_DOUBLE_EQ(u->a_ms, 100);
  EXPECT_DOUBLE_EQ(u->b_ms, 2000);
  auto e = ParseRunTime("exp:500ms");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->kind, RunTime::Kind::kExponential);
  EXPECT_FALSE(ParseRunTime("uniform:2s-1s").ok());
  EXPECT_FALSE(ParseRunTime("normal:1s").ok());
  EXPECT_FALSE(ParseRunTime("uniform:1s").ok());
}

TEST(ProfileTest, WeightsAndErrors) {
  auto p = ParseOutcomeWeights("succeed=90,fail=5,reject=3,hang=2", Profile{});
  ASSERT_TRUE(p.ok());
  EXPECT_DOUBLE_EQ(p->succeed, 90);
  EXPECT_DOUBLE_EQ(p->hang, 2);
  EXPECT_FALSE(ParseOutcomeWeights("succeed=0", Profile{}).ok());
  EXPECT_FALSE(ParseOutcomeWeights("explode=1", Profile{}).ok());
  EXPECT_FALSE(ParseOutcomeWeights("fail", Profile{}).ok());
  EXPECT_FALSE(ParseOutcomeWeights("fail=x", Profile{}).ok());
}

TEST(ProfileTest, DrawsFollowTheWeights) {
  Profile p = *ParseOutcomeWeights("succeed=70,fail=20,reject=10", Profile{});
  Rng rng(SeedFor(7, "device-1"));
  std::map<Outcome, int> n;
  for (int i = 0; i < 100000; ++i) ++n[DrawOutcome(p, rng)];
  EXPECT_NEAR(n[Outcome::kSucceed] / 1000.0, 70, 1.0);
  EXPECT_NEAR(n[Outcome::kFail] / 1000.0, 20, 1.0);
  EXPECT_NEAR(n[Outcome::kReject] / 1000.0, 10, 1.0);
  EXPECT_EQ(n[Outcome::kHang], 0);
}

TEST(ProfileTest, RunTimeDrawsStayInRangeAndHaveTheirMean) {
  Rng rng(1);
  RunTime u = *ParseRunTime("uniform:100ms-300ms");
  RunTime e = *ParseRunTime("exp:50ms");
  double sum_u = 0, sum_e = 0;
  for (int i = 0; i < 100000; ++i) {
    double x = DrawRunTimeMs(u, rng);
    ASSERT_GE(x, 100);
    ASSERT_LE(x, 300);
    sum_u += x;
    double y = DrawRunTimeMs(e, rng);
    ASSERT_GE(y, 0);
    sum_e += y;
  }
  EXPECT_NEAR(sum_u / 100000, 200, 2);
  EXPECT_NEAR(sum_e / 100000, 50, 1);
}

TEST(ProfileTest, SameSeedAndNameSameDraws) {
  Rng a(SeedFor(3, "dev-9")), b(SeedFor(3, "dev-9")), c(SeedFor(3, "dev-10"));
  EXPECT_EQ(a.Next(), b.Next());
  EXPECT_NE(a.Next(), c.Next());
}

}  // namespace
}  // namespace iotjobs::fleet
