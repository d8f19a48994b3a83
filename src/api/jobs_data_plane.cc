#include "api/jobs_data_plane.h"

#include <boost/json.hpp>

#include "api/wire.h"
#include "codec/device_codec.h"
#include "codec/job_codec.h"
#include "codec/json_codec.h"
#include "common/logging.h"
#include "common/text.h"

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

std::optional<http::Response> JobsDataPlane::CheckHeaders(const http::Request& head) const {
  if (!verifier_) return std::nullopt;
  s3::SigV4Request sr{head.method, head.path, head.query, head.headers, {}};
  // A device over mutual TLS authenticates with its certificate, not SigV4 (see Authenticate).
  if (head.peer_identity && !s3::IsSigned(sr)) return std::nullopt;
  auto id = verifier_->VerifyHeaders(sr, wall_clock_->Now());
  if (id.ok()) return std::nullopt;
  return DataError(id.status());
}

Result<JobsDataPlane::Caller> JobsDataPlane::Authenticate(const http::Request& req) const {
  const s3::SigV4Request sr{req.method, req.path, req.query, req.headers, req.body};
  Caller c{config_.default_region, std::nullopt, ""};
  if (req.peer_identity && !s3::IsSigned(sr)) {
    // A device over mutual TLS is the thing its certificate names (CN), as on the MQTT listener.
    c.only_thing = *req.peer_identity;
    c.principal = "certificate CN=" + *req.peer_identity;
    return c;
  }
  if (!verifier_) {
    // --no-auth: the region of an (unverified) credential scope, as on the control plane.
    auto scope = s3::PeekScope(sr);
    if (scope) {
      IOTJOBS_RETURN_IF_ERROR(s3::CheckScopeRegion(scope->region));
      c.region = scope->region;
    }
    return c;
  }
  auto id = verifier_->Verify(sr, wall_clock_->Now());
  if (!id.ok()) return id.status();
  if (id->service != "iot-jobs-data") {
    return Status(Code::kSignatureInvalid,
                  "Credential should be scoped to correct service: 'iot-jobs-data' "
                  "(this is the jobs data-plane endpoint; got '" +
                      id->service + "')");
  }
  c.region = id->region;
  c.principal = "access key " + id->access_key_id;
  if (id->role == KeyRole::kDevice && !id->thing.empty()) c.only_thing = id->thing;
  return c;
}

http::Response JobsDataPlane::Handle(http::Request& req) {
  auto caller = Authenticate(req);
  if (!caller.ok()) return DataError(caller.status());
  const std::string& region = caller->region;
  auto segs = Segments(req.path);
  if (!segs.ok()) return DataError(segs.status());
  if (Status q = CheckQuery(req.query); !q.ok()) return DataError(q);
  const auto& s = *segs;
  const std::string& m = req.method;
  if (s.size() < 3 || s[0] != "things" || s[2] != "jobs") return UnknownOperation(req);
  const std::string& thing = s[1];
  if (caller->only_thing && *caller->only_thing != thing) {
    const char* action = s.size() == 3                             ? "GetPendingJobExecutions"
                         : m == "PUT" && s[3] == service::kNextJob ? "StartNextPendingJobExecution"
                         : m == "POST"                             ? "UpdateJobExecution"
                                                                   : "DescribeJobExecution";
    const bool shaped = !thing.empty() && thing.size() <= 128 && IsAlnumOr(thing, ":_-");
    return DataError(
        Status(Code::kAccessDenied,
               "User: " + caller->principal +
                   " is not authorized to perform: iotjobsdata:" + action + " on resource: " +
                   (shaped ? "arn:aws:iot:" + region + ":" + config_.account_id + ":thing/" + thing
                           : std::string("another thing")) +
                   " (it may act only for thing " + *caller->only_thing + ")"));
  }
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
