// Helpers shared by the REST bindings: path segments, query parameters, JSON bodies, responses.
// Internal to api/.
#pragma once

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/errors.h"
#include "common/clock.h"
#include "common/status.h"
#include "http/server.h"

namespace iotjobs::api {

// Splits a raw path into percent-decoded segments. InvalidRequest saying what is wrong: a target
// that is not an absolute path (e.g. "*" or "http://host/x"), or a malformed %-escape (quoted).
Result<std::vector<std::string>> Segments(std::string_view path);
// InvalidRequest when a query parameter's name or value has a malformed %-escape, naming the
// parameter and quoting the escape (e.g. "query parameter maxResults has a malformed %-escape
// '%ZZ'; escapes are % and two hex digits"). Routes call it before reading any parameter, since
// QueryParam cannot tell a malformed value from an empty one.
Status CheckQuery(std::string_view query);
// The decoded value of query parameter `name`, if present.
std::optional<std::string> QueryParam(std::string_view query, std::string_view name);
// An integer query parameter (0 when absent); InvalidRequest when not an integer.
Result<int64_t> IntParam(std::string_view query, std::string_view name);
// A boolean query parameter ("true"/"false"); InvalidRequest otherwise.
Result<std::optional<bool>> BoolParam(std::string_view query, std::string_view name);
// A string query parameter with the model's length and pattern: absent → nullopt; present →
// `min`..`max` characters of [a-zA-Z0-9] and `allowed`, else InvalidRequest naming it (an empty
// value is refused, not taken for an absent one).
Result<std::optional<std::string>> NameParam(std::string_view query, std::string_view name,
                                             size_t min, size_t max, std::string_view allowed);
// maxResults: absent → 0 (the service's default), present → 1..250 or InvalidRequest.
Result<int> MaxResults(std::string_view query);
// The JSON object body ({} when empty); InvalidRequest when not a JSON object, deeper than 32 or
// with more than kMaxBodyJsonValues values.
inline constexpr size_t kMaxBodyJsonValues = 10000;
Result<boost::json::object> ParseBody(const http::Request& req);
Status OptString(const boost::json::object& o, const char* field, std::optional<std::string>* out);

double EpochSeconds(Instant t);
http::Response Ok(const boost::json::object& body);
http::Response OkEmpty();
inline http::Response Error(const Status& st) { return ErrorResponse(st, Plane::kControl); }
// The error of a create call: when it clashed with an existing resource, ConflictException
// carries resourceId and ResourceAlreadyExistsException resourceId and resourceArn (their
// modeled members); any other error is returned as Error() does.
http::Response CreateError(const Status& st, const std::string& id, const std::string& arn);

}  // namespace iotjobs::api
