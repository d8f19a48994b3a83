// S3Client::Fetch against a one-shot HTTP server on loopback (port 0): what it sends (a SigV4 GET
// the verifier accepts) and how each answer maps to a Status.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "s3/s3_client.h"
#include "s3/sigv4.h"

namespace iotjobs::s3 {
namespace {

using ::testing::HasSubstr;

// Accepts one connection, records the request head, writes `response` (unless it is empty, in
// which case it holds the connection open until the test ends), then closes.
class OneShotServer {
 public:
  explicit OneShotServer(std::string response) : response_(std::move(response)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(fd_, 1), 0);
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~OneShotServer() {
    shutdown(fd_, SHUT_RDWR);  // unblocks accept() when no client came
    if (int c = conn_.load(); c >= 0) shutdown(c, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    close(fd_);
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  // Waits for the exchange to end (call after the client has finished), then returns what it read.
  const std::string& request_head() {
    if (thread_.joinable()) thread_.join();
    return head_;
  }

 private:
  void Serve() {
    int c = accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    conn_ = c;
    char buf[4096];
    while (head_.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = read(c, buf, sizeof(buf));
      if (n <= 0) break;
      head_.append(buf, static_cast<size_t>(n));
    }
    if (!response_.empty()) {
      size_t off = 0;
      while (off < response_.size()) {
        ssize_t n = write(c, response_.data() + off, response_.size() - off);
        if (n <= 0) break;
        off += static_cast<size_t>(n);
      }
    } else {
      while (read(c, buf, sizeof(buf)) > 0) {
      }  // hold until the client gives up
    }
    close(c);
  }

  std::string response_;
  int fd_ = -1;
  std::atomic<int> conn_{-1};
  uint16_t port_ = 0;
  std::string head_;
  std::thread thread_;
};

std::string Response(int status, const std::string& reason, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
         body;
}

S3Client::Options Options(const std::string& endpoint) {
  S3Client::Options o;
  o.endpoint = endpoint;
  o.region = "us-east-1";
  o.credentials = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"};
  o.connect_timeout_ms = 2000;
  o.total_timeout_ms = 5000;
  return o;
}

// Parses the request head into a SigV4Request (path, query, headers).
SigV4Request ParseHead(const std::string& head) {
  SigV4Request r;
  size_t eol = head.find("\r\n");
  std::string line = head.substr(0, eol);
  size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
  r.method = line.substr(0, sp1);
  std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  size_t q = target.find('?');
  r.raw_path = target.substr(0, q);
  if (q != std::string::npos) r.raw_query = target.substr(q + 1);
  for (size_t p = eol + 2; p < head.size();) {
    size_t e = head.find("\r\n", p);
    if (e == p || e == std::string::npos) break;
    std::string h = head.substr(p, e - p);
    size_t colon = h.find(':');
    r.headers.emplace_back(h.substr(0, colon), h.substr(colon + 1));
    p = e + 2;
  }
  return r;
}

Instant WallNow() { return std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now()); }

// libcurl honours *_proxy from the environment; the loopback server must be reached directly.
class S3FetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("no_proxy", "127.0.0.1", 1);
    setenv("NO_PROXY", "127.0.0.1", 1);
  }
};

TEST_F(S3FetchTest, SendsASignedPathStyleGetAndReturnsTheBody) {
  OneShotServer server(Response(200, "OK", R"({"operation":"install"})"));
  S3Client client(Options(server.endpoint()));
  auto body = client.Fetch({"docs", "jobs/fw v1.json"});
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  EXPECT_EQ(*body, R"({"operation":"install"})");

  SigV4Request sent = ParseHead(server.request_head());
  EXPECT_EQ(sent.method, "GET");
  EXPECT_EQ(sent.raw_path, "/docs/jobs/fw%20v1.json");
  CredentialSet keys;
  keys.by_key_id["AKIDEXAMPLE"] = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"};
  auto id = SigV4Verifier(keys).Verify(sent, WallNow());
  ASSERT_TRUE(id.ok()) << id.status().ToString() << "\n" << server.request_head();
  EXPECT_EQ(id->service, "s3");
  EXPECT_EQ(id->region, "us-east-1");
}

TEST_F(S3FetchTest, NotFound) {
  OneShotServer server(Response(404, "Not Found", "<Error><Code>NoSuchKey</Code></Error>"));
  auto r = S3Client(Options(server.endpoint())).Fetch({"docs", "missing.json"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidRequest);
  EXPECT_EQ(r.status().message(),
            "documentSource s3://docs/missing.json does not exist in the S3 store");
}

TEST_F(S3FetchTest, AccessDenied) {
  OneShotServer server(Response(403, "Forbidden", "<Error><Code>AccessDenied</Code></Error>"));
  auto r = S3Client(Options(server.endpoint())).Fetch({"docs", "k"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "documentSource s3://docs/k: access denied by the S3 store");
}

TEST_F(S3FetchTest, OtherStatus) {
  OneShotServer server(Response(503, "Slow Down", ""));
  auto r = S3Client(Options(server.endpoint())).Fetch({"docs", "k"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "documentSource s3://docs/k: the S3 store answered HTTP 503");
}

TEST_F(S3FetchTest, BodyAtTheCapIsAcceptedAndPastItRefused) {
  {
    OneShotServer server(Response(200, "OK", std::string(32768, 'x')));
    auto r = S3Client(Options(server.endpoint())).Fetch({"docs", "k"});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->size(), 32768u);
  }
  {
    OneShotServer server(Response(200, "OK", std::string(32769, 'x')));
    auto r = S3Client(Options(server.endpoint())).Fetch({"docs", "k"});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(), "documentSource s3://docs/k is larger than 32768 bytes");
  }
}

TEST_F(S3FetchTest, Unreachable) {
  std::string endpoint;
  {
    OneShotServer server("");  // learn a free port, then close it
    endpoint = server.endpoint();
  }
  auto r = S3Client(Options(endpoint)).Fetch({"docs", "k"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidRequest);
  EXPECT_THAT(r.status().message(), HasSubstr("is unreachable"));
  EXPECT_THAT(r.status().message(), HasSubstr(endpoint));
}

TEST_F(S3FetchTest, SilentStoreTimesOut) {
  OneShotServer server("");  // accepts, never answers
  S3Client::Options o = Options(server.endpoint());
  o.total_timeout_ms = 300;
  auto r = S3Client(o).Fetch({"docs", "k"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "documentSource s3://docs/k: the S3 store at " +
                                      server.endpoint() + " did not answer within 300 ms");
}

}  // namespace
}  // namespace iotjobs::s3
