// ControlPlane: the AWS IoT control-plane REST bindings (service `iot`, restJson1): routes a
// request to its operation, checks SigV4, decodes and validates the JSON input, calls the service
// and encodes the output with the model's member names. Operator keys only: a device key
// (iotjobs_role = device) and an unsigned request with a client certificate (peer_identity) are
// AccessDeniedException (403).
//
// Thread-safe; Handle() blocks (it calls the service) and runs on http worker threads.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "http/server.h"
#include "s3/sigv4.h"
#include "service/job_service.h"
#include "service/registration_service.h"
#include "service/registry_service.h"
#include "service/template_service.h"

namespace iotjobs::api {

class JobsDataPlane;

struct ApiConfig {
  std::string default_region = "us-east-1";  // for unsigned requests under --no-auth
  std::string account_id = "123456789012";
};

class ControlPlane {
 public:
  // `verifier` null means --no-auth: requests are served unsigned.
  // The use cases the control plane serves; all must outlive it.
  struct Services {
    service::TemplateService* templates;
    service::RegistryService* registry;
    service::JobService* jobs;
    service::RegistrationService* registration;
  };
  // `clock` is the service clock (it may run faster than `wall_clock`, which checks SigV4 dates).
  ControlPlane(ApiConfig config, Services services, const s3::SigV4Verifier* verifier,
               const Clock* clock, const Clock* wall_clock);

  // Also serve the jobs data plane (`data_plane`, which must outlive this) on this listener:
  // requests whose credential scope names the service `iot-jobs-data` go to it, so one
  // AWS_ENDPOINT_URL configures every SDK. Call before serving.
  void ServeJobsDataPlane(JobsDataPlane* data_plane) { data_plane_ = data_plane; }

  http::Response Handle(http::Request& req);
  // http::ServerOptions::header_check: rejects, before its body is read, a request whose SigV4
  // credentials are malformed, unknown or stale (everything but the signature). Non-blocking.
  // Install it only with a verifier (not under --no-auth).
  std::optional<http::Response> CheckHeaders(const http::Request& head) const;

 private:
  Result<std::string> Authenticate(const http::Request& req);
  // Finds the request's operation in the route table (router.h) and runs its handler.
  http::Response Route(http::Request& req, const std::string& region);

  ApiConfig config_;
  Services services_;
  const s3::SigV4Verifier* verifier_;
  const Clock* clock_;
  const Clock* wall_clock_;
  JobsDataPlane* data_plane_ = nullptr;
};

}  // namespace iotjobs::api
