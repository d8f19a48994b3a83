#include "common/rate_limiter.h"

#include <algorithm>

namespace iotjobs {

KeyedRateLimiter::KeyedRateLimiter(RateLimiterConfig config, const Clock* clock)
    : config_(config), clock_(clock) {
  config_.burst = std::max(config_.burst, 1.0);
  config_.max_keys = std::max<size_t>(config_.max_keys, 1);
}

bool KeyedRateLimiter::Allow(std::string_view key) {
  if (!enabled()) return true;
  const int64_t now = ToEpochMillis(clock_->Now());
  std::lock_guard lock(mu_);
  auto it = buckets_.find(std::string(key));
  if (it == buckets_.end()) {
    if (buckets_.size() >= config_.max_keys) {
      buckets_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.emplace_front(key);
    it = buckets_.emplace(lru_.front(), Bucket{config_.burst, now, lru_.begin()}).first;
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    const double elapsed = std::max<int64_t>(0, now - it->second.at_ms) / 1000.0;
    it->second.tokens =
        std::min(config_.burst, it->second.tokens + elapsed * config_.rate_per_second);
    it->second.at_ms = now;
  }
  if (it->second.tokens < 1) return false;
  it->second.tokens -= 1;
  return true;
}

size_t KeyedRateLimiter::keys() const {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

}  // namespace iotjobs
