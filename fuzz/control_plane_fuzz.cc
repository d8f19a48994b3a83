// Fuzz target: the control plane's route table and request decoders (api/ControlPlane::Handle,
// as iotjobsd serves it under --no-auth) over a real SQLite store. Input: an HTTP request in the
// text form of harness.h (request line, headers, blank line, body).
#include "harness.h"

namespace {
iotjobs::fuzz::Services* services;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  services = new iotjobs::fuzz::Services();
  iotjobs::fuzz::AddFleet(*services);
  std::atexit([] { delete services; });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  iotjobs::http::Request req = iotjobs::fuzz::ParseRequest(iotjobs::fuzz::AsText(data, size));
  iotjobs::http::Response resp = services->control->Handle(req);
  // Every answer is a status the HTTP layer can send.
  if (resp.status < 200 || resp.status > 599) __builtin_trap();
  return 0;
}
