#include "jobs/rollout.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace iotjobs::jobs {
namespace {

constexpr int64_t kWindowMs = kRolloutWindow.count();
constexpr int64_t kToleranceMs = kRolloutBurstTolerance.count();

// The batches within the last minute, oldest first. Only those can bind either rule.
std::vector<RolloutBatch> InWindow(std::span<const RolloutBatch> recent, Instant now) {
  std::vector<RolloutBatch> v;
  for (const RolloutBatch& b : recent) {
    if (b.at > now - kRolloutWindow) v.push_back(b);
  }
  std::sort(v.begin(), v.end(),
            [](const RolloutBatch& a, const RolloutBatch& b) { return a.at < b.at; });
  return v;
}

// (TAT − now) × rate, in ms·(executions per minute) so that the interval I = 60000 / rate ms stays
// an integer: I × rate = 60000. With the creations r_1 ≤ … ≤ r_m of the last minute,
// TAT = max_j (r_j + (m − j + 1) · I), the closed form of the recurrence TAT = max(TAT, r) + I; a
// batch of n at r is n equal instants, of which the oldest gives the largest term. nullopt when
// nothing was created in the last minute.
std::optional<int64_t> ScaledLag(const std::vector<RolloutBatch>& oldest_first, int32_t rate,
                                 Instant now) {
  std::optional<int64_t> lag;
  int64_t from_here = 0;  // executions created from this batch on
  for (auto b = oldest_first.rbegin(); b != oldest_first.rend(); ++b) {
    from_here += b->count;
    const int64_t term = from_here * kWindowMs - (now - b->at).count() * rate;
    if (!lag || term > *lag) lag = term;
  }
  return lag;
}

std::vector<RolloutBatch> AsBatches(std::span<const Instant> recent) {
  std::vector<RolloutBatch> v;
  v.reserve(recent.size());
  for (Instant t : recent) v.push_back({t, 1});
  return v;
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
  return RolloutAllowanceOfBatches(rate_per_minute, AsBatches(recent), now);
}

Instant NextRolloutAt(int32_t rate_per_minute, std::span<const Instant> recent, Instant now) {
  return NextRolloutAtOfBatches(rate_per_minute, AsBatches(recent), now);
}

int64_t RolloutAllowanceOfBatches(int32_t rate_per_minute, std::span<const RolloutBatch> recent,
                                  Instant now) {
  const std::vector<RolloutBatch> v = InWindow(recent, now);
  const int64_t tolerance = kToleranceMs * rate_per_minute;
  // A creation is allowed while TAT ≤ now + τ; each one pushes TAT (at least now) on by I.
  const int64_t lag = std::max<int64_t>(0, ScaledLag(v, rate_per_minute, now).value_or(0));
  const int64_t bucket = lag > tolerance ? 0 : (tolerance - lag) / kWindowMs + 1;
  int64_t in_minute = 0;
  for (const RolloutBatch& b : v) in_minute += b.count;
  return std::max<int64_t>(0, std::min(bucket, rate_per_minute - in_minute));
}

namespace {

// The earliest instant ≥ now at which the bucket's TAT is at most `slack` ahead of it (rounded up
// to the next whole millisecond) and the rolling-minute cap has a free slot.
Instant BucketAndCapAt(int32_t rate_per_minute, std::span<const RolloutBatch> recent, Instant now,
                       Millis slack) {
  const std::vector<RolloutBatch> v = InWindow(recent, now);
  Instant at = now;
  const int64_t excess =
      ScaledLag(v, rate_per_minute, now).value_or(0) - slack.count() * rate_per_minute;
  if (excess > 0) at = std::max(at, now + Millis((excess + rate_per_minute - 1) / rate_per_minute));
  // Cap: enough of the oldest creations must have left the window to bring it under the rate.
  int64_t left = 0;
  for (const RolloutBatch& b : v) left += b.count;
  for (const RolloutBatch& b : v) {
    if (left < rate_per_minute) break;
    left -= b.count;
    at = std::max(at, b.at + kRolloutWindow);
  }
  return at;
}

}  // namespace

Instant NextRolloutAtOfBatches(int32_t rate_per_minute, std::span<const RolloutBatch> recent,
                               Instant now) {
  // Bucket: a creation is allowed once TAT − τ is reached.
  return BucketAndCapAt(rate_per_minute, recent, now, kRolloutBurstTolerance);
}

Instant RolloutDueAtOfBatches(int32_t rate_per_minute, std::span<const RolloutBatch> recent,
                              Instant now) {
  // Bucket: refill is wasted once TAT itself is passed.
  return BucketAndCapAt(rate_per_minute, recent, now, Millis(0));
}

Instant RolloutDueAt(int32_t rate_per_minute, std::span<const Instant> recent, Instant now) {
  return RolloutDueAtOfBatches(rate_per_minute, AsBatches(recent), now);
}

}  // namespace iotjobs::jobs
