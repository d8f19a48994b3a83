// Who may call what (issue 12, Deliver 4 API side): a device over mutual TLS (http::Request's
// peer_identity, no SigV4) acts only for the thing its certificate names; a device key
// (credentials file: iotjobs_role = device, optionally iotjobs_thing) is refused on the control
// plane and, with a thing, on other things; operator keys keep every right. Also the one-endpoint
// routing: the control plane hands requests signed for iot-jobs-data to the data plane.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <optional>
#include <string>

#include "api/control_plane.h"
#include "api/jobs_data_plane.h"
#include "api/tests/api_fixture.h"

namespace iotjobs::api {
namespace {

namespace json = boost::json;

constexpr char kAccount[] = "123456789012";
constexpr char kOperatorKey[] = "AKIDOPERATOR";
constexpr char kDeviceKey[] = "AKIDDEVICE1";  // iotjobs_thing = sensor-1
constexpr char kFleetKey[] = "AKIDFLEET";     // a device key for any thing
constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

class AuthorizationTest : public ApiServicesTest {
 protected:
  void SetUp() override {
    OpenServices(kAccount, nullptr);
    if (HasFatalFailure()) return;
    auto keys = ParseCredentials(
        std::string("[default]\naws_access_key_id=") + kOperatorKey +
        "\naws_secret_access_key=" + kSecret + "\n[sensor-1]\naws_access_key_id=" + kDeviceKey +
        "\naws_secret_access_key=" + kSecret +
        "\niotjobs_role = device\niotjobs_thing = sensor-1\n"
        "[fleet]\naws_access_key_id=" +
        kFleetKey + "\naws_secret_access_key=" + kSecret + "\niotjobs_role = device\n");
    ASSERT_TRUE(keys.ok()) << keys.status().ToString();
    verifier_ = std::make_unique<s3::SigV4Verifier>(*keys);
    for (const char* thing : {"sensor-1", "sensor-2"}) {
      service::CreateThingInput in;
      in.region = "us-east-1";
      in.name = thing;
      ASSERT_TRUE(registry_->CreateThing(in).ok());
    }
    UseAuth(true);
  }

  void UseAuth(bool on) {
    ApiConfig c;
    c.default_region = "us-east-1";
    c.account_id = kAccount;
    const s3::SigV4Verifier* v = on ? verifier_.get() : nullptr;
    data_ = std::make_unique<JobsDataPlane>(c, devices_.get(), v, &clock_);
    control_ = std::make_unique<ControlPlane>(c, Services(), v, &clock_, &clock_);
    control_->ServeJobsDataPlane(data_.get());
  }

  // A request; signed with `key` for `service` unless key is empty; with a client certificate
  // of CN `cn` when given.
  http::Request Make(const std::string& method, const std::string& path,
                     const std::string& body = "", const std::string& key = "",
                     const std::string& service = "iot-jobs-data",
                     std::optional<std::string> cn = std::nullopt) {
    http::Request req;
    req.method = method;
    req.path = path;
    req.body = body;
    req.headers = {{"Host", "jobs.local:8443"}, {"Content-Type", "application/json"}};
    if (!key.empty()) {
      s3::SigV4Request sr{req.method, req.path, req.query, req.headers, req.body};
      s3::SignRequest(&sr, Credentials{key, kSecret}, "us-east-1", service, clock_.Now());
      req.headers = sr.headers;
    }
    req.peer_identity = std::move(cn);
    return req;
  }

  static std::string ErrorType(const http::Response& r) {
    for (const auto& [k, v] : r.headers) {
      if (k == "x-amzn-ErrorType") return v;
    }
    return "";
  }

  static std::string Message(const http::Response& r) {
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    if (ec || !v.is_object() || !v.as_object().contains("message")) return "";
    return std::string(v.as_object().at("message").as_string());
  }

  void ExpectDenied(http::Response r, const std::string& message_part) {
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_EQ(ErrorType(r), "AccessDeniedException") << r.body;
    EXPECT_NE(Message(r).find(message_part), std::string::npos) << r.body;
  }

  // Every data-plane operation on `thing`.
  std::vector<http::Request> AllOps(const std::string& thing, const std::string& key,
                                    std::optional<std::string> cn) {
    const std::string p = "/things/" + thing + "/jobs";
    return {Make("GET", p, "", key, "iot-jobs-data", cn),
            Make("PUT", p + "/$next", "{}", key, "iot-jobs-data", cn),
            Make("GET", p + "/job-1", "", key, "iot-jobs-data", cn),
            Make("POST", p + "/job-1", R"({"status":"SUCCEEDED"})", key, "iot-jobs-data", cn)};
  }

