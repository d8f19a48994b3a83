#include "jobs/validation.h"

#include <cmath>
#include <set>

#include "common/text.h"
#include "jobs/cron.h"

namespace iotjobs::jobs {
namespace {

std::string F(std::string_view field) { return std::string(field); }

Status Range(std::string_view field, int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi) {
    return Status::InvalidRequest(F(field) + " must be between " + std::to_string(lo) + " and " +
                                  std::to_string(hi) + ", got " + std::to_string(v));
  }
  return Status::Ok();
}

// True when v has at most `places` decimal places (within floating-point noise).
bool HasDecimals(double v, int places) {
  double scaled = v * std::pow(10.0, places);
  return std::fabs(scaled - std::round(scaled)) < 1e-6;
}

std::string Num(double v) {
  std::string s = std::to_string(v);
  s.erase(s.find_last_not_of('0') + 1);
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

Status OneOf(std::string_view field, const std::string& v, std::initializer_list<const char*> set) {
  std::string allowed;
  for (const char* s : set) {
    if (v == s) return Status::Ok();
    allowed += allowed.empty() ? s : std::string("|") + s;
  }
  return Status::InvalidRequest(F(field) + " must be one of " + allowed + ", got '" +
                                Utf8Excerpt(v, 64) + "'");
}

}  // namespace

Status ValidateArn(std::string_view field, std::string_view arn) {
  if (arn.empty() || arn.size() > 1600) {
    return Status::InvalidRequest(F(field) + " must be 1 to 1600 characters");
  }
  bool ok = arn.substr(0, 4) == "arn:" && arn.size() > 4;
  for (unsigned char c : arn) ok = ok && c >= '!' && c <= '~';
  if (!ok)
    return Status::InvalidRequest(F(field) + " must match ^arn:[!-~]+$, got '" + F(arn) + "'");
  return Status::Ok();
}

Status ValidateDocumentParameters(const std::map<std::string, std::string>& parameters) {
  for (const auto& [k, v] : parameters) {
    if (k.empty() || k.size() > 128 || !IsAlnumOr(k, "_-")) {
      return Status::InvalidRequest(
          "documentParameters key must be 1 to 128 characters of [a-zA-Z0-9_-], got '" +
          Utf8Excerpt(k, 140) + "'");
    }
    if (v.empty() || Utf8Length(v) > 30720 || !IsPrintableUnicode(v)) {
      return Status::InvalidRequest("documentParameters value of '" + k +
                                    "' must be 1 to 30720 characters without control characters");
    }
  }
  return Status::Ok();
}

Status ValidateId(std::string_view field, std::string_view id) {
  if (id.empty() || id.size() > 64 || !IsAlnumOr(id, "_-")) {
    return Status::InvalidRequest(F(field) + " must be 1 to 64 characters of [a-zA-Z0-9_-], got '" +
                                  Utf8Excerpt(id, 80) + "'");
  }
  return Status::Ok();
}

Status ValidateDescription(std::string_view field, std::string_view text) {
  if (!IsValidUtf8(text)) return Status::InvalidRequest(F(field) + " must be valid UTF-8");
  if (Utf8Length(text) > kMaxDescription) {
    return Status::InvalidRequest(F(field) + " must be at most 2028 characters, got " +
                                  std::to_string(Utf8Length(text)));
  }
  if (!text.empty() && !IsPrintableUnicode(text)) {
    return Status::InvalidRequest(F(field) + " must not contain control or format characters");
  }
  return Status::Ok();
}

Status ValidateDocument(std::string_view document) {
  if (document.size() > kMaxDocumentBytes) {
    return Status::InvalidRequest("document must be at most 32768 bytes, got " +
                                  std::to_string(document.size()));
  }
  return Status::Ok();
}

int CountPresignedPlaceholders(std::string_view document) {
  static constexpr std::string_view kPlaceholder = "${aws:iot:s3-presigned-url:";
  int n = 0;
  for (size_t p = document.find(kPlaceholder); p != std::string_view::npos;
       p = document.find(kPlaceholder, p + 1)) {
    ++n;
  }
  return n;
}

Status ValidateSubstitutions(std::string_view document) {
  const int n = CountPresignedPlaceholders(document);
  if (n > kMaxSubstitutions) {
    return Status::InvalidRequest("a job document may hold at most 10 substitutions, got " +
                                  std::to_string(n));
  }
  return Status::Ok();
}

Status ValidateDocumentSource(std::string_view url) {
  if (url.empty() || url.size() > kMaxDocumentSource) {
    return Status::InvalidRequest("documentSource must be 1 to 1350 characters, got " +
                                  std::to_string(url.size()));
  }
  return Status::Ok();
}

Status ValidateConfigs(const JobConfigs& c, int64_t max_rollout_per_minute) {
  if (const auto& p = c.presigned_url_config) {
    if (p->role_arn && (p->role_arn->size() < 20 || p->role_arn->size() > 2048)) {
      return Status::InvalidRequest(
          "presignedUrlConfig.roleArn must be 20 to 2048 characters, got " +
          std::to_string(p->role_arn->size()));
    }
    if (p->expires_in_sec) {
      IOTJOBS_RETURN_IF_ERROR(
          Range("presignedUrlConfig.expiresInSec", *p->expires_in_sec, 60, 3600));
    }
  }
  if (const auto& r = c.rollout_config) {
    if (r->maximum_per_minute) {
      IOTJOBS_RETURN_IF_ERROR(Range("jobExecutionsRolloutConfig.maximumPerMinute",
                                    *r->maximum_per_minute, 1, max_rollout_per_minute));
    }
    if (const auto& e = r->exponential_rate) {
      const std::string f = "jobExecutionsRolloutConfig.exponentialRate";
      IOTJOBS_RETURN_IF_ERROR(Range(f + ".baseRatePerMinute", e->base_rate_per_minute, 1, 1000));
      if (!(e->increment_factor >= 1.1 - 1e-9 && e->increment_factor <= 5.0 + 1e-9) ||
          !HasDecimals(e->increment_factor, 1)) {
        return Status::InvalidRequest(
            f + ".incrementFactor must be between 1.1 and 5 with one decimal place, got " +
            Num(e->increment_factor));
      }
      const auto& k = e->rate_increase_criteria;
      // Both may be set: the developer guide's own create-job-template example sets both
      // (numberOfNotifiedThings 1000 and numberOfSucceededThings 1000). At least one is needed.
      if (!k.number_of_notified_things && !k.number_of_succeeded_things) {
        return Status::InvalidRequest(
            f + ".rateIncreaseCriteria needs numberOfNotifiedThings or numberOfSucceededThings");
      }
      if (k.number_of_notified_things) {
        IOTJOBS_RETURN_IF_ERROR(Range(f + ".rateIncreaseCriteria.numberOfNotifiedThings",
                                      *k.number_of_notified_things, 1, INT32_MAX));
      }
      if (k.number_of_succeeded_things) {
        IOTJOBS_RETURN_IF_ERROR(Range(f + ".rateIncreaseCriteria.numberOfSucceededThings",
                                      *k.number_of_succeeded_things, 1, INT32_MAX));
      }
    }
  }
  if (const auto& a = c.abort_config) {
    if (a->criteria_list.empty()) {
      return Status::InvalidRequest("abortConfig.criteriaList must have at least 1 item");
    }
    std::set<std::string> seen;
    for (size_t i = 0; i < a->criteria_list.size(); ++i) {
      const auto& k = a->criteria_list[i];
      const std::string f = "abortConfig.criteriaList[" + std::to_string(i) + "]";
      IOTJOBS_RETURN_IF_ERROR(
          OneOf(f + ".failureType", k.failure_type, {"FAILED", "REJECTED", "TIMED_OUT", "ALL"}));
      IOTJOBS_RETURN_IF_ERROR(OneOf(f + ".action", k.action, {"CANCEL"}));
      if (!(k.threshold_percentage >= 0 && k.threshold_percentage <= 100) ||
          !HasDecimals(k.threshold_percentage, 2)) {
        return Status::InvalidRequest(
            f +
            ".thresholdPercentage must be between 0 and 100 with at most 2 decimal places, got " +
            Num(k.threshold_percentage));
      }
      IOTJOBS_RETURN_IF_ERROR(
          Range(f + ".minNumberOfExecutedThings", k.min_number_of_executed_things, 1, INT32_MAX));
      if (!seen.insert(k.failure_type).second) {
        return Status::InvalidRequest(f + ".failureType " + k.failure_type +
                                      " appears more than once");
      }
    }
  }
  if (const auto& t = c.timeout_config) {
    if (t->in_progress_timeout_in_minutes) {
      IOTJOBS_RETURN_IF_ERROR(Range("timeoutConfig.inProgressTimeoutInMinutes",
                                    *t->in_progress_timeout_in_minutes, 1, 10080));
    }
  }
  if (const auto& r = c.retry_config) {
    if (r->criteria_list.empty() || r->criteria_list.size() > 2) {
      return Status::InvalidRequest(
          "jobExecutionsRetryConfig.criteriaList must have 1 or 2 items, got " +
          std::to_string(r->criteria_list.size()));
    }
    std::set<std::string> seen;
    int total = 0;
    for (size_t i = 0; i < r->criteria_list.size(); ++i) {
      const auto& k = r->criteria_list[i];
      const std::string f = "jobExecutionsRetryConfig.criteriaList[" + std::to_string(i) + "]";
      IOTJOBS_RETURN_IF_ERROR(
          OneOf(f + ".failureType", k.failure_type, {"FAILED", "TIMED_OUT", "ALL"}));
      IOTJOBS_RETURN_IF_ERROR(Range(f + ".numberOfRetries", k.number_of_retries, 0, 10));
      if (!seen.insert(k.failure_type).second) {
        return Status::InvalidRequest(f + ".failureType " + k.failure_type +
                                      " appears more than once");
      }
      total += k.number_of_retries;
    }
    if (total > 10) {
      return Status::InvalidRequest(
          "jobExecutionsRetryConfig allows at most 10 retries in total per device, got " +
          std::to_string(total));
    }
  }
  if (const auto& w = c.maintenance_windows) {
    IOTJOBS_RETURN_IF_ERROR(ValidateMaintenanceWindows("maintenanceWindows", *w));
  }
  if (const auto& d = c.destination_package_versions) {
    if (d->size() > 25) {
      return Status::InvalidRequest("destinationPackageVersions must have at most 25 items, got " +
                                    std::to_string(d->size()));
    }
    for (size_t i = 0; i < d->size(); ++i) {
      IOTJOBS_RETURN_IF_ERROR(
          ValidateArn("destinationPackageVersions[" + std::to_string(i) + "]", (*d)[i]));
    }
  }
  return Status::Ok();
}

Status ValidateMaintenanceWindows(std::string_view field,
                                  const std::vector<MaintenanceWindow>& windows) {
  for (size_t i = 0; i < windows.size(); ++i) {
    const auto& m = windows[i];
    const std::string f = F(field) + "[" + std::to_string(i) + "]";
    if (m.start_time.empty() || Utf8Length(m.start_time) > 256) {
      return Status::InvalidRequest(f + ".startTime must be 1 to 256 characters");
    }
    // The scheduler's own parser: whatever passes here is what the rollout will run on.
    if (auto cron = CronExpression::Parse(m.start_time); !cron.ok()) {
      return Status::InvalidRequest(f + ".startTime: " + cron.status().message());
    }
    IOTJOBS_RETURN_IF_ERROR(Range(f + ".durationInMinutes", m.duration_in_minutes, 1, 1430));
  }
  return Status::Ok();
}

Status ValidateTagKey(std::string_view field, std::string_view key) {
  if (key.empty() || Utf8Length(key) > 128 || !IsValidUtf8(key)) {
    return Status::InvalidRequest(F(field) + " must be 1 to 128 characters");
  }
  // ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$ : ASCII letters, digits, space and _.:/=+-@; non-ASCII letters
  // and numbers are approximated as any printable non-ASCII code point.
  for (unsigned char c : key) {
    if (c >= 0x80) continue;
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              std::string_view(" _.:/=+-@").find(static_cast<char>(c)) != std::string_view::npos;
    if (!ok) {
      return Status::InvalidRequest(
          F(field) + " must match ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$, got '" + F(key) + "'");
    }
  }
  if (!IsPrintableUnicode(key)) return Status::InvalidRequest(F(field) + " has control characters");
  if (key.substr(0, 4) == "aws:") {
    return Status::InvalidRequest(F(field) + " must not start with the reserved prefix 'aws:'");
  }
  return Status::Ok();
}

Status ValidateTags(std::string_view field, const std::vector<Tag>& tags) {
  if (tags.size() > static_cast<size_t>(kMaxTagsPerResource)) {
    return Status::InvalidRequest(F(field) + " must have at most 50 tags, got " +
                                  std::to_string(tags.size()));
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < tags.size(); ++i) {
    const std::string f = F(field) + "[" + std::to_string(i) + "]";
    IOTJOBS_RETURN_IF_ERROR(ValidateTagKey(f + ".Key", tags[i].key));
    if (Utf8Length(tags[i].value) > 256 || !IsValidUtf8(tags[i].value)) {
      return Status::InvalidRequest(f + ".Value must be at most 256 characters");
    }
    if (!seen.insert(tags[i].key).second) {
      return Status::InvalidRequest(f + ".Key '" + tags[i].key + "' appears more than once");
    }
  }
  return Status::Ok();
}

}  // namespace iotjobs::jobs
