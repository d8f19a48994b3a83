#include "fleet/fleet.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <queue>
#include <thread>

#include "fleet/device.h"
#include "fleet/mqtt_conn.h"

namespace iotjobs::fleet {
namespace {

int64_t SteadyUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

constexpr int64_t kPerSourceAddress = 20000;  // below the default ephemeral port range (28,232)

}  // namespace

// One epoll thread and the connections it owns.
struct Fleet::Shard {
  struct Conn final : DeviceIo, MqttConn::Handler {
    Conn(Shard* s, std::string thing, in_addr_t bind)
        : shard(s), dev(std::move(thing), &s->options->profile, s->options->seed), mqtt(this) {
      bind_address = bind;
    }
    Shard* shard;
    Device dev;
    MqttConn mqtt;
    in_addr_t bind_address = 0;
    int registered_fd = -1;  // the descriptor epoll watches for us (-1: none)
    bool want_out = false;
    bool awaiting_connack = false, online = false, ever_subscribed = false, ready = false;
    bool intended_drop = false;
    double reconnect_after_ms = 0;
    uint64_t timer_gen = 0;
    int64_t connect_started_us = 0;

    // DeviceIo
    void Publish(const std::string& topic, const std::string& payload) override {
      mqtt.Publish(topic, payload, shard->options->qos);
    }
    void SetTimer(double delay_ms) override { shard->AddTimer(this, delay_ms, ++timer_gen); }
    void Reconnect(double delay_ms) override {
      intended_drop = true;
      reconnect_after_ms = delay_ms;
      mqtt.Disconnect();
    }
    int64_t NowUs() override { return SteadyUs(); }
    int64_t NowUnixMs() override { return UnixMs(); }

    // MqttConn::Handler
    void OnConnack(int rc) override {
      Shard* s = shard;
      if (awaiting_connack) {
        awaiting_connack = false;
        --s->connecting;
      }
      if (rc != 0) {
        s->stats.connect_failures.fetch_add(1, Stats::kRelaxed);
        s->stats.Error("connect:CONNACK " + std::to_string(rc));
        mqtt.Disconnect();  // retried by OnClosed
        return;
      }
      s->stats.connected.fetch_add(1, Stats::kRelaxed);
      s->stats.connect_us.push_back(static_cast<uint32_t>(SteadyUs() - connect_started_us));
      mqtt.Subscribe(dev.Subscriptions(), s->options->qos);
    }
    void OnSuback() override {
      online = true;
      if (!ever_subscribed) {
        ever_subscribed = true;
        shard->stats.subscribed.fetch_add(1, Stats::kRelaxed);
      }
      dev.OnReady(*this, shard->stats);
    }
    void OnMessage(std::string_view topic, std::string_view payload) override {
      dev.OnMessage(topic, payload, *this, shard->stats);
      if (!ready && dev.state() != Device::State::kStarting &&
          dev.state() != Device::State::kOffline) {
        ready = true;
        shard->fleet->ready_.fetch_add(1);
      }
    }
    void OnClosed(const std::string& why) override {
      Shard* s = shard;
      registered_fd = -1;  // closing the descriptor removed it from epoll
      if (awaiting_connack) {
        awaiting_connack = false;
        --s->connecting;
        s->stats.connect_failures.fetch_add(1, Stats::kRelaxed);
        s->stats.Error("connect:" + why);
      }
      online = false;
      dev.OnDisconnected();
      if (s->stopping) return;
      s->stats.disconnects.fetch_add(1, Stats::kRelaxed);
      double delay = intended_drop ? reconnect_after_ms : 1000;
      intended_drop = false;
      s->AddTimer(this, delay, 0);
    }
  };

  struct Timer {
    int64_t at_us;
    Conn* conn;
    uint64_t gen;  // 0: reconnect; else must equal conn->timer_gen
    bool operator>(const Timer& o) const { return at_us > o.at_us; }
  };

  Shard(const FleetOptions* o, Fleet* f, int64_t start_ms, const MqttConnectOptions* base)
      : options(o), fleet(f), base_connect(base), stats(start_ms, o->bucket_ms) {}
  ~Shard() {
    conns.clear();
    if (epfd >= 0) close(epfd);
  }

  const FleetOptions* options;
  Fleet* fleet;
  const MqttConnectOptions* base_connect;
  Stats stats;
  int epfd = -1;
  std::vector<std::unique_ptr<Conn>> conns;
  std::deque<Conn*> to_connect;
  int connecting = 0;
  bool stopping = false;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers;

