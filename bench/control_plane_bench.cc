// control_plane_bench: a closed-loop load generator for the job-template control plane.
//
// N keep-alive HTTP/1.1 connections (default 64), spread over a few client threads (default 1, so
// on a 2-core machine the server keeps the other core), each send one request, wait for its
// response and send the next, for --warmup seconds (not measured) then --seconds (measured). Every
// request is SigV4-signed as a real SDK signs it (service iot, x-amz-date, x-amz-content-sha256),
// so the server pays its full authentication cost and any AWS-compatible server (moto) can be
// measured with the very same requests.
//
// Ops: describe (GET /job-templates/{id} over a pre-created set), create (PUT /job-templates/{new
// id} with a realistic body; durable on iotjobsd), list (GET /job-templates?maxResults=25).
// Output: a human-readable summary, or with --json one JSON object per run on stdout. A run with
// any error (non-2xx status or transport failure) exits 1 and says so: its figures are not valid.
//
// Client cost matters on a small machine (the bench competes with the server for cores), so the
// signer derives the signing key once per UTC day and per request only hashes the body and the
// canonical request and computes the final HMAC, with its own OpenSSL contexts (see Sha256). At
// start-up it checks that it signs byte for byte as s3::SignRequest does, so the shortcut cannot
// drift from the library.
#include <openssl/evp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/credentials.h"
#include "s3/sigv4.h"

namespace iotjobs::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

// ---------------------------------------------------------------------------------------------
// Options

struct Options {
  std::string endpoint = "http://127.0.0.1:9080";
  std::string op = "describe";
  std::string target = "iotjobsd";  // a label for the report ("iotjobsd", "moto")
  int connections = 64;
  int threads = 1;
  double seconds = 10;
  double warmup = 2;
  int templates = 100;  // pre-created for describe and list
  int list_page = 25;
  std::string access_key;
  std::string secret_key;
  std::string region = "us-east-1";
  std::string run_id;  // prefix of created ids; default: time and pid
  bool json = false;
  bool check = false;  // only check that every op answers, then exit

  // Derived.
  std::string host;  // "127.0.0.1"
  std::string port;  // "9080"
  std::string host_header;
};

// ---------------------------------------------------------------------------------------------
// Hashing
//
// OpenSSL 3's one-shot SHA256() and HMAC() (which s3::Sha256Hex and s3::HmacSha256Hex use) look the
// algorithm up on every call; that costs several times the hashing itself for inputs this small.
// The client fetches SHA-256 once, reuses one digest context, and keeps HMAC's keyed inner and
// outer states, so a signature costs three short digests.

class Sha256 {
 public:
  Sha256() : md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)), ctx_(EVP_MD_CTX_new()) {
    if (!md_ || !ctx_) {
      std::fprintf(stderr, "control_plane_bench: OpenSSL has no SHA-256\n");
      std::exit(3);
    }
  }
  ~Sha256() {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
  }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  // Raw 32-byte digest of `data`.
  std::string Digest(std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestInit_ex2(ctx_, md_, nullptr);
    EVP_DigestUpdate(ctx_, data.data(), data.size());
    EVP_DigestFinal_ex(ctx_, out, &len);
    return std::string(reinterpret_cast<char*>(out), len);
  }
  std::string Hex(std::string_view data) { return ToHex(Digest(data)); }

  static std::string ToHex(std::string_view raw) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out(raw.size() * 2, '0');
    for (size_t i = 0; i < raw.size(); ++i) {
      const auto b = static_cast<unsigned char>(raw[i]);
      out[2 * i] = kDigits[b >> 4];
      out[2 * i + 1] = kDigits[b & 15];
    }
    return out;
  }

  EVP_MD* md() const { return md_; }

 private:
  EVP_MD* md_;
  EVP_MD_CTX* ctx_;
};

// HMAC-SHA256 (RFC 2104) under one fixed key, with the keyed inner and outer states computed once.
class HmacSha256 {
 public:
  HmacSha256(Sha256* sha, std::string_view key)
      : inner_(EVP_MD_CTX_new()), outer_(EVP_MD_CTX_new()), work_(EVP_MD_CTX_new()) {
    std::string k = key.size() > 64 ? sha->Digest(key) : std::string(key);
    k.resize(64, '\0');
    std::string ipad(64, '\0'), opad(64, '\0');
    for (size_t i = 0; i < 64; ++i) {
      ipad[i] = static_cast<char>(k[i] ^ 0x36);
      opad[i] = static_cast<char>(k[i] ^ 0x5c);
    }
    EVP_DigestInit_ex2(inner_, sha->md(), nullptr);
    EVP_DigestUpdate(inner_, ipad.data(), ipad.size());
    EVP_DigestInit_ex2(outer_, sha->md(), nullptr);
    EVP_DigestUpdate(outer_, opad.data(), opad.size());
  }
  ~HmacSha256() {
    EVP_MD_CTX_free(inner_);
    EVP_MD_CTX_free(outer_);
    EVP_MD_CTX_free(work_);
  }
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;

