#include "fleet/device.h"

#include <boost/json.hpp>

namespace iotjobs::fleet {
namespace json = boost::json;
namespace {

// Parses a reply; a malformed one yields an empty object (the device ignores it).
json::object Parse(std::string_view payload) {
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  if (ec || !v.is_object()) return {};
  return std::move(v.as_object());
}

std::string_view Str(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? std::string_view(it->value().get_string())
                                                  : std::string_view();
}

int64_t Int(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end()) return 0;
  if (it->value().is_int64()) return it->value().get_int64();
  if (it->value().is_uint64()) return static_cast<int64_t>(it->value().get_uint64());
  if (it->value().is_double()) return static_cast<int64_t>(it->value().get_double());
  return 0;
}

const json::object* Obj(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_object() ? &it->value().get_object() : nullptr;
}

}  // namespace

Device::Device(std::string thing, const Profile* profile, uint64_t seed)
    : thing_(std::move(thing)),
      base_("$aws/things/" + thing_ + "/jobs/"),
      profile_(profile),
      rng_(SeedFor(seed, thing_)) {}

std::vector<std::string> Device::Subscriptions() const {
  return {base_ + "notify-next", base_ + "start-next/accepted", base_ + "start-next/rejected",
          base_ + "+/update/accepted", base_ + "+/update/rejected"};
}

std::string Device::NewToken() { return "t" + std::to_string(++tokens_); }

void Device::OnReady(DeviceIo& io, Stats& stats) { StartNext(io, stats); }

void Device::StartNext(DeviceIo& io, Stats& stats) {
  notify_pending_ = false;
  pending_token_ = NewToken();
  sent_us_ = io.NowUs();
  state_ = State::kStarting;
  stats.requests_sent.fetch_add(1, Stats::kRelaxed);
  io.Publish(base_ + "start-next", "{\"clientToken\":\"" + pending_token_ + "\"}");
  io.SetTimer(kRequestTimeoutMs);
}

void Device::SendUpdate(const char* status, DeviceIo& io, Stats& stats) {
  pending_token_ = NewToken();
  sent_us_ = io.NowUs();
  state_ = State::kUpdating;
  std::string body = std::string("{\"status\":\"") + status +
                     "\",\"expectedVersion\":" + std::to_string(version_) + ",\"clientToken\":\"" +
                     pending_token_ + "\"";
  if (profile_->steps > 0) {
    body += ",\"statusDetails\":{\"step\":\"" + std::to_string(steps_done_) + "/" +
            std::to_string(profile_->steps) + "\"}";
  }
  body += "}";
  stats.requests_sent.fetch_add(1, Stats::kRelaxed);
  io.Publish(base_ + job_id_ + "/update", body);
  io.SetTimer(kRequestTimeoutMs);
}

bool Device::Answers(const json::object& o, DeviceIo& io, std::vector<uint32_t>* latency) {
  if (pending_token_.empty()) return false;
  if (Str(o, "clientToken") != pending_token_) return false;  // stale or duplicate
  pending_token_.clear();
  latency->push_back(static_cast<uint32_t>(std::min<int64_t>(io.NowUs() - sent_us_, UINT32_MAX)));
  return true;
}

void Device::OnMessage(std::string_view topic, std::string_view payload, DeviceIo& io,
                       Stats& stats) {
  if (topic.substr(0, base_.size()) != base_) return;
  std::string_view rest = topic.substr(base_.size());
  if (rest == "notify-next") return OnNotifyNext(payload, io, stats);
  // A reply: parsed once, ignored unless it answers the request in flight.
  const bool start_next = rest == "start-next/accepted" || rest == "start-next/rejected";
  constexpr std::string_view kAccepted = "/update/accepted", kRejected = "/update/rejected";
  const bool update = rest.ends_with(kAccepted) || rest.ends_with(kRejected);
  if (start_next ? state_ != State::kStarting
                 : !update || state_ != State::kUpdating ||
                       rest.substr(0, rest.size() - kAccepted.size()) != job_id_) {
    return;
  }
  json::object o = Parse(payload);
  if (!Answers(o, io, start_next ? &stats.start_next_us : &stats.update_us)) return;
  const bool accepted = rest.ends_with("accepted");
  if (!accepted) return OnRejected(o, update, io, stats);
  if (start_next) return OnStartNextAccepted(o, io, stats);
  OnUpdateAccepted(io, stats);
}

