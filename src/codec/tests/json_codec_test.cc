#include "codec/json_codec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

namespace iotjobs::codec {
namespace {

namespace json = boost::json;
using ::testing::StartsWith;

json::object Parse(const std::string& text) { return json::parse(text).as_object(); }

// Decodes `text` into fresh configs and returns the status.
Status Decode(const std::string& text, jobs::JobConfigs* out = nullptr) {
  jobs::JobConfigs scratch;
  return DecodeConfigs(Parse(text), out ? out : &scratch);
}

// A value for every config member, with AWS's documented example shapes.
jobs::JobConfigs Full() {
  jobs::JobConfigs c;
  c.presigned_url_config =
      jobs::PresignedUrlConfig{"arn:aws:iam::123456789012:role/S3Download", 3600};
  c.rollout_config = jobs::RolloutConfig{
      50, jobs::ExponentialRolloutRate{10, 1.5, jobs::RateIncreaseCriteria{100, std::nullopt}}};
  c.abort_config =
      jobs::AbortConfig{{{"FAILED", "CANCEL", 33.33, 10}, {"ALL", "CANCEL", 99.99, 1}}};
  c.timeout_config = jobs::TimeoutConfig{120};
  c.retry_config = jobs::RetryConfig{{{"FAILED", 3}, {"TIMED_OUT", 2}}};
  c.maintenance_windows =
      std::vector<jobs::MaintenanceWindow>{{"cron(0 0 ? * SUN *)", 60}, {"cron(0 12 * * ? *)", 30}};
  c.destination_package_versions =
      std::vector<std::string>{"arn:aws:iot:us-east-1:123456789012:package/fw/version/1.0.0"};
  return c;
}

// The same configuration written by hand in the AWS wire form (CreateJobTemplate request members).
constexpr const char* kFullJson = R"js({
  "presignedUrlConfig": {"roleArn": "arn:aws:iam::123456789012:role/S3Download",
                         "expiresInSec": 3600},
  "jobExecutionsRolloutConfig": {
    "maximumPerMinute": 50,
    "exponentialRate": {"baseRatePerMinute": 10, "incrementFactor": 1.5,
                        "rateIncreaseCriteria": {"numberOfNotifiedThings": 100}}},
  "abortConfig": {"criteriaList": [
    {"failureType": "FAILED", "action": "CANCEL", "thresholdPercentage": 33.33,
     "minNumberOfExecutedThings": 10},
    {"failureType": "ALL", "action": "CANCEL", "thresholdPercentage": 99.99,
     "minNumberOfExecutedThings": 1}]},
  "timeoutConfig": {"inProgressTimeoutInMinutes": 120},
  "jobExecutionsRetryConfig": {"criteriaList": [
    {"failureType": "FAILED", "numberOfRetries": 3},
    {"failureType": "TIMED_OUT", "numberOfRetries": 2}]},
  "maintenanceWindows": [{"startTime": "cron(0 0 ? * SUN *)", "durationInMinutes": 60},
                         {"startTime": "cron(0 12 * * ? *)", "durationInMinutes": 30}],
  "destinationPackageVersions": ["arn:aws:iot:us-east-1:123456789012:package/fw/version/1.0.0"]
})js";

TEST(DecodeConfigsTest, DecodesEveryMemberOfTheWireForm) {
  jobs::JobConfigs c;
  ASSERT_TRUE(DecodeConfigs(Parse(kFullJson), &c).ok());
  EXPECT_EQ(c, Full());
}

TEST(EncodeConfigsTest, WritesTheWireForm) {
  json::object o;
  EncodeConfigs(Full(), &o);
  EXPECT_EQ(json::value(o), json::parse(kFullJson)) << json::serialize(o);
}

TEST(EncodeConfigsTest, EmptyConfigsWriteNothing) {
  json::object o;
  EncodeConfigs(jobs::JobConfigs{}, &o);
  EXPECT_TRUE(o.empty());
  EXPECT_EQ(ConfigsToJson(jobs::JobConfigs{}), "{}");
}

