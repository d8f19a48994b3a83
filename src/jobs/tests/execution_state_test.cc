#include "jobs/execution_state.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace iotjobs::jobs {
namespace {

using S = ExecutionStatus;

// The spec's rules restated independently of the table (spec §3.1).
const std::set<S> kTerminal = {S::kSucceeded, S::kFailed,  S::kTimedOut,
                               S::kRejected,  S::kRemoved, S::kCanceled};
const std::set<S> kDeviceSettable = {S::kInProgress, S::kSucceeded, S::kFailed, S::kRejected};

TEST(ExecutionStatusTest, WireNamesRoundTrip) {
  const char* names[] = {"QUEUED",    "IN_PROGRESS", "SUCCEEDED", "FAILED",
                         "TIMED_OUT", "REJECTED",    "REMOVED",   "CANCELED"};
  int i = 0;
  for (S s : kAllExecutionStatuses) {
    EXPECT_STREQ(ToString(s), names[i]);
    Result<S> parsed = ParseExecutionStatus(names[i]);
    ASSERT_TRUE(parsed.ok()) << names[i];
    EXPECT_EQ(*parsed, s);
    ++i;
  }
  EXPECT_EQ(i, 8);
}

TEST(ExecutionStatusTest, ParseRejectsUnknownAndLowerCaseNamingTheField) {
  for (const char* bad : {"", "DONE", "queued", "IN PROGRESS", "CANCELLED"}) {
    Result<S> r = ParseExecutionStatus(bad, "status");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidRequest);
    EXPECT_NE(r.status().message().find("status must be one of QUEUED|IN_PROGRESS"),
              std::string::npos)
        << r.status().message();
  }
}

TEST(ExecutionStatusTest, TerminalStatuses) {
  for (S s : kAllExecutionStatuses)
    EXPECT_EQ(IsTerminal(s), kTerminal.count(s) == 1) << ToString(s);
}

// Walks all 64 (current, requested) pairs of the device table.
TEST(ExecutionStateMachineTest, EveryDeviceTransition) {
  int visited = 0;
  for (S current : kAllExecutionStatuses) {
    for (S requested : kAllExecutionStatuses) {
      ++visited;
      Result<S> r = ApplyDeviceUpdate(current, requested);
      std::string pair = std::string(ToString(current)) + " -> " + ToString(requested);
      if (!kDeviceSettable.count(requested)) {
        ASSERT_FALSE(r.ok()) << pair;
        EXPECT_EQ(r.status().code(), Code::kInvalidRequest) << pair;
      } else if (kTerminal.count(current)) {
        ASSERT_FALSE(r.ok()) << pair;
        EXPECT_EQ(r.status().code(), Code::kInvalidStateTransition) << pair;
      } else {
        ASSERT_TRUE(r.ok()) << pair << ": " << r.status().ToString();
        EXPECT_EQ(*r, requested) << pair;
      }
    }
  }
  EXPECT_EQ(visited, 64);
}

TEST(ExecutionStateMachineTest, DeviceTransitionsTheGuideNames) {
  EXPECT_EQ(*ApplyDeviceUpdate(S::kQueued, S::kInProgress), S::kInProgress);
  EXPECT_EQ(*ApplyDeviceUpdate(S::kQueued, S::kRejected), S::kRejected);  // lifecycle diagram
  EXPECT_EQ(*ApplyDeviceUpdate(S::kQueued, S::kSucceeded), S::kSucceeded);
  EXPECT_EQ(*ApplyDeviceUpdate(S::kInProgress, S::kInProgress), S::kInProgress);  // details update
  EXPECT_EQ(ApplyDeviceUpdate(S::kSucceeded, S::kInProgress).status().code(),
            Code::kInvalidStateTransition);
  EXPECT_EQ(ApplyDeviceUpdate(S::kSucceeded, S::kSucceeded).status().code(),
            Code::kInvalidStateTransition);
  // The request's own fault wins over the state's: a terminal execution asked for CANCELED.
  EXPECT_EQ(ApplyDeviceUpdate(S::kCanceled, S::kCanceled).status().code(), Code::kInvalidRequest);
}

TEST(ExecutionStateMachineTest, DeviceErrorMessagesSayWhy) {
  Status bad_request = ApplyDeviceUpdate(S::kInProgress, S::kTimedOut).status();
  EXPECT_EQ(bad_request.message(),
            "status TIMED_OUT cannot be set by a device; use IN_PROGRESS, SUCCEEDED, FAILED or "
            "REJECTED");
  Status bad_state = ApplyDeviceUpdate(S::kFailed, S::kSucceeded).status();
  EXPECT_EQ(bad_state.message(),
            "cannot update the job execution from FAILED to SUCCEEDED: FAILED is a terminal "
            "status");
}

// Walks all 32 (current, event) pairs of the service events.
TEST(ExecutionStateMachineTest, EveryServiceEvent) {
  auto expected = [](S current, ServiceEvent e) -> std::optional<S> {
    switch (e) {
      case ServiceEvent::kCancel:
        if (current == S::kQueued) return S::kCanceled;
        return std::nullopt;
      case ServiceEvent::kForceCancel:
        if (current == S::kQueued || current == S::kInProgress) return S::kCanceled;
        return std::nullopt;
      case ServiceEvent::kTimeOut:
        if (current == S::kInProgress) return S::kTimedOut;
        return std::nullopt;
      case ServiceEvent::kRemove:
        if (current == S::kQueued || current == S::kInProgress) return S::kRemoved;
        return std::nullopt;
    }
    return std::nullopt;
  };
  int visited = 0;
  for (S current : kAllExecutionStatuses) {
    for (ServiceEvent e : kAllServiceEvents) {
      ++visited;
      Result<S> r = ApplyServiceEvent(current, e);
      std::string pair = std::string(ToString(current)) + " + " + ToString(e);
      if (std::optional<S> want = expected(current, e)) {
        ASSERT_TRUE(r.ok()) << pair << ": " << r.status().ToString();
        EXPECT_EQ(*r, *want) << pair;
      } else {
        ASSERT_FALSE(r.ok()) << pair;
        EXPECT_EQ(r.status().code(), Code::kInvalidStateTransition) << pair;
      }
    }
  }
  EXPECT_EQ(visited, 32);
}

TEST(ExecutionStateMachineTest, ServiceErrorMessagesSayWhy) {
  EXPECT_EQ(ApplyServiceEvent(S::kInProgress, ServiceEvent::kCancel).status().message(),
            "Cancel is not allowed on a job execution in IN_PROGRESS: IN_PROGRESS needs "
            "force=true to be canceled");
  EXPECT_EQ(ApplyServiceEvent(S::kQueued, ServiceEvent::kTimeOut).status().message(),
            "TimeOut is not allowed on a job execution in QUEUED: QUEUED cannot time out; only "
            "IN_PROGRESS can");
  EXPECT_EQ(ApplyServiceEvent(S::kSucceeded, ServiceEvent::kForceCancel).status().message(),
            "ForceCancel is not allowed on a job execution in SUCCEEDED: SUCCEEDED is a terminal "
            "status");
}

}  // namespace
}  // namespace iotjobs::jobs
