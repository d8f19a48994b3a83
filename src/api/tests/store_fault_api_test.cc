// A store failure as a client sees it: the services over a FaultStore (store/testing/
// fault_store.h), the control plane and the jobs data plane over them. Unavailable is 503
// ServiceUnavailableException on both planes, Internal 500 (InternalFailureException on the control
// plane, InternalServerException on the data plane), and the next request is served normally.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <string>

#include "api/control_plane.h"
#include "api/jobs_data_plane.h"
#include "common/clock.h"
#include "service/applier.h"
#include "service/device_service.h"
#include "store/testing/fault_store.h"
#include "store/tests/scratch_store.h"
#include "store/tests/temp_dir.h"

namespace iotjobs::api {
namespace {

namespace json = boost::json;
using store::testing::FaultStore;
using Fault = FaultStore::Fault;

class StoreFaultApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = iotjobs::testing::OpenScratchStore(dir_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    inner_ = std::move(s).value();
    faulty_ = std::make_unique<FaultStore>(inner_.get());
    service::ServiceConfig sc;
    applier_ = std::make_unique<service::Applier>(faulty_.get());
    templates_ = std::make_unique<service::TemplateService>(sc, faulty_.get(), nullptr, &clock_);
    registry_ = std::make_unique<service::RegistryService>(sc, faulty_.get(), &clock_);
    jobs_ = std::make_unique<service::JobService>(sc, service::JobLimits{}, faulty_.get(),
                                                  applier_.get(), nullptr, &clock_);
    registration_ = std::make_unique<service::RegistrationService>(
        sc, service::RegistrationConfig{}, faulty_.get(), nullptr, &clock_);
    devices_ = std::make_unique<service::DeviceService>(sc, faulty_.get(), applier_.get(), nullptr,
                                                        &clock_, &clock_);
    ApiConfig c;
    control_ = std::make_unique<ControlPlane>(
        c,
        ControlPlane::Services{templates_.get(), registry_.get(), jobs_.get(), registration_.get()},
        nullptr, &clock_, &clock_);
    data_ = std::make_unique<JobsDataPlane>(c, devices_.get(), nullptr, &clock_);
  }

  static http::Request Request(const std::string& method, const std::string& path,
                               const std::string& body = "") {
    http::Request req;
    req.method = method;
    req.path = path;
    req.body = body;
    req.headers = {{"Host", "iot.local:8443"}, {"Content-Type", "application/json"}};
    return req;
  }
  http::Response Control(const std::string& method, const std::string& path,
                         const std::string& body = "") {
    http::Request req = Request(method, path, body);
    return control_->Handle(req);
  }
  http::Response Data(const std::string& method, const std::string& path) {
    http::Request req = Request(method, path);
    return data_->Handle(req);
  }
  static void ExpectError(const http::Response& r, int status, const std::string& type) {
    EXPECT_EQ(r.status, status) << r.body;
    std::string header;
    for (const auto& [k, v] : r.headers) {
      if (k == "x-amzn-ErrorType") header = v;
    }
    EXPECT_EQ(header, type);
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    ASSERT_FALSE(ec) << r.body;
    ASSERT_TRUE(v.is_object());
    EXPECT_EQ(v.as_object().at("__type").as_string(), type);
    EXPECT_NE(std::string(v.as_object().at("message").as_string()).find("injected fault"),
              std::string::npos)
        << r.body;
  }

  iotjobs::testing::TempDir dir_;
  FakeClock clock_{FromEpochMillis(1'750'000'000'000)};
  std::unique_ptr<store::SqliteStore> inner_;
  std::unique_ptr<FaultStore> faulty_;
  std::unique_ptr<service::TemplateService> templates_;
  std::unique_ptr<service::RegistryService> registry_;
  std::unique_ptr<service::Applier> applier_;
  std::unique_ptr<service::JobService> jobs_;
  std::unique_ptr<service::RegistrationService> registration_;
  std::unique_ptr<service::DeviceService> devices_;
  std::unique_ptr<ControlPlane> control_;
  std::unique_ptr<JobsDataPlane> data_;
};

TEST_F(StoreFaultApiTest, AFailedWriteIs503AndTheRetrySucceeds) {
  const std::string body = R"({"document":"{\"op\":\"reboot\"}","description":"d"})";
  for (Fault f : {Fault::kCommitFailure, Fault::kBusy, Fault::kDiskFull}) {
    faulty_->Inject(f);
    ExpectError(Control("PUT", "/job-templates/t", body), 503, "ServiceUnavailableException");
    EXPECT_EQ(inner_->GetJobTemplate("us-east-1", "t").status().code(), Code::kNotFound);
  }
  http::Response ok = Control("PUT", "/job-templates/t", body);
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_TRUE(inner_->GetJobTemplate("us-east-1", "t").ok());
}

TEST_F(StoreFaultApiTest, AFailedReadIs503NotA404) {
  faulty_->Inject(Fault::kReadError);
  ExpectError(Control("GET", "/job-templates/t"), 503, "ServiceUnavailableException");
  EXPECT_EQ(Control("GET", "/job-templates/t").status, 404);
  faulty_->Inject(Fault::kReadError);
  ExpectError(Data("GET", "/things/t/jobs/j"), 503, "ServiceUnavailableException");
  EXPECT_EQ(Data("GET", "/things/t/jobs/j").status, 404);
}

TEST_F(StoreFaultApiTest, AnInternalStoreErrorIs500OnEachPlane) {
  faulty_->Inject(Fault::kInternal);
  ExpectError(Control("GET", "/jobs/j"), 500, "InternalFailureException");
  faulty_->Inject(Fault::kInternal);
  ExpectError(Data("GET", "/things/t/jobs/j"), 500, "InternalServerException");
  EXPECT_EQ(Control("GET", "/jobs/j").status, 404);
}

}  // namespace
}  // namespace iotjobs::api
