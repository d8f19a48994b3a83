// JobsDataPlane: the HTTPS jobs data plane (service `iot-jobs-data` in the botocore model) on its
// own listener, because its GET /things/{thing}/jobs collides with the control plane's.
// SigV4-verified with the signing name iot-jobs-data; requests signed for `iot` are refused with
// the service-scope message SDK users know. Timestamps are integer epoch seconds, statusDetails a
// flat map and jobDocument a string, as the data-plane shapes say. Thread-safe; blocking.
#pragma once

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
