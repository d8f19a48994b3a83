// Fleet summaries: text for people, JSON for scripts (bench/run_devices.sh,
// bench/plot_timeline.py).
#include <cstdio>
#include <sstream>

#include "fleet/fleet.h"

namespace iotjobs::fleet {
namespace {

struct Figures {
  int64_t completed = 0;
  double window_s = 0;    // first notified (or started) to last completion
  double exec_per_s = 0;  // completed executions per second over the window
  double updates_per_s = 0;
  double fanout_s = 0;  // first to last notify-next
  Percentiles start_next, update, notify_to_done, connect;
};

Figures Compute(const FleetReport& r) {
  Stats& s = *r.stats;
  Figures f;
  f.completed = s.totals[kSucceeded] + s.totals[kFailed] + s.totals[kRejected];
  int64_t begin = s.first_ms[kNotified] ? s.first_ms[kNotified] : s.first_ms[kStarted];
  int64_t end = 0;
  for (int k : {kSucceeded, kFailed, kRejected}) end = std::max(end, s.last_ms[k]);
  if (begin && end > begin) {
    f.window_s = (end - begin) / 1000.0;
    f.exec_per_s = f.completed / f.window_s;
    f.updates_per_s = s.updates_accepted / f.window_s;
  }
  if (s.first_ms[kNotified]) f.fanout_s = (s.last_ms[kNotified] - s.first_ms[kNotified]) / 1000.0;
  f.start_next = ComputePercentiles(s.start_next_us);
  f.update = ComputePercentiles(s.update_us);
  f.notify_to_done = ComputePercentiles(s.notify_to_done_us);
  f.connect = ComputePercentiles(s.connect_us);
  return f;
}

std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

std::string PercentilesJson(const Percentiles& p) {
  return "{\"n\":" + std::to_string(p.n) + ",\"p50\":" + Num(p.p50) + ",\"p90\":" + Num(p.p90) +
         ",\"p99\":" + Num(p.p99) + ",\"max\":" + Num(p.max) + ",\"mean\":" + Num(p.mean) + "}";
}

std::string PercentilesText(const Percentiles& p) {
  if (p.n == 0) return "-";
  return "p50 " + Num(p.p50) + " / p90 " + Num(p.p90) + " / p99 " + Num(p.p99) + " / max " +
         Num(p.max) + " ms (n " + std::to_string(p.n) + ")";
}

// JSON string escaping for error codes (printable ASCII from the broker and the service).
std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out + "\"";
}

}  // namespace

std::string SummaryText(const FleetReport& r) {
  Figures f = Compute(r);
  Stats& s = *r.stats;
  std::ostringstream o;
  o << "devices      " << r.devices << " (connected " << s.connected << ", connect failures "
    << s.connect_failures << ", disconnects " << s.disconnects << ")\n";
  o << "executions   notified " << s.totals[kNotified] << ", started " << s.totals[kStarted]
    << ", succeeded " << s.totals[kSucceeded] << ", failed " << s.totals[kFailed] << ", rejected "
    << s.totals[kRejected] << ", hung " << s.totals[kHung] << "\n";
  o << "rate         " << Num(f.exec_per_s) << " completed executions/s, " << Num(f.updates_per_s)
    << " accepted updates/s over " << Num(f.window_s) << " s\n";
  o << "notify-next  fan-out " << Num(f.fanout_s) << " s (first to last)\n";
  o << "latency      start-next " << PercentilesText(f.start_next) << "\n";
  o << "             update     " << PercentilesText(f.update) << "\n";
  o << "             notify→done " << PercentilesText(f.notify_to_done) << "\n";
  o << "             connect    " << PercentilesText(f.connect) << "\n";
  o << "errors       " << s.errors_total;
  for (const auto& [code, n] : s.errors()) o << " " << code << "=" << n;
  o << "\n";
  if (r.interrupted) o << "stopped before the expected executions finished\n";
  return o.str();
}

std::string SummaryJson(const FleetReport& r) {
  Figures f = Compute(r);
  Stats& s = *r.stats;
  std::ostringstream o;
  o << "{\"devices\":" << r.devices << ",\"connected\":" << s.connected
    << ",\"connect_failures\":" << s.connect_failures << ",\"disconnects\":" << s.disconnects
    << ",\"start_unix_ms\":" << r.start_ms << ",\"ready_unix_ms\":" << r.ready_ms
    << ",\"end_unix_ms\":" << r.end_ms
    << ",\"reached_expect\":" << (r.reached_expect ? "true" : "false") << ",\"outcomes\":{";
  for (int k = 0; k < kSeriesCount; ++k) {
    o << (k ? "," : "") << "\"" << SeriesName(k) << "\":" << s.totals[k];
  }
  o << "},\"first_unix_ms\":{";
  for (int k = 0; k < kSeriesCount; ++k) {
    o << (k ? "," : "") << "\"" << SeriesName(k) << "\":" << s.first_ms[k];
  }
  o << "},\"last_unix_ms\":{";
  for (int k = 0; k < kSeriesCount; ++k) {
    o << (k ? "," : "") << "\"" << SeriesName(k) << "\":" << s.last_ms[k];
  }
  o << "},\"completed\":" << f.completed << ",\"window_s\":" << Num(f.window_s)
    << ",\"executions_per_s\":" << Num(f.exec_per_s)
    << ",\"updates_accepted\":" << s.updates_accepted
    << ",\"updates_per_s\":" << Num(f.updates_per_s) << ",\"requests_sent\":" << s.requests_sent
    << ",\"notify_fanout_s\":" << Num(f.fanout_s)
    << ",\"latency_ms\":{\"start_next\":" << PercentilesJson(f.start_next)
    << ",\"update\":" << PercentilesJson(f.update)
    << ",\"notify_to_done\":" << PercentilesJson(f.notify_to_done)
    << ",\"connect\":" << PercentilesJson(f.connect) << "},\"errors\":{";
  bool first = true;
  for (const auto& [code, n] : s.errors()) {
    o << (first ? "" : ",") << Quote(code) << ":" << n;
    first = false;
  }
  o << "},\"timeline\":{\"start_unix_ms\":" << s.start_ms() << ",\"bucket_ms\":" << s.bucket_ms();
  for (int k = 0; k < kSeriesCount; ++k) {
    o << ",\"" << SeriesName(k) << "\":[";
    for (size_t b = 0; b < s.buckets().size(); ++b) o << (b ? "," : "") << s.buckets()[b][k];
    o << "]";
  }
  o << "}}\n";
  return o.str();
}

}  // namespace iotjobs::fleet
