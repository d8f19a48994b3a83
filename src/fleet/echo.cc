#include "fleet/echo.h"

#include <mosquitto.h>

#include <chrono>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace iotjobs::fleet {
namespace {

// The value of "key":"..." in a flat JSON object written by the simulator (no escapes in it).
std::string_view Field(std::string_view json, std::string_view key) {
  std::string needle = "\"" + std::string(key) + "\":\"";
  size_t at = json.find(needle);
  if (at == std::string_view::npos) return {};
  at += needle.size();
  size_t end = json.find('"', at);
  return end == std::string_view::npos ? std::string_view() : json.substr(at, end - at);
}

struct Echo {
  const EchoOptions* o;
  mosquitto* m = nullptr;
  struct Thing {
    int64_t done = 0;
  };
  std::unordered_map<std::string, Thing> things;
  std::vector<std::string> order;
  bool released = false;
  std::string padding;

  static int64_t Now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  void Publish(const std::string& topic, const std::string& body) {
    mosquitto_publish(m, nullptr, topic.c_str(), static_cast<int>(body.size()), body.data(), 1,
                      false);
  }
  std::string Execution(const std::string& thing, int64_t job, bool full) {
    std::string ts = std::to_string(Now());
    std::string e = "{\"jobId\":\"echo-" + std::to_string(job) + "\",\"thingName\":\"" + thing +
                    "\",\"status\":\"" + (full ? "IN_PROGRESS" : "QUEUED") +
                    "\",\"queuedAt\":" + ts + ",\"lastUpdatedAt\":" + ts +
                    ",\"versionNumber\":" + (full ? "2" : "1") + ",\"executionNumber\":1";
    if (full) e += ",\"startedAt\":" + ts;
    return e + ",\"jobDocument\":{\"operation\":\"echo\",\"padding\":\"" + padding + "\"}}";
  }
  void NotifyNext(const std::string& thing) {
    const Thing& t = things[thing];
    std::string body = "{\"timestamp\":" + std::to_string(Now());
    if (released && t.done < o->jobs) body += ",\"execution\":" + Execution(thing, t.done, false);
    Publish("$aws/things/" + thing + "/jobs/notify-next", body + "}");
  }

  void OnMessage(std::string_view topic, std::string_view payload) {
    // $aws/things/{thing}/jobs/start-next or $aws/things/{thing}/jobs/{jobId}/update
    constexpr std::string_view kPrefix = "$aws/things/";
    if (topic.substr(0, kPrefix.size()) != kPrefix) return;
    std::string_view rest = topic.substr(kPrefix.size());
    size_t slash = rest.find("/jobs/");
    if (slash == std::string_view::npos) return;
    std::string thing(rest.substr(0, slash));
    std::string_view op = rest.substr(slash + 6);
    std::string base = "$aws/things/" + thing + "/jobs/";
    std::string token(Field(payload, "clientToken"));
    std::string ts = std::to_string(Now());
    if (op == "start-next") {
      auto [it, inserted] = things.try_emplace(thing);
      if (inserted) order.push_back(thing);
      std::string body = "{\"clientToken\":\"" + token + "\",\"timestamp\":" + ts;
      if (released && it->second.done < o->jobs) {
        body += ",\"execution\":" + Execution(thing, it->second.done, true);
      }
      Publish(base + "start-next/accepted", body + "}");
      if (!released && static_cast<int64_t>(order.size()) >= o->devices) {
        released = true;  // every device is online: "create the jobs"
        for (const auto& t : order) NotifyNext(t);
      }
      return;
    }
    if (op.ends_with("/update")) {
      std::string job(op.substr(0, op.size() - 7));
      Publish(base + job + "/update/accepted",
              "{\"clientToken\":\"" + token + "\",\"timestamp\":" + ts + "}");
      std::string_view status = Field(payload, "status");
      if (status == "SUCCEEDED" || status == "FAILED" || status == "REJECTED") {
        ++things[thing].done;
        NotifyNext(thing);
      }
    }
  }
};

}  // namespace

Status RunEcho(const EchoOptions& options, const std::atomic<bool>& stop) {
  mosquitto_lib_init();
  Echo e;
  e.o = &options;
  e.padding.assign(static_cast<size_t>(std::max(0, options.document_bytes)), 'x');
  e.m = mosquitto_new(options.client_id.c_str(), true, &e);
  if (!e.m) return Status::Internal("libmosquitto: cannot create a client");
  mosquitto_int_option(e.m, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_max_inflight_messages_set(e.m, 0);
  if (!options.username.empty()) {
    mosquitto_username_pw_set(e.m, options.username.c_str(),
                              options.password.empty() ? nullptr : options.password.c_str());
  }
  mosquitto_message_callback_set(e.m, [](mosquitto*, void* p, const mosquitto_message* msg) {
    static_cast<Echo*>(p)->OnMessage(
        msg->topic, std::string_view(static_cast<const char*>(msg->payload), msg->payloadlen));
  });
  mosquitto_connect_callback_set(e.m, [](mosquitto* m, void*, int rc) {
    if (rc != 0) return;
    char* subs[] = {const_cast<char*>("$aws/things/+/jobs/start-next"),
                    const_cast<char*>("$aws/things/+/jobs/+/update")};
    mosquitto_subscribe_multiple(m, nullptr, 2, subs, 1, 0, nullptr);
  });
  int rc = mosquitto_connect(e.m, options.host.c_str(), options.port, 30);
  if (rc != MOSQ_ERR_SUCCESS) {
    mosquitto_destroy(e.m);
    return Status::Unavailable("echo: cannot connect to " + options.host + ":" +
                               std::to_string(options.port) + ": " + mosquitto_strerror(rc));
  }
  while (!stop.load()) {
    rc = mosquitto_loop(e.m, 100, 1);
    if (rc != MOSQ_ERR_SUCCESS && mosquitto_reconnect(e.m) != MOSQ_ERR_SUCCESS) {
      std::this_thread::sleep_for(std::chrono::seconds(1));  // reconnect backoff
    }
  }
  mosquitto_disconnect(e.m);
  mosquitto_destroy(e.m);
  return Status::Ok();
}

}  // namespace iotjobs::fleet
