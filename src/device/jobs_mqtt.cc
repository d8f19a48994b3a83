#include "device/jobs_mqtt.h"

#include <algorithm>
#include <boost/json.hpp>

#include "codec/device_codec.h"
#include "codec/parse_json.h"
#include "common/ids.h"
#include "common/logging.h"
#include "common/text.h"
#include "device/payloads.h"

namespace iotjobs::device {
namespace json = boost::json;
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static auto l = Logger("device");
  return l;
}

constexpr std::string_view kPrefix = "$aws/things/";

}  // namespace

namespace {
// The request topics only (spec §2.2): with `$aws/things/+/jobs/#` the broker sent every reply and
// notification iotjobsd published straight back to it, doubling its MQTT traffic.
constexpr const char* kRequestFilters[] = {
    "$aws/things/+/jobs/get", "$aws/things/+/jobs/start-next", "$aws/things/+/jobs/+/get",
    "$aws/things/+/jobs/+/update"};
// Filters earlier versions subscribed to in the (persistent) session; removed on connect.
constexpr const char* kStaleFilters[] = {"$aws/things/+/jobs/#"};

std::vector<std::string> Filters(const std::string& shared_group,
                                 std::initializer_list<const char*> filters) {
  std::vector<std::string> out;
  for (const char* f : filters) {
    out.push_back(shared_group.empty() ? f : "$share/" + shared_group + "/" + f);
  }
  return out;
}
}  // namespace

std::vector<std::string> JobsMqtt::Subscriptions() const {
  return Filters(config_.shared_group,
                 {kRequestFilters[0], kRequestFilters[1], kRequestFilters[2], kRequestFilters[3]});
}

std::vector<std::string> JobsMqtt::StaleSubscriptions() const {
  return Filters(config_.shared_group, {kStaleFilters[0]});
}

void JobsMqtt::Start(MqttClient* client, const Clock* clock) {
  client_ = client;
  // RequestThrottled answers are paced per thing (at the request rate, or the default one when
  // requests are not limited: a thing over its queue bound is answered too).
  if (clock) {
    reject_limiter_ = std::make_unique<KeyedRateLimiter>(
        config_.limiter && config_.limiter->enabled() ? config_.limiter->config()
                                                      : RateLimiterConfig{},
        clock);
  }
  queue_stopping_ = false;
  for (int i = 0; i < std::max(1, config_.worker_threads); ++i) {
    workers_.emplace_back([this] {
      std::unique_lock lock(queue_mu_);
      for (;;) {
        queue_cv_.wait(lock, [&] { return !ready_.empty() || (queue_stopping_ && running_ == 0); });
        if (ready_.empty()) {
          queue_cv_.notify_all();  // stopping and drained: let the others see it too
          return;
        }
        std::string thing = std::move(ready_.front());
        ready_.pop_front();
        ThingQueue& q = queues_[thing];
        Work w = std::move(q.items.front());
        q.items.pop_front();
        q.running = true;
        ++running_;
        queued_bytes_ -= w.topic.size() + w.payload.size();
        lock.unlock();
        Serve(w);
        lock.lock();
        --running_;
        // Found again: other things' insertions may have rehashed the map.
        ThingQueue& after = queues_[thing];
        after.running = false;
        if (after.items.empty()) {
          queues_.erase(thing);
          if (queue_stopping_ && running_ == 0) queue_cv_.notify_all();
        } else {
          ready_.push_back(std::move(thing));  // its next item waits for everyone else's turn
          queue_cv_.notify_one();
        }
      }
    });
  }
  notifier_ = std::thread([this] {
    std::unique_lock lock(notify_mu_);
    while (!notify_stopping_) {
      if (!client_->Connected()) {
        // Nothing is published before the broker's CONNACK: the outbox waits for OnConnected()
        // (the timeout only bounds a missed wake-up).
        notify_cv_.wait_for(lock, std::chrono::seconds(1),
                            [&] { return notify_stopping_ || client_->Connected(); });
        continue;
      }
      lock.unlock();
      const bool more = DrainChanges() || PublishEvents();
      lock.lock();
      if (more) continue;  // more may be waiting
      // The outbox is polled: 20 ms bounds the notification delay and costs nothing measurable.
      notify_cv_.wait_for(lock, std::chrono::milliseconds(20), [&] { return notify_stopping_; });
    }
  });
}

