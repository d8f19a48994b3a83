// JobsMqtt against a fake MqttClient and a real SqliteStore in a temp dir: what the notifier
// publishes, and when. Waiting is for events (a publish, a Connected() poll, the outbox
// emptying) with deadlines, never a fixed sleep.
#include "device/jobs_mqtt.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/rate_limiter.h"
#include "service/device_service.h"
#include "service/scheduler.h"
#include "store/sqlite/sqlite_store.h"
#include "store/tests/scratch_store.h"
#include "store/tests/temp_dir.h"

namespace iotjobs::device {
namespace {

constexpr const char* kRegion = "us-east-1";
constexpr const char* kAccount = "123456789012";
constexpr auto kDeadline = std::chrono::seconds(10);

// Records every publish; refuses them (as MosquittoClient does) while not connected, or while
// told to fail. Connected() polls are counted, so a test can wait until the notifier has looked.
class FakeMqttClient final : public MqttClient {
 public:
  Status Publish(const std::string& topic, const std::string& payload) override {
    std::lock_guard lock(mu_);
    ++attempts_;
    if (!connected_) {
      ++while_disconnected_;
      cv_.notify_all();
      return Status::Unavailable("not connected");
    }
    if (fail_) {
      ++failed_;
      cv_.notify_all();
      return Status::Unavailable("connection lost");
    }
    published_.emplace_back(topic, payload);
    cv_.notify_all();
    return Status::Ok();
  }
  bool Connected() const override {
    std::lock_guard lock(mu_);
    ++polls_;
    cv_.notify_all();
    return connected_;
  }
  void SetConnected(bool c) {
    std::lock_guard lock(mu_);
    connected_ = c;
  }
  void SetFail(bool f) {
    std::lock_guard lock(mu_);
    fail_ = f;
  }
  // Waits until pred() (evaluated under the lock) holds; false after the deadline.
  template <typename Pred>
  bool WaitFor(Pred pred) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kDeadline, pred);
  }
  std::vector<std::string> Topics() {
    std::lock_guard lock(mu_);
    std::vector<std::string> t;
    for (const auto& p : published_) t.push_back(p.first);
    return t;
  }

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool connected_ = false;
  bool fail_ = false;
  mutable int polls_ = 0;
  int attempts_ = 0, while_disconnected_ = 0, failed_ = 0;
  std::vector<std::pair<std::string, std::string>> published_;
};

class JobsMqttTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = iotjobs::testing::OpenScratchStore(dir_, /*track_thing_changes=*/true);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    applier_ = std::make_unique<service::Applier>(store_.get());
    devices_ = std::make_unique<service::DeviceService>(service::ServiceConfig{}, store_.get(),
                                                        applier_.get(), nullptr, &clock_, &clock_);
    scheduler_ = std::make_unique<service::Scheduler>(service::SchedulerConfig{}, store_.get(),
                                                      applier_.get(), &clock_);
  }
  void TearDown() override {
    if (mqtt_) mqtt_->Stop();
  }

  void Thing(const std::string& name) {
    jobs::Thing t;
    t.region = kRegion;
    t.name = name;
    t.id = "id-" + name;
    ASSERT_TRUE(store_->CreateThing(t).ok());
  }
  // A job for `things`, its executions created (each a thing-changes outbox entry).
  void Job(const std::string& id, const std::vector<std::string>& things) {
    jobs::Job j;
    j.region = kRegion;
    j.id = id;
    for (const auto& t : things) j.targets.push_back(jobs::ThingArn(kRegion, kAccount, t));
    j.document = "{}";
    j.created_at = j.last_updated_at = clock_.Now();
    ASSERT_TRUE(store_->CreateJob(j, jobs::JobArn(kRegion, kAccount, id), {}).ok());
    auto next = scheduler_->Tick(clock_.Now());
    ASSERT_TRUE(next.ok()) << next.status().ToString();
  }
  size_t Outbox() {
    auto c = devices_->Changes(1000);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? c->size() : 0;
  }
  // Polls the outbox (a store read, no event to wait on) until it is empty; false at the deadline.
  bool OutboxDrains() {
    const auto until = std::chrono::steady_clock::now() + kDeadline;
    while (Outbox() != 0) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }
  void StartMqtt(int workers = 2, KeyedRateLimiter* limiter = nullptr) {
    JobsMqttConfig config;
    config.region = kRegion;
    config.worker_threads = workers;
    config.limiter = limiter;
    mqtt_ = std::make_unique<JobsMqtt>(config, devices_.get());
    mqtt_->Start(&client_, &clock_);
  }

  FakeClock clock_{FromEpochMillis(1'800'000'000'000)};
  iotjobs::testing::TempDir dir_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<service::Applier> applier_;
  std::unique_ptr<service::DeviceService> devices_;
  std::unique_ptr<service::Scheduler> scheduler_;
  FakeMqttClient client_;
  std::unique_ptr<JobsMqtt> mqtt_;
};

