#include "api/control_plane.h"

#include <boost/json.hpp>

#include "api/errors.h"
#include "api/jobs_data_plane.h"
#include "api/router.h"
#include "api/wire.h"
#include "codec/json_codec.h"
#include "common/logging.h"
#include "common/text.h"

namespace iotjobs::api {
namespace json = boost::json;
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static auto l = Logger("api");
  return l;
}

json::object TemplateToJson(const jobs::JobTemplate& t, const std::string& arn) {
  json::object o;
  o["jobTemplateArn"] = arn;
  o["jobTemplateId"] = t.id;
  if (t.description) o["description"] = *t.description;
  if (t.document_source) {
    o["documentSource"] = *t.document_source;
  } else if (t.document) {
    o["document"] = *t.document;
  }
  o["createdAt"] = EpochSeconds(t.created_at);
  codec::EncodeConfigs(t.configs, &o);
  return o;
}

}  // namespace

ControlPlane::ControlPlane(ApiConfig config, Services services, const s3::SigV4Verifier* verifier,
                           const Clock* clock, const Clock* wall_clock)
    : config_(std::move(config)),
      services_(services),
      verifier_(verifier),
      clock_(clock),
      wall_clock_(wall_clock) {}

namespace {

// A caller identified by its client certificate alone (a device) has no control-plane rights.
Status CertificateOnControlPlane(const std::string& cn) {
  return Status(Code::kAccessDenied,
                "User: certificate CN=" + cn +
                    " is not authorized to perform control-plane actions: a client certificate "
                    "authenticates a device on the jobs data plane only; sign with SigV4");
}

}  // namespace

Result<std::string> ControlPlane::Authenticate(const http::Request& req) {
  s3::SigV4Request sr{req.method, req.path, req.query, req.headers, req.body};
  if (req.peer_identity && !s3::IsSigned(sr)) return CertificateOnControlPlane(*req.peer_identity);
  if (!verifier_) {
    // --no-auth: take the region from an (unverified) credential scope when there is one.
    auto scope = s3::PeekScope(sr);
    if (!scope) return config_.default_region;
    IOTJOBS_RETURN_IF_ERROR(s3::CheckScopeRegion(scope->region));
    return scope->region;
  }
  auto id = verifier_->Verify(sr, wall_clock_->Now());
  if (!id.ok()) return id.status();
  // AWS IoT accepts both signing names: older botocore releases (Debian 12's AWS CLI v2 2.9.19
  // among them) and SDKs sign `iot` requests for `execute-api`.
  if (id->service != "iot" && id->service != "execute-api") {
    return Status(Code::kSignatureInvalid,
                  "Credential should be scoped to correct service: 'iot' "
                  "(this is the control-plane endpoint; got '" +
                      id->service + "')");
  }
  if (id->role == KeyRole::kDevice) {
    return Status(Code::kAccessDenied,
                  "User: access key " + id->access_key_id +
                      " is not authorized to perform control-plane actions: it is a device key "
                      "(iotjobs_role = device), limited to the jobs data plane");
  }
  return id->region;
}

std::optional<http::Response> ControlPlane::CheckHeaders(const http::Request& head) const {
  if (!verifier_) return std::nullopt;
  s3::SigV4Request sr{head.method, head.path, head.query, head.headers, {}};
  // A device's certificate alone: refused as AWS refuses a policy denial, not as a missing
  // signature (the request was authenticated, just not for this).
  if (head.peer_identity && !s3::IsSigned(sr)) {
    return Error(CertificateOnControlPlane(*head.peer_identity));
  }
  auto id = verifier_->VerifyHeaders(sr, wall_clock_->Now());
  if (id.ok()) return std::nullopt;
  Log()->debug("rejected {} {} before its body: {}", head.method, head.path, id.status().message());
  return Error(id.status());
}

http::Response ControlPlane::Handle(http::Request& req) {
  if (data_plane_) {
    // One endpoint for every SDK: both APIs share GET /things/{thing}/jobs, so the signing
    // service of the credential scope decides which one a request is for.
    auto scope = s3::PeekScope({req.method, req.path, req.query, req.headers, req.body});
    if (scope && scope->service == "iot-jobs-data") return data_plane_->Handle(req);
  }
  auto region = Authenticate(req);
  if (!region.ok()) {
    Log()->info("rejected {} {}: {}", req.method, req.path, region.status().message());
    return Error(region.status());
  }
  return Route(req, *region);
}

