// The device request decoders shared by the HTTPS jobs data plane and MQTT.
#include "codec/device_codec.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

namespace iotjobs::codec {
namespace {

namespace json = boost::json;

json::object Parse(const std::string& text) { return json::parse(text).as_object(); }

Status Update(const std::string& text, DevicePlane plane, UpdateExecutionRequest* out = nullptr) {
  UpdateExecutionRequest scratch;
  return DecodeUpdateExecution(Parse(text), plane, out ? out : &scratch);
}

TEST(DeviceCodecTest, UpdateDecodesEveryMemberOnBothPlanes) {
  for (DevicePlane plane : {DevicePlane::kHttps, DevicePlane::kMqtt}) {
    UpdateExecutionRequest r;
    ASSERT_TRUE(Update(R"({"status": "IN_PROGRESS", "statusDetails": {"step": "2"},
        "stepTimeoutInMinutes": 5, "expectedVersion": "3", "executionNumber": 1,
        "includeJobExecutionState": true, "includeJobDocument": true, "clientToken": "x",
        "unknown": [1]})",
                       plane, &r)
                    .ok());
    EXPECT_EQ(r.status, "IN_PROGRESS");
    ASSERT_TRUE(r.status_details);
    EXPECT_EQ(r.status_details->at("step"), "2");
    EXPECT_EQ(r.step_timeout_minutes, 5);
    EXPECT_EQ(r.expected_version, 3);  // a numeric string, as the developer guide sends it
    EXPECT_EQ(r.execution_number, 1);
    EXPECT_TRUE(r.include_job_execution_state);
    EXPECT_TRUE(r.include_job_document);
  }
}

TEST(DeviceCodecTest, UpdateDefaultsWhenMembersAreAbsent) {
  UpdateExecutionRequest r;
  ASSERT_TRUE(Update("{}", DevicePlane::kMqtt, &r).ok());
  EXPECT_EQ(r.status, "");
  EXPECT_FALSE(r.status_details);
  EXPECT_FALSE(r.step_timeout_minutes);
  EXPECT_FALSE(r.expected_version);
  EXPECT_FALSE(r.execution_number);
  EXPECT_FALSE(r.include_job_execution_state);
  EXPECT_FALSE(r.include_job_document);
}

// Each plane's answer to a null status, as it always was: restJson1 null is absent over HTTPS
// (the service then asks for a status); MQTT refuses it as not a string.
TEST(DeviceCodecTest, NullStatusIsAbsentOverHttpsAndRefusedOverMqtt) {
  UpdateExecutionRequest r;
  EXPECT_TRUE(Update(R"({"status": null})", DevicePlane::kHttps, &r).ok());
  EXPECT_EQ(r.status, "");
  Status st = Update(R"({"status": null})", DevicePlane::kMqtt);
  EXPECT_EQ(st.code(), Code::kInvalidRequest);
  EXPECT_EQ(st.message(), "status must be a string");
}

TEST(DeviceCodecTest, UpdateNamesTheFirstBadMember) {
  for (DevicePlane plane : {DevicePlane::kHttps, DevicePlane::kMqtt}) {
    EXPECT_EQ(Update(R"({"status": 1, "statusDetails": 2})", plane).message(),
              "status must be a string");
    EXPECT_EQ(Update(R"({"status": "SUCCEEDED", "statusDetails": {"k": 1}})", plane).message(),
              "statusDetails.k must be a string");
    EXPECT_EQ(Update(R"({"statusDetails": []})", plane).message(),
              "statusDetails must be a map of strings");
    EXPECT_EQ(Update(R"({"stepTimeoutInMinutes": "ten"})", plane).message(),
              "stepTimeoutInMinutes must be an integer, got 'ten'");
    EXPECT_EQ(Update(R"({"expectedVersion": 1.5})", plane).message(),
              "expectedVersion must be an integer");
    EXPECT_EQ(Update(R"({"executionNumber": true})", plane).message(),
              "executionNumber must be an integer");
    EXPECT_EQ(Update(R"({"includeJobExecutionState": "yes"})", plane).message(),
              "includeJobExecutionState must be a boolean");
    EXPECT_EQ(Update(R"({"includeJobDocument": 1})", plane).message(),
              "includeJobDocument must be a boolean");
  }
}

TEST(DeviceCodecTest, StartNext) {
  StartNextRequest r;
  ASSERT_TRUE(
      DecodeStartNext(Parse(R"({"statusDetails": {"a": "b"}, "stepTimeoutInMinutes": "7"})"), &r)
          .ok());
  ASSERT_TRUE(r.status_details);
  EXPECT_EQ(r.status_details->at("a"), "b");
  EXPECT_EQ(r.step_timeout_minutes, 7);

  StartNextRequest empty;
  ASSERT_TRUE(DecodeStartNext(Parse("{}"), &empty).ok());
  EXPECT_FALSE(empty.status_details);
  EXPECT_FALSE(empty.step_timeout_minutes);
  EXPECT_EQ(DecodeStartNext(Parse(R"({"statusDetails": {"a": null}})"), &r).message(),
            "statusDetails.a must be a string");
  EXPECT_EQ(DecodeStartNext(Parse(R"({"stepTimeoutInMinutes": {}})"), &r).message(),
            "stepTimeoutInMinutes must be an integer");
}

TEST(DeviceCodecTest, DescribeExecution) {
  DescribeExecutionRequest r;
  ASSERT_TRUE(DecodeDescribeExecution(Parse("{}"), &r).ok());
  EXPECT_FALSE(r.execution_number);
  EXPECT_TRUE(r.include_job_document);  // the model's default
  ASSERT_TRUE(
      DecodeDescribeExecution(Parse(R"({"executionNumber": "2", "includeJobDocument": false})"), &r)
          .ok());
  EXPECT_EQ(r.execution_number, 2);
  EXPECT_FALSE(r.include_job_document);
  EXPECT_EQ(DecodeDescribeExecution(Parse(R"({"executionNumber": "x"})"), &r).message(),
            "executionNumber must be an integer, got 'x'");
  EXPECT_EQ(DecodeDescribeExecution(Parse(R"({"includeJobDocument": "no"})"), &r).message(),
            "includeJobDocument must be a boolean");
}

}  // namespace
}  // namespace iotjobs::codec
