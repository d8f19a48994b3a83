// JobsMqtt: the AWS IoT Jobs MQTT API (spec §2.2) over a real broker. It serves the request
// topics $aws/things/{thing}/jobs/get, /start-next, /{jobId}/get and /{jobId}/update, answering on
// .../accepted or .../rejected with the SDKs' payloads (integer-second timestamps, clientToken
// echoed, jobDocument as a JSON object, executionState on VersionMismatch and
// InvalidStateTransition rejections; every payload is built in payloads.h, where a Status becomes
// an MQTT rejection code).
//
// Messages arrive on the MQTT network thread and are queued per thing; `worker_threads` threads
// serve the things round-robin, one request of a thing at a time (DeviceService may block on the
// store), so a thing's requests are answered in the order the device sent them and one busy thing
// cannot starve the others (issue 16, finding 5). Each thing may make `limiter`'s rate of requests
// and have `max_queued_per_thing` waiting, all things together `max_queued_bytes`; a request over
// any bound is answered at once on .../rejected with code RequestThrottled (those answers are
// themselves limited per thing at the same rate; beyond it the request is dropped).
//
// Notifications (spec §2.3): while the client is connected (never before its first CONNACK, so
// nothing precedes the session's CONNECT and subscriptions), a notifier thread drains the store's
// outbox of changed things, has each thing's queue read its pending list (in parallel, in order
// with its replies) and publish $aws/things/{thing}/jobs/notify when the list gained or lost a
// member and .../notify-next when its head changed, comparing with what it last published (stored
// with the outbox acknowledgement, so a restart neither repeats nor loses a message). The same
// thread publishes job events ($aws/events/job/..., $aws/events/jobExecution/...) from the store's
// events outbox, for the types a region enabled with UpdateEventConfigurations. A batch is
// acknowledged only when every one of its messages was handed to the client; otherwise it stays in
// the outbox and is published again after the next connect (at least once, never lost to a broker
// outage or a crash).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/rate_limiter.h"
#include "device/mqtt_client.h"
#include "device/payloads.h"  // RejectionCode
#include "service/device_service.h"

namespace iotjobs::device {

struct JobsMqttConfig {
  std::string region = "us-east-1";  // devices do not sign; their requests use this region
  int worker_threads = 8;
  std::string shared_group;  // non-empty: subscribe through $share/<group>/ (several nodes)
  // Per-thing request rate (--device-requests-per-second, --device-burst); null or disabled: none.
  KeyedRateLimiter* limiter = nullptr;
  size_t max_queued_per_thing = 64;            // a thing's requests waiting for a worker
  size_t max_queued_bytes = size_t{64} << 20;  // all things' requests waiting (topic + payload)
};

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
  // `client` publishes the replies; it must outlive Stop(). `clock` (wall time) paces the
  // RequestThrottled answers (null: not paced).
  void Start(MqttClient* client, const Clock* clock = nullptr);
  // Requests answered RequestThrottled or dropped so far.
  int64_t throttled() const { return throttled_; }
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
  // A thing's work: a request (topic, payload) to answer, or a task (the notifier's per-thing
  // work, run in turn with that thing's requests so it is ordered with its replies).
  struct Work {
    std::string topic, payload;
    std::function<void()> task;
  };
  struct ThingQueue {
    std::deque<Work> items;
    bool running = false;  // a worker is serving one of its items
  };
  // Queues `work` for `thing`; with `bounded`, false (nothing queued) when the thing or the whole
  // queue is over its bound.
  bool Push(const std::string& thing, Work work, bool bounded);
  void Serve(const Work& w);
  // Answers a request over its bounds with RequestThrottled (if that answer is within bounds).
  void Throttle(const std::string& topic, const std::string& thing, const std::string& payload);
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::unordered_map<std::string, ThingQueue> queues_;  // things with work waiting or running
  std::deque<std::string> ready_;  // things with work waiting and none running, served in turn
  size_t queued_bytes_ = 0;
  int running_ = 0;
  bool queue_stopping_ = false;
  std::vector<std::thread> workers_;
  std::unique_ptr<KeyedRateLimiter> reject_limiter_;
  std::atomic<int64_t> throttled_{0};

  // Publishes notify / notify-next for one thing if its pending list changed since what was last
  // published (stored, so a restart compares with what devices were told). Returns the new
  // published state to store, or nothing when nothing changed; sets *failed when a publish
  // failed (the batch is then not acknowledged).
  std::optional<jobs::NotifiedState> Notify(const std::string& region, const std::string& thing,
                                            bool* failed);
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
