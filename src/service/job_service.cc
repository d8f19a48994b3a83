#include "service/job_service.h"

#include <algorithm>

#include "codec/json_codec.h"
#include "common/text.h"
#include "jobs/registry.h"
#include "jobs/scheduling.h"
#include "jobs/validation.h"

namespace iotjobs::service {
namespace {

// Request configs override the template's, each object wholesale (spec §4.7).
template <typename T>
void Inherit(std::optional<T>* mine, const std::optional<T>& from_template) {
  if (!*mine) *mine = from_template;
}

Status ValidateNamespace(const std::optional<std::string>& ns) {
  if (ns && (ns->empty() || !IsAlnumOr(*ns, "_-"))) {
    return Status::InvalidRequest("namespaceId must be made of [a-zA-Z0-9_-], got '" + *ns + "'");
  }
  return Status::Ok();
}

Status ValidateReasonCode(const std::optional<std::string>& code) {
  if (!code) return Status::Ok();
  bool ok = !code->empty() && code->size() <= 128;
  for (char c : *code) ok = ok && ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_');
  if (!ok) {
    return Status::InvalidRequest("reasonCode must be 1 to 128 characters of [A-Z0-9_], got '" +
                                  *code + "'");
  }
  return Status::Ok();
}

Status ValidateSchedule(const jobs::SchedulingConfig& c, Instant now, jobs::Schedule* out) {
  if (c.maintenance_windows) {
    IOTJOBS_RETURN_IF_ERROR(jobs::ValidateMaintenanceWindows("schedulingConfig.maintenanceWindows",
                                                             *c.maintenance_windows));
  }
  auto s = jobs::ParseSchedule(c);
  if (!s.ok()) return s.status();
  *out = std::move(s).value();
  return jobs::ValidateScheduleTimes(out->start, out->end, now);
}

}  // namespace

Status ValidateStatusDetails(const std::map<std::string, std::string>& details) {
  if (details.size() > 10) {
    return Status::InvalidRequest("statusDetails may have at most 10 entries, got " +
                                  std::to_string(details.size()));
  }
  for (const auto& [k, v] : details) {
    if (k.empty() || k.size() > 128 || !IsAlnumOr(k, ":_-")) {
      return Status::InvalidRequest("statusDetails key '" + Utf8Excerpt(k, 140) +
                                    "' must be 1 to 128 characters of [a-zA-Z0-9:_-]");
    }
    if (v.empty() || Utf8Length(v) > 1024 || !IsPrintableUnicode(v)) {
      return Status::InvalidRequest("statusDetails value of '" + Utf8Excerpt(k, 140) +
                                    "' must be 1 to 1024 characters without control characters");
    }
  }
  return Status::Ok();
}

std::string JobService::ThingArn(const std::string& region, const std::string& name) const {
  return jobs::ThingArn(region, config_.account_id, name);
}

std::vector<std::string> JobService::ScheduledJobRollouts(const jobs::Job& j) const {
  std::vector<std::string> out;
  if (!j.scheduling_config) return out;
  auto schedule = jobs::ParseSchedule(*j.scheduling_config);
  if (!schedule.ok()) return out;
  for (Instant t : jobs::ScheduledRollouts(*schedule, clock_->Now())) {
    out.push_back(jobs::FormatIsoUtc(t));
  }
  return out;
}

Status JobService::ValidateTargets(const std::string& region,
                                   const std::vector<std::string>& targets) {
  if (targets.empty()) return Status::InvalidRequest("targets must have at least 1 item");
  if (targets.size() > static_cast<size_t>(limits_.max_targets)) {
    return Status::LimitExceeded("a job can have at most " + std::to_string(limits_.max_targets) +
                                 " targets, got " + std::to_string(targets.size()));
  }
  const std::string prefix = "arn:aws:iot:" + region + ":" + config_.account_id + ":";
  for (size_t i = 0; i < targets.size(); ++i) {
    const std::string& t = targets[i];
    const std::string f = "targets[" + std::to_string(i) + "]";
    if (t.size() > 2048) return Status::InvalidRequest(f + " must be at most 2048 characters");
    if (t.rfind(prefix, 0) != 0) {
      return Status::InvalidRequest(f + " '" + t + "' must be a thing or thing-group ARN of " +
                                    prefix + "...");
    }
    std::string rest = t.substr(prefix.size());
    if (rest.rfind("thing/", 0) == 0) {
      IOTJOBS_RETURN_IF_ERROR(jobs::ValidateRegistryName(f + " thing name", rest.substr(6)));
    } else if (rest.rfind("thinggroup/", 0) == 0) {
      IOTJOBS_RETURN_IF_ERROR(jobs::ValidateRegistryName(f + " thing group name", rest.substr(11)));
    } else {
      return Status::InvalidRequest(f + " '" + t + "' is neither a thing nor a thing-group ARN");
    }
  }
  return Status::Ok();
}

Result<jobs::Job> JobService::CreateJob(CreateJobInput in) {
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateId("jobId", in.id));
  IOTJOBS_RETURN_IF_ERROR(ValidateTargets(in.region, in.targets));
  if (in.description)
    IOTJOBS_RETURN_IF_ERROR(jobs::ValidateDescription("description", *in.description));
  IOTJOBS_RETURN_IF_ERROR(ValidateNamespace(in.namespace_id));
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateTags("tags", in.tags));
  const std::string selection = in.target_selection.value_or("SNAPSHOT");
  if (selection != "SNAPSHOT" && selection != "CONTINUOUS") {
    return Status::InvalidRequest("targetSelection must be one of CONTINUOUS|SNAPSHOT, got '" +
                                  selection + "'");
  }
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateDocumentParameters(in.document_parameters));
  if (in.job_template_arn) {
    IOTJOBS_RETURN_IF_ERROR(jobs::ValidateArn("jobTemplateArn", *in.job_template_arn));
  }
  if (in.has_document_parameters) {
    return Status::InvalidRequest(
        "documentParameters can be used only with AWS managed job templates");
  }
  const Instant now = clock_->Now();

  jobs::Job j;
  j.region = in.region;
  j.id = in.id;
  j.target_selection = selection;
  j.targets = in.targets;
  j.namespace_id = in.namespace_id;
  j.description = in.description;
  j.configs = std::move(in.configs);
  j.created_at = j.last_updated_at = now;

  if (in.job_template_arn) {
    if (in.document || in.document_source) {
      return Status::InvalidRequest(
          "jobTemplateArn cannot be combined with document or documentSource: the template "
          "supplies the document");
    }
    const std::string prefix =
        "arn:aws:iot:" + in.region + ":" + config_.account_id + ":jobtemplate/";
    if (in.job_template_arn->rfind(prefix, 0) != 0) {
      return Status::InvalidRequest("jobTemplateArn '" + *in.job_template_arn +
                                    "' must be a job template ARN of " + prefix + "<id>");
    }
    auto t = store_->GetJobTemplate(in.region, in.job_template_arn->substr(prefix.size()));
    if (!t.ok()) return t.status();
    j.job_template_arn = in.job_template_arn;
    j.document = t->document;
    j.document_source = t->document_source;
    Inherit(&j.description, t->description);
    Inherit(&j.configs.presigned_url_config, t->configs.presigned_url_config);
    Inherit(&j.configs.rollout_config, t->configs.rollout_config);
    Inherit(&j.configs.abort_config, t->configs.abort_config);
    Inherit(&j.configs.timeout_config, t->configs.timeout_config);
    Inherit(&j.configs.retry_config, t->configs.retry_config);
    Inherit(&j.configs.maintenance_windows, t->configs.maintenance_windows);
    Inherit(&j.configs.destination_package_versions, t->configs.destination_package_versions);
  } else {
    int sources = (in.document ? 1 : 0) + (in.document_source ? 1 : 0);
    if (sources != 1) {
      return Status::InvalidRequest(
          sources == 0 ? "a job needs one of document, documentSource or jobTemplateArn"
                       : "a job takes only one of document and documentSource");
    }
    auto text = ResolveDocument(in.document, in.document_source, config_.s3_endpoint, documents_);
    if (!text.ok()) return text.status();
    j.document = std::move(text).value();
    j.document_source = std::move(in.document_source);
  }
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateConfigs(j.configs, limits_.max_rollout_per_minute));
  // A job keeps its maintenance windows inside schedulingConfig (a template keeps them at the
  // top level); the request's schedulingConfig windows win over the template's.
  if (j.configs.maintenance_windows) {
    if (!in.scheduling_config) in.scheduling_config.emplace();
    if (!in.scheduling_config->maintenance_windows) {
      in.scheduling_config->maintenance_windows = j.configs.maintenance_windows;
    }
    j.configs.maintenance_windows.reset();
  }
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateSubstitutions(*j.document));
  if (jobs::CountPresignedPlaceholders(*j.document) > 0 && !j.configs.presigned_url_config) {
    return Status::InvalidRequest(
        "the job document has ${aws:iot:s3-presigned-url:...} placeholders but no "
        "presignedUrlConfig");
  }
  if (in.scheduling_config) {
    jobs::Schedule schedule;
    IOTJOBS_RETURN_IF_ERROR(ValidateSchedule(*in.scheduling_config, now, &schedule));
    j.scheduling_config = std::move(in.scheduling_config);
    if (jobs::DecideSchedule(schedule, now).status == jobs::ScheduledStatus::kScheduled) {
      j.status = jobs::kJobScheduled;
    }
  }
  Status st = store_->CreateJob(j, JobArn(in.region, in.id), in.tags);
  if (st.code() == Code::kAlreadyExists) {
    return Status(Code::kAlreadyExists, "a job with id " + in.id + " already exists");
  }
  IOTJOBS_RETURN_IF_ERROR(st);
  Poke();
  return j;
}

