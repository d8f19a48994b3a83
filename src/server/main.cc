// iotjobsd: one process serving AWS IoT Jobs (control plane, jobs data plane, MQTT). main() is
// flags, signals and logging around server::App, which wires and runs everything else.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "common/logging.h"
#include "server/app.h"
#include "server/config.h"

namespace iotjobs::server {
namespace {

int Fail(const std::string& message) {
  std::cerr << "iotjobsd: " << message << "\n";
  return 2;
}

// Raises the soft descriptor limit to the hard one (the default soft limit, 1024, would cap each
// listener at 384 connections); returns the limit now in force, or 0 when it is unknown.
rlim_t RaiseDescriptorLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  return rl.rlim_cur;
}

int Run(const ServerConfig& cfg) {
  if (!SetLogLevel(cfg.log_level))
    return Fail("--log-level: unknown level '" + cfg.log_level + "'");
  auto log = Logger("server");
  // A file-size limit (RLIMIT_FSIZE) must make a write fail with EFBIG, answered as an error, not
  // kill the process with SIGXFSZ (chaos campaign finding). Set before any thread starts.
  std::signal(SIGXFSZ, SIG_IGN);
  // Logged once started: a start-up failure stays one line on stderr.
  const rlim_t descriptor_limit = RaiseDescriptorLimit();

  // Block the stop signals in every thread (App's threads inherit the mask); the main thread
  // waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);  // reloads the TLS certificate
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto app = App::Start(cfg);
  if (!app.ok()) return Fail(app.status().message());
  if (descriptor_limit == RLIM_INFINITY) {
    log->info("descriptor limit: unlimited");
  } else if (descriptor_limit > 0) {
    log->info("descriptor limit: {} (soft limit raised to the hard limit)", descriptor_limit);
  }
  std::cout << "iotjobsd ready control=" << (*app)->control_endpoint()
            << " jobs=" << (*app)->jobs_endpoint() << " region=" << cfg.region
            << " account=" << cfg.account_id << std::endl;

  int sig = 0;
  for (;;) {
    sigwait(&stop_signals, &sig);
    if (sig != SIGHUP) break;
    // New connections get the new certificate; a file that cannot be used keeps the old one
    // (each listener logs why).
    log->info("SIGHUP: reloading the TLS certificate");
    (*app)->ReloadTls();
  }
  log->info("signal {} received: finishing requests in flight, then stopping", sig);
  (*app)->Stop();
  log->info("stopped");
  return 0;
}

}  // namespace
}  // namespace iotjobs::server

int main(int argc, char** argv) {
  using iotjobs::server::ServerConfig;
  ServerConfig cfg;
  CLI::App app{"iotjobsd: a self-hosted AWS IoT Jobs service", "iotjobsd"};
  auto flag = [&](const char* name, auto* target, const char* env, const char* help) {
    return app.add_option(name, *target, help)->envname(env)->capture_default_str();
  };
  flag("--data-dir", &cfg.data_dir, "IOTJOBS_DATA_DIR", "directory for the database and state");
  flag("--store", &cfg.store, "IOTJOBS_STORE", "sqlite:PATH (default: <data-dir>/iotjobs.db)");
  flag("--control-listen", &cfg.control_listen, "IOTJOBS_CONTROL_LISTEN",
       "control plane HOST:PORT");
  flag("--jobs-listen", &cfg.jobs_listen, "IOTJOBS_JOBS_LISTEN", "jobs data plane HOST:PORT");
  flag("--mqtt", &cfg.mqtt, "IOTJOBS_MQTT", "mqtt://[user:pass@]host:port or none");
  flag("--mqtt-client-id", &cfg.mqtt_client_id, "IOTJOBS_MQTT_CLIENT_ID",
       "iotjobsd's MQTT client id (one persistent session per node)");
  flag("--mqtt-workers", &cfg.mqtt_workers, "IOTJOBS_MQTT_WORKERS",
       "threads answering MQTT requests (a thing's requests stay in order on one)");
  flag("--mqtt-shared-group", &cfg.mqtt_shared_group, "IOTJOBS_MQTT_SHARED_GROUP",
       "subscribe through $share/<group>/ so several nodes split device traffic");
  flag("--device-requests-per-second", &cfg.device_requests_per_second,
       "IOTJOBS_DEVICE_REQUESTS_PER_SECOND",
       "per-thing request rate on the MQTT and HTTPS data planes (0: unlimited); over it MQTT "
       "answers RequestThrottled, HTTPS 429 ThrottlingException");
  flag("--device-burst", &cfg.device_burst, "IOTJOBS_DEVICE_BURST",
       "requests a thing may make at once above that rate (0: the rate)");
  flag("--s3-endpoint", &cfg.s3_endpoint, "IOTJOBS_S3_ENDPOINT", "S3-compatible endpoint URL");
  flag("--s3-region", &cfg.s3_region, "IOTJOBS_S3_REGION", "S3 signing region (default --region)");
  flag("--s3-timeout-ms", &cfg.s3_timeout_ms, "IOTJOBS_S3_TIMEOUT_MS", "bound on one S3 fetch");
  flag("--region", &cfg.region, "IOTJOBS_REGION", "default region");
  flag("--account-id", &cfg.account_id, "IOTJOBS_ACCOUNT_ID", "account id in ARNs");
  flag("--credentials", &cfg.credentials, "IOTJOBS_CREDENTIALS",
       "AWS shared-credentials file; every key pair is accepted (default <data-dir>/credentials)");
  app.add_flag("--no-auth", cfg.no_auth, "serve unsigned requests (local experiments only)")
      ->envname("IOTJOBS_NO_AUTH");
  flag("--time-scale", &cfg.time_scale, "IOTJOBS_TIME_SCALE",
       "run the service clock N times faster");
  flag("--max-rollout-per-minute", &cfg.max_rollout_per_minute, "IOTJOBS_MAX_ROLLOUT_PER_MINUTE",
       "cap on any job's rollout rate (AWS: 1000); raise it for large self-hosted fleets");
  flag("--log-level", &cfg.log_level, "IOTJOBS_LOG_LEVEL", "trace|debug|info|warn|error|off");
  flag("--io-threads", &cfg.io_threads, "IOTJOBS_IO_THREADS", "socket threads per listener");
  flag("--worker-threads", &cfg.worker_threads, "IOTJOBS_WORKER_THREADS",
       "blocking request threads");
  flag("--max-connections", &cfg.max_connections, "IOTJOBS_MAX_CONNECTIONS",
       "open connections per listener; at the cap the oldest idle one is closed (0: derived from "
       "the descriptor limit)");
  flag("--tls-cert", &cfg.tls_cert, "IOTJOBS_TLS_CERT",
       "PEM certificate chain: serve both listeners over HTTPS (reloaded on SIGHUP)");
  flag("--tls-key", &cfg.tls_key, "IOTJOBS_TLS_KEY", "PEM private key of --tls-cert");
  flag("--device-ca", &cfg.device_ca, "IOTJOBS_DEVICE_CA",
       "PEM CA: the jobs listener requests a client certificate; a verified one names the device");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "iotjobsd: " << e.what() << " (see iotjobsd --help)\n";
    return 2;
  }
  if (auto st = iotjobs::server::Validate(&cfg); !st.ok()) {
    std::cerr << "iotjobsd: " << st.message() << "\n";
    return 2;
  }
  return iotjobs::server::Run(cfg);
}
