#include "jobs/cron.h"

#include <algorithm>
#include <cctype>
#include <chrono>

#include "common/text.h"

namespace iotjobs::jobs {
namespace {

using std::chrono::day;
using std::chrono::days;
using std::chrono::month;
using std::chrono::sys_days;
using std::chrono::year;
using std::chrono::year_month_day;

constexpr const char* kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr const char* kDayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

struct FieldSpec {
  const char* name;
  int min;
  int max;
  const char* const* names;  // names[i] is value min + i; null when the field takes no names
};

constexpr FieldSpec kMinutes{"minutes", 0, 59, nullptr};
constexpr FieldSpec kHours{"hours", 0, 23, nullptr};
constexpr FieldSpec kDayOfMonth{"day-of-month", 1, 31, nullptr};
constexpr FieldSpec kMonth{"month", 1, 12, kMonthNames};
constexpr FieldSpec kDayOfWeek{"day-of-week", 1, 7, kDayNames};
constexpr FieldSpec kYear{"year", kCronMinYear, kCronMaxYear, nullptr};

Status FieldError(const FieldSpec& f, std::string_view token, const std::string& problem) {
  return Status::InvalidRequest("cron " + std::string(f.name) + " field '" + std::string(token) +
                                "': " + problem);
}

std::string RangeText(const FieldSpec& f) {
  std::string s = std::to_string(f.min) + "-" + std::to_string(f.max);
  if (f.names) s += std::string(" or ") + f.names[0] + "-" + f.names[f.max - f.min];
  return s;
}

// A single value: digits, or a name for month / day-of-week.
Result<int> ParseValue(const FieldSpec& f, std::string_view field_text, std::string_view token) {
  if (token.empty()) return FieldError(f, field_text, "a value is missing");
  if (std::all_of(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (token.size() > 4) return FieldError(f, field_text, std::string(token) + " is too large");
    int v = std::stoi(std::string(token));
    if (v < f.min || v > f.max) {
      return FieldError(f, field_text,
                        std::string(token) + " is outside " + std::to_string(f.min) + "-" +
                            std::to_string(f.max));
    }
    return v;
  }
  if (f.names) {
    for (int i = 0; i <= f.max - f.min; ++i) {
      if (token == f.names[i]) return f.min + i;
    }
  }
  return FieldError(f, field_text,
                    "'" + std::string(token) + "' is not a valid value; use " + RangeText(f));
}

Result<int> ParseStep(const FieldSpec& f, std::string_view field_text, std::string_view token) {
  bool digits =
      !token.empty() && token.size() <= 4 &&
      std::all_of(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; });
  int step = digits ? std::stoi(std::string(token)) : 0;
  if (step < 1) {
    return FieldError(f, field_text, "step '" + std::string(token) + "' must be a number >= 1");
  }
  return step;
}

// A comma list of *, a, a-b, */s, a/s, a-b/s. Sets bits [f.min, f.max] in `out` (size > f.max).
template <size_t N>
Status ParseList(const FieldSpec& f, std::string_view text, std::bitset<N>& out,
                 int bit_offset = 0) {
  size_t pos = 0;
  while (true) {
    size_t comma = text.find(',', pos);
    std::string_view item =
        text.substr(pos, comma == std::string_view::npos ? text.npos : comma - pos);
    if (item.empty()) return FieldError(f, text, "empty list item");
    std::string_view base = item;
    int step = 1;
    bool stepped = false;
    if (size_t slash = item.find('/'); slash != std::string_view::npos) {
      base = item.substr(0, slash);
      Result<int> s = ParseStep(f, text, item.substr(slash + 1));
      if (!s.ok()) return s.status();
      step = *s;
      stepped = true;
    }
    int lo, hi;
    if (base == "*") {
      lo = f.min;
      hi = f.max;
    } else if (size_t dash = base.find('-'); dash != std::string_view::npos) {
      Result<int> a = ParseValue(f, text, base.substr(0, dash));
      if (!a.ok()) return a.status();
      Result<int> b = ParseValue(f, text, base.substr(dash + 1));
      if (!b.ok()) return b.status();
      lo = *a;
      hi = *b;
      if (lo > hi) {
        return FieldError(f, text,
                          "range " + std::string(base) + " runs backwards; ranges do not wrap");
      }
    } else {
      Result<int> a = ParseValue(f, text, base);
      if (!a.ok()) return a.status();
      lo = *a;
      hi = stepped ? f.max : *a;  // "5/15" means 5, 20, 35, 50
    }
    for (int v = lo; v <= hi; v += step) out.set(v - bit_offset);
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return Status::Ok();
}

bool HasSpecial(std::string_view text, std::string_view chars) {
  return text.find_first_of(chars) != std::string_view::npos;
}

unsigned LastDayOf(int y, unsigned m) {
  return static_cast<unsigned>(
      std::chrono::year_month_day_last(year(y), std::chrono::month_day_last(month(m))).day());
}

// 1 = Sunday ... 7 = Saturday, as AWS numbers day-of-week.
int WeekdayOf(int y, unsigned m, unsigned d) {
  return static_cast<int>(
             std::chrono::weekday(sys_days(year(y) / month(m) / day(d))).c_encoding()) +
         1;
}

// The weekday (Mon-Fri) nearest to day n, without leaving the month; 0 when the month has no day n.
unsigned NearestWeekday(int y, unsigned m, unsigned n) {
  const unsigned last = LastDayOf(y, m);
  if (n > last) return 0;
  switch (WeekdayOf(y, m, n)) {
    case 7:  // Saturday: the Friday before, or the Monday after when that would leave the month
      return n == 1 ? 3 : n - 1;
    case 1:  // Sunday: the Monday after, or the Friday before when that would leave the month
      return n == last ? n - 2 : n + 1;
    default:
      return n;
  }
}

unsigned LastWeekday(int y, unsigned m) {
  const unsigned last = LastDayOf(y, m);
  switch (WeekdayOf(y, m, last)) {
    case 7:
      return last - 1;
    case 1:
      return last - 2;
    default:
      return last;
  }
}

Instant MakeInstant(int y, unsigned m, unsigned d, int h, int mi) {
  return std::chrono::time_point_cast<Millis>(sys_days(year(y) / month(m) / day(d)) +
                                              std::chrono::hours(h) + std::chrono::minutes(mi));
}

}  // namespace

Result<CronExpression> CronExpression::Parse(std::string_view text) {
  const std::string shown = Utf8Excerpt(text, 256);
  if (text.size() < 6 || text.substr(0, 5) != "cron(" || text.back() != ')') {
    return Status::InvalidRequest(
        "cron expression must look like cron(minutes hours day-of-month month day-of-week year), "
        "got '" +
        shown + "'");
  }
  std::string body(text.substr(5, text.size() - 6));
  for (char& c : body) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::vector<std::string> fields;
  size_t pos = 0;
  while (pos < body.size()) {
    if (body[pos] == ' ' || body[pos] == '\t') {
      ++pos;
      continue;
    }
    size_t end = body.find_first_of(" \t", pos);
    if (end == std::string::npos) end = body.size();
    fields.push_back(body.substr(pos, end - pos));
    pos = end;
  }
  if (fields.size() != 6) {
    return Status::InvalidRequest(
        "cron expression must have 6 fields (minutes hours day-of-month month day-of-week year), "
        "got " +
        std::to_string(fields.size()) + " in '" + shown + "'");
  }

  CronExpression c;
  c.text_ = std::string(text);
  const FieldSpec* plain[] = {&kMinutes, &kHours, &kMonth, &kYear};
  const std::string* plain_text[] = {&fields[0], &fields[1], &fields[3], &fields[5]};
  for (int i = 0; i < 4; ++i) {
    const FieldSpec& f = *plain[i];
    const std::string& t = *plain_text[i];
    // L and W need no check here: no name in these fields has them alone, and ParseValue rejects
    // them (JUL does contain an L, which is why this is not a letter search).
    if (HasSpecial(t, "?#")) {
      return FieldError(f, t, "? and # are only allowed in day-of-month and day-of-week");
    }
  }
  IOTJOBS_RETURN_IF_ERROR(ParseList(kMinutes, fields[0], c.minutes_));
  IOTJOBS_RETURN_IF_ERROR(ParseList(kHours, fields[1], c.hours_));
  IOTJOBS_RETURN_IF_ERROR(ParseList(kMonth, fields[3], c.months_));
  IOTJOBS_RETURN_IF_ERROR(ParseList(kYear, fields[5], c.years_, kCronMinYear));

  // day-of-month
  const std::string& dom = fields[2];
  if (dom == "?") {
    c.dom_question_ = true;
  } else if (dom == "L") {
    c.dom_last_ = true;
  } else if (dom == "LW") {
    c.dom_last_weekday_ = true;
  } else if (dom.size() >= 2 && dom.back() == 'W' &&
             !HasSpecial(dom.substr(0, dom.size() - 1), ",-/*?LW#")) {
    Result<int> n = ParseValue(kDayOfMonth, dom, std::string_view(dom).substr(0, dom.size() - 1));
    if (!n.ok()) return n.status();
    c.dom_nearest_weekday_ = *n;
  } else if (HasSpecial(dom, "?LW#")) {
    return FieldError(kDayOfMonth, dom, "use ?, L, LW or nW alone; # belongs to day-of-week");
  } else {
    IOTJOBS_RETURN_IF_ERROR(ParseList(kDayOfMonth, dom, c.dom_days_));
  }

  // day-of-week. The special forms are recognised by their shape (a trailing L, a #), not by
  // searching for letters: WED contains a W.
  const std::string& dow = fields[4];
  const std::string_view dv = dow;
  if (dow == "?") {
    c.dow_question_ = true;
  } else if (dow == "L") {
    c.dow_days_.set(7);  // L alone is the last day of the week, Saturday
  } else if (size_t hash = dow.find('#'); hash != std::string::npos) {
    if (HasSpecial(dow, ",-/*")) {
      return FieldError(kDayOfWeek, dow, "d#k must stand alone");
    }
    Result<int> d = ParseValue(kDayOfWeek, dow, dv.substr(0, hash));
    if (!d.ok()) return d.status();
    std::string_view k = dv.substr(hash + 1);
    if (k.size() != 1 || k[0] < '1' || k[0] > '5') {
      return FieldError(kDayOfWeek, dow,
                        "the k of d#k must be 1-5 (the k-th such day of the month)");
    }
    c.dow_nth_day_ = *d;
    c.dow_nth_ = k[0] - '0';
  } else if (dow.size() >= 2 && dow.back() == 'L' && !HasSpecial(dow, ",-/*")) {
    Result<int> d = ParseValue(kDayOfWeek, dow, dv.substr(0, dow.size() - 1));
    if (!d.ok()) return d.status();
    c.dow_last_of_ = *d;
  } else if (HasSpecial(dow, "?")) {
    return FieldError(kDayOfWeek, dow, "? must stand alone");
  } else {
    IOTJOBS_RETURN_IF_ERROR(ParseList(kDayOfWeek, dow, c.dow_days_));
  }

  if (c.dom_question_ == c.dow_question_) {
    return Status::InvalidRequest(
        "cron day-of-month '" + dom + "' and day-of-week '" + dow +
        "': exactly one of them must be ? (the other selects the days), in '" + shown + "'");
  }
  return c;
}

bool CronExpression::DayMatches(int y, unsigned m, unsigned d) const {
  if (dom_question_) {
    const int w = WeekdayOf(y, m, d);
    if (dow_nth_day_) return w == dow_nth_day_ && static_cast<int>((d - 1) / 7 + 1) == dow_nth_;
    if (dow_last_of_) return w == dow_last_of_ && d + 7 > LastDayOf(y, m);
    return dow_days_.test(w);
  }
  if (dom_last_) return d == LastDayOf(y, m);
  if (dom_last_weekday_) return d == LastWeekday(y, m);
  if (dom_nearest_weekday_) return d == NearestWeekday(y, m, dom_nearest_weekday_);
  return dom_days_.test(d);
}

bool CronExpression::Matches(Instant t) const {
  const auto dp = std::chrono::floor<days>(t);
  const year_month_day ymd(dp);
  const int y = static_cast<int>(ymd.year());
  if (y < kCronMinYear || y > kCronMaxYear) return false;
  const auto since_midnight = std::chrono::floor<std::chrono::minutes>(t - dp).count();
  return years_.test(y - kCronMinYear) && months_.test(static_cast<unsigned>(ymd.month())) &&
         DayMatches(y, static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day())) &&
         hours_.test(since_midnight / 60) && minutes_.test(since_midnight % 60);
}

std::optional<Instant> CronExpression::NextAfter(Instant t) const {
  const auto start = std::chrono::floor<std::chrono::minutes>(t) + std::chrono::minutes(1);
  const auto dp = std::chrono::floor<days>(start);
  const year_month_day ymd(dp);
  int sy = static_cast<int>(ymd.year());
  unsigned sm = static_cast<unsigned>(ymd.month());
  unsigned sd = static_cast<unsigned>(ymd.day());
  const auto since_midnight = (start - dp).count();
  int sh = static_cast<int>(since_midnight / 60);
  int smi = static_cast<int>(since_midnight % 60);
  if (sy > kCronMaxYear) return std::nullopt;
  if (sy < kCronMinYear) {
    sy = kCronMinYear;
    sm = sd = 1;
    sh = smi = 0;
  }
  // Walk year → month → day → hour → minute. Only the path through `start` uses its components as
  // lower bounds; once a larger unit has moved on, the smaller ones start from their minimum.
  for (int y = sy; y <= kCronMaxYear; ++y) {
    if (!years_.test(y - kCronMinYear)) continue;
    const bool first_y = y == sy;
    for (unsigned m = first_y ? sm : 1; m <= 12; ++m) {
      if (!months_.test(m)) continue;
      const bool first_m = first_y && m == sm;
      const unsigned last = LastDayOf(y, m);
      for (unsigned d = first_m ? sd : 1; d <= last; ++d) {
        if (!DayMatches(y, m, d)) continue;
        const bool first_d = first_m && d == sd;
        for (int h = first_d ? sh : 0; h < 24; ++h) {
          if (!hours_.test(h)) continue;
          const bool first_h = first_d && h == sh;
          for (int mi = first_h ? smi : 0; mi < 60; ++mi) {
            if (minutes_.test(mi)) return MakeInstant(y, m, d, h, mi);
          }
        }
      }
    }
  }
  return std::nullopt;
}

Result<std::vector<CronWindow>> ParseMaintenanceWindows(
    const std::vector<MaintenanceWindow>& windows) {
  std::vector<CronWindow> out;
  for (size_t i = 0; i < windows.size(); ++i) {
    Result<CronExpression> c = CronExpression::Parse(windows[i].start_time);
    if (!c.ok()) {
      return Status::InvalidRequest("maintenanceWindows[" + std::to_string(i) +
                                    "].startTime: " + c.status().message());
    }
    out.push_back({*std::move(c), std::chrono::minutes(windows[i].duration_in_minutes)});
  }
  return out;
}

WindowState WindowStateAt(std::span<const CronWindow> windows, Instant now) {
  WindowState st;
  for (const CronWindow& w : windows) {
    // The latest occurrence s with now - duration < s <= now: at most `duration` minutes of steps.
    std::optional<Instant> latest;
    for (auto s = w.start.NextAfter(now - w.duration); s && *s <= now; s = w.start.NextAfter(*s)) {
      latest = s;
    }
    if (latest) {
      st.open = true;
      st.closes_at = std::max(st.closes_at.value_or(*latest), *latest + w.duration);
    }
  }
  if (st.open) return st;
  for (const CronWindow& w : windows) {
    std::optional<Instant> next = w.start.NextAfter(now);
    if (next && (!st.next_opens_at || *next < *st.next_opens_at)) st.next_opens_at = next;
  }
  return st;
}

std::vector<Instant> NextWindowStarts(std::span<const CronWindow> windows, Instant after,
                                      size_t n) {
  // The first n of each window's own sequence contain the first n of the merged one.
  std::vector<Instant> all;
  for (const CronWindow& w : windows) {
    std::optional<Instant> s = after;
    for (size_t i = 0; i < n && (s = w.start.NextAfter(*s)); ++i) all.push_back(*s);
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  if (all.size() > n) all.resize(n);
  return all;
}

}  // namespace iotjobs::jobs
