#include "jobs/scheduling.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <tuple>

#include "common/text.h"

namespace iotjobs::jobs {
namespace {

using std::chrono::day;
using std::chrono::days;
using std::chrono::duration_cast;
using std::chrono::floor;
using std::chrono::hh_mm_ss;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::month;
using std::chrono::seconds;
using std::chrono::sys_days;
using std::chrono::time_point_cast;
using std::chrono::year;
using std::chrono::year_month_day;

// A cursor over the text being parsed; every reader returns false on a mismatch.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  bool AtEnd() const { return pos_ == s_.size(); }
  bool Peek(std::string_view chars) const {
    return !AtEnd() && chars.find(s_[pos_]) != std::string_view::npos;
  }
  bool Take(std::string_view chars) {
    if (!Peek(chars)) return false;
    ++pos_;
    return true;
  }
  // Exactly n digits.
  bool Digits(int n, int& out) {
    out = 0;
    for (int i = 0; i < n; ++i) {
      if (!Peek("0123456789")) return false;
      out = out * 10 + (s_[pos_++] - '0');
    }
    return true;
  }
  // 1 or more digits, of which the first 3 are kept as milliseconds.
  bool Fraction(int& ms) {
    if (!Peek("0123456789")) return false;
    ms = 0;
    int n = 0;
    while (Peek("0123456789")) {
      if (n < 3) ms = ms * 10 + (s_[pos_] - '0');
      ++n;
      ++pos_;
    }
    for (; n < 3; ++n) ms *= 10;
    return true;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

Status BadTime(std::string_view field, std::string_view text, const std::string& why) {
  return Status::InvalidRequest(std::string(field) + " " + why +
                                "; use ISO-8601 UTC like 2026-10-01T12:00, got '" +
                                Utf8Excerpt(text, 64) + "'");
}

std::string Minutes(Millis d) { return std::to_string(duration_cast<minutes>(d).count()); }

}  // namespace

Result<Instant> ParseIsoUtc(std::string_view field, std::string_view text) {
  Reader r(text);
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, ms = 0;
  if (!r.Digits(4, y) || !r.Take("-") || !r.Digits(2, mo) || !r.Take("-") || !r.Digits(2, d)) {
    return BadTime(field, text, "must start with a date YYYY-MM-DD");
  }
  if (!r.AtEnd()) {
    if (!r.Take("Tt ") || !r.Digits(2, h) || !r.Take(":") || !r.Digits(2, mi)) {
      return BadTime(field, text, "must have its time as THH:MM");
    }
    if (r.Take(":") && !r.Digits(2, sec)) return BadTime(field, text, "has malformed seconds");
    if (r.Take(".") && !r.Fraction(ms)) return BadTime(field, text, "has a malformed fraction");
  }
  int offset_minutes = 0;
  if (r.Take("Zz")) {
    // UTC
  } else if (r.Peek("+-")) {
    const int sign = r.Take("-") ? -1 : 1;
    r.Take("+");
    int oh = 0, om = 0;
    bool ok = r.Digits(2, oh);
    r.Take(":");  // optional: +HH:MM or +HHMM
    ok = ok && r.Digits(2, om) && oh <= 23 && om <= 59;
    if (!ok) return BadTime(field, text, "has a malformed UTC offset (use Z, +HH:MM or -HH:MM)");
    offset_minutes = sign * (oh * 60 + om);
  }
  if (!r.AtEnd()) return BadTime(field, text, "has unexpected trailing characters");
  const year_month_day ymd{year(y), month(static_cast<unsigned>(mo)),
                           day(static_cast<unsigned>(d))};
  if (!ymd.ok()) return BadTime(field, text, "is not a valid date");
  if (h > 23 || mi > 59 || sec > 59) return BadTime(field, text, "is not a valid time of day");
  return time_point_cast<Millis>(sys_days(ymd)) + hours(h) + minutes(mi) + seconds(sec) +
         Millis(ms) - minutes(offset_minutes);
}

std::string FormatIsoUtc(Instant t) {
  const auto dp = floor<days>(t);
  const year_month_day ymd(dp);
  const hh_mm_ss<Millis> tod(t - dp);
  char buf[48];
  int n =
      std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d", static_cast<int>(ymd.year()),
                    static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                    static_cast<int>(tod.hours().count()), static_cast<int>(tod.minutes().count()));
  const int s = static_cast<int>(tod.seconds().count());
  const int ms = static_cast<int>(tod.subseconds().count());
  if (s != 0 || ms != 0) n += std::snprintf(buf + n, sizeof buf - n, ":%02d", s);
  if (ms != 0) std::snprintf(buf + n, sizeof buf - n, ".%03d", ms);
  return buf;
}

const char* ToString(EndBehavior b) {
  switch (b) {
    case EndBehavior::kStopRollout:
      return "STOP_ROLLOUT";
    case EndBehavior::kCancel:
      return "CANCEL";
    case EndBehavior::kForceCancel:
      return "FORCE_CANCEL";
  }
  return "STOP_ROLLOUT";
}

Result<EndBehavior> ParseEndBehavior(std::string_view text) {
  for (EndBehavior b :
       {EndBehavior::kStopRollout, EndBehavior::kCancel, EndBehavior::kForceCancel}) {
    if (text == ToString(b)) return b;
  }
  return Status::InvalidRequest(
      "schedulingConfig.endBehavior must be one of STOP_ROLLOUT|CANCEL|FORCE_CANCEL, got '" +
      Utf8Excerpt(text, 64) + "'");
}

Status ValidateScheduleTimes(std::optional<Instant> start, std::optional<Instant> end,
                             Instant now) {
  auto too = [](const char* field, Instant got, const std::string& rule, Instant limit) {
    return Status::InvalidRequest(std::string("schedulingConfig.") + field + " must be " + rule +
                                  " (" + FormatIsoUtc(limit) + "), got " + FormatIsoUtc(got));
  };
  const std::string lead = Minutes(kMinScheduleLead) + " minutes";
  if (start) {
    if (*start < now + kMinScheduleLead) {
      return too("startTime", *start, "at least " + lead + " from now", now + kMinScheduleLead);
    }
    if (*start > now + kMaxStartAhead) {
      return too("startTime", *start, "at most 365 days from now", now + kMaxStartAhead);
    }
  }
  if (end) {
    if (*end < now + kMinScheduleLead) {
      return too("endTime", *end, "at least " + lead + " from now", now + kMinScheduleLead);
    }
    const Instant from = start.value_or(now);
    if (start && *end < from + kMinScheduleLead) {
      return too("endTime", *end, "at least " + lead + " after startTime", from + kMinScheduleLead);
    }
    if (*end > from + kMaxEndAfterStart) {
      return too("endTime", *end,
                 std::string("at most 730 days after ") + (start ? "startTime" : "now"),
                 from + kMaxEndAfterStart);
    }
  }
  return Status::Ok();
}

ScheduleDecision DecideSchedule(const Schedule& schedule, Instant now) {
  ScheduleDecision d;
  if (schedule.end && now >= *schedule.end) {
    d.status = ScheduledStatus::kInProgress;
    d.end_action = schedule.end_behavior;
    return d;
  }
  if (schedule.start && now < *schedule.start) {
    d.status = ScheduledStatus::kScheduled;
    d.next_change = schedule.start;
    return d;
  }
  // Within [start, end): the windows decide; `end` bounds every re-evaluation.
  auto until_end = [&](std::optional<Instant> t) -> std::optional<Instant> {
    if (!schedule.end) return t;
    return t ? std::min(*t, *schedule.end) : *schedule.end;
  };
  if (schedule.windows.empty()) {
    d.status = ScheduledStatus::kInProgress;
    d.may_roll_out = true;
    d.next_change = schedule.end;
    return d;
  }
  const WindowState w = WindowStateAt(schedule.windows, now);
  d.status = w.open ? ScheduledStatus::kInProgress : ScheduledStatus::kScheduled;
  d.may_roll_out = w.open;
  d.next_change = until_end(w.open ? w.closes_at : w.next_opens_at);
  return d;
}

std::vector<Instant> ScheduledRollouts(const Schedule& schedule, Instant now) {
  Instant after = now;
  if (schedule.start) after = std::max(after, *schedule.start - Millis(1));
  std::vector<Instant> starts = NextWindowStarts(schedule.windows, after, kScheduledRolloutsShown);
  if (schedule.end) {
    std::erase_if(starts, [&](Instant t) { return t >= *schedule.end; });
  }
  return starts;
}

Result<Schedule> ParseSchedule(const SchedulingConfig& c) {
  Schedule s;
  for (const auto& [text, field, out] :
       {std::tuple{&c.start_time, "schedulingConfig.startTime", &s.start},
        std::tuple{&c.end_time, "schedulingConfig.endTime", &s.end}}) {
    if (!*text) continue;
    if ((*text)->empty() || (*text)->size() > 64) {
      return Status::InvalidRequest(std::string(field) + " must be 1 to 64 characters");
    }
    auto t = ParseIsoUtc(field, **text);
    if (!t.ok()) return t.status();
    *out = *t;
  }
  if (c.end_behavior) {
    if (!c.end_time) {
      return Status::InvalidRequest("schedulingConfig.endBehavior needs schedulingConfig.endTime");
    }
    auto b = ParseEndBehavior(*c.end_behavior);
    if (!b.ok()) return b.status();
    s.end_behavior = *b;
  }
  if (c.maintenance_windows) {
    auto w = ParseMaintenanceWindows(*c.maintenance_windows);
    if (!w.ok()) return Status::InvalidRequest("schedulingConfig." + w.status().message());
    s.windows = std::move(w).value();
  }
  return s;
}

}  // namespace iotjobs::jobs
