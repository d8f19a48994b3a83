// EchoResponder: the broker-only ceiling for the fleet benchmark. It stands where iotjobsd stands
// (one privileged MQTT connection subscribed to every thing's start-next and update requests)
// and answers with the same topics and similar payloads, but from memory and without a store, so
// `iotjobs fleet` against it measures what the broker and the simulator alone can carry on this
// machine. Once `devices` distinct things have asked start-next it "creates" `jobs` jobs:
// notify-next to every thing, then each thing's start-next / update runs them in order.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "common/status.h"

namespace iotjobs::fleet {

struct EchoOptions {
  std::string host = "127.0.0.1";
  int port = 1883;
  std::string username, password;
  std::string client_id = "iotjobs-echo";
  int64_t devices = 1;
  int64_t jobs = 1;
  int document_bytes = 64;  // padding in the job document, to match a real job's payload
};

// Runs until Stop() (from a signal handler or another thread). Unavailable when the broker
// cannot be reached.
Status RunEcho(const EchoOptions& options, const std::atomic<bool>& stop);

}  // namespace iotjobs::fleet
