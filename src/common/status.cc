#include "common/status.h"

namespace iotjobs {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "Ok";
    case Code::kInvalidRequest:
      return "InvalidRequest";
    case Code::kNotFound:
      return "NotFound";
    case Code::kConflict:
      return "Conflict";
    case Code::kAlreadyExists:
      return "AlreadyExists";
    case Code::kVersionConflict:
      return "VersionConflict";
    case Code::kInvalidStateTransition:
      return "InvalidStateTransition";
    case Code::kLimitExceeded:
      return "LimitExceeded";
    case Code::kUnauthorized:
      return "Unauthorized";
    case Code::kMissingAuth:
      return "MissingAuth";
    case Code::kUnknownClient:
      return "UnknownClient";
    case Code::kSignatureInvalid:
      return "SignatureInvalid";
    case Code::kAccessDenied:
      return "AccessDenied";
    case Code::kThrottled:
      return "Throttled";
    case Code::kUnavailable:
      return "Unavailable";
    case Code::kInternal:
      return "Internal";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(CodeName(code_)) + ": " + message_;
}

}  // namespace iotjobs
