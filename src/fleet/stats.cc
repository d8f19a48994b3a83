#include "fleet/stats.h"

#include <algorithm>
#include <cmath>

namespace iotjobs::fleet {

const char* SeriesName(int s) {
  static const char* kNames[] = {"notified", "started", "succeeded", "failed", "rejected", "hung"};
  return s >= 0 && s < kSeriesCount ? kNames[s] : "?";
}

Percentiles ComputePercentiles(std::vector<uint32_t>& v) {
  Percentiles p;
  p.n = v.size();
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    size_t i = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
    return v[std::min(v.size() - 1, i == 0 ? 0 : i - 1)] / 1000.0;
  };
  p.p50 = at(0.50);
  p.p90 = at(0.90);
  p.p99 = at(0.99);
  p.max = v.back() / 1000.0;
  double sum = 0;
  for (uint32_t x : v) sum += x;
  p.mean = sum / static_cast<double>(v.size()) / 1000.0;
  return p;
}

void Stats::Count(Series s, int64_t now_ms) {
  totals[s].fetch_add(1, kRelaxed);
  if (first_ms[s] == 0) first_ms[s] = now_ms;
  last_ms[s] = now_ms;
  int64_t b = std::max<int64_t>(0, (now_ms - start_ms()) / bucket_ms_);
  if (static_cast<size_t>(b) >= buckets_.size()) buckets_.resize(b + 1, {});
  ++buckets_[b][s];
}

void Stats::Merge(const Stats& o) {
  connected += o.connected.load();
  subscribed += o.subscribed.load();
  connect_failures += o.connect_failures.load();
  disconnects += o.disconnects.load();
  updates_accepted += o.updates_accepted.load();
  requests_sent += o.requests_sent.load();
  errors_total += o.errors_total.load();
  for (int s = 0; s < kSeriesCount; ++s) {
    totals[s] += o.totals[s].load();
    if (o.first_ms[s] && (!first_ms[s] || o.first_ms[s] < first_ms[s])) first_ms[s] = o.first_ms[s];
    last_ms[s] = std::max(last_ms[s], o.last_ms[s]);
  }
  auto append = [](std::vector<uint32_t>& a, const std::vector<uint32_t>& b) {
    a.insert(a.end(), b.begin(), b.end());
  };
  append(start_next_us, o.start_next_us);
  append(update_us, o.update_us);
  append(notify_to_done_us, o.notify_to_done_us);
  append(connect_us, o.connect_us);
  if (o.buckets_.size() > buckets_.size()) buckets_.resize(o.buckets_.size(), {});
  for (size_t b = 0; b < o.buckets_.size(); ++b) {
    for (int s = 0; s < kSeriesCount; ++s) buckets_[b][s] += o.buckets_[b][s];
  }
  for (const auto& [code, n] : o.errors_) errors_[code] += n;
}

}  // namespace iotjobs::fleet
