// AWS Signature Version 4: signing outgoing requests (S3 fetches), presigning URLs (documents
// delivered to devices) and verifying incoming requests (control and data planes).
// Reference: "Signature Version 4 signing process" and botocore/auth.py. All functions are pure and
// thread-safe; SigV4Verifier caches derived signing keys behind a mutex.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/credentials.h"
#include "common/status.h"

namespace iotjobs::s3 {

// A request as signed: the path and query exactly as they travel (percent-encoded).
struct SigV4Request {
  std::string method;
  std::string raw_path;   // "/job-templates/t%201"
  std::string raw_query;  // "a=1&b=x%20y" (no '?')
  // Header names in any case; values as received.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;
};

// Canonical URI: dot segments removed. With double_encode (every service but S3) each byte of the
// already-encoded path is encoded again, as botocore and the JS SDK do ('%' becomes '%25').
std::string CanonicalUri(std::string_view raw_path, bool double_encode);
// Canonical query: decoded, re-encoded strictly, sorted by key then value; `skip` is left out.
std::string CanonicalQuery(std::string_view raw_query, std::string_view skip = {});
// The canonical request of the SigV4 spec, given the signed header names (lower case, sorted).
std::string CanonicalRequest(const SigV4Request& r, const std::vector<std::string>& signed_headers,
                             std::string_view payload_hash, bool double_encode,
                             std::string_view skip_query = {});
std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request);
// kSigning = HMAC chain over date (YYYYMMDD), region, service, "aws4_request".
std::string DeriveSigningKey(std::string_view secret, std::string_view date,
                             std::string_view region, std::string_view service);
std::string HmacSha256Hex(std::string_view key, std::string_view data);
std::string Sha256Hex(std::string_view data);

// "20261126T204105Z" for `t`.
std::string AmzDate(Instant t);

// Adds x-amz-date, x-amz-content-sha256 and Authorization to `r.headers` (which must already hold
// `host`), signing every header present.
void SignRequest(SigV4Request* r, const Credentials& creds, std::string_view region,
                 std::string_view service, Instant now);

// Returns `scheme_host` + path + presigned query for a GET of `raw_path` on `host` valid for
// `expires_sec`, in S3's UNSIGNED-PAYLOAD, single-encoding form.
std::string PresignGetUrl(std::string_view scheme_host, std::string_view host,
                          std::string_view raw_path, const Credentials& creds,
                          std::string_view region, Instant now, int64_t expires_sec);

// The credential scope a request claims, read without verifying anything: from the Authorization
// header's Credential= or the X-Amz-Credential query parameter. For routing (both planes share one
// listener, told apart by the signing service) and for --no-auth, where nothing is verified.
struct CredentialScope {
  std::string access_key_id;
  std::string date;
  std::string region;
  std::string service;
};
// nullopt when the request carries no well-formed scope
// (<key>/<date>/<region>/<service>/aws4_request).
std::optional<CredentialScope> PeekScope(const SigV4Request& r);
// True when the request carries a SigV4 signature in either form (header or presigned query).
bool IsSigned(const SigV4Request& r);
// True for a region-shaped name: ^[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}$ (every region in botocore's
// endpoints data, e.g. us-east-1, us-gov-west-1, us-isob-east-1, eusc-de-east-1), at most 32
// characters. A credential scope's region names a namespace, so nothing else is accepted.
bool IsRegionName(std::string_view region);
// OK for a region-shaped name, else SignatureInvalid saying so (quoting the name only when it is
// short printable ASCII).
Status CheckScopeRegion(std::string_view region);

// Who signed a verified request.
struct SigV4Identity {
  std::string access_key_id;
  std::string region;                 // from the credential scope
  std::string service;                // from the credential scope ("iot", "iot-jobs-data", ...)
  KeyRole role = KeyRole::kOperator;  // of the key (credentials file's iotjobs_role)
  std::string thing;                  // device keys: the one thing allowed (empty: any)
};

class SigV4Verifier {
 public:
  // `max_skew`: how far x-amz-date may be from now (AWS: 15 minutes).
  SigV4Verifier(CredentialSet keys, Millis max_skew = Millis(15 * 60 * 1000))
      : keys_(std::move(keys)), max_skew_(max_skew) {}

  // Verifies the Authorization header form or the presigned query form. Errors are Unauthorized
  // with a message naming what is wrong (missing, unknown key, signature mismatch, stale date, a
  // scope region that is not region-shaped). A header-signed request with a body must sign it:
  // x-amz-content-sha256: UNSIGNED-PAYLOAD is refused there (AWS documents it for S3 only);
  // presigned query requests keep AWS's rules.
  Result<SigV4Identity> Verify(const SigV4Request& r, Instant now) const {
    return Verify(r, now, false);
  }
  // Everything Verify checks but the signature itself and the payload hash (which need the body):
  // the Authorization header or presigned query is well formed, the access key is known, the
  // scope region is region-shaped, the date is within max_skew (or the presigned URL unexpired).
  // Cheap (no hashing): run it before reading a request body. Same errors as Verify.
  Result<SigV4Identity> VerifyHeaders(const SigV4Request& r, Instant now) const {
    return Verify(r, now, true);
  }

 private:
  Result<SigV4Identity> Verify(const SigV4Request& r, Instant now, bool headers_only) const;
  Result<SigV4Identity> Check(const SigV4Request& r, Instant now, std::string_view credential,
                              std::string_view signed_headers, std::string_view signature,
                              std::string_view amz_date, bool presigned, int64_t expires_sec,
                              bool headers_only) const;
  std::string SigningKey(const Credentials& c, std::string_view date, std::string_view region,
                         std::string_view service) const;

  CredentialSet keys_;
  Millis max_skew_;
  mutable std::mutex mu_;
  mutable std::map<std::string, std::string> key_cache_;
};

}  // namespace iotjobs::s3