TEST(EncodeConfigsTest, AbsentOptionalMembersAreLeftOut) {
  jobs::JobConfigs c;
  c.presigned_url_config = jobs::PresignedUrlConfig{};
  c.rollout_config = jobs::RolloutConfig{};
  c.timeout_config = jobs::TimeoutConfig{};
  c.maintenance_windows = std::vector<jobs::MaintenanceWindow>{};
  c.destination_package_versions = std::vector<std::string>{};
  json::object o;
  EncodeConfigs(c, &o);
  EXPECT_EQ(json::value(o), json::parse(R"js({"presignedUrlConfig": {},
      "jobExecutionsRolloutConfig": {}, "timeoutConfig": {}, "maintenanceWindows": [],
      "destinationPackageVersions": []})js"));
  // ... and they come back as present-but-empty, not as absent.
  auto back = ConfigsFromJson(json::serialize(o));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, c);
}

TEST(ConfigsJsonTest, TextRoundTripIsExact) {
  auto back = ConfigsFromJson(ConfigsToJson(Full()));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, Full());
}

// A stored config must come back exactly as it was accepted, including the doubles.
TEST(ConfigsJsonTest, DoublesRoundTripBitExactThroughText) {
  for (double pct : {0.01, 0.1, 0.29, 1.1, 10.99, 12.34, 33.33, 57.57, 66.67, 99.99, 100.0}) {
    for (double factor : {1.1, 1.3, 1.7, 2.3, 2.9, 3.7, 4.1, 4.9}) {
      jobs::JobConfigs c;
      c.abort_config = jobs::AbortConfig{{{"ALL", "CANCEL", pct, 1}}};
      c.rollout_config = jobs::RolloutConfig{
          std::nullopt, jobs::ExponentialRolloutRate{1, factor, {1, std::nullopt}}};
      auto back = ConfigsFromJson(ConfigsToJson(c));
      ASSERT_TRUE(back.ok()) << back.status().ToString();
      EXPECT_EQ(back->abort_config->criteria_list[0].threshold_percentage, pct);
      EXPECT_EQ(back->rollout_config->exponential_rate->increment_factor, factor);
    }
  }
}

TEST(ConfigsJsonTest, RoundTripsBothRateIncreaseThresholds) {
  jobs::JobConfigs c;
  c.rollout_config = jobs::RolloutConfig{
      std::nullopt, jobs::ExponentialRolloutRate{5, 2.0, jobs::RateIncreaseCriteria{7, 9}}};
  auto back = ConfigsFromJson(ConfigsToJson(c));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, c);
}

TEST(ConfigsJsonTest, CorruptStoredTextIsInternal) {
  for (const char* bad : {"", "{", "[]", "42", "null"}) {
    auto r = ConfigsFromJson(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInternal);
  }
}

TEST(DecodeConfigsTest, AbsentAndNullMembersLeaveOutputUntouched) {
  jobs::JobConfigs c;
  c.timeout_config = jobs::TimeoutConfig{30};
  ASSERT_TRUE(DecodeConfigs(Parse("{}"), &c).ok());
  ASSERT_TRUE(DecodeConfigs(Parse(R"js({"timeoutConfig": null, "abortConfig": null,
      "maintenanceWindows": null})js"),
                            &c)
                  .ok());
  jobs::JobConfigs want;
  want.timeout_config = jobs::TimeoutConfig{30};
  EXPECT_EQ(c, want);
}

TEST(DecodeConfigsTest, NullInnerMembersCountAsAbsent) {
  jobs::JobConfigs c;
  ASSERT_TRUE(
      Decode(R"js({"presignedUrlConfig": {"roleArn": null, "expiresInSec": null}})js", &c).ok());
  ASSERT_TRUE(c.presigned_url_config.has_value());
  EXPECT_EQ(*c.presigned_url_config, jobs::PresignedUrlConfig{});
}

TEST(DecodeConfigsTest, IgnoresUnknownMembers) {
  jobs::JobConfigs c;
  Status st = Decode(R"js({
      "jobId": "x", "document": "{}", "futureFeature": {"a": [1, 2]},
      "timeoutConfig": {"inProgressTimeoutInMinutes": 5, "extra": "ignored"},
      "jobExecutionsRetryConfig": {"criteriaList": [
          {"failureType": "ALL", "numberOfRetries": 1, "note": true}], "other": 1}})js",
                     &c);
  ASSERT_TRUE(st.ok()) << st.ToString();
  jobs::JobConfigs want;
  want.timeout_config = jobs::TimeoutConfig{5};
  want.retry_config = jobs::RetryConfig{{{"ALL", 1}}};
  EXPECT_EQ(c, want);
}

