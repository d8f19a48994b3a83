#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "s3/s3_client.h"

namespace iotjobs::s3 {
namespace {

using ::testing::HasSubstr;

constexpr char kEndpoint[] = "http://127.0.0.1:9000";

struct UrlCase {
  const char* url;
  const char* bucket;
  const char* key;
};

class ParseS3UrlTest : public ::testing::TestWithParam<UrlCase> {};

TEST_P(ParseS3UrlTest, Parses) {
  auto loc = ParseS3Url(GetParam().url, kEndpoint);
  ASSERT_TRUE(loc.ok()) << GetParam().url << ": " << loc.status().ToString();
  EXPECT_EQ(*loc, (S3Location{GetParam().bucket, GetParam().key})) << GetParam().url;
}

INSTANTIATE_TEST_SUITE_P(
    EveryForm, ParseS3UrlTest,
    ::testing::Values(
        // Path style, global and regional endpoints.
        UrlCase{"https://s3.amazonaws.com/b/k", "b", "k"},
        UrlCase{"https://s3.us-west-2.amazonaws.com/b/k", "b", "k"},
        UrlCase{"https://s3-us-west-2.amazonaws.com/b/k", "b", "k"},
        UrlCase{"https://s3.dualstack.eu-west-1.amazonaws.com/my-bucket/doc.json", "my-bucket",
                "doc.json"},
        UrlCase{"https://s3-external-1.amazonaws.com/b/k", "b", "k"},
        // Virtual-hosted style.
        UrlCase{"https://b.s3.amazonaws.com/k", "b", "k"},
        UrlCase{"https://b.s3.us-west-2.amazonaws.com/k", "b", "k"},
        UrlCase{"https://b.s3-us-west-2.amazonaws.com/k", "b", "k"},
        UrlCase{"https://my.dotted.bucket.s3.eu-central-1.amazonaws.com/k", "my.dotted.bucket",
                "k"},
        UrlCase{"https://s3bucket.s3.amazonaws.com/k", "s3bucket", "k"},
        UrlCase{"https://b.s3.dualstack.us-east-1.amazonaws.com/k", "b", "k"},
        // s3:// URIs.
        UrlCase{"s3://b/k", "b", "k"},
        UrlCase{"s3://my-bucket/jobs/2024/firmware.json", "my-bucket", "jobs/2024/firmware.json"},
        // The configured endpoint (path style).
        UrlCase{"http://127.0.0.1:9000/b/k", "b", "k"},
        UrlCase{"http://127.0.0.1:9000/docs/a/b/c.json", "docs", "a/b/c.json"},
        // Nested and percent-encoded keys are decoded.
        UrlCase{"https://s3.amazonaws.com/b/dir/sub/job%20doc.json", "b", "dir/sub/job doc.json"},
        UrlCase{"https://b.s3.us-west-2.amazonaws.com/a%2Fb/c%2Bd%3D.json", "b", "a/b/c+d=.json"},
        UrlCase{"https://b.s3.amazonaws.com/%E6%97%A5%E6%9C%AC.json", "b",
                "\xE6\x97\xA5\xE6\x9C\xAC.json"},
        UrlCase{"http://127.0.0.1:9000/docs/fw%20v1.json", "docs", "fw v1.json"},
        UrlCase{"s3://b/a%20b", "b", "a b"},
        // The query string of an https URL is not part of the key.
        UrlCase{"https://s3.amazonaws.com/b/k.json?versionId=3", "b", "k.json"},
        UrlCase{"https://b.s3.amazonaws.com/k.json?x=1", "b", "k.json"}));

class ParseS3UrlRejectTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ParseS3UrlRejectTest, SaysItIsNotS3) {
  auto loc = ParseS3Url(GetParam(), kEndpoint);
  ASSERT_FALSE(loc.ok()) << GetParam() << " parsed as " << loc->bucket << " / " << loc->key;
  EXPECT_EQ(loc.status().code(), Code::kInvalidRequest);
  EXPECT_THAT(loc.status().message(), HasSubstr("documentSource must be an S3 URL"));
  EXPECT_THAT(loc.status().message(), HasSubstr(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(
    NotS3, ParseS3UrlRejectTest,
    ::testing::Values(
        "", "http://example.com/x", "https://example.com/b/k", "https://s3.amazonaws.com",
        "https://s3.amazonaws.com/", "https://s3.amazonaws.com/b", "https://s3.amazonaws.com/b/",
        "https://s3.amazonaws.com//k", "https://b.s3.amazonaws.com", "https://b.s3.amazonaws.com/",
        "https://.s3.amazonaws.com/k", "https://ec2.amazonaws.com/b/k",
        "https://b.s3x.amazonaws.com/k", "https://s3x.amazonaws.com/b/k",
        "https://s3.amazonaws.com.evil.example/b/k", "https://evil.example/s3.amazonaws.com/b/k",
        "http://s3.amazonaws.com/b/k",  // plain http to AWS
        "s3://bucketonly", "s3://bucket/", "s3:///key", "s3://", "s3://b/bad%zzescape",
        "https://s3.amazonaws.com/b/bad%2", "ftp://s3.amazonaws.com/b/k", "http://127.0.0.1:9000",
        "http://127.0.0.1:9000/", "http://127.0.0.1:9000/bucketonly", "http://127.0.0.1:90001/b/k",
        "http://127.0.0.1/b/k", "https://127.0.0.1:9000/b/k"));

TEST(ParseS3UrlEndpointTest, EndpointFormOnlyWhenConfigured) {
  EXPECT_FALSE(ParseS3Url("http://127.0.0.1:9000/b/k", "").ok());
  EXPECT_TRUE(ParseS3Url("https://s3.amazonaws.com/b/k", "").ok());
  auto loc = ParseS3Url("https://minio.internal/docs/k.json", "https://minio.internal");
  ASSERT_TRUE(loc.ok()) << loc.status().ToString();
  EXPECT_EQ(*loc, (S3Location{"docs", "k.json"}));
}

// S3Client::PresignGet builds the path from a decoded location; the expected URLs are botocore's
// (see sigv4_test.cc, fixtures C and D: botocore 1.43.11 S3SigV4QueryAuth, 2026-01-15T10:20:30Z).
TEST(S3ClientPresignTest, MatchesBotocoreOnACustomEndpoint) {
  S3Client client({.endpoint = kEndpoint,
                   .region = "us-east-1",
                   .credentials = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}});
  EXPECT_EQ(client.PresignGet({"docs", "jobs/fw v1.json"}, FromEpochMillis(1768472430000), 3600),
            "http://127.0.0.1:9000/docs/jobs/fw%20v1.json?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIDEXAMPLE%2F20260115%2Fus-east-1%2Fs3%2Faws4_request"
            "&X-Amz-Date=20260115T102030Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
            "&X-Amz-Signature=e8e641fb455952b28918bc8eee9aef22baa5f4b217753f444f5187cc01dadb9d");
}

TEST(S3ClientPresignTest, MatchesBotocoreOnAws) {
  S3Client client({.endpoint = "https://s3.us-west-2.amazonaws.com",
                   .region = "us-west-2",
                   .credentials = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}});
  EXPECT_EQ(client.PresignGet({"my-bucket", "a/b+c=.json"}, FromEpochMillis(1768472430000), 60),
            "https://s3.us-west-2.amazonaws.com/my-bucket/a/"
            "b%2Bc%3D.json?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIDEXAMPLE%2F20260115%2Fus-west-2%2Fs3%2Faws4_request"
            "&X-Amz-Date=20260115T102030Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host"
            "&X-Amz-Signature=9ae7fc820cb07e8677a8de0264e28d8f45188f3433af36ea1c461ca7b494cb77");
}

TEST(S3ClientFetchTest, WithoutEndpointFailsWithoutNetwork) {
  S3Client client({});
  auto r = client.Fetch({"b", "k"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidRequest);
  EXPECT_THAT(r.status().message(), HasSubstr("s3://b/k"));
  EXPECT_THAT(r.status().message(), HasSubstr("--s3-endpoint"));
}

}  // namespace
}  // namespace iotjobs::s3
