// REST bindings for jobs and job executions (control plane).
#include <boost/json.hpp>
#include <charconv>

#include "api/router.h"
#include "api/wire.h"
#include "codec/job_codec.h"
#include "codec/json_codec.h"
#include "common/text.h"

namespace iotjobs::api {
namespace json = boost::json;
namespace {

Status DecodeStringList(const json::object& body, const char* field, bool required,
                        std::vector<std::string>* out) {
  auto it = body.find(field);
  if (it == body.end() || it->value().is_null()) {
    return required ? Status::InvalidRequest(std::string(field) + " is required") : Status::Ok();
  }
  if (!it->value().is_array())
    return Status::InvalidRequest(std::string(field) + " must be a list");
  for (const auto& v : it->value().get_array()) {
    if (!v.is_string())
      return Status::InvalidRequest(std::string(field) + " must be a list of strings");
    out->emplace_back(v.get_string());
  }
  return Status::Ok();
}

Result<std::optional<jobs::ExecutionStatus>> StatusParam(std::string_view query) {
  auto v = QueryParam(query, "status");
  if (!v) return std::optional<jobs::ExecutionStatus>();
  auto s = jobs::ParseExecutionStatus(*v);
  if (!s.ok()) return s.status();
  return std::optional<jobs::ExecutionStatus>(*s);
}

json::object ExecutionSummary(const jobs::JobExecution& e) {
  json::object o{{"status", jobs::ToString(e.status)},
                 {"queuedAt", EpochSeconds(e.queued_at)},
                 {"lastUpdatedAt", EpochSeconds(e.last_updated_at)},
                 {"executionNumber", e.execution_number},
                 {"retryAttempt", e.retry_attempt}};
  if (e.started_at) o["startedAt"] = EpochSeconds(*e.started_at);
  return o;
}

json::object JobJson(service::JobService& svc, const jobs::Job& j) {
  json::object o{{"jobArn", svc.JobArn(j.region, j.id)},
                 {"jobId", j.id},
                 {"targetSelection", j.target_selection},
                 {"status", j.status},
                 {"forceCanceled", j.force_canceled},
                 {"createdAt", EpochSeconds(j.created_at)},
                 {"lastUpdatedAt", EpochSeconds(j.last_updated_at)},
                 {"isConcurrent", j.status == jobs::kJobInProgress && !j.rollout_done}};
  json::array targets;
  for (const auto& t : j.targets) targets.push_back(json::string(t));
  o["targets"] = std::move(targets);
  if (j.reason_code) o["reasonCode"] = *j.reason_code;
  if (j.comment) o["comment"] = *j.comment;
  if (j.description) o["description"] = *j.description;
  if (j.completed_at) o["completedAt"] = EpochSeconds(*j.completed_at);
  if (j.namespace_id) o["namespaceId"] = *j.namespace_id;
  if (j.job_template_arn) o["jobTemplateArn"] = *j.job_template_arn;
  codec::EncodeConfigs(j.configs, &o);
  if (j.scheduling_config) {
    o["schedulingConfig"] = codec::EncodeSchedulingConfig(*j.scheduling_config);
    json::array rollouts;
    for (const auto& t : svc.ScheduledJobRollouts(j)) {
      rollouts.push_back(json::object{{"startTime", t}});
    }
    if (!rollouts.empty()) o["scheduledJobRollouts"] = std::move(rollouts);
  }
  json::array processing;
  if (!j.rollout_done && j.status == jobs::kJobInProgress) {
    for (const auto& t : j.targets) processing.push_back(json::string(t));
  }
  const auto& c = j.counters;
  o["jobProcessDetails"] = json::object{
      {"processingTargets", std::move(processing)}, {"numberOfCanceledThings", c.canceled},
      {"numberOfSucceededThings", c.succeeded},     {"numberOfFailedThings", c.failed},
      {"numberOfRejectedThings", c.rejected},       {"numberOfQueuedThings", c.queued},
      {"numberOfInProgressThings", c.in_progress},  {"numberOfRemovedThings", c.removed},
      {"numberOfTimedOutThings", c.timed_out}};
  return o;
}

// --- Job executions: /things/{thingName}/jobs... ---

http::Response ListJobExecutionsForThing(const Call& c) {
  auto& svc = *c.svc.jobs;
  const std::string_view query = c.req.query;
  auto max = MaxResults(query);
  if (!max.ok()) return Error(max.status());
  auto status = StatusParam(query);
  if (!status.ok()) return Error(status.status());
  auto job_id = NameParam(query, "jobId", 1, 64, "_-");
  if (!job_id.ok()) return Error(job_id.status());
  auto page =
      svc.ListJobExecutionsForThing(c.region, c.Label("thingName"), *status, job_id->value_or(""),
                                    QueryParam(query, "nextToken").value_or(""), *max);
  if (!page.ok()) return Error(page.status());
  json::array items;
  for (const auto& e : page->items) {
    items.push_back(
        json::object{{"jobId", e.job_id}, {"jobExecutionSummary", ExecutionSummary(e)}});
  }
  json::object out{{"executionSummaries", std::move(items)}};
  if (!page->next_token.empty()) out["nextToken"] = page->next_token;
  return Ok(out);
}

http::Response DescribeJobExecution(const Call& c) {
  auto& svc = *c.svc.jobs;
  const std::string& thing = c.Label("thingName");
  std::optional<int64_t> number;
  if (QueryParam(c.req.query, "executionNumber")) {
    auto n = IntParam(c.req.query, "executionNumber");
    if (!n.ok()) return Error(n.status());
    number = *n;
  }
  auto e = svc.DescribeJobExecution(c.region, c.Label("jobId"), thing, number);
  if (!e.ok()) return Error(e.status());
  json::object o{
      {"jobId", e->job_id},
      {"status", jobs::ToString(e->status)},
      {"forceCanceled", e->force_canceled},
      {"statusDetails", json::object{{"detailsMap", codec::EncodeStringMap(e->status_details)}}},
      {"thingArn", svc.ThingArn(c.region, thing)},
      {"queuedAt", EpochSeconds(e->queued_at)},
      {"lastUpdatedAt", EpochSeconds(e->last_updated_at)},
      {"executionNumber", e->execution_number},
      {"versionNumber", e->version_number}};
  if (e->started_at) o["startedAt"] = EpochSeconds(*e->started_at);
  if (e->timeout_at && !jobs::IsTerminal(e->status)) {
    const auto left =
        std::chrono::duration_cast<std::chrono::seconds>(*e->timeout_at - c.clock->Now());
    o["approximateSecondsBeforeTimedOut"] = std::max<int64_t>(0, left.count());
  }
  return Ok({{"execution", std::move(o)}});
}

http::Response CancelJobExecution(const Call& c) {
  auto force = BoolParam(c.req.query, "force");
  if (!force.ok()) return Error(force.status());
  auto body = ParseBody(c.req);
  if (!body.ok()) return Error(body.status());
  std::optional<int64_t> expected;
  int64_t v;
  bool found;
  Status st = codec::GetInt64(*body, "expectedVersion", "", &v, &found);
  if (found) expected = v;
  std::map<std::string, std::string> details;
  if (st.ok()) st = codec::DecodeStringMap(*body, "statusDetails", &details, &found);
  if (st.ok()) {
    st = c.svc.jobs->CancelJobExecution(c.region, c.Label("jobId"), c.Label("thingName"),
                                        force->value_or(false), expected, details);
  }
  return st.ok() ? OkEmpty() : Error(st);
}

http::Response DeleteJobExecution(const Call& c) {
  const std::string& text = c.Label("executionNumber");
  int64_t number = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || p != text.data() + text.size()) {
    return Error(Status::InvalidRequest("executionNumber must be an integer, got '" +
                                        Utf8Excerpt(text, 64) + "'"));
  }
  auto force = BoolParam(c.req.query, "force");
  if (!force.ok()) return Error(force.status());
  Status st = c.svc.jobs->DeleteJobExecution(c.region, c.Label("jobId"), c.Label("thingName"),
                                             number, force->value_or(false));
  return st.ok() ? OkEmpty() : Error(st);
}

// --- Jobs: /jobs... ---

http::Response ListJobs(const Call& c) {
  auto& svc = *c.svc.jobs;
  const std::string_view query = c.req.query;
  auto max = MaxResults(query);
  if (!max.ok()) return Error(max.status());
  auto group = NameParam(query, "thingGroupName", 1, 128, ":_-");
  if (!group.ok()) return Error(group.status());
  auto group_id_param = NameParam(query, "thingGroupId", 1, 128, "-");
  if (!group_id_param.ok()) return Error(group_id_param.status());
  jobs::JobFilter f;
  f.status = QueryParam(query, "status").value_or("");
  f.target_selection = QueryParam(query, "targetSelection").value_or("");
  f.thing_group = group->value_or("");
  f.thing_group_id = group_id_param->value_or("");
  f.namespace_id = QueryParam(query, "namespaceId").value_or("");
  auto page = svc.ListJobs(c.region, f, QueryParam(query, "nextToken").value_or(""), *max);
  if (!page.ok()) return Error(page.status());
  // JobSummary.thingGroupId is set when the list is filtered by thing group.
  std::string group_id = f.thing_group_id;
  if (!f.thing_group.empty()) {
    auto g = c.svc.registry->DescribeThingGroup(c.region, f.thing_group);
    if (g.ok()) group_id = g->id;
  }
  json::array items;
  for (const auto& j : page->items) {
    json::object o{{"jobArn", svc.JobArn(c.region, j.id)},
                   {"jobId", j.id},
                   {"targetSelection", j.target_selection},
                   {"status", j.status},
                   {"createdAt", EpochSeconds(j.created_at)},
                   {"lastUpdatedAt", EpochSeconds(j.last_updated_at)},
                   {"isConcurrent", j.status == jobs::kJobInProgress && !j.rollout_done}};
    if (j.completed_at) o["completedAt"] = EpochSeconds(*j.completed_at);
    if (!group_id.empty()) o["thingGroupId"] = group_id;
    items.push_back(std::move(o));
  }
  json::object out{{"jobs", std::move(items)}};
  if (!page->next_token.empty()) out["nextToken"] = page->next_token;
  return Ok(out);
}

http::Response CreateJob(const Call& c) {
  auto& svc = *c.svc.jobs;
  const std::string& id = c.Label("jobId");
  auto body = ParseBody(c.req);
  if (!body.ok()) return Error(body.status());
  service::CreateJobInput in;
  in.region = c.region;
  in.id = id;
  Status st = DecodeStringList(*body, "targets", true, &in.targets);
  if (st.ok()) st = OptString(*body, "document", &in.document);
  if (st.ok()) st = OptString(*body, "documentSource", &in.document_source);
  if (st.ok()) st = OptString(*body, "jobTemplateArn", &in.job_template_arn);
  if (st.ok()) st = OptString(*body, "description", &in.description);
  if (st.ok()) st = OptString(*body, "targetSelection", &in.target_selection);
  if (st.ok()) st = OptString(*body, "namespaceId", &in.namespace_id);
  if (st.ok()) st = codec::DecodeConfigs(*body, &in.configs);
  if (st.ok()) st = codec::DecodeSchedulingConfig(*body, &in.scheduling_config);
  if (st.ok()) {
    st = codec::DecodeStringMap(*body, "documentParameters", &in.document_parameters,
                                &in.has_document_parameters);
  }
  if (st.ok()) {
    if (auto it = body->find("tags"); it != body->end() && !it->value().is_null()) {
      st = codec::DecodeTags(it->value(), "tags", &in.tags);
    }
  }
  if (!st.ok()) return Error(st);
  auto j = svc.CreateJob(std::move(in));
  if (!j.ok()) return CreateError(j.status(), id, svc.JobArn(c.region, id));
  json::object out{{"jobArn", svc.JobArn(c.region, id)}, {"jobId", id}};
  if (j->description) out["description"] = *j->description;
  return Ok(out);
}

http::Response DescribeJob(const Call& c) {
  // beforeSubstitution: checked for its type; the document is always returned as stored.
  if (auto b = BoolParam(c.req.query, "beforeSubstitution"); !b.ok()) return Error(b.status());
  auto j = c.svc.jobs->DescribeJob(c.region, c.Label("jobId"));
  if (!j.ok()) return Error(j.status());
  json::object out{{"job", JobJson(*c.svc.jobs, *j)}};
  if (j->document_source) out["documentSource"] = *j->document_source;
  return Ok(out);
}

http::Response UpdateJob(const Call& c) {
  auto body = ParseBody(c.req);
  if (!body.ok()) return Error(body.status());
  service::UpdateJobInput in;
  in.region = c.region;
  in.id = c.Label("jobId");
  Status st = OptString(*body, "description", &in.description);
  if (st.ok()) st = codec::DecodeConfigs(*body, &in.configs);
  in.configs.maintenance_windows.reset();  // not updatable
  in.configs.destination_package_versions.reset();
  if (st.ok()) st = c.svc.jobs->UpdateJob(in);
  return st.ok() ? OkEmpty() : Error(st);
}

http::Response DeleteJob(const Call& c) {
  auto force = BoolParam(c.req.query, "force");
  if (!force.ok()) return Error(force.status());
  Status st = c.svc.jobs->DeleteJob(c.region, c.Label("jobId"), force->value_or(false));
  return st.ok() ? OkEmpty() : Error(st);
}

http::Response CancelJob(const Call& c) {
  auto& svc = *c.svc.jobs;
  const std::string& id = c.Label("jobId");
  auto force = BoolParam(c.req.query, "force");
  if (!force.ok()) return Error(force.status());
  auto body = ParseBody(c.req);
  if (!body.ok()) return Error(body.status());
  std::optional<std::string> reason, comment;
  Status st = OptString(*body, "reasonCode", &reason);
  if (st.ok()) st = OptString(*body, "comment", &comment);
  if (!st.ok()) return Error(st);
  auto j = svc.CancelJob(c.region, id, force->value_or(false), reason, comment);
  if (!j.ok()) return Error(j.status());
  json::object out{{"jobArn", svc.JobArn(c.region, id)}, {"jobId", id}};
  if (j->description) out["description"] = *j->description;
  return Ok(out);
}

http::Response GetJobDocument(const Call& c) {
  if (auto b = BoolParam(c.req.query, "beforeSubstitution"); !b.ok()) return Error(b.status());
  auto d = c.svc.jobs->GetJobDocument(c.region, c.Label("jobId"));
  if (!d.ok()) return Error(d.status());
  return Ok({{"document", *d}});
}

http::Response AssociateTargetsWithJob(const Call& c) {
  auto& svc = *c.svc.jobs;
  const std::string& id = c.Label("jobId");
  auto body = ParseBody(c.req);
  if (!body.ok()) return Error(body.status());
  std::vector<std::string> targets;
  std::optional<std::string> comment;
  Status st = DecodeStringList(*body, "targets", true, &targets);
  if (st.ok()) st = OptString(*body, "comment", &comment);
  if (!st.ok()) return Error(st);
  auto j = svc.AssociateTargetsWithJob(c.region, id, targets, comment);
  if (!j.ok()) return Error(j.status());
  json::object out{{"jobArn", svc.JobArn(c.region, id)}, {"jobId", id}};
  if (j->description) out["description"] = *j->description;
  return Ok(out);
}

http::Response ListJobExecutionsForJob(const Call& c) {
  auto& svc = *c.svc.jobs;
  auto max = MaxResults(c.req.query);
  if (!max.ok()) return Error(max.status());
  auto status = StatusParam(c.req.query);
  if (!status.ok()) return Error(status.status());
  auto page = svc.ListJobExecutionsForJob(c.region, c.Label("jobId"), *status,
                                          QueryParam(c.req.query, "nextToken").value_or(""), *max);
  if (!page.ok()) return Error(page.status());
  json::array items;
  for (const auto& e : page->items) {
    items.push_back(json::object{{"thingArn", svc.ThingArn(c.region, e.thing_name)},
                                 {"jobExecutionSummary", ExecutionSummary(e)}});
  }
  json::object out{{"executionSummaries", std::move(items)}};
  if (!page->next_token.empty()) out["nextToken"] = page->next_token;
  return Ok(out);
}

}  // namespace

