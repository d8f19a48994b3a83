#include "http/server.h"

#include <malloc.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <list>
#include <thread>

#include "common/logging.h"

namespace iotjobs::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

std::string Request::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (beast::iequals(k, name)) return v;
  }
  return {};
}

namespace {

size_t ReadWorkers(const ServerOptions& o) {
  if (o.read_worker_threads > 0) return static_cast<size_t>(o.read_worker_threads);
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  return static_cast<size_t>(std::max(1, std::min(o.worker_threads, std::max(2, cores))));
}

}  // namespace

int DefaultMaxConnections(int listeners) {
  rlimit rl{};
  long soft = 1024;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    soft = static_cast<long>(std::min<rlim_t>(rl.rlim_cur, 1 << 24));
  } else if (rl.rlim_cur == RLIM_INFINITY) {
    soft = 1 << 20;
  }
  const long per = (soft - kReservedDescriptors) / std::max(1, listeners);
  return static_cast<int>(std::max(16L, per));
}

namespace {

// A TLS context from the options' PEM files; the error names the file and OpenSSL's reason.
Result<std::shared_ptr<ssl::context>> LoadTls(const ServerOptions& o) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  beast::error_code ec;
  ctx->use_certificate_chain_file(o.tls_cert_file, ec);
  if (ec) {
    return Status::InvalidRequest("cannot use TLS certificate '" + o.tls_cert_file +
                                  "': " + ec.message());
  }
  ctx->use_private_key_file(o.tls_key_file, ssl::context::pem, ec);
  if (ec) {
    return Status::InvalidRequest("cannot use TLS key '" + o.tls_key_file + "': " + ec.message());
  }
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    return Status::InvalidRequest("TLS key '" + o.tls_key_file +
                                  "' does not match the certificate '" + o.tls_cert_file + "'");
  }
  if (!o.client_ca_file.empty()) {
    ctx->load_verify_file(o.client_ca_file, ec);
    if (ec) {
      return Status::InvalidRequest("cannot use client CA '" + o.client_ca_file +
                                    "': " + ec.message());
    }
    // Ask for a certificate; a peer without one is still served (SigV4), a peer whose
    // certificate does not verify fails the handshake.
    ctx->set_verify_mode(ssl::verify_peer);
  }
  return ctx;
}

// The CN of the peer's certificate when it presented one that verified; nullopt otherwise.
std::optional<std::string> VerifiedPeerName(beast::ssl_stream<beast::tcp_stream>& stream) {
  SSL* ssl = stream.native_handle();
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (!cert) return std::nullopt;
  std::optional<std::string> out;
  if (SSL_get_verify_result(ssl) == X509_V_OK) {
    char cn[256];
    int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
    if (n > 0) out = std::string(cn, static_cast<size_t>(n));
  }
  X509_free(cert);
  return out;
}

}  // namespace

Status CheckTlsFiles(const ServerOptions& options) { return LoadTls(options).status(); }

// One open connection as the listener's registry sees it (all fields guarded by
// Server::Impl::conns_mu). Sessions register on start and leave in their destructor.
class Conn {
 public:
  virtual ~Conn() = default;
  // Closes the connection from its own strand (thread-safe). Called on a shared_ptr the registry
  // took while the connection was alive.
  virtual void Shed() = 0;
  virtual std::shared_ptr<Conn> Lock() = 0;  // empty once the connection is being destroyed

  bool idle = true;       // waiting for a request head (no request in progress)
  bool shedding = false;  // Shed() called; no longer counts against the cap
  std::list<Conn*>::iterator pos;
};