TEST(DecodeConfigsTest, IntegralDoublesAndLargeUnsignedAreIntegers) {
  jobs::JobConfigs c;
  ASSERT_TRUE(Decode(R"js({"jobExecutionsRolloutConfig": {"maximumPerMinute": 10.0},
                         "presignedUrlConfig": {"expiresInSec": 1e3}})js",
                     &c)
                  .ok());
  EXPECT_EQ(c.rollout_config->maximum_per_minute, 10);
  EXPECT_EQ(c.presigned_url_config->expires_in_sec, 1000);
  // Doubles where a double belongs may be written as integers.
  ASSERT_TRUE(Decode(R"js({"abortConfig": {"criteriaList": [{"failureType": "ALL",
      "action": "CANCEL", "thresholdPercentage": 50, "minNumberOfExecutedThings": 1}]}})js",
                     &c)
                  .ok());
  EXPECT_EQ(c.abort_config->criteria_list[0].threshold_percentage, 50.0);
}

struct TypeErrorCase {
  const char* json;
  const char* message;
};

class DecodeConfigsTypeErrorTest : public ::testing::TestWithParam<TypeErrorCase> {};

TEST_P(DecodeConfigsTypeErrorTest, NamesTheField) {
  Status st = Decode(GetParam().json);
  EXPECT_EQ(st.code(), Code::kInvalidRequest) << GetParam().json;
  EXPECT_EQ(st.message(), GetParam().message) << GetParam().json;
}

