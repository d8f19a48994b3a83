#include "codec/job_codec.h"

#include <boost/json.hpp>

#include "codec/json_codec.h"
#include "codec/parse_json.h"

namespace iotjobs::codec {
namespace json = boost::json;
namespace {

void PutOpt(json::object& o, const char* k, const std::optional<std::string>& v) {
  if (v) o[k] = *v;
}

Status GetOpt(const json::object& o, const char* k, const std::string& path,
              std::optional<std::string>* out) {
  std::string s;
  bool found;
  IOTJOBS_RETURN_IF_ERROR(GetString(o, k, path, &s, &found));
  if (found) *out = std::move(s);
  return Status::Ok();
}

}  // namespace

Status DecodeSchedulingConfig(const json::object& body,
                              std::optional<jobs::SchedulingConfig>* out) {
  auto it = body.find("schedulingConfig");
  if (it == body.end() || it->value().is_null()) return Status::Ok();
  if (!it->value().is_object()) return Status::InvalidRequest("schedulingConfig must be an object");
  const json::object& o = it->value().get_object();
  jobs::SchedulingConfig c;
  IOTJOBS_RETURN_IF_ERROR(GetOpt(o, "startTime", "schedulingConfig", &c.start_time));
  IOTJOBS_RETURN_IF_ERROR(GetOpt(o, "endTime", "schedulingConfig", &c.end_time));
  IOTJOBS_RETURN_IF_ERROR(GetOpt(o, "endBehavior", "schedulingConfig", &c.end_behavior));
  // maintenanceWindows has the same shape as a template's top-level member.
  jobs::JobConfigs windows;
  IOTJOBS_RETURN_IF_ERROR(DecodeConfigs(
      json::object{{"maintenanceWindows",
                    o.contains("maintenanceWindows") ? o.at("maintenanceWindows") : json::value()}},
      &windows));
  c.maintenance_windows = windows.maintenance_windows;
  *out = std::move(c);
  return Status::Ok();
}

json::object EncodeSchedulingConfig(const jobs::SchedulingConfig& c) {
  json::object o;
  PutOpt(o, "startTime", c.start_time);
  PutOpt(o, "endTime", c.end_time);
  PutOpt(o, "endBehavior", c.end_behavior);
  if (c.maintenance_windows) {
    jobs::JobConfigs w;
    w.maintenance_windows = c.maintenance_windows;
    EncodeConfigs(w, &o);
  }
  return o;
}

Status DecodeStringMap(const json::object& body, const std::string& field,
                       std::map<std::string, std::string>* out, bool* found) {
  *found = false;
  auto it = body.find(field);
  if (it == body.end() || it->value().is_null()) return Status::Ok();
  if (!it->value().is_object()) return Status::InvalidRequest(field + " must be a map of strings");
  out->clear();
  for (const auto& [k, v] : it->value().get_object()) {
    if (!v.is_string()) {
      return Status::InvalidRequest(field + "." + std::string(k) + " must be a string");
    }
    out->emplace(std::string(k), std::string(v.get_string()));
  }
  *found = true;
  return Status::Ok();
}

json::object EncodeStringMap(const std::map<std::string, std::string>& m) {
  json::object o;
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}

std::string JobSpecToJson(const jobs::Job& j) {
  json::object o;
  PutOpt(o, "description", j.description);
  PutOpt(o, "document", j.document);
  PutOpt(o, "documentSource", j.document_source);
  json::array targets;
  for (const auto& t : j.targets) targets.push_back(json::string(t));
  o["targets"] = std::move(targets);
  EncodeConfigs(j.configs, &o);
  if (j.scheduling_config) o["schedulingConfig"] = EncodeSchedulingConfig(*j.scheduling_config);
  PutOpt(o, "jobTemplateArn", j.job_template_arn);
  PutOpt(o, "namespaceId", j.namespace_id);
  if (!j.document_parameters.empty())
    o["documentParameters"] = EncodeStringMap(j.document_parameters);
  PutOpt(o, "reasonCode", j.reason_code);
  PutOpt(o, "comment", j.comment);
  if (j.force_canceled) o["forceCanceled"] = true;
  return json::serialize(o);
}

Status JobSpecFromJson(const std::string& text, jobs::Job* j) {
  boost::system::error_code ec;
  json::value v = ParseJson(text, ec);
  if (ec || !v.is_object()) return Status::Internal("stored job spec is not a JSON object");
  const json::object& o = v.get_object();
  IOTJOBS_RETURN_IF_ERROR(GetOpt(o, "description", "", &j->description));
  IOTJOBS_RETURN_IF_ERROR(GetOpt(o, "document", "", &j->document));
  IOTJOBS_RETURN_IF_ERROR(GetOpt(o, "documentSource", "", &j->document_source));
  j->targets.clear();
  if (auto it = o.find("targets"); it != o.end() && it->value().is_array()) {
    for (const auto& t : it->value().get_array()) {
      if (t.is_string()) j->targets.emplace_back(t.get_string());
    }
  }
  IOTJOBS_RETURN_IF_ERROR(DecodeConfigs(o, &j->configs));
  IOTJOBS_RETURN_IF_ERROR(DecodeSchedulingConfig(o, &j->scheduling_config));
  IOTJOBS_RETURN_IF_ERROR(GetOpt(o, "jobTemplateArn", "", &j->job_template_arn));
  IOTJOBS_RETURN_IF_ERROR(GetOpt(o, "namespaceId", "", &j->namespace_id));
  bool found;
  IOTJOBS_RETURN_IF_ERROR(
      DecodeStringMap(o, "documentParameters", &j->document_parameters, &found));
  IOTJOBS_RETURN_IF_ERROR(GetOpt(o, "reasonCode", "", &j->reason_code));
  IOTJOBS_RETURN_IF_ERROR(GetOpt(o, "comment", "", &j->comment));
  auto f = o.find("forceCanceled");
  j->force_canceled = f != o.end() && f->value().is_bool() && f->value().get_bool();
  return Status::Ok();
}

std::string StringMapToJson(const std::map<std::string, std::string>& m) {
  return json::serialize(EncodeStringMap(m));
}

Result<std::map<std::string, std::string>> StringMapFromJson(const std::string& text) {
  boost::system::error_code ec;
  json::value v = ParseJson(text, ec);
  if (ec || !v.is_object()) return Status::Internal("stored map is not a JSON object");
  std::map<std::string, std::string> out;
  bool found;
  IOTJOBS_RETURN_IF_ERROR(DecodeStringMap(json::object{{"m", v}}, "m", &out, &found));
  return out;
}

}  // namespace iotjobs::codec
