#include "http/server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <thread>

#include "common/logging.h"

namespace iotjobs::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
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

struct Server::Impl {
  ServerOptions options;
  Handler handler;
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

  Impl(ServerOptions o, Handler h)
      : options(std::move(o)),
        handler(std::move(h)),
        workers(static_cast<size_t>(options.worker_threads)),
        read_workers(ReadWorkers(options)),
        log(Logger(options.name)) {}

  void Accept();
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

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Server::Impl* server) : stream_(std::move(socket)), server_(server) {}

  void Start() { Read(); }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(server_->options.max_body_bytes);
    parser_->header_limit(64 * 1024);
    stream_.expires_after(std::chrono::seconds(120));  // idle keep-alive connections close
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset) {
      return Close();
    }
    if (ec == bhttp::error::body_limit) {
      Response r{413, {}, R"({"message":"request body too large"})"};
      keep_alive_ = false;
      return Write(std::move(r));
    }
    if (ec) {
      Response r{400, {}, R"({"message":"malformed HTTP request"})"};
      keep_alive_ = false;
      return Write(std::move(r));
    }
    // Count the request before looking at `stopped`: Stop() sets the flag and then waits for
    // in_flight to reach zero, so either it sees this request or this request sees the flag.
    ++server_->in_flight;
    if (server_->stopped) {
      server_->Done();
      return Close();
    }
    auto msg = parser_->release();
    keep_alive_ = msg.keep_alive();
    Request req;
    req.method = std::string(msg.method_string());
    std::string_view target = msg.target();
    size_t q = target.find('?');
    req.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
    for (const auto& f : msg)
      req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    req.body = std::move(msg.body());

    // Already counted in flight above; Done() runs once the response is on the wire.
    // Safe methods only read: they go to the small read pool (see Server::Impl).
    const bool read = msg.method() == bhttp::verb::get || msg.method() == bhttp::verb::head;
    auto& pool = read ? server_->read_workers : server_->workers;
    asio::post(pool, [self = shared_from_this(), req = std::move(req)]() mutable {
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
      asio::post(self->stream_.get_executor(), [self, resp = std::move(resp)]() mutable {
        self->counted_ = true;
        self->Write(std::move(resp));
      });
    });
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
                       [self = shared_from_this(), res](beast::error_code ec, size_t) {
                         // A request counts as in flight until its response is on the wire.
                         if (self->counted_) {
                           self->counted_ = false;
                           self->server_->Done();
                         }
                         if (ec || !res->keep_alive()) return self->Close();
                         self->Read();
                       });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Server::Impl* server_;
  bool keep_alive_ = true;
  bool counted_ = false;
};

}  // namespace

void Server::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || stopped) return;
      log->warn("accept failed: {}", ec.message());
    } else {
      socket.set_option(tcp::no_delay(true), ec);
      std::make_shared<Session>(std::move(socket), this)->Start();
    }
    if (!stopped) Accept();
  });
}

Server::Server(ServerOptions options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

Server::~Server() { Stop(std::chrono::milliseconds(0)); }

Status Server::Start() {
  auto& o = impl_->options;
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
