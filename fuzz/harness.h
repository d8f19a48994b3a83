// Shared set-up of the libFuzzer targets in fuzz/: splitting an input into parts, and the
// services of iotjobsd wired as src/server/main.cc wires them under --no-auth, over a SQLite store
// in a temporary directory (no network: documentSource fetches go to a fake that has nothing).
// Only public functions of the modules are called, so the harnesses follow the code they test.
#pragma once

#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/control_plane.h"
#include "api/jobs_data_plane.h"
#include "common/clock.h"
#include "common/logging.h"
#include "http/server.h"
#include "s3/s3_client.h"
#include "service/device_service.h"
#include "service/job_service.h"
#include "service/registration_service.h"
#include "service/registry_service.h"
#include "service/scheduler.h"
#include "service/template_service.h"
#include "store/sqlite/sqlite_store.h"

namespace iotjobs::fuzz {

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits `text` at the first `sep`: (before, after); no `sep` means (text, "").
inline std::pair<std::string_view, std::string_view> SplitOnce(std::string_view text, char sep) {
  size_t at = text.find(sep);
  if (at == std::string_view::npos) return {text, {}};
  return {text.substr(0, at), text.substr(at + 1)};
}

// An HTTP request in its text form (what the seed corpora hold):
//   METHOD SP TARGET LF  {NAME: VALUE LF}  LF  BODY
// TARGET is path[?query], exactly as it travels (percent-encoded).
inline http::Request ParseRequest(std::string_view text) {
  http::Request req;
  auto [line, rest] = SplitOnce(text, '\n');
  auto [method, target] = SplitOnce(line, ' ');
  auto [path, query] = SplitOnce(target, '?');
  req.method = method;
  req.path = path;
  req.query = query;
  while (!rest.empty()) {
    auto [header, after] = SplitOnce(rest, '\n');
    rest = after;
    if (header.empty()) break;
    auto [name, value] = SplitOnce(header, ':');
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    req.headers.emplace_back(name, value);
  }
  req.body = rest;
  return req;
}

// documentSource fetches: nothing is there.
class NoDocuments final : public s3::DocumentSource {
 public:
  Result<std::string> Fetch(const s3::S3Location& loc) override {
    return Status::InvalidRequest("fuzz: NoSuchKey " + loc.key);
  }
};

// iotjobsd's services over a fresh SQLite store (synchronous=NORMAL: the fuzzer needs speed, not
// durability), under --no-auth. One per process; the directory is removed at exit.
struct Services {
  Services() {
    SetLogLevel("off");
    char tmpl[] = "/tmp/iotjobs-fuzz-XXXXXX";
    dir = mkdtemp(tmpl);
    store::SqliteStore::Options o;
    o.path = dir + "/iotjobs.db";
    o.synchronous_full = false;
    o.track_thing_changes = true;  // as with --mqtt: the outbox code paths run too
    store = std::move(store::SqliteStore::Open(o)).value();
    applier.emplace(store.get());
    templates.emplace(config, store.get(), &documents, &clock);
    registry.emplace(config, store.get(), &clock);
    jobs.emplace(config, service::JobLimits{}, store.get(), &*applier, &documents, &clock);
    // Never started: a registration task stays queued (its S3 fetch would need a server).
    registration.emplace(config, service::RegistrationConfig{}, store.get(), &s3, &clock);
    devices.emplace(config, store.get(), &*applier, &s3, &clock, &clock);
    control.emplace(api::ApiConfig{},
                    api::ControlPlane::Services{&*templates, &*registry, &*jobs, &*registration},
                    nullptr, &clock, &clock);
    data_plane.emplace(api::ApiConfig{}, &*devices, nullptr, &clock);
  }
  ~Services() {
    data_plane.reset();
    control.reset();
    devices.reset();
    registration.reset();
    jobs.reset();
    registry.reset();
    templates.reset();
    applier.reset();
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  // A control-plane call from its text form (see ParseRequest); for set-up.
  http::Response Control(std::string_view text) {
    http::Request req = ParseRequest(text);
    return control->Handle(req);
  }

  std::string dir;
  service::ServiceConfig config;
  FakeClock clock;
  NoDocuments documents;
  s3::S3Client s3{{.endpoint = "http://127.0.0.1:1"}};
  std::unique_ptr<store::SqliteStore> store;
  std::optional<service::Applier> applier;
  std::optional<service::TemplateService> templates;
  std::optional<service::RegistryService> registry;
  std::optional<service::JobService> jobs;
  std::optional<service::RegistrationService> registration;
  std::optional<service::DeviceService> devices;
  std::optional<api::ControlPlane> control;
  std::optional<api::JobsDataPlane> data_plane;
};

// Things thing-0..thing-2, a group holding thing-1, and jobs on them (job-0 plain, job-1 with
// timeouts and retries, job-2 continuous on the group), so that device requests find executions.
inline void AddFleet(Services& s) {
  for (int i = 0; i < 3; ++i) s.Control("POST /things/thing-" + std::to_string(i) + "\n\n{}");
  s.Control("POST /thing-groups/group-0\n\n{}");
  s.Control(
      "PUT /thing-groups/addThingToThingGroup\n\n"
      R"({"thingGroupName":"group-0","thingName":"thing-1"})");
  s.Control(
      "PUT /jobs/job-0\n\n"
      R"({"targets":["arn:aws:iot:us-east-1:123456789012:thing/thing-0",)"
      R"("arn:aws:iot:us-east-1:123456789012:thing/thing-1"],"document":"{\"op\":\"reboot\"}"})");
  s.Control(
      "PUT /jobs/job-1\n\n"
      R"({"targets":["arn:aws:iot:us-east-1:123456789012:thing/thing-0"],)"
      R"("document":"{\"op\":\"update\"}","timeoutConfig":{"inProgressTimeoutInMinutes":5},)"
      R"("jobExecutionsRetryConfig":{"criteriaList":[{"failureType":"FAILED","numberOfRetries":2}]}})");
  s.Control(
      "PUT /jobs/job-2\n\n"
      R"({"targets":["arn:aws:iot:us-east-1:123456789012:thinggroup/group-0"],)"
      R"("targetSelection":"CONTINUOUS","document":"{\"a\":1}"})");
  // Materialise the executions now (iotjobsd's scheduler thread would).
  service::Scheduler scheduler({}, s.store.get(), &*s.applier, &s.clock);
  for (int i = 0; i < 3; ++i) (void)scheduler.Tick(s.clock.Now());
}

}  // namespace iotjobs::fuzz
