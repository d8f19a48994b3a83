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
// Runs on an I/O thread once a request head is parsed, before any byte of its body is read
// (`head.body` is empty). Must be cheap and must not block. A Response answers the request at
// once and closes the connection without reading the body; nullopt lets the request proceed.
using HeaderCheck = std::function<std::optional<Response>(const Request& head)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: pick a free port (see Server::port())
  int io_threads = 1;
  int worker_threads = 32;  // blocking handlers; also the group-commit batch ceiling
  // Threads for GET/HEAD handlers; 0: one per CPU core, at least 2, at most worker_threads. Reads
  // are short CPU work, so threads beyond the cores only add wake-ups and lock convoys.
  int read_worker_threads = 0;
  size_t max_body_bytes = 1 << 20;  // larger bodies get 413 (before they are read)
  // Optional pre-body check (e.g. the credentials' form, key and date); absent: every head
  // proceeds.
  HeaderCheck header_check;
  // Bytes of request bodies being read or handled at once, over every connection; a request whose
  // body would exceed it gets 503 ServiceUnavailableException (SDKs retry it) without its body
  // being read. A body costs its Content-Length, or max_body_bytes when chunked.
  size_t max_inflight_body_bytes = 64 << 20;
  // A connection not yet served (no authenticated request answered) must deliver each request
  // head within header_timeout, and a body within header_timeout plus its length at
  // min_body_bytes_per_second; stalled peers are dropped without an answer. A served
  // connection may idle between requests for idle_timeout.
  std::chrono::milliseconds header_timeout{10000};
  size_t min_body_bytes_per_second = 64 * 1024;
  std::chrono::milliseconds idle_timeout{120000};
  std::string name = "http";  // for logs
  // Open connections this listener keeps; 0: DefaultMaxConnections(1). A connection accepted at
  // the cap sheds the oldest idle connection (one waiting for a request), or is closed at once
  // when none is idle. Accept failing for lack of descriptors (EMFILE/ENFILE) also sheds the
  // oldest idle connections and retries after a back-off growing from 10 ms to 1 s; its log line
  // is written at most once per 5 s, with the number of failures it stands for.
  int max_connections = 0;
  // HTTPS: with both set, connections speak TLS (1.2 or later) with this PEM certificate chain and
  // key. Start fails naming the file when either cannot be used or they do not match.
  std::string tls_cert_file, tls_key_file;
  // With TLS: request a client certificate and verify it against this PEM CA bundle. A peer that
  // presents one that verifies gets its subject CN in Request::peer_identity; a peer that presents
  // none is served without one; a certificate that does not verify fails the handshake.
  std::string client_ca_file;
};

// Loads the TLS files of `options` (tls_cert_file, tls_key_file, client_ca_file) as Start would;
// InvalidRequest naming the file and the reason when one cannot be used. For start-up checks.
Status CheckTlsFiles(const ServerOptions& options);

// Descriptors kept free of HTTP connections for the store, the MQTT client, S3 fetches and logs.
inline constexpr int kReservedDescriptors = 256;
// (RLIMIT_NOFILE soft limit - kReservedDescriptors) / listeners, at least 16.
int DefaultMaxConnections(int listeners);

class Server {
 public:
  Server(ServerOptions options, Handler handler);
  ~Server();

  // Binds and starts serving. InvalidRequest when the address cannot be bound.
  Status Start();
  // Re-reads the TLS files (e.g. on SIGHUP): new connections get the new certificate, open ones
  // keep theirs. On error the current certificate stays, the reason is logged and returned.
  // Ok and nothing happens without TLS.
  Status ReloadTls();
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