Result<jobs::Job> JobService::DescribeJob(const std::string& region, const std::string& id) {
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateId("jobId", id));
  return store_->GetJob(region, id);
}

Result<ListPage<jobs::Job>> JobService::ListJobs(const std::string& region,
                                                 const jobs::JobFilter& filter,
                                                 const std::string& next_token, int max_results) {
  if (max_results == 0) max_results = 50;
  if (max_results < 1 || max_results > 250) {
    return Status::InvalidRequest("maxResults must be between 1 and 250, got " +
                                  std::to_string(max_results));
  }
  if (!filter.status.empty() && filter.status != jobs::kJobInProgress &&
      filter.status != jobs::kJobCanceled && filter.status != jobs::kJobCompleted &&
      filter.status != jobs::kJobDeletionInProgress && filter.status != jobs::kJobScheduled) {
    return Status::InvalidRequest(
        "status must be one of IN_PROGRESS|CANCELED|COMPLETED|DELETION_IN_PROGRESS|SCHEDULED, "
        "got '" +
        filter.status + "'");
  }
  if (!filter.target_selection.empty() && filter.target_selection != "SNAPSHOT" &&
      filter.target_selection != "CONTINUOUS") {
    return Status::InvalidRequest("targetSelection must be one of CONTINUOUS|SNAPSHOT, got '" +
                                  filter.target_selection + "'");
  }
  if (!filter.thing_group.empty()) {
    IOTJOBS_RETURN_IF_ERROR(jobs::ValidateRegistryName("thingGroupName", filter.thing_group));
  }
  auto after = DecodePageToken(next_token);
  if (!after.ok()) return after.status();
  auto page = store_->ListJobs(region, filter, *after, max_results);
  if (!page.ok()) return page.status();
  ListPage<jobs::Job> out;
  out.items = std::move(page->items);
  if (!page->next_after.empty()) out.next_token = EncodePageToken(page->next_after);
  return out;
}