void Device::OnNotifyNext(std::string_view payload, DeviceIo& io, Stats& stats) {
  json::object o = Parse(payload);
  const json::object* exec = Obj(o, "execution");
  if (!exec) return;  // nothing pending
  std::string_view job = Str(*exec, "jobId");
  if (job.empty()) return;
  if (job != last_notified_) {
    last_notified_ = std::string(job);
    notified_us_ = io.NowUs();
    stats.Count(kNotified, io.NowUnixMs());
  }
  switch (state_) {
    case State::kIdle:
      return StartNext(io, stats);
    case State::kHung:
      // The hung execution is gone (timed out or canceled) once another one is next.
      if (job != job_id_) return StartNext(io, stats);
      return;
    case State::kStarting:
    case State::kUpdating:
    case State::kRunning:
      notify_pending_ = true;
      return;
    case State::kOffline:
      return;
  }
}

void Device::OnStartNextAccepted(const json::object& o, DeviceIo& io, Stats& stats) {
  const json::object* exec = Obj(o, "execution");
  if (!exec || Str(*exec, "jobId").empty()) {
    state_ = State::kIdle;
    if (notify_pending_) StartNext(io, stats);
    return;
  }
  std::string_view job = Str(*exec, "jobId");
  int64_t number = Int(*exec, "executionNumber");
  int64_t version = Int(*exec, "versionNumber");
  bool same = job == job_id_ && number == execution_number_;
  version_ = version;
  if (!same) {
    job_id_ = std::string(job);
    execution_number_ = number;
    stats.Count(kStarted, io.NowUnixMs());
    if (last_notified_ != job_id_) {
      // Found by start-next without a notify-next of its own (e.g. queued before connecting).
      notified_us_ = io.NowUs();
    }
    outcome_ = DrawOutcome(*profile_, rng_);
    double run_ms = DrawRunTimeMs(profile_->run_time, rng_);
    step_ms_ = run_ms / (profile_->steps + 1);
    steps_done_ = 0;
    final_update_ = false;
    will_reconnect_ = profile_->reconnect_share > 0 && rng_.Uniform01() < profile_->reconnect_share;
    if (outcome_ == Outcome::kHang) {
      stats.Count(kHung, io.NowUnixMs());
      state_ = State::kHung;
      return;
    }
  } else if (outcome_ == Outcome::kHang) {
    state_ = State::kHung;
    return;
  }
  state_ = State::kRunning;
  io.SetTimer(step_ms_);
}

void Device::OnTimer(DeviceIo& io, Stats& stats) {
  if (state_ == State::kIdle) return StartNext(io, stats);  // retry after a rejection
  if (state_ == State::kStarting || state_ == State::kUpdating) {
    // No answer (e.g. the request reached the broker before the service subscribed): ask again.
    // start-next returns the execution in progress with its version, so an update that did get
    // through is not applied twice.
    stats.Error(state_ == State::kStarting ? "start-next:timeout" : "update:timeout");
    return StartNext(io, stats);
  }
  if (state_ != State::kRunning) return;
  if (will_reconnect_) {
    will_reconnect_ = false;
    state_ = State::kOffline;
    io.Reconnect(profile_->reconnect_delay_ms);
    return;
  }
  if (steps_done_ < profile_->steps) {
    ++steps_done_;
    return SendUpdate("IN_PROGRESS", io, stats);
  }
  final_update_ = true;
  switch (outcome_) {
    case Outcome::kSucceed:
      return SendUpdate("SUCCEEDED", io, stats);
    case Outcome::kFail:
      return SendUpdate("FAILED", io, stats);
    case Outcome::kReject:
      return SendUpdate("REJECTED", io, stats);
    case Outcome::kHang:
      return;
  }
}

void Device::OnUpdateAccepted(DeviceIo& io, Stats& stats) {
  ++version_;
  stats.updates_accepted.fetch_add(1, Stats::kRelaxed);
  if (!final_update_) {
    state_ = State::kRunning;
    io.SetTimer(step_ms_);
    return;
  }
  Series s = outcome_ == Outcome::kSucceed ? kSucceeded
             : outcome_ == Outcome::kFail  ? kFailed
                                           : kRejected;
  stats.Count(s, io.NowUnixMs());
  stats.notify_to_done_us.push_back(
      static_cast<uint32_t>(std::min<int64_t>(io.NowUs() - notified_us_, UINT32_MAX)));
  state_ = State::kIdle;
  // The next job, if any, is announced by notify-next; one that already was goes now.
  if (notify_pending_) StartNext(io, stats);
}

void Device::OnRejected(const json::object& o, bool update, DeviceIo& io, Stats& stats) {
  std::string code(Str(o, "code"));
  stats.Error((update ? "update:" : "start-next:") + (code.empty() ? "unknown" : code));
  state_ = State::kIdle;
  if (update) {
    // The execution moved on without us (canceled, timed out, ...): ask what is next.
    StartNext(io, stats);
  } else {
    io.SetTimer(1000);  // throttled or unavailable: try again in a second
  }
}

}  // namespace iotjobs::fleet
