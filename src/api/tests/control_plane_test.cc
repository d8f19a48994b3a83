#include "api/control_plane.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <set>

#include "api/errors.h"
#include "api/tests/api_fixture.h"
#include "common/text.h"

namespace iotjobs::api {
namespace {

namespace json = boost::json;

constexpr char kAccount[] = "123456789012";
constexpr char kKeyId[] = "AKIDEXAMPLE";
constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

// Member names of the botocore model (iot 2015-05-28) for the outputs these routes produce.
const std::set<std::string> kCreateOutput = {"jobTemplateArn", "jobTemplateId"};
const std::set<std::string> kDescribeOutput = {"jobTemplateArn",
                                               "jobTemplateId",
                                               "description",
                                               "documentSource",
                                               "document",
                                               "createdAt",
                                               "presignedUrlConfig",
                                               "jobExecutionsRolloutConfig",
                                               "abortConfig",
                                               "timeoutConfig",
                                               "jobExecutionsRetryConfig",
                                               "maintenanceWindows",
                                               "destinationPackageVersions"};
const std::set<std::string> kListOutput = {"jobTemplates", "nextToken"};
const std::set<std::string> kSummary = {"jobTemplateArn", "jobTemplateId", "description",
                                        "createdAt"};
const std::set<std::string> kListTagsOutput = {"tags", "nextToken"};
const std::set<std::string> kTag = {"Key", "Value"};

std::set<std::string> Keys(const json::object& o) {
  std::set<std::string> k;
  for (const auto& kv : o) k.insert(std::string(kv.key()));
  return k;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class FakeDocumentSource final : public s3::DocumentSource {
 public:
  std::map<std::string, std::string> objects;  // "bucket/key" -> body
  Result<std::string> Fetch(const s3::S3Location& loc) override {
    auto it = objects.find(loc.bucket + "/" + loc.key);
    if (it == objects.end()) return Status::InvalidRequest("fake: NoSuchKey " + loc.key);
    return it->second;
  }
};

// How a test request is authenticated.
struct Signing {
  std::string region;
  std::string service = "iot";
  std::string key_id = kKeyId;
  std::string secret = kSecret;
};

class ControlPlaneTest : public ApiServicesTest {
 protected:
  void SetUp() override {
    // The registration service is never started: no test here reaches
    // /thing-registration-tasks, which would need S3.
    OpenServices(kAccount, &docs_);
    if (HasFatalFailure()) return;
    CredentialSet keys;
    keys.by_key_id[kKeyId] = Credentials{kKeyId, kSecret};
    keys.primary = keys.by_key_id[kKeyId];
    verifier_ = std::make_unique<s3::SigV4Verifier>(keys);
    UseAuth(false);
  }

  void UseAuth(bool on) {
    ApiConfig c;
    c.default_region = "ap-south-1";
    c.account_id = kAccount;
    api_ = std::make_unique<ControlPlane>(c, Services(), on ? verifier_.get() : nullptr, &clock_,
                                          &clock_);
  }

  // Sends `method target` with `body`; signs it when `sign` is given.
  http::Response Call(const std::string& method, const std::string& target,
                      const std::string& body = "", const std::optional<Signing>& sign = {}) {
    http::Request req;
    req.method = method;
    size_t q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) req.query = target.substr(q + 1);
    req.body = body;
    req.headers = {{"Host", "iot.local:8443"}, {"Content-Type", "application/json"}};
    if (sign) {
      s3::SigV4Request sr{req.method, req.path, req.query, req.headers, req.body};
      s3::SignRequest(&sr, Credentials{sign->key_id, sign->secret}, sign->region, sign->service,
                      clock_.Now());
      req.headers = sr.headers;
    }
    return api_->Handle(req);
  }

  // The response body as a JSON object (a test failure when it is not one).
  static json::object Body(const http::Response& r) {
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    EXPECT_FALSE(ec) << "not JSON: " << r.body;
    if (ec || !v.is_object()) {
      ADD_FAILURE() << "not a JSON object: " << r.body;
      return {};
    }
    return v.get_object();
  }

  static std::string Header(const http::Response& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }

  // Checks that `r` is the error `type` with HTTP `status`, and returns its message.
  static std::string ExpectError(const http::Response& r, int status, const std::string& type) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(Header(r, "x-amzn-ErrorType"), type) << r.body;
    EXPECT_EQ(r.content_type, "application/json");
    json::object o = Body(r);
    EXPECT_TRUE(o.contains("message") && o.at("message").is_string()) << r.body;
    return o.contains("message") && o.at("message").is_string()
               ? std::string(o.at("message").get_string())
               : "";
  }