Status JobService::UpdateJob(const UpdateJobInput& in) {
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateId("jobId", in.id));
  if (in.description)
    IOTJOBS_RETURN_IF_ERROR(jobs::ValidateDescription("description", *in.description));
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateConfigs(in.configs, limits_.max_rollout_per_minute));
  auto j = store_->GetJob(in.region, in.id);
  if (!j.ok()) return j.status();
  if (j->status == jobs::kJobDeletionInProgress) {
    return Status::InvalidRequest("job " + in.id + " is being deleted");
  }
  // Retry budgets can only shrink after creation.
  if (in.configs.retry_config) {
    for (const auto& k : in.configs.retry_config->criteria_list) {
      int32_t before = 0;
      if (j->configs.retry_config) {
        for (const auto& o : j->configs.retry_config->criteria_list) {
          if (o.failure_type == k.failure_type) before = o.number_of_retries;
        }
      }
      if (k.number_of_retries > before) {
        return Status::InvalidRequest("jobExecutionsRetryConfig: numberOfRetries for " +
                                      k.failure_type + " cannot be raised after creation (" +
                                      std::to_string(before) + " to " +
                                      std::to_string(k.number_of_retries) + ")");
      }
    }
  }
  jobs::Job u = *j;
  if (in.description) u.description = in.description;
  const auto& c = in.configs;
  if (c.presigned_url_config) u.configs.presigned_url_config = c.presigned_url_config;
  if (c.rollout_config) u.configs.rollout_config = c.rollout_config;
  if (c.abort_config) u.configs.abort_config = c.abort_config;
  if (c.timeout_config) u.configs.timeout_config = c.timeout_config;
  if (c.retry_config) u.configs.retry_config = c.retry_config;
  u.last_updated_at = clock_->Now();
  IOTJOBS_RETURN_IF_ERROR(store_->UpdateJob(u));
  Poke();  // a new rollout rate may allow more executions now
  return Status::Ok();
}