INSTANTIATE_TEST_SUITE_P(
    AllMembers, DecodeConfigsTypeErrorTest,
    ::testing::Values(
        // Containers of the wrong type.
        TypeErrorCase{R"js({"presignedUrlConfig": []})js", "presignedUrlConfig must be an object"},
        TypeErrorCase{R"js({"jobExecutionsRolloutConfig": "fast"})js",
                      "jobExecutionsRolloutConfig must be an object"},
        TypeErrorCase{R"js({"abortConfig": 1})js", "abortConfig must be an object"},
        TypeErrorCase{R"js({"timeoutConfig": true})js", "timeoutConfig must be an object"},
        TypeErrorCase{R"js({"jobExecutionsRetryConfig": []})js",
                      "jobExecutionsRetryConfig must be an object"},
        TypeErrorCase{R"js({"maintenanceWindows": {}})js", "maintenanceWindows must be a list"},
        TypeErrorCase{R"js({"destinationPackageVersions": "arn:x"})js",
                      "destinationPackageVersions must be a list"},
        TypeErrorCase{R"js({"abortConfig": {"criteriaList": {}}})js",
                      "abortConfig.criteriaList must be a list"},
        TypeErrorCase{R"js({"jobExecutionsRetryConfig": {"criteriaList": "FAILED"}})js",
                      "jobExecutionsRetryConfig.criteriaList must be a list"},
        TypeErrorCase{R"js({"abortConfig": {"criteriaList": [1]}})js",
                      "abortConfig.criteriaList[0] must be an object"},
        TypeErrorCase{R"js({"jobExecutionsRetryConfig": {"criteriaList": [
                          {"failureType": "ALL", "numberOfRetries": 1}, "x"]}})js",
                      "jobExecutionsRetryConfig.criteriaList[1] must be an object"},
        TypeErrorCase{R"js({"maintenanceWindows": [null]})js",
                      "maintenanceWindows[0] must be an object"},
        TypeErrorCase{R"js({"jobExecutionsRolloutConfig": {"exponentialRate": 2}})js",
                      "jobExecutionsRolloutConfig.exponentialRate must be an object"},
        TypeErrorCase{R"js({"jobExecutionsRolloutConfig": {"exponentialRate": {
                          "baseRatePerMinute": 1, "incrementFactor": 2,
                          "rateIncreaseCriteria": []}}})js",
                      "jobExecutionsRolloutConfig.exponentialRate.rateIncreaseCriteria must be an "
                      "object"},
        // Integers.
        TypeErrorCase{R"js({"jobExecutionsRolloutConfig": {"maximumPerMinute": "10"}})js",
                      "jobExecutionsRolloutConfig.maximumPerMinute must be an integer"},
        TypeErrorCase{R"js({"jobExecutionsRolloutConfig": {"maximumPerMinute": 10.5}})js",
                      "jobExecutionsRolloutConfig.maximumPerMinute must be an integer"},
        TypeErrorCase{R"js({"jobExecutionsRolloutConfig": {"maximumPerMinute": true}})js",
                      "jobExecutionsRolloutConfig.maximumPerMinute must be an integer"},
        TypeErrorCase{R"js({"jobExecutionsRolloutConfig": {"maximumPerMinute": 3000000000}})js",
                      "jobExecutionsRolloutConfig.maximumPerMinute is out of range"},
        TypeErrorCase{R"js({"jobExecutionsRolloutConfig": {"maximumPerMinute": -2147483649}})js",
                      "jobExecutionsRolloutConfig.maximumPerMinute is out of range"},
        TypeErrorCase{R"js({"presignedUrlConfig": {"expiresInSec": 18446744073709551615}})js",
                      "presignedUrlConfig.expiresInSec must be an integer"},
        TypeErrorCase{R"js({"presignedUrlConfig": {"expiresInSec": 1e300}})js",
                      "presignedUrlConfig.expiresInSec must be an integer"},
        TypeErrorCase{R"js({"presignedUrlConfig": {"expiresInSec": [60]}})js",
                      "presignedUrlConfig.expiresInSec must be an integer"},
        TypeErrorCase{R"js({"jobExecutionsRolloutConfig": {"exponentialRate": {
                          "baseRatePerMinute": "1", "incrementFactor": 2,
                          "rateIncreaseCriteria": {"numberOfNotifiedThings": 1}}}})js",
                      "jobExecutionsRolloutConfig.exponentialRate.baseRatePerMinute must be an "
                      "integer"},
        TypeErrorCase{R"js({"jobExecutionsRolloutConfig": {"exponentialRate": {
                          "baseRatePerMinute": 1, "incrementFactor": 2,
                          "rateIncreaseCriteria": {"numberOfNotifiedThings": 1.5}}}})js",
                      "jobExecutionsRolloutConfig.exponentialRate.rateIncreaseCriteria."
                      "numberOfNotifiedThings must be an integer"},
        TypeErrorCase{R"js({"jobExecutionsRolloutConfig": {"exponentialRate": {
                          "baseRatePerMinute": 1, "incrementFactor": 2,
                          "rateIncreaseCriteria": {"numberOfSucceededThings": "5"}}}})js",
                      "jobExecutionsRolloutConfig.exponentialRate.rateIncreaseCriteria."
                      "numberOfSucceededThings must be an integer"},
        TypeErrorCase{R"js({"abortConfig": {"criteriaList": [{"failureType": "ALL",
                          "action": "CANCEL", "thresholdPercentage": 5,
                          "minNumberOfExecutedThings": "10"}]}})js",
                      "abortConfig.criteriaList[0].minNumberOfExecutedThings must be an integer"},
        TypeErrorCase{R"js({"timeoutConfig": {"inProgressTimeoutInMinutes": "60"}})js",
                      "timeoutConfig.inProgressTimeoutInMinutes must be an integer"},
        TypeErrorCase{R"js({"jobExecutionsRetryConfig": {"criteriaList": [
                          {"failureType": "ALL", "numberOfRetries": 1.5}]}})js",
                      "jobExecutionsRetryConfig.criteriaList[0].numberOfRetries must be an "
                      "integer"},
        TypeErrorCase{R"js({"maintenanceWindows": [{"startTime": "cron(0 0 ? * SUN *)",
                          "durationInMinutes": "60"}]})js",
                      "maintenanceWindows[0].durationInMinutes must be an integer"},
        // Doubles.
        TypeErrorCase{R"js({"jobExecutionsRolloutConfig": {"exponentialRate": {
                          "baseRatePerMinute": 1, "incrementFactor": "2",
                          "rateIncreaseCriteria": {"numberOfNotifiedThings": 1}}}})js",
                      "jobExecutionsRolloutConfig.exponentialRate.incrementFactor must be a "
                      "number"},
        TypeErrorCase{R"js({"abortConfig": {"criteriaList": [{"failureType": "ALL",
                          "action": "CANCEL", "thresholdPercentage": "50",
                          "minNumberOfExecutedThings": 1}]}})js",
                      "abortConfig.criteriaList[0].thresholdPercentage must be a number"},
        // Strings.
        TypeErrorCase{R"js({"presignedUrlConfig": {"roleArn": 5}})js",
                      "presignedUrlConfig.roleArn must be a string"},
        TypeErrorCase{R"js({"abortConfig": {"criteriaList": [{"failureType": 1,
                          "action": "CANCEL", "thresholdPercentage": 5,
                          "minNumberOfExecutedThings": 1}]}})js",
                      "abortConfig.criteriaList[0].failureType must be a string"},
        TypeErrorCase{R"js({"abortConfig": {"criteriaList": [{"failureType": "ALL",
                          "action": ["CANCEL"], "thresholdPercentage": 5,
                          "minNumberOfExecutedThings": 1}]}})js",
                      "abortConfig.criteriaList[0].action must be a string"},
        TypeErrorCase{R"js({"jobExecutionsRetryConfig": {"criteriaList": [
                          {"failureType": {}, "numberOfRetries": 1}]}})js",
                      "jobExecutionsRetryConfig.criteriaList[0].failureType must be a string"},
        TypeErrorCase{R"js({"maintenanceWindows": [{"startTime": 0, "durationInMinutes": 60}]})js",
                      "maintenanceWindows[0].startTime must be a string"},
        TypeErrorCase{R"js({"destinationPackageVersions": ["arn:a", 7]})js",
                      "destinationPackageVersions[1] must be a string"},
        // Required members.
        TypeErrorCase{R"js({"abortConfig": {}})js", "abortConfig.criteriaList is required"},
        TypeErrorCase{R"js({"jobExecutionsRetryConfig": {"criteriaList": null}})js",
                      "jobExecutionsRetryConfig.criteriaList is required"},
        TypeErrorCase{R"js({"abortConfig": {"criteriaList": [{"failureType": "ALL",
                          "thresholdPercentage": 5, "minNumberOfExecutedThings": 1}]}})js",
                      "abortConfig.criteriaList[0].action is required"},
        TypeErrorCase{R"js({"abortConfig": {"criteriaList": [{"failureType": "ALL",
                          "action": "CANCEL", "minNumberOfExecutedThings": 1}]}})js",
                      "abortConfig.criteriaList[0].thresholdPercentage is required"},
        TypeErrorCase{R"js({"abortConfig": {"criteriaList": [{"failureType": "ALL",
                          "action": "CANCEL", "thresholdPercentage": 5}]}})js",
                      "abortConfig.criteriaList[0].minNumberOfExecutedThings is required"},
        TypeErrorCase{
            R"js({"jobExecutionsRetryConfig": {"criteriaList": [{"numberOfRetries": 1}]}})js",
            "jobExecutionsRetryConfig.criteriaList[0].failureType is required"},
        TypeErrorCase{
            R"js({"jobExecutionsRetryConfig": {"criteriaList": [{"failureType": "ALL"}]}})js",
            "jobExecutionsRetryConfig.criteriaList[0].numberOfRetries is required"},
        TypeErrorCase{R"js({"maintenanceWindows": [{"durationInMinutes": 60}]})js",
                      "maintenanceWindows[0].startTime is required"},
        TypeErrorCase{R"js({"maintenanceWindows": [{"startTime": "cron(0 0 ? * SUN *)"}]})js",
                      "maintenanceWindows[0].durationInMinutes is required"},
        TypeErrorCase{R"js({"jobExecutionsRolloutConfig": {"exponentialRate": {
                          "incrementFactor": 2,
                          "rateIncreaseCriteria": {"numberOfNotifiedThings": 1}}}})js",
                      "jobExecutionsRolloutConfig.exponentialRate.baseRatePerMinute is required"},
        TypeErrorCase{R"js({"jobExecutionsRolloutConfig": {"exponentialRate": {
                          "baseRatePerMinute": 1,
                          "rateIncreaseCriteria": {"numberOfNotifiedThings": 1}}}})js",
                      "jobExecutionsRolloutConfig.exponentialRate.incrementFactor is required"},
        TypeErrorCase{R"js({"jobExecutionsRolloutConfig": {"exponentialRate": {
                          "baseRatePerMinute": 1, "incrementFactor": 2}}})js",
                      "jobExecutionsRolloutConfig.exponentialRate.rateIncreaseCriteria is "
                      "required"}));

