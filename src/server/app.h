// App: one whole iotjobsd — store, S3 client, services, scheduler, the MQTT device plane and both
// HTTP listeners — wired from a ServerConfig, started and stopped as a unit. main.cc wraps it with
// flags, signals and logging; tests run it in-process (port 0 on both listeners, a temporary
// --data-dir) and drive it over real sockets.
//
// Contract:
// - Start() takes a config Validate() accepted. It creates the data directory, loads the
//   credentials (unless --no-auth and the file is absent), checks the TLS files, opens the store,
//   starts the services, both listeners, the scheduler and (with --mqtt) the MQTT client, which
//   connects in the background. On failure everything started so far is stopped and the error's
//   message is the one line iotjobsd prints (e.g. "--control-listen: address in use").
// - Start() installs no signal handler and changes no process-wide state except the data
//   directory: signal masks, SIGXFSZ and the descriptor limit are the caller's (main.cc sets them
//   before Start, so every thread App starts inherits the mask).
// - Stop() stops accepting, answers the requests in flight, stops MQTT, the scheduler and the
//   registration worker, drains queued writes and closes the database; it joins every thread App
//   started. Idempotent; the destructor calls it.
//
// Thread safety: Start/Stop from one thread; the accessors and ReloadTls from any thread between
// them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "server/config.h"

namespace iotjobs::server {

class App {
 public:
  static Result<std::unique_ptr<App>> Start(const ServerConfig& cfg);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  // The ports the listeners actually bound (the configured ones, or the picked ones for port 0).
  uint16_t control_port() const { return control_port_; }
  uint16_t jobs_port() const { return jobs_port_; }
  // "http://host:port" or "https://host:port".
  std::string control_endpoint() const;
  std::string jobs_endpoint() const;

  // Re-reads --tls-cert / --tls-key for new connections; a file that cannot be used keeps the old
  // certificate (each listener logs why). No-op without TLS.
  void ReloadTls();
  void Stop();

 private:
  struct Parts;
  App();
  Status Build(const ServerConfig& cfg);
  Status BuildCore(const ServerConfig& cfg);
  Status BuildListeners(const ServerConfig& cfg);
  Status StartMqtt(const ServerConfig& cfg);

  std::unique_ptr<Parts> p_;
  std::string scheme_, control_host_, jobs_host_;
  uint16_t control_port_ = 0, jobs_port_ = 0;
  bool stopped_ = false;
};

}  // namespace iotjobs::server
