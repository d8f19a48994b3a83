// The exact JSON of every payload iotjobsd publishes over MQTT, for fixed inputs.
#include "device/payloads.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace iotjobs::device {
namespace {

namespace json = boost::json;

const Instant kNow = FromEpochMillis(1'700'000'100'999);  // 1700000100 s

jobs::JobExecution Execution(const std::string& job, jobs::ExecutionStatus status) {
  jobs::JobExecution e;
  e.region = "us-east-1";
  e.job_id = job;
  e.thing_name = "t1";
  e.execution_number = 2;
  e.status = status;
  e.status_details = {{"step", "1"}};
  e.queued_at = FromEpochMillis(1'700'000'000'500);
  e.last_updated_at = FromEpochMillis(1'700'000'050'000);
  e.version_number = 3;
  if (status == jobs::ExecutionStatus::kInProgress) {
    e.started_at = FromEpochMillis(1'700'000'040'000);
    e.in_progress_deadline = FromEpochMillis(1'700'000'160'999);  // 60 s after kNow
    e.timeout_at = e.in_progress_deadline;
  }
  return e;
}

service::PendingList Pending() {
  return {{Execution("a", jobs::ExecutionStatus::kInProgress)},
          {Execution("b", jobs::ExecutionStatus::kQueued)}};
}

constexpr char kSummaryA[] =
    R"({"jobId":"a","queuedAt":1700000000,"lastUpdatedAt":1700000050,"versionNumber":3,)"
    R"("executionNumber":2,"startedAt":1700000040})";
constexpr char kSummaryB[] =
    R"({"jobId":"b","queuedAt":1700000000,"lastUpdatedAt":1700000050,"versionNumber":3,)"
    R"("executionNumber":2})";
constexpr char kDataA[] =
    R"({"jobId":"a","queuedAt":1700000000,"lastUpdatedAt":1700000050,"versionNumber":3,)"
    R"("executionNumber":2,"startedAt":1700000040,"thingName":"t1","status":"IN_PROGRESS",)"
    R"("statusDetails":{"step":"1"},"approximateSecondsBeforeTimedOut":60,)"
    R"("jobDocument":{"op":"x"}})";
constexpr char kStateA[] = R"({"status":"IN_PROGRESS","statusDetails":{"step":"1"},)"
                           R"("versionNumber":3})";

std::string S(const json::object& o) { return json::serialize(o); }

TEST(PayloadsTest, ReplyAppendsTimestampThenClientToken) {
  EXPECT_EQ(ReplyPayload({{"a", 1}}, kNow, std::nullopt), R"({"a":1,"timestamp":1700000100})");
  EXPECT_EQ(ReplyPayload({{"a", 1}}, kNow, "tok"),
            R"({"a":1,"timestamp":1700000100,"clientToken":"tok"})");
}

TEST(PayloadsTest, GetAccepted) {
  EXPECT_EQ(S(PendingAccepted(Pending())), std::string(R"({"inProgressJobs":[)") + kSummaryA +
                                               R"(],"queuedJobs":[)" + kSummaryB + "]}");
  EXPECT_EQ(S(PendingAccepted({})), R"({"inProgressJobs":[],"queuedJobs":[]})");
}

TEST(PayloadsTest, ExecutionAcceptedEmbedsTheDocumentAsAnObject) {
  service::DeviceExecution d{Execution("a", jobs::ExecutionStatus::kInProgress), R"({"op": "x"})"};
  EXPECT_EQ(S(ExecutionAccepted(d, kNow)), std::string(R"({"execution":)") + kDataA + "}");
  EXPECT_EQ(S(ExecutionAccepted(std::nullopt, kNow)), "{}");
  // A document that is not JSON (never stored so, but never trusted): an empty object.
  d.document = "not json";
  EXPECT_NE(S(ExecutionAccepted(d, kNow)).find(R"("jobDocument":{})"), std::string::npos);
}

TEST(PayloadsTest, UpdateAccepted) {
  service::UpdateOutcome r{Status::Ok(), Execution("a", jobs::ExecutionStatus::kInProgress),
                           R"({"op":"x"})"};
  EXPECT_EQ(S(UpdateAccepted(r)),
            std::string(R"({"executionState":)") + kStateA + R"(,"jobDocument":{"op":"x"}})");
  EXPECT_EQ(S(UpdateAccepted({Status::Ok(), std::nullopt, std::nullopt})), "{}");
}

TEST(PayloadsTest, Rejections) {
  const auto state = Execution("a", jobs::ExecutionStatus::kInProgress);
  EXPECT_EQ(S(Rejection(Status(Code::kVersionConflict, "stale"), state)),
            std::string(R"({"code":"VersionMismatch","message":"stale","executionState":)") +
                kStateA + "}");
  EXPECT_EQ(S(Rejection(Status(Code::kInvalidStateTransition, "no"), state)),
            std::string(R"({"code":"InvalidStateTransition","message":"no","executionState":)") +
                kStateA + "}");
  // executionState only for those two.
  EXPECT_EQ(S(Rejection(Status(Code::kNotFound, "gone"), state)),
            R"({"code":"ResourceNotFound","message":"gone"})");
  EXPECT_EQ(S(Rejection(Status::InvalidRequest("bad \xff"))),
            "{\"code\":\"InvalidRequest\",\"message\":\"bad \xEF\xBF\xBD\"}");
  EXPECT_EQ(S(Rejection(Status(Code::kInternal, "x"))),
            R"({"code":"InternalError","message":"x"})");
  EXPECT_EQ(
      S(InvalidJsonRejection("syntax error")),
      R"({"code":"InvalidJson","message":"the payload must be a JSON object: syntax error"})");
  EXPECT_EQ(S(InvalidJsonRejection("")),
            R"({"code":"InvalidJson","message":"the payload must be a JSON object"})");
  EXPECT_EQ(
      S(InvalidTopicRejection("$aws/things/t1/jobs/x/y/z")),
      R"({"code":"InvalidTopic","message":"no jobs API serves topic $aws/things/t1/jobs/x/y/z"})");
  EXPECT_EQ(S(ThrottledRejection("t1")),
            R"({"code":"RequestThrottled","message":"Rate exceeded for thing t1"})");
}

TEST(PayloadsTest, Notify) {
  EXPECT_EQ(NotifyPayload(Pending(), kNow), std::string(R"({"timestamp":1700000100,"jobs":{)") +
                                                R"("IN_PROGRESS":[)" + kSummaryA +
                                                R"(],"QUEUED":[)" + kSummaryB + "]}}");
  // An empty list is left out; no member at all when nothing is pending.
  EXPECT_EQ(NotifyPayload({}, kNow), R"({"timestamp":1700000100,"jobs":{}})");
}

TEST(PayloadsTest, NotifyNext) {
  service::DeviceExecution d{Execution("a", jobs::ExecutionStatus::kInProgress), R"({"op":"x"})"};
  EXPECT_EQ(NotifyNextPayload(d, kNow),
            std::string(R"({"timestamp":1700000100,"execution":)") + kDataA + "}");
  EXPECT_EQ(NotifyNextPayload(std::nullopt, kNow), R"({"timestamp":1700000100})");
}

TEST(PayloadsTest, JobExecutionEvent) {
  store::Store::Event e;
  e.region = "us-east-1";
  e.type = "JOB_EXECUTION";
  e.job_id = "j1";
  e.thing = "t1";
  e.status = jobs::ExecutionStatus::kSucceeded;
  e.status_details = {{"k", "v"}};
  const std::string arn = "arn:aws:iot:us-east-1:123456789012:thing/t1";
  EventMessage m = JobEventMessage(e, arn, "id-1", kNow);
  EXPECT_EQ(m.topic, "$aws/events/jobExecution/j1/succeeded");
  EXPECT_EQ(m.payload, R"({"eventType":"JOB_EXECUTION","eventId":"id-1","timestamp":1700000100,)"
                       R"("operation":"succeeded","jobId":"j1","thingArn":")" +
                           arn + R"(","status":"SUCCEEDED","statusDetails":{"k":"v"}})");
  // A deleted execution: its operation names the topic, status DELETED.
  e.operation = "deleted";
  m = JobEventMessage(e, arn, "id-2", kNow);
  EXPECT_EQ(m.topic, "$aws/events/jobExecution/j1/deleted");
  EXPECT_EQ(m.payload, R"({"eventType":"JOB_EXECUTION","eventId":"id-2","timestamp":1700000100,)"
                       R"("operation":"deleted","jobId":"j1","thingArn":")" +
                           arn + R"(","status":"DELETED","statusDetails":{"k":"v"}})");
}

