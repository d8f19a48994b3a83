// Every JSON payload iotjobsd publishes over MQTT, in one place: the replies to the jobs API's
// request topics (.../accepted, .../rejected), the notifications ($aws/things/{thing}/jobs/notify,
// .../notify-next) and the job events ($aws/events/job/..., $aws/events/jobExecution/...). The
// shapes are the AWS IoT developer guide's (spec §2.2–§2.4): timestamps in integer epoch seconds
// (the job events' createdAt / lastUpdatedAt / completedAt in milliseconds, as the guide's samples
// give them), jobDocument as a JSON object. The request decoders are codec/device_codec.h's,
// shared with the HTTPS plane.
//
// Members appear in the order listed (Boost.JSON keeps insertion order), so a payload is the same
// text for the same input: device_test pins each one. Pure functions, thread-safe.
#pragma once

#include <boost/json/fwd.hpp>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "jobs/job.h"
#include "service/device_service.h"

namespace iotjobs::device {

// The MQTT rejection code of a Status (InvalidRequest, ResourceNotFound, VersionMismatch, ...).
const char* RejectionCode(Code code);

// --- Replies: a body, finished by ReplyPayload ---

// `body` + "timestamp" (epoch seconds of `now`) + "clientToken" (when the request had one),
// serialized.
std::string ReplyPayload(boost::json::object body, Instant now,
                         const std::optional<std::string>& client_token);
// get/accepted: {inProgressJobs: [summary...], queuedJobs: [summary...]}.
boost::json::object PendingAccepted(const service::PendingList& pending);
// start-next/accepted and {jobId}/get/accepted: {execution} (JobExecution with jobDocument as an
// object, approximateSecondsBeforeTimedOut at `now`), or {} when there is none.
boost::json::object ExecutionAccepted(const std::optional<service::DeviceExecution>& execution,
                                      Instant now);
// {jobId}/update/accepted: {executionState?, jobDocument?} as the update asked for them.
boost::json::object UpdateAccepted(const service::UpdateOutcome& outcome);
// .../rejected: {code, message} (the message made valid UTF-8), plus executionState for a
// VersionMismatch or InvalidStateTransition when `state` is known.
boost::json::object Rejection(const Status& status,
                              const std::optional<jobs::JobExecution>& state = std::nullopt);
// .../rejected for a payload that is not a JSON object; `parse_error` empty when it parsed.
boost::json::object InvalidJsonRejection(const std::string& parse_error);
// .../rejected for a topic under $aws/things/{thing}/jobs/ that no request serves.
boost::json::object InvalidTopicRejection(const std::string& topic);
// .../rejected for a request over the thing's rate or queue bound (RequestThrottled).
boost::json::object ThrottledRejection(const std::string& thing);

// --- Notifications ---

// notify: {timestamp, jobs: {IN_PROGRESS?: [summary...], QUEUED?: [summary...]}} (an empty list
// is left out).
std::string NotifyPayload(const service::PendingList& pending, Instant now);
// notify-next: {timestamp, execution?} (the next pending execution with its document; none when
// the list is empty).
std::string NotifyNextPayload(const std::optional<service::DeviceExecution>& next, Instant now);

// --- Job events ---

struct EventMessage {
  std::string topic, payload;
};
// The $aws/events message of one recorded event: JOB on $aws/events/job/{jobId}/{operation},
// JOB_EXECUTION on $aws/events/jobExecution/{jobId}/{operation}. `thing_arn` is the execution's
// thing (JOB_EXECUTION), `event_id` a fresh id, `now` the publication time. (`event` is the
// outbox row DeviceService::Events hands out.)
EventMessage JobEventMessage(const jobs::OutboxEvent& event, const std::string& thing_arn,
                             const std::string& event_id, Instant now);

}  // namespace iotjobs::device
