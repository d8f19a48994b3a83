#include "http/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

namespace iotjobs::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using BResponse = bhttp::response<bhttp::string_body>;

// A plain blocking HTTP/1.1 client on one connection.
class Client {
 public:
  explicit Client(uint16_t port) : socket_(ioc_) {
    beast::error_code ec;
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    EXPECT_FALSE(ec) << "connect: " << ec.message();
  }

  void SendRaw(const std::string& bytes) {
    beast::error_code ec;
    asio::write(socket_, asio::buffer(bytes), ec);
    EXPECT_FALSE(ec) << "write: " << ec.message();
  }

  void Send(bhttp::verb method, const std::string& target, const std::string& body = "",
            std::vector<std::pair<std::string, std::string>> headers = {}) {
    bhttp::request<bhttp::string_body> req(method, target, 11);
    req.set(bhttp::field::host, "127.0.0.1");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    beast::error_code ec;
    bhttp::write(socket_, req, ec);
    EXPECT_FALSE(ec) << "write: " << ec.message();
  }

  // Reads one response; `*ec` is set when the connection ends first.
  BResponse Read(beast::error_code* ec) {
    BResponse res;
    bhttp::read(socket_, buffer_, res, *ec);
    return res;
  }
  BResponse Read() {
    beast::error_code ec;
    BResponse res = Read(&ec);
    EXPECT_FALSE(ec) << "read: " << ec.message();
    return res;
  }

  BResponse Get(const std::string& target) {
    Send(bhttp::verb::get, target);
    return Read();
  }

  // True when the server has closed the connection (orderly EOF or reset), with no more bytes.
  bool ClosedByServer() {
    char c;
    beast::error_code ec;
    size_t n = socket_.read_some(asio::buffer(&c, 1), ec);
    return n == 0 && (ec == asio::error::eof || ec == asio::error::connection_reset);
  }

 private:
  asio::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

Response Text(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = "text/plain";
  return r;
}

std::unique_ptr<Server> StartServer(Handler h, ServerOptions o = {}) {
  o.host = "127.0.0.1";
  o.port = 0;
  auto s = std::make_unique<Server>(o, std::move(h));
  Status st = s->Start();
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_NE(s->port(), 0);
  return s;
}

// Records every request the handler sees.
struct Recorder {
  std::mutex mu;
  std::vector<Request> requests;
  Handler handler() {
    return [this](Request& r) {
      std::lock_guard lock(mu);
      requests.push_back(r);
      return Text(200, r.method + " " + r.path);
    };
  }
  size_t count() {
    std::lock_guard lock(mu);
    return requests.size();
  }
};

TEST(ServerTest, ServesOnAnEphemeralPort) {
  auto server = StartServer([](Request&) { return Text(200, "hi"); });
  Client c(server->port());
  BResponse res = c.Get("/");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "hi");
  EXPECT_EQ(res[bhttp::field::content_type], "text/plain");
}

TEST(ServerTest, KeepAliveAnswersSeveralRequestsInOrderOnOneConnection) {
  Recorder rec;
  auto server = StartServer(rec.handler());
  Client c(server->port());
  for (int i = 0; i < 5; ++i) {
    BResponse res = c.Get("/r" + std::to_string(i));
    EXPECT_EQ(res.body(), "GET /r" + std::to_string(i));
    EXPECT_TRUE(res.keep_alive());
  }
  EXPECT_EQ(rec.count(), 5u);
}

TEST(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  // The first request is slow to answer; the others are already waiting in the same buffer.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  auto server = StartServer([released](Request& r) {
    if (r.path == "/slow") released.wait();
    return Text(200, r.path);
  });
  Client c(server->port());
  std::string bytes;
  for (const char* p : {"/slow", "/b", "/c", "/d"}) {
    bytes += std::string("GET ") + p + " HTTP/1.1\r\nHost: x\r\n\r\n";
  }
  c.SendRaw(bytes);
  release.set_value();
  for (const char* p : {"/slow", "/b", "/c", "/d"}) EXPECT_EQ(c.Read().body(), p);
}

