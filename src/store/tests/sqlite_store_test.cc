#include "store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "store/tests/store_conformance.h"
#include "store/tests/store_conformance_jobs.h"
#include "store/tests/store_conformance_txn.h"
#include "store/tests/temp_dir.h"

namespace iotjobs::store {
namespace {

using testing::FullTemplate;
using testing::MinimalTemplate;
using testing::StoreBackend;
using testing::StoreConformanceTest;
using testing::StoreJobsBackend;
using testing::StoreJobsConformanceTest;
using testing::StoreTxnConformanceTest;

// Every conformance test gets its own database file under one directory removed at exit.
iotjobs::testing::TempDir& ScratchRoot() {
  static iotjobs::testing::TempDir dir;
  return dir;
}

std::unique_ptr<Store> FreshSqliteStore(bool track_thing_changes) {
  static std::atomic<int> n{0};
  SqliteStore::Options o;
  o.path = ScratchRoot().File("conformance-" + std::to_string(n++) + ".db");
  o.track_thing_changes = track_thing_changes;
  auto s = SqliteStore::Open(o);
  if (!s.ok()) {
    ADD_FAILURE() << s.status().ToString();
    return nullptr;
  }
  return std::move(s).value();
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformanceTest,
                         ::testing::Values(StoreBackend{"Sqlite",
                                                        [] { return FreshSqliteStore(false); }}),
                         testing::StoreBackendName);

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreJobsConformanceTest,
                         ::testing::Values(StoreJobsBackend{"Sqlite", FreshSqliteStore}),
                         testing::StoreJobsBackendName);

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreTxnConformanceTest,
                         ::testing::Values(StoreJobsBackend{"Sqlite", FreshSqliteStore}),
                         testing::StoreJobsBackendName);

// --- SQLite-specific behaviour ---

class SqliteStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<SqliteStore> Open() {
    SqliteStore::Options o;
    o.path = path_;
    auto s = SqliteStore::Open(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  // Runs `sql` on a connection of our own, outside the store; returns the first column of the
  // first row as an integer (0 when there is none).
  int64_t RawQuery(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    int64_t v = 0;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    EXPECT_TRUE(rc == SQLITE_ROW || rc == SQLITE_DONE) << sqlite3_errmsg(db);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
  }

  iotjobs::testing::TempDir dir_;
  std::string path_ = dir_.File("iotjobs.db");
};

TEST_F(SqliteStoreTest, DataSurvivesCloseAndReopen) {
  const jobs::JobTemplate full = FullTemplate("us-east-1", "full");
  const std::string arn = testing::Arn("us-east-1", "full");
  {
    auto s = Open();
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(s->CreateJobTemplate(full, arn, {{"a", "1"}}).ok());
    ASSERT_TRUE(s->CreateJobTemplate(MinimalTemplate("eu-west-1", "gone"),
                                     testing::Arn("eu-west-1", "gone"), {})
                    .ok());
    ASSERT_TRUE(s->TagResource(arn, {{"b", "2"}}, 50).ok());
    ASSERT_TRUE(s->DeleteJobTemplate("eu-west-1", "gone", testing::Arn("eu-west-1", "gone")).ok());
  }  // destroyed: the writer thread stops, every connection closes
  auto s = Open();
  ASSERT_NE(s, nullptr);
  auto got = s->GetJobTemplate("us-east-1", "full");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(*got == full);
  EXPECT_EQ(s->GetJobTemplate("eu-west-1", "gone").status().code(), Code::kNotFound);
  auto tags = s->ListTags(arn, "", 10);
  ASSERT_TRUE(tags.ok());
  EXPECT_EQ(tags->items, (std::vector<jobs::Tag>{{"a", "1"}, {"b", "2"}}));
  // Still writable, and the id is still taken.
  EXPECT_EQ(s->CreateJobTemplate(full, arn, {}).code(), Code::kConflict);
}

TEST_F(SqliteStoreTest, SchemaVersionIsRecordedInUserVersion) {
  EXPECT_GE(SqliteStore::SchemaVersion(), 1);
  {
    auto s = Open();
    ASSERT_NE(s, nullptr);
  }
  EXPECT_EQ(RawQuery("PRAGMA user_version"), SqliteStore::SchemaVersion());
  // Reopening an up-to-date database migrates nothing and keeps the data.
  {
    auto s = Open();
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(
        s->CreateJobTemplate(MinimalTemplate("us-east-1", "t"), testing::Arn("us-east-1", "t"), {})
            .ok());
  }
  auto s = Open();
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->GetJobTemplate("us-east-1", "t").ok());
  EXPECT_EQ(RawQuery("PRAGMA user_version"), SqliteStore::SchemaVersion());
}

