#include "server/app.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <optional>

#include "api/control_plane.h"
#include "api/jobs_data_plane.h"
#include "common/credentials.h"
#include "common/logging.h"
#include "common/rate_limiter.h"
#include "device/jobs_mqtt.h"
#include "device/mqtt_client.h"
#include "http/server.h"
#include "s3/s3_client.h"
#include "service/applier.h"
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

Status Failed(std::string message) { return Status::InvalidRequest(std::move(message)); }

}  // namespace

// Every part of the process, declared in the order it is built: destroyed in reverse, so nothing
// outlives what it points to.
struct App::Parts {
  explicit Parts(double time_scale) : clock(time_scale) {}

  SystemClock clock;            // the service clock (--time-scale)
  SystemClock wall_clock{1.0};  // SigV4 dates are wall-clock time whatever the time scale
  std::optional<CredentialSet> keys;
  std::unique_ptr<store::SqliteStore> store;
  std::optional<service::Applier> applier;  // the rules, over the store
  std::optional<s3::S3Client> s3;
  std::optional<service::TemplateService> templates;
  std::optional<service::RegistryService> registry;
  std::optional<service::Scheduler> scheduler;
  std::optional<service::JobService> jobs;
  std::optional<service::RegistrationService> registration;
  std::optional<service::DeviceService> devices;
  std::optional<KeyedRateLimiter> device_limiter;
  std::optional<s3::SigV4Verifier> verifier, data_verifier;
  std::optional<api::JobsDataPlane> data_plane;
  std::optional<api::ControlPlane> control;
  std::optional<http::Server> control_server, jobs_server;
  std::optional<device::JobsMqtt> jobs_mqtt;
  std::optional<device::MosquittoClient> mqtt;
  bool scheduler_started = false;
  bool registration_started = false;
};

App::App() = default;
App::~App() { Stop(); }

Result<std::unique_ptr<App>> App::Start(const ServerConfig& cfg) {
  std::unique_ptr<App> app(new App());
  if (Status st = app->Build(cfg); !st.ok()) {
    app->Stop();  // what was started, in order
    return st;
  }
  return app;
}

Status App::Build(const ServerConfig& cfg) {
  auto log = Logger("server");
  p_ = std::make_unique<Parts>(cfg.time_scale);
  scheme_ = cfg.tls_cert.empty() ? "http://" : "https://";
  control_host_ = cfg.control.host;
  jobs_host_ = cfg.jobs.host;

  std::error_code ec;
  std::filesystem::create_directories(cfg.data_dir, ec);
  if (ec) return Failed("--data-dir: cannot create " + cfg.data_dir + ": " + ec.message());
  if (auto parent = std::filesystem::path(cfg.sqlite_path).parent_path(); !parent.empty()) {
    std::filesystem::create_directories(parent, ec);
  }

  if (!cfg.no_auth || std::filesystem::exists(cfg.credentials)) {
    auto loaded = LoadCredentialsFile(cfg.credentials);
    if (!loaded.ok()) {
      return Failed(
          loaded.status().message() +
          (cfg.no_auth ? "" : "; pass --credentials FILE, or --no-auth for local experiments"));
    }
    p_->keys = std::move(loaded).value();
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
    if (Status st = http::CheckTlsFiles(tls); !st.ok()) return Failed(st.message());
  }

  IOTJOBS_RETURN_IF_ERROR(BuildCore(cfg));
  IOTJOBS_RETURN_IF_ERROR(BuildListeners(cfg));
  p_->scheduler->Start();
  p_->scheduler_started = true;
  IOTJOBS_RETURN_IF_ERROR(StartMqtt(cfg));

  if (cfg.time_scale != 1.0)
    log->info("service clock runs {}x faster than wall time", cfg.time_scale);
  log->info("store sqlite:{} (schema v{})", cfg.sqlite_path, store::SqliteStore::SchemaVersion());
  return Status::Ok();
}

