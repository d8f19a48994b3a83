// Fuzz target: the HTTPS jobs data plane's routes and decoders (api/JobsDataPlane::Handle under
// --no-auth) over a SQLite store holding things with executions (harness.h AddFleet). Input: an
// HTTP request in the text form of harness.h.
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
  iotjobs::http::Response resp = services->data_plane->Handle(req);
  if (resp.status < 200 || resp.status > 599) __builtin_trap();
  return 0;
}