TEST(PayloadsTest, JobEvents) {
  jobs::Job j;
  j.region = "us-east-1";
  j.id = "j1";
  j.target_selection = "SNAPSHOT";
  j.targets = {"arn:aws:iot:us-east-1:123456789012:thing/t1"};
  j.description = "d";
  j.comment = "c";
  j.created_at = FromEpochMillis(1'700'000'000'123);
  j.last_updated_at = FromEpochMillis(1'700'000'050'456);
  j.completed_at = FromEpochMillis(1'700'000'090'789);
  store::Store::Event e;
  e.region = "us-east-1";
  e.type = "JOB";
  e.job_id = "j1";
  e.operation = "canceled";
  e.job = j;
  EventMessage m = JobEventMessage(e, "", "id-3", kNow);
  EXPECT_EQ(m.topic, "$aws/events/job/j1/canceled");
  EXPECT_EQ(m.payload,
            R"({"eventType":"JOB","eventId":"id-3","timestamp":1700000100,"operation":"canceled",)"
            R"("jobId":"j1","status":"CANCELED","targetSelection":"SNAPSHOT",)"
            R"("targets":["arn:aws:iot:us-east-1:123456789012:thing/t1"],"description":"d",)"
            R"("createdAt":1700000000123,"lastUpdatedAt":1700000050456,"comment":"c"})");

  // completed: completedAt and jobProcessDetails, no comment.
  e.operation = "completed";
  e.counters = {{"numberOfSucceededThings", 1}, {"numberOfFailedThings", 0}};
  m = JobEventMessage(e, "", "id-4", kNow);
  EXPECT_EQ(m.topic, "$aws/events/job/j1/completed");
  EXPECT_EQ(m.payload,
            R"({"eventType":"JOB","eventId":"id-4","timestamp":1700000100,"operation":"completed",)"
            R"("jobId":"j1","status":"COMPLETED","targetSelection":"SNAPSHOT",)"
            R"("targets":["arn:aws:iot:us-east-1:123456789012:thing/t1"],"description":"d",)"
            R"("createdAt":1700000000123,"lastUpdatedAt":1700000050456,)"
            R"("completedAt":1700000090789,)"
            R"("jobProcessDetails":{"numberOfFailedThings":0,"numberOfSucceededThings":1}})");

  // Without the job row: the common members only.
  e.job.reset();
  e.operation = "deleted";
  e.counters.clear();
  m = JobEventMessage(e, "", "id-5", kNow);
  EXPECT_EQ(m.payload,
            R"({"eventType":"JOB","eventId":"id-5","timestamp":1700000100,"operation":"deleted",)"
            R"("jobId":"j1","status":"DELETED"})");
}

}  // namespace
}  // namespace iotjobs::device
