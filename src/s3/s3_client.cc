#include "s3/s3_client.h"

#include <curl/curl.h>

#include "common/logging.h"
#include "common/text.h"
#include "s3/sigv4.h"

namespace iotjobs::s3 {
namespace {

Status NotS3(std::string_view url) {
  return Status::InvalidRequest(
      "documentSource must be an S3 URL (https://s3.amazonaws.com/<bucket>/<key>, "
      "https://<bucket>.s3.<region>.amazonaws.com/<key>, s3://<bucket>/<key>, or a URL on the "
      "configured --s3-endpoint); got '" +
      Utf8Excerpt(url, 200) + "'");
}

// Splits "b/k..." into bucket and decoded key.
Result<S3Location> BucketAndKey(std::string_view path, std::string_view url) {
  size_t slash = path.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 >= path.size()) return NotS3(url);
  auto key = UriDecode(path.substr(slash + 1));
  if (!key) return NotS3(url);
  return S3Location{std::string(path.substr(0, slash)), *key};
}

Result<S3Location> KeyOnly(std::string_view bucket, std::string_view path, std::string_view url) {
  if (bucket.empty() || path.empty()) return NotS3(url);
  auto key = UriDecode(path);
  if (!key) return NotS3(url);
  return S3Location{std::string(bucket), *key};
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool EndsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

size_t WriteBody(char* data, size_t size, size_t n, void* user) {
  auto* ctx = static_cast<std::pair<std::string*, size_t>*>(user);
  if (ctx->first->size() + size * n > ctx->second) return 0;  // aborts: too large
  ctx->first->append(data, size * n);
  return size * n;
}

struct CurlInit {
  CurlInit() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

}  // namespace

Result<S3Location> ParseS3Url(std::string_view url, std::string_view s3_endpoint) {
  if (StartsWith(url, "s3://")) {
    std::string_view rest = url.substr(5);
    return BucketAndKey(rest, url);
  }
  if (!s3_endpoint.empty() && StartsWith(url, s3_endpoint) && url.size() > s3_endpoint.size() &&
      url[s3_endpoint.size()] == '/') {
    return BucketAndKey(url.substr(s3_endpoint.size() + 1), url);
  }
  if (!StartsWith(url, "https://")) return NotS3(url);
  std::string_view rest = url.substr(8);
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return NotS3(url);
  std::string_view host = rest.substr(0, slash), path = rest.substr(slash + 1);
  if (size_t q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  if (!EndsWith(host, ".amazonaws.com")) return NotS3(url);
  std::string_view sub = host.substr(0, host.size() - std::string_view(".amazonaws.com").size());
  // Path style: s3, s3.<region>, s3-<region>, s3.dualstack.<region>.
  if (sub == "s3" || StartsWith(sub, "s3.") || StartsWith(sub, "s3-")) {
    return BucketAndKey(path, url);
  }
  // Virtual-hosted style: <bucket>.s3 or <bucket>.s3.<region> or <bucket>.s3-<region>.
  size_t at = sub.rfind(".s3");
  while (at != std::string_view::npos) {
    std::string_view tail = sub.substr(at + 3);
    if (tail.empty() || tail[0] == '.' || tail[0] == '-')
      return KeyOnly(sub.substr(0, at), path, url);
    if (at == 0) break;
    at = sub.rfind(".s3", at - 1);
  }
  return NotS3(url);
}

S3Client::S3Client(Options options) : options_(std::move(options)) {
  static CurlInit init;
  std::string_view e = options_.endpoint;
  size_t scheme = e.find("://");
  host_ = std::string(scheme == std::string_view::npos ? e : e.substr(scheme + 3));
  if (size_t slash = host_.find('/'); slash != std::string::npos) host_.resize(slash);
}

Result<std::string> S3Client::Fetch(const S3Location& loc) {
  return Transfer("GET", loc, {}, "documentSource", options_.max_bytes, options_.total_timeout_ms);
}

Result<std::string> S3Client::Get(const S3Location& loc, std::string_view what, size_t max_bytes,
                                  long timeout_ms) {
  return Transfer("GET", loc, {}, what, max_bytes, timeout_ms);
}

Status S3Client::Put(const S3Location& loc, std::string_view body, std::string_view what,
                     long timeout_ms) {
  auto r = Transfer("PUT", loc, body, what, 1 << 20, timeout_ms);
  return r.ok() ? Status::Ok() : r.status();
}

Result<std::string> S3Client::Transfer(const char* method, const S3Location& loc,
                                       std::string_view payload, std::string_view what_view,
                                       size_t max_bytes, long timeout_ms) {
  const std::string what(what_view);
  const std::string where = "s3://" + loc.bucket + "/" + loc.key;
  if (options_.endpoint.empty()) {
    return Status::InvalidRequest(what + " " + where +
                                  " cannot be fetched: iotjobsd runs without --s3-endpoint");
  }
  const std::string raw_path = "/" + UriEncode(loc.bucket) + "/" + UriEncode(loc.key, true);
  SigV4Request req{method, raw_path, "", {{"host", host_}}, payload};
  SignRequest(&req, options_.credentials, options_.region, "s3",
              std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now()));

  CURL* curl = curl_easy_init();
  if (!curl) return Status::Internal("libcurl: cannot create a handle");
  std::string body;
  std::pair<std::string*, size_t> sink{&body, max_bytes};
  curl_slist* headers = nullptr;
  for (const auto& [k, v] : req.headers) {
    if (k == "host") continue;
    headers = curl_slist_append(headers, (k + ": " + v).c_str());
  }
  const std::string url = options_.endpoint + raw_path;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  if (std::string_view(method) == "PUT") {
    // No "Expect: 100-continue": not every S3-compatible server answers it, and moto's then
    // stores an empty object.
    headers = curl_slist_append(headers, "Expect:");
    // libcurl would label the body a form (application/x-www-form-urlencoded), which some
    // servers parse and discard.
    headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload.size()));
  }
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, options_.connect_timeout_ms);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);

  if (rc == CURLE_WRITE_ERROR) {
    return Status::InvalidRequest(what + " " + where + " is larger than " +
                                  std::to_string(max_bytes) + " bytes");
  }
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return Status::InvalidRequest(what + " " + where + ": the S3 store at " + options_.endpoint +
                                  " did not answer within " + std::to_string(timeout_ms) + " ms");
  }
  if (rc != CURLE_OK) {
    return Status::InvalidRequest(what + " " + where + ": the S3 store at " + options_.endpoint +
                                  " is unreachable (" + curl_easy_strerror(rc) + ")");
  }
  if (status == 404) {
    return Status::InvalidRequest(what + " " + where + " does not exist in the S3 store");
  }
  if (status == 403) {
    return Status::InvalidRequest(what + " " + where + ": access denied by the S3 store");
  }
  if (status != 200) {
    return Status::InvalidRequest(what + " " + where + ": the S3 store answered HTTP " +
                                  std::to_string(status));
  }
  return body;
}

std::string S3Client::PresignGet(const S3Location& loc, Instant now, int64_t expires_sec) const {
  const std::string raw_path = "/" + UriEncode(loc.bucket) + "/" + UriEncode(loc.key, true);
  std::string_view e = options_.endpoint;
  size_t scheme = e.find("://");
  std::string scheme_host =
      std::string(e.substr(0, scheme == std::string_view::npos ? 0 : scheme + 3)) + host_;
  return PresignGetUrl(scheme_host, host_, raw_path, options_.credentials, options_.region, now,
                       expires_sec);
}

}  // namespace iotjobs::s3