  void AddTimer(Conn* c, double delay_ms, uint64_t gen) {
    timers.push({SteadyUs() + static_cast<int64_t>(delay_ms * 1000), c, gen});
  }

  void Connect(Conn* c) {
    MqttConnectOptions o = *base_connect;
    const std::string& thing = c->dev.thing();
    o.client_id = thing;
    o.username = options->username.empty() ? thing : options->username;
    o.password = options->password;
    o.bind.sin_family = AF_INET;
    o.bind.sin_addr.s_addr = c->bind_address;
    if (!options->cert_dir.empty()) {
      o.cert_file = options->cert_dir + "/" + thing + ".crt";
      o.key_file = options->cert_dir + "/" + thing + ".key";
    }
    c->connect_started_us = SteadyUs();
    std::string why;
    if (!c->mqtt.Connect(o, &why)) {
      stats.connect_failures.fetch_add(1, Stats::kRelaxed);
      stats.Error("connect:" + why);
      AddTimer(c, 1000, 0);
      return;
    }
    c->awaiting_connack = true;
    ++connecting;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.ptr = c;
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->mqtt.fd(), &ev);
    c->registered_fd = c->mqtt.fd();
    c->want_out = true;
  }

  // Keeps EPOLLOUT armed only while the connection has something to write.
  void Rearm(Conn* c) {
    if (!c->mqtt.open() || c->registered_fd != c->mqtt.fd()) return;
    bool want = c->mqtt.wants_write();
    if (want == c->want_out) return;
    epoll_event ev{};
    ev.events = want ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
    ev.data.ptr = c;
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->registered_fd, &ev);
    c->want_out = want;
  }

  void Run(int64_t max_us_deadline) {
    epoll_event events[512];
    int64_t next_misc = SteadyUs() + 1000000;
    size_t per_shard_concurrency =
        std::max(1, options->connect_concurrency / std::max(1, options->threads));
    while (!fleet->stop_.load(std::memory_order_relaxed)) {
      while (!to_connect.empty() && static_cast<size_t>(connecting) < per_shard_concurrency) {
        Conn* c = to_connect.front();
        to_connect.pop_front();
        Connect(c);
      }
      int64_t now = SteadyUs();
      if (now >= max_us_deadline) break;
      int64_t wait_us = std::min<int64_t>(next_misc - now, 50000);
      if (!timers.empty()) wait_us = std::min(wait_us, timers.top().at_us - now);
      int n = epoll_wait(epfd, events, 512,
                         static_cast<int>((std::max<int64_t>(0, wait_us) + 999) / 1000));
      for (int i = 0; i < n; ++i) {
        auto* c = static_cast<Conn*>(events[i].data.ptr);
        if (!c->mqtt.open()) continue;
        if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) c->mqtt.OnReadable();
        if (events[i].events & EPOLLOUT) c->mqtt.OnWritable();
        Rearm(c);
      }
      now = SteadyUs();
      while (!timers.empty() && timers.top().at_us <= now) {
        Timer t = timers.top();
        timers.pop();
        Conn* c = t.conn;
        if (t.gen == 0) {
          if (!c->mqtt.open()) Connect(c);
        } else if (t.gen == c->timer_gen && c->online) {
          c->dev.OnTimer(*c, stats);
        }
        Rearm(c);
      }
      if (now >= next_misc) {
        next_misc = now + 1000000;
        int64_t now_ms = now / 1000;
        for (auto& c : conns) {
          c->mqtt.Tick(now_ms);
          Rearm(c.get());
        }
      }
    }
    stopping = true;
    for (auto& c : conns) c->mqtt.Disconnect();
  }
};

Fleet::Fleet(FleetOptions options) : options_(std::move(options)) {}
Fleet::~Fleet() {
  shards_.clear();
  if (tls_) SSL_CTX_free(tls_);
}

