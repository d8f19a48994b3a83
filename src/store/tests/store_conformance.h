// The store conformance suite: the behaviour every Store backend must show, written once against
// the Store interface. A backend's test file includes this header (in exactly one translation unit)
// and instantiates the suite with a factory for fresh, empty stores:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformanceTest,
//                            ::testing::Values(StoreBackend{"Sqlite", [] { return ...; }}),
//                            StoreBackendName);
//
// Ordering is byte-wise (what std::string's operator< gives, SQLite's BINARY collation,
// PostgreSQL's COLLATE "C"): paging feeds `next_after` back as `after`, so list order and the `>
// after` filter must agree, and ids of [a-zA-Z0-9_-] order differently under locale collations.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <latch>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "jobs/job_template.h"
#include "store/store.h"

namespace iotjobs::store::testing {

struct StoreBackend {
  std::string name;
  // Returns a fresh, empty store; called once per test. Whatever it allocates (a temporary
  // database, a schema) outlives the store or is released with it.
  std::function<std::unique_ptr<Store>()> make;
};

// Keeps gtest from printing the factory's bytes in test names and failure messages.
inline void PrintTo(const StoreBackend& b, std::ostream* os) { *os << b.name; }

inline std::string StoreBackendName(const ::testing::TestParamInfo<StoreBackend>& info) {
  return info.param.name;
}

// --- Builders ---

inline jobs::JobConfigs FullConfigs() {
  jobs::JobConfigs c;
  c.presigned_url_config =
      jobs::PresignedUrlConfig{"arn:aws:iam::123456789012:role/S3Download", int64_t{3600}};
  jobs::RolloutConfig r;
  r.maximum_per_minute = 77;
  r.exponential_rate =
      jobs::ExponentialRolloutRate{12, 1.7, jobs::RateIncreaseCriteria{std::nullopt, int32_t{25}}};
  c.rollout_config = r;
  c.abort_config = jobs::AbortConfig{{
      {"FAILED", "CANCEL", 12.34, 10},
      {"TIMED_OUT", "CANCEL", 99.99, 2147483647},
      {"ALL", "CANCEL", 0, 1},
  }};
  c.timeout_config = jobs::TimeoutConfig{int64_t{10080}};
  c.retry_config = jobs::RetryConfig{{{"FAILED", 3}, {"TIMED_OUT", 7}}};
  c.maintenance_windows = std::vector<jobs::MaintenanceWindow>{{"cron(0 0 ? * SUN *)", 60},
                                                               {"cron(30 22 1 * ? *)", 1430}};
  c.destination_package_versions =
      std::vector<std::string>{"arn:aws:iot:us-east-1:123456789012:package/p/version/1.0",
                               "arn:aws:iot:us-east-1:123456789012:package/q/version/2.0"};
  return c;
}

// Every field set, including text that needs escaping in JSON and SQL.
inline jobs::JobTemplate FullTemplate(const std::string& region, const std::string& id) {
  jobs::JobTemplate t;
  t.region = region;
  t.id = id;
  t.description = "firmware 2.0 \xE2\x80\x94 \"quoted\", 'single', back\\slash; DROP TABLE tags;";
  t.document = R"({"operation":"update","url":"${aws:iot:s3-presigned-url:s3://b/k}","n":[1,2.5]})";
  t.document_source = "s3://bucket/path/to/doc.json";
  t.configs = FullConfigs();
  t.created_at = FromEpochMillis(1'700'000'123'456);
  return t;
}

// Only the required fields.
inline jobs::JobTemplate MinimalTemplate(const std::string& region, const std::string& id,
                                         int64_t created_ms = 1'700'000'000'000) {
  jobs::JobTemplate t;
  t.region = region;
  t.id = id;
  t.document = "{}";
  t.created_at = FromEpochMillis(created_ms);
  return t;
}

inline std::string Arn(const std::string& region, const std::string& id) {
  return jobs::JobTemplateArn(region, "123456789012", id);
}

class StoreConformanceTest : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override {
    store_ = GetParam().make();
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override { store_.reset(); }

  void Create(const jobs::JobTemplate& t, const std::vector<jobs::Tag>& tags = {}) {
    Status st = store_->CreateJobTemplate(t, Arn(t.region, t.id), tags);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  // Pages through every template of `region` with pages of `limit`, checking page sizes.
  std::vector<std::string> ListAllIds(const std::string& region, int limit) {
    std::vector<std::string> ids;
    std::string after;
    for (int pages = 0; pages < 10000; ++pages) {
      auto page = store_->ListJobTemplates(region, after, limit);
      EXPECT_TRUE(page.ok()) << page.status().ToString();
      if (!page.ok()) break;
      EXPECT_LE(static_cast<int>(page->items.size()), limit);
      for (const auto& t : page->items) {
        EXPECT_EQ(t.region, region);
        ids.push_back(t.id);
      }
      if (page->next_after.empty()) break;
      EXPECT_EQ(static_cast<int>(page->items.size()), limit) << "a short page must be the last";
      EXPECT_EQ(page->next_after, page->items.back().id);
      after = page->next_after;
    }
    return ids;
  }

  std::vector<jobs::Tag> ListAllTags(const std::string& arn, int limit = 1000) {
    std::vector<jobs::Tag> tags;
    std::string after;
    for (int pages = 0; pages < 10000; ++pages) {
      auto page = store_->ListTags(arn, after, limit);
      EXPECT_TRUE(page.ok()) << page.status().ToString();
      if (!page.ok()) break;
      EXPECT_LE(static_cast<int>(page->items.size()), limit);
      tags.insert(tags.end(), page->items.begin(), page->items.end());
      if (page->next_after.empty()) break;
      EXPECT_EQ(page->next_after, page->items.back().key);
      after = page->next_after;
    }
    return tags;
  }

  std::unique_ptr<Store> store_;
};

// --- Templates: create / get / delete ---

TEST_P(StoreConformanceTest, CreateThenGetReturnsEveryFieldExactly) {
  const jobs::JobTemplate t = FullTemplate("us-east-1", "full-1");
  Create(t);
  auto got = store_->GetJobTemplate("us-east-1", "full-1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->region, t.region);
  EXPECT_EQ(got->id, t.id);
  EXPECT_EQ(got->description, t.description);
  EXPECT_EQ(got->document, t.document);
  EXPECT_EQ(got->document_source, t.document_source);
  EXPECT_EQ(ToEpochMillis(got->created_at), ToEpochMillis(t.created_at));
  EXPECT_EQ(got->configs.presigned_url_config, t.configs.presigned_url_config);
  EXPECT_EQ(got->configs.rollout_config, t.configs.rollout_config);
  EXPECT_EQ(got->configs.abort_config, t.configs.abort_config);
  EXPECT_EQ(got->configs.timeout_config, t.configs.timeout_config);
  EXPECT_EQ(got->configs.retry_config, t.configs.retry_config);
  EXPECT_EQ(got->configs.maintenance_windows, t.configs.maintenance_windows);
  EXPECT_EQ(got->configs.destination_package_versions, t.configs.destination_package_versions);
  EXPECT_TRUE(*got == t);
}

TEST_P(StoreConformanceTest, OptionalFieldsAbsentStayAbsent) {
  const jobs::JobTemplate t = MinimalTemplate("us-east-1", "minimal");
  Create(t);
  auto got = store_->GetJobTemplate("us-east-1", "minimal");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_FALSE(got->description.has_value());
  EXPECT_FALSE(got->document_source.has_value());
  ASSERT_TRUE(got->document.has_value());
  EXPECT_EQ(*got->document, "{}");
  EXPECT_FALSE(got->configs.presigned_url_config.has_value());
  EXPECT_FALSE(got->configs.rollout_config.has_value());
  EXPECT_FALSE(got->configs.abort_config.has_value());
  EXPECT_FALSE(got->configs.timeout_config.has_value());
  EXPECT_FALSE(got->configs.retry_config.has_value());
  EXPECT_FALSE(got->configs.maintenance_windows.has_value());
  EXPECT_FALSE(got->configs.destination_package_versions.has_value());
  EXPECT_TRUE(*got == t);
}

// Optional members inside a present config stay absent, and present-but-empty is not absent.
TEST_P(StoreConformanceTest, PartialConfigsRoundTripExactly) {
  jobs::JobTemplate t = MinimalTemplate("us-east-1", "partial");
  t.description = "";  // present and empty is not absent
  t.document.reset();
  t.document_source = "https://s3.amazonaws.com/b/k";
  t.configs.presigned_url_config = jobs::PresignedUrlConfig{};  // both members absent
  jobs::RolloutConfig r;
  r.exponential_rate =
      jobs::ExponentialRolloutRate{1000, 5.0, jobs::RateIncreaseCriteria{int32_t{1}, std::nullopt}};
  t.configs.rollout_config = r;  // maximumPerMinute absent
  t.configs.timeout_config = jobs::TimeoutConfig{};
  t.configs.retry_config = jobs::RetryConfig{{{"ALL", 0}}};
  t.configs.maintenance_windows = std::vector<jobs::MaintenanceWindow>{};
  t.configs.destination_package_versions = std::vector<std::string>{};
  Create(t);
  auto got = store_->GetJobTemplate("us-east-1", "partial");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->description.has_value());
  EXPECT_EQ(*got->description, "");
  EXPECT_FALSE(got->document.has_value());
  ASSERT_TRUE(got->configs.presigned_url_config.has_value());
  EXPECT_FALSE(got->configs.presigned_url_config->role_arn.has_value());
  EXPECT_FALSE(got->configs.presigned_url_config->expires_in_sec.has_value());
  ASSERT_TRUE(got->configs.rollout_config.has_value());
  EXPECT_FALSE(got->configs.rollout_config->maximum_per_minute.has_value());
  ASSERT_TRUE(got->configs.timeout_config.has_value());
  EXPECT_FALSE(got->configs.timeout_config->in_progress_timeout_in_minutes.has_value());
  ASSERT_TRUE(got->configs.maintenance_windows.has_value());
  EXPECT_TRUE(got->configs.maintenance_windows->empty());
  ASSERT_TRUE(got->configs.destination_package_versions.has_value());
  EXPECT_TRUE(got->configs.destination_package_versions->empty());
  EXPECT_TRUE(*got == t);
}

TEST_P(StoreConformanceTest, DuplicateIdIsConflictAndLeavesTheFirstUnchanged) {
  jobs::JobTemplate first = FullTemplate("us-east-1", "dup");
  Create(first, {{"owner", "first"}});
  jobs::JobTemplate second = MinimalTemplate("us-east-1", "dup");
  second.description = "second";
  Status st = store_->CreateJobTemplate(second, Arn("us-east-1", "dup"),
                                        {{"owner", "second"}, {"extra", "x"}});
  EXPECT_EQ(st.code(), Code::kConflict) << st.ToString();
  auto got = store_->GetJobTemplate("us-east-1", "dup");
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(*got == first);
  // The failed create's tags were not written either.
  EXPECT_EQ(ListAllTags(Arn("us-east-1", "dup")), (std::vector<jobs::Tag>{{"owner", "first"}}));
}

TEST_P(StoreConformanceTest, GetMissingIsNotFound) {
  auto got = store_->GetJobTemplate("us-east-1", "nope");
  EXPECT_EQ(got.status().code(), Code::kNotFound);
  Create(MinimalTemplate("us-east-1", "there"));
  EXPECT_EQ(store_->GetJobTemplate("us-east-1", "ther").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->GetJobTemplate("us-east-1", "THERE").status().code(), Code::kNotFound);
}

TEST_P(StoreConformanceTest, DeleteRemovesAndDeleteOfMissingIsNotFound) {
  EXPECT_EQ(store_->DeleteJobTemplate("us-east-1", "nope", Arn("us-east-1", "nope")).code(),
            Code::kNotFound);
  Create(MinimalTemplate("us-east-1", "a"));
  Create(MinimalTemplate("us-east-1", "b"));
  Status st = store_->DeleteJobTemplate("us-east-1", "a", Arn("us-east-1", "a"));
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(store_->GetJobTemplate("us-east-1", "a").status().code(), Code::kNotFound);
  EXPECT_TRUE(store_->GetJobTemplate("us-east-1", "b").ok());
  EXPECT_EQ(store_->DeleteJobTemplate("us-east-1", "a", Arn("us-east-1", "a")).code(),
            Code::kNotFound);
  EXPECT_EQ(ListAllIds("us-east-1", 10), (std::vector<std::string>{"b"}));
  // The id is free again.
  Create(MinimalTemplate("us-east-1", "a", 42));
  auto got = store_->GetJobTemplate("us-east-1", "a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(ToEpochMillis(got->created_at), 42);
}

TEST_P(StoreConformanceTest, RegionsAreSeparateNamespaces) {
  jobs::JobTemplate us = MinimalTemplate("us-east-1", "same");
  us.description = "us";
  jobs::JobTemplate eu = MinimalTemplate("eu-west-1", "same");
  eu.description = "eu";
  Create(us);
  Create(eu);  // no Conflict: a different region
  Create(MinimalTemplate("eu-west-1", "eu-only"));
  EXPECT_EQ(store_->GetJobTemplate("us-east-1", "same")->description, "us");
  EXPECT_EQ(store_->GetJobTemplate("eu-west-1", "same")->description, "eu");
  EXPECT_EQ(store_->GetJobTemplate("us-east-1", "eu-only").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->GetJobTemplate("ap-south-1", "same").status().code(), Code::kNotFound);
  EXPECT_EQ(ListAllIds("us-east-1", 10), (std::vector<std::string>{"same"}));
  EXPECT_EQ(ListAllIds("eu-west-1", 10), (std::vector<std::string>{"eu-only", "same"}));
  EXPECT_TRUE(ListAllIds("ap-south-1", 10).empty());
  EXPECT_EQ(store_->DeleteJobTemplate("ap-south-1", "same", Arn("ap-south-1", "same")).code(),
            Code::kNotFound);
  ASSERT_TRUE(store_->DeleteJobTemplate("eu-west-1", "same", Arn("eu-west-1", "same")).ok());
  EXPECT_EQ(store_->GetJobTemplate("us-east-1", "same")->description, "us");
}

// --- Listing ---

TEST_P(StoreConformanceTest, ListIsOrderedByIdBytewise) {
  // Inserted out of order; mixes the characters whose order differs between collations.
  const std::vector<std::string> ids = {"b", "A", "_x", "a-1", "9", "a_1", "-dash", "Z", "a", "aa"};
  for (size_t i = 0; i < ids.size(); ++i) {
    Create(MinimalTemplate("us-east-1", ids[i], static_cast<int64_t>(i)));
  }
  std::vector<std::string> want = ids;
  std::sort(want.begin(), want.end());
  auto page = store_->ListJobTemplates("us-east-1", "", 100);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  std::vector<std::string> got;
  for (const auto& t : page->items) got.push_back(t.id);
  EXPECT_EQ(got, want);
  EXPECT_TRUE(page->next_after.empty());
  // Listed items are complete templates, not just ids.
  for (const auto& t : page->items) {
    auto one = store_->GetJobTemplate("us-east-1", t.id);
    ASSERT_TRUE(one.ok());
    EXPECT_TRUE(*one == t) << t.id;
  }
}

TEST_P(StoreConformanceTest, ListPagesUntilExhaustedWithoutDuplicatesOrGaps) {
  std::vector<std::string> want;
  for (int i = 0; i < 23; ++i) {
    std::string id = "t" + std::to_string(i * 7919 % 100);  // distinct, not in insertion order
    want.push_back(id);
    Create(MinimalTemplate("us-east-1", id, i));
  }
  Create(MinimalTemplate("eu-west-1", "t5"));  // another region does not leak into the pages
  std::sort(want.begin(), want.end());
  for (int limit : {1, 2, 5, 22, 23, 24, 100}) {
    SCOPED_TRACE("limit " + std::to_string(limit));
    std::vector<std::string> got = ListAllIds("us-east-1", limit);
    EXPECT_EQ(got, want);
    EXPECT_EQ(std::set<std::string>(got.begin(), got.end()).size(), got.size());
  }
}

TEST_P(StoreConformanceTest, ListExactlyFullLastPageHasNoNextAfter) {
  for (int i = 0; i < 10; ++i) Create(MinimalTemplate("us-east-1", "t" + std::to_string(i)));
  auto p1 = store_->ListJobTemplates("us-east-1", "", 5);
  ASSERT_TRUE(p1.ok());
  ASSERT_EQ(p1->items.size(), 5u);
  EXPECT_EQ(p1->next_after, "t4");
  auto p2 = store_->ListJobTemplates("us-east-1", p1->next_after, 5);
  ASSERT_TRUE(p2.ok());
  ASSERT_EQ(p2->items.size(), 5u);
  EXPECT_EQ(p2->items.front().id, "t5");
  EXPECT_TRUE(p2->next_after.empty()) << "no items follow, so no cursor";
}

TEST_P(StoreConformanceTest, ListAfterAKeyThatIsNotAnIdStartsAtTheNextGreater) {
  for (const char* id : {"a", "c", "e"}) Create(MinimalTemplate("us-east-1", id));
  auto page = store_->ListJobTemplates("us-east-1", "b", 10);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].id, "c");
  EXPECT_EQ(page->items[1].id, "e");
  auto past = store_->ListJobTemplates("us-east-1", "z", 10);
  ASSERT_TRUE(past.ok());
  EXPECT_TRUE(past->items.empty());
  EXPECT_TRUE(past->next_after.empty());
}

TEST_P(StoreConformanceTest, ListOfEmptyRegionIsEmpty) {
  auto page = store_->ListJobTemplates("us-east-1", "", 50);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_TRUE(page->items.empty());
  EXPECT_TRUE(page->next_after.empty());
}

// --- Tags ---

TEST_P(StoreConformanceTest, CreateStoresTagsListedByKey) {
  Create(MinimalTemplate("us-east-1", "t"), {{"zeta", "1"}, {"alpha", ""}, {"Mid", "m"}});
  EXPECT_EQ(ListAllTags(Arn("us-east-1", "t")),
            (std::vector<jobs::Tag>{{"Mid", "m"}, {"alpha", ""}, {"zeta", "1"}}));
}

TEST_P(StoreConformanceTest, TagAddsAndOverwritesUntagRemoves) {
  const std::string arn = Arn("us-east-1", "t");
  Create(MinimalTemplate("us-east-1", "t"), {{"a", "1"}});
  ASSERT_TRUE(store_->TagResource(arn, {{"a", "2"}, {"b", "3"}}, 50).ok());
  EXPECT_EQ(ListAllTags(arn), (std::vector<jobs::Tag>{{"a", "2"}, {"b", "3"}}));
  ASSERT_TRUE(store_->TagResource(arn, {{"c", "4"}}, 50).ok());
  EXPECT_EQ(ListAllTags(arn), (std::vector<jobs::Tag>{{"a", "2"}, {"b", "3"}, {"c", "4"}}));
  // Keys that are not there are ignored.
  ASSERT_TRUE(store_->UntagResource(arn, {"a", "c", "never"}).ok());
  EXPECT_EQ(ListAllTags(arn), (std::vector<jobs::Tag>{{"b", "3"}}));
  ASSERT_TRUE(store_->UntagResource(arn, {}).ok());
  EXPECT_EQ(ListAllTags(arn), (std::vector<jobs::Tag>{{"b", "3"}}));
  ASSERT_TRUE(store_->UntagResource(arn, {"b"}).ok());
  EXPECT_TRUE(ListAllTags(arn).empty());
}

TEST_P(StoreConformanceTest, TagsAreKeyedByArn) {
  const std::string a = Arn("us-east-1", "a"), b = Arn("us-east-1", "b"),
                    a_eu = Arn("eu-west-1", "a");
  ASSERT_TRUE(store_->TagResource(a, {{"k", "a"}}, 50).ok());
  ASSERT_TRUE(store_->TagResource(b, {{"k", "b"}}, 50).ok());
  ASSERT_TRUE(store_->TagResource(a_eu, {{"k", "a-eu"}}, 50).ok());
  EXPECT_EQ(ListAllTags(a), (std::vector<jobs::Tag>{{"k", "a"}}));
  EXPECT_EQ(ListAllTags(b), (std::vector<jobs::Tag>{{"k", "b"}}));
  EXPECT_EQ(ListAllTags(a_eu), (std::vector<jobs::Tag>{{"k", "a-eu"}}));
  ASSERT_TRUE(store_->UntagResource(a, {"k"}).ok());
  EXPECT_TRUE(ListAllTags(a).empty());
  EXPECT_EQ(ListAllTags(b).size(), 1u);
  EXPECT_TRUE(ListAllTags(Arn("us-east-1", "none")).empty());
}

TEST_P(StoreConformanceTest, ListTagsPagesWithoutDuplicatesOrGaps) {
  const std::string arn = Arn("us-east-1", "t");
  std::vector<jobs::Tag> want;
  for (int i = 0; i < 17; ++i) want.push_back({"key" + std::to_string(i), std::to_string(i)});
  ASSERT_TRUE(store_->TagResource(arn, want, 50).ok());
  std::sort(want.begin(), want.end(), [](const auto& x, const auto& y) { return x.key < y.key; });
  for (int limit : {1, 3, 16, 17, 18}) {
    SCOPED_TRACE("limit " + std::to_string(limit));
    EXPECT_EQ(ListAllTags(arn, limit), want);
  }
  auto first = store_->ListTags(arn, "", 17);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->next_after.empty());
}

TEST_P(StoreConformanceTest, TagPastMaxIsLimitExceededAndChangesNothing) {
  const std::string arn = Arn("us-east-1", "t");
  Create(MinimalTemplate("us-east-1", "t"), {{"a", "1"}, {"b", "2"}});
  ASSERT_TRUE(store_->TagResource(arn, {{"c", "3"}}, 3).ok());  // exactly at the limit is fine
  const std::vector<jobs::Tag> before = {{"a", "1"}, {"b", "2"}, {"c", "3"}};
  // Overwrites one tag and adds one: the overwrite must be rolled back with the rest.
  Status st = store_->TagResource(arn, {{"a", "changed"}, {"d", "4"}}, 3);
  EXPECT_EQ(st.code(), Code::kLimitExceeded) << st.ToString();
  EXPECT_EQ(ListAllTags(arn), before);
  // Overwriting only existing keys keeps the count, so it succeeds at the limit.
  ASSERT_TRUE(store_->TagResource(arn, {{"a", "changed"}}, 3).ok());
  EXPECT_EQ(ListAllTags(arn), (std::vector<jobs::Tag>{{"a", "changed"}, {"b", "2"}, {"c", "3"}}));
}

TEST_P(StoreConformanceTest, DeleteTemplateRemovesItsTags) {
  const std::string arn = Arn("us-east-1", "t");
  Create(MinimalTemplate("us-east-1", "t"), {{"a", "1"}});
  ASSERT_TRUE(store_->TagResource(arn, {{"b", "2"}}, 50).ok());
  Create(MinimalTemplate("us-east-1", "other"), {{"keep", "me"}});
  ASSERT_TRUE(store_->DeleteJobTemplate("us-east-1", "t", arn).ok());
  EXPECT_TRUE(ListAllTags(arn).empty());
  EXPECT_EQ(ListAllTags(Arn("us-east-1", "other")), (std::vector<jobs::Tag>{{"keep", "me"}}));
  // A template created again under the same id starts without tags.
  Create(MinimalTemplate("us-east-1", "t"));
  EXPECT_TRUE(ListAllTags(arn).empty());
}

// --- Concurrency ---

// Every write from many threads at once succeeds and is readable afterwards (backends group-commit
// them; see store.h).
TEST_P(StoreConformanceTest, ConcurrentCreatesAllSucceedAndAreReadable) {
  constexpr int kThreads = 32, kPerThread = 50;
  std::latch start(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      start.arrive_and_wait();
      for (int i = 0; i < kPerThread; ++i) {
        jobs::JobTemplate t = MinimalTemplate(
            "us-east-1", "w" + std::to_string(th) + "-" + std::to_string(i), th * 1000 + i);
        t.description = std::to_string(th * 1000 + i);
        Status st = store_->CreateJobTemplate(t, Arn(t.region, t.id), {{"thread", t.id}});
        if (!st.ok()) {
          ++failures;
          ADD_FAILURE() << t.id << ": " << st.ToString();
        }
        // Reads interleave with other threads' writes.
        if (!store_->GetJobTemplate("us-east-1", t.id).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  std::vector<std::string> ids = ListAllIds("us-east-1", 250);
  EXPECT_EQ(ids.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());
  for (int th = 0; th < kThreads; ++th) {
    for (int i = 0; i < kPerThread; ++i) {
      const std::string id = "w" + std::to_string(th) + "-" + std::to_string(i);
      auto got = store_->GetJobTemplate("us-east-1", id);
      ASSERT_TRUE(got.ok()) << id;
      EXPECT_EQ(got->description, std::to_string(th * 1000 + i));
      EXPECT_EQ(ListAllTags(Arn("us-east-1", id)), (std::vector<jobs::Tag>{{"thread", id}}));
    }
  }
}

// Failing writes issued together with good ones (so a group commit mixes them) fail alone.
TEST_P(StoreConformanceTest, FailingWritesAmongConcurrentWritesDoNotFailTheOthers) {
  constexpr int kThreads = 32, kRounds = 20;
  Create(MinimalTemplate("us-east-1", "taken"));
  ASSERT_TRUE(store_->TagResource(Arn("us-east-1", "full"), {{"only", "1"}}, 1).ok());
  std::latch start(kThreads);
  std::atomic<int> unexpected{0}, dup_created{0};
  std::vector<std::thread> threads;
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      start.arrive_and_wait();
      for (int i = 0; i < kRounds; ++i) {
        const std::string id = "ok" + std::to_string(th) + "-" + std::to_string(i);
        if (!store_->CreateJobTemplate(MinimalTemplate("us-east-1", id), Arn("us-east-1", id), {})
                 .ok()) {
          ++unexpected;
        }
        // Always a conflict.
        if (store_
                ->CreateJobTemplate(MinimalTemplate("us-east-1", "taken"),
                                    Arn("us-east-1", "taken"), {{"bad", "tag"}})
                .code() != Code::kConflict) {
          ++unexpected;
        }
        // Always over the limit.
        if (store_->TagResource(Arn("us-east-1", "full"), {{"k" + std::to_string(th), "v"}}, 1)
                .code() != Code::kLimitExceeded) {
          ++unexpected;
        }
        // Contended: exactly one thread wins each round's id.
        const std::string shared = "shared-" + std::to_string(i);
        Status st = store_->CreateJobTemplate(MinimalTemplate("us-east-1", shared),
                                              Arn("us-east-1", shared), {});
        if (st.ok()) {
          ++dup_created;
        } else if (st.code() != Code::kConflict) {
          ++unexpected;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_EQ(dup_created.load(), kRounds);
  std::vector<std::string> ids = ListAllIds("us-east-1", 250);
  EXPECT_EQ(ids.size(), static_cast<size_t>(kThreads * kRounds + kRounds + 1));
  EXPECT_TRUE(ListAllTags(Arn("us-east-1", "taken")).empty());
  EXPECT_EQ(ListAllTags(Arn("us-east-1", "full")), (std::vector<jobs::Tag>{{"only", "1"}}));
}

}  // namespace iotjobs::store::testing
