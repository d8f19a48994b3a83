#include "jobs/scheduling.h"

#include <gtest/gtest.h>

#include "jobs/tests/utc.h"

namespace iotjobs::jobs {
namespace {

using testing::Min;
using testing::Utc;

Instant Iso(std::string_view text) {
  Result<Instant> t = ParseIsoUtc("schedulingConfig.startTime", text);
  EXPECT_TRUE(t.ok()) << text << ": " << t.status().ToString();
  return t.ok() ? *t : Instant{};
}

std::string IsoError(std::string_view text) {
  Result<Instant> t = ParseIsoUtc("schedulingConfig.endTime", text);
  if (t.ok()) return "parsed";
  EXPECT_EQ(t.status().code(), Code::kInvalidRequest);
  return t.status().message();
}

TEST(IsoTimeTest, ParsesTheGuideFormAndItsVariants) {
  EXPECT_EQ(ToEpochMillis(Iso("2026-10-01T12:00")), 1790856000000);
  EXPECT_EQ(Iso("2026-10-01T12:00"), Utc(2026, 10, 1, 12, 0));
  EXPECT_EQ(Iso("2026-10-01T12:00Z"), Utc(2026, 10, 1, 12, 0));
  EXPECT_EQ(Iso("2026-10-01 12:00:30"), Utc(2026, 10, 1, 12, 0, 30));
  EXPECT_EQ(Iso("2026-10-01T12:00:30.5Z"), Utc(2026, 10, 1, 12, 0, 30, 500));
  EXPECT_EQ(Iso("2026-10-01T12:00:30.123456"), Utc(2026, 10, 1, 12, 0, 30, 123));
  EXPECT_EQ(Iso("2026-10-01"), Utc(2026, 10, 1));
  // Offsets are applied: the result is UTC.
  EXPECT_EQ(Iso("2026-10-01T14:00+02:00"), Utc(2026, 10, 1, 12, 0));
  EXPECT_EQ(Iso("2026-10-01T06:30-0530"), Utc(2026, 10, 1, 12, 0));
  EXPECT_EQ(Iso("2026-01-01T00:30+01:00"), Utc(2025, 12, 31, 23, 30));
  EXPECT_EQ(Iso("2024-02-29T00:00"), Utc(2024, 2, 29));
}

TEST(IsoTimeTest, RejectsWithTheFieldAndTheText) {
  EXPECT_EQ(IsoError("2026-02-29T00:00"),
            "schedulingConfig.endTime is not a valid date; use ISO-8601 UTC like "
            "2026-10-01T12:00, got '2026-02-29T00:00'");
  EXPECT_EQ(IsoError("2026-10-01T24:00"),
            "schedulingConfig.endTime is not a valid time of day; use ISO-8601 UTC like "
            "2026-10-01T12:00, got '2026-10-01T24:00'");
  EXPECT_NE(IsoError("2026/10/01").find("must start with a date YYYY-MM-DD"), std::string::npos);
  EXPECT_NE(IsoError("2026-10-01T12").find("must have its time as THH:MM"), std::string::npos);
  EXPECT_NE(IsoError("2026-10-01T12:00 PST").find("unexpected trailing characters"),
            std::string::npos);
  EXPECT_NE(IsoError("2026-10-01T12:00+25:00").find("malformed UTC offset"), std::string::npos);
  EXPECT_NE(IsoError("").find("must start with a date"), std::string::npos);
  EXPECT_NE(IsoError("1790856000").find("must start with a date"), std::string::npos);
}

TEST(IsoTimeTest, FormatsAtTheResolutionItNeeds) {
  EXPECT_EQ(FormatIsoUtc(Utc(2026, 10, 1, 12, 0)), "2026-10-01T12:00");
  EXPECT_EQ(FormatIsoUtc(Utc(2026, 10, 1, 12, 0, 30)), "2026-10-01T12:00:30");
  EXPECT_EQ(FormatIsoUtc(Utc(2026, 10, 1, 12, 0, 0, 5)), "2026-10-01T12:00:00.005");
  for (Instant t : {Utc(2024, 2, 29, 23, 59), Utc(1999, 12, 31, 0, 1, 2, 3)}) {
    EXPECT_EQ(Iso(FormatIsoUtc(t)), t);
  }
}

TEST(EndBehaviorTest, WireNames) {
  for (EndBehavior b :
       {EndBehavior::kStopRollout, EndBehavior::kCancel, EndBehavior::kForceCancel}) {
    EXPECT_EQ(*ParseEndBehavior(ToString(b)), b);
  }
  EXPECT_EQ(ParseEndBehavior("cancel").status().message(),
            "schedulingConfig.endBehavior must be one of STOP_ROLLOUT|CANCEL|FORCE_CANCEL, got "
            "'cancel'");
}

class ScheduleValidationTest : public ::testing::Test {
 protected:
  const Instant now_ = Utc(2026, 1, 1, 12, 0);
};

TEST_F(ScheduleValidationTest, StartAtLeastThirtyMinutesAndAtMostAYearAhead) {
  EXPECT_TRUE(ValidateScheduleTimes(now_ + Min(30), std::nullopt, now_).ok());
  EXPECT_TRUE(ValidateScheduleTimes(now_ + std::chrono::days(365), std::nullopt, now_).ok());
  Status early = ValidateScheduleTimes(now_ + Min(30) - Millis(1), std::nullopt, now_);
  EXPECT_EQ(early.code(), Code::kInvalidRequest);
  EXPECT_EQ(early.message(),
            "schedulingConfig.startTime must be at least 30 minutes from now (2026-01-01T12:30), "
            "got 2026-01-01T12:29:59.999");
  Status late = ValidateScheduleTimes(now_ + std::chrono::days(365) + Min(1), std::nullopt, now_);
  EXPECT_EQ(late.message(),
            "schedulingConfig.startTime must be at most 365 days from now (2027-01-01T12:00), got "
            "2027-01-01T12:01");
}

TEST_F(ScheduleValidationTest, EndAfterStartByThirtyMinutesToTwoYears) {
  const Instant start = now_ + Min(60);
  EXPECT_TRUE(ValidateScheduleTimes(start, start + Min(30), now_).ok());
  EXPECT_TRUE(ValidateScheduleTimes(start, start + std::chrono::days(730), now_).ok());
  EXPECT_EQ(ValidateScheduleTimes(start, start + Min(29), now_).message(),
            "schedulingConfig.endTime must be at least 30 minutes after startTime "
            "(2026-01-01T13:30), got 2026-01-01T13:29");
  EXPECT_EQ(
      ValidateScheduleTimes(start, start + std::chrono::days(730) + Millis(1), now_).message(),
      "schedulingConfig.endTime must be at most 730 days after startTime (2028-01-01T13:00), "
      "got 2028-01-01T13:00:00.001");
  EXPECT_FALSE(ValidateScheduleTimes(start, start - Min(60), now_).ok());
}

TEST_F(ScheduleValidationTest, EndWithoutStartCountsFromNow) {
  EXPECT_TRUE(ValidateScheduleTimes(std::nullopt, now_ + Min(30), now_).ok());
  EXPECT_EQ(ValidateScheduleTimes(std::nullopt, now_ + Min(10), now_).message(),
            "schedulingConfig.endTime must be at least 30 minutes from now (2026-01-01T12:30), got "
            "2026-01-01T12:10");
  EXPECT_TRUE(ValidateScheduleTimes(std::nullopt, now_ + std::chrono::days(730), now_).ok());
  EXPECT_EQ(ValidateScheduleTimes(std::nullopt, now_ + std::chrono::days(731), now_).message(),
            "schedulingConfig.endTime must be at most 730 days after now (2028-01-01T12:00), got "
            "2028-01-02T12:00");
  EXPECT_TRUE(ValidateScheduleTimes(std::nullopt, std::nullopt, now_).ok());
}

TEST(DecideScheduleTest, StartAndEndWithoutWindows) {
  Schedule s;
  s.start = Utc(2026, 10, 1, 12, 0);
  s.end = Utc(2026, 10, 2, 12, 0);
  s.end_behavior = EndBehavior::kCancel;

  ScheduleDecision d = DecideSchedule(s, Utc(2026, 10, 1, 11, 59));
  EXPECT_EQ(d.status, ScheduledStatus::kScheduled);
  EXPECT_FALSE(d.may_roll_out);
  EXPECT_EQ(d.end_action, std::nullopt);
  EXPECT_EQ(d.next_change, s.start);

  d = DecideSchedule(s, Utc(2026, 10, 1, 12, 0));  // start is inclusive
  EXPECT_EQ(d.status, ScheduledStatus::kInProgress);
  EXPECT_TRUE(d.may_roll_out);
  EXPECT_EQ(d.next_change, s.end);

  d = DecideSchedule(s, Utc(2026, 10, 2, 12, 0));  // end is inclusive
  EXPECT_EQ(d.status, ScheduledStatus::kInProgress);
  EXPECT_FALSE(d.may_roll_out);
  EXPECT_EQ(d.end_action, EndBehavior::kCancel);
  EXPECT_EQ(d.next_change, std::nullopt);
}

TEST(DecideScheduleTest, NoScheduleRollsOutForever) {
  ScheduleDecision d = DecideSchedule(Schedule{}, Utc(2026, 1, 1));
  EXPECT_EQ(d.status, ScheduledStatus::kInProgress);
  EXPECT_TRUE(d.may_roll_out);
  EXPECT_EQ(d.next_change, std::nullopt);
}

TEST(DecideScheduleTest, WindowsToggleBetweenScheduledAndInProgress) {
  Schedule s;
  s.start = Utc(2026, 10, 1, 12, 0);  // a Thursday
  s.end = Utc(2026, 10, 12, 0, 30);
  s.end_behavior = EndBehavior::kForceCancel;
  s.windows = *ParseMaintenanceWindows({{"cron(0 22 ? * SUN *)", 180}});

  ScheduleDecision d = DecideSchedule(s, Utc(2026, 10, 1, 12, 0));
  EXPECT_EQ(d.status, ScheduledStatus::kScheduled);  // started, but outside a window
  EXPECT_FALSE(d.may_roll_out);
  EXPECT_EQ(d.next_change, Utc(2026, 10, 4, 22, 0));

  d = DecideSchedule(s, Utc(2026, 10, 5, 0, 30));  // Monday, inside Sunday's window
  EXPECT_EQ(d.status, ScheduledStatus::kInProgress);
  EXPECT_TRUE(d.may_roll_out);
  EXPECT_EQ(d.next_change, Utc(2026, 10, 5, 1, 0));

  d = DecideSchedule(s, Utc(2026, 10, 5, 1, 0));  // back to SCHEDULED between windows
  EXPECT_EQ(d.status, ScheduledStatus::kScheduled);
  EXPECT_EQ(d.next_change, Utc(2026, 10, 11, 22, 0));

  d = DecideSchedule(s, Utc(2026, 10, 11, 23, 0));  // the end cuts the last window short
  EXPECT_TRUE(d.may_roll_out);
  EXPECT_EQ(d.next_change, s.end);

  d = DecideSchedule(s, *s.end);
  EXPECT_FALSE(d.may_roll_out);
  EXPECT_EQ(d.end_action, EndBehavior::kForceCancel);
}

TEST(DecideScheduleTest, WindowsWithoutStartOrEnd) {
  Schedule s;
  s.windows = *ParseMaintenanceWindows({{"cron(0 2 * * ? *)", 60}});
  ScheduleDecision d = DecideSchedule(s, Utc(2026, 12, 31, 23, 0));
  EXPECT_EQ(d.status, ScheduledStatus::kScheduled);
  EXPECT_EQ(d.next_change, Utc(2027, 1, 1, 2, 0));
  d = DecideSchedule(s, Utc(2027, 1, 1, 2, 59));
  EXPECT_EQ(d.status, ScheduledStatus::kInProgress);
  EXPECT_EQ(d.next_change, Utc(2027, 1, 1, 3, 0));
}

TEST(ScheduledRolloutsTest, NextSevenWindowStartsFromStartAndBeforeEnd) {
  Schedule s;
  s.start = Utc(2026, 10, 4, 22, 0);  // exactly a window start: it counts
  s.windows = *ParseMaintenanceWindows({{"cron(0 22 ? * SUN *)", 180}});
  const Instant now = Utc(2026, 9, 1);
  std::vector<Instant> r = ScheduledRollouts(s, now);
  ASSERT_EQ(r.size(), 7u);
  EXPECT_EQ(r.front(), Utc(2026, 10, 4, 22, 0));
  EXPECT_EQ(r.back(), Utc(2026, 11, 15, 22, 0));
  EXPECT_EQ(FormatIsoUtc(r[1]), "2026-10-11T22:00");

  s.end = Utc(2026, 10, 18, 22, 0);  // a window starting at the end does not count
  r = ScheduledRollouts(s, now);
  EXPECT_EQ(r, (std::vector<Instant>{Utc(2026, 10, 4, 22, 0), Utc(2026, 10, 11, 22, 0)}));

  // Later on, only windows after now.
  s.end.reset();
  r = ScheduledRollouts(s, Utc(2026, 10, 4, 22, 0));
  EXPECT_EQ(r.front(), Utc(2026, 10, 11, 22, 0));

  EXPECT_TRUE(ScheduledRollouts(Schedule{}, now).empty());
}

}  // namespace
}  // namespace iotjobs::jobs
