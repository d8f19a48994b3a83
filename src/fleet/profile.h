// Profile: how a simulated device behaves (`iotjobs fleet --profile ... --run-time ...`). Pure: no
// I/O, no clock; each device draws its outcomes from its own seeded generator, so a run is
// reproducible for a given --seed and device name.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace iotjobs::fleet {

enum class Outcome { kSucceed, kFail, kReject, kHang };
const char* OutcomeName(Outcome o);

// A run-time distribution in milliseconds: "0", "250ms", "2s", "uniform:100ms-2s", "exp:500ms".
struct RunTime {
  enum class Kind { kFixed, kUniform, kExponential } kind = Kind::kFixed;
  double a_ms = 0;  // fixed value, uniform low, or exponential mean
  double b_ms = 0;  // uniform high
};
Result<RunTime> ParseRunTime(std::string_view text);
// A duration with a unit suffix (ms, s, m); a bare number is milliseconds.
Result<double> ParseDurationMs(std::string_view text);

struct Profile {
  // Weights of each outcome per execution ("succeed=90,fail=5,reject=3,hang=2"); any scale.
  double succeed = 100, fail = 0, reject = 0, hang = 0;
  RunTime run_time;
  int steps = 0;               // IN_PROGRESS updates with statusDetails before the final one
  double reconnect_share = 0;  // share of executions during which the device drops and returns
  double reconnect_delay_ms = 1000;
};
Result<Profile> ParseOutcomeWeights(std::string_view text, Profile base);

// splitmix64: small, fast, good enough for workload shaping.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  double Uniform01();  // [0, 1)

 private:
  uint64_t state_;
};
uint64_t SeedFor(uint64_t seed, std::string_view device);

Outcome DrawOutcome(const Profile& p, Rng& rng);
double DrawRunTimeMs(const RunTime& r, Rng& rng);

}  // namespace iotjobs::fleet
