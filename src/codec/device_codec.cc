#include "codec/device_codec.h"

#include <boost/json.hpp>
#include <charconv>

#include "codec/job_codec.h"
#include "codec/json_codec.h"
#include "jobs/timeouts.h"

namespace iotjobs::codec {
namespace json = boost::json;
namespace {

int64_t Seconds(Instant t) { return ToEpochMillis(t) / 1000; }

}  // namespace

json::object ExecutionSummaryJson(const jobs::JobExecution& e) {
  json::object o{{"jobId", e.job_id},
                 {"queuedAt", Seconds(e.queued_at)},
                 {"lastUpdatedAt", Seconds(e.last_updated_at)},
                 {"versionNumber", e.version_number},
                 {"executionNumber", e.execution_number}};
  if (e.started_at) o["startedAt"] = Seconds(*e.started_at);
  return o;
}

json::object ExecutionDataJson(const jobs::JobExecution& e, Instant now) {
  json::object o = ExecutionSummaryJson(e);
  o["thingName"] = e.thing_name;
  o["status"] = jobs::ToString(e.status);
  o["statusDetails"] = EncodeStringMap(e.status_details);
  if (auto left =
          jobs::ApproximateSecondsBeforeTimedOut({e.in_progress_deadline, e.step_deadline}, now)) {
    o["approximateSecondsBeforeTimedOut"] = *left;
  }
  return o;
}

json::object ExecutionStateJson(const jobs::JobExecution& e) {
  return json::object{{"status", jobs::ToString(e.status)},
                      {"statusDetails", EncodeStringMap(e.status_details)},
                      {"versionNumber", e.version_number}};
}

Status GetLenientInt64(const json::object& o, const char* field, std::optional<int64_t>* out) {
  auto it = o.find(field);
  if (it == o.end() || it->value().is_null()) return Status::Ok();
  const json::value& v = it->value();
  if (v.is_int64()) {
    *out = v.get_int64();
  } else if (v.is_uint64() && v.get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    *out = static_cast<int64_t>(v.get_uint64());
  } else if (v.is_string()) {
    std::string_view s = v.get_string();
    int64_t n = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size()) {
      return Status::InvalidRequest(std::string(field) + " must be an integer, got '" +
                                    std::string(s) + "'");
    }
    *out = n;
  } else {
    return Status::InvalidRequest(std::string(field) + " must be an integer");
  }
  return Status::Ok();
}

namespace {

Status OptDetails(const json::object& body,
                  std::optional<std::map<std::string, std::string>>* out) {
  std::map<std::string, std::string> m;
  bool found = false;
  IOTJOBS_RETURN_IF_ERROR(DecodeStringMap(body, "statusDetails", &m, &found));
  if (found) *out = std::move(m);
  return Status::Ok();
}

}  // namespace

Status DecodeStartNext(const json::object& body, StartNextRequest* out) {
  IOTJOBS_RETURN_IF_ERROR(OptDetails(body, &out->status_details));
  return GetLenientInt64(body, "stepTimeoutInMinutes", &out->step_timeout_minutes);
}

Status DecodeDescribeExecution(const json::object& body, DescribeExecutionRequest* out) {
  IOTJOBS_RETURN_IF_ERROR(GetLenientInt64(body, "executionNumber", &out->execution_number));
  return OptBool(body, "includeJobDocument", &out->include_job_document);
}

Status DecodeUpdateExecution(const json::object& body, DevicePlane plane,
                             UpdateExecutionRequest* out) {
  if (auto s = body.find("status"); s != body.end() && s->value().is_string()) {
    out->status = std::string(s->value().get_string());
  } else if (s != body.end() && !(s->value().is_null() && plane == DevicePlane::kHttps)) {
    return Status::InvalidRequest("status must be a string");
  }
  IOTJOBS_RETURN_IF_ERROR(OptDetails(body, &out->status_details));
  IOTJOBS_RETURN_IF_ERROR(
      GetLenientInt64(body, "stepTimeoutInMinutes", &out->step_timeout_minutes));
  IOTJOBS_RETURN_IF_ERROR(GetLenientInt64(body, "expectedVersion", &out->expected_version));
  IOTJOBS_RETURN_IF_ERROR(GetLenientInt64(body, "executionNumber", &out->execution_number));
  IOTJOBS_RETURN_IF_ERROR(
      OptBool(body, "includeJobExecutionState", &out->include_job_execution_state));
  return OptBool(body, "includeJobDocument", &out->include_job_document);
}

}  // namespace iotjobs::codec