  void Create(const std::string& id, const std::string& extra = "") {
    http::Response r =
        Call("PUT", "/job-templates/" + id,
             R"({"description":"d )" + id + R"(","document":"{\"op\":1}")" + extra + "}");
    ASSERT_EQ(r.status, 200) << r.body;
  }

  std::string Arn(const std::string& id, const std::string& region = "ap-south-1") {
    return "arn:aws:iot:" + region + ":" + kAccount + ":jobtemplate/" + id;
  }

  FakeDocumentSource docs_;
  std::unique_ptr<s3::SigV4Verifier> verifier_;
  std::unique_ptr<ControlPlane> api_;
};

// --- The error table ---

TEST(ErrorsTest, EveryCodeMapsToTheModeledStatusAndShape) {
  struct Row {
    Code code;
    int status;
    const char* type;
  };
  const Row control[] = {
      {Code::kInvalidRequest, 400, "InvalidRequestException"},
      {Code::kNotFound, 404, "ResourceNotFoundException"},
      {Code::kConflict, 409, "ConflictException"},
      {Code::kAlreadyExists, 409, "ResourceAlreadyExistsException"},
      {Code::kVersionConflict, 409, "VersionConflictException"},
      {Code::kInvalidStateTransition, 409, "InvalidStateTransitionException"},
      {Code::kLimitExceeded, 410, "LimitExceededException"},
      {Code::kUnauthorized, 401, "UnauthorizedException"},
      {Code::kMissingAuth, 403, "MissingAuthenticationTokenException"},
      {Code::kUnknownClient, 403, "UnrecognizedClientException"},
      {Code::kSignatureInvalid, 403, "InvalidSignatureException"},
      {Code::kAccessDenied, 403, "AccessDeniedException"},
      {Code::kThrottled, 400, "ThrottlingException"},  // the iot model says 400, not 429
      {Code::kUnavailable, 503, "ServiceUnavailableException"},
      {Code::kInternal, 500, "InternalFailureException"},
  };
  for (const Row& row : control) {
    SCOPED_TRACE(CodeName(row.code));
    WireError w = ToWireError(row.code, Plane::kControl);
    EXPECT_EQ(w.http_status, row.status);
    EXPECT_STREQ(w.type, row.type);
  }
  // Where the jobs data plane model differs.
  EXPECT_EQ(ToWireError(Code::kThrottled, Plane::kJobsData).http_status, 429);
  EXPECT_STREQ(ToWireError(Code::kThrottled, Plane::kJobsData).type, "ThrottlingException");
  EXPECT_EQ(ToWireError(Code::kInternal, Plane::kJobsData).http_status, 500);
  EXPECT_STREQ(ToWireError(Code::kInternal, Plane::kJobsData).type, "InternalServerException");
  EXPECT_STREQ(ToWireError(Code::kNotFound, Plane::kJobsData).type, "ResourceNotFoundException");
  EXPECT_EQ(ToWireError(Code::kAccessDenied, Plane::kJobsData).http_status, 403);
  EXPECT_STREQ(ToWireError(Code::kAccessDenied, Plane::kJobsData).type, "AccessDeniedException");
}

TEST(ErrorsTest, ErrorResponseCarriesHeaderAndMessage) {
  http::Response r =
      ErrorResponse(Status::NotFound("job template \"x\" does not exist"), Plane::kControl);
  EXPECT_EQ(r.status, 404);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "x-amzn-ErrorType");
  EXPECT_EQ(r.headers[0].second, "ResourceNotFoundException");
  EXPECT_EQ(r.content_type, "application/json");
  json::value v = json::parse(r.body);
  EXPECT_EQ(v.at("message").as_string(), "job template \"x\" does not exist");
}

TEST(ErrorsTest, UnknownOperationIs404) {
  http::Request req;
  req.method = "PATCH";
  req.path = "/nowhere";
  http::Response r = UnknownOperation(req);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.headers.at(0).second, "UnknownOperationException");
  EXPECT_TRUE(
      Contains(std::string(json::parse(r.body).at("message").as_string()), "PATCH /nowhere"));
}

// --- Job templates ---

