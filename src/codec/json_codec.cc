#include "codec/json_codec.h"

#include <boost/json.hpp>
#include <cmath>
#include <limits>

#include "codec/parse_json.h"

namespace iotjobs::codec {
namespace json = boost::json;
namespace {

std::string Join(const std::string& path, const std::string& field) {
  return path.empty() ? field : path + "." + field;
}

Status TypeError(const std::string& name, const char* want) {
  return Status::InvalidRequest(name + " must be " + want);
}

Status GetObject(const json::object& o, const std::string& field, const std::string& path,
                 const json::object** out) {
  *out = nullptr;
  auto it = o.find(field);
  if (it == o.end() || it->value().is_null()) return Status::Ok();
  if (!it->value().is_object()) return TypeError(Join(path, field), "an object");
  *out = &it->value().get_object();
  return Status::Ok();
}

Status GetArray(const json::object& o, const std::string& field, const std::string& path,
                const json::array** out) {
  *out = nullptr;
  auto it = o.find(field);
  if (it == o.end() || it->value().is_null()) return Status::Ok();
  if (!it->value().is_array()) return TypeError(Join(path, field), "a list");
  *out = &it->value().get_array();
  return Status::Ok();
}

template <typename T>
Status GetOptInt(const json::object& o, const std::string& field, const std::string& path,
                 std::optional<T>* out) {
  int64_t v;
  bool found;
  IOTJOBS_RETURN_IF_ERROR(GetInt64(o, field, path, &v, &found));
  if (found) {
    if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) {
      return Status::InvalidRequest(Join(path, field) + " is out of range");
    }
    *out = static_cast<T>(v);
  }
  return Status::Ok();
}

template <typename T>
Status GetReqInt(const json::object& o, const std::string& field, const std::string& path, T* out) {
  std::optional<T> v;
  IOTJOBS_RETURN_IF_ERROR(GetOptInt(o, field, path, &v));
  if (!v) return Status::InvalidRequest(Join(path, field) + " is required");
  *out = *v;
  return Status::Ok();
}

Status GetReqString(const json::object& o, const std::string& field, const std::string& path,
                    std::string* out) {
  bool found;
  IOTJOBS_RETURN_IF_ERROR(GetString(o, field, path, out, &found));
  if (!found) return Status::InvalidRequest(Join(path, field) + " is required");
  return Status::Ok();
}

Status GetReqDouble(const json::object& o, const std::string& field, const std::string& path,
                    double* out) {
  bool found;
  IOTJOBS_RETURN_IF_ERROR(GetDouble(o, field, path, out, &found));
  if (!found) return Status::InvalidRequest(Join(path, field) + " is required");
  return Status::Ok();
}

template <typename T, typename F>
Status DecodeList(const json::array& a, const std::string& name, std::vector<T>* out,
                  F decode_one) {
  out->clear();
  for (size_t i = 0; i < a.size(); ++i) {
    std::string item = name + "[" + std::to_string(i) + "]";
    T v;
    IOTJOBS_RETURN_IF_ERROR(decode_one(a[i], item, &v));
    out->push_back(std::move(v));
  }
  return Status::Ok();
}

Status AsObject(const json::value& v, const std::string& name, const json::object** out) {
  if (!v.is_object()) return TypeError(name, "an object");
  *out = &v.get_object();
  return Status::Ok();
}

}  // namespace

Status GetString(const json::object& o, const std::string& field, const std::string& path,
                 std::string* out, bool* found) {
  *found = false;
  auto it = o.find(field);
  if (it == o.end() || it->value().is_null()) return Status::Ok();
  if (!it->value().is_string()) return TypeError(Join(path, field), "a string");
  *out = std::string(it->value().get_string());
  *found = true;
  return Status::Ok();
}

Status OptBool(const json::object& o, const std::string& field, bool* out) {
  auto it = o.find(field);
  if (it == o.end() || it->value().is_null()) return Status::Ok();
  if (!it->value().is_bool()) return TypeError(field, "a boolean");
  *out = it->value().get_bool();
  return Status::Ok();
}