struct Server::Impl {
  ServerOptions options;
  Handler handler;
  // Open connections, oldest-idle first: a connection moves to the back whenever it becomes idle,
  // so the first idle one from the front has waited longest. Declared before `ioc`: destroying
  // it destroys pending handlers, and with them sessions that unregister here.
  std::mutex conns_mu;
  std::list<Conn*> conns;
  size_t shedding = 0;  // connections in `conns` already told to close
  const size_t max_connections;
  asio::io_context ioc;
  std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>> work;
  tcp::acceptor acceptor{ioc};
  // Two pools, so a burst of writes waiting on a group commit never delays reads, and reads do not
  // pay for the write pool's size: with one pool of worker_threads (64), nearly every request woke
  // a sleeping thread, and futex wake-ups and lock hand-offs took about a third of the server's CPU
  // in the describe benchmark (bench/control_plane_bench). A read pool about the size of the core
  // count stays busy under load and rarely sleeps.
  asio::thread_pool workers;       // every method but GET and HEAD
  asio::thread_pool read_workers;  // GET and HEAD
  std::vector<std::thread> io_threads;
  std::atomic<int> in_flight{0};
  std::mutex mu;
  std::condition_variable idle;
  std::atomic<bool> stopped{false};
  std::shared_ptr<spdlog::logger> log;

  // Accept back-off (only the accept handler and its timer touch these; one accept is pending at
  // a time, so they never run concurrently).
  asio::steady_timer accept_timer{ioc};
  std::chrono::milliseconds backoff{0};
  std::chrono::steady_clock::time_point last_accept_log{};
  uint64_t accept_failures = 0;  // since the last log line
  uint64_t refused = 0;          // since the last log line

  Impl(ServerOptions o, Handler h)
      : options(std::move(o)),
        handler(std::move(h)),
        max_connections(static_cast<size_t>(
            options.max_connections > 0 ? options.max_connections : DefaultMaxConnections(1))),
        workers(static_cast<size_t>(options.worker_threads)),
        read_workers(ReadWorkers(options)),
        log(Logger(options.name)) {}

  // HTTPS: the context new connections get (replaced by ReloadTls; connections keep theirs).
  std::mutex tls_mu;
  std::shared_ptr<ssl::context> tls;
  std::shared_ptr<ssl::context> Tls() {
    std::lock_guard lock(tls_mu);
    return tls;
  }

  void Accept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  void LogAcceptTrouble(const std::string& what);

  // In-flight request bodies (bytes reserved when a head announces them, released once the
  // handler has returned); over options.max_inflight_body_bytes a request gets 503.
  std::atomic<size_t> body_bytes{0};
  bool ReserveBody(size_t n) {
    size_t cur = body_bytes.load();
    do {
      if (cur + n > options.max_inflight_body_bytes) return false;
    } while (!body_bytes.compare_exchange_weak(cur, cur + n));
    return true;
  }
  void ReleaseBody(size_t n);
  // On a worker thread, after a handler: malloc_trim once the last large body is gone.
  void MaybeReturnMemory();
  static constexpr size_t kTrimAfterBodyBytes = 64 * 1024;
  std::atomic<bool> large_body_since_trim{false};

  void Register(Conn* c) {
    std::lock_guard lock(conns_mu);
    c->pos = conns.insert(conns.end(), c);
  }
  void Unregister(Conn* c) {
    std::lock_guard lock(conns_mu);
    if (c->shedding) --shedding;
    conns.erase(c->pos);
  }
  void SetIdle(Conn* c, bool idle) {
    std::lock_guard lock(conns_mu);
    c->idle = idle;
    if (idle) conns.splice(conns.end(), conns, c->pos);
  }
  size_t Live() {
    std::lock_guard lock(conns_mu);
    return conns.size() - shedding;
  }
  // Closes up to `n` of the longest-idle connections; returns how many it closed.
  size_t ShedOldestIdle(size_t n) {
    std::vector<std::shared_ptr<Conn>> victims;
    {
      std::lock_guard lock(conns_mu);
      for (Conn* c : conns) {
        if (victims.size() >= n) break;
        if (!c->idle || c->shedding) continue;
        auto alive = c->Lock();
        if (!alive) continue;
        c->shedding = true;
        ++shedding;
        victims.push_back(std::move(alive));
      }
    }
    // Outside the lock: dropping the last reference runs the destructor, which unregisters.
    for (auto& v : victims) v->Shed();
    return victims.size();
  }
  void Done() {
    if (--in_flight == 0) {
      std::lock_guard lock(mu);
      idle.notify_all();
    }
  }
};

