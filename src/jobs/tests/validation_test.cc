#include "jobs/validation.h"

#include <gtest/gtest.h>

#include <climits>
#include <string>
#include <vector>

namespace iotjobs::jobs {
namespace {

// Expects `st` to be InvalidRequest with exactly `message`.
#define EXPECT_INVALID(st, want)                                   \
  do {                                                             \
    const ::iotjobs::Status _s = (st);                             \
    EXPECT_EQ(_s.code(), ::iotjobs::Code::kInvalidRequest) << #st; \
    EXPECT_EQ(_s.message(), std::string(want)) << #st;             \
  } while (0)

#define EXPECT_VALID(st)                                  \
  do {                                                    \
    const ::iotjobs::Status _s = (st);                    \
    EXPECT_TRUE(_s.ok()) << #st << ": " << _s.ToString(); \
  } while (0)

std::string Repeat(std::string_view unit, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += unit;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Identifiers, description, document.

TEST(ValidateIdTest, AcceptsOneToSixtyFourOfTheAllowedCharacters) {
  EXPECT_VALID(ValidateId("jobId", "a"));
  EXPECT_VALID(ValidateId("jobId", "Firmware_Update-2024"));
  EXPECT_VALID(ValidateId("jobId", Repeat("x", 64)));
  EXPECT_VALID(ValidateId("jobId", "0123456789"));
}

TEST(ValidateIdTest, RejectsEmptyTooLongAndOtherCharacters) {
  EXPECT_INVALID(ValidateId("jobTemplateId", ""),
                 "jobTemplateId must be 1 to 64 characters of [a-zA-Z0-9_-], got ''");
  EXPECT_INVALID(
      ValidateId("jobTemplateId", Repeat("x", 65)),
      "jobTemplateId must be 1 to 64 characters of [a-zA-Z0-9_-], got '" + Repeat("x", 65) + "'");
  for (const char* bad : {"a.b", "a b", "a/b", "a:b", "caf\xC3\xA9", "a+b", "a%20"}) {
    const Status st = ValidateId("jobId", bad);
    EXPECT_EQ(st.code(), Code::kInvalidRequest) << bad;
  }
}

TEST(ValidateIdTest, MessageQuotesAtMostEightyCharacters) {
  const Status st = ValidateId("jobId", Repeat("y", 500));
  EXPECT_EQ(st.message(),
            "jobId must be 1 to 64 characters of [a-zA-Z0-9_-], got '" + Repeat("y", 80) + "'");
}

TEST(ValidateDescriptionTest, AcceptsEmptyAndPrintableText) {
  EXPECT_VALID(ValidateDescription("description", ""));
  EXPECT_VALID(ValidateDescription("description", "Firmware update for fleet A (v1.2 -> v1.3)"));
  EXPECT_VALID(ValidateDescription("description", "mise \xC3\xA0 jour \xE6\x9B\xB4\xE6\x96\xB0"));
}

TEST(ValidateDescriptionTest, LimitIsCountedInCodePointsNotBytes) {
  // 2028 two-byte characters are 4056 bytes and still within the limit.
  EXPECT_VALID(ValidateDescription("description", Repeat("\xC3\xA9", 2028)));
  EXPECT_VALID(ValidateDescription("description", Repeat("\xF0\x9F\x98\x80", 2028)));
  EXPECT_VALID(ValidateDescription("description", Repeat("a", 2028)));
  EXPECT_INVALID(ValidateDescription("description", Repeat("a", 2029)),
                 "description must be at most 2028 characters, got 2029");
  EXPECT_INVALID(ValidateDescription("comment", Repeat("\xC3\xA9", 2029)),
                 "comment must be at most 2028 characters, got 2029");
}

TEST(ValidateDescriptionTest, RejectsControlAndFormatCharacters) {
  const std::string message = "description must not contain control or format characters";
  EXPECT_INVALID(ValidateDescription("description", "line one\nline two"), message);
  EXPECT_INVALID(ValidateDescription("description", "tab\there"), message);
  EXPECT_INVALID(ValidateDescription("description", "cr\r"), message);
  EXPECT_INVALID(ValidateDescription("description", std::string("nul\0", 4)), message);
  EXPECT_INVALID(ValidateDescription("description", "del\x7F"), message);
  EXPECT_INVALID(ValidateDescription("description", "c1 \xC2\x85"), message);  // U+0085 NEL
  EXPECT_INVALID(ValidateDescription("description", "zero\xE2\x80\x8Bwidth"), message);  // U+200B
  EXPECT_INVALID(ValidateDescription("description",
                                     "\xEF\xBB\xBF"
                                     "bom"),
                 message);                                                              // U+FEFF
  EXPECT_INVALID(ValidateDescription("description", "private \xEE\x80\x80"), message);  // U+E000
}

TEST(ValidateDescriptionTest, RejectsInvalidUtf8) {
  EXPECT_INVALID(ValidateDescription("description", "bad \xC3"), "description must be valid UTF-8");
  EXPECT_INVALID(ValidateDescription("description", "\xED\xA0\x80"),  // a lone surrogate
                 "description must be valid UTF-8");
}

TEST(ValidateDocumentTest, AtMost32768Bytes) {
  EXPECT_VALID(ValidateDocument(""));
  EXPECT_VALID(ValidateDocument(std::string(32768, 'x')));
  EXPECT_INVALID(ValidateDocument(std::string(32769, 'x')),
                 "document must be at most 32768 bytes, got 32769");
  // Bytes, not characters: 16385 two-byte characters are 32770 bytes.
  EXPECT_INVALID(ValidateDocument(Repeat("\xC3\xA9", 16385)),
                 "document must be at most 32768 bytes, got 32770");
}

TEST(ValidateDocumentSourceTest, OneTo1350Characters) {
  EXPECT_VALID(ValidateDocumentSource("s3://b/k"));
  EXPECT_VALID(ValidateDocumentSource(std::string(1350, 'x')));
  EXPECT_INVALID(ValidateDocumentSource(""), "documentSource must be 1 to 1350 characters, got 0");
  EXPECT_INVALID(ValidateDocumentSource(std::string(1351, 'x')),
                 "documentSource must be 1 to 1350 characters, got 1351");
}

// ---------------------------------------------------------------------------------------------
// Configurations. Each test starts from an empty JobConfigs and sets only the member under test.

TEST(ValidateConfigsTest, EmptyConfigsAreValid) { EXPECT_VALID(ValidateConfigs(JobConfigs{})); }

JobConfigs Presigned(std::optional<std::string> role, std::optional<int64_t> expires) {
  JobConfigs c;
  c.presigned_url_config = PresignedUrlConfig{role, expires};
  return c;
}

TEST(ValidateConfigsTest, PresignedUrlConfigRoleArnLength) {
  EXPECT_VALID(ValidateConfigs(Presigned(std::nullopt, std::nullopt)));
  EXPECT_VALID(ValidateConfigs(Presigned(std::string(20, 'r'), std::nullopt)));
  EXPECT_VALID(ValidateConfigs(Presigned(std::string(2048, 'r'), std::nullopt)));
  EXPECT_INVALID(ValidateConfigs(Presigned(std::string(19, 'r'), std::nullopt)),
                 "presignedUrlConfig.roleArn must be 20 to 2048 characters, got 19");
  EXPECT_INVALID(ValidateConfigs(Presigned(std::string(2049, 'r'), std::nullopt)),
                 "presignedUrlConfig.roleArn must be 20 to 2048 characters, got 2049");
}

TEST(ValidateConfigsTest, PresignedUrlConfigExpiresInSecRange) {
  const std::string role = "arn:aws:iam::123456789012:role/S3Download";
  EXPECT_VALID(ValidateConfigs(Presigned(role, 60)));
  EXPECT_VALID(ValidateConfigs(Presigned(role, 3600)));
  EXPECT_INVALID(ValidateConfigs(Presigned(role, 59)),
                 "presignedUrlConfig.expiresInSec must be between 60 and 3600, got 59");
  EXPECT_INVALID(ValidateConfigs(Presigned(role, 3601)),
                 "presignedUrlConfig.expiresInSec must be between 60 and 3600, got 3601");
  EXPECT_INVALID(ValidateConfigs(Presigned(role, -1)),
                 "presignedUrlConfig.expiresInSec must be between 60 and 3600, got -1");
}

JobConfigs MaxPerMinute(int32_t v) {
  JobConfigs c;
  c.rollout_config = RolloutConfig{v, std::nullopt};
  return c;
}

TEST(ValidateConfigsTest, RolloutMaximumPerMinuteRange) {
  EXPECT_VALID(ValidateConfigs(MaxPerMinute(1)));
  EXPECT_VALID(ValidateConfigs(MaxPerMinute(1000)));
  EXPECT_INVALID(ValidateConfigs(MaxPerMinute(0)),
                 "jobExecutionsRolloutConfig.maximumPerMinute must be between 1 and 1000, got 0");
  EXPECT_INVALID(
      ValidateConfigs(MaxPerMinute(1001)),
      "jobExecutionsRolloutConfig.maximumPerMinute must be between 1 and 1000, got 1001");
  JobConfigs empty;
  empty.rollout_config = RolloutConfig{};
  EXPECT_VALID(ValidateConfigs(empty));
}

JobConfigs Exponential(int32_t base, double factor, std::optional<int32_t> notified,
                       std::optional<int32_t> succeeded) {
  JobConfigs c;
  c.rollout_config = RolloutConfig{
      std::nullopt,
      ExponentialRolloutRate{base, factor, RateIncreaseCriteria{notified, succeeded}}};
  return c;
}

const char* const kExp = "jobExecutionsRolloutConfig.exponentialRate";

TEST(ValidateConfigsTest, ExponentialBaseRatePerMinuteRange) {
  EXPECT_VALID(ValidateConfigs(Exponential(1, 2.0, 10, std::nullopt)));
  EXPECT_VALID(ValidateConfigs(Exponential(1000, 2.0, 10, std::nullopt)));
  EXPECT_INVALID(ValidateConfigs(Exponential(0, 2.0, 10, std::nullopt)),
                 std::string(kExp) + ".baseRatePerMinute must be between 1 and 1000, got 0");
  EXPECT_INVALID(ValidateConfigs(Exponential(1001, 2.0, 10, std::nullopt)),
                 std::string(kExp) + ".baseRatePerMinute must be between 1 and 1000, got 1001");
}

TEST(ValidateConfigsTest, ExponentialIncrementFactorRangeAndOneDecimal) {
  for (double ok : {1.1, 1.2, 1.5, 2.0, 2.7, 3.3, 4.9, 5.0}) {
    SCOPED_TRACE(ok);
    EXPECT_VALID(ValidateConfigs(Exponential(10, ok, 10, std::nullopt)));
  }
  const std::string msg =
      std::string(kExp) + ".incrementFactor must be between 1.1 and 5 with one decimal place, got ";
  EXPECT_INVALID(ValidateConfigs(Exponential(10, 1.0, 10, std::nullopt)), msg + "1");
  EXPECT_INVALID(ValidateConfigs(Exponential(10, 1.09, 10, std::nullopt)), msg + "1.09");
  EXPECT_INVALID(ValidateConfigs(Exponential(10, 5.01, 10, std::nullopt)), msg + "5.01");
  EXPECT_INVALID(ValidateConfigs(Exponential(10, 5.1, 10, std::nullopt)), msg + "5.1");
  EXPECT_INVALID(ValidateConfigs(Exponential(10, 1.15, 10, std::nullopt)), msg + "1.15");
  EXPECT_INVALID(ValidateConfigs(Exponential(10, 2.25, 10, std::nullopt)), msg + "2.25");
  EXPECT_INVALID(ValidateConfigs(Exponential(10, 0, 10, std::nullopt)), msg + "0");
  EXPECT_INVALID(ValidateConfigs(Exponential(10, -2, 10, std::nullopt)), msg + "-2");
}

// At least one threshold; both together are accepted (the developer guide's own
// create-job-template example sets both).
TEST(ValidateConfigsTest, RateIncreaseCriteriaNeedsAThreshold) {
  EXPECT_VALID(ValidateConfigs(Exponential(10, 2.0, 1000, 1000)));
  EXPECT_VALID(ValidateConfigs(Exponential(10, 2.0, 1, std::nullopt)));
  EXPECT_VALID(ValidateConfigs(Exponential(10, 2.0, std::nullopt, 1)));
  EXPECT_VALID(ValidateConfigs(Exponential(10, 2.0, INT32_MAX, std::nullopt)));
  EXPECT_VALID(ValidateConfigs(Exponential(10, 2.0, std::nullopt, INT32_MAX)));
  EXPECT_INVALID(ValidateConfigs(Exponential(10, 2.0, std::nullopt, std::nullopt)),
                 std::string(kExp) +
                     ".rateIncreaseCriteria needs numberOfNotifiedThings or "
                     "numberOfSucceededThings");
  EXPECT_INVALID(ValidateConfigs(Exponential(10, 2.0, 0, std::nullopt)),
                 std::string(kExp) +
                     ".rateIncreaseCriteria.numberOfNotifiedThings must be between 1 and "
                     "2147483647, got 0");
  EXPECT_INVALID(ValidateConfigs(Exponential(10, 2.0, std::nullopt, -5)),
                 std::string(kExp) +
                     ".rateIncreaseCriteria.numberOfSucceededThings must be between 1 and "
                     "2147483647, got -5");
}

AbortCriteria Abort(std::string type, double pct, int32_t min, std::string action = "CANCEL") {
  return AbortCriteria{std::move(type), std::move(action), pct, min};
}

JobConfigs Aborts(std::vector<AbortCriteria> list) {
  JobConfigs c;
  c.abort_config = AbortConfig{std::move(list)};
  return c;
}

TEST(ValidateConfigsTest, AbortConfigAcceptsEveryFailureType) {
  EXPECT_VALID(ValidateConfigs(Aborts({Abort("FAILED", 10, 1), Abort("REJECTED", 20.5, 5),
                                       Abort("TIMED_OUT", 0, 100), Abort("ALL", 100, 2)})));
}

TEST(ValidateConfigsTest, AbortConfigListAndEnums) {
  EXPECT_INVALID(ValidateConfigs(Aborts({})), "abortConfig.criteriaList must have at least 1 item");
  EXPECT_INVALID(ValidateConfigs(Aborts({Abort("FAILED", 10, 1), Abort("CANCELED", 10, 1)})),
                 "abortConfig.criteriaList[1].failureType must be one of "
                 "FAILED|REJECTED|TIMED_OUT|ALL, got 'CANCELED'");
  EXPECT_INVALID(ValidateConfigs(Aborts({Abort("failed", 10, 1)})),
                 "abortConfig.criteriaList[0].failureType must be one of "
                 "FAILED|REJECTED|TIMED_OUT|ALL, got 'failed'");
  EXPECT_INVALID(ValidateConfigs(Aborts({Abort("FAILED", 10, 1, "ABORT")})),
                 "abortConfig.criteriaList[0].action must be one of CANCEL, got 'ABORT'");
  EXPECT_INVALID(ValidateConfigs(Aborts({Abort("FAILED", 10, 1), Abort("FAILED", 20, 1)})),
                 "abortConfig.criteriaList[1].failureType FAILED appears more than once");
}

TEST(ValidateConfigsTest, AbortThresholdPercentageRangeAndTwoDecimals) {
  for (double ok : {0.0, 0.01, 10.9, 10.99, 33.33, 99.99, 100.0}) {
    SCOPED_TRACE(ok);
    EXPECT_VALID(ValidateConfigs(Aborts({Abort("ALL", ok, 1)})));
  }
  const std::string msg =
      "abortConfig.criteriaList[0].thresholdPercentage must be between 0 and 100 with at most 2 "
      "decimal places, got ";
  EXPECT_INVALID(ValidateConfigs(Aborts({Abort("ALL", 10.999, 1)})), msg + "10.999");
  EXPECT_INVALID(ValidateConfigs(Aborts({Abort("ALL", 100.01, 1)})), msg + "100.01");
  EXPECT_INVALID(ValidateConfigs(Aborts({Abort("ALL", 101, 1)})), msg + "101");
  EXPECT_INVALID(ValidateConfigs(Aborts({Abort("ALL", -0.01, 1)})), msg + "-0.01");
}

TEST(ValidateConfigsTest, AbortMinNumberOfExecutedThings) {
  EXPECT_VALID(ValidateConfigs(Aborts({Abort("ALL", 50, 1)})));
  EXPECT_VALID(ValidateConfigs(Aborts({Abort("ALL", 50, INT32_MAX)})));
  EXPECT_INVALID(ValidateConfigs(Aborts({Abort("ALL", 50, 0)})),
                 "abortConfig.criteriaList[0].minNumberOfExecutedThings must be between 1 and "
                 "2147483647, got 0");
}

JobConfigs Timeout(std::optional<int64_t> minutes) {
  JobConfigs c;
  c.timeout_config = TimeoutConfig{minutes};
  return c;
}

TEST(ValidateConfigsTest, TimeoutInProgressMinutesRange) {
  EXPECT_VALID(ValidateConfigs(Timeout(std::nullopt)));
  EXPECT_VALID(ValidateConfigs(Timeout(1)));
  EXPECT_VALID(ValidateConfigs(Timeout(10080)));
  EXPECT_INVALID(ValidateConfigs(Timeout(0)),
                 "timeoutConfig.inProgressTimeoutInMinutes must be between 1 and 10080, got 0");
  EXPECT_INVALID(ValidateConfigs(Timeout(10081)),
                 "timeoutConfig.inProgressTimeoutInMinutes must be between 1 and 10080, got 10081");
}

JobConfigs Retries(std::vector<RetryCriteria> list) {
  JobConfigs c;
  c.retry_config = RetryConfig{std::move(list)};
  return c;
}

TEST(ValidateConfigsTest, RetryConfigListSizeAndEnums) {
  EXPECT_VALID(ValidateConfigs(Retries({{"FAILED", 3}})));
  EXPECT_VALID(ValidateConfigs(Retries({{"FAILED", 3}, {"TIMED_OUT", 2}})));
  EXPECT_VALID(ValidateConfigs(Retries({{"ALL", 10}})));
  EXPECT_INVALID(ValidateConfigs(Retries({})),
                 "jobExecutionsRetryConfig.criteriaList must have 1 or 2 items, got 0");
  EXPECT_INVALID(ValidateConfigs(Retries({{"FAILED", 1}, {"TIMED_OUT", 1}, {"ALL", 1}})),
                 "jobExecutionsRetryConfig.criteriaList must have 1 or 2 items, got 3");
  EXPECT_INVALID(ValidateConfigs(Retries({{"REJECTED", 1}})),
                 "jobExecutionsRetryConfig.criteriaList[0].failureType must be one of "
                 "FAILED|TIMED_OUT|ALL, got 'REJECTED'");
  EXPECT_INVALID(ValidateConfigs(Retries({{"TIMED_OUT", 1}, {"TIMED_OUT", 2}})),
                 "jobExecutionsRetryConfig.criteriaList[1].failureType TIMED_OUT appears more "
                 "than once");
}

TEST(ValidateConfigsTest, RetryCountsPerCriterionAndInTotal) {
  EXPECT_VALID(ValidateConfigs(Retries({{"FAILED", 0}})));
  EXPECT_VALID(ValidateConfigs(Retries({{"FAILED", 10}})));
  EXPECT_VALID(ValidateConfigs(Retries({{"FAILED", 5}, {"TIMED_OUT", 5}})));
  EXPECT_VALID(ValidateConfigs(Retries({{"FAILED", 0}, {"TIMED_OUT", 10}})));
  EXPECT_INVALID(
      ValidateConfigs(Retries({{"FAILED", 11}})),
      "jobExecutionsRetryConfig.criteriaList[0].numberOfRetries must be between 0 and 10, got 11");
  EXPECT_INVALID(
      ValidateConfigs(Retries({{"FAILED", -1}})),
      "jobExecutionsRetryConfig.criteriaList[0].numberOfRetries must be between 0 and 10, got -1");
  EXPECT_INVALID(ValidateConfigs(Retries({{"FAILED", 6}, {"TIMED_OUT", 5}})),
                 "jobExecutionsRetryConfig allows at most 10 retries in total per device, got 11");
  EXPECT_INVALID(ValidateConfigs(Retries({{"ALL", 10}, {"FAILED", 10}})),
                 "jobExecutionsRetryConfig allows at most 10 retries in total per device, got 20");
}

JobConfigs Windows(std::vector<MaintenanceWindow> w) {
  JobConfigs c;
  c.maintenance_windows = std::move(w);
  return c;
}

TEST(ValidateConfigsTest, MaintenanceWindowCronAndDuration) {
  EXPECT_VALID(ValidateConfigs(Windows({})));
  EXPECT_VALID(ValidateConfigs(Windows({{"cron(0 0 ? * SUN *)", 60}})));
  EXPECT_VALID(ValidateConfigs(Windows({{"cron(15 10 ? * 6L 2022-2030)", 1},
                                        {"cron(0/15 * ? * MON-FRI *)", 1430},
                                        {"cron(0 8 1,15 * ? *)", 30},
                                        {"cron(0 8 ? * 2#1 *)", 30},
                                        {"cron(0  0  ?  *  SUN  *)", 30}})));
  EXPECT_INVALID(ValidateConfigs(Windows({{"cron(0 0 ? * SUN *)", 0}})),
                 "maintenanceWindows[0].durationInMinutes must be between 1 and 1430, got 0");
  EXPECT_INVALID(
      ValidateConfigs(Windows({{"cron(0 0 ? * SUN *)", 60}, {"cron(0 0 ? * SUN *)", 1431}})),
      "maintenanceWindows[1].durationInMinutes must be between 1 and 1430, got 1431");
}

TEST(ValidateConfigsTest, MaintenanceWindowStartTimeLength) {
  EXPECT_INVALID(ValidateConfigs(Windows({{"", 60}})),
                 "maintenanceWindows[0].startTime must be 1 to 256 characters");
  // 256 characters is allowed by length (here: cron( + 6 fields padded with spaces + ')').
  std::string at_limit = "cron(0 0 ? * SUN *" + std::string(256 - 19, ' ') + ")";
  ASSERT_EQ(at_limit.size(), 256u);
  EXPECT_VALID(ValidateConfigs(Windows({{at_limit, 60}})));
  std::string past = "cron(0 0 ? * SUN *" + std::string(257 - 19, ' ') + ")";
  EXPECT_INVALID(ValidateConfigs(Windows({{past, 60}})),
                 "maintenanceWindows[0].startTime must be 1 to 256 characters");
}

TEST(ValidateConfigsTest, MaintenanceWindowCronSyntax) {
  const std::string shape =
      "maintenanceWindows[0].startTime: cron expression must look like cron(minutes hours "
      "day-of-month month day-of-week year), got ";
  EXPECT_INVALID(ValidateConfigs(Windows({{"0 0 ? * SUN *", 60}})), shape + "'0 0 ? * SUN *'");
  EXPECT_INVALID(ValidateConfigs(Windows({{"cron(0 0 ? * SUN *", 60}})),
                 shape + "'cron(0 0 ? * SUN *'");
  EXPECT_INVALID(ValidateConfigs(Windows({{"rate(5 minutes)", 60}})), shape + "'rate(5 minutes)'");
  const std::string count =
      "maintenanceWindows[0].startTime: cron expression must have 6 fields (minutes hours "
      "day-of-month month day-of-week year), got ";
  EXPECT_INVALID(ValidateConfigs(Windows({{"cron(0 0 ? * SUN)", 60}})),
                 count + "5 in 'cron(0 0 ? * SUN)'");
  EXPECT_INVALID(ValidateConfigs(Windows({{"cron(0 0 0 ? * SUN *)", 60}})),
                 count + "7 in 'cron(0 0 0 ? * SUN *)'");
  EXPECT_INVALID(ValidateConfigs(Windows({{"cron( )", 60}})), count + "0 in 'cron( )'");
  EXPECT_INVALID(ValidateConfigs(Windows({{"cron(0 0 ? * SUN; *)", 60}})),
                 "maintenanceWindows[0].startTime: cron day-of-week field 'SUN;': 'SUN;' is not a "
                 "valid value; use 1-7 or SUN-SAT");
}

// Finding 6 of issue 16: a template's windows were only shape-checked, so CreateJobTemplate stored
// crons the scheduler cannot run and every CreateJob from the template then failed. The template
// member and a job's schedulingConfig.maintenanceWindows now go through the scheduler's parser.
TEST(ValidateConfigsTest, Finding6TemplateCronsAreParsedAsTheSchedulerParsesThem) {
  struct Case {
    const char* cron;
    const char* message;
  };
  for (const Case& c : {
           Case{"cron(60 0 * * ? *)", "cron minutes field '60': 60 is outside 0-59"},
           Case{"cron(0/0 0 * * ? *)", "cron minutes field '0/0': step '0' must be a number >= 1"},
           Case{"cron(0 0 ? * ? *)", "exactly one of them must be ?"},
           Case{"cron(30-10 0 * * ? *)",
                "cron minutes field '30-10': range 30-10 runs backwards; ranges do not wrap"},
           Case{"cron(0 0 * * ? 99999)", "cron year field '99999': 99999 is too large"},
           Case{"cron(0 0 ? * 1#6 *)", "cron day-of-week field '1#6': the k of d#k must be 1-5"},
       }) {
    SCOPED_TRACE(c.cron);
    for (const char* field : {"maintenanceWindows", "schedulingConfig.maintenanceWindows"}) {
      Status st =
          field[0] == 'm'
              ? ValidateConfigs(Windows({{"cron(0 0 ? * SUN *)", 60}, {c.cron, 60}}))
              : ValidateMaintenanceWindows(field, {{"cron(0 0 ? * SUN *)", 60}, {c.cron, 60}});
      EXPECT_EQ(st.code(), Code::kInvalidRequest);
      EXPECT_EQ(st.message().rfind(std::string(field) + "[1].startTime: ", 0), 0u) << st.message();
      EXPECT_NE(st.message().find(c.message), std::string::npos) << st.message();
    }
  }
}

JobConfigs Packages(std::vector<std::string> arns) {
  JobConfigs c;
  c.destination_package_versions = std::move(arns);
  return c;
}

TEST(ValidateConfigsTest, DestinationPackageVersionsArnPattern) {
  const std::string arn = "arn:aws:iot:us-east-1:123456789012:package/fw/version/1.0.0";
  EXPECT_VALID(ValidateConfigs(Packages({arn})));
  EXPECT_VALID(ValidateConfigs(Packages({"arn:!~"})));
  EXPECT_VALID(ValidateConfigs(Packages({"arn:" + std::string(1596, 'v')})));  // 1600 chars
  EXPECT_INVALID(ValidateConfigs(Packages({arn, ""})),
                 "destinationPackageVersions[1] must be 1 to 1600 characters");
  EXPECT_INVALID(ValidateConfigs(Packages({"arn:" + std::string(1597, 'v')})),
                 "destinationPackageVersions[0] must be 1 to 1600 characters");
  for (const std::string bad : {"arn:", "aws:iot:x", "ARN:aws:iot", " arn:aws", "arn:a b",
                                "arn:caf\xC3\xA9", "arn:tab\t", "xarn:aws"}) {
    EXPECT_INVALID(ValidateConfigs(Packages({bad})),
                   "destinationPackageVersions[0] must match ^arn:[!-~]+$, got '" + bad + "'");
  }
}

TEST(ValidateConfigsTest, DestinationPackageVersionsAtMost25) {
  const std::string arn = "arn:aws:iot:us-east-1:123456789012:package/fw/version/1";
  EXPECT_VALID(ValidateConfigs(Packages(std::vector<std::string>(25, arn))));
  EXPECT_INVALID(ValidateConfigs(Packages(std::vector<std::string>(26, arn))),
                 "destinationPackageVersions must have at most 25 items, got 26");
}

TEST(ValidateConfigsTest, ReportsTheFirstBadConfigInMemberOrder) {
  JobConfigs c = Presigned(std::nullopt, 1);
  c.timeout_config = TimeoutConfig{0};
  EXPECT_INVALID(ValidateConfigs(c),
                 "presignedUrlConfig.expiresInSec must be between 60 and 3600, got 1");
}

// ---------------------------------------------------------------------------------------------
// Tags.

TEST(ValidateTagKeyTest, AcceptsThePatternCharacters) {
  EXPECT_VALID(ValidateTagKey("Key", "env"));
  EXPECT_VALID(ValidateTagKey("Key", "team/owner:name=a+b-c@d_e.f g"));
  EXPECT_VALID(ValidateTagKey("Key", "\xC3\xA9quipe"));             // non-ASCII letter
  EXPECT_VALID(ValidateTagKey("Key", "\xE6\x9D\xB1\xE4\xBA\xAC"));  // 東京
  EXPECT_VALID(ValidateTagKey("Key", "awsome"));                    // not the 'aws:' prefix
  EXPECT_VALID(ValidateTagKey("Key", "my:aws:key"));
}

TEST(ValidateTagKeyTest, LengthOneTo128Characters) {
  EXPECT_VALID(ValidateTagKey("Key", std::string(128, 'k')));
  EXPECT_VALID(ValidateTagKey("Key", Repeat("\xC3\xA9", 128)));  // 256 bytes, 128 characters
  EXPECT_INVALID(ValidateTagKey("tags[0].Key", ""), "tags[0].Key must be 1 to 128 characters");
  EXPECT_INVALID(ValidateTagKey("tags[0].Key", std::string(129, 'k')),
                 "tags[0].Key must be 1 to 128 characters");
  EXPECT_INVALID(ValidateTagKey("tags[0].Key", Repeat("\xC3\xA9", 129)),
                 "tags[0].Key must be 1 to 128 characters");
  EXPECT_INVALID(ValidateTagKey("tags[0].Key", "bad\xC3"),
                 "tags[0].Key must be 1 to 128 characters");
}

TEST(ValidateTagKeyTest, RejectsCharactersOutsideThePattern) {
  for (const std::string bad : {"a#b", "a*b", "a,b", "a;b", "a!b", "a\"b", "a\tb", "a\nb"}) {
    EXPECT_INVALID(ValidateTagKey("Key", bad),
                   "Key must match ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$, got '" + bad + "'");
  }
  // Non-ASCII control and format characters.
  EXPECT_INVALID(ValidateTagKey("Key", "a\xC2\x85"), "Key has control characters");
  EXPECT_INVALID(ValidateTagKey("Key", "a\xE2\x80\x8B"), "Key has control characters");
}

TEST(ValidateTagKeyTest, RejectsReservedAwsPrefix) {
  EXPECT_INVALID(ValidateTagKey("tags[2].Key", "aws:cloudformation:stack-name"),
                 "tags[2].Key must not start with the reserved prefix 'aws:'");
  EXPECT_INVALID(ValidateTagKey("tags[2].Key", "aws:"),
                 "tags[2].Key must not start with the reserved prefix 'aws:'");
}

std::vector<Tag> NTags(size_t n) {
  std::vector<Tag> tags;
  for (size_t i = 0; i < n; ++i) tags.push_back({"k" + std::to_string(i), "v"});
  return tags;
}

TEST(ValidateTagsTest, AtMostFiftyTags) {
  EXPECT_VALID(ValidateTags("tags", {}));
  EXPECT_VALID(ValidateTags("tags", NTags(50)));
  EXPECT_INVALID(ValidateTags("tags", NTags(51)), "tags must have at most 50 tags, got 51");
}

TEST(ValidateTagsTest, ValueUpTo256Characters) {
  EXPECT_VALID(ValidateTags("tags", {{"k", ""}}));
  EXPECT_VALID(ValidateTags("tags", {{"k", std::string(256, 'v')}}));
  EXPECT_VALID(ValidateTags("tags", {{"k", Repeat("\xC3\xA9", 256)}}));
  EXPECT_INVALID(ValidateTags("tags", {{"a", "1"}, {"k", std::string(257, 'v')}}),
                 "tags[1].Value must be at most 256 characters");
  EXPECT_INVALID(ValidateTags("tags", {{"k", "bad\xFF"}}),
                 "tags[0].Value must be at most 256 characters");
}

TEST(ValidateTagsTest, KeyErrorsNameTheIndex) {
  EXPECT_INVALID(ValidateTags("tags", {{"ok", "1"}, {"aws:x", "2"}}),
                 "tags[1].Key must not start with the reserved prefix 'aws:'");
  EXPECT_INVALID(ValidateTags("Tags", {{"", "1"}}), "Tags[0].Key must be 1 to 128 characters");
}

TEST(ValidateTagsTest, RejectsDuplicateKeys) {
  EXPECT_INVALID(ValidateTags("tags", {{"env", "prod"}, {"team", "a"}, {"env", "dev"}}),
                 "tags[2].Key 'env' appears more than once");
  // Keys are case-sensitive: these are two different tags.
  EXPECT_VALID(ValidateTags("tags", {{"env", "prod"}, {"Env", "dev"}}));
}

}  // namespace
}  // namespace iotjobs::jobs
