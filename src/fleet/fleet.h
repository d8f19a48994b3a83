// Fleet: N simulated devices (fleet/device.h), one MQTT connection each (fleet/mqtt_conn.h, one
// descriptor per device), driven from a few epoll threads, so tens of thousands of connections
// need no thread per device. Connects are paced (--connect-concurrency) so the
// broker's listen backlog never drops a SYN; on loopback, connections are spread over 127.0.0.x
// source addresses (20,000 per address) so the ephemeral port range never runs out.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "fleet/mqtt_conn.h"
#include "fleet/profile.h"
#include "fleet/stats.h"

namespace iotjobs::fleet {

struct FleetOptions {
  std::string host = "127.0.0.1";
  int port = 1883;
  std::string prefix = "device-";  // thing names: prefix + index, index in [first, first + count)
  int64_t first = 0;
  int64_t count = 1;
  std::string username;  // empty: the thing name (Mosquitto ACL patterns use %u)
  std::string password;
  std::string cafile;    // set: TLS; with cert_dir also a client certificate per device
  std::string cert_dir;  // DIR/THING.crt and DIR/THING.key (scripts/dev-certs.sh's layout)
  int keepalive_seconds = 60;
  int threads = 1;
  int connect_concurrency =
      64;  // connects awaiting their CONNACK (Mosquitto listens with a backlog of 100)
  int qos = 1;
  Profile profile;
  uint64_t seed = 1;
  int64_t expect = 0;  // stop once this many executions finished (succeeded+failed+rejected+hung)
  double max_seconds = 600;
  int64_t bucket_ms = 1000;  // timeline bucket
};

// The merged outcome of a run.
struct FleetReport {
  std::unique_ptr<Stats> stats;
  int64_t devices = 0;
  int64_t ready_ms = 0;  // Unix ms when every device was connected, subscribed and answered
  int64_t start_ms = 0;  // Unix ms when the run began
  int64_t end_ms = 0;
  bool reached_expect = false;
  bool interrupted = false;
};

class Fleet {
 public:
  explicit Fleet(FleetOptions options);
  ~Fleet();
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // Raises the open-file limit for `count` connections (one descriptor each), resolves the broker
  // and loads the CA; InvalidRequest naming the problem when it cannot.
  Status Prepare();
  // Runs until `expect` executions finished, `max_seconds` passed or Stop(). `on_ready` runs once
  // when every device has connected, subscribed and had its first start-next answered;
  // `on_progress` every ~250 ms with the live totals (from the calling thread).
  FleetReport Run(const std::function<void()>& on_ready,
                  const std::function<void(const Stats& live, int64_t devices)>& on_progress);
  // From any thread or a signal handler: finish the run and report.
  void Stop() { stop_.store(true); }

 private:
  struct Shard;
  FleetOptions options_;
  std::vector<std::unique_ptr<Shard>> shards_;
  MqttConnectOptions connect_;
  SSL_CTX* tls_ = nullptr;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> ready_{0};
  std::atomic<int64_t> finished_{0};
};

// The summary as text (one block, for logs and terminals) and as JSON (--json; includes the
// per-bucket timeline that bench/plot_timeline.py draws).
std::string SummaryText(const FleetReport& r);
std::string SummaryJson(const FleetReport& r);

}  // namespace iotjobs::fleet
