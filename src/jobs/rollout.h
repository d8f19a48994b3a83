// Rollout pacing (spec §4.2): how fast a job creates executions, i.e. notifies things.
// Pure functions, thread-safe.
//
// Rate. RolloutRatePerMinute gives the rate R in executions per minute:
//   R = min(maximumPerMinute (default 1000), floor(base × factor^k), server_cap)
// where k, the number of increases so far, is the largest k with notified ≥ k·N or
// succeeded ≥ k·S (N = numberOfNotifiedThings, S = numberOfSucceededThings; an absent criterion
// never fires). Without exponentialRate, R = min(maximumPerMinute, server_cap). R is a whole number
// (rounded down [inferred]; base is an integer and the guide's examples only use integer rates).
//
// Pacing model: a continuously refilled token bucket (GCRA, the generic cell rate algorithm) under
// a hard sliding-minute cap, both computed from the instants at which the job created executions.
// - Bucket: the emission interval is I = 60 s / R. Every creation books the next slot: the
//   theoretical arrival time TAT becomes max(TAT, t) + I. A creation at `now` is allowed while
//   TAT ≤ now + τ, with τ = kRolloutBurstTolerance (1 s). Equivalently: a bucket refilled at
//   R/60000 tokens per ms that holds at most floor(R / 60) + 1 tokens (17 at 1000/min), so after
//   the first burst creations are spread evenly over the minute instead of R devices being notified
//   in the same instant. TAT is not stored: it is recomputed from the last minute's instants
//   r_1 ≤ … ≤ r_m as max_j (r_j + (m − j + 1) · I), the closed form of the recurrence. Older
//   instants cannot matter: under the cap below their term is at most the time they left the
//   window.
// - Cap: at most R creations in any rolling minute (t − 60 s, t]. This is the rule AWS states and
//   it holds exactly, whatever the caller's timing; the bucket alone could exceed it by its burst.
// RolloutAllowance(R, recent, now) = min(bucket allowance, R − creations in (now − 60 s, now]).
// NextRolloutAt(R, recent, now) is the earliest instant ≥ now at which that is ≥ 1, if nothing else
// is created meanwhile. A scheduler that creates the allowance and then wakes at NextRolloutAt, or
// polls at least every τ while work is pending, sustains R per minute: credit is only lost when
// TAT falls behind `now`, and a poll at least every τ never lets it. The rate is re-read on every
// call, so an exponential increase takes effect at once (with the new, shorter interval).
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "common/clock.h"
#include "jobs/configs.h"

namespace iotjobs::jobs {

inline constexpr int32_t kDefaultMaximumPerMinute = 1000;
inline constexpr Millis kRolloutWindow{60'000};
inline constexpr Millis kRolloutBurstTolerance{1'000};

// The number of exponential increases that have fired: max(notified / N, succeeded / S) over the
// criteria present. 0 without exponentialRate.
int64_t RolloutIncreases(const RolloutConfig& config, int64_t notified, int64_t succeeded);

// R above. `config` nullopt means no jobExecutionsRolloutConfig (1000/min). `notified` counts the
// job's executions created so far, `succeeded` those that reached SUCCEEDED. `server_cap` is the
// operator's ceiling for this server (≥ 1). Precondition: `config` passed ValidateConfigs.
// Returns a value ≥ 1.
int32_t RolloutRatePerMinute(const std::optional<RolloutConfig>& config, int64_t notified,
                             int64_t succeeded, int32_t server_cap = kDefaultMaximumPerMinute);

// The bucket's capacity, floor(rate × τ / 60 s) + 1: what an idle job may create at once.
int64_t RolloutBurst(int32_t rate_per_minute);

// `count` executions created at instant `at`. A scheduler that creates executions by the
// thousand records batches; a batch counts as `count` instants at `at`.
struct RolloutBatch {
  Instant at;
  int64_t count = 1;
};

// How many executions the job may create at `now`. `recent` holds the instants at which the job
// created executions that count against the rate (at least those within the last minute; older
// ones are ignored), in any order. What counts is the caller's: the rollout of the initial targets
// does; a continuous job's later joiners are created at once and do not [doc]; nor do retries,
// which answer a device rather than roll out [inferred].
// Preconditions: rate_per_minute ≥ 1; no instant is after `now`.
int64_t RolloutAllowance(int32_t rate_per_minute, std::span<const Instant> recent, Instant now);

// The earliest instant ≥ `now` at which RolloutAllowance is ≥ 1 if nothing else is created.
// Same preconditions as RolloutAllowance.
Instant NextRolloutAt(int32_t rate_per_minute, std::span<const Instant> recent, Instant now);

// The instant by which the next creation is due if the job is to keep its curve, when nothing is
// created meanwhile: the bucket's TAT (a creation after it wastes refill the job never gets back),
// or, when the rolling-minute cap holds the job longer, the instant the cap frees a slot (a
// creation after it shifts every later minute). ≥ NextRolloutAt, and at most τ after it; `now`
// for a job with nothing in the last minute. A scheduler may create anywhere in
// [NextRolloutAt, RolloutDueAt] and lose nothing; the time past it is its lag behind the curve.
// Same preconditions as RolloutAllowance.
Instant RolloutDueAt(int32_t rate_per_minute, std::span<const Instant> recent, Instant now);

// The same three functions over batches (precondition: every count ≥ 1).
int64_t RolloutAllowanceOfBatches(int32_t rate_per_minute, std::span<const RolloutBatch> recent,
                                  Instant now);
Instant NextRolloutAtOfBatches(int32_t rate_per_minute, std::span<const RolloutBatch> recent,
                               Instant now);
Instant RolloutDueAtOfBatches(int32_t rate_per_minute, std::span<const RolloutBatch> recent,
                              Instant now);

}  // namespace iotjobs::jobs
