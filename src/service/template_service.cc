#include "service/template_service.h"

#include "codec/json_codec.h"
#include "common/logging.h"
#include "common/text.h"
#include "jobs/validation.h"

namespace iotjobs::service {
namespace {

constexpr std::string_view kTokenPrefix = "v1:";

std::shared_ptr<spdlog::logger> Log() {
  static auto l = Logger("service");
  return l;
}

struct ParsedArn {
  std::string region, account, type, id;
};

// arn:aws:iot:<region>:<account>:<type>/<id>
std::optional<ParsedArn> ParseIotArn(const std::string& arn) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (int i = 0; i < 5; ++i) {
    size_t c = arn.find(':', start);
    if (c == std::string::npos) return std::nullopt;
    parts.push_back(arn.substr(start, c - start));
    start = c + 1;
  }
  std::string resource = arn.substr(start);
  size_t slash = resource.find('/');
  if (parts[0] != "arn" || parts[2] != "iot" || slash == std::string::npos) return std::nullopt;
  return ParsedArn{parts[3], parts[4], resource.substr(0, slash), resource.substr(slash + 1)};
}

}  // namespace

Result<std::string> ResolveDocument(const std::optional<std::string>& document,
                                    const std::optional<std::string>& document_source,
                                    const std::string& s3_endpoint, s3::DocumentSource* documents) {
  if (document) {
    IOTJOBS_RETURN_IF_ERROR(jobs::ValidateDocument(*document));
    IOTJOBS_RETURN_IF_ERROR(codec::ValidateJsonDocument("document", *document));
    return *document;
  }
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateDocumentSource(*document_source));
  auto loc = s3::ParseS3Url(*document_source, s3_endpoint);
  if (!loc.ok()) return loc.status();
  auto text = documents->Fetch(*loc);
  if (!text.ok()) return text.status();
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateDocument(*text));
  IOTJOBS_RETURN_IF_ERROR(
      codec::ValidateJsonDocument("the document at documentSource " + *document_source, *text));
  return std::move(text).value();
}

std::string EncodePageToken(const std::string& after) {
  return Base64UrlEncode(std::string(kTokenPrefix) + after);
}

Result<std::string> DecodePageToken(const std::string& token) {
  if (token.empty()) return std::string();
  auto raw = Base64UrlDecode(token);
  if (!raw || raw->substr(0, kTokenPrefix.size()) != kTokenPrefix) {
    return Status::InvalidRequest("nextToken is invalid: pass the nextToken of a previous page");
  }
  return raw->substr(kTokenPrefix.size());
}

Result<CreatedResource> TemplateService::CreateJobTemplate(CreateJobTemplateInput in) {
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateId("jobTemplateId", in.id));
  if (in.description)
    IOTJOBS_RETURN_IF_ERROR(jobs::ValidateDescription("description", *in.description));
  int sources = (in.document ? 1 : 0) + (in.document_source ? 1 : 0) + (in.job_arn ? 1 : 0);
  if (sources != 1) {
    return Status::InvalidRequest(
        sources == 0 ? "a job template needs exactly one of document, documentSource or jobArn; "
                       "none was given"
                     : "a job template takes exactly one of document, documentSource or jobArn; " +
                           std::to_string(sources) + " were given");
  }
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateConfigs(in.configs, config_.max_rollout_per_minute));
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateTags("tags", in.tags));

  if (in.job_arn) {
    // Copy the job's document and configs; configs given in the request override the copy.
    const std::string prefix = "arn:aws:iot:" + in.region + ":" + config_.account_id + ":job/";
    if (in.job_arn->rfind(prefix, 0) != 0) {
      return Status::InvalidRequest("jobArn '" + *in.job_arn + "' must be a job ARN of " + prefix +
                                    "<jobId>");
    }
    auto job = store_->GetJob(in.region, in.job_arn->substr(prefix.size()));
    if (!job.ok()) return job.status();
    in.document = job->document;
    in.document_source = job->document_source;
    if (!in.description) in.description = job->description;
    auto inherit = [](auto* mine, const auto& from_job) {
      if (!*mine) *mine = from_job;
    };
    const auto& c = job->configs;
    inherit(&in.configs.presigned_url_config, c.presigned_url_config);
    inherit(&in.configs.rollout_config, c.rollout_config);
    inherit(&in.configs.abort_config, c.abort_config);
    inherit(&in.configs.timeout_config, c.timeout_config);
    inherit(&in.configs.retry_config, c.retry_config);
    inherit(&in.configs.destination_package_versions, c.destination_package_versions);
    if (job->scheduling_config) {
      inherit(&in.configs.maintenance_windows, job->scheduling_config->maintenance_windows);
    }
    IOTJOBS_RETURN_IF_ERROR(jobs::ValidateConfigs(in.configs, INT64_MAX));
  } else {
    auto text = ResolveDocument(in.document, in.document_source, config_.s3_endpoint, documents_);
    if (!text.ok()) return text.status();
    in.document = std::move(text).value();
    IOTJOBS_RETURN_IF_ERROR(jobs::ValidateSubstitutions(*in.document));
  }

  jobs::JobTemplate t;
  t.region = in.region;
  t.id = in.id;
  t.description = std::move(in.description);
  t.document = std::move(in.document);
  t.document_source = std::move(in.document_source);
  t.configs = std::move(in.configs);
  t.created_at = clock_->Now();
  const std::string arn = TemplateArn(in.region, in.id);
  Status st = store_->CreateJobTemplate(t, arn, in.tags);
  if (st.code() == Code::kConflict) {
    return Status::Conflict("a job template with id " + in.id + " already exists");
  }
  IOTJOBS_RETURN_IF_ERROR(st);
  Log()->debug("created template={} region={}", in.id, in.region);
  return CreatedResource{arn, in.id};
}

