#include "fleet/echo.h"

#include <arpa/inet.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fleet/mqtt_conn.h"

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

struct Echo final : MqttConn::Handler {
  const EchoOptions* o;
  MqttConn conn{this};
  std::string closed;
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
  void Publish(const std::string& topic, const std::string& body) { conn.Publish(topic, body, 1); }

  void OnConnack(int rc) override {
    if (rc != 0) {
      closed = "the broker refused the connection (CONNACK " + std::to_string(rc) + ")";
      return;
    }
    conn.Subscribe({"$aws/things/+/jobs/start-next", "$aws/things/+/jobs/+/update"}, 1);
  }
  void OnSuback() override {
    std::printf("iotjobs echo ready\n");  // scripts start the devices after this line
    std::fflush(stdout);
  }
  void OnClosed(const std::string& why) override { closed = why; }
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

  void OnMessage(std::string_view topic, std::string_view payload) override {
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
  Echo e;
  e.o = &options;
  e.padding.assign(static_cast<size_t>(std::max(0, options.document_bytes)), 'x');
  MqttConnectOptions c;
  c.broker.sin_family = AF_INET;
  c.broker.sin_port = htons(static_cast<uint16_t>(options.port));
  if (inet_pton(AF_INET, options.host.c_str(), &c.broker.sin_addr) != 1) {
    return Status::InvalidRequest("echo: --host must be an IPv4 address");
  }
  c.client_id = options.client_id;
  c.username = options.username;
  c.password = options.password;
  c.keepalive_seconds = 30;
  std::string why;
  if (!e.conn.Connect(c, &why)) return Status::Unavailable("echo: " + why);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT;
  epoll_ctl(ep, EPOLL_CTL_ADD, e.conn.fd(), &ev);
  bool want_out = true;
  while (!stop.load() && e.conn.open()) {
    epoll_event got[4];
    int n = epoll_wait(ep, got, 4, 100);
    for (int i = 0; i < n && e.conn.open(); ++i) {
      if (got[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) e.conn.OnReadable();
      if (e.conn.open() && (got[i].events & EPOLLOUT)) e.conn.OnWritable();
    }
    e.conn.Tick(std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count());
    if (e.conn.open() && e.conn.wants_write() != want_out) {
      want_out = e.conn.wants_write();
      ev.events = want_out ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
      epoll_ctl(ep, EPOLL_CTL_MOD, e.conn.fd(), &ev);
    }
  }
  close(ep);
  if (stop.load()) {
    e.conn.Disconnect();
    return Status::Ok();
  }
  return Status::Unavailable("echo: " +
                             (e.closed.empty() ? std::string("connection lost") : e.closed));
}

}  // namespace iotjobs::fleet