TEST(DecodeTagsTest, DecodesKeysAndOptionalValues) {
  std::vector<jobs::Tag> tags;
  ASSERT_TRUE(DecodeTags(json::parse(R"js([{"Key": "env", "Value": "prod"}, {"Key": "team"},
                                         {"Key": "k", "Value": null, "Other": 1}])js"),
                         "tags", &tags)
                  .ok());
  EXPECT_EQ(tags, (std::vector<jobs::Tag>{{"env", "prod"}, {"team", ""}, {"k", ""}}));
}

TEST(DecodeTagsTest, EmptyListClearsOutput) {
  std::vector<jobs::Tag> tags = {{"stale", "x"}};
  ASSERT_TRUE(DecodeTags(json::parse("[]"), "tags", &tags).ok());
  EXPECT_TRUE(tags.empty());
}

TEST(DecodeTagsTest, TypeErrorsNameTheField) {
  std::vector<jobs::Tag> tags;
  auto msg = [&](const char* text) {
    return DecodeTags(json::parse(text), "tags", &tags).message();
  };
  EXPECT_EQ(msg(R"js({"Key": "a"})js"), "tags must be a list");
  EXPECT_EQ(msg(R"js(["a"])js"), "tags[0] must be an object");
  EXPECT_EQ(msg(R"js([{"Key": "a"}, {"Value": "b"}])js"), "tags[1].Key is required");
  EXPECT_EQ(msg(R"js([{"Key": 1}])js"), "tags[0].Key must be a string");
  EXPECT_EQ(msg(R"js([{"Key": "a", "Value": 2}])js"), "tags[0].Value must be a string");
}

