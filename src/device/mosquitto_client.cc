#include <mosquitto.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "common/logging.h"
#include "device/mqtt_client.h"

namespace iotjobs::device {
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static auto l = Logger("mqtt");
  return l;
}

struct LibInit {
  LibInit() { mosquitto_lib_init(); }
};

// How long Stop() lets a clean DISCONNECT take before it gives up on the broker.
constexpr auto kStopGrace = std::chrono::seconds(2);

}  // namespace

MosquittoClient::MosquittoClient(MosquittoOptions options, Handler handler,
                                 std::function<void()> on_connect)
    : options_(std::move(options)),
      handler_(std::move(handler)),
      on_connect_(std::move(on_connect)) {
  static LibInit init;
}

MosquittoClient::~MosquittoClient() {
  Stop();
  if (mosq_) mosquitto_destroy(mosq_);
}

Status MosquittoClient::Start() {
  if (options_.host.empty() || options_.port <= 0 || options_.port > 65535) {
    return Status::InvalidRequest("--mqtt: a broker host and port are required");
  }
  mosq_ = mosquitto_new(options_.client_id.c_str(), /*clean_session=*/false, this);
  if (!mosq_) return Status::Internal("libmosquitto: cannot create a client");
  // Our own thread runs the loop: every other thread's call only queues packets for it.
  mosquitto_threaded_set(mosq_, true);
  if (!options_.username.empty()) {
    mosquitto_username_pw_set(mosq_, options_.username.c_str(), options_.password.c_str());
  }
  mosquitto_connect_callback_set(mosq_, &MosquittoClient::OnConnect);
  mosquitto_disconnect_callback_set(mosq_, &MosquittoClient::OnDisconnect);
  mosquitto_message_callback_set(mosq_, &MosquittoClient::OnMessage);
  mosquitto_max_inflight_messages_set(mosq_, 1000);
  // Replies are small and latency-bound: without TCP_NODELAY, Nagle holds each one until the
  // broker's delayed ACK (~40 ms).
  mosquitto_int_option(mosq_, MOSQ_OPT_TCP_NODELAY, 1);
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

bool MosquittoClient::Backoff(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [&] { return stopping_.load(); });
}

void MosquittoClient::Run() {
  auto delay = options_.min_backoff;
  std::string last_reason;
  int failures = 0;
  while (!stopping_) {
    const int connects_before = connects_;
    int rc = mosquitto_connect_async(mosq_, options_.host.c_str(), options_.port,
                                     options_.keepalive_seconds);
    int err = errno;
    if (rc == MOSQ_ERR_SUCCESS) {
      std::optional<std::chrono::steady_clock::time_point> stop_deadline;
      for (;;) {
        rc = mosquitto_loop(mosq_, /*timeout_ms=*/500, /*max_packets=*/1);
        err = errno;
        if (rc != MOSQ_ERR_SUCCESS) break;
        if (stopping_) {
          // Stop() queued a DISCONNECT; the loop writes it and the connection ends. Without a
          // connection (or an unresponsive broker) there is nothing to wait for.
          if (!connected_) break;
          const auto now = std::chrono::steady_clock::now();
          if (!stop_deadline) stop_deadline = now + kStopGrace;
          if (now > *stop_deadline) break;
        }
      }
    }
    connected_ = false;
    if (stopping_) break;
    if (connects_ != connects_before) {
      // It was up: come back quickly; the next outage is logged again.
      delay = options_.min_backoff;
      failures = 0;
      last_reason.clear();
    }
    ++failures;
    const std::string reason =
        rc == MOSQ_ERR_ERRNO ? std::string(std::strerror(err)) : mosquitto_strerror(rc);
    // One line per outage (and when its reason changes), not one per attempt.
    if (reason != last_reason) {
      Log()->warn("broker {}:{} not reachable ({}); retrying in the background, backoff up to {} s",
                  options_.host, options_.port, reason, options_.max_backoff.count() / 1000);
      last_reason = reason;
    } else {
      Log()->debug("broker {}:{}: attempt {} failed ({})", options_.host, options_.port, failures,
                   reason);
    }
    if (!Backoff(delay)) break;
    delay = std::min(delay * 2, options_.max_backoff);
  }
  connected_ = false;
}

void MosquittoClient::Stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  // Queues a DISCONNECT (and wakes the loop) when a socket is open; harmless otherwise.
  mosquitto_disconnect(mosq_);
  thread_.join();
}

Status MosquittoClient::Publish(const std::string& topic, const std::string& payload) {
  if (!connected_) return Status::Unavailable("mqtt publish to " + topic + ": not connected");
  int rc = mosquitto_publish(mosq_, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                             payload.data(), /*qos=*/1, /*retain=*/false);
  // NO_CONN: the connection dropped just now; libmosquitto keeps a QoS 1 message and sends it
  // after the reconnect, so it is not lost (and not to be published twice).
  if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) {
    return Status::Unavailable(std::string("mqtt publish to ") + topic + ": " +
                               mosquitto_strerror(rc));
  }
  return Status::Ok();
}

void MosquittoClient::OnConnect(mosquitto* m, void* self_ptr, int rc) {
  auto* self = static_cast<MosquittoClient*>(self_ptr);
  if (rc != 0) {
    // The loop then reports the refusal and Run() backs off before the next attempt.
    Log()->error("broker {}:{} refused the connection: {}", self->options_.host,
                 self->options_.port, mosquitto_connack_string(rc));
    return;
  }
  for (const auto& stale : self->options_.unsubscriptions) {
    int u = mosquitto_unsubscribe(m, nullptr, stale.c_str());
    if (u != MOSQ_ERR_SUCCESS) Log()->error("unsubscribe {}: {}", stale, mosquitto_strerror(u));
  }
  for (const auto& sub : self->options_.subscriptions) {
    int s = mosquitto_subscribe(m, nullptr, sub.c_str(), 1);
    if (s != MOSQ_ERR_SUCCESS) Log()->error("subscribe {}: {}", sub, mosquitto_strerror(s));
  }
  // Subscriptions are queued ahead of anything published from now on.
  self->connected_ = true;
  ++self->connects_;
  Log()->info("connected to {}:{} as {}", self->options_.host, self->options_.port,
              self->options_.client_id);
  if (self->on_connect_) self->on_connect_();
}

void MosquittoClient::OnDisconnect(mosquitto*, void* self_ptr, int rc) {
  auto* self = static_cast<MosquittoClient*>(self_ptr);
  // Only a connection that was up is "lost"; a failed attempt is Run()'s to report.
  const bool was_connected = self->connected_.exchange(false);
  if (was_connected && rc != 0 && !self->stopping_) {
    Log()->warn("lost the broker connection ({}); reconnecting", mosquitto_strerror(rc));
  }
}

void MosquittoClient::OnMessage(mosquitto*, void* self_ptr, const mosquitto_message* msg) {
  auto* self = static_cast<MosquittoClient*>(self_ptr);
  self->handler_(msg->topic, std::string(static_cast<const char*>(msg->payload), msg->payloadlen));
}

}  // namespace iotjobs::device