namespace {

Response InternalError() {
  return Response{
      500, {{"x-amzn-ErrorType", "InternalFailureException"}}, R"({"message":"internal error"})"};
}

// `message` is plain ASCII without quotes or backslashes (the callers' fixed texts).
Response ErrorResponse(int status, const char* type, const std::string& message) {
  return Response{status,
                  {{"x-amzn-ErrorType", type}},
                  std::string(R"({"message":")") + message + R"(","__type":")" + type + "\"}"};
}

// Bytes of one request body counted against Server::Impl's in-flight budget until destroyed.
struct BodyReservation {
  Server::Impl* server;
  size_t bytes;
  BodyReservation(Server::Impl* s, size_t n) : server(s), bytes(n) {}
  ~BodyReservation();
};

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One connection; Stream is beast::tcp_stream (HTTP) or TlsStream (HTTPS).
template <class Stream>
class Session : public Conn, public std::enable_shared_from_this<Session<Stream>> {
 public:
  // Plain HTTP.
  Session(tcp::socket socket,
          Server::Impl* server) requires std::is_same_v<Stream, beast::tcp_stream>
      : stream_(std::move(socket)), server_(server) {
    server_->Register(this);
  }
  // HTTPS: `tls` (the listener's context when the connection arrived) lives as long as it.
  Session(tcp::socket socket, Server::Impl* server,
          std::shared_ptr<ssl::context> tls) requires std::is_same_v<Stream, TlsStream>
      : tls_(std::move(tls)), stream_(std::move(socket), *tls_), server_(server) {
    server_->Register(this);
  }
  ~Session() override { server_->Unregister(this); }

