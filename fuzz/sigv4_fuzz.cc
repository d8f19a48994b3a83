// Fuzz target: SigV4 verification of incoming requests (s3/SigV4Verifier::Verify), both the
// Authorization-header form and the presigned-query form, plus the canonical URI and query forms
// it builds. Input: an HTTP request in the text form of harness.h; the verifier knows the key
// AKIDEXAMPLE and the clock stands at 2023-11-14T22:13:20Z (x-amz-date 20231114T221320Z).
#include "harness.h"
#include "s3/sigv4.h"

namespace {

const iotjobs::s3::SigV4Verifier& Verifier() {
  static const iotjobs::s3::SigV4Verifier* verifier = [] {
    iotjobs::CredentialSet keys;
    keys.primary = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"};
    keys.by_key_id[keys.primary.access_key_id] = keys.primary;
    return new iotjobs::s3::SigV4Verifier(keys);
  }();
  return *verifier;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace iotjobs;
  http::Request req = fuzz::ParseRequest(fuzz::AsText(data, size));
  s3::SigV4Request r{req.method, req.path, req.query, req.headers, req.body};
  auto identity = Verifier().Verify(r, FromEpochMillis(1'700'000'000'000));
  // Only the one key can have signed it (the seeds hold requests it signed).
  if (identity.ok() && identity->access_key_id != "AKIDEXAMPLE") __builtin_trap();
  (void)s3::CanonicalUri(req.path, true);
  (void)s3::CanonicalUri(req.path, false);
  (void)s3::CanonicalQuery(req.query, "X-Amz-Signature");
  return 0;
}
