// Validation of identifiers and configurations against the AWS model's constraints and the tighter
// limits the service documents (spec §1.6, §6). Pure functions; messages name the field and the
// rule, e.g. "jobExecutionsRolloutConfig.maximumPerMinute must be between 1 and 1000, got 0".
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "jobs/configs.h"

namespace iotjobs::jobs {

inline constexpr size_t kMaxDocumentBytes = 32768;
inline constexpr size_t kMaxDescription = 2028;
inline constexpr size_t kMaxDocumentSource = 1350;
inline constexpr int kMaxTagsPerResource = 50;

// jobId / jobTemplateId: 1..64 of [a-zA-Z0-9_-].
Status ValidateId(std::string_view field, std::string_view id);
// description / comment: <= 2028 characters, no category-C code points.
Status ValidateDescription(std::string_view field, std::string_view text);
Status ValidateDocument(std::string_view document);
inline constexpr int kMaxSubstitutions = 10;
// Number of ${aws:iot:s3-presigned-url:...} placeholders in `document`.
int CountPresignedPlaceholders(std::string_view document);
// InvalidRequest when `document` holds more than kMaxSubstitutions placeholders. CreateJob and
// CreateJobTemplate both check it: a template holding more could never start a job.
Status ValidateSubstitutions(std::string_view document);
Status ValidateDocumentSource(std::string_view url);
// `max_rollout_per_minute` bounds maximumPerMinute: AWS's 1000 unless the operator raised it
// (iotjobsd --max-rollout-per-minute).
Status ValidateConfigs(const JobConfigs& c, int64_t max_rollout_per_minute = 1000);
// Maintenance windows (a template's `maintenanceWindows`, a job's
// `schedulingConfig.maintenanceWindows`; `field` names the list): startTime 1..256 characters that
// CronExpression::Parse accepts (the scheduler's parser: ranges, steps, both day fields, years),
// durationInMinutes 1..1430. ValidateConfigs calls it for the template member, so CreateJob and
// CreateJobTemplate refuse the same windows.
Status ValidateMaintenanceWindows(std::string_view field,
                                  const std::vector<MaintenanceWindow>& windows);
// An ARN member (jobTemplateArn, destinationPackageVersions[i]): 1..1600 characters of
// ^arn:[!-~]+$.
Status ValidateArn(std::string_view field, std::string_view arn);
// CreateJob's documentParameters: keys 1..128 of [a-zA-Z0-9_-], values 1..30720 characters
// without category-C code points.
Status ValidateDocumentParameters(const std::map<std::string, std::string>& parameters);
Status ValidateTags(std::string_view field, const std::vector<Tag>& tags);
Status ValidateTagKey(std::string_view field, std::string_view key);

}  // namespace iotjobs::jobs
