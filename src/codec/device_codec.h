// The device-facing JSON forms shared by the HTTPS jobs data plane and the MQTT jobs API:
// timestamps are integer epoch seconds and statusDetails a flat map. The two transports differ
// only in jobDocument (a string over HTTPS, an object over MQTT), which the callers add.
#pragma once

#include <boost/json/fwd.hpp>
#include <optional>

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

}  // namespace iotjobs::codec