TEST_F(SqliteStoreTest, DatabaseFromANewerVersionIsRefused) {
  {
    auto s = Open();
    ASSERT_NE(s, nullptr);
  }
  const int newer = SqliteStore::SchemaVersion() + 1;
  RawQuery("PRAGMA user_version = " + std::to_string(newer));
  SqliteStore::Options o;
  o.path = path_;
  auto s = SqliteStore::Open(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("newer"), std::string::npos) << s.status().ToString();
  // Refusing does not touch the database.
  EXPECT_EQ(RawQuery("PRAGMA user_version"), newer);
}

// Migration 9 (ids never reused) on a database whose deleted maximum ids would otherwise be
// handed out again: the data survives and the sequences start above every id still referred to.
// The pre-9 behaviour is recreated by forgetting the sequences, migration 13's columns and the
// schema version.
TEST_F(SqliteStoreTest, MigrationKeepsDeletedThingAndGroupIdsFromBeingReused) {
  const Instant now = FromEpochMillis(1'800'000'000'000);
  auto thing = [](const std::string& name) {
    jobs::Thing t;
    t.region = "us-east-1";
    t.name = name;
    t.id = "id-" + name;
    t.attributes = {{"k", name}};
    return t;
  };
  auto group = [&](const std::string& name) {
    jobs::ThingGroup g;
    g.region = "us-east-1";
    g.name = name;
    g.id = "gid-" + name;
    g.created_at = now;
    return g;
  };
  const std::string gone_arn = jobs::ThingGroupArn("us-east-1", "123456789012", "gone-group");
  {
    auto s = Open();
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(s->CreateThing(thing("kept")).ok());
    ASSERT_TRUE(s->CreateThing(thing("gone")).ok());
    ASSERT_TRUE(s->CreateThingGroup(group("kept-group"), "arn:kept", {}).ok());
    ASSERT_TRUE(s->CreateThingGroup(group("gone-group"), gone_arn, {}).ok());
    ASSERT_TRUE(s->AddThingToGroup("us-east-1", "kept", "kept-group", now).ok());
    jobs::Job j;
    j.region = "us-east-1";
    j.id = "j";
    j.target_selection = "CONTINUOUS";
    j.targets = {jobs::ThingArn("us-east-1", "123456789012", "gone"), gone_arn};
    j.document = "{}";
    j.created_at = now;
    ASSERT_TRUE(s->CreateJob(j, "arn:job", {}).ok());
    auto work = s->PendingJobWork();
    ASSERT_TRUE(work.ok());
    ASSERT_EQ(work->size(), 1u);
    ASSERT_TRUE(s->MaterializeExecutions(work->front().job, 10, now).ok());
    ASSERT_TRUE(s->DeleteThing("us-east-1", "gone", -1, now).ok());
    ASSERT_TRUE(s->DeleteThingGroup("us-east-1", "gone-group", gone_arn, -1).ok());
  }
  RawQuery("DELETE FROM sqlite_sequence WHERE name IN ('things', 'thing_groups')");
  // Migration 13's columns go too (ALTER TABLE ADD COLUMN cannot be repeated).
  RawQuery("DROP INDEX jobs_with_schedule");
  RawQuery("ALTER TABLE jobs DROP COLUMN namespace_id");
  RawQuery("ALTER TABLE jobs DROP COLUMN has_schedule");
  RawQuery("PRAGMA user_version = 8");
  auto s = Open();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(RawQuery("PRAGMA user_version"), SqliteStore::SchemaVersion());
  auto kept = s->GetThing("us-east-1", "kept");
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_TRUE(*kept == thing("kept"));
  auto members = s->ListThingsInGroup("us-east-1", "kept-group", false, "", 10);
  ASSERT_TRUE(members.ok());
  EXPECT_EQ(members->items, (std::vector<std::string>{"kept"}));

  ASSERT_TRUE(s->CreateThing(thing("new")).ok());
  auto mine = s->ListExecutionsForThing("us-east-1", "new", std::nullopt, "", "", 10);
  ASSERT_TRUE(mine.ok());
  EXPECT_TRUE(mine->items.empty());
  auto listed = s->ListExecutionsForJob("us-east-1", "j", std::nullopt, "", 10);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->items.size(), 1u);
  EXPECT_EQ(listed->items[0].thing_name, "gone");
  ASSERT_TRUE(s->CreateThingGroup(group("new-group"), "arn:new", {}).ok());
  ASSERT_TRUE(s->AddThingToGroup("us-east-1", "new", "new-group", now).ok());
  EXPECT_EQ(s->GetExecution("us-east-1", "j", "new", std::nullopt).status().code(),
            Code::kNotFound);
  EXPECT_TRUE(s->DeleteThing("us-east-1", "new", -1, now).ok());
}