  std::string Hex(std::string_view data) {
    unsigned char in[EVP_MAX_MD_SIZE], out[EVP_MAX_MD_SIZE];
    unsigned int in_len = 0, out_len = 0;
    EVP_MD_CTX_copy_ex(work_, inner_);
    EVP_DigestUpdate(work_, data.data(), data.size());
    EVP_DigestFinal_ex(work_, in, &in_len);
    EVP_MD_CTX_copy_ex(work_, outer_);
    EVP_DigestUpdate(work_, in, in_len);
    EVP_DigestFinal_ex(work_, out, &out_len);
    return Sha256::ToHex(std::string_view(reinterpret_cast<char*>(out), out_len));
  }

 private:
  EVP_MD_CTX* inner_;
  EVP_MD_CTX* outer_;
  EVP_MD_CTX* work_;
};

// ---------------------------------------------------------------------------------------------
// Signing

// Signs requests with a signing key derived once per UTC day. Not thread-safe: one per thread.
class Signer {
 public:
  Signer(Credentials creds, std::string region, std::string host_header)
      : creds_(std::move(creds)), region_(std::move(region)), host_(std::move(host_header)) {}

  struct Signed {
    std::string amz_date;
    std::string payload_hash;
    std::string authorization;
  };

  // `path` and `query` as they travel; `content_type` empty when the request has no body header.
  Signed Sign(std::string_view method, std::string_view path, std::string_view query,
              std::string_view body, std::string_view content_type, std::string_view amz_date) {
    if (amz_date.substr(0, 8) != date_) {
      date_ = std::string(amz_date.substr(0, 8));
      hmac_.emplace(&sha_, s3::DeriveSigningKey(creds_.secret_access_key, date_, region_, "iot"));
      scope_ = date_ + "/" + region_ + "/iot/aws4_request";
    }
    Signed out;
    out.amz_date = std::string(amz_date);
    out.payload_hash = body.empty() ? empty_hash_ : sha_.Hex(body);
    std::string& creq = scratch_;
    creq.clear();
    creq.append(method).push_back('\n');
    creq.append(s3::CanonicalUri(path, /*double_encode=*/true)).push_back('\n');
    creq.append(s3::CanonicalQuery(query)).push_back('\n');
    if (!content_type.empty()) creq.append("content-type:").append(content_type).push_back('\n');
    creq.append("host:").append(host_).push_back('\n');
    creq.append("x-amz-content-sha256:").append(out.payload_hash).push_back('\n');
    creq.append("x-amz-date:").append(amz_date).append("\n\n");
    const std::string_view names = content_type.empty()
                                       ? "host;x-amz-content-sha256;x-amz-date"
                                       : "content-type;host;x-amz-content-sha256;x-amz-date";
    creq.append(names).push_back('\n');
    creq.append(out.payload_hash);
    std::string& sts = scratch2_;
    sts.assign(kAlgorithm).push_back('\n');
    sts.append(amz_date).push_back('\n');
    sts.append(scope_).push_back('\n');
    sts.append(sha_.Hex(creq));
    const std::string sig = hmac_->Hex(sts);
    out.authorization.reserve(200);
    out.authorization.append(kAlgorithm)
        .append(" Credential=")
        .append(creds_.access_key_id)
        .append("/")
        .append(scope_)
        .append(", SignedHeaders=")
        .append(names)
        .append(", Signature=")
        .append(sig);
    return out;
  }

  // x-amz-date for now, recomputed at most once per second.
  const std::string& AmzDateNow() {
    const auto now = std::chrono::system_clock::now();
    const int64_t sec =
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    if (sec != cached_sec_) {
      cached_sec_ = sec;
      cached_date_ = s3::AmzDate(FromEpochMillis(sec * 1000));
    }
    return cached_date_;
  }