Status GetInt64(const json::object& o, const std::string& field, const std::string& path,
                int64_t* out, bool* found) {
  *found = false;
  auto it = o.find(field);
  if (it == o.end() || it->value().is_null()) return Status::Ok();
  const json::value& v = it->value();
  if (v.is_int64()) {
    *out = v.get_int64();
  } else if (v.is_uint64() && v.get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    *out = static_cast<int64_t>(v.get_uint64());
  } else if (v.is_double() && std::floor(v.get_double()) == v.get_double() &&
             std::fabs(v.get_double()) < 9e15) {
    *out = static_cast<int64_t>(v.get_double());
  } else {
    return TypeError(Join(path, field), "an integer");
  }
  *found = true;
  return Status::Ok();
}

Status GetDouble(const json::object& o, const std::string& field, const std::string& path,
                 double* out, bool* found) {
  *found = false;
  auto it = o.find(field);
  if (it == o.end() || it->value().is_null()) return Status::Ok();
  const json::value& v = it->value();
  if (!v.is_number()) return TypeError(Join(path, field), "a number");
  *out = v.to_number<double>();
  *found = true;
  return Status::Ok();
}

Status DecodeConfigs(const json::object& obj, jobs::JobConfigs* out) {
  const json::object* o = nullptr;

  IOTJOBS_RETURN_IF_ERROR(GetObject(obj, "presignedUrlConfig", "", &o));
  if (o) {
    jobs::PresignedUrlConfig p;
    std::string s;
    bool found;
    IOTJOBS_RETURN_IF_ERROR(GetString(*o, "roleArn", "presignedUrlConfig", &s, &found));
    if (found) p.role_arn = s;
    IOTJOBS_RETURN_IF_ERROR(GetOptInt(*o, "expiresInSec", "presignedUrlConfig", &p.expires_in_sec));
    out->presigned_url_config = p;
  }

  IOTJOBS_RETURN_IF_ERROR(GetObject(obj, "jobExecutionsRolloutConfig", "", &o));
  if (o) {
    const std::string path = "jobExecutionsRolloutConfig";
    jobs::RolloutConfig r;
    IOTJOBS_RETURN_IF_ERROR(GetOptInt(*o, "maximumPerMinute", path, &r.maximum_per_minute));
    const json::object* e;
    IOTJOBS_RETURN_IF_ERROR(GetObject(*o, "exponentialRate", path, &e));
    if (e) {
      const std::string ep = path + ".exponentialRate";
      jobs::ExponentialRolloutRate x;
      IOTJOBS_RETURN_IF_ERROR(GetReqInt(*e, "baseRatePerMinute", ep, &x.base_rate_per_minute));
      IOTJOBS_RETURN_IF_ERROR(GetReqDouble(*e, "incrementFactor", ep, &x.increment_factor));
      const json::object* k = nullptr;
      IOTJOBS_RETURN_IF_ERROR(GetObject(*e, "rateIncreaseCriteria", ep, &k));
      if (!k) return Status::InvalidRequest(ep + ".rateIncreaseCriteria is required");
      const std::string kp = ep + ".rateIncreaseCriteria";
      IOTJOBS_RETURN_IF_ERROR(GetOptInt(*k, "numberOfNotifiedThings", kp,
                                        &x.rate_increase_criteria.number_of_notified_things));
      IOTJOBS_RETURN_IF_ERROR(GetOptInt(*k, "numberOfSucceededThings", kp,
                                        &x.rate_increase_criteria.number_of_succeeded_things));
      r.exponential_rate = x;
    }
    out->rollout_config = r;
  }

  IOTJOBS_RETURN_IF_ERROR(GetObject(obj, "abortConfig", "", &o));
  if (o) {
    const json::array* a;
    IOTJOBS_RETURN_IF_ERROR(GetArray(*o, "criteriaList", "abortConfig", &a));
    if (!a) return Status::InvalidRequest("abortConfig.criteriaList is required");
    jobs::AbortConfig c;
    IOTJOBS_RETURN_IF_ERROR(DecodeList(
        *a, "abortConfig.criteriaList", &c.criteria_list,
        [](const json::value& v, const std::string& n, jobs::AbortCriteria* k) -> Status {
          const json::object* ko = nullptr;
          IOTJOBS_RETURN_IF_ERROR(AsObject(v, n, &ko));
          IOTJOBS_RETURN_IF_ERROR(GetReqString(*ko, "failureType", n, &k->failure_type));
          IOTJOBS_RETURN_IF_ERROR(GetReqString(*ko, "action", n, &k->action));
          IOTJOBS_RETURN_IF_ERROR(
              GetReqDouble(*ko, "thresholdPercentage", n, &k->threshold_percentage));
          return GetReqInt(*ko, "minNumberOfExecutedThings", n, &k->min_number_of_executed_things);
        }));
    out->abort_config = c;
  }

  IOTJOBS_RETURN_IF_ERROR(GetObject(obj, "timeoutConfig", "", &o));
  if (o) {
    jobs::TimeoutConfig t;
    IOTJOBS_RETURN_IF_ERROR(GetOptInt(*o, "inProgressTimeoutInMinutes", "timeoutConfig",
                                      &t.in_progress_timeout_in_minutes));
    out->timeout_config = t;
  }

  IOTJOBS_RETURN_IF_ERROR(GetObject(obj, "jobExecutionsRetryConfig", "", &o));
  if (o) {
    const json::array* a;
    IOTJOBS_RETURN_IF_ERROR(GetArray(*o, "criteriaList", "jobExecutionsRetryConfig", &a));
    if (!a) return Status::InvalidRequest("jobExecutionsRetryConfig.criteriaList is required");
    jobs::RetryConfig c;
    IOTJOBS_RETURN_IF_ERROR(DecodeList(
        *a, "jobExecutionsRetryConfig.criteriaList", &c.criteria_list,
        [](const json::value& v, const std::string& n, jobs::RetryCriteria* k) -> Status {
          const json::object* ko = nullptr;
          IOTJOBS_RETURN_IF_ERROR(AsObject(v, n, &ko));
          IOTJOBS_RETURN_IF_ERROR(GetReqString(*ko, "failureType", n, &k->failure_type));
          return GetReqInt(*ko, "numberOfRetries", n, &k->number_of_retries);
        }));
    out->retry_config = c;
  }

  const json::array* a;
  IOTJOBS_RETURN_IF_ERROR(GetArray(obj, "maintenanceWindows", "", &a));
  if (a) {
    std::vector<jobs::MaintenanceWindow> w;
    IOTJOBS_RETURN_IF_ERROR(DecodeList(
        *a, "maintenanceWindows", &w,
        [](const json::value& v, const std::string& n, jobs::MaintenanceWindow* m) -> Status {
          const json::object* mo = nullptr;
          IOTJOBS_RETURN_IF_ERROR(AsObject(v, n, &mo));
          IOTJOBS_RETURN_IF_ERROR(GetReqString(*mo, "startTime", n, &m->start_time));
          return GetReqInt(*mo, "durationInMinutes", n, &m->duration_in_minutes);
        }));
    out->maintenance_windows = std::move(w);
  }

  IOTJOBS_RETURN_IF_ERROR(GetArray(obj, "destinationPackageVersions", "", &a));
  if (a) {
    std::vector<std::string> d;
    IOTJOBS_RETURN_IF_ERROR(
        DecodeList(*a, "destinationPackageVersions", &d,
                   [](const json::value& v, const std::string& n, std::string* s) -> Status {
                     if (!v.is_string()) return TypeError(n, "a string");
                     *s = std::string(v.get_string());
                     return Status::Ok();
                   }));
    out->destination_package_versions = std::move(d);
  }
  return Status::Ok();
}