// A data directory written by the previous release (schema 12; tests/fixtures/v12.db, made by
// tests/fixtures/make_v12_fixture.py) opens, migrates to 13 with the typed columns filled from
// the stored specs, and serves through the Store's reads and store::Txn alike.
TEST_F(SqliteStoreTest, ADataDirectoryOfSchema12MigratesAndServes) {
  std::filesystem::copy_file(IOTJOBS_FIXTURES_DIR "/v12.db", path_);
  EXPECT_EQ(RawQuery("PRAGMA user_version"), 12);
  auto s = Open();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(SqliteStore::SchemaVersion(), 13);
  EXPECT_EQ(RawQuery("PRAGMA user_version"), 13);
  EXPECT_EQ(RawQuery("SELECT count(*) FROM jobs WHERE namespace_id = 'ns-a'"), 3);
  EXPECT_EQ(RawQuery("SELECT count(*) FROM jobs WHERE namespace_id = 'ns-b'"), 1);
  EXPECT_EQ(RawQuery("SELECT count(*) FROM jobs WHERE namespace_id IS NULL"), 5);
  EXPECT_EQ(RawQuery("SELECT count(*) FROM jobs WHERE has_schedule = 1"), 2);
  EXPECT_EQ(RawQuery("SELECT has_schedule FROM jobs WHERE job_id = 'windows-canceled'"), 1);

  // The Store's reads.
  auto job = s->GetJob("us-east-1", "snap-mixed");
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ(job->namespace_id, "ns-a");
  EXPECT_EQ(job->counters, (jobs::JobCounters{.queued = 2, .in_progress = 1, .rejected = 1}));
  Store::JobFilter filter;
  filter.namespace_id = "ns-a";
  auto ns = s->ListJobs("us-east-1", filter, "", 10);
  ASSERT_TRUE(ns.ok()) << ns.status().ToString();
  std::vector<std::string> ids;
  for (const auto& j : ns->items) ids.push_back(j.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"scheduled", "timeouts", "snap-mixed"}));
  auto scheduled = s->ScheduledJobs();
  ASSERT_TRUE(scheduled.ok());
  ASSERT_EQ(scheduled->size(), 1u);
  EXPECT_EQ(scheduled->front().id, "scheduled");
  auto pending = s->PendingExecutions("us-east-1", "dev-4", 10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ(pending->front().job_id, "snap-mixed");

  // The rules' view through store::Txn.
  using ES = jobs::ExecutionStatus;
  Status st = s->View([&](Txn& t) -> Status {
    auto r = t.FindJob("us-east-1", "snap-mixed");
    if (!r.ok()) return r.status();
    EXPECT_TRUE(r->has_value() && (*r)->job == *job);
    auto sj = t.ScheduledJobsIn({jobs::kJobScheduled, jobs::kJobInProgress});
    if (!sj.ok()) return sj.status();
    EXPECT_EQ(sj->size(), 1u);
    EXPECT_TRUE(!sj->empty() && sj->front().job.id == "scheduled");
    auto dev2 = t.ThingId("us-east-1", "dev-2");
    if (!dev2.ok()) return dev2.status();
    auto retried = t.ExecutionsOf((*r)->id, dev2->value_or(0));
    if (!retried.ok()) return retried.status();
    EXPECT_EQ(retried->size(), 2u);
    if (retried->size() == 2) {
      EXPECT_EQ((*retried)[0].e.status, ES::kFailed);
      EXPECT_FALSE((*retried)[0].latest);
      EXPECT_EQ((*retried)[1].e.status, ES::kQueued);
      EXPECT_EQ((*retried)[1].retry_cause, ES::kFailed);
      EXPECT_EQ((*retried)[1].e.thing_name, "dev-2");
    }
    auto c = t.FindJob("us-east-1", "continuous");
    if (!c.ok()) return c.status();
    auto latest = t.LatestOfJob((*c)->id, 0, {}, 10);
    if (!latest.ok()) return latest.status();
    std::map<std::string, ES> by_thing;
    for (const auto& e : *latest) by_thing[e.e.thing_name] = e.e.status;
    EXPECT_EQ(by_thing, (std::map<std::string, ES>{{"dev-5", ES::kSucceeded},
                                                   {"dev-6", ES::kRemoved},
                                                   {"dev-7", ES::kQueued},
                                                   {"dev-8", ES::kRemoved}}));
    auto timers = t.NextTimer();
    if (!timers.ok()) return timers.status();
    EXPECT_FALSE(timers->has_value());
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  // And writes through a Transact.
  ASSERT_TRUE(s->Transact([&](Txn& t) -> Status {
                 auto r = t.FindJob("us-east-1", "snap-mixed");
                 if (!r.ok()) return r.status();
                 return t.AddCounters((*r)->id, jobs::JobCounters{.succeeded = 1}, 0);
               }).ok());
  job = s->GetJob("us-east-1", "snap-mixed");
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->counters.succeeded, 1);
}

TEST_F(SqliteStoreTest, OpenInAMissingDirectoryFails) {
  SqliteStore::Options o;
  o.path = dir_.File("no/such/dir/iotjobs.db");
  auto s = SqliteStore::Open(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kUnavailable) << s.status().ToString();
}

TEST_F(SqliteStoreTest, UsesWriteAheadLogging) {
  {
    auto s = Open();
    ASSERT_NE(s, nullptr);
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

// The writer never checkpoints (its commits would wait for it); the checkpointer thread copies
// the WAL into the database file once enough pages were appended, while the store stays open.
TEST_F(SqliteStoreTest, TheCheckpointerCopiesTheWalIntoTheDatabaseFile) {
  SqliteStore::Options o;
  o.path = path_;
  o.checkpoint_pages = 50;
  auto opened = SqliteStore::Open(o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto s = std::move(opened).value();
  const auto before = std::filesystem::file_size(path_);
  for (int i = 0; i < 200; ++i) {
    jobs::JobTemplate t = MinimalTemplate("us-east-1", "big-" + std::to_string(i));
    t.description = std::string(2000, 'x');
    ASSERT_TRUE(s->CreateJobTemplate(t, testing::Arn("us-east-1", t.id), {}).ok());
  }
  // 200 templates of 2 KB are 400 KB of pages in the WAL; the database file grows as they are
  // copied. Polled, with a deadline: the checkpointer runs on its own schedule.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::filesystem::file_size(path_) < before + 200 * 1024 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(std::filesystem::file_size(path_), before + 200 * 1024)
      << "nothing was checkpointed while the store was open";
}

// Writes queued behind a busy database are all applied once it frees up, and none is lost when
// the store is destroyed right after they return.
TEST_F(SqliteStoreTest, WritesWaitForAnotherWriterAndThenCommit) {
  auto s = Open();
  ASSERT_NE(s, nullptr);
  // Another connection holds the write lock, so the writer thread's BEGIN IMMEDIATE waits (busy
  // timeout) while writes pile up in the queue.
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path_.c_str(), &other, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  constexpr int kThreads = 16;
  std::latch started(kThreads);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      started.count_down();
      const std::string id = i % 4 == 0 ? "dup" : "t" + std::to_string(i);
      Status st =
          s->CreateJobTemplate(MinimalTemplate("us-east-1", id), testing::Arn("us-east-1", id), {});
      if (!st.ok() && !(id == "dup" && st.code() == Code::kConflict)) ++failures;
    });
  }
  started.wait();
  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  for (auto& t : threads) t.join();
  sqlite3_close(other);
  EXPECT_EQ(failures.load(), 0);
  s.reset();
  s = Open();
  ASSERT_NE(s, nullptr);
  auto page = s->ListJobTemplates("us-east-1", "", 100);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->items.size(), static_cast<size_t>(kThreads - kThreads / 4 + 1));
}

}  // namespace
}  // namespace iotjobs::store
