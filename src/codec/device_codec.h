// The device-facing JSON forms shared by the HTTPS jobs data plane and the MQTT jobs API:
// timestamps are integer epoch seconds and statusDetails a flat map. The two transports differ
// only in jobDocument (a string over HTTPS, an object over MQTT), which the callers add.
//
// Requests: one decoder per device operation, used by both planes, so a request body means the
// same thing over HTTPS and MQTT. Each decodes a JSON object (the HTTPS body, or the MQTT payload)
// into a typed request; unknown members are ignored; the first member of the wrong type is
// InvalidRequest naming it ("stepTimeoutInMinutes must be an integer"), members checked in the
// order each decoder lists. GetPendingJobExecutions has no request members (MQTT's clientToken
// belongs to the transport). Pure, thread-safe.
#pragma once

#include <boost/json/fwd.hpp>
#include <map>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "jobs/job.h"

namespace iotjobs::codec {

// JobExecutionSummary: jobId, queuedAt, startedAt?, lastUpdatedAt, versionNumber, executionNumber.
boost::json::object ExecutionSummaryJson(const jobs::JobExecution& e);
// JobExecution without jobDocument: the summary plus thingName, status, statusDetails and, while
// a timer runs, approximateSecondsBeforeTimedOut at `now`.
boost::json::object ExecutionDataJson(const jobs::JobExecution& e, Instant now);
// JobExecutionState: status, statusDetails, versionNumber.
boost::json::object ExecutionStateJson(const jobs::JobExecution& e);
// An integer member that devices may send as a number or a numeric string ("expectedVersion":
// "1" in the developer guide's examples). Absent or null leaves *out untouched.
Status GetLenientInt64(const boost::json::object& o, const char* field,
                       std::optional<int64_t>* out);

// The plane a request came in on, where the two differ.
enum class DevicePlane { kHttps, kMqtt };

// StartNextPendingJobExecution: statusDetails (a map of strings), stepTimeoutInMinutes (lenient
// integer).
struct StartNextRequest {
  std::optional<std::map<std::string, std::string>> status_details;
  std::optional<int64_t> step_timeout_minutes;
};
Status DecodeStartNext(const boost::json::object& body, StartNextRequest* out);

// DescribeJobExecution: executionNumber (lenient integer), includeJobDocument (boolean, default
// true). Over MQTT these are payload members (decoded here); over HTTPS they are query parameters,
// which api/ reads into the same struct.
struct DescribeExecutionRequest {
  std::optional<int64_t> execution_number;
  bool include_job_document = true;
};
Status DecodeDescribeExecution(const boost::json::object& body, DescribeExecutionRequest* out);

// UpdateJobExecution: status (string; its value is the service's to check), statusDetails,
// stepTimeoutInMinutes, expectedVersion, executionNumber (lenient integers),
// includeJobExecutionState, includeJobDocument (booleans, default false). A null status is taken
// as absent over HTTPS (restJson1) and refused as "status must be a string" over MQTT, as each
// plane always answered.
struct UpdateExecutionRequest {
  std::string status;  // empty when absent
  std::optional<std::map<std::string, std::string>> status_details;
  std::optional<int64_t> step_timeout_minutes, expected_version, execution_number;
  bool include_job_execution_state = false;
  bool include_job_document = false;
};
Status DecodeUpdateExecution(const boost::json::object& body, DevicePlane plane,
                             UpdateExecutionRequest* out);

}  // namespace iotjobs::codec