 private:
  Credentials creds_;
  std::string region_;
  std::string host_;
  Sha256 sha_;
  std::optional<HmacSha256> hmac_;  // keyed with the signing key of `date_`
  const std::string empty_hash_ = sha_.Hex("");
  std::string date_, scope_, scratch_, scratch2_;
  int64_t cached_sec_ = -1;
  std::string cached_date_;
};

// The fast path must agree with the library's general signer, which the server's verifier is
// tested against; a mismatch would only show up as 403s, so check before generating load.
bool SelfCheckSigner(const Options& o, const Credentials& creds) {
  const Instant t = FromEpochMillis(1'767'225'600'000);  // any fixed instant
  const std::string amz_date = s3::AmzDate(t);
  struct Case {
    const char* method;
    const char* path;
    const char* query;
    const char* body;
    const char* content_type;
  };
  const Case cases[] = {
      {"GET", "/job-templates/bench-tpl-7", "", "", ""},
      {"GET", "/job-templates", "maxResults=25", "", ""},
      {"PUT", "/job-templates/x-1", "", R"({"document":"{}"})", "application/json"},
  };
  for (const auto& c : cases) {
    Signer fast(creds, o.region, o.host_header);
    auto mine = fast.Sign(c.method, c.path, c.query, c.body, c.content_type, amz_date);
    s3::SigV4Request r{c.method, c.path, c.query, {{"host", o.host_header}}, c.body};
    if (*c.content_type) r.headers.emplace_back("content-type", c.content_type);
    s3::SignRequest(&r, creds, o.region, "iot", t);
    std::string lib_auth;
    for (const auto& [k, v] : r.headers) {
      if (k == "Authorization") lib_auth = v;
    }
    if (lib_auth != mine.authorization) {
      std::fprintf(stderr,
                   "control_plane_bench: internal error: fast signer disagrees with "
                   "s3::SignRequest for %s %s\n  fast: %s\n  lib:  %s\n",
                   c.method, c.path, mine.authorization.c_str(), lib_auth.c_str());
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Requests

struct RequestSpec {
  std::string method;
  std::string path;
  std::string query;
  std::string body;
};

// A realistic template: a firmware-update document and every commonly used configuration.
std::string CreateBody(const std::string& id) {
  return R"({"description":"Firmware 2.4.1 rollout to the )" + id +
         R"( fleet","document":"{\"operation\":\"firmware-update\",\"version\":\"2.4.1\",)"
         R"(\"url\":\"https://firmware.example.com/releases/2.4.1/image.bin\",)"
         R"(\"sha256\":\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\",)"
         R"(\"reboot\":true}",)"
         R"("timeoutConfig":{"inProgressTimeoutInMinutes":60},)"
         R"("jobExecutionsRolloutConfig":{"maximumPerMinute":500,"exponentialRate":)"
         R"({"baseRatePerMinute":50,"incrementFactor":2.0,"rateIncreaseCriteria":)"
         R"({"numberOfSucceededThings":100}}},)"
         R"("abortConfig":{"criteriaList":[{"failureType":"FAILED","action":"CANCEL",)"
         R"("thresholdPercentage":10.0,"minNumberOfExecutedThings":20}]},)"
         R"("jobExecutionsRetryConfig":{"criteriaList":[{"failureType":"TIMED_OUT",)"
         R"("numberOfRetries":2}]}})";
}

std::string SetupTemplateId(int i) { return "bench-tpl-" + std::to_string(i); }

// The i-th request of connection `conn` for the configured op.
RequestSpec MakeRequest(const Options& o, int conn, uint64_t i) {
  if (o.op == "describe") {
    const uint64_t n = static_cast<uint64_t>(o.templates);
    return {"GET", "/job-templates/" + SetupTemplateId(static_cast<int>((conn * 37 + i) % n)), "",
            ""};
  }
  if (o.op == "list") {
    return {"GET", "/job-templates", "maxResults=" + std::to_string(o.list_page), ""};
  }
  std::string id = "bench-" + o.run_id + "-" + std::to_string(conn) + "-" + std::to_string(i);
  return {"PUT", "/job-templates/" + id, "", CreateBody(id)};
}

void FillRequest(const RequestSpec& spec, const Options& o, Signer* signer,
                 bhttp::request<bhttp::string_body>* req) {
  const std::string_view content_type = spec.body.empty() ? "" : "application/json";
  auto s = signer->Sign(spec.method, spec.path, spec.query, spec.body, content_type,
                        signer->AmzDateNow());
  req->clear();
  req->method_string(spec.method);
  req->target(spec.query.empty() ? spec.path : spec.path + "?" + spec.query);
  req->version(11);
  req->set(bhttp::field::host, o.host_header);
  req->set(bhttp::field::user_agent, "control_plane_bench/1.0");
  if (!content_type.empty()) req->set(bhttp::field::content_type, content_type);
  req->set("x-amz-date", s.amz_date);
  req->set("x-amz-content-sha256", s.payload_hash);
  req->set(bhttp::field::authorization, s.authorization);
  req->body() = spec.body;
  req->keep_alive(true);
  req->prepare_payload();
}

// ---------------------------------------------------------------------------------------------
// Synchronous client for setup and the pre-flight check.

class SyncClient {
 public:
  explicit SyncClient(const Options& o, Credentials creds)
      : o_(o), signer_(std::move(creds), o.region, o.host_header), stream_(ioc_) {}

  // Returns the status (0 on a transport failure, with the reason in *body).
  int Call(const RequestSpec& spec, std::string* body) {
    beast::error_code ec;
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!connected_) {
        tcp::resolver resolver(ioc_);
        auto eps = resolver.resolve(o_.host, o_.port, ec);
        if (!ec) stream_.connect(eps, ec);
        if (ec) break;
        connected_ = true;
      }
      bhttp::request<bhttp::string_body> req;
      FillRequest(spec, o_, &signer_, &req);
      stream_.expires_after(std::chrono::seconds(30));
      bhttp::write(stream_, req, ec);
      bhttp::response<bhttp::string_body> res;
      if (!ec) bhttp::read(stream_, buffer_, res, ec);
      if (ec) {  // a keep-alive connection the server closed: reconnect once
        beast::error_code ignored;
        stream_.socket().close(ignored);
        connected_ = false;
        buffer_.clear();
        continue;
      }
      if (!res.keep_alive()) {
        beast::error_code ignored;
        stream_.socket().close(ignored);
        connected_ = false;
        buffer_.clear();
      }
      *body = std::move(res.body());
      return static_cast<int>(res.result_int());
    }
    *body = ec.message();
    return 0;
  }

 private:
  const Options& o_;
  Signer signer_;
  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  bool connected_ = false;
};