void JobsMqtt::OnConnected() {
  { std::lock_guard lock(notify_mu_); }
  notify_cv_.notify_all();
}

bool JobsMqtt::DrainChanges() {
  auto changes = devices_->Changes(1000);
  if (!changes.ok()) {
    Log()->error("notifier: {}", changes.status().message());
    return false;
  }
  if (changes->empty()) return false;
  std::vector<std::pair<std::string, std::string>> things;
  for (const auto& c : *changes) {
    if (!c.thing.empty()) things.emplace_back(c.region, c.thing);
  }
  std::sort(things.begin(), things.end());
  things.erase(std::unique(things.begin(), things.end()), things.end());
  // Each thing's queue reads and publishes in its turn; the batch is acknowledged once all are
  // done.
  std::vector<jobs::NotifiedState> states;
  std::mutex done_mu;
  std::condition_variable done_cv;
  size_t remaining = things.size();
  bool failed = false;
  for (const auto& [region, thing] : things) {
    Push(thing,
         Work{.topic = {},
              .payload = {},
              .task =
                  [&, region = region, thing = thing] {
                    bool thing_failed = false;
                    auto state = Notify(region, thing, &thing_failed);
                    std::lock_guard done_lock(done_mu);
                    if (state && !thing_failed) states.push_back(std::move(*state));
                    failed = failed || thing_failed;
                    if (--remaining == 0) done_cv.notify_one();
                  }},
         /*bounded=*/false);
  }
  {
    std::unique_lock done_lock(done_mu);
    done_cv.wait(done_lock, [&] { return remaining == 0; });
  }
  if (failed) {
    // The connection dropped mid-batch: keep the batch; it is published again once reconnected
    // (things already told compare equal then, or are told again: at least once).
    Log()->warn("notifier: {} change(s) kept until the broker is back", changes->size());
    return false;
  }
  if (Status st = devices_->AckChanges(changes->back().seq, states); !st.ok()) {
    Log()->error("notifier: {}", st.message());
    return false;
  }
  return true;
}

std::optional<jobs::NotifiedState> JobsMqtt::Notify(const std::string& region,
                                                    const std::string& thing, bool* failed) {
  auto pending = devices_->GetPending(region, thing);
  if (!pending.ok()) return std::nullopt;  // the thing is gone
  // Members as sorted "jobId#executionNumber": notify is about membership, not order, so a member
  // moving QUEUED → IN_PROGRESS (and to the front) is no change (the guide's worked example).
  std::vector<std::string> keys;
  for (const auto* list : {&pending->in_progress, &pending->queued}) {
    for (const auto& e : *list) keys.push_back(e.job_id + "#" + std::to_string(e.execution_number));
  }
  jobs::NotifiedState now_state{region, thing, "", keys.empty() ? "" : keys.front()};
  std::sort(keys.begin(), keys.end());
  for (const auto& k : keys) now_state.members += (now_state.members.empty() ? "" : ",") + k;

  auto stored = devices_->Notified(region, thing);
  if (!stored.ok()) return std::nullopt;  // retried with the next change
  const std::string before_members = *stored ? (*stored)->members : "";
  const std::string before_head = *stored ? (*stored)->head : "";
  if (now_state.members == before_members && now_state.head == before_head) return std::nullopt;

  const std::string base = "$aws/things/" + thing + "/jobs/";
  const Instant now = devices_->clock()->Now();
  if (now_state.members != before_members) {
    if (!client_->Publish(base + "notify", NotifyPayload(*pending, now)).ok()) *failed = true;
  }
  if (now_state.head != before_head) {
    std::optional<service::DeviceExecution> next;
    if (!now_state.head.empty()) {
      auto d = devices_->Describe(region, thing, std::string(service::kNextJob), std::nullopt,
                                  /*include_document=*/true);
      if (d.ok() && *d) next = std::move(**d);
    }
    if (!client_->Publish(base + "notify-next", NotifyNextPayload(next, now)).ok()) {
      *failed = true;
    }
  }
  return now_state;
}

