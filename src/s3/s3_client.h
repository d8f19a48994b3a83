// S3Client: fetches job documents named by an S3 URL from the configured S3-compatible endpoint
// (path-style, SigV4-signed) and presigns GET URLs for documents delivered to devices.
//
// Thread-safe. Fetch blocks (libcurl): call it from worker threads only. Every fetch is bounded by
// a connect and a total timeout, and by a size cap, so a slow or hostile store cannot hang a
// request.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/credentials.h"
#include "common/status.h"

namespace iotjobs::s3 {

struct S3Location {
  std::string bucket;
  std::string key;  // decoded
  bool operator==(const S3Location&) const = default;
};

// Accepts https://s3.amazonaws.com/b/k, https://b.s3[.<region>].amazonaws.com/k,
// https://s3.<region>.amazonaws.com/b/k, https://s3-<region>.amazonaws.com/b/k, s3://b/k and,
// for self-hosted setups, <s3_endpoint>/b/k. Anything else: InvalidRequest saying it is not S3.
Result<S3Location> ParseS3Url(std::string_view url, std::string_view s3_endpoint);

// The seam for documentSource fetches, so service tests can run without a server.
class DocumentSource {
 public:
  virtual ~DocumentSource() = default;
  // The object's bytes. InvalidRequest when missing, over max size, or the store is unreachable,
  // with a message that says which.
  virtual Result<std::string> Fetch(const S3Location& loc) = 0;
};

class S3Client final : public DocumentSource {
 public:
  struct Options {
    std::string endpoint;              // e.g. http://127.0.0.1:9000 (no trailing slash)
    std::string region = "us-east-1";  // signing region
    Credentials credentials;
    long connect_timeout_ms = 2000;  // TCP/TLS connect
    long total_timeout_ms = 5000;    // whole request
    size_t max_bytes = 32768;        // documents larger than this are refused
  };
  explicit S3Client(Options options);

  Result<std::string> Fetch(const S3Location& loc) override;
  // GET with its own size cap and timeout; errors say `what` (e.g. "inputFile").
  Result<std::string> Get(const S3Location& loc, std::string_view what, size_t max_bytes,
                          long timeout_ms);
  // PUT `body` as the object's content (at most 1 MiB of response is read).
  Status Put(const S3Location& loc, std::string_view body, std::string_view what, long timeout_ms);

  // A presigned GET URL for `loc`, valid `expires_sec` from `now`.
  std::string PresignGet(const S3Location& loc, Instant now, int64_t expires_sec) const;
  const Options& options() const { return options_; }

 private:
  Result<std::string> Transfer(const char* method, const S3Location& loc, std::string_view payload,
                               std::string_view what, size_t max_bytes, long timeout_ms);

  Options options_;
  std::string host_;  // host[:port] of the endpoint, as signed
};

}  // namespace iotjobs::s3
