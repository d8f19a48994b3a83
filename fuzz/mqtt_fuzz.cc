// Fuzz target: the MQTT jobs API's topic router and payload decoders (device/JobsMqtt::Handle,
// what a message from the broker reaches) over a SQLite store holding things with executions.
// Input: TOPIC LF PAYLOAD.
#include "device/jobs_mqtt.h"
#include "harness.h"

namespace {
iotjobs::fuzz::Services* services;
iotjobs::device::JobsMqtt* mqtt;
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  services = new iotjobs::fuzz::Services();
  iotjobs::fuzz::AddFleet(*services);
  // Never started: Handle() answers on the calling thread, without a broker.
  mqtt = new iotjobs::device::JobsMqtt({}, &*services->devices);
  std::atexit([] {
    delete mqtt;
    delete services;
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto [topic, payload] = iotjobs::fuzz::SplitOnce(iotjobs::fuzz::AsText(data, size), '\n');
  auto reply = mqtt->Handle(std::string(topic), std::string(payload));
  // A reply goes to the requesting thing's own topics.
  if (reply && reply->first.rfind("$aws/things/", 0) != 0) __builtin_trap();
  return 0;
}
