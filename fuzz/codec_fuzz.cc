// Fuzz target: the JSON codec of stored values (codec/): job configs, job specs and string maps as
// the store reads them back from its columns. Whatever decodes must encode to a text that decodes
// to the same value. Input: one selector byte (which reader), then the stored text.
#include "codec/job_codec.h"
#include "codec/json_codec.h"
#include "harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace iotjobs;
  if (size == 0) return 0;
  const std::string text(fuzz::AsText(data + 1, size - 1));
  switch (data[0] % 3) {
    case 0: {
      auto c = codec::ConfigsFromJson(text);
      if (!c.ok()) return 0;
      auto back = codec::ConfigsFromJson(codec::ConfigsToJson(*c));
      if (!back.ok() || !(*back == *c)) __builtin_trap();
      break;
    }
    case 1: {
      jobs::Job j;
      if (!codec::JobSpecFromJson(text, &j).ok()) return 0;
      const std::string encoded = codec::JobSpecToJson(j);
      jobs::Job back;
      if (!codec::JobSpecFromJson(encoded, &back).ok() || codec::JobSpecToJson(back) != encoded) {
        __builtin_trap();
      }
      break;
    }
    default: {
      auto m = codec::StringMapFromJson(text);
      if (!m.ok()) return 0;
      auto back = codec::StringMapFromJson(codec::StringMapToJson(*m));
      if (!back.ok() || *back != *m) __builtin_trap();
      break;
    }
  }
  return 0;
}