  void Start() {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      Tcp().expires_after(server_->options.header_timeout);
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return self->Close();  // e.g. an unverified certificate
                                self->peer_identity_ = VerifiedPeerName(self->stream_);
                                self->Read();
                              });
    } else {
      Read();
    }
  }

  void Shed() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->Tcp().close(); });
  }
  std::shared_ptr<Conn> Lock() override { return this->weak_from_this().lock(); }

 private:
  void Read() {
    server_->SetIdle(this, true);
    parser_.emplace();
    parser_->body_limit(server_->options.max_body_bytes);
    parser_->header_limit(kHeaderLimit);
    // A peer that has not yet been served must send a whole request head within header_timeout;
    // a served (authenticated) connection may idle between requests as long as idle_timeout.
    Tcp().expires_after(trusted_ ? server_->options.idle_timeout : server_->options.header_timeout);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&Session::OnHeader, this->shared_from_this()));
  }

  // Ends the connection quietly on the errors that mean the peer is gone, stalled or shed.
  bool Gone(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::error::bad_descriptor || ec == asio::error::eof) {
      Close();
      return true;
    }
    return false;
  }

  void OnHeader(beast::error_code ec, size_t) {
    if (Gone(ec)) return;
    server_->SetIdle(this, false);
    if (ec == bhttp::error::body_limit) return TooLarge();  // Content-Length over the limit
    if (ec) return Reject(400, "InvalidRequestException", "malformed HTTP request");
    const auto& head = parser_->get();
    keep_alive_ = head.keep_alive();
    req_ = Request{};
    req_.peer_identity = peer_identity_;
    req_.method = std::string(head.method_string());
    std::string_view target = head.target();
    size_t q = target.find('?');
    req_.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) req_.query = std::string(target.substr(q + 1));
    for (const auto& f : head)
      req_.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));

    // Finding 3 (issue 16): the request's credentials are checked before any body byte is read,
    // so an unauthenticated peer never makes the server buffer a body.
    if (server_->options.header_check) {
      std::optional<Response> early;
      try {
        early = server_->options.header_check(req_);
      } catch (const std::exception& e) {
        server_->log->error("header check threw: {}", e.what());
        early = InternalError();
      }
      if (early) {
        keep_alive_ = false;
        return Write(std::move(*early));
      }
    }
    const size_t limit = server_->options.max_body_bytes;
    const auto length = parser_->content_length();
    if (length && *length > limit) return TooLarge();
    // What the body may cost: its announced length, or the limit for a chunked body.
    const size_t cost = length ? static_cast<size_t>(*length) : (parser_->chunked() ? limit : 0);
    if (cost > 0) {
      if (!server_->ReserveBody(cost)) {
        return Reject(503, "ServiceUnavailableException",
                      "too many request bodies in flight; retry later");
      }
      reservation_ = std::make_shared<BodyReservation>(server_, cost);
    }
    if (parser_->is_done()) return OnBody({}, 0);
    // The body must arrive at min_body_bytes_per_second at least, after header_timeout of grace.
    const auto per_second = std::max<size_t>(1, server_->options.min_body_bytes_per_second);
    Tcp().expires_after(server_->options.header_timeout +
                        std::chrono::milliseconds(cost * 1000 / per_second));
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::OnBody, this->shared_from_this()));
  }

  void OnBody(beast::error_code ec, size_t) {
    if (Gone(ec)) {
      reservation_.reset();
      return;
    }
    if (ec == bhttp::error::body_limit) return TooLarge();
    if (ec) return Reject(400, "InvalidRequestException", "malformed HTTP request");
    // Count the request before looking at `stopped`: Stop() sets the flag and then waits for
    // in_flight to reach zero, so either it sees this request or this request sees the flag.
    ++server_->in_flight;
    if (server_->stopped) {
      server_->Done();
      reservation_.reset();
      return Close();
    }
    auto msg = parser_->release();
    Request req = std::move(req_);
    req.body = std::move(msg.body());

    // Already counted in flight above; Done() runs once the response is on the wire.
    // Safe methods only read: they go to the small read pool (see Server::Impl).
    const bool read = msg.method() == bhttp::verb::get || msg.method() == bhttp::verb::head;
    auto& pool = read ? server_->read_workers : server_->workers;
    asio::post(pool, [self = this->shared_from_this(), req = std::move(req),
                      reservation = std::move(reservation_)]() mutable {
      Response resp;
      try {
        resp = self->server_->handler(req);
      } catch (const std::exception& e) {
        self->server_->log->error("handler threw: {}", e.what());
        resp = InternalError();
      } catch (...) {
        // Anything else would escape the worker thread and terminate the whole process.
        self->server_->log->error("handler threw a non-std::exception");
        resp = InternalError();
      }
      req = Request{};      // the body's memory goes back before the response is written
      reservation.reset();  // and the budget with it
      self->server_->MaybeReturnMemory();
      asio::post(self->stream_.get_executor(), [self, resp = std::move(resp)]() mutable {
        self->counted_ = true;
        // A connection whose request was authenticated (not refused as unsigned or badly
        // signed) earns the long keep-alive idle timeout.
        if (resp.status != 401 && resp.status != 403) self->trusted_ = true;
        self->Tcp().expires_after(self->server_->options.idle_timeout);
        self->Write(std::move(resp));
      });
    });
  }

  void TooLarge() {
    reservation_.reset();
    Reject(413, "InvalidRequestException",
           "request body too large: at most " + std::to_string(server_->options.max_body_bytes) +
               " bytes");
  }

  // An answer from the HTTP layer itself, in the AWS restJson1 error shape; the connection closes
  // after it (the rest of the request is not read).
  void Reject(int status, const char* type, const std::string& message) {
    keep_alive_ = false;
    Write(ErrorResponse(status, type, message));
  }

  void Write(Response resp) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
    res->result(static_cast<unsigned>(resp.status));
    res->version(11);
    res->set(bhttp::field::server, "iotjobsd");
    res->set(bhttp::field::content_type, resp.content_type);
    for (auto& [k, v] : resp.headers) res->set(k, v);
    res->body() = std::move(resp.body);
    res->keep_alive(keep_alive_ && !server_->stopped);
    res->prepare_payload();
    bhttp::async_write(stream_, *res,
                       [self = this->shared_from_this(), res](beast::error_code ec, size_t) {
                         // A request counts as in flight until its response is on the wire.
                         if (self->counted_) {
                           self->counted_ = false;
                           self->server_->Done();
                         }
                         if (ec) return self->Close();
                         if (!res->keep_alive()) return self->LingeringClose();
                         self->Read();
                       });
  }

  void Close() {
    beast::error_code ec;
    Tcp().socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  // After an answer that leaves the rest of a request unread (401/403/413/503 before the body):
  // closing at once would reset the connection, and the peer's TCP stack would drop our answer
  // unread. So stop sending, then read and discard what the peer still sends, for at most
  // kLingerTime and kLingerBytes (into a 4 KB scratch buffer), and only then close.
  void LingeringClose() {
    Close();
    Tcp().expires_after(kLingerTime);
    lingered_ = 0;
    drain_ = std::make_unique<std::array<char, 4096>>();
    Drain();
  }
  void Drain() {
    Tcp().async_read_some(asio::buffer(drain_->data(), drain_->size()),
                          [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                            self->lingered_ += n;
                            if (!ec && self->lingered_ < kLingerBytes) self->Drain();
                          });
  }
  static constexpr std::chrono::seconds kLingerTime{2};
  static constexpr size_t kLingerBytes = 4 << 20;

  static constexpr uint32_t kHeaderLimit = 16 * 1024;

  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(stream_); }

  std::shared_ptr<ssl::context> tls_;  // HTTPS only; before stream_, which refers to it
  Stream stream_;
  std::optional<std::string> peer_identity_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Server::Impl* server_;
  Request req_;  // the head of the request being read
  std::shared_ptr<BodyReservation> reservation_;
  bool keep_alive_ = true;
  bool counted_ = false;
  bool trusted_ = false;  // served an authenticated request: idle_timeout applies
  size_t lingered_ = 0;
  std::unique_ptr<std::array<char, 4096>> drain_;  // only while lingering
};

}  // namespace

