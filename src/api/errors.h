// The one place where a Status becomes an HTTP error on the AWS restJson1 wire: status code,
// `x-amzn-ErrorType: <Shape>` and `{"message": ...}` (spec §0.1), so each SDK raises the modeled
// exception class.
#pragma once

#include "common/status.h"
#include "http/server.h"

namespace iotjobs::api {

enum class Plane { kControl, kJobsData };

struct WireError {
  int http_status;
  const char* type;  // x-amzn-ErrorType
};

// Status code -> (HTTP status, error shape) for `plane`.
WireError ToWireError(Code code, Plane plane);
// A complete error response for `status` (which must not be OK). The message is made valid UTF-8
// (ToValidUtf8) whatever it quotes, so every SDK can decode the answer.
http::Response ErrorResponse(const Status& status, Plane plane);
// 404 UnknownOperationException for a method/path no operation serves.
http::Response UnknownOperation(const http::Request& req);

}  // namespace iotjobs::api
