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

// Splits a raw path into percent-decoded segments; nullopt on a malformed escape.
std::optional<std::vector<std::string>> Segments(std::string_view path);
// The decoded value of query parameter `name`, if present.
std::optional<std::string> QueryParam(std::string_view query, std::string_view name);
// An integer query parameter (0 when absent); InvalidRequest when not an integer.
Result<int64_t> IntParam(std::string_view query, std::string_view name);
// A boolean query parameter ("true"/"false"); InvalidRequest otherwise.
Result<std::optional<bool>> BoolParam(std::string_view query, std::string_view name);
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
