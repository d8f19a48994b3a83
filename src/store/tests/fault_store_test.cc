// FaultStore (store/testing/fault_store.h) over a SqliteStore: a fault fails the call with the
// Status a real failure would give and really leaves the inner store unchanged; calls without a
// fault are forwarded.
#include "store/testing/fault_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <thread>
#include <vector>

#include "store/tests/scratch_store.h"
#include "store/tests/temp_dir.h"

namespace iotjobs::store::testing {
namespace {

using Fault = FaultStore::Fault;

jobs::JobTemplate MinimalTemplate(const std::string& region, const std::string& id) {
  jobs::JobTemplate t;
  t.region = region;
  t.id = id;
  t.document = "{}";
  t.created_at = FromEpochMillis(1'700'000'000'000);
  return t;
}

std::string Arn(const std::string& region, const std::string& id) {
  return jobs::JobTemplateArn(region, "123456789012", id);
}

class FaultStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = iotjobs::testing::OpenScratchStore(dir_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    inner_ = std::move(s).value();
    faulty_ = std::make_unique<FaultStore>(inner_.get(), dir_.File("iotjobs.db"));
  }

  Status Create(Store* s, const std::string& id, const std::vector<jobs::Tag>& tags = {}) {
    return s->CreateJobTemplate(MinimalTemplate("us-east-1", id), Arn("us-east-1", id), tags);
  }
  bool Exists(const std::string& id) { return inner_->GetJobTemplate("us-east-1", id).ok(); }

  iotjobs::testing::TempDir dir_;
  std::unique_ptr<SqliteStore> inner_;
  std::unique_ptr<FaultStore> faulty_;
};

TEST_F(FaultStoreTest, WithoutAFaultEveryCallIsForwarded) {
  ASSERT_TRUE(Create(faulty_.get(), "t", {{"k", "v"}}).ok());
  EXPECT_TRUE(Exists("t"));
  auto got = faulty_->GetJobTemplate("us-east-1", "t");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->id, "t");
  EXPECT_EQ(Create(faulty_.get(), "t").code(), Code::kConflict) << "the inner store's errors pass";
  EXPECT_EQ(faulty_->ListTags(Arn("us-east-1", "t"), "", 10)->items.size(), 1u);
  EXPECT_EQ(faulty_->injected(), 0);
}

TEST_F(FaultStoreTest, EachWriteFaultFailsTheWriteAndLeavesTheInnerStoreUnchanged) {
  for (Fault f : {Fault::kCommitFailure, Fault::kBusy, Fault::kDiskFull}) {
    const std::string id = "t" + std::to_string(static_cast<int>(f));
    faulty_->Inject(f);
    Status st = Create(faulty_.get(), id, {{"k", "v"}});
    EXPECT_EQ(st.code(), Code::kUnavailable) << st.ToString();
    EXPECT_FALSE(Exists(id));
    EXPECT_TRUE(inner_->ListTags(Arn("us-east-1", id), "", 10)->items.empty());
    // count 1: the next write goes through.
    ASSERT_TRUE(Create(faulty_.get(), id).ok());
    EXPECT_TRUE(Exists(id));
  }
  EXPECT_EQ(faulty_->injected(), 3);
  faulty_->Inject(Fault::kBusy);
  EXPECT_NE(Create(faulty_.get(), "x").message().find("database is locked"), std::string::npos);
  faulty_->Inject(Fault::kDiskFull);
  Status full = Create(faulty_.get(), "x");
  EXPECT_NE(full.message().find("database or disk is full"), std::string::npos);
  EXPECT_NE(full.message().find(dir_.File("iotjobs.db")), std::string::npos) << "names the file";
}

TEST_F(FaultStoreTest, SkipAndCountPickTheNthWrite) {
  faulty_->Inject(Fault::kBusy, "", /*skip=*/2, /*count=*/2);
  std::vector<Code> codes;
  for (int i = 0; i < 5; ++i)
    codes.push_back(Create(faulty_.get(), "t" + std::to_string(i)).code());
  EXPECT_EQ(codes, (std::vector<Code>{Code::kOk, Code::kOk, Code::kUnavailable, Code::kUnavailable,
                                      Code::kOk}));
  EXPECT_TRUE(Exists("t1"));
  EXPECT_FALSE(Exists("t2"));
  EXPECT_FALSE(Exists("t3"));
  EXPECT_TRUE(Exists("t4"));
  // Reads are not writes: they neither fail nor count.
  faulty_->Inject(Fault::kCommitFailure, "", 1, 1);
  EXPECT_TRUE(faulty_->GetJobTemplate("us-east-1", "t0").ok());
  EXPECT_TRUE(Create(faulty_.get(), "t5").ok());
  EXPECT_FALSE(Create(faulty_.get(), "t6").ok());
}

