#include "common/credentials.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace iotjobs {
namespace {

using ::testing::HasSubstr;

TEST(ParseCredentialsTest, DefaultProfileIsPrimaryEvenWhenNotFirst) {
  auto r = ParseCredentials(
      "[ci]\n"
      "aws_access_key_id = AKIACI\n"
      "aws_secret_access_key = ci-secret\n"
      "\n"
      "[default]\n"
      "aws_access_key_id=AKIADEFAULT\n"
      "aws_secret_access_key=default-secret\n"
      "[ops]\n"
      "aws_access_key_id=AKIAOPS\n"
      "aws_secret_access_key=ops-secret\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->primary.access_key_id, "AKIADEFAULT");
  EXPECT_EQ(r->primary.secret_access_key, "default-secret");
  ASSERT_EQ(r->by_key_id.size(), 3u);
  EXPECT_EQ(r->by_key_id.at("AKIACI").secret_access_key, "ci-secret");
  EXPECT_EQ(r->by_key_id.at("AKIADEFAULT").secret_access_key, "default-secret");
  EXPECT_EQ(r->by_key_id.at("AKIAOPS").secret_access_key, "ops-secret");
}

TEST(ParseCredentialsTest, FirstProfileIsPrimaryWithoutDefault) {
  auto r = ParseCredentials(
      "[second-in-name-order-but-first-in-file]\n"
      "aws_access_key_id=AKIAZZZ\n"
      "aws_secret_access_key=zzz\n"
      "[alpha]\n"
      "aws_access_key_id=AKIAAAA\n"
      "aws_secret_access_key=aaa\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->primary.access_key_id, "AKIAZZZ");
  EXPECT_EQ(r->primary.secret_access_key, "zzz");
  EXPECT_EQ(r->by_key_id.size(), 2u);
}

TEST(ParseCredentialsTest, DefaultFirstStaysPrimary) {
  auto r = ParseCredentials(
      "[default]\naws_access_key_id=AKIADEF\naws_secret_access_key=d\n"
      "[other]\naws_access_key_id=AKIAOTHER\naws_secret_access_key=o\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->primary.access_key_id, "AKIADEF");
}

// Issue 12: a device key is not an admin key.
TEST(ParseCredentialsTest, DeviceRoleAndThingLimitAKey) {
  auto r = ParseCredentials(
      "[device-1]\naws_access_key_id=AKIADEV1\naws_secret_access_key=d1\n"
      "iotjobs_role = device\niotjobs_thing = sensor-1\n"
      "[fleet]\naws_access_key_id=AKIAFLEET\naws_secret_access_key=f\niotjobs_role=device\n"
      "[ops]\naws_access_key_id=AKIAOPS\naws_secret_access_key=o\niotjobs_role = operator\n"
      "[plain]\naws_access_key_id=AKIAPLAIN\naws_secret_access_key=p\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->by_key_id.at("AKIADEV1").role, KeyRole::kDevice);
  EXPECT_EQ(r->by_key_id.at("AKIADEV1").thing, "sensor-1");
  EXPECT_EQ(r->by_key_id.at("AKIAFLEET").role, KeyRole::kDevice);
  EXPECT_EQ(r->by_key_id.at("AKIAFLEET").thing, "");
  EXPECT_EQ(r->by_key_id.at("AKIAOPS").role, KeyRole::kOperator);
  EXPECT_EQ(r->by_key_id.at("AKIAPLAIN").role, KeyRole::kOperator);
  // The first profile is a device key: iotjobsd's own S3 requests use the first operator key.
  EXPECT_EQ(r->primary.access_key_id, "AKIAOPS");
}

TEST(ParseCredentialsTest, BadRolesAreRefusedNamingTheProfile) {
  auto r = ParseCredentials(
      "[d]\naws_access_key_id=A\naws_secret_access_key=s\n"
      "iotjobs_role = admin\n");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("[d] at line 1: iotjobs_role must be"));
  r = ParseCredentials(
      "[d]\naws_access_key_id=A\naws_secret_access_key=s\n"
      "iotjobs_thing = t1\n");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("iotjobs_thing needs iotjobs_role = device"));
}

TEST(ParseCredentialsTest, ToleratesCommentsBlanksSpacesCrlfAndOtherKeys) {
  auto r = ParseCredentials(
      "# shared credentials\r\n"
      "; another comment\r\n"
      "\r\n"
      "  [ default ]  \r\n"
      "\taws_access_key_id\t=\tAKIDEXAMPLE  \r\n"
      "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\r\n"
      "aws_session_token = ignored\r\n"
      "region = eu-west-1\r\n"
      "not a key value line\r\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->primary.access_key_id, "AKIDEXAMPLE");
  EXPECT_EQ(r->primary.secret_access_key, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
  EXPECT_EQ(r->by_key_id.size(), 1u);
}

TEST(ParseCredentialsTest, SecretMayContainEqualsSign) {
  auto r = ParseCredentials("[p]\naws_access_key_id=AKIAP\naws_secret_access_key=ab=cd==\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->primary.secret_access_key, "ab=cd==");
}

TEST(ParseCredentialsTest, ProfileWithoutSecretNamesProfileAndLine) {
  auto r = ParseCredentials(
      "[default]\n"
      "aws_access_key_id=AKIADEF\n"
      "aws_secret_access_key=d\n"
      "\n"
      "[ci]\n"
      "aws_access_key_id=AKIACI\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidRequest);
  EXPECT_EQ(r.status().message(),
            "credentials: profile [ci] at line 5 needs aws_access_key_id and "
            "aws_secret_access_key");
}

TEST(ParseCredentialsTest, ProfileWithoutKeyIdFails) {
  auto r = ParseCredentials("[only-secret]\naws_secret_access_key=s\n");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("profile [only-secret] at line 1"));
}

TEST(ParseCredentialsTest, EmptyProfileFails) {
  auto r = ParseCredentials("[a]\naws_access_key_id=A\naws_secret_access_key=s\n[empty]\n");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("profile [empty] at line 4"));
}

TEST(ParseCredentialsTest, NoKeyPairAtAllFails) {
  for (const char* text : {"", "# nothing\n\n",
                           // keys outside any section belong to no profile
                           "aws_access_key_id=A\naws_secret_access_key=s\n"}) {
    auto r = ParseCredentials(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), Code::kInvalidRequest);
    EXPECT_EQ(r.status().message(), "credentials: no key pair found");
  }
}

class LoadCredentialsFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "credtest-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(LoadCredentialsFileTest, ReadsFile) {
  const auto path = dir_ / "credentials";
  std::ofstream(path) << "[default]\naws_access_key_id=AKIAF\naws_secret_access_key=f\n";
  auto r = LoadCredentialsFile(path.string());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->primary.access_key_id, "AKIAF");
}

TEST_F(LoadCredentialsFileTest, MissingFileNamesPath) {
  const auto path = (dir_ / "absent").string();
  auto r = LoadCredentialsFile(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "credentials: cannot read " + path);
}

TEST_F(LoadCredentialsFileTest, ParseErrorNamesPath) {
  const auto path = dir_ / "credentials";
  std::ofstream(path) << "[default]\naws_access_key_id=AKIAF\n";
  auto r = LoadCredentialsFile(path.string());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("profile [default] at line 1"));
  EXPECT_THAT(r.status().message(), HasSubstr("(in " + path.string() + ")"));
}

}  // namespace
}  // namespace iotjobs
