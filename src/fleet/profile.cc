#include "fleet/profile.h"

#include <charconv>
#include <cmath>
#include <string>

namespace iotjobs::fleet {

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kSucceed:
      return "succeed";
    case Outcome::kFail:
      return "fail";
    case Outcome::kReject:
      return "reject";
    case Outcome::kHang:
      return "hang";
  }
  return "?";
}

Result<double> ParseDurationMs(std::string_view text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data() || value < 0) {
    return Status::InvalidRequest("'" + std::string(text) + "' is not a duration (e.g. 250ms, 2s)");
  }
  std::string_view unit(end, text.data() + text.size() - end);
  if (unit.empty() || unit == "ms") return value;
  if (unit == "s") return value * 1000;
  if (unit == "m") return value * 60000;
  return Status::InvalidRequest("'" + std::string(text) + "': unit must be ms, s or m");
}

Result<RunTime> ParseRunTime(std::string_view text) {
  RunTime r;
  auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    auto v = ParseDurationMs(text);
    if (!v.ok()) return v.status();
    r.a_ms = *v;
    return r;
  }
  std::string_view kind = text.substr(0, colon), rest = text.substr(colon + 1);
  if (kind == "exp") {
    auto v = ParseDurationMs(rest);
    if (!v.ok()) return v.status();
    r.kind = RunTime::Kind::kExponential;
    r.a_ms = *v;
    return r;
  }
  if (kind == "uniform") {
    auto dash = rest.find('-');
    if (dash == std::string_view::npos) {
      return Status::InvalidRequest("uniform run time needs LOW-HIGH, e.g. uniform:100ms-2s");
    }
    auto lo = ParseDurationMs(rest.substr(0, dash));
    if (!lo.ok()) return lo.status();
    auto hi = ParseDurationMs(rest.substr(dash + 1));
    if (!hi.ok()) return hi.status();
    if (*hi < *lo) return Status::InvalidRequest("uniform run time: HIGH is below LOW");
    r.kind = RunTime::Kind::kUniform;
    r.a_ms = *lo;
    r.b_ms = *hi;
    return r;
  }
  return Status::InvalidRequest("run time kind '" + std::string(kind) +
                                "' is not one of fixed, uniform:LOW-HIGH, exp:MEAN");
}

Result<Profile> ParseOutcomeWeights(std::string_view text, Profile p) {
  p.succeed = p.fail = p.reject = p.hang = 0;
  while (!text.empty()) {
    auto comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    auto eq = item.find('=');
    if (eq == std::string_view::npos) {
      return Status::InvalidRequest("profile item '" + std::string(item) + "' is not NAME=WEIGHT");
    }
    std::string_view name = item.substr(0, eq), num = item.substr(eq + 1);
    double w = 0;
    auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), w);
    if (ec != std::errc() || end != num.data() + num.size() || w < 0) {
      return Status::InvalidRequest("profile weight '" + std::string(num) +
                                    "' is not a number >= 0");
    }
    if (name == "succeed")
      p.succeed = w;
    else if (name == "fail")
      p.fail = w;
    else if (name == "reject")
      p.reject = w;
    else if (name == "hang")
      p.hang = w;
    else
      return Status::InvalidRequest("profile outcome '" + std::string(name) +
                                    "' is not one of succeed, fail, reject, hang");
  }
  if (p.succeed + p.fail + p.reject + p.hang <= 0) {
    return Status::InvalidRequest("profile: at least one weight must be positive");
  }
  return p;
}

uint64_t Rng::Next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double Rng::Uniform01() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

uint64_t SeedFor(uint64_t seed, std::string_view device) {
  uint64_t h = 1469598103934665603ULL ^ seed;  // FNV-1a over the name
  for (char c : device) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return h;
}

Outcome DrawOutcome(const Profile& p, Rng& rng) {
  double x = rng.Uniform01() * (p.succeed + p.fail + p.reject + p.hang);
  if ((x -= p.succeed) < 0) return Outcome::kSucceed;
  if ((x -= p.fail) < 0) return Outcome::kFail;
  if ((x -= p.reject) < 0) return Outcome::kReject;
  return p.hang > 0 ? Outcome::kHang : Outcome::kSucceed;
}

double DrawRunTimeMs(const RunTime& r, Rng& rng) {
  switch (r.kind) {
    case RunTime::Kind::kFixed:
      return r.a_ms;
    case RunTime::Kind::kUniform:
      return r.a_ms + (r.b_ms - r.a_ms) * rng.Uniform01();
    case RunTime::Kind::kExponential:
      return -r.a_ms * std::log1p(-rng.Uniform01());
  }
  return 0;
}

}  // namespace iotjobs::fleet
