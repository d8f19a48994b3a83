// JobTemplate: a reusable job definition (document + configurations), scoped to a region.
#pragma once

#include <optional>
#include <string>

#include "common/clock.h"
#include "jobs/configs.h"

namespace iotjobs::jobs {

struct JobTemplate {
  std::string region;
  std::string id;  // jobTemplateId, [a-zA-Z0-9_-]{1,64}
  std::optional<std::string> description;
  // Exactly one of document / document_source is set. For document_source, `document` holds the
  // text fetched at creation (kept so later changes to the object do not affect the template) and
  // `document_source` the URL as given.
  std::optional<std::string> document;
  std::optional<std::string> document_source;
  JobConfigs configs;
  Instant created_at{};
  bool operator==(const JobTemplate&) const = default;
};

// arn:aws:iot:<region>:<account>:jobtemplate/<id>
std::string JobTemplateArn(const std::string& region, const std::string& account,
                           const std::string& id);

}  // namespace iotjobs::jobs
