// ApiServicesTest: the fixture base of the api module's tests. A SqliteStore in a fresh TempDir
// and the services the control plane and the jobs data plane are wired to, all on one FakeClock;
// the tests derive from it and build their ControlPlane / JobsDataPlane over these services.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "api/control_plane.h"
#include "common/clock.h"
#include "service/device_service.h"
#include "store/sqlite/sqlite_store.h"
#include "store/tests/scratch_store.h"
#include "store/tests/temp_dir.h"

namespace iotjobs::api {

class ApiServicesTest : public ::testing::Test {
 protected:
  // Opens the store and builds every service for `account`; `docs` (may be null) fetches the
  // documentSource of templates and jobs. The registration service is never started. Fails the
  // test fatally on a store error: callers return when HasFatalFailure().
  void OpenServices(const std::string& account, s3::DocumentSource* docs) {
    auto s = iotjobs::testing::OpenScratchStore(dir_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    applier_ = std::make_unique<service::Applier>(store_.get());
    service::ServiceConfig sc;
    sc.account_id = account;
    templates_ = std::make_unique<service::TemplateService>(sc, store_.get(), docs, &clock_);
    registry_ = std::make_unique<service::RegistryService>(sc, store_.get(), &clock_);
    jobs_ = std::make_unique<service::JobService>(sc, service::JobLimits{}, store_.get(),
                                                  applier_.get(), docs, &clock_);
    registration_ = std::make_unique<service::RegistrationService>(
        sc, service::RegistrationConfig{}, store_.get(), nullptr, &clock_);
    devices_ = std::make_unique<service::DeviceService>(sc, store_.get(), applier_.get(), nullptr,
                                                        &clock_, &clock_);
  }

  // The control plane's services.
  ControlPlane::Services Services() const {
    return ControlPlane::Services{templates_.get(), registry_.get(), jobs_.get(),
                                  registration_.get()};
  }

  iotjobs::testing::TempDir dir_;
  FakeClock clock_{FromEpochMillis(1'750'000'000'250)};
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<service::Applier> applier_;
  std::unique_ptr<service::TemplateService> templates_;
  std::unique_ptr<service::RegistryService> registry_;
  std::unique_ptr<service::JobService> jobs_;
  std::unique_ptr<service::RegistrationService> registration_;
  std::unique_ptr<service::DeviceService> devices_;
};

}  // namespace iotjobs::api
