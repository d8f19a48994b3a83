// JobsMqtt: the AWS IoT Jobs MQTT API (spec §2.2) over a real broker. It serves the request
// topics $aws/things/{thing}/jobs/get, /start-next, /{jobId}/get and /{jobId}/update, answering on
// .../accepted or .../rejected with the SDKs' payloads (integer-second timestamps, clientToken
// echoed, jobDocument as a JSON object, executionState on VersionMismatch and
// InvalidStateTransition rejections). This is the one place where a Status becomes an MQTT
// rejection code.
//
// Messages arrive on the MQTT network thread and are queued to `worker_threads` threads, where
// DeviceService may block on the store. A thing's requests always go to the same worker, so they
// are answered in the order the device sent them.
//
// Notifications (spec §2.3): while the client is connected (never before its first CONNACK, so
// nothing precedes the session's CONNECT and subscriptions), a notifier thread drains the store's
// outbox of changed things, has each thing's lane read its pending list (in parallel, in order with
// its replies) and publish $aws/things/{thing}/jobs/notify when the list gained or lost a member
// and .../notify-next when its head changed, comparing with what it last published (stored with the
// outbox acknowledgement, so a restart neither repeats nor loses a message). The same thread
// publishes job events
// ($aws/events/job/..., $aws/events/jobExecution/...) from the store's events outbox, for the types
// a region enabled with UpdateEventConfigurations. A batch is acknowledged only when every one of
// its messages was handed to the client; otherwise it stays in the outbox and is published again
// after the next connect (at least once, never lost to a broker outage or a crash).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "device/mqtt_client.h"
#include "service/device_service.h"

namespace iotjobs::device {

struct JobsMqttConfig {
  std::string region = "us-east-1";  // devices do not sign; their requests use this region
  int worker_threads = 8;
  std::string shared_group;  // non-empty: subscribe through $share/<group>/ (several nodes)
};

// The MQTT rejection code of a Status (InvalidRequest, ResourceNotFound, VersionMismatch, ...).
const char* RejectionCode(Code code);

class JobsMqtt {
 public:
  JobsMqtt(JobsMqttConfig config, service::DeviceService* devices)
      : config_(std::move(config)), devices_(devices) {}
  ~JobsMqtt() { Stop(); }

  // The subscriptions iotjobsd needs on the broker: the four request topics.
  std::vector<std::string> Subscriptions() const;
  // Subscriptions of earlier versions that a persistent session may still hold; unsubscribed on
  // every connect so the broker stops sending iotjobsd its own replies.
  std::vector<std::string> StaleSubscriptions() const;
  // `client` publishes the replies; it must outlive Stop().
  void Start(MqttClient* client);
  void Stop();
  // The client connected (and subscribed): wakes the notifier, which waits for it.
  void OnConnected();
  // Queues one message (called on the MQTT thread; never blocks on the store).
  void OnMessage(const std::string& topic, const std::string& payload);
  // Handles one request now and returns the (topic, payload) to publish, or nothing for topics
  // that are not requests (our own replies echoed back by the broker).
  std::optional<std::pair<std::string, std::string>> Handle(const std::string& topic,
                                                            const std::string& payload);

 private:
  JobsMqttConfig config_;
  service::DeviceService* devices_;
  MqttClient* client_ = nullptr;
  // A lane's work: a request (topic, payload) to answer, or a task (the notifier's per-thing work,
  // run on the thing's lane so it is ordered with that thing's replies).
  struct Work {
    std::string topic, payload;
    std::function<void()> task;
  };
  struct Lane {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Work> queue;
    bool stopping = false;
    std::thread thread;
  };
  std::vector<std::unique_ptr<Lane>> lanes_;
  Lane& LaneOf(std::string_view thing);
  void Push(Lane& lane, Work work);

  // Publishes notify / notify-next for one thing if its pending list changed since what was last
  // published (stored, so a restart compares with what devices were told). Returns the new
  // published state to store, or nothing when nothing changed; sets *failed when a publish
  // failed (the batch is then not acknowledged).
  std::optional<store::Store::NotifiedState> Notify(const std::string& region,
                                                    const std::string& thing, bool* failed);
  // Publishes one batch of the thing-changes outbox and acknowledges it; false when there was
  // none or it could not all be published.
  bool DrainChanges();
  // Publishes the queued job and job-execution events ($aws/events/...); false when none (or
  // when a publish failed: they stay queued).
  bool PublishEvents();
  std::thread notifier_;
  std::mutex notify_mu_;
  std::condition_variable notify_cv_;
  bool notify_stopping_ = false;
};

}  // namespace iotjobs::device