Status Fleet::Prepare() {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  rlim_t need = static_cast<rlim_t>(options_.count) + 256;
  if (lim.rlim_cur < need) {
    rlimit want = lim;
    want.rlim_cur = std::min(need, lim.rlim_max);
    setrlimit(RLIMIT_NOFILE, &want);
    if (lim.rlim_max < need) {
      return Status::InvalidRequest(
          std::to_string(options_.count) + " devices need " + std::to_string(need) +
          " open files; this process may open " + std::to_string(lim.rlim_max) +
          " (raise the hard limit, or run fewer devices per process with --first/--count)");
    }
  }
  addrinfo hints{}, *res = nullptr;
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  if (int rc = getaddrinfo(options_.host.c_str(), nullptr, &hints, &res); rc != 0 || !res) {
    return Status::InvalidRequest("--host " + options_.host + ": " + gai_strerror(rc));
  }
  connect_.broker = *reinterpret_cast<sockaddr_in*>(res->ai_addr);
  connect_.broker.sin_port = htons(static_cast<uint16_t>(options_.port));
  freeaddrinfo(res);
  connect_.keepalive_seconds = options_.keepalive_seconds;
  if (!options_.cafile.empty()) {
    tls_ = SSL_CTX_new(TLS_client_method());
    if (SSL_CTX_load_verify_locations(tls_, options_.cafile.c_str(), nullptr) != 1) {
      return Status::InvalidRequest("--cafile " + options_.cafile + ": not a PEM CA certificate");
    }
    SSL_CTX_set_verify(tls_, SSL_VERIFY_PEER, nullptr);
    connect_.tls = tls_;
  }
  return Status::Ok();
}

FleetReport Fleet::Run(const std::function<void()>& on_ready,
                       const std::function<void(const Stats&, int64_t)>& on_progress) {
  FleetReport report;
  report.devices = options_.count;
  report.start_ms = UnixMs();
  int threads = std::max(1, options_.threads);
  const bool loopback = options_.host.rfind("127.", 0) == 0 || options_.host == "localhost";
  for (int i = 0; i < threads; ++i) {
    shards_.push_back(std::make_unique<Shard>(&options_, this, report.start_ms, &connect_));
    shards_.back()->epfd = epoll_create1(EPOLL_CLOEXEC);
  }
  for (int64_t i = 0; i < options_.count; ++i) {
    in_addr_t bind = 0;
    if (loopback && options_.count > kPerSourceAddress) {
      bind = htonl((127u << 24) | static_cast<uint32_t>(1 + i / kPerSourceAddress));
    }
    Shard& s = *shards_[i % threads];
    s.conns.push_back(std::make_unique<Shard::Conn>(
        &s, options_.prefix + std::to_string(options_.first + i), bind));
    s.to_connect.push_back(s.conns.back().get());
  }
  int64_t deadline = SteadyUs() + static_cast<int64_t>(options_.max_seconds * 1e6);
  std::vector<std::thread> workers;
  for (auto& s : shards_) workers.emplace_back([&s, deadline] { s->Run(deadline); });

  Stats live(report.start_ms, options_.bucket_ms);
  bool ready_reported = false;
  while (true) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // progress refresh cadence
    int64_t finished = 0, succeeded = 0, failed = 0, rejected = 0, hung = 0;
    for (auto& s : shards_) {
      succeeded += s->stats.totals[kSucceeded].load(Stats::kRelaxed);
      failed += s->stats.totals[kFailed].load(Stats::kRelaxed);
      rejected += s->stats.totals[kRejected].load(Stats::kRelaxed);
      hung += s->stats.totals[kHung].load(Stats::kRelaxed);
    }
    finished = succeeded + failed + rejected + hung;
    if (!ready_reported && ready_.load() >= options_.count) {
      ready_reported = true;
      report.ready_ms = UnixMs();
      for (auto& s : shards_) s->stats.SetOrigin(report.ready_ms);
      if (on_ready) on_ready();
    }
    if (options_.expect > 0 && finished >= options_.expect) {
      report.reached_expect = true;
      stop_.store(true);
    }
    if (SteadyUs() >= deadline) stop_.store(true);
    if (on_progress) {
      Stats snapshot(report.start_ms, options_.bucket_ms);
      for (auto& s : shards_) {
        snapshot.connected += s->stats.connected.load(Stats::kRelaxed);
        snapshot.updates_accepted += s->stats.updates_accepted.load(Stats::kRelaxed);
        snapshot.errors_total += s->stats.errors_total.load(Stats::kRelaxed);
        for (int k = 0; k < kSeriesCount; ++k) {
          snapshot.totals[k] += s->stats.totals[k].load(Stats::kRelaxed);
        }
      }
      on_progress(snapshot, options_.count);
    }
    if (stop_.load()) break;
  }
  for (auto& w : workers) w.join();
  report.interrupted = !report.reached_expect && options_.expect > 0;
  report.end_ms = UnixMs();
  report.stats = std::make_unique<Stats>(report.ready_ms ? report.ready_ms : report.start_ms,
                                         options_.bucket_ms);
  for (auto& s : shards_) report.stats->Merge(s->stats);
  shards_.clear();
  return report;
}

}  // namespace iotjobs::fleet
