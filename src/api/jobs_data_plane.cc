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
    codec::StartNextRequest r;
    if (Status st = codec::DecodeStartNext(*body, &r); !st.ok()) return DataError(st);
    auto next = dev.StartNext(region, thing, r.status_details, r.step_timeout_minutes);
    if (!next.ok()) return DataError(next.status());
    if (!*next) return OkEmpty();
    return Ok({{"execution", Execution(**next, now)}});
  }
  if (m == "GET") {
    // DescribeJobExecution's members are query parameters here (MQTT: payload members).
    codec::DescribeExecutionRequest r;
    auto include = BoolParam(req.query, "includeJobDocument");
    if (!include.ok()) return DataError(include.status());
    r.include_job_document = include->value_or(true);
    if (QueryParam(req.query, "executionNumber")) {
      auto n = IntParam(req.query, "executionNumber");
      if (!n.ok()) return DataError(n.status());
      r.execution_number = *n;
    }
    auto d = dev.Describe(region, thing, job, r.execution_number, r.include_job_document);
    if (!d.ok()) return DataError(d.status());
    if (!*d) return OkEmpty();
    return Ok({{"execution", Execution(**d, now)}});
  }
  if (m == "POST") {
    auto body = ParseBody(req);
    if (!body.ok()) return DataError(body.status());
    codec::UpdateExecutionRequest in;
    if (Status st = codec::DecodeUpdateExecution(*body, codec::DevicePlane::kHttps, &in);
        !st.ok()) {
      return DataError(st);
    }
    auto r = dev.Update(region, thing, job,
                        {.status = in.status,
                         .status_details = in.status_details,
                         .step_timeout_minutes = in.step_timeout_minutes,
                         .expected_version = in.expected_version,
                         .execution_number = in.execution_number,
                         .include_job_execution_state = in.include_job_execution_state,
                         .include_job_document = in.include_job_document});
    if (!r.status.ok()) {
      // A stale expectedVersion has no modeled HTTPS error; AWS's SDKs see a 409 conflict.
      Status wire = r.status.code() == Code::kVersionConflict
                        ? Status(Code::kInvalidStateTransition, r.status.message())
                        : r.status;
      return DataError(wire);
    }
    json::object out;
    if (r.execution) out["executionState"] = codec::ExecutionStateJson(*r.execution);
    if (r.document) out["jobDocument"] = *r.document;
    return Ok(out);
  }
  return UnknownOperation(req);
}

}  // namespace iotjobs::api