void EncodeConfigs(const jobs::JobConfigs& c, json::object* obj) {
  if (const auto& p = c.presigned_url_config) {
    json::object o;
    if (p->role_arn) o["roleArn"] = *p->role_arn;
    if (p->expires_in_sec) o["expiresInSec"] = *p->expires_in_sec;
    (*obj)["presignedUrlConfig"] = std::move(o);
  }
  if (const auto& r = c.rollout_config) {
    json::object o;
    if (r->maximum_per_minute) o["maximumPerMinute"] = *r->maximum_per_minute;
    if (const auto& e = r->exponential_rate) {
      json::object k;
      const auto& ric = e->rate_increase_criteria;
      if (ric.number_of_notified_things)
        k["numberOfNotifiedThings"] = *ric.number_of_notified_things;
      if (ric.number_of_succeeded_things)
        k["numberOfSucceededThings"] = *ric.number_of_succeeded_things;
      o["exponentialRate"] = json::object{{"baseRatePerMinute", e->base_rate_per_minute},
                                          {"incrementFactor", e->increment_factor},
                                          {"rateIncreaseCriteria", std::move(k)}};
    }
    (*obj)["jobExecutionsRolloutConfig"] = std::move(o);
  }
  if (const auto& a = c.abort_config) {
    json::array list;
    for (const auto& k : a->criteria_list) {
      list.push_back(json::object{{"failureType", k.failure_type},
                                  {"action", k.action},
                                  {"thresholdPercentage", k.threshold_percentage},
                                  {"minNumberOfExecutedThings", k.min_number_of_executed_things}});
    }
    (*obj)["abortConfig"] = json::object{{"criteriaList", std::move(list)}};
  }
  if (const auto& t = c.timeout_config) {
    json::object o;
    if (t->in_progress_timeout_in_minutes)
      o["inProgressTimeoutInMinutes"] = *t->in_progress_timeout_in_minutes;
    (*obj)["timeoutConfig"] = std::move(o);
  }
  if (const auto& r = c.retry_config) {
    json::array list;
    for (const auto& k : r->criteria_list) {
      list.push_back(
          json::object{{"failureType", k.failure_type}, {"numberOfRetries", k.number_of_retries}});
    }
    (*obj)["jobExecutionsRetryConfig"] = json::object{{"criteriaList", std::move(list)}};
  }
  if (const auto& w = c.maintenance_windows) {
    json::array list;
    for (const auto& m : *w) {
      list.push_back(
          json::object{{"startTime", m.start_time}, {"durationInMinutes", m.duration_in_minutes}});
    }
    (*obj)["maintenanceWindows"] = std::move(list);
  }
  if (const auto& d = c.destination_package_versions) {
    json::array list;
    for (const auto& s : *d) list.push_back(json::string(s));
    (*obj)["destinationPackageVersions"] = std::move(list);
  }
}

