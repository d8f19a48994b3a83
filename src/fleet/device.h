// Device: one simulated device speaking the AWS IoT Jobs MQTT API (spec §2.2–2.3) the way the
// Device SDK samples do. It subscribes to its notify-next and reply topics, asks start-next when it
// comes online or is told of a job, runs the execution for a drawn run time (sending IN_PROGRESS
// updates with statusDetails for each step), then reports the drawn outcome (SUCCEEDED, FAILED,
// REJECTED) with expectedVersion, or hangs. A share of executions drop the connection mid-run and
// resume through start-next after reconnecting.
//
// Transport-free: the event loop hands it connection events and messages and carries out what it
// asks through DeviceIo, so the protocol is unit-tested without a broker.
#pragma once

#include <boost/json/fwd.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fleet/profile.h"
#include "fleet/stats.h"

namespace iotjobs::fleet {

class DeviceIo {
 public:
  virtual ~DeviceIo() = default;
  virtual void Publish(const std::string& topic, const std::string& payload) = 0;
  // Arms the device's one timer `delay_ms` from now, replacing an armed one.
  virtual void SetTimer(double delay_ms) = 0;
  // Drops the connection now and reconnects after `delay_ms` (then OnReady runs again).
  virtual void Reconnect(double delay_ms) = 0;
  virtual int64_t NowUs() = 0;      // monotonic, for latencies
  virtual int64_t NowUnixMs() = 0;  // wall clock, for the timeline
};

class Device {
 public:
  // A request unanswered this long is given up and start-next asked again.
  static constexpr double kRequestTimeoutMs = 10000;

  enum class State { kOffline, kIdle, kStarting, kRunning, kUpdating, kHung };

  Device(std::string thing, const Profile* profile, uint64_t seed);

  const std::string& thing() const { return thing_; }
  // The topics to subscribe to (QoS 1) on every connect.
  std::vector<std::string> Subscriptions() const;

  // Connected and subscribed.
  void OnReady(DeviceIo& io, Stats& stats);
  void OnDisconnected() { state_ = State::kOffline; }
  void OnMessage(std::string_view topic, std::string_view payload, DeviceIo& io, Stats& stats);
  void OnTimer(DeviceIo& io, Stats& stats);

  State state() const { return state_; }
  const std::string& job_id() const { return job_id_; }
  int64_t version() const { return version_; }

 private:
  void StartNext(DeviceIo& io, Stats& stats);
  void SendUpdate(const char* status, DeviceIo& io, Stats& stats);
  void OnStartNextAccepted(const boost::json::object& reply, DeviceIo& io, Stats& stats);
  void OnUpdateAccepted(DeviceIo& io, Stats& stats);
  void OnRejected(const boost::json::object& reply, bool update, DeviceIo& io, Stats& stats);
  void OnNotifyNext(std::string_view payload, DeviceIo& io, Stats& stats);
  // True (and latency recorded) when `reply` answers the request in flight.
  bool Answers(const boost::json::object& reply, DeviceIo& io, std::vector<uint32_t>* latency);
  std::string NewToken();

  std::string thing_, base_;
  const Profile* profile_;
  Rng rng_;
  State state_ = State::kOffline;
  bool notify_pending_ = false;  // a job was announced while a request was in flight
  std::string pending_token_;
  int64_t sent_us_ = 0;
  uint64_t tokens_ = 0;

  // The execution being run.
  std::string job_id_;
  int64_t execution_number_ = 0, version_ = 0;
  Outcome outcome_ = Outcome::kSucceed;
  int steps_done_ = 0;
  bool final_update_ = false;
  bool will_reconnect_ = false;
  double step_ms_ = 0;
  int64_t notified_us_ = 0;    // when the current/next job was announced (or started)
  std::string last_notified_;  // jobId of the last notify-next counted
};

}  // namespace iotjobs::fleet
