// http::Server: an HTTP/1.1 keep-alive listener (Boost.Beast) with no domain knowledge.
//
// Threading: `io_threads` threads run the sockets (accept, parse, write) and never block. Each
// parsed request is handed to `handler` on a worker thread, where blocking work (database, S3) is
// allowed; the response is written back on the connection's strand. GET and HEAD requests (safe
// methods: reads) run on a small pool of `read_worker_threads`; every other method on the
// `worker_threads` pool, whose size bounds how many writes can wait in one group commit. Requests
// on one connection are answered in order (one in flight per connection).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace iotjobs::http {

struct Request {
  std::string method;  // "GET", "PUT", ...
  std::string path;    // raw, percent-encoded, without the query
  std::string query;   // raw, without '?'
  std::vector<std::pair<std::string, std::string>> headers;  // names as received
  std::string body;
  // The first header named `name` (case-insensitive), or empty.
  std::string Header(std::string_view name) const;
  std::optional<std::string>
      peer_identity;  // CN of a verified client certificate (mutual TLS); empty otherwise.
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type = "application/json";
};

using Handler = std::function<Response(Request&)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: pick a free port (see Server::port())
  int io_threads = 1;
  int worker_threads = 32;  // blocking handlers; also the group-commit batch ceiling
  // Threads for GET/HEAD handlers; 0: one per CPU core, at least 2, at most worker_threads. Reads
  // are short CPU work, so threads beyond the cores only add wake-ups and lock convoys.
  int read_worker_threads = 0;
  size_t max_body_bytes = 1 << 20;  // larger bodies get 413
  std::string name = "http";        // for logs
};

class Server {
 public:
  Server(ServerOptions options, Handler handler);
  ~Server();

  // Binds and starts serving. InvalidRequest when the address cannot be bound.
  Status Start();
  // The bound port (after Start).
  uint16_t port() const;
  // Stops accepting, waits up to `grace` for requests in flight to be answered, then closes
  // everything. Idempotent.
  void Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(10000));

  struct Impl;  // public so the connection type in server.cc can name it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace iotjobs::http
