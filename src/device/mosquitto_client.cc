#include <mosquitto.h>

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

}  // namespace

MosquittoClient::MosquittoClient(MosquittoOptions options, Handler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {
  static LibInit init;
}

MosquittoClient::~MosquittoClient() {
  Stop();
  if (mosq_) mosquitto_destroy(mosq_);
}

Status MosquittoClient::Start() {
  mosq_ = mosquitto_new(options_.client_id.c_str(), /*clean_session=*/false, this);
  if (!mosq_) return Status::Internal("libmosquitto: cannot create a client");
  if (!options_.username.empty()) {
    mosquitto_username_pw_set(mosq_, options_.username.c_str(), options_.password.c_str());
  }
  mosquitto_connect_callback_set(mosq_, &MosquittoClient::OnConnect);
  mosquitto_disconnect_callback_set(mosq_, &MosquittoClient::OnDisconnect);
  mosquitto_message_callback_set(mosq_, &MosquittoClient::OnMessage);
  // Back off 1 s, 2 s, 4 s ... up to 30 s between reconnect attempts.
  mosquitto_reconnect_delay_set(mosq_, 1, 30, true);
  mosquitto_max_inflight_messages_set(mosq_, 1000);
  // Replies are small and latency-bound: without TCP_NODELAY, Nagle holds each one until the
  // broker's delayed ACK (~40 ms).
  mosquitto_int_option(mosq_, MOSQ_OPT_TCP_NODELAY, 1);
  int rc = mosquitto_connect_async(mosq_, options_.host.c_str(), options_.port,
                                   options_.keepalive_seconds);
  if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_ERRNO) {
    return Status::InvalidRequest("--mqtt: cannot connect to " + options_.host + ":" +
                                  std::to_string(options_.port) + ": " + mosquitto_strerror(rc));
  }
  if (rc == MOSQ_ERR_ERRNO) {
    // The broker is not up yet: the network thread keeps retrying with backoff.
    Log()->warn("broker {}:{} not reachable yet; retrying in the background", options_.host,
                options_.port);
  }
  rc = mosquitto_loop_start(mosq_);
  if (rc != MOSQ_ERR_SUCCESS) {
    return Status::Internal(std::string("libmosquitto: cannot start its thread: ") +
                            mosquitto_strerror(rc));
  }
  started_ = true;
  return Status::Ok();
}

void MosquittoClient::Stop() {
  if (!started_) return;
  started_ = false;
  // Connected: a clean DISCONNECT, after which the network thread returns by itself. Not
  // connected (the broker is gone): the thread may sleep in its reconnect backoff for up to
  // 30 s, so it is cancelled instead; nothing is in flight without a connection.
  const bool was_connected = connected_;
  mosquitto_disconnect(mosq_);
  mosquitto_loop_stop(mosq_, /*force=*/!was_connected);
}

Status MosquittoClient::Publish(const std::string& topic, const std::string& payload) {
  int rc = mosquitto_publish(mosq_, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                             payload.data(), /*qos=*/1, /*retain=*/false);
  if (rc != MOSQ_ERR_SUCCESS) {
    return Status::Unavailable(std::string("mqtt publish to ") + topic + ": " +
                               mosquitto_strerror(rc));
  }
  return Status::Ok();
}

void MosquittoClient::OnConnect(mosquitto* m, void* self_ptr, int rc) {
  auto* self = static_cast<MosquittoClient*>(self_ptr);
  if (rc != 0) {
    Log()->error("broker refused the connection: {}", mosquitto_connack_string(rc));
    return;
  }
  self->connected_ = true;
  for (const auto& stale : self->options_.unsubscriptions) {
    int u = mosquitto_unsubscribe(m, nullptr, stale.c_str());
    if (u != MOSQ_ERR_SUCCESS) Log()->error("unsubscribe {}: {}", stale, mosquitto_strerror(u));
  }
  for (const auto& sub : self->options_.subscriptions) {
    int s = mosquitto_subscribe(m, nullptr, sub.c_str(), 1);
    if (s != MOSQ_ERR_SUCCESS) Log()->error("subscribe {}: {}", sub, mosquitto_strerror(s));
  }
  Log()->info("connected to {}:{} as {}", self->options_.host, self->options_.port,
              self->options_.client_id);
}

void MosquittoClient::OnDisconnect(mosquitto*, void* self_ptr, int rc) {
  auto* self = static_cast<MosquittoClient*>(self_ptr);
  self->connected_ = false;
  if (rc != 0) Log()->warn("lost the broker connection ({}); reconnecting", mosquitto_strerror(rc));
}

void MosquittoClient::OnMessage(mosquitto*, void* self_ptr, const mosquitto_message* msg) {
  auto* self = static_cast<MosquittoClient*>(self_ptr);
  self->handler_(msg->topic, std::string(static_cast<const char*>(msg->payload), msg->payloadlen));
}

}  // namespace iotjobs::device