TEST(EncodeTagsTest, WritesKeyValueObjects) {
  EXPECT_EQ(json::value(EncodeTags({{"env", "prod"}, {"empty", ""}})),
            json::parse(R"js([{"Key": "env", "Value": "prod"}, {"Key": "empty", "Value": ""}])js"));
  EXPECT_EQ(json::value(EncodeTags({})), json::parse("[]"));
}

TEST(TypedGettersTest, FoundIsFalseForAbsentAndNull) {
  json::object o = Parse(R"js({"s": "x", "i": 7, "d": 2.5, "n": null})js");
  std::string s = "unchanged";
  int64_t i = -1;
  double d = -1;
  bool found = true;
  ASSERT_TRUE(GetString(o, "missing", "p", &s, &found).ok());
  EXPECT_FALSE(found);
  EXPECT_EQ(s, "unchanged");
  ASSERT_TRUE(GetString(o, "n", "p", &s, &found).ok());
  EXPECT_FALSE(found);
  ASSERT_TRUE(GetString(o, "s", "p", &s, &found).ok());
  EXPECT_TRUE(found);
  EXPECT_EQ(s, "x");
  ASSERT_TRUE(GetInt64(o, "i", "p", &i, &found).ok());
  EXPECT_TRUE(found);
  EXPECT_EQ(i, 7);
  ASSERT_TRUE(GetInt64(o, "n", "p", &i, &found).ok());
  EXPECT_FALSE(found);
  ASSERT_TRUE(GetDouble(o, "d", "p", &d, &found).ok());
  EXPECT_TRUE(found);
  EXPECT_EQ(d, 2.5);
  ASSERT_TRUE(GetDouble(o, "i", "p", &d, &found).ok());
  EXPECT_EQ(d, 7.0);
  // The path prefixes the field; an empty path names the field alone.
  EXPECT_EQ(GetInt64(o, "s", "a.b", &i, &found).message(), "a.b.s must be an integer");
  EXPECT_EQ(GetDouble(o, "s", "", &d, &found).message(), "s must be a number");
  EXPECT_EQ(GetString(o, "i", "x[0]", &s, &found).message(), "x[0].i must be a string");
}

TEST(ValidateJsonDocumentTest, AcceptsObjects) {
  EXPECT_TRUE(ValidateJsonDocument("document", "{}").ok());
  EXPECT_TRUE(
      ValidateJsonDocument("document", R"js( {"operation": "install", "n": [1, 2]} )js").ok());
}

TEST(ValidateJsonDocumentTest, RejectsOtherJsonValues) {
  for (const char* text : {"[]", "1", "\"{}\"", "null", "true"}) {
    Status st = ValidateJsonDocument("document", text);
    EXPECT_EQ(st.code(), Code::kInvalidRequest) << text;
    EXPECT_EQ(st.message(), "document must be a JSON object") << text;
  }
}

TEST(ValidateJsonDocumentTest, RejectsInvalidJsonNamingTheField) {
  for (const char* text : {"", "{", "{\"a\": 1,}", "{} {}", "{'a': 1}", "{\"a\": 01}"}) {
    Status st = ValidateJsonDocument("jobTemplate.document", text);
    EXPECT_EQ(st.code(), Code::kInvalidRequest) << text;
    EXPECT_THAT(st.message(), StartsWith("jobTemplate.document is not valid JSON: ")) << text;
  }
}

}  // namespace
}  // namespace iotjobs::codec
