// Fuzz target: S3 URL parsing (s3/ParseS3Url), the documentSource and registration inputFile
// forms. Input: URL LF S3_ENDPOINT (the endpoint part may be empty).
#include "harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto [url, endpoint] = iotjobs::fuzz::SplitOnce(iotjobs::fuzz::AsText(data, size), '\n');
  auto loc = iotjobs::s3::ParseS3Url(url, endpoint);
  // A location always names a bucket.
  if (loc.ok() && loc->bucket.empty()) __builtin_trap();
  return 0;
}