Result<jobs::Job> JobService::CancelJob(const std::string& region, const std::string& id,
                                        bool force, const std::optional<std::string>& reason_code,
                                        const std::optional<std::string>& comment) {
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateId("jobId", id));
  IOTJOBS_RETURN_IF_ERROR(ValidateReasonCode(reason_code));
  if (comment) IOTJOBS_RETURN_IF_ERROR(jobs::ValidateDescription("comment", *comment));
  IOTJOBS_RETURN_IF_ERROR(
      applier_->CancelJob(region, id, force, reason_code, comment, clock_->Now()));
  Poke();
  return store_->GetJob(region, id);
}

Status JobService::DeleteJob(const std::string& region, const std::string& id, bool force) {
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateId("jobId", id));
  IOTJOBS_RETURN_IF_ERROR(applier_->DeleteJob(region, id, JobArn(region, id), force,
                                              limits_.max_deleting, clock_->Now()));
  Poke();
  return Status::Ok();
}

Result<std::string> JobService::GetJobDocument(const std::string& region, const std::string& id) {
  auto j = DescribeJob(region, id);
  if (!j.ok()) return j.status();
  return j->document.value_or("");
}

Result<jobs::Job> JobService::AssociateTargetsWithJob(const std::string& region,
                                                      const std::string& id,
                                                      const std::vector<std::string>& targets,
                                                      const std::optional<std::string>& comment) {
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateId("jobId", id));
  IOTJOBS_RETURN_IF_ERROR(ValidateTargets(region, targets));
  if (comment) IOTJOBS_RETURN_IF_ERROR(jobs::ValidateDescription("comment", *comment));
  IOTJOBS_RETURN_IF_ERROR(
      applier_->AssociateTargets(region, id, targets, limits_.max_targets, clock_->Now()));
  Poke();
  return store_->GetJob(region, id);
}

Result<jobs::JobExecution> JobService::DescribeJobExecution(const std::string& region,
                                                            const std::string& job_id,
                                                            const std::string& thing,
                                                            std::optional<int64_t> number) {
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateId("jobId", job_id));
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateRegistryName("thingName", thing));
  return store_->GetExecution(region, job_id, thing, number);
}