TEST(ServerTest, RequestIsPassedThroughWithPathAndQuerySplit) {
  Recorder rec;
  auto server = StartServer(rec.handler());
  Client c(server->port());
  c.Send(bhttp::verb::put, "/job-templates/a%20b%2Fc?x=1&y=%2F&x=2", R"({"k":"v"})",
         {{"X-Amz-Date", "20261126T000000Z"}, {"x-custom", "Mixed Case Value"}});
  EXPECT_EQ(c.Read().result_int(), 200);
  c.Send(bhttp::verb::delete_, "/no-query");
  EXPECT_EQ(c.Read().result_int(), 200);
  c.Send(bhttp::verb::get, "/empty-query?");
  EXPECT_EQ(c.Read().result_int(), 200);

  ASSERT_EQ(rec.count(), 3u);
  const Request& r = rec.requests[0];
  EXPECT_EQ(r.method, "PUT");
  EXPECT_EQ(r.path, "/job-templates/a%20b%2Fc") << "the path stays percent-encoded";
  EXPECT_EQ(r.query, "x=1&y=%2F&x=2");
  EXPECT_EQ(r.body, R"({"k":"v"})");
  EXPECT_EQ(r.Header("x-amz-date"), "20261126T000000Z");
  EXPECT_EQ(r.Header("X-CUSTOM"), "Mixed Case Value");
  EXPECT_EQ(r.Header("host"), "127.0.0.1");
  EXPECT_EQ(r.Header("absent"), "");
  bool saw_name_as_sent = false;
  for (const auto& [k, v] : r.headers) saw_name_as_sent |= (k == "X-Amz-Date");
  EXPECT_TRUE(saw_name_as_sent) << "header names are passed as received";

  EXPECT_EQ(rec.requests[1].method, "DELETE");
  EXPECT_EQ(rec.requests[1].path, "/no-query");
  EXPECT_EQ(rec.requests[1].query, "");
  EXPECT_EQ(rec.requests[2].path, "/empty-query");
  EXPECT_EQ(rec.requests[2].query, "");
}

TEST(RequestTest, HeaderReturnsTheFirstMatchIgnoringCase) {
  Request r;
  r.headers = {{"Accept", "a"}, {"ACCEPT", "b"}, {"X-Y", ""}};
  EXPECT_EQ(r.Header("accept"), "a");
  EXPECT_EQ(r.Header("x-y"), "");
  EXPECT_EQ(r.Header("missing"), "");
}

TEST(ServerTest, ResponseCarriesStatusHeadersAndBody) {
  auto server = StartServer([](Request&) {
    Response r;
    r.status = 409;
    r.headers = {{"x-amzn-ErrorType", "ConflictException"}, {"x-extra", "1"}};
    r.body = R"({"message":"taken"})";
    return r;
  });
  Client c(server->port());
  BResponse res = c.Get("/");
  EXPECT_EQ(res.result_int(), 409);
  EXPECT_EQ(res["x-amzn-ErrorType"], "ConflictException");
  EXPECT_EQ(res["x-extra"], "1");
  EXPECT_EQ(res[bhttp::field::content_type], "application/json");
  EXPECT_EQ(res[bhttp::field::content_length], std::to_string(res.body().size()));
  EXPECT_EQ(res.body(), R"({"message":"taken"})");
}

TEST(ServerTest, BodyOverTheLimitIs413AndNeverReachesTheHandler) {
  Recorder rec;
  ServerOptions o;
  o.max_body_bytes = 16;
  auto server = StartServer(rec.handler(), o);
  {
    Client c(server->port());
    // Declares 17 bytes and sends only some: the limit applies before the body is read.
    c.SendRaw("PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n12345");
    BResponse res = c.Read();
    EXPECT_EQ(res.result_int(), 413);
    EXPECT_FALSE(res.keep_alive());
    EXPECT_TRUE(c.ClosedByServer());
  }
  {
    Client c(server->port());  // exactly at the limit is fine
    c.Send(bhttp::verb::put, "/x", std::string(16, 'a'));
    EXPECT_EQ(c.Read().result_int(), 200);
  }
  EXPECT_EQ(rec.count(), 1u);
}

TEST(ServerTest, ChunkedBodyOverTheLimitIs413) {
  Recorder rec;
  ServerOptions o;
  o.max_body_bytes = 16;
  auto server = StartServer(rec.handler(), o);
  Client c(server->port());
  c.SendRaw(
      "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n");
  EXPECT_EQ(c.Read().result_int(), 413);
  EXPECT_EQ(rec.count(), 0u);
}

TEST(ServerTest, MalformedRequestIs400) {
  Recorder rec;
  auto server = StartServer(rec.handler());
  for (const char* bytes : {"THIS IS NOT HTTP\r\n\r\n", "GET / HTTP/9.9\r\n\r\n",
                            "GET / HTTP/1.1\r\nBad Header Line\r\n\r\n",
                            "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n"}) {
    SCOPED_TRACE(bytes);
    Client c(server->port());
    c.SendRaw(bytes);
    BResponse res = c.Read();
    EXPECT_EQ(res.result_int(), 400);
    EXPECT_FALSE(res.keep_alive());
    EXPECT_TRUE(c.ClosedByServer());
  }
  EXPECT_EQ(rec.count(), 0u);
}

