#include "device/payloads.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>

#include "codec/device_codec.h"
#include "codec/job_codec.h"
#include "codec/parse_json.h"
#include "common/text.h"

namespace iotjobs::device {
namespace json = boost::json;
namespace {

int64_t Seconds(Instant t) { return ToEpochMillis(t) / 1000; }

// The document as a JSON object (MQTT embeds it; HTTPS sends a string).
json::value DocumentObject(const std::string& text) {
  boost::system::error_code ec;
  json::value v = codec::ParseJson(text, ec);
  return ec ? json::value(json::object()) : v;
}

json::object ExecutionData(const service::DeviceExecution& d, Instant now) {
  json::object o = codec::ExecutionDataJson(d.execution, now);
  if (d.document) o["jobDocument"] = DocumentObject(*d.document);  // an object over MQTT
  return o;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string Upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

}  // namespace

const char* RejectionCode(Code code) {
  switch (code) {
    case Code::kInvalidRequest:
      return "InvalidRequest";
    case Code::kNotFound:
      return "ResourceNotFound";
    case Code::kInvalidStateTransition:
      return "InvalidStateTransition";
    case Code::kVersionConflict:
      return "VersionMismatch";
    case Code::kThrottled:
      return "RequestThrottled";
    default:
      return "InternalError";
  }
}

std::string ReplyPayload(json::object body, Instant now,
                         const std::optional<std::string>& client_token) {
  body["timestamp"] = Seconds(now);
  if (client_token) body["clientToken"] = *client_token;
  return json::serialize(body);
}

json::object PendingAccepted(const service::PendingList& pending) {
  json::array in_progress, queued;
  for (const auto& e : pending.in_progress) in_progress.push_back(codec::ExecutionSummaryJson(e));
  for (const auto& e : pending.queued) queued.push_back(codec::ExecutionSummaryJson(e));
  return {{"inProgressJobs", std::move(in_progress)}, {"queuedJobs", std::move(queued)}};
}

json::object ExecutionAccepted(const std::optional<service::DeviceExecution>& execution,
                               Instant now) {
  json::object body;
  if (execution) body["execution"] = ExecutionData(*execution, now);
  return body;
}

json::object UpdateAccepted(const service::UpdateOutcome& outcome) {
  json::object body;
  if (outcome.execution) body["executionState"] = codec::ExecutionStateJson(*outcome.execution);
  if (outcome.document) body["jobDocument"] = DocumentObject(*outcome.document);
  return body;
}

json::object Rejection(const Status& status, const std::optional<jobs::JobExecution>& state) {
  json::object b{{"code", RejectionCode(status.code())},
                 {"message", ToValidUtf8(status.message())}};
  if (state &&
      (status.code() == Code::kVersionConflict || status.code() == Code::kInvalidStateTransition)) {
    b["executionState"] = codec::ExecutionStateJson(*state);
  }
  return b;
}

json::object InvalidJsonRejection(const std::string& parse_error) {
  return {{"code", "InvalidJson"},
          {"message", "the payload must be a JSON object" +
                          (parse_error.empty() ? std::string() : ": " + parse_error)}};
}

json::object InvalidTopicRejection(const std::string& topic) {
  return {{"code", "InvalidTopic"}, {"message", "no jobs API serves topic " + topic}};
}

json::object ThrottledRejection(const std::string& thing) {
  return {{"code", RejectionCode(Code::kThrottled)},
          {"message", "Rate exceeded for thing " + thing}};
}

std::string NotifyPayload(const service::PendingList& pending, Instant now) {
  json::object jobs;
  json::array in_progress, queued;
  for (const auto& e : pending.in_progress) in_progress.push_back(codec::ExecutionSummaryJson(e));
  for (const auto& e : pending.queued) queued.push_back(codec::ExecutionSummaryJson(e));
  if (!in_progress.empty()) jobs["IN_PROGRESS"] = std::move(in_progress);
  if (!queued.empty()) jobs["QUEUED"] = std::move(queued);
  return json::serialize(json::object{{"timestamp", Seconds(now)}, {"jobs", std::move(jobs)}});
}

std::string NotifyNextPayload(const std::optional<service::DeviceExecution>& next, Instant now) {
  json::object body{{"timestamp", Seconds(now)}};
  if (next) body["execution"] = ExecutionData(*next, now);
  return json::serialize(body);
}

EventMessage JobEventMessage(const jobs::OutboxEvent& e, const std::string& thing_arn,
                             const std::string& event_id, Instant now) {
  json::object body{{"eventType", e.type},
                    {"eventId", event_id},
                    {"timestamp", Seconds(now)},
                    {"operation", ""},
                    {"jobId", e.job_id}};
  std::string topic;
  if (e.type == "JOB_EXECUTION") {
    std::string status = e.status ? jobs::ToString(*e.status) : "";
    const std::string op = Lower(e.operation.empty() ? status : e.operation);
    body["operation"] = op;
    body["thingArn"] = thing_arn;
    body["status"] = e.operation == "deleted" ? "DELETED" : status;
    body["statusDetails"] = codec::EncodeStringMap(e.status_details);
    topic = "$aws/events/jobExecution/" + e.job_id + "/" + op;
  } else {
    body["operation"] = e.operation;
    body["status"] = Upper(e.operation);
    if (e.job) {
      const jobs::Job& j = *e.job;
      body["targetSelection"] = j.target_selection;
      json::array targets;
      for (const auto& t : j.targets) targets.push_back(json::string(t));
      body["targets"] = std::move(targets);
      if (j.description) body["description"] = *j.description;
      // The developer guide's samples give these three in milliseconds.
      body["createdAt"] = ToEpochMillis(j.created_at);
      body["lastUpdatedAt"] = ToEpochMillis(j.last_updated_at);
      if (e.operation == "completed" && j.completed_at) {
        body["completedAt"] = ToEpochMillis(*j.completed_at);
      }
      if (e.operation != "completed" && j.comment) body["comment"] = *j.comment;
    }
    if (e.operation == "completed") {
      json::object details;
      for (const auto& [k, v] : e.counters) details[k] = v;
      body["jobProcessDetails"] = std::move(details);
    }
    topic = "$aws/events/job/" + e.job_id + "/" + e.operation;
  }
  return {std::move(topic), json::serialize(body)};
}

}  // namespace iotjobs::device