  std::unique_ptr<s3::SigV4Verifier> verifier_;
  std::unique_ptr<JobsDataPlane> data_;
  std::unique_ptr<ControlPlane> control_;
};

TEST_F(AuthorizationTest, CertificateCallerActsForItsOwnThingOnly) {
  for (bool auth : {true, false}) {
    SCOPED_TRACE(auth ? "with --credentials" : "--no-auth");
    UseAuth(auth);
    http::Request own = Make("GET", "/things/sensor-1/jobs", "", "", "", "sensor-1");
    http::Response r = data_->Handle(own);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find("queuedJobs"), std::string::npos) << r.body;
    // Its own execution that does not exist: the ordinary 404, not a denial.
    own = Make("GET", "/things/sensor-1/jobs/job-1", "", "", "", "sensor-1");
    EXPECT_EQ(ErrorType(data_->Handle(own)), "ResourceNotFoundException");

    const char* actions[] = {"GetPendingJobExecutions", "StartNextPendingJobExecution",
                             "DescribeJobExecution", "UpdateJobExecution"};
    auto ops = AllOps("sensor-2", "", "sensor-1");
    for (size_t i = 0; i < ops.size(); ++i) {
      SCOPED_TRACE(ops[i].method + " " + ops[i].path);
      ExpectDenied(data_->Handle(ops[i]),
                   std::string("User: certificate CN=sensor-1 is not authorized to perform: "
                               "iotjobsdata:") +
                       actions[i] +
                       " on resource: arn:aws:iot:us-east-1:123456789012:thing/sensor-2");
    }
    // Through the control listener too (no signing service to route by: the control plane,
    // which refuses a certificate-only caller).
    ExpectDenied(control_->Handle(ops[0]), "control-plane actions");
  }
}

TEST_F(AuthorizationTest, CertificateCallerIsRefusedOnTheControlPlane) {
  http::Request req = Make("GET", "/job-templates", "", "", "iot", "sensor-1");
  ExpectDenied(control_->Handle(req), "certificate CN=sensor-1");
  req = Make("POST", "/things/made-by-a-device", "{}", "", "iot", "sensor-1");
  ExpectDenied(control_->Handle(req), "jobs data plane only");
  EXPECT_EQ(store_->GetThing("us-east-1", "made-by-a-device").status().code(), Code::kNotFound);
  UseAuth(false);  // --no-auth serves unsigned requests, but not as a device's certificate
  req = Make("GET", "/job-templates", "", "", "iot", "sensor-1");
  ExpectDenied(control_->Handle(req), "certificate CN=sensor-1");
}

// The control listener asks for device certificates too (--device-ca): a certificate-only caller
// is refused as a policy denial before its body is read, not as a missing signature.
TEST_F(AuthorizationTest, CertificateCallerIsDeniedOnTheControlPlaneBeforeItsBody) {
  auto denied = control_->CheckHeaders(Make("PUT", "/things/x", "", "", "iot", "sensor-1"));
  ASSERT_TRUE(denied.has_value());
  ExpectDenied(*denied, "certificate CN=sensor-1");
  // Without a certificate an unsigned request is still refused for its missing signature.
  auto unsigned_req = control_->CheckHeaders(Make("PUT", "/things/x", "", "", "iot"));
  ASSERT_TRUE(unsigned_req.has_value());
  EXPECT_NE(ErrorType(*unsigned_req), "AccessDeniedException");
  // A signed request with a certificate is judged by its key.
  EXPECT_FALSE(
      control_->CheckHeaders(Make("GET", "/job-templates", "", kOperatorKey, "iot", "sensor-1")));
}

TEST_F(AuthorizationTest, AnEmptyCommonNameActsForNoThing) {
  http::Request req = Make("GET", "/things/x/jobs", "", "", "", "");
  ExpectDenied(data_->Handle(req), "not authorized");
}

TEST_F(AuthorizationTest, SigV4CallersKeepOperatorRightsWithACertificate) {
  // A signed request is judged by its key, whatever certificate the connection presented.
  for (auto& req : AllOps("sensor-2", kOperatorKey, "sensor-1")) {
    http::Response r = data_->Handle(req);
    EXPECT_NE(r.status, 403) << req.method << " " << req.path << ": " << r.body;
  }
  http::Request ctl = Make("GET", "/job-templates", "", kOperatorKey, "iot", "sensor-1");
  EXPECT_EQ(control_->Handle(ctl).status, 200);
}

TEST_F(AuthorizationTest, DeviceKeyWithAThingActsForThatThingOnly) {
  http::Request own = Make("GET", "/things/sensor-1/jobs", "", kDeviceKey);
  EXPECT_EQ(data_->Handle(own).status, 200);
  for (auto& req : AllOps("sensor-2", kDeviceKey, std::nullopt)) {
    SCOPED_TRACE(req.method + " " + req.path);
    ExpectDenied(data_->Handle(req), "User: access key AKIDDEVICE1 is not authorized");
  }
  // The same through the control listener (routed by the signing service).
  own = Make("GET", "/things/sensor-1/jobs", "", kDeviceKey);
  EXPECT_EQ(control_->Handle(own).status, 200);
  http::Request other = Make("GET", "/things/sensor-2/jobs", "", kDeviceKey);
  ExpectDenied(control_->Handle(other), "thing/sensor-2");
}

TEST_F(AuthorizationTest, DeviceKeysAreRefusedOnTheControlPlane) {
  for (const char* key : {kDeviceKey, kFleetKey}) {
    SCOPED_TRACE(key);
    for (const char* service : {"iot", "execute-api"}) {
      http::Request req = Make("POST", "/things/made-by-a-device", "{}", key, service);
      ExpectDenied(control_->Handle(req), "device key (iotjobs_role = device)");
      req = Make("GET", "/things/sensor-1/jobs", "", key, service);  // ListJobExecutionsForThing
      ExpectDenied(control_->Handle(req), "limited to the jobs data plane");
    }
  }
  EXPECT_EQ(store_->GetThing("us-east-1", "made-by-a-device").status().code(), Code::kNotFound);
  http::Request op = Make("POST", "/things/made-by-a-device", "{}", kOperatorKey, "iot");
  EXPECT_EQ(control_->Handle(op).status, 200);
}

TEST_F(AuthorizationTest, DeviceKeyWithoutAThingServesEveryThingOnTheDataPlane) {
  for (const char* thing : {"sensor-1", "sensor-2"}) {
    http::Request req = Make("GET", std::string("/things/") + thing + "/jobs", "", kFleetKey);
    EXPECT_EQ(data_->Handle(req).status, 200) << thing;
  }
}

}  // namespace
}  // namespace iotjobs::api
