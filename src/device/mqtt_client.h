// MqttClient: the seam between the jobs MQTT API and a real broker. MosquittoClient is iotjobsd's
// privileged connection to Mosquitto (or any MQTT 3.1.1 broker): a persistent session (clean
// session off, so device requests queue at the broker while iotjobsd restarts), QoS 1, reconnect
// with exponential backoff, subscriptions renewed on every (re)connect.
//
// Thread-safe. The message handler runs on libmosquitto's network thread and must not block:
// hand work to another thread.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"

struct mosquitto;

namespace iotjobs::device {

class MqttClient {
 public:
  using Handler = std::function<void(const std::string& topic, const std::string& payload)>;
  virtual ~MqttClient() = default;
  // Publishes at QoS 1. Unavailable while disconnected (libmosquitto queues QoS 1 messages for
  // a persistent session, so a reconnect delivers them).
  virtual Status Publish(const std::string& topic, const std::string& payload) = 0;
};

struct MosquittoOptions {
  std::string host = "127.0.0.1";
  int port = 1883;
  std::string username, password;
  std::string client_id = "iotjobsd";  // one persistent session per node
  int keepalive_seconds = 30;
  std::vector<std::string> subscriptions;    // renewed on every connect, QoS 1
  std::vector<std::string> unsubscriptions;  // removed on every connect (stale filters)
};

class MosquittoClient final : public MqttClient {
 public:
  MosquittoClient(MosquittoOptions options, Handler handler);
  ~MosquittoClient() override;

  // Starts the network thread and connects in the background. InvalidRequest for bad options.
  Status Start();
  // Disconnects and joins the network thread. Idempotent.
  void Stop();
  Status Publish(const std::string& topic, const std::string& payload) override;
  bool connected() const { return connected_; }

 private:
  static void OnConnect(mosquitto* m, void* self, int rc);
  static void OnDisconnect(mosquitto* m, void* self, int rc);
  static void OnMessage(mosquitto* m, void* self, const struct mosquitto_message* msg);

  MosquittoOptions options_;
  Handler handler_;
  mosquitto* mosq_ = nullptr;
  std::atomic<bool> connected_{false};
  bool started_ = false;
};

}  // namespace iotjobs::device
