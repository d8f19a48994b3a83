#include "jobs/cron.h"

#include <gtest/gtest.h>

#include <string>

#include "jobs/tests/utc.h"

namespace iotjobs::jobs {
namespace {

using testing::Min;
using testing::Utc;

CronExpression Cron(const std::string& text) {
  Result<CronExpression> c = CronExpression::Parse(text);
  EXPECT_TRUE(c.ok()) << text << ": " << c.status().ToString();
  return c.ok() ? *c : *CronExpression::Parse("cron(0 0 1 1 ? 1970)");
}

std::optional<Instant> Next(const std::string& text, Instant after) {
  return Cron(text).NextAfter(after);
}

std::string ParseError(const std::string& text) {
  Result<CronExpression> c = CronExpression::Parse(text);
  if (c.ok()) return "parsed";
  EXPECT_EQ(c.status().code(), Code::kInvalidRequest);
  return c.status().message();
}

TEST(CronParseTest, ErrorsNameTheField) {
  EXPECT_EQ(ParseError("cron(60 * * * ? *)"), "cron minutes field '60': 60 is outside 0-59");
  EXPECT_EQ(ParseError("cron(0 24 * * ? *)"), "cron hours field '24': 24 is outside 0-23");
  EXPECT_EQ(ParseError("cron(0 0 32 * ? *)"), "cron day-of-month field '32': 32 is outside 1-31");
  EXPECT_EQ(ParseError("cron(0 0 0 * ? *)"), "cron day-of-month field '0': 0 is outside 1-31");
  EXPECT_EQ(ParseError("cron(0 0 1 13 ? *)"), "cron month field '13': 13 is outside 1-12");
  EXPECT_EQ(ParseError("cron(0 0 1 FOO ? *)"),
            "cron month field 'FOO': 'FOO' is not a valid value; use 1-12 or JAN-DEC");
  EXPECT_EQ(ParseError("cron(0 0 ? * 8 *)"), "cron day-of-week field '8': 8 is outside 1-7");
  EXPECT_EQ(ParseError("cron(0 0 ? * SUNDAY *)"),
            "cron day-of-week field 'SUNDAY': 'SUNDAY' is not a valid value; use 1-7 or SUN-SAT");
  EXPECT_EQ(ParseError("cron(0 0 1 1 ? 2200)"),
            "cron year field '2200': 2200 is outside 1970-2199");
  EXPECT_EQ(ParseError("cron(0 0 1 1 ? 1969)"),
            "cron year field '1969': 1969 is outside 1970-2199");
  EXPECT_EQ(ParseError("cron(*/0 * * * ? *)"),
            "cron minutes field '*/0': step '0' must be a number >= 1");
  EXPECT_EQ(ParseError("cron(0 22-2 * * ? *)"),
            "cron hours field '22-2': range 22-2 runs backwards; ranges do not wrap");
  EXPECT_EQ(ParseError("cron(0,,5 * * * ? *)"), "cron minutes field '0,,5': empty list item");
  EXPECT_EQ(ParseError("cron(? * * * ? *)"),
            "cron minutes field '?': ? and # are only allowed in day-of-month and day-of-week");
  EXPECT_EQ(ParseError("cron(0 0 ? * 2#6 *)"),
            "cron day-of-week field '2#6': the k of d#k must be 1-5 (the k-th such day of the "
            "month)");
  EXPECT_EQ(ParseError("cron(0 0 L-2 * ? *)"),
            "cron day-of-month field 'L-2': use ?, L, LW or nW alone; # belongs to day-of-week");
}

TEST(CronParseTest, ShapeErrors) {
  EXPECT_EQ(ParseError("0 0 * * ? *"),
            "cron expression must look like cron(minutes hours day-of-month month day-of-week "
            "year), got '0 0 * * ? *'");
  EXPECT_EQ(ParseError("cron(0 0 * * ?)"),
            "cron expression must have 6 fields (minutes hours day-of-month month day-of-week "
            "year), got 5 in 'cron(0 0 * * ?)'");
  EXPECT_EQ(ParseError("cron(0 0 * * * *)"),
            "cron day-of-month '*' and day-of-week '*': exactly one of them must be ? (the other "
            "selects the days), in 'cron(0 0 * * * *)'");
  EXPECT_NE(ParseError("cron(0 0 ? * ? *)").find("exactly one of them must be ?"),
            std::string::npos);
}

TEST(CronParseTest, AcceptsTheSyntaxAwsDocuments) {
  for (const char* ok :
       {"cron(0 0 ? * SUN *)", "cron(0/15 * * * ? *)", "cron(5,35 14 * * ? *)",
        "cron(15 10 ? * 6L 2019-2022)", "cron(0 18 ? * MON-FRI *)", "cron(0 8 1 * ? *)",
        "cron(0 10 ? * 2#3 *)", "cron(0 9 15W * ? *)", "cron(0 9 LW * ? *)", "cron(0 9 L * ? *)",
        "cron(0 0 ? JAN,JUL sun *)", "cron(  0   0  ?  *  L  * )", "cron(0 0 1 JUL ? *)"}) {
    EXPECT_EQ(ParseError(ok), "parsed") << ok;
  }
}

TEST(CronNextTest, WeeklySundayMidnight) {
  // 2024-06-02 is a Sunday.
  EXPECT_EQ(Next("cron(0 0 ? * SUN *)", Utc(2024, 5, 29, 15, 30)), Utc(2024, 6, 2));
  // Strictly after: an occurrence at `t` itself is skipped.
  EXPECT_EQ(Next("cron(0 0 ? * SUN *)", Utc(2024, 6, 2)), Utc(2024, 6, 9));
  EXPECT_EQ(Next("cron(0 0 ? * 1 *)", Utc(2024, 6, 2, 0, 0, 0, 1)), Utc(2024, 6, 9));
}

TEST(CronNextTest, SecondsAreIgnored) {
  EXPECT_EQ(Next("cron(* * * * ? *)", Utc(2024, 6, 2, 12, 0, 30)), Utc(2024, 6, 2, 12, 1));
  EXPECT_EQ(Next("cron(* * * * ? *)", Utc(2024, 6, 2, 12, 0, 59, 999)), Utc(2024, 6, 2, 12, 1));
}

TEST(CronNextTest, StepsRangesAndLists) {
  EXPECT_EQ(Next("cron(0/15 * * * ? *)", Utc(2024, 6, 2, 12, 16)), Utc(2024, 6, 2, 12, 30));
  EXPECT_EQ(Next("cron(5/20 * * * ? *)", Utc(2024, 6, 2, 12, 46)), Utc(2024, 6, 2, 13, 5));
  EXPECT_EQ(Next("cron(10-20/5 8 * * ? *)", Utc(2024, 6, 2, 8, 15)), Utc(2024, 6, 2, 8, 20));
  EXPECT_EQ(Next("cron(10-20/5 8 * * ? *)", Utc(2024, 6, 2, 8, 20)), Utc(2024, 6, 3, 8, 10));
  // Weekdays only: Friday 2024-06-07 18:00 → Monday 2024-06-10 18:00.
  EXPECT_EQ(Next("cron(0 18 ? * MON-FRI *)", Utc(2024, 6, 7, 18, 0)), Utc(2024, 6, 10, 18, 0));
  EXPECT_EQ(Next("cron(0 0 1 JAN,JUL ? *)", Utc(2024, 1, 1)), Utc(2024, 7, 1));
  EXPECT_EQ(Next("cron(0 0 1 jan,jul ? *)", Utc(2024, 7, 1)), Utc(2025, 1, 1));
}

TEST(CronNextTest, LeapDay) {
  const std::string leap_day = "cron(0 12 29 2 ? *)";
  EXPECT_EQ(Next(leap_day, Utc(2024, 1, 1)), Utc(2024, 2, 29, 12, 0));
  EXPECT_EQ(Next(leap_day, Utc(2024, 2, 29, 12, 0)), Utc(2028, 2, 29, 12, 0));
  EXPECT_EQ(Next(leap_day, Utc(2025, 1, 1)), Utc(2028, 2, 29, 12, 0));
  // 2100 is not a leap year: 2096 → 2104.
  EXPECT_EQ(Next(leap_day, Utc(2096, 3, 1)), Utc(2104, 2, 29, 12, 0));
}

TEST(CronNextTest, ThirtyFirstSkipsMonthsThatLackIt) {
  EXPECT_EQ(Next("cron(0 0 31 * ? *)", Utc(2024, 4, 1)), Utc(2024, 5, 31));
  EXPECT_EQ(Next("cron(0 0 31 * ? *)", Utc(2024, 1, 31)), Utc(2024, 3, 31));
  EXPECT_EQ(Next("cron(0 0 31 * ? *)", Utc(2024, 7, 31)), Utc(2024, 8, 31));  // Jul, Aug: both 31
  EXPECT_EQ(Next("cron(0 0 30 2 ? *)", Utc(2024, 1, 1)), std::nullopt);       // never
}

TEST(CronNextTest, LastDayOfMonth) {
  const std::string last = "cron(0 0 L * ? *)";
  EXPECT_EQ(Next(last, Utc(2023, 2, 1)), Utc(2023, 2, 28));
  EXPECT_EQ(Next(last, Utc(2024, 2, 1)), Utc(2024, 2, 29));
  EXPECT_EQ(Next(last, Utc(2024, 2, 29)), Utc(2024, 3, 31));
  EXPECT_EQ(Next(last, Utc(2024, 4, 1)), Utc(2024, 4, 30));
  EXPECT_EQ(Next(last, Utc(2024, 12, 31)), Utc(2025, 1, 31));
}

TEST(CronNextTest, YearBoundary) {
  EXPECT_EQ(Next("cron(30 23 * * ? *)", Utc(2024, 12, 31, 23, 30)), Utc(2025, 1, 1, 23, 30));
  EXPECT_EQ(Next("cron(0 0 * * ? *)", Utc(2024, 12, 31, 0, 0)), Utc(2025, 1, 1));
  EXPECT_EQ(Next("cron(0 0 1 1 ? *)", Utc(2024, 6, 1)), Utc(2025, 1, 1));
  EXPECT_EQ(Next("cron(59 23 31 12 ? *)", Utc(2024, 12, 31, 23, 59)), Utc(2025, 12, 31, 23, 59));
}

TEST(CronNextTest, YearField) {
  EXPECT_EQ(Next("cron(0 0 1 1 ? 2030)", Utc(2029, 6, 1)), Utc(2030, 1, 1));
  EXPECT_EQ(Next("cron(0 0 1 1 ? 2030)", Utc(2030, 1, 1)), std::nullopt);
  EXPECT_EQ(Next("cron(0 0 1 1 ? 2026,2028-2030/2)", Utc(2026, 1, 1)), Utc(2028, 1, 1));
  EXPECT_EQ(Next("cron(0 0 31 12 ? *)", Utc(2199, 1, 1)), Utc(2199, 12, 31));
  EXPECT_EQ(Next("cron(0 0 31 12 ? *)", Utc(2199, 12, 31)), std::nullopt);
  EXPECT_EQ(Next("cron(0 0 1 1 ? *)", Utc(1960, 6, 1)), Utc(1970, 1, 1));
}

TEST(CronNextTest, NthWeekdayOfMonth) {
  // Second Monday: 2024-06-10, then 2024-07-08.
  EXPECT_EQ(Next("cron(0 10 ? * MON#2 *)", Utc(2024, 6, 1)), Utc(2024, 6, 10, 10, 0));
  EXPECT_EQ(Next("cron(0 10 ? * 2#2 *)", Utc(2024, 6, 10, 10, 0)), Utc(2024, 7, 8, 10, 0));
  // Fifth Friday: only March, May, August and November of 2024 have one.
  EXPECT_EQ(Next("cron(0 0 ? * FRI#5 *)", Utc(2024, 3, 30)), Utc(2024, 5, 31));
  EXPECT_EQ(Next("cron(0 0 ? * 6#5 *)", Utc(2024, 5, 31)), Utc(2024, 8, 30));
}

TEST(CronNextTest, LastWeekdayOfMonth) {
  // Last Friday of each month: 2024-06-28, 2024-07-26.
  EXPECT_EQ(Next("cron(0 0 ? * FRIL *)", Utc(2024, 6, 1)), Utc(2024, 6, 28));
  EXPECT_EQ(Next("cron(0 0 ? * 6L *)", Utc(2024, 6, 28)), Utc(2024, 7, 26));
  // L alone in day-of-week is Saturday.
  EXPECT_EQ(Next("cron(0 0 ? * L *)", Utc(2024, 6, 2)), Utc(2024, 6, 8));
}

TEST(CronNextTest, NearestWeekday) {
  // 2024-06-15 is a Saturday: the Friday before.
  EXPECT_EQ(Next("cron(0 9 15W * ? *)", Utc(2024, 6, 1)), Utc(2024, 6, 14, 9, 0));
  // 2025-03-01 is a Saturday: moving back would leave the month, so Monday the 3rd.
  EXPECT_EQ(Next("cron(0 9 1W * ? *)", Utc(2025, 2, 28)), Utc(2025, 3, 3, 9, 0));
  // 2025-11-30 is a Sunday and the month's last day: Friday the 28th.
  EXPECT_EQ(Next("cron(0 9 30W * ? *)", Utc(2025, 11, 1)), Utc(2025, 11, 28, 9, 0));
  // 31W in a 30-day month does not fire.
  EXPECT_EQ(Next("cron(0 9 31W * ? *)", Utc(2024, 6, 1)), Utc(2024, 7, 31, 9, 0));
  // LW: 2024-08-31 is a Saturday, so Friday the 30th.
  EXPECT_EQ(Next("cron(0 9 LW * ? *)", Utc(2024, 8, 1)), Utc(2024, 8, 30, 9, 0));
}

TEST(CronNextTest, MatchesAgreesWithNextAfter) {
  const CronExpression c = Cron("cron(0/20 9-17 ? * MON-FRI *)");
  Instant t = Utc(2024, 6, 7, 16, 50);
  for (int i = 0; i < 50; ++i) {
    std::optional<Instant> next = c.NextAfter(t);
    ASSERT_TRUE(next);
    EXPECT_TRUE(c.Matches(*next));
    // No occurrence was skipped: every minute in between does not match.
    for (Instant m = t + Min(1); m < *next; m += Min(1)) {
      ASSERT_FALSE(c.Matches(m)) << (m - t).count();
    }
    t = *next;
  }
}

std::vector<CronWindow> Windows(std::vector<MaintenanceWindow> in) {
  Result<std::vector<CronWindow>> w = ParseMaintenanceWindows(in);
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  return w.ok() ? *w : std::vector<CronWindow>{};
}

TEST(MaintenanceWindowTest, ParseErrorsNameTheWindow) {
  Result<std::vector<CronWindow>> w =
      ParseMaintenanceWindows({{"cron(0 0 ? * SUN *)", 60}, {"cron(0 24 ? * SUN *)", 60}});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().message(),
            "maintenanceWindows[1].startTime: cron hours field '24': 24 is outside 0-23");
}

// Sunday 22:00 for three hours runs into Monday.
TEST(MaintenanceWindowTest, SundayWindowCrossingMidnightIntoMonday) {
  const std::vector<CronWindow> w = Windows({{"cron(0 22 ? * SUN *)", 180}});
  WindowState s = WindowStateAt(w, Utc(2024, 6, 2, 21, 59, 59, 999));
  EXPECT_FALSE(s.open);
  EXPECT_EQ(s.next_opens_at, Utc(2024, 6, 2, 22, 0));

  s = WindowStateAt(w, Utc(2024, 6, 2, 22, 0));  // opens inclusive
  EXPECT_TRUE(s.open);
  EXPECT_EQ(s.closes_at, Utc(2024, 6, 3, 1, 0));

  s = WindowStateAt(w, Utc(2024, 6, 3, 0, 30));  // Monday
  EXPECT_TRUE(s.open);
  EXPECT_EQ(s.closes_at, Utc(2024, 6, 3, 1, 0));

  s = WindowStateAt(w, Utc(2024, 6, 3, 1, 0));  // closes exclusive
  EXPECT_FALSE(s.open);
  EXPECT_EQ(s.next_opens_at, Utc(2024, 6, 9, 22, 0));
}

TEST(MaintenanceWindowTest, NewYearsEveWindowCrossesIntoTheNewYear) {
  const std::vector<CronWindow> w = Windows({{"cron(0 23 31 12 ? *)", 120}});
  WindowState s = WindowStateAt(w, Utc(2025, 1, 1, 0, 59));
  EXPECT_TRUE(s.open);
  EXPECT_EQ(s.closes_at, Utc(2025, 1, 1, 1, 0));
  s = WindowStateAt(w, Utc(2025, 1, 1, 1, 0));
  EXPECT_FALSE(s.open);
  EXPECT_EQ(s.next_opens_at, Utc(2025, 12, 31, 23, 0));
}

TEST(MaintenanceWindowTest, SeveralWindowsTheLatestEndingOpenOneCloses) {
  const std::vector<CronWindow> w =
      Windows({{"cron(0 1 * * ? *)", 60}, {"cron(30 1 * * ? *)", 90}, {"cron(0 12 * * ? *)", 30}});
  WindowState s = WindowStateAt(w, Utc(2024, 6, 3, 1, 45));
  EXPECT_TRUE(s.open);
  EXPECT_EQ(s.closes_at, Utc(2024, 6, 3, 3, 0));
  s = WindowStateAt(w, Utc(2024, 6, 3, 3, 0));
  EXPECT_FALSE(s.open);
  EXPECT_EQ(s.next_opens_at, Utc(2024, 6, 3, 12, 0));
  // A frequent cron keeps re-opening: the latest occurrence decides when it closes.
  const std::vector<CronWindow> every_ten = Windows({{"cron(0/10 * * * ? *)", 15}});
  s = WindowStateAt(every_ten, Utc(2024, 6, 3, 1, 12));
  EXPECT_TRUE(s.open);
  EXPECT_EQ(s.closes_at, Utc(2024, 6, 3, 1, 25));
}

TEST(MaintenanceWindowTest, NoWindowEverOpens) {
  const std::vector<CronWindow> w = Windows({{"cron(0 0 1 1 ? 2020)", 60}});
  WindowState s = WindowStateAt(w, Utc(2024, 1, 1));
  EXPECT_FALSE(s.open);
  EXPECT_EQ(s.next_opens_at, std::nullopt);
  EXPECT_TRUE(NextWindowStarts(w, Utc(2024, 1, 1)).empty());
}

TEST(MaintenanceWindowTest, NextSevenStartsMergeWindows) {
  const std::vector<CronWindow> w = Windows({{"cron(0 22 ? * SUN *)", 180},
                                             {"cron(0 3 ? * WED *)", 60},
                                             {"cron(0 22 ? * 1 *)", 30}});  // same as the first
  std::vector<Instant> starts = NextWindowStarts(w, Utc(2024, 12, 26));
  const std::vector<Instant> want = {
      Utc(2024, 12, 29, 22), Utc(2025, 1, 1, 3),  Utc(2025, 1, 5, 22), Utc(2025, 1, 8, 3),
      Utc(2025, 1, 12, 22),  Utc(2025, 1, 15, 3), Utc(2025, 1, 19, 22)};
  EXPECT_EQ(starts, want);
  EXPECT_EQ(NextWindowStarts(w, Utc(2024, 12, 26), 2).size(), 2u);
}

}  // namespace
}  // namespace iotjobs::jobs