// ---------------------------------------------------------------------------------------------
// Load

struct Stats {
  std::vector<uint32_t> latencies_us;                // completed in the measured window
  std::map<std::string, uint64_t> errors;            // "409" / "transport: <reason>" -> count
  std::map<std::string, std::string> error_samples;  // first body per error key
  uint64_t reconnects = 0;
  uint64_t ok_total = 0;  // 2xx responses, warm-up included (to divide CPU time by)

  void Merge(Stats&& o) {
    latencies_us.insert(latencies_us.end(), o.latencies_us.begin(), o.latencies_us.end());
    for (auto& [k, v] : o.errors) errors[k] += v;
    for (auto& [k, v] : o.error_samples) error_samples.emplace(k, std::move(v));
    reconnects += o.reconnects;
    ok_total += o.ok_total;
  }
};

struct Window {
  SteadyClock::time_point measure_start;
  SteadyClock::time_point measure_end;
};

// One keep-alive connection sending requests back to back until the window closes.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(asio::io_context& ioc, const Options& o, const tcp::resolver::results_type& eps,
             int index, const Window& w, Signer* signer, Stats* stats)
      : o_(o), eps_(eps), index_(index), w_(w), signer_(signer), stats_(stats), stream_(ioc) {}

  void Start() { Connect(); }

 private:
  void Connect() {
    stream_.expires_after(std::chrono::seconds(30));
    stream_.async_connect(eps_,
                          [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
                            if (ec) return self->TransportError("connect", ec);
                            beast::error_code ignored;
                            self->stream_.socket().set_option(tcp::no_delay(true), ignored);
                            self->Send();
                          });
  }

  void Send() {
    if (SteadyClock::now() >= w_.measure_end) return;  // window closed: this connection is done
    FillRequest(MakeRequest(o_, index_, seq_++), o_, signer_, &req_);
    sent_at_ = reconnect_started_.value_or(SteadyClock::now());
    reconnect_started_.reset();
    stream_.expires_after(std::chrono::seconds(30));
    bhttp::async_write(stream_, req_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->TransportError("write", ec);
      self->parser_.emplace();
      self->parser_->body_limit(64 << 20);
      bhttp::async_read(self->stream_, self->buffer_, *self->parser_,
                        [self](beast::error_code ec, size_t) { self->OnRead(ec); });
    });
  }

  void OnRead(beast::error_code ec) {
    if (ec) return TransportError("read", ec);
    const auto done = SteadyClock::now();
    auto& res = parser_->get();
    const bool measured = done >= w_.measure_start && done < w_.measure_end;
    const unsigned status = res.result_int();
    if (status < 200 || status > 299) {
      // Errors count wherever they fall: a run with any is invalid.
      const std::string key = std::to_string(status);
      ++stats_->errors[key];
      stats_->error_samples.emplace(key, res.body().substr(0, 300));
    } else {
      ++stats_->ok_total;
      if (measured) {
        stats_->latencies_us.push_back(static_cast<uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(done - sent_at_).count()));
      }
    }
    if (!res.keep_alive()) {
      // The server closes after each response (moto's development server does): the next
      // request's latency includes the new connection, as a client would see it.
      ++stats_->reconnects;
      reconnect_started_ = SteadyClock::now();
      beast::error_code ignored;
      stream_.socket().close(ignored);
      buffer_.clear();
      return Connect();
    }
    Send();
  }

  void TransportError(const char* what, beast::error_code ec) {
    const std::string key = std::string("transport ") + what + ": " + ec.message();
    ++stats_->errors[key];
    beast::error_code ignored;
    stream_.socket().close(ignored);
    buffer_.clear();
    // Retry after a pause unless the window is over, so a flapping server shows as errors, not as
    // a silent drop in connection count.
    if (SteadyClock::now() >= w_.measure_end) return;
    auto timer = std::make_shared<asio::steady_timer>(stream_.get_executor(),
                                                      std::chrono::milliseconds(100));
    timer->async_wait([self = shared_from_this(), timer](beast::error_code) {
      ++self->stats_->reconnects;
      self->Connect();
    });
  }

  const Options& o_;
  const tcp::resolver::results_type& eps_;
  int index_;
  const Window& w_;
  Signer* signer_;
  Stats* stats_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  bhttp::request<bhttp::string_body> req_;
  std::optional<bhttp::response_parser<bhttp::string_body>> parser_;
  SteadyClock::time_point sent_at_;
  std::optional<SteadyClock::time_point> reconnect_started_;
  uint64_t seq_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Main

