#include "s3/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstring>
#include <ctime>

#include "common/text.h"

namespace iotjobs::s3 {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

// OpenSSL 3's one-shot SHA256() and HMAC() look the algorithm up in the provider store on every
// call (a global lock and several allocations), which costs more than hashing a request. SHA-256 is
// fetched once; each call uses a thread-local context; HMAC is RFC 2104 over that digest.
const EVP_MD* Sha256Md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

struct DigestCtx {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~DigestCtx() { EVP_MD_CTX_free(ctx); }
};

EVP_MD_CTX* ThreadCtx() {
  thread_local DigestCtx c;
  return c.ctx;
}

void Digest(std::initializer_list<std::string_view> parts, unsigned char out[32]) {
  EVP_MD_CTX* ctx = ThreadCtx();
  unsigned int len = 0;
  EVP_DigestInit_ex2(ctx, Sha256Md(), nullptr);
  for (auto p : parts) EVP_DigestUpdate(ctx, p.data(), p.size());
  EVP_DigestFinal_ex(ctx, out, &len);
}

std::string Hmac(std::string_view key, std::string_view data) {
  unsigned char k[64] = {0};
  if (key.size() > 64) {
    Digest({key}, k);
  } else {
    std::memcpy(k, key.data(), key.size());
  }
  char ipad[64], opad[64];
  for (int i = 0; i < 64; ++i) {
    ipad[i] = static_cast<char>(k[i] ^ 0x36);
    opad[i] = static_cast<char>(k[i] ^ 0x5c);
  }
  unsigned char inner[32], out[32];
  Digest({std::string_view(ipad, 64), data}, inner);
  Digest({std::string_view(opad, 64), std::string_view(reinterpret_cast<char*>(inner), 32)}, out);
  return std::string(reinterpret_cast<char*>(out), 32);
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Trims and collapses runs of spaces, as SigV4 canonical headers require.
std::string CanonicalHeaderValue(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    out.push_back(
        s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  return out;
}

std::string_view TrimView(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Timing-safe comparison of two hex signatures.
bool SameSignature(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// Parses "20261126T204105Z" into an instant.
bool ParseAmzDate(std::string_view s, Instant* out) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return false;
  std::tm tm{};
  auto num = [&](size_t pos, size_t len, int* v) {
    *v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      *v = *v * 10 + (s[i] - '0');
    }
    return true;
  };
  int y, mo, d, h, mi, se;
  if (!num(0, 4, &y) || !num(4, 2, &mo) || !num(6, 2, &d) || !num(9, 2, &h) || !num(11, 2, &mi) ||
      !num(13, 2, &se)) {
    return false;
  }
  tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d, tm.tm_hour = h, tm.tm_min = mi,
  tm.tm_sec = se;
  *out = FromEpochMillis(static_cast<int64_t>(timegm(&tm)) * 1000);
  return true;
}

std::string HeaderValue(const SigV4Request& r, std::string_view lower_name) {
  std::string out;
  bool first = true;
  for (const auto& [k, v] : r.headers) {
    if (k.size() == lower_name.size() &&
        std::equal(k.begin(), k.end(), lower_name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        })) {
      if (!first) out.push_back(',');
      out += CanonicalHeaderValue(v);
      first = false;
    }
  }
  return out;
}

std::string QueryParam(std::string_view raw_query, std::string_view name) {
  for (auto pair : Split(raw_query, '&')) {
    size_t eq = pair.find('=');
    auto key = UriDecode(pair.substr(0, eq));
    if (key && *key == name) {
      auto v = UriDecode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
      return v ? *v : std::string();
    }
  }
  return {};
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  unsigned char out[32];
  Digest({data}, out);
  return HexEncode(std::string_view(reinterpret_cast<char*>(out), sizeof(out)));
}

std::string HmacSha256Hex(std::string_view key, std::string_view data) {
  return HexEncode(Hmac(key, data));
}

std::string CanonicalUri(std::string_view raw_path, bool double_encode) {
  if (!double_encode) return raw_path.empty() ? "/" : std::string(raw_path);
  if (raw_path.empty()) return "/";
  // RFC 3986 remove_dot_segments, also dropping empty segments (botocore does the same).
  std::vector<std::string_view> out;
  for (auto seg : Split(raw_path, '/')) {
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") {
      if (!out.empty()) out.pop_back();
      continue;
    }
    out.push_back(seg);
  }
  std::string path = raw_path.front() == '/' ? "/" : "";
  for (size_t i = 0; i < out.size(); ++i) {
    if (i) path.push_back('/');
    path += out[i];
  }
  if (raw_path.back() == '/' && !out.empty()) path.push_back('/');
  return UriEncode(path, /*keep_slash=*/true);
}

std::string CanonicalQuery(std::string_view raw_query, std::string_view skip) {
  if (raw_query.empty()) return {};
  std::vector<std::pair<std::string, std::string>> params;
  for (auto pair : Split(raw_query, '&')) {
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    auto k = UriDecode(pair.substr(0, eq));
    auto v = UriDecode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    std::string key = k ? *k : std::string(pair.substr(0, eq));
    if (!skip.empty() && key == skip) continue;
    params.emplace_back(UriEncode(key), UriEncode(v ? *v : std::string()));
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out.push_back('&');
    out += k;
    out.push_back('=');
    out += v;
  }
  return out;
}

std::string CanonicalRequest(const SigV4Request& r, const std::vector<std::string>& signed_headers,
                             std::string_view payload_hash, bool double_encode,
                             std::string_view skip_query) {
  std::string out = r.method;
  out.push_back('\n');
  out += CanonicalUri(r.raw_path, double_encode);
  out.push_back('\n');
  out += CanonicalQuery(r.raw_query, skip_query);
  out.push_back('\n');
  std::string names;
  for (const auto& h : signed_headers) {
    out += h;
    out.push_back(':');
    out += HeaderValue(r, h);
    out.push_back('\n');
    if (!names.empty()) names.push_back(';');
    names += h;
  }
  out.push_back('\n');
  out += names;
  out.push_back('\n');
  out += payload_hash;
  return out;
}

std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request) {
  std::string out(kAlgorithm);
  out.push_back('\n');
  out += amz_date;
  out.push_back('\n');
  out += scope;
  out.push_back('\n');
  out += Sha256Hex(canonical_request);
  return out;
}

