// JSON forms of jobs: the schedulingConfig wire object, and the job "spec" (everything of a job
// but its status and counters) that the store persists in one column.
#pragma once

#include <boost/json/fwd.hpp>
#include <map>
#include <optional>
#include <string>

#include "common/status.h"
#include "jobs/job.h"

namespace iotjobs::codec {

// body.schedulingConfig → *out (untouched when absent).
Status DecodeSchedulingConfig(const boost::json::object& body,
                              std::optional<jobs::SchedulingConfig>* out);
boost::json::object EncodeSchedulingConfig(const jobs::SchedulingConfig& c);

// A map of strings (documentParameters, statusDetails): body[field] → *out.
Status DecodeStringMap(const boost::json::object& body, const std::string& field,
                       std::map<std::string, std::string>* out, bool* found);
boost::json::object EncodeStringMap(const std::map<std::string, std::string>& m);

std::string JobSpecToJson(const jobs::Job& j);
// Fills the spec members of *j from `text`.
Status JobSpecFromJson(const std::string& text, jobs::Job* j);

std::string StringMapToJson(const std::map<std::string, std::string>& m);
Result<std::map<std::string, std::string>> StringMapFromJson(const std::string& text);

}  // namespace iotjobs::codec