// The store and every service over it, in one place: what each use case is built from.
Status App::BuildCore(const ServerConfig& cfg) {
  Parts& p = *p_;
  // With MQTT the store also keeps an outbox of changed things for notify / notify-next.
  auto store = store::SqliteStore::Open(
      {.path = cfg.sqlite_path, .track_thing_changes = cfg.mqtt_url.has_value()});
  if (!store.ok()) return Failed("--store: " + store.status().message());
  p.store = std::move(store).value();
  store::Store* db = p.store.get();
  p.applier.emplace(db);

  p.s3.emplace(s3::S3Client::Options{.endpoint = cfg.s3_endpoint,
                                     .region = cfg.s3_region,
                                     .credentials = p.keys ? p.keys->primary : Credentials{},
                                     .total_timeout_ms = cfg.s3_timeout_ms});
  const service::ServiceConfig service_config{.account_id = cfg.account_id,
                                              .s3_endpoint = cfg.s3_endpoint,
                                              .max_tags = 50,
                                              .max_rollout_per_minute = cfg.max_rollout_per_minute};
  p.templates.emplace(service_config, db, &*p.s3, &p.clock);
  p.registry.emplace(service_config, db, &p.clock);
  service::SchedulerConfig scheduler_config;
  scheduler_config.max_rollout_per_minute = cfg.max_rollout_per_minute;
  scheduler_config.time_scale = cfg.time_scale;
  p.scheduler.emplace(scheduler_config, db, &*p.applier, &p.clock);
  service::JobLimits job_limits;
  job_limits.max_rollout_per_minute = cfg.max_rollout_per_minute;
  auto poke = [this] { p_->scheduler->Poke(); };
  p.jobs.emplace(service_config, job_limits, db, &*p.applier, &*p.s3, &p.clock, poke);
  p.registration.emplace(service_config, service::RegistrationConfig{}, db, &*p.s3, &p.clock);
  if (Status st = p.registration->Start(); !st.ok()) return Failed("--store: " + st.message());
  p.registration_started = true;
  p.devices.emplace(service_config, db, &*p.applier, &*p.s3, &p.clock, &p.wall_clock, poke);
  return Status::Ok();
}

