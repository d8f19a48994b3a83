#include "jobs/job_template.h"

namespace iotjobs::jobs {

std::string JobTemplateArn(const std::string& region, const std::string& account,
                           const std::string& id) {
  return "arn:aws:iot:" + region + ":" + account + ":jobtemplate/" + id;
}

}  // namespace iotjobs::jobs
