// A whole iotjobsd in-process through server::App: ephemeral ports, a temporary data directory,
// real SigV4-signed HTTP requests over loopback, and a clean stop (every thread joined, every
// descriptor closed).
#include "server/app.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "common/clock.h"
#include "common/credentials.h"
#include "common/logging.h"
#include "s3/sigv4.h"

namespace iotjobs::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

constexpr char kKeyId[] = "AKIDAPPTEST";
constexpr char kSecret[] = "app-test-secret";

// Entries of a /proc/self directory: open descriptors (fd) or threads (task).
size_t CountEntries(const char* dir) {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    (void)e;
    ++n;
  }
  return n;
}

struct Reply {
  int status = 0;
  std::string error_type;
  boost::json::value body;
};

// One SigV4-signed request on a fresh connection, as an SDK sends it.
Reply Send(uint16_t port, const std::string& method, const std::string& path,
           const std::string& body, const std::string& service) {
  s3::SigV4Request r{method, path, "", {{"host", "127.0.0.1:" + std::to_string(port)}}, body};
  if (!body.empty()) r.headers.emplace_back("content-type", "application/json");
  if (!service.empty()) {
    s3::SignRequest(&r, Credentials{kKeyId, kSecret}, "us-east-1", service, SystemClock().Now());
  }
  asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  bhttp::request<bhttp::string_body> req(bhttp::string_to_verb(method), path, 11);
  for (const auto& [k, v] : r.headers) req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  bhttp::write(socket, req);
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(socket, buffer, res);
  Reply out;
  out.status = res.result_int();
  out.error_type = std::string(res["x-amzn-ErrorType"]);
  if (!res.body().empty()) out.body = boost::json::parse(res.body());
  return out;
}

class AppTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/iotjobs-app-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::ofstream(dir_ + "/credentials") << "[default]\naws_access_key_id = " << kKeyId
                                         << "\naws_secret_access_key = " << kSecret << "\n";
    cfg_.data_dir = dir_ + "/data";
    cfg_.credentials = dir_ + "/credentials";
    cfg_.control_listen = "127.0.0.1:0";
    cfg_.jobs_listen = "127.0.0.1:0";
    cfg_.worker_threads = 4;
    cfg_.log_level = "warn";
    ASSERT_TRUE(SetLogLevel(cfg_.log_level));  // as main() does before App::Start
    ASSERT_TRUE(Validate(&cfg_).ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
  ServerConfig cfg_;
};

TEST_F(AppTest, ServesSignedRequestsOnEphemeralPortsAndStopsCleanly) {
  const size_t fds_before = CountEntries("/proc/self/fd");
  const size_t threads_before = CountEntries("/proc/self/task");
  {
    auto app = App::Start(cfg_);
    ASSERT_TRUE(app.ok()) << app.status().message();
    const uint16_t control = (*app)->control_port(), jobs = (*app)->jobs_port();
    ASSERT_NE(control, 0);
    ASSERT_NE(jobs, 0);
    EXPECT_NE(control, jobs);
    EXPECT_EQ((*app)->control_endpoint(), "http://127.0.0.1:" + std::to_string(control));
    EXPECT_TRUE(std::filesystem::exists(cfg_.sqlite_path));

    Reply created = Send(control, "POST", "/things/app-thing", R"({"attributePayload":
        {"attributes": {"k": "v"}}})",
                         "iot");
    ASSERT_EQ(created.status, 200) << boost::json::serialize(created.body);
    EXPECT_EQ(created.body.at("thingName").as_string(), "app-thing");

    Reply described = Send(control, "GET", "/things/app-thing", "", "iot");
    ASSERT_EQ(described.status, 200) << boost::json::serialize(described.body);
    EXPECT_EQ(described.body.at("thingName").as_string(), "app-thing");
    EXPECT_EQ(described.body.at("attributes").at("k").as_string(), "v");
    EXPECT_EQ(described.body.at("thingArn").as_string(),
              "arn:aws:iot:us-east-1:123456789012:thing/app-thing");

    // The jobs data plane, on its own listener and behind the control one (signing service).
    for (uint16_t port : {jobs, control}) {
      Reply pending = Send(port, "GET", "/things/app-thing/jobs", "", "iot-jobs-data");
      ASSERT_EQ(pending.status, 200) << port << ": " << boost::json::serialize(pending.body);
      EXPECT_TRUE(pending.body.at("inProgressJobs").as_array().empty());
      EXPECT_TRUE(pending.body.at("queuedJobs").as_array().empty());
    }

    // Unsigned: refused, credentials are on by default.
    Reply unsigned_call = Send(control, "GET", "/things/app-thing", "", "");
    EXPECT_EQ(unsigned_call.status, 403);

    (*app)->Stop();
    (*app)->Stop();  // idempotent
    beast::error_code ec;
    asio::io_context ioc;
    tcp::socket s(ioc);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), control), ec);
    EXPECT_TRUE(ec) << "the control listener still accepts after Stop";
  }
  EXPECT_EQ(CountEntries("/proc/self/task"), threads_before) << "a thread outlived Stop";
  EXPECT_EQ(CountEntries("/proc/self/fd"), fds_before) << "a descriptor outlived Stop";

  // The data directory serves again: the thing survived the restart.
  auto again = App::Start(cfg_);
  ASSERT_TRUE(again.ok()) << again.status().message();
  Reply described = Send((*again)->control_port(), "GET", "/things/app-thing", "", "iot");
  EXPECT_EQ(described.status, 200);
}

TEST_F(AppTest, FailedStartNamesTheFlagAndStopsWhatItStarted) {
  auto first = App::Start(cfg_);
  ASSERT_TRUE(first.ok()) << first.status().message();
  const size_t fds_before = CountEntries("/proc/self/fd");
  const size_t threads_before = CountEntries("/proc/self/task");

  ServerConfig busy = cfg_;
  busy.data_dir = dir_ + "/other";
  busy.store.clear();
  busy.control_listen = "127.0.0.1:" + std::to_string((*first)->control_port());
  ASSERT_TRUE(Validate(&busy).ok());
  auto second = App::Start(busy);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().message().rfind("--control-listen: ", 0), 0u)
      << second.status().message();
  EXPECT_EQ(CountEntries("/proc/self/task"), threads_before);
  EXPECT_EQ(CountEntries("/proc/self/fd"), fds_before);
}

TEST_F(AppTest, MissingCredentialsFailsWithTheFlagHint) {
  cfg_.credentials = dir_ + "/absent";
  auto app = App::Start(cfg_);
  ASSERT_FALSE(app.ok());
  EXPECT_NE(app.status().message().find("pass --credentials FILE, or --no-auth"), std::string::npos)
      << app.status().message();
}

}  // namespace
}  // namespace iotjobs::server