// The namespaceId parameter these operations take is checked for every path under /jobs and
// /things/{thingName}/jobs before routing (ControlPlane::Route).
std::vector<Route> JobRoutes() {
  return {
      {"GET", "/things/{thingName}/jobs", "ListJobExecutionsForThing", ListJobExecutionsForThing},
      {"GET", "/things/{thingName}/jobs/{jobId}", "DescribeJobExecution", DescribeJobExecution},
      {"PUT", "/things/{thingName}/jobs/{jobId}/cancel", "CancelJobExecution", CancelJobExecution},
      {"DELETE", "/things/{thingName}/jobs/{jobId}/executionNumber/{executionNumber}",
       "DeleteJobExecution", DeleteJobExecution},
      {"GET", "/jobs", "ListJobs", ListJobs},
      {"PUT", "/jobs/{jobId}", "CreateJob", CreateJob},
      {"GET", "/jobs/{jobId}", "DescribeJob", DescribeJob},
      {"PATCH", "/jobs/{jobId}", "UpdateJob", UpdateJob},
      {"DELETE", "/jobs/{jobId}", "DeleteJob", DeleteJob},
      {"PUT", "/jobs/{jobId}/cancel", "CancelJob", CancelJob},
      {"GET", "/jobs/{jobId}/job-document", "GetJobDocument", GetJobDocument},
      {"POST", "/jobs/{jobId}/targets", "AssociateTargetsWithJob", AssociateTargetsWithJob},
      {"GET", "/jobs/{jobId}/things", "ListJobExecutionsForJob", ListJobExecutionsForJob},
  };
}

}  // namespace iotjobs::api