Result<ListPage<jobs::JobExecution>> JobService::ListJobExecutionsForJob(
    const std::string& region, const std::string& job_id,
    std::optional<jobs::ExecutionStatus> status, const std::string& next_token, int max_results) {
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateId("jobId", job_id));
  if (max_results == 0) max_results = 50;
  if (max_results < 1 || max_results > 250) {
    return Status::InvalidRequest("maxResults must be between 1 and 250");
  }
  auto after = DecodePageToken(next_token);
  if (!after.ok()) return after.status();
  auto page = store_->ListExecutionsForJob(region, job_id, status, *after, max_results);
  if (!page.ok()) return page.status();
  ListPage<jobs::JobExecution> out;
  out.items = std::move(page->items);
  if (!page->next_after.empty()) out.next_token = EncodePageToken(page->next_after);
  return out;
}

Result<ListPage<jobs::JobExecution>> JobService::ListJobExecutionsForThing(
    const std::string& region, const std::string& thing,
    std::optional<jobs::ExecutionStatus> status, const std::string& job_id,
    const std::string& next_token, int max_results) {
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateRegistryName("thingName", thing));
  if (!job_id.empty()) IOTJOBS_RETURN_IF_ERROR(jobs::ValidateId("jobId", job_id));
  if (max_results == 0) max_results = 50;
  if (max_results < 1 || max_results > 250) {
    return Status::InvalidRequest("maxResults must be between 1 and 250");
  }
  auto after = DecodePageToken(next_token);
  if (!after.ok()) return after.status();
  auto page = store_->ListExecutionsForThing(region, thing, status, job_id, *after, max_results);
  if (!page.ok()) return page.status();
  ListPage<jobs::JobExecution> out;
  out.items = std::move(page->items);
  if (!page->next_after.empty()) out.next_token = EncodePageToken(page->next_after);
  return out;
}

Status JobService::CancelJobExecution(const std::string& region, const std::string& job_id,
                                      const std::string& thing, bool force,
                                      std::optional<int64_t> expected_version,
                                      const std::map<std::string, std::string>& status_details) {
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateId("jobId", job_id));
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateRegistryName("thingName", thing));
  IOTJOBS_RETURN_IF_ERROR(ValidateStatusDetails(status_details));
  return applier_->CancelExecution(region, job_id, thing, force, expected_version, status_details,
                                   clock_->Now());
}

Status JobService::UpdateEventConfigurations(const std::string& region,
                                             const std::map<std::string, bool>& changes) {
  static const char* const kTypes[] = {"THING",
                                       "THING_GROUP",
                                       "THING_TYPE",
                                       "THING_GROUP_MEMBERSHIP",
                                       "THING_GROUP_HIERARCHY",
                                       "THING_TYPE_ASSOCIATION",
                                       "JOB",
                                       "JOB_EXECUTION",
                                       "POLICY",
                                       "CERTIFICATE",
                                       "CA_CERTIFICATE"};
  for (const auto& [type, enabled] : changes) {
    if (std::find(std::begin(kTypes), std::end(kTypes), type) == std::end(kTypes)) {
      return Status::InvalidRequest(
          "eventConfigurations key must be one of THING|THING_GROUP|THING_TYPE|"
          "THING_GROUP_MEMBERSHIP|THING_GROUP_HIERARCHY|THING_TYPE_ASSOCIATION|JOB|"
          "JOB_EXECUTION|POLICY|CERTIFICATE|CA_CERTIFICATE, got '" +
          type + "'");
    }
  }
  return store_->UpdateEventConfigurations(region, changes, clock_->Now());
}

Result<jobs::EventConfigurations> JobService::DescribeEventConfigurations(
    const std::string& region) {
  return store_->GetEventConfigurations(region);
}

Status JobService::DeleteJobExecution(const std::string& region, const std::string& job_id,
                                      const std::string& thing, int64_t number, bool force) {
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateId("jobId", job_id));
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateRegistryName("thingName", thing));
  return applier_->DeleteExecution(region, job_id, thing, number, force, clock_->Now());
}

}  // namespace iotjobs::service
