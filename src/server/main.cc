// iotjobsd: one process serving the AWS IoT Jobs control plane over SQLite.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <csignal>
#include <filesystem>
#include <iostream>

#include "api/control_plane.h"
#include "api/jobs_data_plane.h"
#include "common/credentials.h"
#include "common/logging.h"
#include "common/rate_limiter.h"
#include "device/jobs_mqtt.h"
#include "device/mqtt_client.h"
#include "http/server.h"
#include "s3/s3_client.h"
#include "server/config.h"
#include "service/device_service.h"
#include "service/job_service.h"
#include "service/registration_service.h"
#include "service/registry_service.h"
#include "service/scheduler.h"
#include "service/template_service.h"
#include "store/sqlite/sqlite_store.h"

namespace iotjobs::server {
namespace {

// Request body limits, from the botocore models. Control plane: the largest input is CreateJob
// (document <= 32 KB, i.e. <= 192 KB even with every character \u-escaped; 100 targets of
// ~200-byte ARNs; 50 tags; configs), under 256 KB. Jobs data plane: ids, a status and
// statusDetails (keys <= 128 characters); 64 KB holds hundreds of details.
constexpr size_t kControlBodyLimit = 256 * 1024;
constexpr size_t kJobsBodyLimit = 64 * 1024;

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

int Run(ServerConfig cfg) {
  if (!SetLogLevel(cfg.log_level))
    return Fail("--log-level: unknown level '" + cfg.log_level + "'");
  auto log = Logger("server");
  // A file-size limit (RLIMIT_FSIZE) must make a write fail with EFBIG, answered as an error, not
  // kill the process with SIGXFSZ (chaos campaign finding). Set before any thread starts.
  std::signal(SIGXFSZ, SIG_IGN);
  // Logged once started: a start-up failure stays one line on stderr.
  const rlim_t descriptor_limit = RaiseDescriptorLimit();

  // Block the stop signals in every thread; the main thread waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);  // reloads the TLS certificate
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::error_code ec;
  std::filesystem::create_directories(cfg.data_dir, ec);
  if (ec) return Fail("--data-dir: cannot create " + cfg.data_dir + ": " + ec.message());
  if (auto parent = std::filesystem::path(cfg.sqlite_path).parent_path(); !parent.empty()) {
    std::filesystem::create_directories(parent, ec);
  }

  std::optional<CredentialSet> keys;
  if (!cfg.no_auth || std::filesystem::exists(cfg.credentials)) {
    auto loaded = LoadCredentialsFile(cfg.credentials);
    if (!loaded.ok()) {
      return Fail(
          loaded.status().message() +
          (cfg.no_auth ? "" : "; pass --credentials FILE, or --no-auth for local experiments"));
    }
    keys = std::move(loaded).value();
  }
  if (cfg.no_auth) {
    log->warn(
        "--no-auth: requests are NOT authenticated; anyone who reaches the listeners can "
        "change every job template. Use it for local experiments only.");
  }

  if (!cfg.tls_cert.empty()) {
    http::ServerOptions tls;
    tls.tls_cert_file = cfg.tls_cert;
    tls.tls_key_file = cfg.tls_key;
    tls.client_ca_file = cfg.device_ca;
    if (Status st = http::CheckTlsFiles(tls); !st.ok()) return Fail(st.message());
  }

  // With MQTT the store also keeps an outbox of changed things for notify / notify-next.
  auto store = store::SqliteStore::Open(
      {.path = cfg.sqlite_path, .track_thing_changes = cfg.mqtt_url.has_value()});
  if (!store.ok()) return Fail("--store: " + store.status().message());

  SystemClock clock(cfg.time_scale);
  SystemClock wall_clock(1.0);  // SigV4 dates are wall-clock time whatever the time scale
  s3::S3Client s3({.endpoint = cfg.s3_endpoint,
                   .region = cfg.s3_region,
                   .credentials = keys ? keys->primary : Credentials{},
                   .total_timeout_ms = cfg.s3_timeout_ms});
  const service::ServiceConfig service_config{.account_id = cfg.account_id,
                                              .s3_endpoint = cfg.s3_endpoint,
                                              .max_tags = 50,
                                              .max_rollout_per_minute = cfg.max_rollout_per_minute};
  service::TemplateService templates(service_config, store->get(), &s3, &clock);
  service::RegistryService registry(service_config, store->get(), &clock);
  service::SchedulerConfig scheduler_config;
  scheduler_config.max_rollout_per_minute = cfg.max_rollout_per_minute;
  scheduler_config.time_scale = cfg.time_scale;
  service::Applier applier(store->get());  // the rules, over the store
  service::Scheduler scheduler(scheduler_config, store->get(), &applier, &clock);
  service::JobLimits job_limits;
  job_limits.max_rollout_per_minute = cfg.max_rollout_per_minute;
  service::JobService jobs(service_config, job_limits, store->get(), &s3, &clock,
                           [&scheduler] { scheduler.Poke(); });
  std::optional<s3::SigV4Verifier> verifier;
  std::optional<s3::SigV4Verifier> data_verifier;
  if (!cfg.no_auth) {
    verifier.emplace(*keys);
    data_verifier.emplace(*keys);
  }
  service::RegistrationService registration(service_config, {}, store->get(), &s3, &clock);
  if (Status st = registration.Start(); !st.ok()) return Fail("--store: " + st.message());
  service::DeviceService devices(service_config, store->get(), &s3, &clock, &wall_clock,
                                 [&scheduler] { scheduler.Poke(); });
  // One budget per thing across the MQTT and HTTPS data planes (issue 16, finding 5).
  KeyedRateLimiter device_limiter(
      {.rate_per_second = cfg.device_requests_per_second,
       .burst = cfg.device_burst > 0 ? cfg.device_burst : cfg.device_requests_per_second,
       .max_keys = 100'000},
      &wall_clock);
  api::JobsDataPlane data_plane({.default_region = cfg.region, .account_id = cfg.account_id},
                                &devices, data_verifier ? &*data_verifier : nullptr, &wall_clock);
  if (device_limiter.enabled()) data_plane.SetThingLimiter(&device_limiter);
  api::ControlPlane control({.default_region = cfg.region, .account_id = cfg.account_id},
                            {&templates, &registry, &jobs, &registration},
                            verifier ? &*verifier : nullptr, &clock, &wall_clock);
  control.ServeJobsDataPlane(&data_plane);  // one endpoint for every SDK (AWS_ENDPOINT_URL)

  // Both listeners share the descriptors left after the store, broker and S3 reserve.
  http::ServerOptions control_options;
  control_options.host = cfg.control.host;
  control_options.port = cfg.control.port;
  control_options.io_threads = cfg.io_threads;
  control_options.worker_threads = cfg.worker_threads;
  control_options.name = "control";
  control_options.tls_cert_file = cfg.tls_cert;
  control_options.tls_key_file = cfg.tls_key;
  // Both listeners ask for a device certificate: on the control listener a certificate-only
  // caller is refused with AccessDeniedException (a device has no control-plane rights).
  control_options.client_ca_file = cfg.device_ca;
  control_options.max_connections =
      cfg.max_connections > 0 ? cfg.max_connections : http::DefaultMaxConnections(2);
  http::ServerOptions jobs_options = control_options;
  jobs_options.host = cfg.jobs.host;
  jobs_options.port = cfg.jobs.port;
  jobs_options.name = "jobs-data";
  // Every valid body is small (the models cap documents at 32 KB): see kControlBodyLimit.
  control_options.max_body_bytes = kControlBodyLimit;
  jobs_options.max_body_bytes = kJobsBodyLimit;
  // Credentials are checked before a body is read; under --no-auth there is nothing to check.
  if (verifier) {
    control_options.header_check = [&](const http::Request& h) { return control.CheckHeaders(h); };
    jobs_options.header_check = [&](const http::Request& h) { return data_plane.CheckHeaders(h); };
  }
  http::Server control_server(control_options, [&](http::Request& r) { return control.Handle(r); });
  if (Status st = control_server.Start(); !st.ok())
    return Fail("--control-listen: " + st.message());
  http::Server jobs_server(jobs_options, [&](http::Request& r) { return data_plane.Handle(r); });
  if (Status st = jobs_server.Start(); !st.ok()) return Fail("--jobs-listen: " + st.message());
  scheduler.Start();

  // The MQTT jobs API through the broker.
  std::optional<device::JobsMqtt> jobs_mqtt;
  std::optional<device::MosquittoClient> mqtt;
  if (cfg.mqtt_url) {
    device::JobsMqttConfig mqtt_config;
    mqtt_config.region = cfg.region;
    mqtt_config.worker_threads = cfg.mqtt_workers;
    mqtt_config.shared_group = cfg.mqtt_shared_group;
    mqtt_config.limiter = &device_limiter;
    jobs_mqtt.emplace(mqtt_config, &devices);
    // A device listener that takes the client id from the certificate (use_username_as_clientid)
    // keeps devices out of iotjobsd's session unless a certificate names that id: a thing name.
    if (std::all_of(cfg.mqtt_client_id.begin(), cfg.mqtt_client_id.end(), [](unsigned char c) {
          return std::isalnum(c) || c == ':' || c == '_' || c == '-';
        })) {
      log->warn(
          "--mqtt-client-id {} could be a thing name: a device certificate for a thing of that "
          "name could take over iotjobsd's session; use an id with a '.' (default "
          "iotjobsd.service)",
          cfg.mqtt_client_id);
    }
    mqtt.emplace(
        device::MosquittoOptions{.host = cfg.mqtt_url->host,
                                 .port = cfg.mqtt_url->port,
                                 .username = cfg.mqtt_url->user,
                                 .password = cfg.mqtt_url->password,
                                 .client_id = cfg.mqtt_client_id,
                                 .keepalive_seconds = 30,
                                 .subscriptions = jobs_mqtt->Subscriptions(),
                                 .unsubscriptions = jobs_mqtt->StaleSubscriptions()},
        [&](const std::string& topic, const std::string& payload) {
          jobs_mqtt->OnMessage(topic, payload);
        },
        [&] { jobs_mqtt->OnConnected(); });
    // The broker is optional at start: the client connects (and reconnects) in the background,
    // and nothing is published before it is connected.
    jobs_mqtt->Start(&*mqtt, &wall_clock);
    if (Status st = mqtt->Start(); !st.ok()) return Fail(st.message());
  }
  if (cfg.time_scale != 1.0)
    log->info("service clock runs {}x faster than wall time", cfg.time_scale);
  log->info("store sqlite:{} (schema v{})", cfg.sqlite_path, store::SqliteStore::SchemaVersion());
  if (descriptor_limit == RLIM_INFINITY) {
    log->info("descriptor limit: unlimited");
  } else if (descriptor_limit > 0) {
    log->info("descriptor limit: {} (soft limit raised to the hard limit)", descriptor_limit);
  }
  const std::string scheme = cfg.tls_cert.empty() ? "http://" : "https://";
  std::cout << "iotjobsd ready control=" << scheme << cfg.control.host << ":"
            << control_server.port() << " jobs=" << scheme << cfg.jobs.host << ":"
            << jobs_server.port() << " region=" << cfg.region << " account=" << cfg.account_id
            << std::endl;

  int sig = 0;
  for (;;) {
    sigwait(&stop_signals, &sig);
    if (sig != SIGHUP) break;
    // New connections get the new certificate; a file that cannot be used keeps the old one
    // (each listener logs why).
    log->info("SIGHUP: reloading the TLS certificate");
    (void)control_server.ReloadTls();
    (void)jobs_server.ReloadTls();
  }
  log->info("signal {} received: finishing requests in flight, then stopping", sig);
  control_server.Stop();
  if (mqtt) mqtt->Stop();
  if (jobs_mqtt) jobs_mqtt->Stop();
  jobs_server.Stop();
  scheduler.Stop();
  registration.Stop();
  store->reset();  // drains queued writes and closes the database
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
  return iotjobs::server::Run(std::move(cfg));
}