BodyReservation::~BodyReservation() { server->ReleaseBody(bytes); }

void Server::Impl::ReleaseBody(size_t n) {
  if (n >= kTrimAfterBodyBytes) large_body_since_trim = true;
  body_bytes -= n;
}

void Server::Impl::MaybeReturnMemory() {
  // Finding 4 (issue 16): after a burst of large requests glibc kept most of the peak (663 MB of
  // 1.27 GB) in its arenas. Once no body is in flight, hand the free pages back to the system.
  if (body_bytes.load() == 0 && large_body_since_trim.exchange(false)) malloc_trim(0);
}

void Server::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    OnAccept(ec, std::move(socket));
  });
}

// Finding 2 of issue 16: with the descriptors exhausted, accept failed with EMFILE and was retried
// at once (a core at 100 %, hundreds of MB of log). Now: shed idle connections, back off, and
// write one log line per 5 s.
void Server::Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (stopped || ec == asio::error::operation_aborted) return;
  if (ec) {
    const bool exhausted = ec == asio::error::no_descriptors ||                         // EMFILE
                           ec == boost::system::errc::too_many_files_open_in_system ||  // ENFILE
                           ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
    ++accept_failures;
    if (!exhausted) {  // e.g. ECONNABORTED: that one connection is gone; the next may be fine
      LogAcceptTrouble("accept failed: " + ec.message());
      return Accept();
    }
    // Free some descriptors: the longest-idle connections first (at least one, ~2 % of them).
    const size_t shed = ShedOldestIdle(std::max<size_t>(1, Live() / 50));
    backoff = std::min(std::chrono::milliseconds(1000),
                       backoff.count() == 0 ? std::chrono::milliseconds(10) : backoff * 2);
    LogAcceptTrouble("accept failed: " + ec.message() + "; shed " + std::to_string(shed) +
                     " idle connections, retrying in " + std::to_string(backoff.count()) + " ms");
    accept_timer.expires_after(backoff);
    accept_timer.async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec && !stopped) Accept();
    });
    return;
  }
  backoff = std::chrono::milliseconds(0);
  if (Live() >= max_connections && ShedOldestIdle(1) == 0) {
    // Every connection is busy: refuse this one rather than exceed the cap.
    ++refused;
    socket.close(ec);
    LogAcceptTrouble("refusing connections: " + std::to_string(max_connections) +
                     " open and none idle (--max-connections)");
  } else {
    socket.set_option(tcp::no_delay(true), ec);
    if (auto tls = Tls()) {
      std::make_shared<Session<TlsStream>>(std::move(socket), this, std::move(tls))->Start();
    } else {
      std::make_shared<Session<beast::tcp_stream>>(std::move(socket), this)->Start();
    }
  }
  Accept();
}

