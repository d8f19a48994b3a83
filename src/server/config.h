// ServerConfig: every iotjobsd flag, each also read from IOTJOBS_<NAME>; validated at start-up so a
// bad value fails fast with one clear line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"

namespace iotjobs::server {

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

struct MqttUrl {
  std::string user, password, host;
  uint16_t port = 1883;
};

struct ServerConfig {
  std::string data_dir = "./data";                // SQLite database and generated files
  std::string store;                              // sqlite:PATH (default: <data-dir>/iotjobs.db)
  std::string control_listen = "127.0.0.1:9080";  // control plane (aws iot ...)
  std::string jobs_listen = "127.0.0.1:9081";     // jobs data plane (iot-jobs-data)
  std::string mqtt = "none";                      // mqtt://[user:pass@]host:port or none
  // Persistent session: requests queue across restarts. Not a thing name ('.' is not allowed in
  // one), so no device certificate can claim it.
  std::string mqtt_client_id = "iotjobsd.service";
  std::string mqtt_shared_group;  // $share/<group>/ subscriptions when set
  // Lanes answering MQTT requests: each waits for its write's group commit, so more lanes mean
  // bigger commits (measured with bench/run_devices.sh: 8 → 64 raised updates/s by a third).
  int mqtt_workers = 64;
  // Per-thing request rate on the MQTT and HTTPS data planes (0: unlimited) and burst.
  double device_requests_per_second = 20;
  double device_burst = 50;
  std::string s3_endpoint;                  // S3-compatible endpoint for documentSource
  std::string s3_region;                    // signing region for S3 (default: --region)
  std::string region = "us-east-1";         // default region for unsigned requests
  std::string account_id = "123456789012";  // in every ARN
  std::string credentials;  // shared-credentials file (default <data-dir>/credentials)
  bool no_auth = false;     // serve unsigned requests (local experiments only)
  double time_scale = 1.0;  // the service clock runs this many times faster
  std::string log_level = "info";
  int io_threads = 1;                     // socket threads per listener
  int worker_threads = 64;                // blocking request threads
  int max_connections = 0;                // per listener; 0: (RLIMIT_NOFILE - 256 reserved) / 2
  std::string tls_cert, tls_key;          // PEM: serve both listeners over TLS (reloaded on SIGHUP)
  std::string device_ca;                  // PEM CA: the jobs listener asks devices for certificates
  long s3_timeout_ms = 5000;              // bound on one documentSource fetch
  int64_t max_rollout_per_minute = 1000;  // cap on any job's rollout rate; AWS's is 1000

  // Derived by Validate():
  HostPort control, jobs;
  std::optional<MqttUrl> mqtt_url;
  std::string sqlite_path;
};

// Checks every field and fills the derived ones. InvalidRequest names the flag.
Status Validate(ServerConfig* c);
Result<HostPort> ParseHostPort(const std::string& flag, const std::string& value);
Result<std::optional<MqttUrl>> ParseMqttUrl(const std::string& value);

}  // namespace iotjobs::server