namespace {

// The namespaceId query parameter of the job operations (ListJobs, UpdateJob, DeleteJob,
// AssociateTargetsWithJob, DeleteJobExecution, ListJobExecutionsForThing): the model's pattern,
// checked before any lookup, on every path under /jobs and /things/{thing}/jobs (an unknown
// operation there included, as before the route table).
bool UnderJobs(const std::vector<std::string>& s) {
  return !s.empty() && (s[0] == "jobs" || (s[0] == "things" && s.size() >= 3 && s[2] == "jobs"));
}

}  // namespace

http::Response ControlPlane::Route(http::Request& req, const std::string& region) {
  static const Router router(ControlPlaneRoutes());
  auto segs = Segments(req.path);
  if (!segs.ok()) return Error(segs.status());
  if (Status q = CheckQuery(req.query); !q.ok()) return Error(q);
  if (UnderJobs(*segs)) {
    if (auto ns = NameParam(req.query, "namespaceId", 1, std::string::npos, "_-"); !ns.ok()) {
      return Error(ns.status());
    }
  }
  auto match = router.Find(req.method, *segs);
  if (!match) return UnknownOperation(req);
  return match->route->handler(Call{req, region, services_, clock_, match->labels});
}

namespace {

// --- Job templates ---

http::Response ListJobTemplates(const Call& c) {
  auto& templates = *c.svc.templates;
  auto max = MaxResults(c.req.query);
  if (!max.ok()) return Error(max.status());
  auto page =
      templates.ListJobTemplates(c.region, QueryParam(c.req.query, "nextToken").value_or(""), *max);
  if (!page.ok()) return Error(page.status());
  json::array items;
  for (const auto& t : page->items) {
    json::object o{{"jobTemplateArn", templates.TemplateArn(c.region, t.id)},
                   {"jobTemplateId", t.id}};
    if (t.description) o["description"] = *t.description;
    o["createdAt"] = EpochSeconds(t.created_at);
    items.push_back(std::move(o));
  }
  json::object out{{"jobTemplates", std::move(items)}};
  if (!page->next_token.empty()) out["nextToken"] = page->next_token;
  return Ok(out);
}

http::Response CreateJobTemplate(const Call& c) {
  auto& templates = *c.svc.templates;
  auto body = ParseBody(c.req);
  if (!body.ok()) return Error(body.status());
  service::CreateJobTemplateInput in;
  in.region = c.region;
  in.id = c.Label("jobTemplateId");
  Status st = OptString(*body, "description", &in.description);
  if (st.ok()) st = OptString(*body, "document", &in.document);
  if (st.ok()) st = OptString(*body, "documentSource", &in.document_source);
  if (st.ok()) st = OptString(*body, "jobArn", &in.job_arn);
  if (st.ok()) st = codec::DecodeConfigs(*body, &in.configs);
  if (st.ok()) {
    if (auto it = body->find("tags"); it != body->end() && !it->value().is_null()) {
      st = codec::DecodeTags(it->value(), "tags", &in.tags);
    }
  }
  if (!st.ok()) return Error(st);
  const std::string id = in.id;
  auto created = templates.CreateJobTemplate(std::move(in));
  if (!created.ok()) {
    return CreateError(created.status(), id, templates.TemplateArn(c.region, id));
  }
  return Ok({{"jobTemplateArn", created->arn}, {"jobTemplateId", created->id}});
}

http::Response DescribeJobTemplate(const Call& c) {
  auto& templates = *c.svc.templates;
  auto t = templates.DescribeJobTemplate(c.region, c.Label("jobTemplateId"));
  if (!t.ok()) return Error(t.status());
  return Ok(TemplateToJson(*t, templates.TemplateArn(c.region, t->id)));
}

http::Response DeleteJobTemplate(const Call& c) {
  Status st = c.svc.templates->DeleteJobTemplate(c.region, c.Label("jobTemplateId"));
  return st.ok() ? OkEmpty() : Error(st);
}

// --- Tags ---

http::Response TagResource(const Call& c) {
  auto body = ParseBody(c.req);
  if (!body.ok()) return Error(body.status());
  std::optional<std::string> arn;
  Status st = OptString(*body, "resourceArn", &arn);
  if (st.ok() && !arn) st = Status::InvalidRequest("resourceArn is required");
  std::vector<jobs::Tag> tags;
  if (st.ok()) {
    auto it = body->find("tags");
    st = it == body->end() ? Status::InvalidRequest("tags is required")
                           : codec::DecodeTags(it->value(), "tags", &tags);
  }
  if (st.ok()) st = c.svc.templates->TagResource(c.region, *arn, tags);
  return st.ok() ? OkEmpty() : Error(st);
}

http::Response UntagResource(const Call& c) {
  auto body = ParseBody(c.req);
  if (!body.ok()) return Error(body.status());
  std::optional<std::string> arn;
  Status st = OptString(*body, "resourceArn", &arn);
  if (st.ok() && !arn) st = Status::InvalidRequest("resourceArn is required");
  std::vector<std::string> keys;
  if (st.ok()) {
    auto it = body->find("tagKeys");
    if (it == body->end() || !it->value().is_array()) {
      st = Status::InvalidRequest("tagKeys is required and must be a list of strings");
    } else {
      for (const auto& k : it->value().get_array()) {
        if (!k.is_string()) {
          st = Status::InvalidRequest("tagKeys must be a list of strings");
          break;
        }
        keys.emplace_back(k.get_string());
      }
    }
  }
  if (st.ok()) st = c.svc.templates->UntagResource(c.region, *arn, keys);
  return st.ok() ? OkEmpty() : Error(st);
}

http::Response ListTagsForResource(const Call& c) {
  auto arn = QueryParam(c.req.query, "resourceArn");
  if (!arn) return Error(Status::InvalidRequest("resourceArn is required"));
  auto page = c.svc.templates->ListTagsForResource(
      c.region, *arn, QueryParam(c.req.query, "nextToken").value_or(""));
  if (!page.ok()) return Error(page.status());
  json::object out{{"tags", codec::EncodeTags(page->items)}};
  if (!page->next_token.empty()) out["nextToken"] = page->next_token;
  return Ok(out);
}

// --- Event configurations ---

http::Response UpdateEventConfigurations(const Call& c) {
  auto body = ParseBody(c.req);
  if (!body.ok()) return Error(body.status());
  std::map<std::string, bool> changes;
  if (auto it = body->find("eventConfigurations"); it != body->end() && !it->value().is_null()) {
    if (!it->value().is_object()) {
      return Error(Status::InvalidRequest("eventConfigurations must be a map"));
    }
    for (const auto& [type, conf] : it->value().get_object()) {
      bool enabled = false;
      if (!conf.is_object()) {
        return Error(Status::InvalidRequest("eventConfigurations." + std::string(type) +
                                            " must be an object {\"Enabled\": bool}"));
      }
      if (Status st = codec::OptBool(conf.get_object(), "Enabled", &enabled); !st.ok()) {
        return Error(st);
      }
      changes[std::string(type)] = enabled;
    }
  }
  Status st = c.svc.jobs->UpdateEventConfigurations(c.region, changes);
  return st.ok() ? OkEmpty() : Error(st);
}

http::Response DescribeEventConfigurations(const Call& c) {
  auto conf = c.svc.jobs->DescribeEventConfigurations(c.region);
  if (!conf.ok()) return Error(conf.status());
  json::object configs;
  for (const auto& [type, enabled] : conf->enabled) {
    configs[type] = json::object{{"Enabled", enabled}};
  }
  json::object out{{"eventConfigurations", std::move(configs)}};
  if (conf->created_at) out["creationDate"] = EpochSeconds(*conf->created_at);
  if (conf->updated_at) out["lastModifiedDate"] = EpochSeconds(*conf->updated_at);
  return Ok(out);
}

}  // namespace

std::vector<Route> TemplateRoutes() {
  return {
      {"GET", "/job-templates", "ListJobTemplates", ListJobTemplates},
      {"PUT", "/job-templates/{jobTemplateId}", "CreateJobTemplate", CreateJobTemplate},
      {"GET", "/job-templates/{jobTemplateId}", "DescribeJobTemplate", DescribeJobTemplate},
      {"DELETE", "/job-templates/{jobTemplateId}", "DeleteJobTemplate", DeleteJobTemplate},
      {"POST", "/tags", "TagResource", TagResource},
      {"POST", "/untag", "UntagResource", UntagResource},
      {"GET", "/tags", "ListTagsForResource", ListTagsForResource},
      {"PATCH", "/event-configurations", "UpdateEventConfigurations", UpdateEventConfigurations},
      {"GET", "/event-configurations", "DescribeEventConfigurations", DescribeEventConfigurations},
  };
}

}  // namespace iotjobs::api
