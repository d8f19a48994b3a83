// iotjobs: the project's command-line tool.
//   iotjobs fleet ...  simulate N devices running jobs over MQTT (src/fleet)
//   iotjobs echo ...   the broker-only responder that `fleet` measures the broker's ceiling with
// Exit status of fleet: 0 done (or stopped without --expect), 1 no device could connect, 2 bad
// input, 3 stopped before --expect executions finished.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "fleet/echo.h"
#include "fleet/fleet.h"

namespace {

std::atomic<bool> g_stop{false};
iotjobs::fleet::Fleet* g_fleet = nullptr;

void OnSignal(int) {
  g_stop.store(true);
  if (g_fleet) g_fleet->Stop();
}

std::string Grouped(int64_t v) {
  std::string s = std::to_string(v), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "iotjobs: %s\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"iotjobs: tools for iotjobs, a self-hosted AWS IoT Jobs"};
  app.require_subcommand(1);

  namespace fl = iotjobs::fleet;
  fl::FleetOptions fo;
  std::string profile = "succeed=100", run_time = "0", reconnect_delay = "1s", ready_file;
  std::string progress = "auto";
  bool as_json = false;
  auto* fleet = app.add_subcommand(
      "fleet",
      "Simulate devices that run jobs over MQTT (AWS IoT Jobs MQTT API), one connection "
      "each, and report executions per second, latencies and outcomes");
  fleet->add_option("--host", fo.host, "MQTT broker host")->capture_default_str();
  fleet->add_option("--port", fo.port, "MQTT broker port")->capture_default_str();
  fleet->add_option("--prefix", fo.prefix, "thing names are PREFIX + index")->capture_default_str();
  fleet->add_option("--first", fo.first, "first index")->capture_default_str();
  fleet->add_option("-n,--count", fo.count, "number of devices")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  fleet->add_option("--username", fo.username,
                    "MQTT user name for every device (default: the thing name)");
  fleet->add_option("--password", fo.password, "MQTT password");
  fleet->add_option("--cafile", fo.cafile, "CA certificate: connect over TLS")
      ->check(CLI::ExistingFile);
  fleet
      ->add_option("--cert-dir", fo.cert_dir,
                   "mTLS: DIR/THING.crt and DIR/THING.key per device (scripts/dev-certs.sh)")
      ->check(CLI::ExistingDirectory);
  fleet->add_option("--keepalive", fo.keepalive_seconds, "MQTT keepalive (s)")
      ->capture_default_str()
      ->check(CLI::Range(5, 65535));
  fleet->add_option("--threads", fo.threads, "event-loop threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  fleet
      ->add_option("--connect-concurrency", fo.connect_concurrency,
                   "connects awaiting CONNACK at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  fleet->add_option("--qos", fo.qos, "QoS of subscriptions and requests")
      ->capture_default_str()
      ->check(CLI::Range(0, 1));
  fleet
      ->add_option("--profile", profile,
                   "outcome weights per execution: succeed=W,fail=W,reject=W,hang=W")
      ->capture_default_str();
  fleet
      ->add_option("--run-time", run_time,
                   "time to run a job: 0, 250ms, 2s, uniform:100ms-2s, exp:500ms")
      ->capture_default_str();
  fleet
      ->add_option("--steps", fo.profile.steps,
                   "IN_PROGRESS updates with statusDetails before the final status")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  fleet
      ->add_option("--reconnect-share", fo.profile.reconnect_share,
                   "share of executions during which the device disconnects and comes back")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  fleet->add_option("--reconnect-delay", reconnect_delay, "offline time for those")
      ->capture_default_str();
  fleet->add_option("--seed", fo.seed, "seed of the outcome and run-time draws")
      ->capture_default_str();
  fleet->add_option("--expect", fo.expect,
                    "stop after this many executions finished (succeeded+failed+rejected+hung)");
  fleet->add_option("--max-seconds", fo.max_seconds, "stop after this long")->capture_default_str();
  fleet->add_option("--bucket-ms", fo.bucket_ms, "timeline bucket (--json)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{3600000}));
  fleet->add_option("--ready-file", ready_file,
                    "write this file once every device is connected, subscribed and answered");
  fleet
      ->add_option("--progress", progress,
                   "progress line on stderr: auto (a terminal), always, "
                   "never")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "always", "never"}));
  fleet->add_flag("--json", as_json, "print the summary as JSON (with the timeline) on stdout");

  fl::EchoOptions eo;
  auto* echo = app.add_subcommand(
      "echo",
      "Answer devices' start-next and update requests from memory (no iotjobsd): the "
      "broker-only ceiling for `iotjobs fleet`");
  echo->add_option("--host", eo.host)->capture_default_str();
  echo->add_option("--port", eo.port)->capture_default_str();
  echo->add_option("--username", eo.username);
  echo->add_option("--password", eo.password);
  echo->add_option("--client-id", eo.client_id)->capture_default_str();
  echo->add_option("--devices", eo.devices, "announce the jobs once this many devices asked")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{10000000}));
  echo->add_option("--jobs", eo.jobs, "jobs per device")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  echo->add_option("--document-bytes", eo.document_bytes, "job document padding")
      ->capture_default_str()
      ->check(CLI::Range(0, 32768));

  CLI11_PARSE(app, argc, argv);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);

  if (*echo) {
    auto st = fl::RunEcho(eo, g_stop);
    if (!st.ok()) return Fail(st.message());
    return 0;
  }

  auto weights = fl::ParseOutcomeWeights(profile, fo.profile);
  if (!weights.ok()) return Fail("--profile: " + weights.status().message());
  fo.profile = *weights;
  auto rt = fl::ParseRunTime(run_time);
  if (!rt.ok()) return Fail("--run-time: " + rt.status().message());
  fo.profile.run_time = *rt;
  auto rd = fl::ParseDurationMs(reconnect_delay);
  if (!rd.ok()) return Fail("--reconnect-delay: " + rd.status().message());
  fo.profile.reconnect_delay_ms = *rd;
  if (!fo.cert_dir.empty() && fo.cafile.empty()) return Fail("--cert-dir needs --cafile");

  fl::Fleet sim(fo);
  if (auto st = sim.Prepare(); !st.ok()) return Fail(st.message());
  g_fleet = &sim;
  if (g_stop.load()) sim.Stop();

  const bool show = progress == "always" || (progress == "auto" && isatty(STDERR_FILENO));
  auto last_draw = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  int64_t last_done = 0;
  auto last_rate_at = std::chrono::steady_clock::now();
  double rate = 0;
  auto on_progress = [&](const fl::Stats& s, int64_t devices) {
    auto now = std::chrono::steady_clock::now();
    if (!show || now - last_draw < std::chrono::milliseconds(250)) return;
    last_draw = now;
    int64_t done = s.totals[fl::kSucceeded] + s.totals[fl::kFailed] + s.totals[fl::kRejected] +
                   s.totals[fl::kHung];
    double dt = std::chrono::duration<double>(now - last_rate_at).count();
    if (dt >= 1.0) {
      rate = (done - last_done) / dt;
      last_done = done;
      last_rate_at = now;
    }
    int64_t target = fo.expect > 0 ? fo.expect : devices;
    int width = 24, filled = static_cast<int>(width * std::min<double>(1.0, double(done) / target));
    std::fprintf(stderr, "\r[%s%s] %s/%s done  %s/s  connected %s/%s  notified %s  errors %s   ",
                 std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                 Grouped(done).c_str(), Grouped(target).c_str(),
                 Grouped(static_cast<int64_t>(rate)).c_str(), Grouped(s.connected).c_str(),
                 Grouped(devices).c_str(), Grouped(s.totals[fl::kNotified]).c_str(),
                 Grouped(s.errors_total).c_str());
  };
  auto on_ready = [&] {
    std::fprintf(stderr, "%sfleet: %s devices connected, subscribed and answered\n",
                 show ? "\n" : "", Grouped(fo.count).c_str());
    if (!ready_file.empty()) std::ofstream(ready_file) << "ready\n";
  };
  fl::FleetReport report = sim.Run(on_ready, on_progress);
  g_fleet = nullptr;
  if (show) std::fprintf(stderr, "\n");
  if (as_json) {
    std::cout << fl::SummaryJson(report);
  } else {
    std::cout << fl::SummaryText(report);
  }
  if (report.stats->connected == 0) {
    std::fprintf(stderr, "iotjobs fleet: no device could connect to %s:%d\n", fo.host.c_str(),
                 fo.port);
    return 1;
  }
  return report.interrupted ? 3 : 0;
}
