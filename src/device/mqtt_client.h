// MqttClient: the seam between the jobs MQTT API and a real broker. MosquittoClient is iotjobsd's
// privileged connection to Mosquitto (or any MQTT 3.1.1 broker): a persistent session (clean
// session off, so device requests queue at the broker while iotjobsd restarts), QoS 1.
//
// The broker is optional at start and always reconnected: MosquittoClient runs libmosquitto's
// network loop on a thread of its own and (re)connects there forever, with exponential backoff
// (MosquittoOptions::min/max_backoff), whatever made the last attempt fail (refused, unreachable,
// unresolvable, a protocol error, a refused CONNACK). Subscriptions are renewed on every connect,
// before the connection is reported. libmosquitto is put in threaded mode, so a Publish from any
// thread only queues the packet for that loop: nothing is written on the caller's thread, and no
// PUBLISH can precede the CONNECT on the wire.
//
// Thread-safe. The message and connect handlers run on the network thread and must not block:
// hand work to another thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"

struct mosquitto;

namespace iotjobs::device {

class MqttClient {
 public:
  using Handler = std::function<void(const std::string& topic, const std::string& payload)>;
  virtual ~MqttClient() = default;
  // Publishes at QoS 1. Unavailable while not Connected(): nothing is queued then, so the caller
  // keeps what it could not publish (an outbox entry stays unacknowledged) and tries again after
  // the next connect.
  virtual Status Publish(const std::string& topic, const std::string& payload) = 0;
  // True from the broker's CONNACK (subscriptions already sent) until the connection is lost.
  virtual bool Connected() const = 0;
};

struct MosquittoOptions {
  std::string host = "127.0.0.1";
  int port = 1883;
  std::string username, password;
  std::string client_id = "iotjobsd.service";  // one persistent session per node
  int keepalive_seconds = 30;
  std::vector<std::string> subscriptions;    // renewed on every connect, QoS 1
  std::vector<std::string> unsubscriptions;  // removed on every connect (stale filters)
  // Delay between connection attempts: min_backoff after a lost connection, doubling on each
  // failed attempt up to max_backoff.
  std::chrono::milliseconds min_backoff{250};
  std::chrono::milliseconds max_backoff{30'000};
};

class MosquittoClient final : public MqttClient {
 public:
  // `on_connect` (optional) runs on the network thread each time the client is connected and
  // subscribed, e.g. to wake whatever waits to publish.
  MosquittoClient(MosquittoOptions options, Handler handler, std::function<void()> on_connect = {});
  ~MosquittoClient() override;

  // Starts the network thread, which connects in the background and keeps reconnecting; the
  // broker need not be up. InvalidRequest for bad options, Internal when libmosquitto cannot
  // create a client.
  Status Start();
  // Disconnects (cleanly when connected) and joins the network thread. Idempotent.
  void Stop();
  Status Publish(const std::string& topic, const std::string& payload) override;
  bool Connected() const override { return connected_; }
  // Connections established so far (tests and logs).
  int connects() const { return connects_; }

 private:
  static void OnConnect(mosquitto* m, void* self, int rc);
  static void OnDisconnect(mosquitto* m, void* self, int rc);
  static void OnMessage(mosquitto* m, void* self, const struct mosquitto_message* msg);
  void Run();
  // Sleeps up to `d`; false when Stop() interrupted it.
  bool Backoff(std::chrono::milliseconds d);

  MosquittoOptions options_;
  Handler handler_;
  std::function<void()> on_connect_;
  mosquitto* mosq_ = nullptr;
  std::atomic<bool> connected_{false};
  std::atomic<int> connects_{0};
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace iotjobs::device
