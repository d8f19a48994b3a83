// KeyedRateLimiter: a token bucket per key (a thing name) with bounded memory, for per-device
// fairness on the MQTT and HTTPS data planes (issue 16, finding 5). Each key may make `burst`
// requests at once and `rate_per_second` on average; a key's bucket starts full.
//
// Memory: at most `max_keys` buckets. Touching a new key when full forgets the least recently used
// one (a forgotten key starts over with a full bucket, as a key idle for burst/rate seconds would
// anyway), so the table cannot grow with the number of distinct keys an abuser invents.
//
// Time comes from the injected Clock (wall time in iotjobsd; a FakeClock in tests). Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"

namespace iotjobs {

struct RateLimiterConfig {
  double rate_per_second = 20;  // 0 disables the limiter (every request allowed)
  double burst = 50;            // requests a key may make at once (at least 1)
  size_t max_keys = 100'000;    // buckets kept (about 100 bytes each)
};

class KeyedRateLimiter {
 public:
  KeyedRateLimiter(RateLimiterConfig config, const Clock* clock);

  bool enabled() const { return config_.rate_per_second > 0; }
  const RateLimiterConfig& config() const { return config_; }
  // Takes one token from `key`'s bucket: true when there was one (the request may proceed).
  bool Allow(std::string_view key);
  // Buckets held now (at most max_keys).
  size_t keys() const;

 private:
  struct Bucket {
    double tokens;
    int64_t at_ms;  // when `tokens` was computed
    std::list<std::string>::iterator lru;
  };
  RateLimiterConfig config_;
  const Clock* clock_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
  std::list<std::string> lru_;  // most recently used first
};

}  // namespace iotjobs