Status App::BuildListeners(const ServerConfig& cfg) {
  Parts& p = *p_;
  if (!cfg.no_auth) {
    p.verifier.emplace(*p.keys);
    p.data_verifier.emplace(*p.keys);
  }
  // One budget per thing across the MQTT and HTTPS data planes (issue 16, finding 5).
  p.device_limiter.emplace(
      RateLimiterConfig{
          .rate_per_second = cfg.device_requests_per_second,
          .burst = cfg.device_burst > 0 ? cfg.device_burst : cfg.device_requests_per_second,
          .max_keys = 100'000},
      &p.wall_clock);
  p.data_plane.emplace(api::ApiConfig{.default_region = cfg.region, .account_id = cfg.account_id},
                       &*p.devices, p.data_verifier ? &*p.data_verifier : nullptr, &p.wall_clock);
  if (p.device_limiter->enabled()) p.data_plane->SetThingLimiter(&*p.device_limiter);
  p.control.emplace(
      api::ApiConfig{.default_region = cfg.region, .account_id = cfg.account_id},
      api::ControlPlane::Services{&*p.templates, &*p.registry, &*p.jobs, &*p.registration},
      p.verifier ? &*p.verifier : nullptr, &p.clock, &p.wall_clock);
  p.control->ServeJobsDataPlane(&*p.data_plane);  // one endpoint for every SDK (AWS_ENDPOINT_URL)

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
  api::ControlPlane* control = &*p.control;
  api::JobsDataPlane* data_plane = &*p.data_plane;
  if (p.verifier) {
    control_options.header_check = [control](const http::Request& h) {
      return control->CheckHeaders(h);
    };
    jobs_options.header_check = [data_plane](const http::Request& h) {
      return data_plane->CheckHeaders(h);
    };
  }
  p.control_server.emplace(control_options,
                           [control](http::Request& r) { return control->Handle(r); });
  if (Status st = p.control_server->Start(); !st.ok()) {
    return Failed("--control-listen: " + st.message());
  }
  p.jobs_server.emplace(jobs_options,
                        [data_plane](http::Request& r) { return data_plane->Handle(r); });
  if (Status st = p.jobs_server->Start(); !st.ok()) return Failed("--jobs-listen: " + st.message());
  control_port_ = p.control_server->port();
  jobs_port_ = p.jobs_server->port();
  return Status::Ok();
}

// The MQTT jobs API through the broker.
Status App::StartMqtt(const ServerConfig& cfg) {
  if (!cfg.mqtt_url) return Status::Ok();
  Parts& p = *p_;
  device::JobsMqttConfig mqtt_config;
  mqtt_config.region = cfg.region;
  mqtt_config.worker_threads = cfg.mqtt_workers;
  mqtt_config.shared_group = cfg.mqtt_shared_group;
  mqtt_config.limiter = &*p.device_limiter;
  p.jobs_mqtt.emplace(mqtt_config, &*p.devices);
  // A device listener that takes the client id from the certificate (use_username_as_clientid)
  // keeps devices out of iotjobsd's session unless a certificate names that id: a thing name.
  if (std::all_of(cfg.mqtt_client_id.begin(), cfg.mqtt_client_id.end(), [](unsigned char c) {
        return std::isalnum(c) || c == ':' || c == '_' || c == '-';
      })) {
    Logger("server")->warn(
        "--mqtt-client-id {} could be a thing name: a device certificate for a thing of that "
        "name could take over iotjobsd's session; use an id with a '.' (default "
        "iotjobsd.service)",
        cfg.mqtt_client_id);
  }
  device::JobsMqtt* jobs_mqtt = &*p.jobs_mqtt;
  p.mqtt.emplace(
      device::MosquittoOptions{.host = cfg.mqtt_url->host,
                               .port = cfg.mqtt_url->port,
                               .username = cfg.mqtt_url->user,
                               .password = cfg.mqtt_url->password,
                               .client_id = cfg.mqtt_client_id,
                               .keepalive_seconds = 30,
                               .subscriptions = jobs_mqtt->Subscriptions(),
                               .unsubscriptions = jobs_mqtt->StaleSubscriptions()},
      [jobs_mqtt](const std::string& topic, const std::string& payload) {
        jobs_mqtt->OnMessage(topic, payload);
      },
      [jobs_mqtt] { jobs_mqtt->OnConnected(); });
  // The broker is optional at start: the client connects (and reconnects) in the background,
  // and nothing is published before it is connected.
  jobs_mqtt->Start(&*p.mqtt, &p.wall_clock);
  if (Status st = p.mqtt->Start(); !st.ok()) return Failed(st.message());
  return Status::Ok();
}

std::string App::control_endpoint() const {
  return scheme_ + control_host_ + ":" + std::to_string(control_port_);
}
std::string App::jobs_endpoint() const {
  return scheme_ + jobs_host_ + ":" + std::to_string(jobs_port_);
}

void App::ReloadTls() {
  if (stopped_) return;
  (void)p_->control_server->ReloadTls();
  (void)p_->jobs_server->ReloadTls();
}

void App::Stop() {
  if (stopped_ || !p_) return;
  stopped_ = true;
  Parts& p = *p_;
  if (p.control_server) p.control_server->Stop();
  if (p.mqtt) p.mqtt->Stop();
  if (p.jobs_mqtt) p.jobs_mqtt->Stop();
  if (p.jobs_server) p.jobs_server->Stop();
  if (p.scheduler_started) p.scheduler->Stop();
  if (p.registration_started) p.registration->Stop();
  // Destroyed in reverse order of construction; the store last: it drains queued writes and
  // closes the database.
  p_.reset();
}

}  // namespace iotjobs::server