bool JobsMqtt::PublishEvents() {
  auto events = devices_->Events(1000);
  if (!events.ok()) {
    Log()->error("events: {}", events.status().message());
    return false;
  }
  if (events->empty()) return false;
  const Instant now = devices_->clock()->Now();
  for (const auto& e : *events) {
    const EventMessage m = JobEventMessage(
        e, e.type == "JOB_EXECUTION" ? devices_->ThingArn(e.region, e.thing) : std::string(),
        NewUuid(), now);
    if (Status st = client_->Publish(m.topic, m.payload); !st.ok()) {
      // Kept in the outbox (events already published may be published again: at least once).
      Log()->warn("events: {}", st.message());
      return false;
    }
  }
  if (Status st = devices_->AckEvents(events->back().seq); !st.ok()) {
    Log()->error("events: {}", st.message());
  }
  return true;
}

void JobsMqtt::Stop() {
  {
    std::lock_guard lock(notify_mu_);
    notify_stopping_ = true;
  }
  notify_cv_.notify_all();
  if (notifier_.joinable()) notifier_.join();
  {
    std::lock_guard lock(queue_mu_);
    queue_stopping_ = true;
  }
  queue_cv_.notify_all();
  for (auto& w : workers_) w.join();
  workers_.clear();
}

void JobsMqtt::Serve(const Work& w) {
  if (w.task) {
    w.task();
  } else if (auto reply = Handle(w.topic, w.payload)) {
    if (Status st = client_->Publish(reply->first, reply->second); !st.ok()) {
      Log()->warn("reply to {}: {}", w.topic, st.message());
    }
  }
}

bool JobsMqtt::Push(const std::string& thing, Work work, bool bounded) {
  const size_t bytes = work.topic.size() + work.payload.size();
  {
    std::lock_guard lock(queue_mu_);
    auto it = queues_.find(thing);
    if (bounded &&
        ((it != queues_.end() && it->second.items.size() >= config_.max_queued_per_thing) ||
         queued_bytes_ + bytes > config_.max_queued_bytes)) {
      return false;
    }
    if (it == queues_.end()) it = queues_.emplace(thing, ThingQueue{}).first;
    const bool idle = it->second.items.empty() && !it->second.running;
    it->second.items.push_back(std::move(work));
    queued_bytes_ += bytes;
    if (!idle) return true;  // already waiting its turn, or its worker requeues it
    ready_.push_back(thing);
  }
  queue_cv_.notify_one();
  return true;
}

