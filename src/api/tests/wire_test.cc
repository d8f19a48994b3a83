#include "api/wire.h"

#include <gtest/gtest.h>

#include <string>

namespace iotjobs::api {
namespace {

http::Request WithBody(std::string body) {
  http::Request r;
  r.method = "PUT";
  r.body = std::move(body);
  return r;
}

std::string Array(size_t n) {
  std::string s = "[";
  for (size_t i = 0; i < n; ++i) s += i ? ",0" : "0";
  return s + "]";
}

// Finding 4 (issue 16): 200 signed 1 MB array bodies reached 1.27 GB; a parse must cost what a
// valid request can cost.
TEST(ParseBodyTest, Finding4BodyWithMoreValuesThanAnyValidInputIsRefusedBeforeParsing) {
  auto r = ParseBody(WithBody(R"({"a":)" + Array(kMaxBodyJsonValues) + "}"));
  EXPECT_EQ(r.status().code(), Code::kInvalidRequest);
  EXPECT_NE(r.status().message().find("JSON values"), std::string::npos) << r.status().message();
}

TEST(ParseBodyTest, NestingDeeperThan32IsRefused) {
  std::string deep = R"({"a":)" + std::string(40, '[') + std::string(40, ']') + "}";
  EXPECT_EQ(ParseBody(WithBody(deep)).status().code(), Code::kInvalidRequest);
}

TEST(ParseBodyTest, TheLargestValidShapesStillParse) {
  // CreateJob at AWS's limits: 100 targets, 50 tags, a 32 KB document full of commas and colons
  // (inside a string, which counts as one value).
  std::string targets, tags;
  for (int i = 0; i < 100; ++i) {
    targets += (i ? "," : "") + std::string("\"arn:aws:iot:us-east-1:123456789012:thing/t") +
               std::to_string(i) + "\"";
  }
  for (int i = 0; i < 50; ++i) {
    tags += (i ? "," : "") + std::string(R"({"Key":"k)") + std::to_string(i) + R"(","Value":"v"})";
  }
  std::string doc(32768, ',');
  auto r = ParseBody(WithBody(R"({"targets":[)" + targets + R"(],"tags":[)" + tags +
                              R"(],"document":")" + doc + R"(\"x\\"})"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->at("targets").as_array().size(), 100u);
  EXPECT_EQ(r->at("document").as_string().size(), 32768u + 3);
}

}  // namespace
}  // namespace iotjobs::api