constexpr char kFullBody[] = R"json({
  "description": "Firmware 2.0",
  "document": "{\"operation\":\"update\"}",
  "presignedUrlConfig": {"roleArn": "arn:aws:iam::123456789012:role/S3", "expiresInSec": 300},
  "jobExecutionsRolloutConfig": {"maximumPerMinute": 50,
     "exponentialRate": {"baseRatePerMinute": 5, "incrementFactor": 1.5,
                         "rateIncreaseCriteria": {"numberOfSucceededThings": 10}}},
  "abortConfig": {"criteriaList": [{"failureType": "FAILED", "action": "CANCEL",
                                    "thresholdPercentage": 12.5, "minNumberOfExecutedThings": 20}]},
  "timeoutConfig": {"inProgressTimeoutInMinutes": 60},
  "jobExecutionsRetryConfig": {"criteriaList": [{"failureType": "TIMED_OUT", "numberOfRetries": 2}]},
  "maintenanceWindows": [{"startTime": "cron(0 1 ? * MON *)", "durationInMinutes": 120}],
  "destinationPackageVersions": ["arn:aws:iot:us-east-1:123456789012:package/p/version/1"],
  "tags": [{"Key": "team", "Value": "fw"}]
})json";

TEST_F(ControlPlaneTest, CreateThenDescribeUsesTheModelsMemberNames) {
  http::Response r = Call("PUT", "/job-templates/fw-2", kFullBody);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  json::object created = Body(r);
  EXPECT_EQ(Keys(created), kCreateOutput);
  EXPECT_EQ(created["jobTemplateArn"], json::value(Arn("fw-2")));
  EXPECT_EQ(created["jobTemplateId"], json::value("fw-2"));

  clock_.Advance(Millis(60000));
  r = Call("GET", "/job-templates/fw-2");
  ASSERT_EQ(r.status, 200) << r.body;
  json::object d = Body(r);
  const json::object sent = json::parse(kFullBody).as_object();
  std::set<std::string> want = {"jobTemplateArn", "jobTemplateId", "description", "document",
                                "createdAt"};
  for (const auto& kv : sent) {
    if (kv.key() != "tags") want.insert(std::string(kv.key()));
  }
  EXPECT_EQ(Keys(d), want);
  for (const auto& k : Keys(d)) EXPECT_TRUE(kDescribeOutput.count(k)) << k << " is not modeled";
  EXPECT_EQ(d["jobTemplateArn"], json::value(Arn("fw-2")));
  EXPECT_EQ(d["jobTemplateId"], json::value("fw-2"));
  EXPECT_EQ(d["description"], json::value("Firmware 2.0"));
  EXPECT_EQ(d["document"], json::value("{\"operation\":\"update\"}"));
  ASSERT_TRUE(d["createdAt"].is_number());
  EXPECT_DOUBLE_EQ(d["createdAt"].to_number<double>(), 1'750'000'000.25)
      << "epoch seconds at creation";
  for (const char* config :
       {"presignedUrlConfig", "jobExecutionsRolloutConfig", "abortConfig", "timeoutConfig",
        "jobExecutionsRetryConfig", "maintenanceWindows", "destinationPackageVersions"}) {
    EXPECT_EQ(d[config], sent.at(config)) << config << ": " << json::serialize(d[config]);
  }
}

TEST_F(ControlPlaneTest, DescribeOfAMinimalTemplateHasNoOptionalMembers) {
  Create("min");
  json::object d = Body(Call("GET", "/job-templates/min"));
  EXPECT_EQ(Keys(d), (std::set<std::string>{"jobTemplateArn", "jobTemplateId", "description",
                                            "document", "createdAt"}));
}

TEST_F(ControlPlaneTest, DocumentSourceTemplateReportsItsSource) {
  docs_.objects["bucket/doc.json"] = R"({"from":"s3"})";
  http::Response r = Call("PUT", "/job-templates/s3doc",
                          R"({"description":"x","documentSource":"s3://bucket/doc.json"})");
  ASSERT_EQ(r.status, 200) << r.body;
  json::object d = Body(Call("GET", "/job-templates/s3doc"));
  EXPECT_EQ(d["documentSource"], json::value("s3://bucket/doc.json"));
  for (const auto& k : Keys(d)) EXPECT_TRUE(kDescribeOutput.count(k)) << k;

  r = Call("PUT", "/job-templates/missing-doc",
           R"({"description":"x","documentSource":"s3://bucket/none.json"})");
  EXPECT_TRUE(Contains(ExpectError(r, 400, "InvalidRequestException"), "NoSuchKey"));
}

TEST_F(ControlPlaneTest, DocumentSourceRulesReachTheWire) {
  std::string m = ExpectError(Call("PUT", "/job-templates/t", R"({"description":"x"})"), 400,
                              "InvalidRequestException");
  EXPECT_TRUE(Contains(m, "exactly one")) << m;
  ExpectError(Call("PUT", "/job-templates/t", ""), 400, "InvalidRequestException");
  ExpectError(Call("PUT", "/job-templates/t",
                   R"({"document":"{}","jobArn":"arn:aws:iot:us-east-1:1:job/j"})"),
              400, "InvalidRequestException");
  ExpectError(
      Call("PUT", "/job-templates/t", R"({"jobArn":"arn:aws:iot:ap-south-1:123456789012:job/j"})"),
      404, "ResourceNotFoundException");
  ExpectError(Call("PUT", "/job-templates/t", R"({"document":"[1]"})"), 400,
              "InvalidRequestException");
}

TEST_F(ControlPlaneTest, DuplicateIsConflictWithTheModeledResourceId) {
  Create("dup");
  http::Response r = Call("PUT", "/job-templates/dup", R"({"document":"{}"})");
  std::string m = ExpectError(r, 409, "ConflictException");
  EXPECT_TRUE(Contains(m, "dup")) << m;
  json::object o = Body(r);
  EXPECT_EQ(o["resourceId"], json::value("dup")) << r.body;
}

TEST_F(ControlPlaneTest, DescribeAndDeleteOfMissingAreNotFound) {
  ExpectError(Call("GET", "/job-templates/none"), 404, "ResourceNotFoundException");
  ExpectError(Call("DELETE", "/job-templates/none"), 404, "ResourceNotFoundException");
  ExpectError(Call("GET", "/job-templates/bad%20id"), 400, "InvalidRequestException");
}

TEST_F(ControlPlaneTest, DeleteRemovesTheTemplate) {
  Create("t");
  http::Response r = Call("DELETE", "/job-templates/t");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(Body(r).empty());
  ExpectError(Call("GET", "/job-templates/t"), 404, "ResourceNotFoundException");
  ExpectError(Call("DELETE", "/job-templates/t"), 404, "ResourceNotFoundException");
}

TEST_F(ControlPlaneTest, ListPagesWithMaxResultsAndNextToken) {
  for (const char* id : {"e", "a", "d", "b", "c"}) Create(id);
  std::vector<std::string> ids;
  std::string token;
  int pages = 0;
  do {
    std::string target = "/job-templates?maxResults=2";
    if (!token.empty()) target += "&nextToken=" + UriEncode(token);
    http::Response r = Call("GET", target);
    ASSERT_EQ(r.status, 200) << r.body;
    json::object o = Body(r);
    for (const auto& k : Keys(o)) EXPECT_TRUE(kListOutput.count(k)) << k;
    ASSERT_TRUE(o["jobTemplates"].is_array());
    EXPECT_LE(o["jobTemplates"].as_array().size(), 2u);
    for (const auto& item : o["jobTemplates"].as_array()) {
      const json::object& s = item.as_object();
      EXPECT_EQ(Keys(s), kSummary);
      std::string id(s.at("jobTemplateId").as_string());
      EXPECT_EQ(s.at("jobTemplateArn"), json::value(Arn(id)));
      EXPECT_EQ(s.at("description"), json::value("d " + id));
      EXPECT_DOUBLE_EQ(s.at("createdAt").to_number<double>(), 1'750'000'000.25);
      ids.push_back(id);
    }
    token = o.contains("nextToken") ? std::string(o["nextToken"].as_string()) : "";
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b", "c", "d", "e"}));

  // Without maxResults: everything, and no nextToken member at all.
  json::object all = Body(Call("GET", "/job-templates"));
  EXPECT_EQ(all["jobTemplates"].as_array().size(), 5u);
  EXPECT_FALSE(all.contains("nextToken"));
}

TEST_F(ControlPlaneTest, ListOfNothingIsAnEmptyList) {
  json::object o = Body(Call("GET", "/job-templates"));
  ASSERT_TRUE(o["jobTemplates"].is_array());
  EXPECT_TRUE(o["jobTemplates"].as_array().empty());
}

TEST_F(ControlPlaneTest, ListRejectsBadMaxResultsAndTokens) {
  for (const char* q : {"maxResults=0", "maxResults=251", "maxResults=-1", "maxResults=abc",
                        "maxResults=", "maxResults=1x", "nextToken=garbage!", "nextToken=YWJj"}) {
    SCOPED_TRACE(q);
    std::string m = ExpectError(Call("GET", std::string("/job-templates?") + q), 400,
                                "InvalidRequestException");
    EXPECT_TRUE(Contains(m, std::string(q).substr(0, std::string(q).find('=')))) << m;
  }
  EXPECT_EQ(Call("GET", "/job-templates?maxResults=250").status, 200);
  EXPECT_EQ(Call("GET", "/job-templates?maxResults=1").status, 200);
}

// Issue 16 finding 8: "maxResults=%ZZ" read "maxResults must be an integer, got ''" and a target
// without a leading '/' read "malformed %-escape".
TEST_F(ControlPlaneTest, Finding8MalformedEscapesAndTargetsSayWhatIsWrong) {
  EXPECT_EQ(
      ExpectError(Call("GET", "/job-templates?maxResults=%ZZ"), 400, "InvalidRequestException"),
      "query parameter maxResults has a malformed %-escape '%ZZ'; an escape is % and two "
      "hex digits");
  EXPECT_EQ(ExpectError(Call("GET", "/job-templates?nextToken=a&max%52esults=1%"), 400,
                        "InvalidRequestException"),
            "query parameter maxResults has a malformed %-escape '%'; an escape is % and two hex "
            "digits");
  EXPECT_EQ(ExpectError(Call("GET", "/job-templates/a%G0"), 400, "InvalidRequestException"),
            "the request path has a malformed %-escape '%G0'; an escape is % and two hex digits");
  EXPECT_EQ(ExpectError(Call("GET", "job-templates"), 400, "InvalidRequestException"),
            "the request target must be an absolute path starting with '/' (origin form), got "
            "'job-templates'");
  EXPECT_EQ(Call("GET", "/job-templates?maxResults=%32").status, 200);
}

// Issue 16 finding 7: an error message is valid UTF-8 whatever bytes the request decoded to.
TEST_F(ControlPlaneTest, Finding7ErrorMessagesAreValidUtf8) {
  for (const char* target :
       {"/job-templates/%FF%FE", "/job-templates?maxResults=%C3", "/jobs/%E2%82?force=%E2%82"}) {
    SCOPED_TRACE(target);
    http::Response r = Call("GET", target);
    EXPECT_EQ(r.status, 400);
    EXPECT_TRUE(IsValidUtf8(r.body)) << r.body;
  }
}

TEST_F(ControlPlaneTest, PercentEncodedPathIdsAreDecoded) {
  ASSERT_EQ(Call("PUT", "/job-templates/my%2Dtemplate%5F1", R"({"document":"{}"})").status, 200);
  json::object d = Body(Call("GET", "/job-templates/my-template_1"));
  EXPECT_EQ(d["jobTemplateId"], json::value("my-template_1"));
  EXPECT_EQ(Call("GET", "/job-templates/%6Dy-template_1").status, 200);
  // An encoded slash stays inside the id (which makes it invalid), not a path separator.
  ExpectError(Call("PUT", "/job-templates/a%2Fb", R"({"document":"{}"})"), 400,
              "InvalidRequestException");
  ExpectError(Call("GET", "/job-templates/bad%zz"), 400, "InvalidRequestException");
  EXPECT_EQ(Call("DELETE", "/job-templates/my%2dtemplate_1").status, 200);
}

TEST_F(ControlPlaneTest, MalformedJsonBodyIsInvalidRequest) {
  for (const char* body : {"{", "{\"document\":}", "not json", "[]", "\"str\"", "1"}) {
    SCOPED_TRACE(body);
    ExpectError(Call("PUT", "/job-templates/t", body), 400, "InvalidRequestException");
    ExpectError(Call("POST", "/tags", body), 400, "InvalidRequestException");
    ExpectError(Call("POST", "/untag", body), 400, "InvalidRequestException");
  }
  ExpectError(Call("GET", "/job-templates/t"), 404, "ResourceNotFoundException");
}

TEST_F(ControlPlaneTest, WrongMemberTypesNameTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"document":"{}","description":5})", "description"},
      {R"({"document":{"a":1}})", "document"},
      {R"({"documentSource":true})", "documentSource"},
      {R"({"document":"{}","jobExecutionsRolloutConfig":{"maximumPerMinute":"10"}})",
       "jobExecutionsRolloutConfig.maximumPerMinute"},
      {R"({"document":"{}","abortConfig":{"criteriaList":[{"failureType":"FAILED",
          "action":"CANCEL","thresholdPercentage":"x","minNumberOfExecutedThings":1}]}})",
       "abortConfig.criteriaList[0].thresholdPercentage"},
      {R"({"document":"{}","timeoutConfig":[]})", "timeoutConfig"},
      {R"({"document":"{}","maintenanceWindows":{}})", "maintenanceWindows"},
      {R"({"document":"{}","tags":"team=fw"})", "tags"},
      {R"({"document":"{}","tags":[{"Key":1,"Value":"v"}]})", "tags[0].Key"},
  };
  for (const auto& [body, field] : cases) {
    SCOPED_TRACE(body);
    std::string m =
        ExpectError(Call("PUT", "/job-templates/t", body), 400, "InvalidRequestException");
    EXPECT_TRUE(Contains(m, field)) << m;
  }
  ExpectError(Call("GET", "/job-templates/t"), 404, "ResourceNotFoundException");
}