namespace {
// The thing named by a topic $aws/things/{thing}/...
std::string_view ThingOf(std::string_view topic) {
  const size_t start = std::min(topic.size(), kPrefix.size());
  const size_t end = topic.find('/', start);
  return topic.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
}
bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

void JobsMqtt::OnMessage(const std::string& topic, const std::string& payload) {
  if (workers_.empty()) return;
  const std::string thing(ThingOf(topic));
  if (config_.limiter && !config_.limiter->Allow(thing)) {
    Throttle(topic, thing, payload);
    return;
  }
  if (!Push(thing, Work{topic, payload, {}}, /*bounded=*/true)) Throttle(topic, thing, payload);
}

void JobsMqtt::Throttle(const std::string& topic, const std::string& thing,
                        const std::string& payload) {
  ++throttled_;
  // Never answer an answer (a stale wildcard subscription could bring ours back).
  if (EndsWith(topic, "/accepted") || EndsWith(topic, "/rejected") ||
      topic.find("/notify") != std::string::npos) {
    return;
  }
  // The answers are paced too: a flood gets at most the allowed rate of them; the rest is dropped.
  if (reject_limiter_ && !reject_limiter_->Allow(thing)) return;
  // The clientToken, so the device can match the answer. Only small payloads are read here, on
  // the network thread (AWS's clientToken is at most 64 characters).
  std::optional<std::string> client_token;
  if (payload.size() <= 4096) {
    boost::system::error_code ec;
    json::value v = codec::ParseJson(payload, ec);
    if (!ec && v.is_object()) {
      if (auto t = v.get_object().find("clientToken");
          t != v.get_object().end() && t->value().is_string()) {
        client_token = std::string(t->value().get_string());
      }
    }
  }
  (void)client_->Publish(topic + "/rejected", ReplyPayload(ThrottledRejection(thing),
                                                           devices_->clock()->Now(), client_token));
}

std::optional<std::pair<std::string, std::string>> JobsMqtt::Handle(const std::string& topic,
                                                                    const std::string& payload) {
  // $aws/things/{thing}/jobs/{rest}
  if (topic.rfind(kPrefix, 0) != 0) return std::nullopt;
  const size_t slash = topic.find('/', kPrefix.size());
  if (slash == std::string::npos || topic.compare(slash, 6, "/jobs/") != 0) return std::nullopt;
  const std::string thing = topic.substr(kPrefix.size(), slash - kPrefix.size());
  const std::string rest = topic.substr(slash + 6);
  // Our own replies and notifications come back through the wildcard subscription: not requests.
  auto ends_with = [&](std::string_view s) {
    return rest.size() >= s.size() && rest.compare(rest.size() - s.size(), s.size(), s) == 0;
  };
  if (ends_with("/accepted") || ends_with("/rejected") || rest.rfind("notify", 0) == 0 ||
      rest.find("/notify-namespace-") != std::string::npos) {
    return std::nullopt;
  }

  const Instant now = devices_->clock()->Now();
  std::optional<std::string> client_token;
  auto reply = [&](const std::string& suffix, json::object body) {
    return std::make_pair(topic + suffix,
                          ReplyPayload(std::move(body), devices_->clock()->Now(), client_token));
  };
  auto reject = [&](const Status& st, const std::optional<jobs::JobExecution>& state = {}) {
    return reply("/rejected", Rejection(st, state));
  };

  json::object req;
  if (!payload.empty()) {
    boost::system::error_code ec;
    json::value v = codec::ParseJson(payload, ec);
    if (ec || !v.is_object()) {
      return reply("/rejected", InvalidJsonRejection(ec ? ec.message() : std::string()));
    }
    req = std::move(v.get_object());
  }
  if (auto t = req.find("clientToken"); t != req.end() && t->value().is_string()) {
    client_token = std::string(t->value().get_string());
  }
  const std::string& region = config_.region;

  if (rest == "get") {
    auto p = devices_->GetPending(region, thing);
    if (!p.ok()) return reject(p.status());
    return reply("/accepted", PendingAccepted(*p));
  }
  if (rest == "start-next") {
    codec::StartNextRequest r;
    if (Status st = codec::DecodeStartNext(req, &r); !st.ok()) return reject(st);
    auto next = devices_->StartNext(region, thing, r.status_details, r.step_timeout_minutes);
    if (!next.ok()) return reject(next.status());
    return reply("/accepted", ExecutionAccepted(*next, now));
  }
  const size_t op = rest.rfind('/');
  const std::string job = op == std::string::npos ? "" : rest.substr(0, op);
  const std::string verb = op == std::string::npos ? rest : rest.substr(op + 1);
  if (!job.empty() && job.find('/') == std::string::npos && verb == "get") {
    codec::DescribeExecutionRequest r;
    if (Status st = codec::DecodeDescribeExecution(req, &r); !st.ok()) return reject(st);
    auto d = devices_->Describe(region, thing, job, r.execution_number, r.include_job_document);
    if (!d.ok()) return reject(d.status());
    return reply("/accepted", ExecutionAccepted(*d, now));
  }
  if (!job.empty() && job.find('/') == std::string::npos && verb == "update" &&
      job != service::kNextJob) {
    codec::UpdateExecutionRequest in;
    if (Status st = codec::DecodeUpdateExecution(req, codec::DevicePlane::kMqtt, &in); !st.ok()) {
      return reject(st);
    }
    auto r = devices_->Update(region, thing, job,
                              {.status = in.status,
                               .status_details = in.status_details,
                               .step_timeout_minutes = in.step_timeout_minutes,
                               .expected_version = in.expected_version,
                               .execution_number = in.execution_number,
                               .include_job_execution_state = in.include_job_execution_state,
                               .include_job_document = in.include_job_document});
    if (!r.status.ok()) return reject(r.status, r.execution);
    return reply("/accepted", UpdateAccepted(r));
  }
  return reply("/rejected", InvalidTopicRejection(topic));
}

}  // namespace iotjobs::device