void Server::Impl::LogAcceptTrouble(const std::string& what) {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_accept_log < std::chrono::seconds(5)) return;
  log->warn("{} ({} accept failures, {} refused connections since the last such line)", what,
            accept_failures, refused);
  last_accept_log = now;
  accept_failures = 0;
  refused = 0;
}

Server::Server(ServerOptions options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

Server::~Server() { Stop(std::chrono::milliseconds(0)); }

Status Server::Start() {
  auto& o = impl_->options;
  if (!o.tls_cert_file.empty() || !o.tls_key_file.empty()) {
    auto tls = LoadTls(o);
    if (!tls.ok()) return Status::InvalidRequest(o.name + ": " + tls.status().message());
    impl_->tls = std::move(tls).value();
  }
  beast::error_code ec;
  auto address = asio::ip::make_address(o.host, ec);
  if (ec) return Status::InvalidRequest(o.name + ": '" + o.host + "' is not an IP address");
  tcp::endpoint ep(address, o.port);
  impl_->acceptor.open(ep.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(ep, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::InvalidRequest(o.name + ": cannot listen on " + o.host + ":" +
                                  std::to_string(o.port) + ": " + ec.message());
  }
  impl_->work = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(
      impl_->ioc.get_executor());
  impl_->Accept();
  for (int i = 0; i < std::max(1, o.io_threads); ++i) {
    impl_->io_threads.emplace_back([this] { impl_->ioc.run(); });
  }
  return Status::Ok();
}

Status Server::ReloadTls() {
  const auto& o = impl_->options;
  if (o.tls_cert_file.empty() && o.tls_key_file.empty()) return Status::Ok();
  auto tls = LoadTls(o);
  if (!tls.ok()) {
    impl_->log->warn("TLS reload failed, keeping the current certificate: {}",
                     tls.status().message());
    return tls.status();
  }
  std::lock_guard lock(impl_->tls_mu);
  impl_->tls = std::move(tls).value();
  impl_->log->info("TLS certificate reloaded from {}", o.tls_cert_file);
  return Status::Ok();
}

uint16_t Server::port() const {
  beast::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void Server::Stop(std::chrono::milliseconds grace) {
  if (impl_->stopped.exchange(true)) return;
  asio::post(impl_->ioc, [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
    impl_->accept_timer.cancel();
  });
  {
    std::unique_lock lock(impl_->mu);
    impl_->idle.wait_for(lock, grace, [this] { return impl_->in_flight.load() == 0; });
  }
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->io_threads) t.join();
  impl_->io_threads.clear();
  impl_->workers.join();
  impl_->read_workers.join();
}

}  // namespace iotjobs::http