TEST_F(ControlPlaneTest, ValidationFailuresNameTheField) {
  std::string m =
      ExpectError(Call("PUT", "/job-templates/t",
                       R"({"document":"{}","jobExecutionsRolloutConfig":{"maximumPerMinute":0}})"),
                  400, "InvalidRequestException");
  EXPECT_TRUE(Contains(m, "jobExecutionsRolloutConfig.maximumPerMinute")) << m;
  m = ExpectError(Call("PUT", "/job-templates/" + std::string(65, 'a'), R"({"document":"{}"})"),
                  400, "InvalidRequestException");
  EXPECT_TRUE(Contains(m, "jobTemplateId")) << m;
}

TEST_F(ControlPlaneTest, UnknownRoutesAreUnknownOperation) {
  const std::pair<const char*, const char*> routes[] = {
      {"GET", "/"},
      {"GET", "/jobz"},
      {"POST", "/job-templates/t"},
      {"PATCH", "/job-templates/t"},
      {"PUT", "/job-templates"},
      {"DELETE", "/job-templates"},
      {"GET", "/job-templates/t/extra"},
      {"PUT", "/tags"},
      {"GET", "/untag"},
      {"DELETE", "/tags"},
      {"GET", "/JOB-TEMPLATES"},
  };
  for (const auto& [method, path] : routes) {
    SCOPED_TRACE(std::string(method) + " " + path);
    ExpectError(Call(method, path), 404, "UnknownOperationException");
  }
}

