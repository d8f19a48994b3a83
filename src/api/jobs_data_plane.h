// JobsDataPlane: the HTTPS jobs data plane (service `iot-jobs-data` in the botocore model) on its
// own listener, and on the control listener for requests signed for `iot-jobs-data`
// (ControlPlane::ServeJobsDataPlane; its GET /things/{thing}/jobs collides with the control
// plane's, so the signing service tells them apart).
// SigV4-verified with the signing name iot-jobs-data; requests signed for `iot` are refused with
// the service-scope message SDK users know. Timestamps are integer epoch seconds, statusDetails a
// flat map and jobDocument a string, as the data-plane shapes say. Thread-safe; blocking.
//
// Who may act for which thing: a SigV4 caller with an operator key (the default) for every thing;
// a device key (credentials file: iotjobs_role = device) for every thing, or with
// iotjobs_thing = NAME only for NAME; an unsigned request over mutual TLS (http::Request's
// peer_identity, the client certificate's CN) only for the thing of that name, in --region. Any
// other thing is AccessDeniedException (403).
#pragma once

#include <optional>
#include <string>

#include "api/control_plane.h"
#include "common/rate_limiter.h"
#include "service/device_service.h"

namespace iotjobs::api {

class JobsDataPlane {
 public:
  // `verifier` null means --no-auth.
  JobsDataPlane(ApiConfig config, service::DeviceService* devices,
                const s3::SigV4Verifier* verifier, const Clock* wall_clock)
      : config_(std::move(config)),
        devices_(devices),
        verifier_(verifier),
        wall_clock_(wall_clock) {}

  http::Response Handle(http::Request& req);
  // http::ServerOptions::header_check: rejects, before its body is read, a request whose SigV4
  // credentials are malformed, unknown or stale (everything but the signature). Non-blocking.
  // Install it only with a verifier (not under --no-auth).
  std::optional<http::Response> CheckHeaders(const http::Request& head) const;

  // Who is calling, in which region, and the one thing it may act for (nullopt: any).
  struct Caller {
    std::string region;
    std::optional<std::string> only_thing;
    std::string
        principal;  // for AccessDenied messages: "access key AKIA..." or "certificate CN=..."
  };
  // Authenticates `req` (SigV4, or the client certificate of an unsigned request).
  Result<Caller> Authenticate(const http::Request& req) const;

  // Per-thing request rate (shared with the MQTT plane): a thing over it is answered 429
  // ThrottlingException. Null (the default): none. Set before serving.
  void SetThingLimiter(KeyedRateLimiter* limiter) { limiter_ = limiter; }

 private:
  ApiConfig config_;
  service::DeviceService* devices_;
  const s3::SigV4Verifier* verifier_;
  const Clock* wall_clock_;
  KeyedRateLimiter* limiter_ = nullptr;
};

}  // namespace iotjobs::api
