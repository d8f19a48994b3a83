#include "jobs/rollout.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace iotjobs::jobs {
namespace {

constexpr int64_t kWindowMs = kRolloutWindow.count();
constexpr int64_t kToleranceMs = kRolloutBurstTolerance.count();

// The instants within the last minute, oldest first. Only those can bind either rule.
std::vector<Instant> InWindow(std::span<const Instant> recent, Instant now) {
  std::vector<Instant> v;
  for (Instant t : recent) {
    if (t > now - kRolloutWindow) v.push_back(t);
  }
  std::sort(v.begin(), v.end());
  return v;
}

// (TAT − now) × rate, in ms·(executions per minute) so that the interval I = 60000 / rate ms stays
// an integer: I × rate = 60000. nullopt when nothing was created in the last minute.
std::optional<int64_t> ScaledLag(const std::vector<Instant>& oldest_first, int32_t rate,
                                 Instant now) {
  std::optional<int64_t> lag;
  const int64_t m = static_cast<int64_t>(oldest_first.size());
  for (int64_t j = 0; j < m; ++j) {
    const int64_t age_ms = (now - oldest_first[j]).count();
    const int64_t term = (m - j) * kWindowMs - age_ms * rate;
    if (!lag || term > *lag) lag = term;
  }
  return lag;
}

}  // namespace

int64_t RolloutIncreases(const RolloutConfig& config, int64_t notified, int64_t succeeded) {
  if (!config.exponential_rate) return 0;
  const RateIncreaseCriteria& c = config.exponential_rate->rate_increase_criteria;
  int64_t k = 0;
  if (c.number_of_notified_things && *c.number_of_notified_things > 0) {
    k = std::max<int64_t>(k, notified / *c.number_of_notified_things);
  }
  if (c.number_of_succeeded_things && *c.number_of_succeeded_things > 0) {
    k = std::max<int64_t>(k, succeeded / *c.number_of_succeeded_things);
  }
  return k;
}

int32_t RolloutRatePerMinute(const std::optional<RolloutConfig>& config, int64_t notified,
                             int64_t succeeded, int32_t server_cap) {
  int32_t maximum = kDefaultMaximumPerMinute;
  if (config && config->maximum_per_minute) maximum = *config->maximum_per_minute;
  const int32_t cap = std::max(1, std::min(maximum, server_cap));
  if (!config || !config->exponential_rate) return cap;
  const ExponentialRolloutRate& e = *config->exponential_rate;
  // pow rather than repeated multiply-and-round: rounding at every step would freeze a base of 1
  // with factor 1.5 at 1 forever. The epsilon keeps binary noise that lands just under an
  // integer from losing a whole execution per minute.
  double rate = e.base_rate_per_minute *
                std::pow(e.increment_factor,
                         static_cast<double>(RolloutIncreases(*config, notified, succeeded)));
  if (!(rate < cap)) return cap;  // also catches inf
  return std::max<int32_t>(1, static_cast<int32_t>(std::floor(rate + 1e-6)));
}

int64_t RolloutBurst(int32_t rate_per_minute) {
  return kToleranceMs * rate_per_minute / kWindowMs + 1;
}

int64_t RolloutAllowance(int32_t rate_per_minute, std::span<const Instant> recent, Instant now) {
  const std::vector<Instant> v = InWindow(recent, now);
  const int64_t tolerance = kToleranceMs * rate_per_minute;
  // A creation is allowed while TAT ≤ now + τ; each one pushes TAT (at least now) on by I.
  const int64_t lag = std::max<int64_t>(0, ScaledLag(v, rate_per_minute, now).value_or(0));
  const int64_t bucket = lag > tolerance ? 0 : (tolerance - lag) / kWindowMs + 1;
  const int64_t minute_room = rate_per_minute - static_cast<int64_t>(v.size());
  return std::max<int64_t>(0, std::min(bucket, minute_room));
}

Instant NextRolloutAt(int32_t rate_per_minute, std::span<const Instant> recent, Instant now) {
  const std::vector<Instant> v = InWindow(recent, now);
  const int64_t m = static_cast<int64_t>(v.size());
  Instant at = now;
  // Bucket: TAT − τ, rounded up to the next whole millisecond.
  const int64_t excess =
      ScaledLag(v, rate_per_minute, now).value_or(0) - kToleranceMs * rate_per_minute;
  if (excess > 0) at = std::max(at, now + Millis((excess + rate_per_minute - 1) / rate_per_minute));
  // Cap: the rate-th newest instant must have left the window.
  if (m >= rate_per_minute) at = std::max(at, v[m - rate_per_minute] + kRolloutWindow);
  return at;
}

}  // namespace iotjobs::jobs