bool ParseEndpoint(Options* o) {
  std::string_view e = o->endpoint;
  constexpr std::string_view kHttp = "http://";
  if (e.substr(0, kHttp.size()) != kHttp) return false;
  e.remove_prefix(kHttp.size());
  if (!e.empty() && e.back() == '/') e.remove_suffix(1);
  const size_t colon = e.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == e.size()) return false;
  o->host = std::string(e.substr(0, colon));
  o->port = std::string(e.substr(colon + 1));
  o->host_header = std::string(e);
  return o->port.find_first_not_of("0123456789") == std::string::npos;
}

// User plus system CPU time of this process so far.
double ProcessCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

uint32_t Percentile(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

std::string JsonEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Creates the templates describe and list read; an existing one (409 from an earlier run against
// the same server) is fine. Then checks that each op answers 200 once before load starts.
bool Setup(const Options& o, const Credentials& creds) {
  SyncClient client(o, creds);
  std::string body;
  if (o.op != "create") {
    for (int i = 0; i < o.templates; ++i) {
      const std::string id = SetupTemplateId(i);
      int st = client.Call({"PUT", "/job-templates/" + id, "", CreateBody(id)}, &body);
      if (st != 200 && st != 409) {
        std::fprintf(stderr, "control_plane_bench: setup: creating %s: %s %s\n", id.c_str(),
                     st ? std::to_string(st).c_str() : "transport error:", body.c_str());
        return false;
      }
    }
  }
  RequestSpec probe = MakeRequest(o, 999, 0);
  if (o.op == "create") {
    Options p = o;
    p.run_id += "p";  // an id the load never uses
    probe = MakeRequest(p, 0, 0);
  }
  int st = client.Call(probe, &body);
  if (st != 200) {
    std::fprintf(stderr, "control_plane_bench: pre-flight %s %s%s%s failed: %s %s\n",
                 probe.method.c_str(), probe.path.c_str(), probe.query.empty() ? "" : "?",
                 probe.query.c_str(),
                 st ? std::to_string(st).c_str() : "transport error:", body.c_str());
    return false;
  }
  const char* expect = o.op == "list" ? "jobTemplates" : "jobTemplateId";
  if (body.find(expect) == std::string::npos) {
    std::fprintf(stderr, "control_plane_bench: pre-flight %s: response lacks %s: %s\n",
                 o.op.c_str(), expect, body.substr(0, 300).c_str());
    return false;
  }
  return true;
}

int Run(Options o) {
  if (!ParseEndpoint(&o)) {
    std::fprintf(stderr, "control_plane_bench: --endpoint must be http://HOST:PORT, got '%s'\n",
                 o.endpoint.c_str());
    return 2;
  }
  if (o.access_key.empty() || o.secret_key.empty()) {
    std::fprintf(stderr,
                 "control_plane_bench: pass --access-key and --secret-key (or set "
                 "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)\n");
    return 2;
  }
  if (o.run_id.empty()) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%lx%x", static_cast<long>(std::time(nullptr)),
                  static_cast<unsigned>(getpid()) & 0xffff);
    o.run_id = buf;
  }
  const Credentials creds{o.access_key, o.secret_key};
  if (!SelfCheckSigner(o, creds)) return 3;
  if (o.check) {
    // Does the server answer every op? Run before measuring a server of unknown capabilities.
    for (const char* op : {"create", "describe", "list"}) {
      Options c = o;
      c.op = op;
      if (!Setup(c, creds)) return 1;
    }
    std::printf("control_plane_bench: %s answers create, describe and list\n", o.target.c_str());
    return 0;
  }
  if (!Setup(o, creds)) return 1;

  asio::io_context resolve_ioc;
  tcp::resolver resolver(resolve_ioc);
  beast::error_code ec;
  const auto eps = resolver.resolve(o.host, o.port, ec);
  if (ec) {
    std::fprintf(stderr, "control_plane_bench: cannot resolve %s: %s\n", o.host.c_str(),
                 ec.message().c_str());
    return 2;
  }

  const int threads = std::max(1, std::min(o.threads, o.connections));
  Window w;
  const double cpu_at_start = ProcessCpuSeconds();
  const auto start = SteadyClock::now();
  w.measure_start = start + std::chrono::microseconds(static_cast<int64_t>(o.warmup * 1e6));
  w.measure_end =
      w.measure_start + std::chrono::microseconds(static_cast<int64_t>(o.seconds * 1e6));

  std::vector<Stats> stats(static_cast<size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      asio::io_context ioc(1);
      Signer signer(creds, o.region, o.host_header);
      Stats& st = stats[static_cast<size_t>(t)];
      st.latencies_us.reserve(1 << 20);
      for (int c = t; c < o.connections; c += threads) {
        std::make_shared<Connection>(ioc, o, eps, c, w, &signer, &st)->Start();
      }
      ioc.run();
    });
  }
  for (auto& t : pool) t.join();
  const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  const double client_cpu_s = ProcessCpuSeconds() - cpu_at_start;

  Stats all;
  for (auto& s : stats) all.Merge(std::move(s));
  std::sort(all.latencies_us.begin(), all.latencies_us.end());
  const auto& lat = all.latencies_us;
  const uint64_t n = lat.size();
  const double rps = static_cast<double>(n) / o.seconds;
  uint64_t error_total = 0;
  for (const auto& [k, v] : all.errors) error_total += v;
  double mean = 0;
  for (uint32_t v : lat) mean += v;
  if (n) mean /= static_cast<double>(n);
  // The client's own cost: on a small machine it competes with the server for the cores.
  const double client_cpu_per_req =
      all.ok_total ? client_cpu_s * 1e6 / static_cast<double>(all.ok_total) : 0;
  const uint32_t p50 = Percentile(lat, 0.50), p90 = Percentile(lat, 0.90),
                 p99 = Percentile(lat, 0.99), max = lat.empty() ? 0 : lat.back();

  if (o.json) {
    std::string errors;
    for (const auto& [k, v] : all.errors) {
      errors += (errors.empty() ? "" : ",") + ("\"" + JsonEscape(k) + "\":" + std::to_string(v));
    }
    std::printf(
        "{\"bench\":\"control_plane\",\"target\":\"%s\",\"op\":\"%s\",\"endpoint\":\"%s\","
        "\"connections\":%d,\"client_threads\":%d,\"warmup_s\":%g,\"seconds\":%g,"
        "\"requests\":%" PRIu64
        ",\"rps\":%.1f,\"mean_us\":%.0f,\"p50_us\":%u,\"p90_us\":%u,\"p99_us\":%u,"
        "\"max_us\":%u,\"errors\":%" PRIu64 ",\"errors_by_status\":{%s},\"reconnects\":%" PRIu64
        ",\"requests_total\":%" PRIu64 ",\"client_cpu_us_per_req\":%.1f}\n",
        JsonEscape(o.target).c_str(), o.op.c_str(), JsonEscape(o.endpoint).c_str(), o.connections,
        threads, o.warmup, o.seconds, n, rps, mean, p50, p90, p99, max, error_total, errors.c_str(),
        all.reconnects, all.ok_total, client_cpu_per_req);
  } else {
    std::printf(
        "control_plane_bench: target=%s op=%s endpoint=%s connections=%d client_threads=%d "
        "warmup=%gs measured=%gs (wall %.1fs)\n",
        o.target.c_str(), o.op.c_str(), o.endpoint.c_str(), o.connections, threads, o.warmup,
        o.seconds, elapsed);
    std::printf("  throughput  %.1f requests/s (%" PRIu64 " requests)\n", rps, n);
    std::printf("  latency us  p50=%u p90=%u p99=%u max=%u mean=%.0f\n", p50, p90, p99, max, mean);
    std::printf("  reconnects  %" PRIu64 "\n", all.reconnects);
    std::printf("  client CPU  %.1f us per request\n", client_cpu_per_req);
    std::printf("  errors      %" PRIu64 "\n", error_total);
  }
  std::fflush(stdout);
  if (error_total > 0) {
    std::fprintf(stderr, "control_plane_bench: INVALID RUN: %" PRIu64 " errors against %s (%s)\n",
                 error_total, o.target.c_str(), o.op.c_str());
    for (const auto& [k, v] : all.errors) {
      auto sample = all.error_samples.find(k);
      std::fprintf(stderr, "  %s: %" PRIu64 "%s%s\n", k.c_str(), v,
                   sample == all.error_samples.end() ? "" : "  e.g. ",
                   sample == all.error_samples.end() ? "" : sample->second.c_str());
    }
    return 1;
  }
  if (n == 0) {
    std::fprintf(stderr, "control_plane_bench: no request completed in the measured window\n");
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace iotjobs::bench

int main(int argc, char** argv) {
  iotjobs::bench::Options o;
  if (const char* v = std::getenv("AWS_ACCESS_KEY_ID")) o.access_key = v;
  if (const char* v = std::getenv("AWS_SECRET_ACCESS_KEY")) o.secret_key = v;
  CLI::App app{
      "control_plane_bench: closed-loop SigV4 load on the job-template control plane "
      "(describe, create, list)",
      "control_plane_bench"};
  app.add_option("--endpoint", o.endpoint, "http://HOST:PORT of the control plane")
      ->capture_default_str();
  app.add_option("--op", o.op, "describe | create | list")
      ->check(CLI::IsMember({"describe", "create", "list"}))
      ->capture_default_str();
  app.add_option("--target", o.target, "label for the report (iotjobsd, moto, ...)")
      ->capture_default_str();
  app.add_option("--connections", o.connections, "concurrent keep-alive connections")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--threads", o.threads, "client threads driving the connections")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--seconds", o.seconds, "measured duration")
      ->check(CLI::Range(0.1, 86400.0))
      ->capture_default_str();
  app.add_option("--warmup", o.warmup, "unmeasured load before the measured window")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("--templates", o.templates, "templates pre-created for describe and list")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--list-page", o.list_page, "maxResults of each list request")
      ->check(CLI::Range(1, 250))
      ->capture_default_str();
  app.add_option("--access-key", o.access_key, "access key id (default $AWS_ACCESS_KEY_ID)");
  app.add_option("--secret-key", o.secret_key,
                 "secret access key (default $AWS_SECRET_ACCESS_KEY)");
  app.add_option("--region", o.region, "SigV4 region")->capture_default_str();
  app.add_option("--run-id", o.run_id, "prefix of ids created by --op create (default: unique)");
  app.add_flag("--json", o.json, "print one JSON object instead of the summary");
  app.add_flag("--check", o.check,
               "create the templates, check that create, describe and list answer 200, exit");
  CLI11_PARSE(app, argc, argv);
  return iotjobs::bench::Run(std::move(o));
}
