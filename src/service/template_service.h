// TemplateService: the job-template use cases (CreateJobTemplate, DescribeJobTemplate,
// ListJobTemplates, DeleteJobTemplate) and resource tagging, independent of any wire format.
//
// Thread-safe; methods block (store, S3) and run on worker threads. Resources are scoped by region:
// the caller passes the region of the request (its SigV4 scope).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "jobs/configs.h"
#include "jobs/job_template.h"
#include "s3/s3_client.h"
#include "store/store.h"

namespace iotjobs::service {

struct ServiceConfig {
  std::string account_id = "123456789012";  // goes into every ARN
  std::string s3_endpoint;                  // for documentSource URLs on the endpoint itself
  int max_tags = 50;                        // per resource (AWS's general limit)
  // iotjobsd --max-rollout-per-minute: a template's maximumPerMinute is bounded as a job's is
  // (JobLimits), so CreateJobTemplate and CreateJob accept the same configs.
  int64_t max_rollout_per_minute = 1000;
};

struct CreateJobTemplateInput {
  std::string region;
  std::string id;
  std::optional<std::string> description;
  std::optional<std::string> document;
  std::optional<std::string> document_source;
  std::optional<std::string> job_arn;
  jobs::JobConfigs configs;
  std::vector<jobs::Tag> tags;
};

struct CreatedResource {
  std::string arn;
  std::string id;
};

template <typename T>
struct ListPage {
  std::vector<T> items;
  std::string next_token;  // empty when this is the last page
};

class TemplateService {
 public:
  TemplateService(ServiceConfig config, store::Store* store, s3::DocumentSource* documents,
                  const Clock* clock)
      : config_(std::move(config)), store_(store), documents_(documents), clock_(clock) {}

  // Errors: InvalidRequest (validation, document source), Conflict (id taken), NotFound (jobArn).
  Result<CreatedResource> CreateJobTemplate(CreateJobTemplateInput in);
  Result<jobs::JobTemplate> DescribeJobTemplate(const std::string& region, const std::string& id);
  // max_results 1..250 (default 50 when 0); next_token from the previous page or empty.
  Result<ListPage<jobs::JobTemplate>> ListJobTemplates(const std::string& region,
                                                       const std::string& next_token,
                                                       int max_results);
  Status DeleteJobTemplate(const std::string& region, const std::string& id);

  // Tagging acts on resources of the caller's `region` only: an ARN of another region is
  // NotFound, as the caller cannot see that region's resources.
  Status TagResource(const std::string& region, const std::string& arn,
                     const std::vector<jobs::Tag>& tags);
  Status UntagResource(const std::string& region, const std::string& arn,
                       const std::vector<std::string>& keys);
  Result<ListPage<jobs::Tag>> ListTagsForResource(const std::string& region, const std::string& arn,
                                                  const std::string& next_token);

  std::string TemplateArn(const std::string& region, const std::string& id) const {
    return jobs::JobTemplateArn(region, config_.account_id, id);
  }

 private:
  // Checks that `arn` names an existing taggable resource of this account.
  Status CheckTaggable(const std::string& region, const std::string& arn);

  ServiceConfig config_;
  store::Store* store_;
  s3::DocumentSource* documents_;
  const Clock* clock_;
};

// The document of a job or template: `document` checked as given, or the text behind
// `document_source` fetched now (and checked), so later changes to the object do not matter.
// Exactly one of the two must be set.
Result<std::string> ResolveDocument(const std::optional<std::string>& document,
                                    const std::optional<std::string>& document_source,
                                    const std::string& s3_endpoint, s3::DocumentSource* documents);

// Opaque pagination tokens: base64url of a versioned cursor. Decode fails with InvalidRequest.
std::string EncodePageToken(const std::string& after);
Result<std::string> DecodePageToken(const std::string& token);

}  // namespace iotjobs::service