// Finding 1 (issue 16): with a non-empty outbox at start-up the notifier published before the
// client's CONNECT (and acknowledged what it could not deliver). Nothing may be published before
// the client reports a connection; the outbox is kept, then drained once it is connected.
TEST_F(JobsMqttTest, Finding1NothingIsPublishedBeforeConnectThenTheOutboxDrains) {
  Thing("dev1");
  Thing("dev2");
  Job("j1", {"dev1", "dev2"});
  ASSERT_EQ(Outbox(), 2u);

  StartMqtt();
  // The notifier has looked at the connection twice (it ran and waited), or published.
  ASSERT_TRUE(client_.WaitFor([&] { return client_.polls_ >= 2 || client_.attempts_ > 0; }));
  {
    std::lock_guard lock(client_.mu_);
    EXPECT_EQ(client_.attempts_, 0) << "published while not connected";
  }
  EXPECT_EQ(Outbox(), 2u) << "the outbox was acknowledged without a connection";

  client_.SetConnected(true);
  mqtt_->OnConnected();
  ASSERT_TRUE(client_.WaitFor([&] { return client_.published_.size() >= 4; }))
      << "notify and notify-next for both things";
  ASSERT_TRUE(OutboxDrains());
  auto topics = client_.Topics();
  std::sort(topics.begin(), topics.end());
  EXPECT_EQ(topics, (std::vector<std::string>{
                        "$aws/things/dev1/jobs/notify", "$aws/things/dev1/jobs/notify-next",
                        "$aws/things/dev2/jobs/notify", "$aws/things/dev2/jobs/notify-next"}));
  std::lock_guard lock(client_.mu_);
  EXPECT_EQ(client_.while_disconnected_, 0);
}

// Finding 1: a connection lost in the middle of a batch keeps the batch in the outbox (it used to
// be acknowledged whatever the publishes returned); it is published once the client is back.
TEST_F(JobsMqttTest, Finding1ABatchThatCouldNotBePublishedStaysInTheOutbox) {
  Thing("dev1");
  client_.SetConnected(true);
  client_.SetFail(true);
  StartMqtt();
  Job("j1", {"dev1"});
  ASSERT_TRUE(client_.WaitFor([&] { return client_.failed_ >= 2; }));
  EXPECT_EQ(Outbox(), 1u);

  client_.SetFail(false);
  mqtt_->OnConnected();
  ASSERT_TRUE(client_.WaitFor([&] { return client_.published_.size() >= 2; }));
  ASSERT_TRUE(OutboxDrains());
  auto topics = client_.Topics();
  std::sort(topics.begin(), topics.end());
  EXPECT_EQ(topics, (std::vector<std::string>{"$aws/things/dev1/jobs/notify",
                                              "$aws/things/dev1/jobs/notify-next"}));
}

// Finding 5 (issue 16): a thing over its rate is answered RequestThrottled on .../rejected (with
// its clientToken; those answers are paced too, so the rest of a flood is dropped) while another
// thing is answered as usual.
TEST_F(JobsMqttTest, Finding5AThingOverItsRateIsThrottledOthersAreAnswered) {
  Thing("hot");
  Thing("cold");
  KeyedRateLimiter limiter({.rate_per_second = 1, .burst = 2, .max_keys = 100}, &clock_);
  client_.SetConnected(true);
  StartMqtt(2, &limiter);
  for (int i = 0; i < 5; ++i) {
    mqtt_->OnMessage("$aws/things/hot/jobs/get",
                     "{\"clientToken\":\"t" + std::to_string(i) + "\"}");
  }
  mqtt_->OnMessage("$aws/things/cold/jobs/get", "{}");
  // 2 accepted and 2 throttled for hot (the fifth is dropped), 1 accepted for cold.
  ASSERT_TRUE(client_.WaitFor([&] { return client_.published_.size() >= 5; }));
  std::map<std::string, int> by_topic;
  std::vector<std::string> throttled_tokens;
  {
    std::lock_guard lock(client_.mu_);
    for (const auto& [topic, payload] : client_.published_) {
      ++by_topic[topic];
      if (topic == "$aws/things/hot/jobs/get/rejected") {
        auto v = boost::json::parse(payload).as_object();
        EXPECT_EQ(v.at("code").as_string(), "RequestThrottled");
        EXPECT_TRUE(v.at("timestamp").is_int64());
        throttled_tokens.emplace_back(v.at("clientToken").as_string());
      }
    }
  }
  EXPECT_EQ(by_topic, (std::map<std::string, int>{{"$aws/things/cold/jobs/get/accepted", 1},
                                                  {"$aws/things/hot/jobs/get/accepted", 2},
                                                  {"$aws/things/hot/jobs/get/rejected", 2}}));
  EXPECT_EQ(throttled_tokens, (std::vector<std::string>{"t2", "t3"}));
  EXPECT_EQ(mqtt_->throttled(), 3);

  // A second later hot has one token again.
  clock_.Advance(std::chrono::seconds(1));
  mqtt_->OnMessage("$aws/things/hot/jobs/get", "{}");
  ASSERT_TRUE(client_.WaitFor([&] { return client_.published_.size() >= 6; }));
  EXPECT_EQ(client_.Topics().back(), "$aws/things/hot/jobs/get/accepted");
}

// Finding 5: things are served in turn, so a quiet thing's request does not wait behind a busy
// thing's backlog (with one worker it used to wait for all 30 of them).
TEST_F(JobsMqttTest, Finding5AQuietThingIsServedBetweenABusyThingsRequests) {
  Thing("hot");
  Thing("cold");
  client_.SetConnected(true);
  StartMqtt(/*workers=*/1);
  for (int i = 0; i < 30; ++i) mqtt_->OnMessage("$aws/things/hot/jobs/get", "{}");
  mqtt_->OnMessage("$aws/things/cold/jobs/get", "{}");
  // The worker may already have answered some of hot's requests (a loaded machine can pause this
  // thread between the calls): cold's answer comes at most one in-flight request and one turn
  // after those answered by now, where a FIFO served it after all 30.
  const auto answered_before = static_cast<std::ptrdiff_t>(client_.Topics().size());
  ASSERT_TRUE(client_.WaitFor([&] { return client_.published_.size() >= 31; }));
  auto topics = client_.Topics();
  const auto cold = std::find(topics.begin(), topics.end(), "$aws/things/cold/jobs/get/accepted");
  ASSERT_NE(cold, topics.end());
  EXPECT_LE(cold - topics.begin(), answered_before + 2)
      << "the quiet thing waited behind the busy one";
}

}  // namespace
}  // namespace iotjobs::device
