#include "server/config.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace iotjobs::server {
namespace {

// Validates `c` and returns the error message ("" when OK).
std::string Error(ServerConfig c) {
  Status st = Validate(&c);
  if (!st.ok()) {
    EXPECT_EQ(st.code(), Code::kInvalidRequest);
  }
  return st.message();
}

TEST(ValidateTest, DefaultsAreValidAndDeriveEverything) {
  ServerConfig c;
  ASSERT_TRUE(Validate(&c).ok());
  EXPECT_EQ(c.control.host, "127.0.0.1");
  EXPECT_EQ(c.control.port, 9080);
  EXPECT_EQ(c.jobs.host, "127.0.0.1");
  EXPECT_EQ(c.jobs.port, 9081);
  EXPECT_FALSE(c.mqtt_url.has_value());
  EXPECT_EQ(c.store, "sqlite:./data/iotjobs.db");
  EXPECT_EQ(c.sqlite_path, "./data/iotjobs.db");
  EXPECT_EQ(c.s3_region, "us-east-1");
  EXPECT_EQ(c.credentials, "./data/credentials");
}

TEST(ValidateTest, DerivedPathsFollowDataDir) {
  ServerConfig c;
  c.data_dir = "/var/lib/iotjobs";
  ASSERT_TRUE(Validate(&c).ok());
  EXPECT_EQ(c.sqlite_path, "/var/lib/iotjobs/iotjobs.db");
  EXPECT_EQ(c.credentials, "/var/lib/iotjobs/credentials");
}

TEST(ValidateTest, ExplicitValuesAreKept) {
  ServerConfig c;
  c.credentials = "/etc/iotjobs/credentials";
  c.region = "eu-west-1";
  c.s3_region = "us-west-2";
  ASSERT_TRUE(Validate(&c).ok());
  EXPECT_EQ(c.credentials, "/etc/iotjobs/credentials");
  EXPECT_EQ(c.s3_region, "us-west-2");
}

TEST(ValidateTest, S3RegionDefaultsToRegion) {
  ServerConfig c;
  c.region = "ap-southeast-2";
  ASSERT_TRUE(Validate(&c).ok());
  EXPECT_EQ(c.s3_region, "ap-southeast-2");
}

TEST(ValidateTest, NoAuthLeavesCredentialsUnset) {
  ServerConfig c;
  c.no_auth = true;
  ASSERT_TRUE(Validate(&c).ok());
  EXPECT_EQ(c.credentials, "");
}

TEST(ValidateTest, ListenAddresses) {
  ServerConfig c;
  c.control_listen = "0.0.0.0:0";
  c.jobs_listen = "[::1]:443";
  ASSERT_TRUE(Validate(&c).ok());
  EXPECT_EQ(c.control.host, "0.0.0.0");
  EXPECT_EQ(c.control.port, 0);
  EXPECT_EQ(c.jobs.host, "::1");
  EXPECT_EQ(c.jobs.port, 443);

  c = {};
  c.control_listen = "localhost";
  EXPECT_EQ(Error(c), "--control-listen must be HOST:PORT (e.g. 127.0.0.1:9080), got 'localhost'");
  c = {};
  c.jobs_listen = "127.0.0.1:99999";
  EXPECT_EQ(Error(c),
            "--jobs-listen must be HOST:PORT (e.g. 127.0.0.1:9080), got '127.0.0.1:99999'");
}

TEST(ValidateTest, Store) {
  auto path_of = [](const std::string& store) {
    ServerConfig c;
    c.store = store;
    Status st = Validate(&c);
    EXPECT_TRUE(st.ok()) << store << ": " << st.ToString();
    return c.sqlite_path;
  };
  EXPECT_EQ(path_of("sqlite:/tmp/x.db"), "/tmp/x.db");
  EXPECT_EQ(path_of("sqlite:relative/x.db"), "relative/x.db");
  EXPECT_EQ(path_of("sqlite:///abs/x.db"), "/abs/x.db");
  EXPECT_EQ(path_of("sqlite://rel.db"), "rel.db");
  EXPECT_EQ(path_of("sqlite::memory:"), ":memory:");

  ServerConfig c;
  c.store = "sqlite:";
  EXPECT_EQ(Error(c), "--store sqlite: needs a file path");
  c.store = "sqlite://";
  EXPECT_EQ(Error(c), "--store sqlite: needs a file path");
  for (const char* pg : {"postgresql://u@h/db", "postgres://h/db"}) {
    c.store = pg;
    EXPECT_EQ(Error(c),
              "--store: the PostgreSQL backend is not available in this build yet; use "
              "sqlite:PATH");
  }
  c.store = "mysql://h/db";
  EXPECT_EQ(Error(c), "--store must be sqlite:PATH or postgresql://..., got 'mysql://h/db'");
  c.store = "/tmp/x.db";
  EXPECT_EQ(Error(c), "--store must be sqlite:PATH or postgresql://..., got '/tmp/x.db'");
}

TEST(ValidateTest, DataDirMustNotBeEmpty) {
  ServerConfig c;
  c.data_dir = "";
  EXPECT_EQ(Error(c), "--data-dir must not be empty");
}

TEST(ValidateTest, S3Endpoint) {
  ServerConfig c;
  c.s3_endpoint = "http://127.0.0.1:9000//";
  ASSERT_TRUE(Validate(&c).ok());
  EXPECT_EQ(c.s3_endpoint, "http://127.0.0.1:9000");
  c = {};
  c.s3_endpoint = "https://s3.us-west-2.amazonaws.com";
  ASSERT_TRUE(Validate(&c).ok());
  EXPECT_EQ(c.s3_endpoint, "https://s3.us-west-2.amazonaws.com");
  for (const char* bad : {"127.0.0.1:9000", "s3://bucket", "ftp://h", "HTTP://h"}) {
    c = {};
    c.s3_endpoint = bad;
    EXPECT_EQ(Error(c),
              std::string("--s3-endpoint must start with http:// or https://, got '") + bad + "'");
  }
}

TEST(ValidateTest, Region) {
  ServerConfig c;
  for (const char* bad : {"", "us_east_1", "us east 1", "us-east-1/"}) {
    c.region = bad;
    EXPECT_EQ(Error(c), std::string("--region must look like us-east-1, got '") + bad + "'");
  }
}

TEST(ValidateTest, AccountIdIsTwelveDigits) {
  ServerConfig c;
  c.account_id = "000000000000";
  EXPECT_EQ(Error(c), "");
  for (const char* bad : {"", "12345678901", "1234567890123", "12345678901a", "-12345678901"}) {
    c.account_id = bad;
    EXPECT_EQ(Error(c), std::string("--account-id must be 12 digits, got '") + bad + "'");
  }
}

TEST(ValidateTest, TimeScale) {
  ServerConfig c;
  for (double ok : {0.001, 1.0, 60.0, 1e6}) {
    c.time_scale = ok;
    EXPECT_EQ(Error(c), "") << ok;
  }
  for (double bad : {0.0, -1.0, 1e6 + 1, std::nan(""), std::numeric_limits<double>::infinity()}) {
    c.time_scale = bad;
    EXPECT_EQ(Error(c), "--time-scale must be a positive number up to 1000000") << bad;
  }
}

TEST(ValidateTest, ThreadCounts) {
  ServerConfig c;
  c.io_threads = 1;
  c.worker_threads = 1;
  EXPECT_EQ(Error(c), "");
  c.io_threads = 64;
  c.worker_threads = 1024;
  EXPECT_EQ(Error(c), "");
  c.io_threads = 0;
  EXPECT_EQ(Error(c), "--io-threads must be between 1 and 64");
  c.io_threads = 65;
  EXPECT_EQ(Error(c), "--io-threads must be between 1 and 64");
  c.io_threads = 1;
  c.worker_threads = 0;
  EXPECT_EQ(Error(c), "--worker-threads must be between 1 and 1024");
  c.worker_threads = 1025;
  EXPECT_EQ(Error(c), "--worker-threads must be between 1 and 1024");
}

TEST(ValidateTest, S3Timeout) {
  ServerConfig c;
  c.s3_timeout_ms = 100;
  EXPECT_EQ(Error(c), "");
  c.s3_timeout_ms = 600000;
  EXPECT_EQ(Error(c), "");
  c.s3_timeout_ms = 99;
  EXPECT_EQ(Error(c), "--s3-timeout-ms must be between 100 and 600000");
  c.s3_timeout_ms = 600001;
  EXPECT_EQ(Error(c), "--s3-timeout-ms must be between 100 and 600000");
}

TEST(ValidateTest, MqttIsParsed) {
  ServerConfig c;
  c.mqtt = "mqtt://iot:s3cret@broker.local:8883";
  ASSERT_TRUE(Validate(&c).ok());
  ASSERT_TRUE(c.mqtt_url.has_value());
  EXPECT_EQ(c.mqtt_url->host, "broker.local");
  EXPECT_EQ(c.mqtt_url->port, 8883);
  EXPECT_EQ(c.mqtt_url->user, "iot");
  EXPECT_EQ(c.mqtt_url->password, "s3cret");
  c = {};
  c.mqtt = "mqtt://broker";
  EXPECT_EQ(Error(c), "");
  c.mqtt = "tcp://broker:1883";
  EXPECT_EQ(Error(c),
            "--mqtt must be mqtt://[user:pass@]host:port or none, got 'tcp://broker:1883'");
  c = {};
  c.mqtt_workers = 0;
  EXPECT_EQ(Error(c), "--mqtt-workers must be between 1 and 1024");
  c.mqtt_workers = 1025;
  EXPECT_EQ(Error(c), "--mqtt-workers must be between 1 and 1024");
  c.mqtt_workers = 1;
  EXPECT_EQ(Error(c), "");
}

TEST(ParseHostPortTest, Accepts) {
  struct Case {
    const char* value;
    const char* host;
    uint16_t port;
  };
  for (const Case& k :
       {Case{"127.0.0.1:9080", "127.0.0.1", 9080}, Case{"localhost:0", "localhost", 0},
        Case{"0.0.0.0:65535", "0.0.0.0", 65535}, Case{"[::1]:80", "::1", 80},
        Case{"[::]:9081", "::", 9081}, Case{"[fe80::1%eth0]:1", "fe80::1%eth0", 1}}) {
    auto hp = ParseHostPort("--control-listen", k.value);
    ASSERT_TRUE(hp.ok()) << k.value << ": " << hp.status().ToString();
    EXPECT_EQ(hp->host, k.host) << k.value;
    EXPECT_EQ(hp->port, k.port) << k.value;
  }
}

TEST(ParseHostPortTest, RejectsNamingTheFlag) {
  for (const char* bad : {"", "9080", ":9080", "host", "host:", "host:65536", "host:-1", "host:+80",
                          "host:80x", "host: 80", "[::1]"}) {
    auto hp = ParseHostPort("--jobs-listen", bad);
    ASSERT_FALSE(hp.ok()) << bad << " parsed as " << hp->host << " " << hp->port;
    EXPECT_EQ(
        hp.status().message(),
        std::string("--jobs-listen must be HOST:PORT (e.g. 127.0.0.1:9080), got '") + bad + "'");
  }
}

TEST(ParseMqttUrlTest, None) {
  auto u = ParseMqttUrl("none");
  ASSERT_TRUE(u.ok());
  EXPECT_FALSE(u->has_value());
}

TEST(ParseMqttUrlTest, HostPortAndDefaults) {
  auto u = ParseMqttUrl("mqtt://127.0.0.1:1884");
  ASSERT_TRUE(u.ok() && u->has_value()) << u.status().ToString();
  EXPECT_EQ((*u)->host, "127.0.0.1");
  EXPECT_EQ((*u)->port, 1884);
  EXPECT_EQ((*u)->user, "");
  EXPECT_EQ((*u)->password, "");

  u = ParseMqttUrl("mqtt://broker");
  ASSERT_TRUE(u.ok() && u->has_value());
  EXPECT_EQ((*u)->host, "broker");
  EXPECT_EQ((*u)->port, 1883);

  u = ParseMqttUrl("mqtt://broker:1883/");
  ASSERT_TRUE(u.ok() && u->has_value());
  EXPECT_EQ((*u)->host, "broker");
  EXPECT_EQ((*u)->port, 1883);
}

TEST(ParseMqttUrlTest, UserInfo) {
  auto u = ParseMqttUrl("mqtt://user:pass@broker:1883");
  ASSERT_TRUE(u.ok() && u->has_value());
  EXPECT_EQ((*u)->user, "user");
  EXPECT_EQ((*u)->password, "pass");
  EXPECT_EQ((*u)->host, "broker");

  u = ParseMqttUrl("mqtt://user@broker:1883");  // no password
  ASSERT_TRUE(u.ok() && u->has_value());
  EXPECT_EQ((*u)->user, "user");
  EXPECT_EQ((*u)->password, "");

  u = ParseMqttUrl("mqtt://us%40er:p%3A%2Fss@broker:1883");  // percent-encoded
  ASSERT_TRUE(u.ok() && u->has_value());
  EXPECT_EQ((*u)->user, "us@er");
  EXPECT_EQ((*u)->password, "p:/ss");

  u = ParseMqttUrl("mqtt://user:p@ss:w0rd@broker:1883");  // the last '@' ends the userinfo
  ASSERT_TRUE(u.ok() && u->has_value());
  EXPECT_EQ((*u)->user, "user");
  EXPECT_EQ((*u)->password, "p@ss:w0rd");
  EXPECT_EQ((*u)->host, "broker");
  EXPECT_EQ((*u)->port, 1883);
}

// An IPv6 literal is bracketed in a URL (RFC 3986 §3.2.2); the host handed to the MQTT client is
// the bare address, as --control-listen's is.
TEST(ParseMqttUrlTest, Ipv6Literal) {
  auto u = ParseMqttUrl("mqtt://[::1]:1883");
  ASSERT_TRUE(u.ok() && u->has_value()) << u.status().ToString();
  EXPECT_EQ((*u)->host, "::1");
  EXPECT_EQ((*u)->port, 1883);

  u = ParseMqttUrl("mqtt://u:p@[fd00::2]");
  ASSERT_TRUE(u.ok() && u->has_value()) << u.status().ToString();
  EXPECT_EQ((*u)->host, "fd00::2");
  EXPECT_EQ((*u)->port, 1883);
  EXPECT_EQ((*u)->user, "u");
}

TEST(ParseMqttUrlTest, Rejects) {
  for (const char* bad : {"", "NONE", "broker:1883", "tcp://broker:1883", "mqtts://broker:8883",
                          "mqtt://", "mqtt://:1883", "mqtt://broker:", "mqtt://broker:port",
                          "mqtt://broker:70000", "mqtt://:pass@broker:1883", "mqtt://u%zz@broker",
                          "mqtt://u:p@", "mqtt://[::1", "mqtt://[::1]x", "mqtt://[]:1883"}) {
    auto u = ParseMqttUrl(bad);
    ASSERT_FALSE(u.ok()) << bad;
    EXPECT_EQ(
        u.status().message(),
        std::string("--mqtt must be mqtt://[user:pass@]host:port or none, got '") + bad + "'");
  }
}

}  // namespace
}  // namespace iotjobs::server