TEST(ServerTest, HandlerExceptionIs500InternalFailureAndTheConnectionLives) {
  auto server = StartServer([](Request& r) -> Response {
    if (r.path == "/throw") throw std::runtime_error("boom");
    if (r.path == "/throw-int") throw 42;
    return Text(200, "fine");
  });
  Client c(server->port());
  for (const char* path : {"/throw", "/throw-int"}) {
    SCOPED_TRACE(path);
    BResponse res = c.Get(path);
    EXPECT_EQ(res.result_int(), 500);
    EXPECT_EQ(res["x-amzn-ErrorType"], "InternalFailureException");
    EXPECT_EQ(res.body().find("boom"), std::string::npos) << "exception text is not leaked";
  }
  EXPECT_EQ(c.Get("/ok").body(), "fine");
}

TEST(ServerTest, ConnectionCloseIsHonoured) {
  auto server = StartServer([](Request&) { return Text(200, "bye"); });
  Client c(server->port());
  c.Send(bhttp::verb::get, "/", "", {{"Connection", "close"}});
  BResponse res = c.Read();
  EXPECT_EQ(res.body(), "bye");
  EXPECT_FALSE(res.keep_alive());
  EXPECT_TRUE(c.ClosedByServer());
}

TEST(ServerTest, ConnectionsAreServedConcurrently) {
  // Each handler waits until both requests are inside a handler: with one worker at a time this
  // would never happen.
  std::mutex mu;
  std::condition_variable cv;
  int inside = 0;
  auto server = StartServer([&](Request&) {
    std::unique_lock lock(mu);
    ++inside;
    cv.notify_all();
    bool both = cv.wait_for(lock, std::chrono::seconds(30), [&] { return inside >= 2; });
    return Text(both ? 200 : 500, "");
  });
  Client a(server->port()), b(server->port());
  a.Send(bhttp::verb::get, "/a");
  b.Send(bhttp::verb::get, "/b");
  EXPECT_EQ(a.Read().result_int(), 200);
  EXPECT_EQ(b.Read().result_int(), 200);
}

TEST(ServerTest, StopDeliversTheResponseOfARequestInFlight) {
  std::promise<void> entered, release;
  std::shared_future<void> released = release.get_future().share();
  auto server = StartServer([&, released](Request& r) {
    if (r.path == "/hold") {
      entered.set_value();
      released.wait();
      return Text(200, "held");
    }
    return Text(200, "quick");
  });
  const uint16_t port = server->port();
  Client held(port), probe(port);
  EXPECT_EQ(probe.Get("/quick").body(), "quick");
  held.Send(bhttp::verb::get, "/hold");
  entered.get_future().wait();

  std::atomic<bool> stop_returned{false};
  std::thread stopper([&] {
    server->Stop(std::chrono::seconds(60));
    stop_returned = true;
  });
  // Learn that Stop has begun without sleeping: once stopping, the server stops reading new
  // requests (the probe's connection closes) or answers without keep-alive.
  bool stopping = false;
  for (int i = 0; i < 1000000 && !stopping; ++i) {
    probe.Send(bhttp::verb::get, "/quick");
    beast::error_code ec;
    BResponse res = probe.Read(&ec);
    stopping = ec || !res.keep_alive();
  }
  ASSERT_TRUE(stopping);
  EXPECT_FALSE(stop_returned.load()) << "Stop must wait for the request in flight";

  release.set_value();
  BResponse res = held.Read();
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "held");
  EXPECT_FALSE(res.keep_alive()) << "a stopping server closes connections after answering";
  stopper.join();
  EXPECT_TRUE(stop_returned.load());

  // Nothing listens any more.
  asio::io_context ioc;
  tcp::socket s(ioc);
  beast::error_code ec;
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  EXPECT_EQ(ec, asio::error::connection_refused);
}

TEST(ServerTest, StopIsIdempotentAndDestructionWithoutStartIsFine) {
  auto server = StartServer([](Request&) { return Text(200, ""); });
  server->Stop();
  server->Stop();
  server.reset();
  Server never_started(ServerOptions{}, [](Request&) { return Text(200, ""); });
}

TEST(ServerTest, StartFailsOnAPortInUseOrABadAddress) {
  auto first = StartServer([](Request&) { return Text(200, ""); });
  ServerOptions o;
  o.port = first->port();
  Server second(o, [](Request&) { return Text(200, ""); });
  Status st = second.Start();
  EXPECT_EQ(st.code(), Code::kInvalidRequest) << st.ToString();

  ServerOptions bad;
  bad.host = "not-an-address";
  Server third(bad, [](Request&) { return Text(200, ""); });
  EXPECT_EQ(third.Start().code(), Code::kInvalidRequest);
}

}  // namespace
}  // namespace iotjobs::http
