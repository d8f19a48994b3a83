// Fuzz target: nextToken decoding (service/DecodePageToken), which every List operation applies to
// the caller's nextToken. Whatever decodes must survive a round trip through EncodePageToken.
#include "harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace iotjobs::service;
  std::string token(iotjobs::fuzz::AsText(data, size));
  auto after = DecodePageToken(token);
  if (!after.ok()) return 0;
  auto again = DecodePageToken(EncodePageToken(*after));
  if (!again.ok() || *again != *after) __builtin_trap();
  return 0;
}