// --- Tags ---

TEST_F(ControlPlaneTest, TagUntagAndListTags) {
  Create("t", R"(,"tags":[{"Key":"b","Value":"2"}])");
  const std::string arn = Arn("t");
  http::Response r = Call("POST", "/tags",
                          R"({"resourceArn":")" + arn +
                              R"(","tags":[{"Key":"a","Value":"1"},{"Key":"c","Value":""}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(Body(r).empty());

  r = Call("GET", "/tags?resourceArn=" + UriEncode(arn));
  ASSERT_EQ(r.status, 200) << r.body;
  json::object o = Body(r);
  for (const auto& k : Keys(o)) EXPECT_TRUE(kListTagsOutput.count(k)) << k;
  EXPECT_FALSE(o.contains("nextToken"));
  EXPECT_EQ(o["tags"], json::parse(R"([{"Key":"a","Value":"1"},{"Key":"b","Value":"2"},
                                       {"Key":"c","Value":""}])"));
  for (const auto& t : o["tags"].as_array()) EXPECT_EQ(Keys(t.as_object()), kTag);

  r = Call("POST", "/untag", R"({"resourceArn":")" + arn + R"(","tagKeys":["a","c","zz"]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(Body(r).empty());
  o = Body(Call("GET", "/tags?resourceArn=" + UriEncode(arn)));
  EXPECT_EQ(o["tags"], json::parse(R"([{"Key":"b","Value":"2"}])"));

  ASSERT_EQ(Call("POST", "/untag", R"({"resourceArn":")" + arn + R"(","tagKeys":["b"]})").status,
            200);
  o = Body(Call("GET", "/tags?resourceArn=" + UriEncode(arn)));
  ASSERT_TRUE(o["tags"].is_array());
  EXPECT_TRUE(o["tags"].as_array().empty());
}

TEST_F(ControlPlaneTest, TaggingErrors) {
  Create("t");
  const std::string arn = Arn("t");
  // Missing or mistyped members.
  ExpectError(Call("POST", "/tags", R"({"tags":[]})"), 400, "InvalidRequestException");
  ExpectError(Call("POST", "/tags", R"({"resourceArn":")" + arn + R"("})"), 400,
              "InvalidRequestException");
  std::string m =
      ExpectError(Call("POST", "/tags", R"({"resourceArn":")" + arn + R"(","tags":{}})"), 400,
                  "InvalidRequestException");
  EXPECT_TRUE(Contains(m, "tags")) << m;
  m = ExpectError(Call("POST", "/tags", R"({"resourceArn":7,"tags":[]})"), 400,
                  "InvalidRequestException");
  EXPECT_TRUE(Contains(m, "resourceArn")) << m;
  ExpectError(Call("POST", "/untag", R"({"resourceArn":")" + arn + R"("})"), 400,
              "InvalidRequestException");
  m = ExpectError(Call("POST", "/untag", R"({"resourceArn":")" + arn + R"(","tagKeys":[1]})"), 400,
                  "InvalidRequestException");
  EXPECT_TRUE(Contains(m, "tagKeys")) << m;
  ExpectError(Call("GET", "/tags"), 400, "InvalidRequestException");
  // Unknown resources and non-IoT ARNs.
  const std::string missing = Arn("missing");
  ExpectError(Call("POST", "/tags", R"({"resourceArn":")" + missing + R"(","tags":[]})"), 404,
              "ResourceNotFoundException");
  ExpectError(Call("POST", "/untag", R"({"resourceArn":")" + missing + R"(","tagKeys":["a"]})"),
              404, "ResourceNotFoundException");
  ExpectError(Call("GET", "/tags?resourceArn=" + UriEncode(missing)), 404,
              "ResourceNotFoundException");
  ExpectError(Call("GET", "/tags?resourceArn=" +
                              UriEncode("arn:aws:iot:ap-south-1:999999999999:jobtemplate/t")),
              404, "ResourceNotFoundException");
  ExpectError(Call("POST", "/tags", R"({"resourceArn":"arn:aws:s3:::b","tags":[]})"), 400,
              "InvalidRequestException");
  ExpectError(Call("GET", "/tags?resourceArn=nonsense"), 400, "InvalidRequestException");
  // Reserved keys.
  ExpectError(Call("POST", "/tags",
                   R"({"resourceArn":")" + arn + R"(","tags":[{"Key":"aws:x","Value":""}]})"),
              400, "InvalidRequestException");
}

TEST_F(ControlPlaneTest, TagLimitIsLimitExceeded410) {
  std::string tags;
  for (int i = 0; i < 50; ++i) {
    tags += std::string(i ? "," : "") + R"({"Key":"k)" + std::to_string(i) + R"(","Value":"v"})";
  }
  Create("t", ",\"tags\":[" + tags + "]");
  const std::string arn = Arn("t");
  ExpectError(Call("POST", "/tags",
                   R"({"resourceArn":")" + arn + R"(","tags":[{"Key":"one-more","Value":"v"}]})"),
              410, "LimitExceededException");
  json::object o = Body(Call("GET", "/tags?resourceArn=" + UriEncode(arn)));
  EXPECT_EQ(o["tags"].as_array().size(), 50u);
}

// --- Regions and authentication ---

TEST_F(ControlPlaneTest, NoAuthUsesTheDefaultRegionForUnsignedRequests) {
  json::object c = Body(Call("PUT", "/job-templates/t", R"({"document":"{}"})"));
  EXPECT_EQ(c["jobTemplateArn"], json::value("arn:aws:iot:ap-south-1:123456789012:jobtemplate/t"));
  // Without a verifier a signature is not checked, but its scope still picks the region.
  Signing eu{"eu-west-1"};
  eu.secret = "wrong secret";
  http::Response r = Call("GET", "/job-templates/t", "", eu);
  ExpectError(r, 404, "ResourceNotFoundException");
  r = Call("PUT", "/job-templates/t", R"({"document":"{}"})", eu);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["jobTemplateArn"],
            json::value("arn:aws:iot:eu-west-1:123456789012:jobtemplate/t"));
}

TEST_F(ControlPlaneTest, SigV4SignedRequestsAreScopedToTheirRegion) {
  UseAuth(true);
  const Signing us{"us-east-1"}, eu{"eu-west-1"};
  http::Response r = Call("PUT", "/job-templates/t", R"({"document":"{}"})", eu);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["jobTemplateArn"],
            json::value("arn:aws:iot:eu-west-1:123456789012:jobtemplate/t"));
  ASSERT_EQ(Call("PUT", "/job-templates/us-only", R"({"document":"{}"})", us).status, 200);

  ExpectError(Call("GET", "/job-templates/us-only", "", eu), 404, "ResourceNotFoundException");
  r = Call("GET", "/job-templates/us-only", "", us);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["jobTemplateArn"],
            json::value("arn:aws:iot:us-east-1:123456789012:jobtemplate/us-only"));

  json::object list = Body(Call("GET", "/job-templates?maxResults=10", "", eu));
  ASSERT_EQ(list["jobTemplates"].as_array().size(), 1u);
  EXPECT_EQ(list["jobTemplates"].as_array()[0].at("jobTemplateArn"),
            json::value("arn:aws:iot:eu-west-1:123456789012:jobtemplate/t"));

  // Signed query strings with encoded characters verify too.
  const std::string eu_arn = "arn:aws:iot:eu-west-1:123456789012:jobtemplate/t";
  ASSERT_EQ(Call("POST", "/tags",
                 R"({"resourceArn":")" + eu_arn + R"(","tags":[{"Key":"k","Value":"v w"}]})", eu)
                .status,
            200);
  r = Call("GET", "/tags?resourceArn=" + UriEncode(eu_arn), "", eu);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["tags"], json::parse(R"([{"Key":"k","Value":"v w"}])"));
}

