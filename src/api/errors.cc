#include "api/errors.h"

#include <boost/json.hpp>

#include "common/text.h"

namespace iotjobs::api {

WireError ToWireError(Code code, Plane plane) {
  switch (code) {
    case Code::kOk:
      return {200, ""};
    case Code::kInvalidRequest:
      return {400, "InvalidRequestException"};
    case Code::kNotFound:
      return {404, "ResourceNotFoundException"};
    case Code::kConflict:
      return {409, "ConflictException"};
    case Code::kAlreadyExists:
      return {409, "ResourceAlreadyExistsException"};
    case Code::kVersionConflict:
      return {409, "VersionConflictException"};
    case Code::kInvalidStateTransition:
      return {409, "InvalidStateTransitionException"};
    case Code::kLimitExceeded:
      return {410, "LimitExceededException"};
    case Code::kUnauthorized:
      return {401, "UnauthorizedException"};
    case Code::kMissingAuth:
      return {403, "MissingAuthenticationTokenException"};
    case Code::kUnknownClient:
      return {403, "UnrecognizedClientException"};
    case Code::kSignatureInvalid:
      return {403, "InvalidSignatureException"};
    // Neither model declares it; AWS answers an IAM or IoT policy denial with this shape.
    case Code::kAccessDenied:
      return {403, "AccessDeniedException"};
    // The control plane models throttling as 400, the jobs data plane as 429.
    case Code::kThrottled:
      return {plane == Plane::kControl ? 400 : 429, "ThrottlingException"};
    case Code::kUnavailable:
      return {503, "ServiceUnavailableException"};
    case Code::kInternal:
      return {500,
              plane == Plane::kControl ? "InternalFailureException" : "InternalServerException"};
  }
  return {500, "InternalFailureException"};
}

http::Response ErrorResponse(const Status& status, Plane plane) {
  WireError w = ToWireError(status.code(), plane);
  http::Response r;
  r.status = w.http_status;
  r.headers.emplace_back("x-amzn-ErrorType", w.type);
  r.body = boost::json::serialize(
      boost::json::object{{"message", ToValidUtf8(status.message())}, {"__type", w.type}});
  return r;
}

http::Response UnknownOperation(const http::Request& req) {
  http::Response r;
  r.status = 404;
  r.headers.emplace_back("x-amzn-ErrorType", "UnknownOperationException");
  r.body = boost::json::serialize(boost::json::object{
      {"message",
       "no operation serves " + Utf8Excerpt(req.method, 16) + " " + Utf8Excerpt(req.path, 256)},
      {"__type", "UnknownOperationException"}});
  return r;
}

}  // namespace iotjobs::api