Result<jobs::JobTemplate> TemplateService::DescribeJobTemplate(const std::string& region,
                                                               const std::string& id) {
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateId("jobTemplateId", id));
  return store_->GetJobTemplate(region, id);
}

Result<ListPage<jobs::JobTemplate>> TemplateService::ListJobTemplates(const std::string& region,
                                                                      const std::string& next_token,
                                                                      int max_results) {
  if (max_results == 0) max_results = 50;
  if (max_results < 1 || max_results > 250) {
    return Status::InvalidRequest("maxResults must be between 1 and 250, got " +
                                  std::to_string(max_results));
  }
  auto after = DecodePageToken(next_token);
  if (!after.ok()) return after.status();
  auto page = store_->ListJobTemplates(region, *after, max_results);
  if (!page.ok()) return page.status();
  ListPage<jobs::JobTemplate> out;
  out.items = std::move(page->items);
  if (!page->next_after.empty()) out.next_token = EncodePageToken(page->next_after);
  return out;
}

Status TemplateService::DeleteJobTemplate(const std::string& region, const std::string& id) {
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateId("jobTemplateId", id));
  return store_->DeleteJobTemplate(region, id, TemplateArn(region, id));
}

Status TemplateService::CheckTaggable(const std::string& region, const std::string& arn) {
  auto p = ParseIotArn(arn);
  if (!p) return Status::InvalidRequest("resourceArn '" + arn + "' is not an AWS IoT ARN");
  if (p->region != region) {
    return Status::NotFound("resource " + arn + " does not exist in region " + region);
  }
  if (p->account != config_.account_id) {
    return Status::NotFound("resource " + arn + " does not exist in account " + config_.account_id);
  }
  if (p->type == "jobtemplate") {
    auto t = store_->GetJobTemplate(p->region, p->id);
    return t.ok() ? Status::Ok() : t.status();
  }
  if (p->type == "thinggroup") {
    auto g = store_->GetThingGroup(p->region, p->id);
    return g.ok() ? Status::Ok() : g.status();
  }
  if (p->type == "thing") {
    auto t = store_->GetThing(p->region, p->id);
    return t.ok() ? Status::Ok() : t.status();
  }
  if (p->type == "job") {
    auto j = store_->GetJob(p->region, p->id);
    if (j.ok() && j->status == jobs::kJobDeletionInProgress) {
      return Status::NotFound("job " + p->id + " is being deleted");
    }
    return j.ok() ? Status::Ok() : j.status();
  }
  return Status::NotFound("resource " + arn + " does not exist");
}

Status TemplateService::TagResource(const std::string& region, const std::string& arn,
                                    const std::vector<jobs::Tag>& tags) {
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateTags("tags", tags));
  IOTJOBS_RETURN_IF_ERROR(CheckTaggable(region, arn));
  return store_->TagResource(arn, tags, config_.max_tags);
}

Status TemplateService::UntagResource(const std::string& region, const std::string& arn,
                                      const std::vector<std::string>& keys) {
  for (size_t i = 0; i < keys.size(); ++i) {
    IOTJOBS_RETURN_IF_ERROR(jobs::ValidateTagKey("tagKeys[" + std::to_string(i) + "]", keys[i]));
  }
  IOTJOBS_RETURN_IF_ERROR(CheckTaggable(region, arn));
  return store_->UntagResource(arn, keys);
}

Result<ListPage<jobs::Tag>> TemplateService::ListTagsForResource(const std::string& region,
                                                                 const std::string& arn,
                                                                 const std::string& next_token) {
  IOTJOBS_RETURN_IF_ERROR(CheckTaggable(region, arn));
  auto after = DecodePageToken(next_token);
  if (!after.ok()) return after.status();
  auto page = store_->ListTags(arn, *after, 250);
  if (!page.ok()) return page.status();
  ListPage<jobs::Tag> out;
  out.items = std::move(page->items);
  if (!page->next_after.empty()) out.next_token = EncodePageToken(page->next_after);
  return out;
}

}  // namespace iotjobs::service