TEST_F(ControlPlaneTest, UnsignedRequestIsMissingAuthenticationToken) {
  UseAuth(true);
  ExpectError(Call("GET", "/job-templates"), 403, "MissingAuthenticationTokenException");
  ExpectError(Call("PUT", "/job-templates/t", R"({"document":"{}"})"), 403,
              "MissingAuthenticationTokenException");
  ExpectError(Call("GET", "/nowhere"), 403, "MissingAuthenticationTokenException");
  EXPECT_EQ(store_->GetJobTemplate("ap-south-1", "t").status().code(), Code::kNotFound);
}

TEST_F(ControlPlaneTest, SignatureForTheJobsDataPlaneIsRejected) {
  UseAuth(true);
  Signing data{"us-east-1"};
  data.service = "iot-jobs-data";
  std::string m = ExpectError(Call("PUT", "/job-templates/t", R"({"document":"{}"})", data), 403,
                              "InvalidSignatureException");
  EXPECT_TRUE(Contains(m, "iot")) << m;
  EXPECT_EQ(store_->GetJobTemplate("us-east-1", "t").status().code(), Code::kNotFound);
}

// Issue 12: Debian 12's AWS CLI v2 (botocore 2.9) signs `iot` requests for `execute-api`, as
// AWS IoT accepts.
TEST_F(ControlPlaneTest, ExecuteApiSigningNameIsAcceptedAsIot) {
  UseAuth(true);
  Signing cli_v2{"us-east-1"};
  cli_v2.service = "execute-api";
  http::Response r = Call("PUT", "/job-templates/t", R"({"document":"{}"})", cli_v2);
  ASSERT_EQ(r.status, 200) << r.body;
  r = Call("GET", "/job-templates/t", "", Signing{"us-east-1"});
  ASSERT_EQ(r.status, 200) << r.body;
  Signing other{"us-east-1"};
  other.service = "s3";
  ExpectError(Call("GET", "/job-templates/t", "", other), 403, "InvalidSignatureException");
}