std::string DeriveSigningKey(std::string_view secret, std::string_view date,
                             std::string_view region, std::string_view service) {
  std::string k = Hmac("AWS4" + std::string(secret), date);
  k = Hmac(k, region);
  k = Hmac(k, service);
  return Hmac(k, "aws4_request");
}

std::string AmzDate(Instant t) {
  std::time_t secs = static_cast<std::time_t>(ToEpochMillis(t) / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[17];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

void SignRequest(SigV4Request* r, const Credentials& creds, std::string_view region,
                 std::string_view service, Instant now) {
  const std::string amz_date = AmzDate(now);
  const std::string payload_hash = Sha256Hex(r->body);
  r->headers.emplace_back("x-amz-date", amz_date);
  r->headers.emplace_back("x-amz-content-sha256", payload_hash);
  std::vector<std::string> names;
  for (const auto& [k, v] : r->headers) names.push_back(ToLower(k));
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  const bool double_encode = service != "s3";
  const std::string scope = amz_date.substr(0, 8) + "/" + std::string(region) + "/" +
                            std::string(service) + "/aws4_request";
  const std::string sts =
      StringToSign(amz_date, scope, CanonicalRequest(*r, names, payload_hash, double_encode));
  const std::string sig = HmacSha256Hex(
      DeriveSigningKey(creds.secret_access_key, amz_date.substr(0, 8), region, service), sts);
  std::string joined;
  for (const auto& n : names) joined += (joined.empty() ? "" : ";") + n;
  r->headers.emplace_back("Authorization", std::string(kAlgorithm) +
                                               " Credential=" + creds.access_key_id + "/" + scope +
                                               ", SignedHeaders=" + joined + ", Signature=" + sig);
}

std::string PresignGetUrl(std::string_view scheme_host, std::string_view host,
                          std::string_view raw_path, const Credentials& creds,
                          std::string_view region, Instant now, int64_t expires_sec) {
  const std::string amz_date = AmzDate(now);
  const std::string scope = amz_date.substr(0, 8) + "/" + std::string(region) + "/s3/aws4_request";
  std::string query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" +
                      UriEncode(creds.access_key_id + "/" + scope) + "&X-Amz-Date=" + amz_date +
                      "&X-Amz-Expires=" + std::to_string(expires_sec) + "&X-Amz-SignedHeaders=host";
  SigV4Request r{"GET", std::string(raw_path), query, {{"host", std::string(host)}}, {}};
  const std::string sts =
      StringToSign(amz_date, scope, CanonicalRequest(r, {"host"}, kUnsignedPayload, false));
  const std::string sig = HmacSha256Hex(
      DeriveSigningKey(creds.secret_access_key, amz_date.substr(0, 8), region, "s3"), sts);
  return std::string(scheme_host) + std::string(raw_path) + "?" + query + "&X-Amz-Signature=" + sig;
}

std::optional<CredentialScope> PeekScope(const SigV4Request& r) {
  std::string credential;
  std::string auth = HeaderValue(r, "authorization");
  if (!auth.empty()) {
    std::string_view a = auth;
    size_t c = a.find("Credential=");
    if (c == std::string_view::npos) return std::nullopt;
    a = a.substr(c + 11);
    credential = std::string(TrimView(a.substr(0, a.find(','))));
  } else if (r.raw_query.find("X-Amz-Credential=") != std::string::npos) {
    credential = QueryParam(r.raw_query, "X-Amz-Credential");
  } else {
    return std::nullopt;
  }
  auto parts = Split(credential, '/');
  if (parts.size() != 5 || parts[4] != "aws4_request") return std::nullopt;
  return CredentialScope{std::string(parts[0]), std::string(parts[1]), std::string(parts[2]),
                         std::string(parts[3])};
}

bool IsSigned(const SigV4Request& r) {
  return !HeaderValue(r, "authorization").empty() ||
         r.raw_query.find("X-Amz-Signature=") != std::string::npos;
}

bool IsRegionName(std::string_view region) {
  if (region.size() > 32) return false;
  size_t i = 0;
  auto letters = [&] {
    const size_t start = i;
    while (i < region.size() && region[i] >= 'a' && region[i] <= 'z') ++i;
    return i - start;
  };
  const size_t head = letters();
  if (head < 2 || head > 4) return false;
  int words = 0;
  for (;;) {
    if (i >= region.size() || region[i] != '-') return false;
    ++i;
    if (letters() == 0) break;  // the last part: digits
    ++words;
  }
  const size_t digits_start = i;
  while (i < region.size() && region[i] >= '0' && region[i] <= '9') ++i;
  const size_t digits = i - digits_start;
  return words >= 1 && digits >= 1 && digits <= 2 && i == region.size();
}

Status CheckScopeRegion(std::string_view region) {
  if (IsRegionName(region)) return Status::Ok();
  bool quotable = region.size() <= 40;
  for (char c : region) quotable = quotable && c > ' ' && c <= '~' && c != '\'' && c != '\\';
  return Status(Code::kSignatureInvalid,
                "Credential should be scoped to a valid region (e.g. us-east-1), got " +
                    (quotable ? "'" + std::string(region) + "'"
                              : "an invalid name of " + std::to_string(region.size()) + " bytes"));
}

std::string SigV4Verifier::SigningKey(const Credentials& c, std::string_view date,
                                      std::string_view region, std::string_view service) const {
  std::string cache_key = c.access_key_id;
  cache_key.append("/").append(date).append("/").append(region).append("/").append(service);
  {
    std::lock_guard lock(mu_);
    auto it = key_cache_.find(cache_key);
    if (it != key_cache_.end()) return it->second;
  }
  std::string k = DeriveSigningKey(c.secret_access_key, date, region, service);
  std::lock_guard lock(mu_);
  if (key_cache_.size() > 4096) key_cache_.clear();  // bounded: dates roll over daily
  key_cache_[cache_key] = k;
  return k;
}

Result<SigV4Identity> SigV4Verifier::Verify(const SigV4Request& r, Instant now,
                                            bool headers_only) const {
  std::string auth = HeaderValue(r, "authorization");
  if (!auth.empty()) {
    std::string_view a = auth;
    if (a.substr(0, kAlgorithm.size()) != kAlgorithm) {
      return Status(Code::kSignatureInvalid,
                    "Authorization header must use AWS4-HMAC-SHA256 (Signature Version 4)");
    }
    std::string_view credential, signed_headers, signature;
    for (auto part : Split(a.substr(kAlgorithm.size()), ',')) {
      part = TrimView(part);
      size_t eq = part.find('=');
      if (eq == std::string_view::npos) continue;
      auto k = part.substr(0, eq), v = part.substr(eq + 1);
      if (k == "Credential") credential = v;
      if (k == "SignedHeaders") signed_headers = v;
      if (k == "Signature") signature = v;
    }
    if (credential.empty() || signed_headers.empty() || signature.empty()) {
      return Status(Code::kSignatureInvalid,
                    "Authorization header requires Credential, SignedHeaders and Signature");
    }
    std::string date = HeaderValue(r, "x-amz-date");
    if (date.empty()) {
      return Status(Code::kSignatureInvalid, "Authorization header requires an X-Amz-Date header");
    }
    return Check(r, now, credential, signed_headers, signature, date, false, 0, headers_only);
  }
  if (r.raw_query.find("X-Amz-Signature=") != std::string::npos) {
    if (QueryParam(r.raw_query, "X-Amz-Algorithm") != kAlgorithm) {
      return Status(Code::kSignatureInvalid, "X-Amz-Algorithm must be AWS4-HMAC-SHA256");
    }
    std::string credential = QueryParam(r.raw_query, "X-Amz-Credential");
    std::string signed_headers = QueryParam(r.raw_query, "X-Amz-SignedHeaders");
    std::string signature = QueryParam(r.raw_query, "X-Amz-Signature");
    std::string date = QueryParam(r.raw_query, "X-Amz-Date");
    std::string expires = QueryParam(r.raw_query, "X-Amz-Expires");
    int64_t expires_sec = 0;
    for (char c : expires) {
      if (c < '0' || c > '9' || expires_sec > 604800) {
        return Status(Code::kSignatureInvalid, "X-Amz-Expires must be a number of seconds");
      }
      expires_sec = expires_sec * 10 + (c - '0');
    }
    // The loop's bound only stops overflow; AWS caps presigned URLs at seven days.
    if (expires_sec > 604800) {
      return Status(Code::kSignatureInvalid,
                    "X-Amz-Expires must be less than a week (in seconds) that is 604800");
    }
    if (expires.empty()) expires_sec = 900;
    return Check(r, now, credential, signed_headers, signature, date, true, expires_sec,
                 headers_only);
  }
  return Status(Code::kMissingAuth, "Missing Authentication Token: sign the request with SigV4");
}

Result<SigV4Identity> SigV4Verifier::Check(const SigV4Request& r, Instant now,
                                           std::string_view credential,
                                           std::string_view signed_headers,
                                           std::string_view signature, std::string_view amz_date,
                                           bool presigned, int64_t expires_sec,
                                           bool headers_only) const {
  // Credential = AKID/date/region/service/aws4_request
  auto parts = Split(credential, '/');
  if (parts.size() != 5 || parts[4] != "aws4_request") {
    return Status(Code::kSignatureInvalid,
                  "Credential must have the form <key>/<date>/<region>/<service>/aws4_request");
  }
  IOTJOBS_RETURN_IF_ERROR(CheckScopeRegion(parts[2]));
  auto key = keys_.by_key_id.find(std::string(parts[0]));
  if (key == keys_.by_key_id.end()) {
    return Status(Code::kUnknownClient,
                  "The security token included in the request is invalid "
                  "(unknown access key id " +
                      std::string(parts[0]) + ")");
  }
  Instant signed_at;
  if (!ParseAmzDate(amz_date, &signed_at)) {
    return Status(Code::kSignatureInvalid, "X-Amz-Date must have the form YYYYMMDDTHHMMSSZ");
  }
  if (amz_date.substr(0, 8) != parts[1]) {
    return Status(Code::kSignatureInvalid, "Credential date does not match X-Amz-Date");
  }
  if (presigned) {
    if (now > signed_at + Millis(expires_sec * 1000)) {
      return Status(Code::kSignatureInvalid, "Request has expired (signed at " +
                                                 std::string(amz_date) + ", valid " +
                                                 std::to_string(expires_sec) + " s)");
    }
    if (signed_at > now + max_skew_) {
      return Status(Code::kSignatureInvalid, "Signature not yet current: " + std::string(amz_date));
    }
  } else if (signed_at + max_skew_ < now || signed_at > now + max_skew_) {
    return Status(Code::kSignatureInvalid,
                  "Signature expired: " + std::string(amz_date) +
                      " is more than 15 minutes away from the server time " + AmzDate(now));
  }
  std::vector<std::string> names;
  for (auto n : Split(signed_headers, ';')) names.push_back(ToLower(n));
  if (std::find(names.begin(), names.end(), "host") == names.end()) {
    return Status(Code::kSignatureInvalid, "SignedHeaders must include host");
  }
  if (headers_only) {
    return SigV4Identity{std::string(parts[0]), std::string(parts[2]), std::string(parts[3]),
                         key->second.role, key->second.thing};
  }

  const std::string scope(credential.substr(parts[0].size() + 1));
  const std::string signing_key = SigningKey(key->second, parts[1], parts[2], parts[3]);
  std::vector<std::string> payload_hashes;
  std::string content_sha = HeaderValue(r, "x-amz-content-sha256");
  if (!content_sha.empty()) {
    payload_hashes.push_back(content_sha);
  } else if (presigned) {
    // S3 presigns with UNSIGNED-PAYLOAD; other services (botocore's SigV4QueryAuth for iot, the
    // generate_presigned_url path) hash the (empty) body like a header-signed request.
    payload_hashes.push_back(std::string(kUnsignedPayload));
    payload_hashes.push_back(Sha256Hex(r.body));
  } else {
    payload_hashes.push_back(Sha256Hex(r.body));
  }
  if (!presigned && content_sha == kUnsignedPayload && !r.body.empty()) {
    // AWS documents UNSIGNED-PAYLOAD for S3 only; here it would let a body change after signing.
    return Status(Code::kSignatureInvalid,
                  "x-amz-content-sha256: UNSIGNED-PAYLOAD is not accepted on a request with a "
                  "body; sign the payload (its SHA-256 in hex)");
  }
  if (!content_sha.empty() && content_sha != kUnsignedPayload && content_sha != Sha256Hex(r.body)) {
    return Status(Code::kSignatureInvalid, "x-amz-content-sha256 does not match the request body");
  }
  const std::string_view skip = presigned ? "X-Amz-Signature" : "";
  // Non-S3 services double-encode the path; a client that does not is accepted too.
  for (bool double_encode : {true, false}) {
    for (const auto& ph : payload_hashes) {
      std::string sts =
          StringToSign(amz_date, scope, CanonicalRequest(r, names, ph, double_encode, skip));
      if (SameSignature(HmacSha256Hex(signing_key, sts), signature)) {
        return SigV4Identity{std::string(parts[0]), std::string(parts[2]), std::string(parts[3]),
                             key->second.role, key->second.thing};
      }
    }
  }
  return Status(Code::kSignatureInvalid,
                "The request signature we calculated does not match the signature you provided. "
                "Check your AWS Secret Access Key and signing method.");
}

}  // namespace iotjobs::s3