std::string ConfigsToJson(const jobs::JobConfigs& c) {
  json::object o;
  EncodeConfigs(c, &o);
  return json::serialize(o);
}

Result<jobs::JobConfigs> ConfigsFromJson(const std::string& text) {
  boost::system::error_code ec;
  json::value v = ParseJson(text, ec);
  if (ec || !v.is_object()) return Status::Internal("stored configs are not a JSON object");
  jobs::JobConfigs c;
  IOTJOBS_RETURN_IF_ERROR(DecodeConfigs(v.get_object(), &c));
  return c;
}

Status DecodeTags(const json::value& v, const std::string& field, std::vector<jobs::Tag>* out) {
  if (!v.is_array()) return TypeError(field, "a list");
  return DecodeList(v.get_array(), field, out,
                    [](const json::value& item, const std::string& n, jobs::Tag* t) -> Status {
                      const json::object* o = nullptr;
                      IOTJOBS_RETURN_IF_ERROR(AsObject(item, n, &o));
                      IOTJOBS_RETURN_IF_ERROR(GetReqString(*o, "Key", n, &t->key));
                      bool found;
                      return GetString(*o, "Value", n, &t->value, &found);
                    });
}

json::array EncodeTags(const std::vector<jobs::Tag>& tags) {
  json::array a;
  for (const auto& t : tags) a.push_back(json::object{{"Key", t.key}, {"Value", t.value}});
  return a;
}

}  // namespace iotjobs::codec

namespace iotjobs::codec {
Status ValidateJsonDocument(const std::string& field, std::string_view text) {
  boost::system::error_code ec;
  json::value v = ParseJson(text, ec);
  if (ec) return Status::InvalidRequest(field + " is not valid JSON: " + ec.message());
  if (!v.is_object()) return Status::InvalidRequest(field + " must be a JSON object");
  return Status::Ok();
}
}  // namespace iotjobs::codec