TEST_F(ControlPlaneTest, BadSignaturesAreRejected) {
  UseAuth(true);
  Signing wrong_secret{"us-east-1"};
  wrong_secret.secret = "not the secret";
  ExpectError(Call("GET", "/job-templates", "", wrong_secret), 403, "InvalidSignatureException");
  Signing unknown_key{"us-east-1"};
  unknown_key.key_id = "AKIDUNKNOWN";
  ExpectError(Call("GET", "/job-templates", "", unknown_key), 403, "UnrecognizedClientException");

  // A body changed after signing.
  http::Request req;
  req.method = "PUT";
  req.path = "/job-templates/t";
  req.body = R"({"document":"{}"})";
  req.headers = {{"host", "iot.local"}};
  s3::SigV4Request sr{req.method, req.path, req.query, req.headers, req.body};
  s3::SignRequest(&sr, Credentials{kKeyId, kSecret}, "us-east-1", "iot", clock_.Now());
  req.headers = sr.headers;
  req.body = R"({"document":"{\"x\":1}"})";
  ExpectError(api_->Handle(req), 403, "InvalidSignatureException");

  // A signature older than the allowed clock skew.
  const Signing us{"us-east-1"};
  http::Request stale;
  stale.method = "GET";
  stale.path = "/job-templates";
  stale.headers = {{"host", "iot.local"}};
  s3::SigV4Request ss{stale.method, stale.path, stale.query, stale.headers, stale.body};
  s3::SignRequest(&ss, Credentials{kKeyId, kSecret}, "us-east-1", "iot", clock_.Now());
  stale.headers = ss.headers;
  EXPECT_EQ(api_->Handle(stale).status, 200);
  clock_.Advance(Millis(16 * 60 * 1000));
  ExpectError(api_->Handle(stale), 403, "InvalidSignatureException");
}

// Issue 16 finding 8: 3,000-character, quoted, empty and `..` scope regions each created a
// namespace; only region-shaped names are accepted, signed or (--no-auth) not.
TEST_F(ControlPlaneTest, ScopeRegionsThatAreNotRegionShapedCreateNothing) {
  for (bool auth : {true, false}) {
    UseAuth(auth);
    for (const std::string& bad : {std::string(3000, 'a'), std::string("\"us-east-1\""),
                                   std::string(""), std::string("..")}) {
      SCOPED_TRACE((auth ? "signed, region " : "--no-auth, region ") + bad.substr(0, 12));
      Signing s{bad};
      std::string m = ExpectError(Call("PUT", "/job-templates/t", R"({"document":"{}"})", s), 403,
                                  "InvalidSignatureException");
      EXPECT_TRUE(Contains(m, "valid region")) << m;
      EXPECT_EQ(store_->GetJobTemplate(bad, "t").status().code(), Code::kNotFound);
    }
  }
}

}  // namespace
}  // namespace iotjobs::api
