// HTTPS and mutual TLS on http::Server (issue 12, Deliver 3 and 4, the HTTP side).
#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "http/server.h"

namespace iotjobs::http {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
namespace fs = std::filesystem;

// scripts/dev-certs.sh DIR THING...: ca.crt, server.{crt,key}, THING.{crt,key}.
std::string Certs(const std::string& name, const std::string& things = "thing-1") {
  const std::string dir = ::testing::TempDir() + "tls-" + name;
  const std::string cmd = std::string(IOTJOBS_SOURCE_DIR) + "/scripts/dev-certs.sh " + dir + " " +
                          things + " >/dev/null";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return dir;
}

struct Result {
  bool handshake_ok = false;
  int status = 0;
  std::string body;
};

// One HTTPS GET, verifying the server against `ca`, optionally presenting `client` (.crt/.key).
Result Get(uint16_t port, const std::string& ca, const std::string& client = "") {
  asio::io_context ioc;
  ssl::context ctx(ssl::context::tls_client);
  ctx.load_verify_file(ca);
  ctx.set_verify_mode(ssl::verify_peer);
  if (!client.empty()) {
    ctx.use_certificate_chain_file(client + ".crt");
    ctx.use_private_key_file(client + ".key", ssl::context::pem);
  }
  ssl::stream<tcp::socket> s(ioc, ctx);
  beast::error_code ec;
  s.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  Result r;
  if (ec) return r;
  s.handshake(ssl::stream_base::client, ec);
  if (ec) return r;
  bhttp::request<bhttp::string_body> req(bhttp::verb::get, "/who", 11);
  req.set(bhttp::field::host, "127.0.0.1");
  bhttp::write(s, req, ec);
  if (ec) return r;  // TLS 1.3: a refused client certificate shows up here or on the read
  beast::flat_buffer buf;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(s, buf, res, ec);
  if (ec) return r;
  r.handshake_ok = true;
  r.status = res.result_int();
  r.body = res.body();
  return r;
}

Response Who(Request& r) {
  Response out;
  out.content_type = "text/plain";
  out.body = r.peer_identity ? "cn=" + *r.peer_identity : "anonymous";
  return out;
}

std::unique_ptr<Server> Start(ServerOptions o, Status* st = nullptr) {
  o.host = "127.0.0.1";
  o.port = 0;
  auto s = std::make_unique<Server>(o, Who);
  Status started = s->Start();
  if (st) *st = started;
  return s;
}

TEST(TlsTest, ServesHttpsWithTheConfiguredCertificate) {
  const std::string d = Certs("a");
  ServerOptions o;
  o.tls_cert_file = d + "/server.crt";
  o.tls_key_file = d + "/server.key";
  Status st;
  auto s = Start(o, &st);
  ASSERT_TRUE(st.ok()) << st.ToString();
  Result r = Get(s->port(), d + "/ca.crt");
  ASSERT_TRUE(r.handshake_ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "anonymous") << "no client CA configured: no identity";
}

TEST(TlsTest, StartFailsNamingAMissingOrMismatchedFile) {
  const std::string d = Certs("a");
  ServerOptions o;
  o.tls_cert_file = d + "/missing.crt";
  o.tls_key_file = d + "/server.key";
  Status st;
  auto s = Start(o, &st);
  EXPECT_EQ(st.code(), Code::kInvalidRequest);
  EXPECT_NE(st.message().find(d + "/missing.crt"), std::string::npos) << st.message();

  o.tls_cert_file = d + "/server.crt";
  o.tls_key_file = d + "/thing-1.key";  // another key pair's private key
  s = Start(o, &st);
  EXPECT_EQ(st.code(), Code::kInvalidRequest);
  EXPECT_NE(st.message().find(d + "/thing-1.key"), std::string::npos) << st.message();
}

TEST(TlsTest, ReloadServesTheNewCertificateAndKeepsTheOldOneOnABadFile) {
  const std::string a = Certs("a"), b = Certs("b");
  const std::string live = ::testing::TempDir() + "tls-live";
  fs::create_directories(live);
  auto put = [&](const std::string& from) {
    fs::copy_file(from + "/server.crt", live + "/server.crt", fs::copy_options::overwrite_existing);
    fs::copy_file(from + "/server.key", live + "/server.key", fs::copy_options::overwrite_existing);
  };
  put(a);
  ServerOptions o;
  o.tls_cert_file = live + "/server.crt";
  o.tls_key_file = live + "/server.key";
  Status st;
  auto s = Start(o, &st);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(Get(s->port(), a + "/ca.crt").handshake_ok);
  EXPECT_FALSE(Get(s->port(), b + "/ca.crt").handshake_ok);

  put(b);
  ASSERT_TRUE(s->ReloadTls().ok());
  EXPECT_TRUE(Get(s->port(), b + "/ca.crt").handshake_ok);
  EXPECT_FALSE(Get(s->port(), a + "/ca.crt").handshake_ok);

  std::ofstream(live + "/server.crt") << "not a certificate\n";
  Status bad = s->ReloadTls();
  EXPECT_EQ(bad.code(), Code::kInvalidRequest);
  EXPECT_NE(bad.message().find(live + "/server.crt"), std::string::npos) << bad.message();
  EXPECT_TRUE(Get(s->port(), b + "/ca.crt").handshake_ok) << "the old certificate stays";
}

TEST(TlsTest, VerifiedClientCertificateSetsPeerIdentity) {
  const std::string a = Certs("a", "thing-1"), b = Certs("b", "intruder");
  ServerOptions o;
  o.tls_cert_file = a + "/server.crt";
  o.tls_key_file = a + "/server.key";
  o.client_ca_file = a + "/ca.crt";
  Status st;
  auto s = Start(o, &st);
  ASSERT_TRUE(st.ok()) << st.ToString();

  Result verified = Get(s->port(), a + "/ca.crt", a + "/thing-1");
  ASSERT_TRUE(verified.handshake_ok);
  EXPECT_EQ(verified.body, "cn=thing-1");

  Result none = Get(s->port(), a + "/ca.crt");
  ASSERT_TRUE(none.handshake_ok) << "no certificate: still served (SigV4 callers)";
  EXPECT_EQ(none.body, "anonymous");

  Result other_ca = Get(s->port(), a + "/ca.crt", b + "/intruder");
  EXPECT_FALSE(other_ca.handshake_ok) << other_ca.body;
}

}  // namespace
}  // namespace iotjobs::http
