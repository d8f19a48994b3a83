// The simulated device's protocol, driven through a recording DeviceIo (no broker).
#include "fleet/device.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace iotjobs::fleet {
namespace {

struct FakeIo : DeviceIo {
  std::vector<std::pair<std::string, std::string>> sent;
  double timer_ms = -1;
  double reconnect_ms = -1;
  int64_t now_us = 0;
  void Publish(const std::string& t, const std::string& p) override { sent.emplace_back(t, p); }
  void SetTimer(double ms) override { timer_ms = ms; }
  void Reconnect(double ms) override { reconnect_ms = ms; }
  int64_t NowUs() override { return now_us; }
  int64_t NowUnixMs() override { return 1000000 + now_us / 1000; }
  // The clientToken of the last request.
  std::string Token() const {
    const std::string& p = sent.back().second;
    auto at = p.find("\"clientToken\":\"") + 15;
    return p.substr(at, p.find('"', at) - at);
  }
};

const std::string kBase = "$aws/things/dev-1/jobs/";

std::string Exec(const std::string& job, int version, int number = 1) {
  return "{\"jobId\":\"" + job +
         "\",\"status\":\"IN_PROGRESS\",\"versionNumber\":" + std::to_string(version) +
         ",\"executionNumber\":" + std::to_string(number) + ",\"jobDocument\":{\"a\":1}}";
}

class DeviceTest : public ::testing::Test {
 protected:
  Profile profile;
  Stats stats{1000000, 1000};
  FakeIo io;
  std::unique_ptr<Device> dev;
  void Make() { dev = std::make_unique<Device>("dev-1", &profile, 1); }
  void Reply(const std::string& suffix, const std::string& body) {
    dev->OnMessage(kBase + suffix, body, io, stats);
  }
};

TEST_F(DeviceTest, SubscribesToItsOwnTopics) {
  Make();
  auto subs = dev->Subscriptions();
  ASSERT_EQ(subs.size(), 5u);
  for (const auto& s : subs) EXPECT_EQ(s.rfind(kBase, 0), 0u) << s;
}

TEST_F(DeviceTest, RunsAJobFromNotifyToSucceeded) {
  profile.run_time = *ParseRunTime("2s");
  Make();
  dev->OnReady(io, stats);
  ASSERT_EQ(io.sent.back().first, kBase + "start-next");
  Reply("start-next/accepted", "{\"clientToken\":\"" + io.Token() + "\",\"timestamp\":1}");
  EXPECT_EQ(dev->state(), Device::State::kIdle);

  Reply("notify-next", "{\"timestamp\":2,\"execution\":" + Exec("job-a", 1) + "}");
  EXPECT_EQ(stats.totals[kNotified], 1);
  ASSERT_EQ(io.sent.back().first, kBase + "start-next");
  io.now_us = 3000;
  Reply("start-next/accepted",
        "{\"clientToken\":\"" + io.Token() + "\",\"execution\":" + Exec("job-a", 2) + "}");
  EXPECT_EQ(dev->state(), Device::State::kRunning);
  EXPECT_EQ(stats.totals[kStarted], 1);
  EXPECT_DOUBLE_EQ(io.timer_ms, 2000);
  ASSERT_EQ(stats.start_next_us.size(), 2u);
  EXPECT_EQ(stats.start_next_us[1], 3000u);

  dev->OnTimer(io, stats);
  ASSERT_EQ(io.sent.back().first, kBase + "job-a/update");
  EXPECT_NE(io.sent.back().second.find("\"status\":\"SUCCEEDED\""), std::string::npos);
  EXPECT_NE(io.sent.back().second.find("\"expectedVersion\":2"), std::string::npos);
  size_t before = io.sent.size();
  Reply("job-a/update/accepted", "{\"clientToken\":\"" + io.Token() + "\",\"timestamp\":3}");
  EXPECT_EQ(stats.totals[kSucceeded], 1);
  EXPECT_EQ(stats.updates_accepted, 1);
  EXPECT_EQ(dev->state(), Device::State::kIdle);
  EXPECT_EQ(io.sent.size(), before);  // waits for the next notify-next
  ASSERT_EQ(stats.notify_to_done_us.size(), 1u);
}

TEST_F(DeviceTest, StepsSendProgressWithExpectedVersions) {
  profile.steps = 2;
  profile.run_time = *ParseRunTime("3s");
  profile = *ParseOutcomeWeights("fail=1", profile);
  Make();
  dev->OnReady(io, stats);
  Reply("start-next/accepted",
        "{\"clientToken\":\"" + io.Token() + "\",\"execution\":" + Exec("j", 2) + "}");
  EXPECT_DOUBLE_EQ(io.timer_ms, 1000);  // run time split over steps + 1
  for (int step = 1; step <= 2; ++step) {
    dev->OnTimer(io, stats);
    const std::string& body = io.sent.back().second;
    EXPECT_NE(body.find("\"status\":\"IN_PROGRESS\""), std::string::npos);
    EXPECT_NE(body.find("\"step\":\"" + std::to_string(step) + "/2\""), std::string::npos);
    EXPECT_NE(body.find("\"expectedVersion\":" + std::to_string(1 + step)), std::string::npos);
    Reply("j/update/accepted", "{\"clientToken\":\"" + io.Token() + "\"}");
    EXPECT_EQ(dev->state(), Device::State::kRunning);
  }
  dev->OnTimer(io, stats);
  EXPECT_NE(io.sent.back().second.find("\"status\":\"FAILED\""), std::string::npos);
  EXPECT_NE(io.sent.back().second.find("\"expectedVersion\":4"), std::string::npos);
  Reply("j/update/accepted", "{\"clientToken\":\"" + io.Token() + "\"}");
  EXPECT_EQ(stats.totals[kFailed], 1);
  EXPECT_EQ(stats.updates_accepted, 3);
}

TEST_F(DeviceTest, StaleAndForeignRepliesAreIgnored) {
  Make();
  dev->OnReady(io, stats);
  std::string token = io.Token();
  Reply("start-next/accepted", "{\"clientToken\":\"other\",\"execution\":" + Exec("j", 2) + "}");
  EXPECT_EQ(dev->state(), Device::State::kStarting);
  dev->OnMessage("$aws/things/dev-2/jobs/start-next/accepted",
                 "{\"clientToken\":\"" + token + "\",\"execution\":" + Exec("j", 2) + "}", io,
                 stats);
  EXPECT_EQ(dev->state(), Device::State::kStarting);
  Reply("start-next/accepted", "not json");
  EXPECT_EQ(dev->state(), Device::State::kStarting);
  Reply("start-next/accepted",
        "{\"clientToken\":\"" + token + "\",\"execution\":" + Exec("j", 2) + "}");
  EXPECT_EQ(dev->state(), Device::State::kRunning);
  // A duplicate delivery of the same reply changes nothing.
  Reply("start-next/accepted",
        "{\"clientToken\":\"" + token + "\",\"execution\":" + Exec("j", 2) + "}");
  EXPECT_EQ(stats.totals[kStarted], 1);
}

TEST_F(DeviceTest, NotifyDuringARequestIsHandledAfterIt) {
  Make();
  dev->OnReady(io, stats);
  std::string token = io.Token();
  Reply("notify-next", "{\"execution\":" + Exec("j", 1) + "}");
  EXPECT_EQ(io.sent.size(), 1u);  // no second request in flight
  Reply("start-next/accepted", "{\"clientToken\":\"" + token + "\"}");
  ASSERT_EQ(io.sent.size(), 2u);  // the announced job is asked for now
  EXPECT_EQ(io.sent.back().first, kBase + "start-next");
}

TEST_F(DeviceTest, RejectedUpdateAsksWhatIsNext) {
  Make();
  dev->OnReady(io, stats);
  Reply("start-next/accepted",
        "{\"clientToken\":\"" + io.Token() + "\",\"execution\":" + Exec("j", 2) + "}");
  dev->OnTimer(io, stats);
  Reply("j/update/rejected",
        "{\"clientToken\":\"" + io.Token() + "\",\"code\":\"InvalidStateTransition\"}");
  EXPECT_EQ(stats.errors().at("update:InvalidStateTransition"), 1);
  EXPECT_EQ(io.sent.back().first, kBase + "start-next");
  EXPECT_EQ(stats.totals[kSucceeded], 0);
}

TEST_F(DeviceTest, UnansweredRequestsAreAskedAgain) {
  Make();
  dev->OnReady(io, stats);
  EXPECT_DOUBLE_EQ(io.timer_ms, Device::kRequestTimeoutMs);
  std::string first = io.Token();
  dev->OnTimer(io, stats);  // no answer
  EXPECT_EQ(io.sent.size(), 2u);
  EXPECT_NE(io.Token(), first);
  EXPECT_EQ(stats.errors().at("start-next:timeout"), 1);
  // The late answer to the first request is ignored; the second one counts.
  Reply("start-next/accepted",
        "{\"clientToken\":\"" + first + "\",\"execution\":" + Exec("j", 2) + "}");
  EXPECT_EQ(dev->state(), Device::State::kStarting);
  Reply("start-next/accepted",
        "{\"clientToken\":\"" + io.Token() + "\",\"execution\":" + Exec("j", 2) + "}");
  EXPECT_EQ(dev->state(), Device::State::kRunning);
  dev->OnTimer(io, stats);  // runs: sends SUCCEEDED
  dev->OnTimer(io, stats);  // the update is not answered
  EXPECT_EQ(io.sent.back().first, kBase + "start-next");
  EXPECT_EQ(stats.errors().at("update:timeout"), 1);
  // The update did get through: start-next no longer returns the job; nothing is counted twice.
  Reply("start-next/accepted", "{\"clientToken\":\"" + io.Token() + "\"}");
  EXPECT_EQ(dev->state(), Device::State::kIdle);
  EXPECT_EQ(stats.totals[kSucceeded], 0);
}

TEST_F(DeviceTest, HangNeverReportsUntilAnotherJobIsNext) {
  profile = *ParseOutcomeWeights("hang=1", profile);
  Make();
  dev->OnReady(io, stats);
  Reply("start-next/accepted",
        "{\"clientToken\":\"" + io.Token() + "\",\"execution\":" + Exec("j", 2) + "}");
  EXPECT_EQ(dev->state(), Device::State::kHung);
  EXPECT_EQ(stats.totals[kHung], 1);
  size_t before = io.sent.size();
  dev->OnTimer(io, stats);
  Reply("notify-next", "{\"execution\":" + Exec("j", 2) + "}");
  EXPECT_EQ(io.sent.size(), before);
  Reply("notify-next", "{\"execution\":" + Exec("k", 1) + "}");
  EXPECT_EQ(io.sent.back().first, kBase + "start-next");
}

TEST_F(DeviceTest, ReconnectResumesTheSameExecution) {
  profile.reconnect_share = 1.0;
  profile.reconnect_delay_ms = 500;
  profile.run_time = *ParseRunTime("1s");
  Make();
  dev->OnReady(io, stats);
  Reply("start-next/accepted",
        "{\"clientToken\":\"" + io.Token() + "\",\"execution\":" + Exec("j", 2) + "}");
  dev->OnTimer(io, stats);
  EXPECT_DOUBLE_EQ(io.reconnect_ms, 500);
  EXPECT_EQ(dev->state(), Device::State::kOffline);
  dev->OnReady(io, stats);  // back online
  Reply("start-next/accepted",
        "{\"clientToken\":\"" + io.Token() + "\",\"execution\":" + Exec("j", 2) + "}");
  EXPECT_EQ(stats.totals[kStarted], 1);  // the same execution, not a new one
  dev->OnTimer(io, stats);
  EXPECT_NE(io.sent.back().second.find("\"status\":\"SUCCEEDED\""), std::string::npos);
}

}  // namespace
}  // namespace iotjobs::fleet
