// The JSON form of domain values, with AWS's member names (jobExecutionsRolloutConfig, ...).
//
// One codec serves two readers: api/ puts these objects on the wire, and store/ persists configs in
// the same form, so a stored config is returned exactly as it was accepted. Decoding is strict
// about types (a string where a number belongs fails with a message naming the field) and ignores
// unknown members, as restJson1 asks.
#pragma once

#include <boost/json/fwd.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "jobs/configs.h"

namespace iotjobs::codec {

// Decodes the config members present in `obj` (a CreateJobTemplate / CreateJob body) into `out`.
// Members absent from `obj` leave `out` untouched.
Status DecodeConfigs(const boost::json::object& obj, jobs::JobConfigs* out);
// Writes every present config of `c` into `obj` under its AWS member name.
void EncodeConfigs(const jobs::JobConfigs& c, boost::json::object* obj);

// Whole-object text round trip used by the store.
std::string ConfigsToJson(const jobs::JobConfigs& c);
Result<jobs::JobConfigs> ConfigsFromJson(const std::string& text);

// [{"Key":..,"Value":..}] <-> tags.
Status DecodeTags(const boost::json::value& v, const std::string& field,
                  std::vector<jobs::Tag>* out);
boost::json::array EncodeTags(const std::vector<jobs::Tag>& tags);

// Typed member access with field-naming errors. `found` is false when the member is absent or null.
Status GetString(const boost::json::object& o, const std::string& field, const std::string& path,
                 std::string* out, bool* found);
// A boolean member into `out`, left as it was when absent or null (api/ and device/ requests).
Status OptBool(const boost::json::object& o, const std::string& field, bool* out);
Status GetInt64(const boost::json::object& o, const std::string& field, const std::string& path,
                int64_t* out, bool* found);
Status GetDouble(const boost::json::object& o, const std::string& field, const std::string& path,
                 double* out, bool* found);

}  // namespace iotjobs::codec

namespace iotjobs::codec {
// InvalidRequest unless `text` is a JSON object (a job document must be one), naming `field`.
Status ValidateJsonDocument(const std::string& field, std::string_view text);
}  // namespace iotjobs::codec
