// Status and Result<T>: the error currency at every module boundary.
//
// A Status is OK or carries an error code and a human-readable message that names the field and the
// rule that failed. Codes are transport-neutral; api/ maps them to HTTP status + x-amzn-ErrorType
// and device/ to MQTT rejection codes, each in exactly one place. No exception crosses a module
// boundary.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace iotjobs {

enum class Code {
  kOk = 0,
  kInvalidRequest,   // malformed or out-of-range input (400)
  kNotFound,         // the named resource does not exist (404)
  kConflict,         // a resource with that id already exists (409)
  kAlreadyExists,    // registry-style duplicate with different config (409)
  kVersionConflict,  // expectedVersion mismatch (409)
  kInvalidStateTransition,
  kLimitExceeded,     // a quota is hit (410)
  kUnauthorized,      // the model's UnauthorizedException (401)
  kMissingAuth,       // no SigV4 signature on the request (403)
  kUnknownClient,     // the access key id is not known (403)
  kSignatureInvalid,  // the signature does not match, or its date is stale (403)
  kAccessDenied,      // authenticated, but not allowed this call or resource (403)
  kThrottled,
  kUnavailable,  // a dependency (database, S3) cannot be reached
  kInternal,     // a broken invariant or an unexpected library failure
};

// Returns the stable name of `code`, e.g. "InvalidRequest". Never null.
const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidRequest(std::string m) { return {Code::kInvalidRequest, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status Conflict(std::string m) { return {Code::kConflict, std::move(m)}; }
  static Status LimitExceeded(std::string m) { return {Code::kLimitExceeded, std::move(m)}; }
  static Status Unauthorized(std::string m) { return {Code::kUnauthorized, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// Result<T> holds either a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design, like absl::StatusOr
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).ok()); }  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace iotjobs

#define IOTJOBS_RETURN_IF_ERROR(expr) \
  do {                                \
    ::iotjobs::Status _st = (expr);   \
    if (!_st.ok()) return _st;        \
  } while (0)
