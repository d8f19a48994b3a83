#include "server/config.h"

#include <charconv>

#include "common/text.h"

namespace iotjobs::server {
namespace {

bool ParsePort(std::string_view s, uint16_t* out) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > 65535) return false;
  *out = static_cast<uint16_t>(v);
  return true;
}

}  // namespace

Result<HostPort> ParseHostPort(const std::string& flag, const std::string& value) {
  size_t colon = value.rfind(':');
  HostPort hp;
  if (colon == std::string::npos || colon == 0 || !ParsePort(value.substr(colon + 1), &hp.port)) {
    return Status::InvalidRequest(flag + " must be HOST:PORT (e.g. 127.0.0.1:9080), got '" + value +
                                  "'");
  }
  hp.host = value.substr(0, colon);
  if (hp.host.size() > 2 && hp.host.front() == '[' && hp.host.back() == ']') {
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  }
  return hp;
}

Result<std::optional<MqttUrl>> ParseMqttUrl(const std::string& value) {
  if (value == "none") return std::optional<MqttUrl>();
  const std::string bad =
      "--mqtt must be mqtt://[user:pass@]host:port or none, got '" + value + "'";
  if (value.rfind("mqtt://", 0) != 0) return Status::InvalidRequest(bad);
  std::string rest = value.substr(7);
  MqttUrl u;
  if (size_t at = rest.rfind('@'); at != std::string::npos) {
    std::string userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    size_t c = userinfo.find(':');
    auto user = UriDecode(userinfo.substr(0, c));
    auto pass = UriDecode(c == std::string::npos ? "" : userinfo.substr(c + 1));
    if (!user || !pass || user->empty()) return Status::InvalidRequest(bad);
    u.user = *user;
    u.password = *pass;
  }
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  std::string port;  // empty: the default
  if (!rest.empty() && rest.front() == '[') {
    // An IPv6 literal is bracketed (RFC 3986 §3.2.2); the client wants the bare address, as
    // ParseHostPort gives for the listeners.
    size_t close = rest.find(']');
    if (close == std::string::npos) return Status::InvalidRequest(bad);
    u.host = rest.substr(1, close - 1);
    std::string tail = rest.substr(close + 1);
    if (!tail.empty()) {
      if (tail.front() != ':' || tail.size() == 1) return Status::InvalidRequest(bad);
      port = tail.substr(1);
    }
  } else if (size_t colon = rest.rfind(':'); colon != std::string::npos) {
    u.host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (port.empty()) return Status::InvalidRequest(bad);
  } else {
    u.host = rest;
  }
  if (!port.empty() && !ParsePort(port, &u.port)) return Status::InvalidRequest(bad);
  if (u.host.empty()) return Status::InvalidRequest(bad);
  return std::optional<MqttUrl>(u);
}

Status Validate(ServerConfig* c) {
  auto control = ParseHostPort("--control-listen", c->control_listen);
  if (!control.ok()) return control.status();
  c->control = *control;
  auto jobs = ParseHostPort("--jobs-listen", c->jobs_listen);
  if (!jobs.ok()) return jobs.status();
  c->jobs = *jobs;
  auto mqtt = ParseMqttUrl(c->mqtt);
  if (!mqtt.ok()) return mqtt.status();
  c->mqtt_url = *mqtt;

  if (c->data_dir.empty()) return Status::InvalidRequest("--data-dir must not be empty");
  if (c->store.empty()) c->store = "sqlite:" + c->data_dir + "/iotjobs.db";
  if (c->store.rfind("sqlite://", 0) == 0) {
    c->sqlite_path = c->store.substr(9);
  } else if (c->store.rfind("sqlite:", 0) == 0) {
    c->sqlite_path = c->store.substr(7);
  } else if (c->store.rfind("postgresql://", 0) == 0 || c->store.rfind("postgres://", 0) == 0) {
    return Status::InvalidRequest(
        "--store: the PostgreSQL backend is not available in this build yet; use sqlite:PATH");
  } else {
    return Status::InvalidRequest("--store must be sqlite:PATH or postgresql://..., got '" +
                                  c->store + "'");
  }
  if (c->sqlite_path.empty()) return Status::InvalidRequest("--store sqlite: needs a file path");

  if (!c->s3_endpoint.empty()) {
    if (c->s3_endpoint.rfind("http://", 0) != 0 && c->s3_endpoint.rfind("https://", 0) != 0) {
      return Status::InvalidRequest("--s3-endpoint must start with http:// or https://, got '" +
                                    c->s3_endpoint + "'");
    }
    while (!c->s3_endpoint.empty() && c->s3_endpoint.back() == '/') c->s3_endpoint.pop_back();
  }
  if (c->s3_region.empty()) c->s3_region = c->region;
  if (c->region.empty() || !IsAlnumOr(c->region, "-")) {
    return Status::InvalidRequest("--region must look like us-east-1, got '" + c->region + "'");
  }
  if (c->account_id.size() != 12 || !IsAlnumOr(c->account_id, "") ||
      c->account_id.find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidRequest("--account-id must be 12 digits, got '" + c->account_id + "'");
  }
  if (!(c->time_scale > 0) || c->time_scale > 1e6) {
    return Status::InvalidRequest("--time-scale must be a positive number up to 1000000");
  }
  if (c->io_threads < 1 || c->io_threads > 64) {
    return Status::InvalidRequest("--io-threads must be between 1 and 64");
  }
  if (c->worker_threads < 1 || c->worker_threads > 1024) {
    return Status::InvalidRequest("--worker-threads must be between 1 and 1024");
  }
  if (c->max_connections < 0 || c->max_connections > 10'000'000) {
    return Status::InvalidRequest("--max-connections must be between 0 (automatic) and 10000000");
  }
  if (c->tls_cert.empty() != c->tls_key.empty()) {
    return Status::InvalidRequest("--tls-cert and --tls-key go together (PEM certificate and key)");
  }
  if (!c->device_ca.empty() && c->tls_cert.empty()) {
    return Status::InvalidRequest("--device-ca needs --tls-cert and --tls-key");
  }
  if (!(c->device_requests_per_second >= 0) || !(c->device_burst >= 0)) {
    return Status::InvalidRequest("--device-requests-per-second and --device-burst must be >= 0");
  }
  if (c->mqtt_workers < 1 || c->mqtt_workers > 1024) {
    return Status::InvalidRequest("--mqtt-workers must be between 1 and 1024");
  }
  if (c->s3_timeout_ms < 100 || c->s3_timeout_ms > 600000) {
    return Status::InvalidRequest("--s3-timeout-ms must be between 100 and 600000");
  }
  if (c->max_rollout_per_minute < 1 || c->max_rollout_per_minute > 100'000'000) {
    return Status::InvalidRequest("--max-rollout-per-minute must be between 1 and 100000000");
  }
  if (!c->no_auth && c->credentials.empty()) c->credentials = c->data_dir + "/credentials";
  return Status::Ok();
}

}  // namespace iotjobs::server
