#include "api/jobs_data_plane.h"

#include <boost/json.hpp>

#include "api/wire.h"
#include "codec/device_codec.h"
#include "codec/job_codec.h"
#include "codec/json_codec.h"
#include "common/logging.h"

namespace iotjobs::api {
namespace json = boost::json;
namespace {

http::Response DataError(const Status& st) { return ErrorResponse(st, Plane::kJobsData); }

json::object Execution(const service::DeviceExecution& d, Instant now) {
  json::object o = codec::ExecutionDataJson(d.execution, now);
  if (d.document) o["jobDocument"] = *d.document;  // a string on the HTTPS plane
  return o;
}

Status OptDetails(const json::object& body,
                  std::optional<std::map<std::string, std::string>>* out) {
  std::map<std::string, std::string> m;
  bool found;
  IOTJOBS_RETURN_IF_ERROR(codec::DecodeStringMap(body, "statusDetails", &m, &found));
  if (found) *out = std::move(m);
  return Status::Ok();
}

}  // namespace

http::Response JobsDataPlane::Handle(http::Request& req) {
  std::string region = config_.default_region;
  if (verifier_) {
    s3::SigV4Request sr{req.method, req.path, req.query, req.headers, req.body};
    auto id = verifier_->Verify(sr, wall_clock_->Now());
    if (!id.ok()) return DataError(id.status());
    if (id->service != "iot-jobs-data") {
      return DataError(Status(Code::kSignatureInvalid,
                              "Credential should be scoped to correct service: 'iot-jobs-data' "
                              "(this is the jobs data-plane endpoint; got '" +
                                  id->service + "')"));
    }
    region = id->region;
  }
  auto segs = Segments(req.path);
  if (!segs) return DataError(Status::InvalidRequest("the request path has a malformed %-escape"));
  const auto& s = *segs;
  const std::string& m = req.method;
  if (s.size() < 3 || s[0] != "things" || s[2] != "jobs") return UnknownOperation(req);
  const std::string& thing = s[1];
  if (limiter_ && !limiter_->Allow(thing)) {
    return DataError(Status(Code::kThrottled, "Rate exceeded for thing " + thing));
  }
  auto& dev = *devices_;
  const Instant now = dev.clock()->Now();

  if (s.size() == 3 && m == "GET") {
    auto pending = dev.GetPending(region, thing);
    if (!pending.ok()) return DataError(pending.status());
    json::array in_progress, queued;
    for (const auto& e : pending->in_progress)
      in_progress.push_back(codec::ExecutionSummaryJson(e));
    for (const auto& e : pending->queued) queued.push_back(codec::ExecutionSummaryJson(e));
    return Ok({{"inProgressJobs", std::move(in_progress)}, {"queuedJobs", std::move(queued)}});
  }
  if (s.size() != 4) return UnknownOperation(req);
  const std::string& job = s[3];
  if (m == "PUT" && job == service::kNextJob) {
    auto body = ParseBody(req);
    if (!body.ok()) return DataError(body.status());
    std::optional<std::map<std::string, std::string>> details;
    std::optional<int64_t> step;
    Status st = OptDetails(*body, &details);
    if (st.ok()) st = codec::GetLenientInt64(*body, "stepTimeoutInMinutes", &step);
    if (!st.ok()) return DataError(st);
    auto next = dev.StartNext(region, thing, details, step);
    if (!next.ok()) return DataError(next.status());
    if (!*next) return OkEmpty();
    return Ok({{"execution", Execution(**next, now)}});
  }
  if (m == "GET") {
    auto include = BoolParam(req.query, "includeJobDocument");
    if (!include.ok()) return DataError(include.status());
    std::optional<int64_t> number;
    if (QueryParam(req.query, "executionNumber")) {
      auto n = IntParam(req.query, "executionNumber");
      if (!n.ok()) return DataError(n.status());
      number = *n;
    }
    auto d = dev.Describe(region, thing, job, number, include->value_or(true));
    if (!d.ok()) return DataError(d.status());
    if (!*d) return OkEmpty();
    return Ok({{"execution", Execution(**d, now)}});
  }
  if (m == "POST") {
    auto body = ParseBody(req);
    if (!body.ok()) return DataError(body.status());
    service::UpdateRequest u;
    std::optional<std::string> status;
    Status st = OptString(*body, "status", &status);
    if (st.ok()) st = OptDetails(*body, &u.status_details);
    if (st.ok())
      st = codec::GetLenientInt64(*body, "stepTimeoutInMinutes", &u.step_timeout_minutes);
    if (st.ok()) st = codec::GetLenientInt64(*body, "expectedVersion", &u.expected_version);
    if (st.ok()) st = codec::GetLenientInt64(*body, "executionNumber", &u.execution_number);
    if (st.ok())
      st = codec::OptBool(*body, "includeJobExecutionState", &u.include_job_execution_state);
    if (st.ok()) st = codec::OptBool(*body, "includeJobDocument", &u.include_job_document);
    if (!st.ok()) return DataError(st);
    u.status = status.value_or("");
    auto r = dev.Update(region, thing, job, u);
    if (!r.status.ok()) {
      // A stale expectedVersion has no modeled HTTPS error; AWS's SDKs see a 409 conflict.
      Status wire = r.status.code() == Code::kVersionConflict
                        ? Status(Code::kInvalidStateTransition, r.status.message())
                        : r.status;
      return DataError(wire);
    }
    json::object out;
    if (r.execution) {
      out["executionState"] =
          json::object{{"status", jobs::ToString(r.execution->status)},
                       {"statusDetails", codec::EncodeStringMap(r.execution->status_details)},
                       {"versionNumber", r.execution->version_number}};
    }
    if (r.document) out["jobDocument"] = *r.document;
    return Ok(out);
  }
  return UnknownOperation(req);
}

}  // namespace iotjobs::api