TEST_F(FaultStoreTest, ARuleNamingAMethodFailsThatMethodOnly) {
  ASSERT_TRUE(Create(faulty_.get(), "t").ok());
  faulty_->Inject(Fault::kDiskFull, "TagResource", 0, FaultStore::kForever);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(faulty_->TagResource(Arn("us-east-1", "t"), {{"k", "v"}}, 50).code(),
              Code::kUnavailable);
  }
  EXPECT_TRUE(Create(faulty_.get(), "u").ok());
  EXPECT_TRUE(faulty_->UntagResource(Arn("us-east-1", "t"), {"k"}).ok());
  EXPECT_TRUE(inner_->ListTags(Arn("us-east-1", "t"), "", 10)->items.empty());
  faulty_->Clear();
  EXPECT_TRUE(faulty_->TagResource(Arn("us-east-1", "t"), {{"k", "v"}}, 50).ok());
  EXPECT_EQ(faulty_->injected(), 3);
}

TEST_F(FaultStoreTest, ReadFaultsFailReadsOnly) {
  ASSERT_TRUE(Create(faulty_.get(), "t").ok());
  faulty_->Inject(Fault::kReadError, "", 0, 3);
  EXPECT_EQ(faulty_->GetJobTemplate("us-east-1", "t").status().code(), Code::kUnavailable);
  EXPECT_EQ(faulty_->ListJobTemplates("us-east-1", "", 10).status().code(), Code::kUnavailable);
  EXPECT_TRUE(Create(faulty_.get(), "u").ok()) << "a write is not a read";
  EXPECT_EQ(faulty_->GetThing("us-east-1", "x").status().code(), Code::kUnavailable)
      << "not NotFound: the read failed";
  EXPECT_EQ(faulty_->GetThing("us-east-1", "x").status().code(), Code::kNotFound);
}

TEST_F(FaultStoreTest, InternalFaultsFailReadsAndWrites) {
  faulty_->Inject(Fault::kInternal, "", 0, 2);
  EXPECT_EQ(faulty_->GetJobTemplate("us-east-1", "t").status().code(), Code::kInternal);
  EXPECT_EQ(Create(faulty_.get(), "t").code(), Code::kInternal);
  EXPECT_FALSE(Exists("t"));
  EXPECT_TRUE(Create(faulty_.get(), "t").ok());
}

// A commit failure runs the caller's function inside the inner store's transaction and then fails
// it: the function's writes are rolled back. Busy never runs it.
TEST_F(FaultStoreTest, TransactFaultsRollTheCallersWritesBack) {
  jobs::Job j;
  j.region = "us-east-1";
  j.id = "j";
  j.document = "{}";
  ASSERT_TRUE(inner_->CreateJob(j, "arn:j", {}).ok());
  // Adds one QUEUED to job j's counters.
  auto add_one = [](int* runs) {
    return [runs](Txn& txn) -> Status {
      ++*runs;
      auto job = txn.FindJob("us-east-1", "j");
      if (!job.ok()) return job.status();
      if (!*job) return Status::NotFound("job j");
      jobs::JobCounters d;
      d.queued = 1;
      return txn.AddCounters((*job)->id, d, 0);
    };
  };
  auto queued = [&] { return inner_->GetJob("us-east-1", "j")->counters.queued; };
  for (Fault f : {Fault::kCommitFailure, Fault::kDiskFull}) {
    int runs = 0;
    faulty_->Inject(f);
    EXPECT_EQ(faulty_->Transact(add_one(&runs)).code(), Code::kUnavailable);
    EXPECT_GE(runs, 1) << "the caller's function ran";
    EXPECT_EQ(queued(), 0) << "and its writes were rolled back";
  }
  int runs = 0;
  faulty_->Inject(Fault::kBusy);
  EXPECT_EQ(faulty_->Transact(add_one(&runs)).code(), Code::kUnavailable);
  EXPECT_EQ(runs, 0);
  // The caller's own error wins over the injected one.
  faulty_->Inject(Fault::kCommitFailure);
  EXPECT_EQ(faulty_->Transact([](Txn&) { return Status::InvalidRequest("mine"); }).code(),
            Code::kInvalidRequest);
  ASSERT_TRUE(faulty_->Transact(add_one(&runs)).ok());
  EXPECT_EQ(queued(), 1);
  faulty_->Inject(Fault::kReadError, "View");
  EXPECT_EQ(faulty_->View([](Txn&) { return Status::Ok(); }).code(), Code::kUnavailable);
  EXPECT_TRUE(faulty_->View([](Txn&) { return Status::Ok(); }).ok());
}

// Rules are shared by every thread: a fault of count N fails exactly N of many concurrent writes,
// and only those are missing from the inner store.
TEST_F(FaultStoreTest, ConcurrentWritesShareTheFaultBudget) {
  constexpr int kThreads = 8, kPerThread = 10, kFaults = 13;
  faulty_->Inject(Fault::kCommitFailure, "", 0, kFaults);
  std::latch start(kThreads);
  std::atomic<int> failed{0}, unexpected{0};
  std::vector<std::thread> threads;
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      start.arrive_and_wait();
      for (int i = 0; i < kPerThread; ++i) {
        Status st = Create(faulty_.get(), "t" + std::to_string(th) + "-" + std::to_string(i));
        if (st.code() == Code::kUnavailable) {
          ++failed;
        } else if (!st.ok()) {
          ++unexpected;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_EQ(failed.load(), kFaults);
  auto page = inner_->ListJobTemplates("us-east-1", "", 250);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->items.size(), static_cast<size_t>(kThreads * kPerThread - kFaults));
}

}  // namespace
}  // namespace iotjobs::store::testing
