// The store conformance suite, third part: every method of the Store interface the first two
// parts (store_conformance.h, store_conformance_jobs.h) do not call, and every documented error,
// order and paging case of the non-rule methods (things, groups, memberships, bulk registration,
// registration tasks, jobs, executions as read back, event configurations, the outboxes,
// transactions), plus concurrent writers racing on one row. The rule operations (marked "legacy"
// in store.h) are not tested here: they move to service::Applier, which has its own tests.
//
// A backend's test file includes this header in exactly one translation unit and instantiates it
// with the factory of store_conformance.h:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StoreMoreConformanceTest,
//                            ::testing::Values(StoreBackend{"Sqlite", [] { return ...; }}),
//                            StoreBackendName);
//
// Time is passed in; nothing sleeps.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <latch>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "jobs/job.h"
#include "jobs/registry.h"
#include "store/store.h"
#include "store/tests/store_conformance.h"
#include "store/txn.h"

namespace iotjobs::store::testing {

class StoreMoreConformanceTest : public ::testing::TestWithParam<StoreBackend> {
 protected:
  static constexpr const char* kRegion = "us-east-1";
  static constexpr const char* kAccount = "123456789012";
  using ES = jobs::ExecutionStatus;

  void SetUp() override {
    store_ = GetParam().make();
    ASSERT_NE(store_, nullptr);
    // Store::Transact's bootstrap default refuses with Internal; a backend that implements it
    // commits an empty transaction.
  }
  void TearDown() override { store_.reset(); }

  Instant T(int64_t seconds) const { return t0_ + std::chrono::seconds(seconds); }
  static std::string ThingArn(const std::string& name) {
    return jobs::ThingArn(kRegion, kAccount, name);
  }
  static std::string GroupArn(const std::string& name) {
    return jobs::ThingGroupArn(kRegion, kAccount, name);
  }
  static std::string JobArn(const std::string& id) { return jobs::JobArn(kRegion, kAccount, id); }

  static jobs::Thing MakeThing(const std::string& name, jobs::Attributes attributes = {},
                               std::optional<std::string> type = std::nullopt) {
    jobs::Thing t;
    t.region = kRegion;
    t.name = name;
    t.id = "id-" + name;
    t.attributes = std::move(attributes);
    t.thing_type_name = std::move(type);
    return t;
  }
  void Thing(const std::string& name, jobs::Attributes attributes = {},
             std::optional<std::string> type = std::nullopt) {
    Status st = store_->CreateThing(MakeThing(name, std::move(attributes), std::move(type)));
    ASSERT_TRUE(st.ok()) << name << ": " << st.ToString();
  }
  jobs::ThingGroup MakeGroup(const std::string& name,
                             const std::optional<std::string>& parent = std::nullopt) const {
    jobs::ThingGroup g;
    g.region = kRegion;
    g.name = name;
    g.id = "gid-" + name;
    g.parent_name = parent;
    g.created_at = t0_;
    return g;
  }
  Status Group(const std::string& name, const std::optional<std::string>& parent = std::nullopt) {
    return store_->CreateThingGroup(MakeGroup(name, parent), GroupArn(name), {});
  }
  void Member(const std::string& thing, const std::string& group) {
    Status st = store_->AddThingToGroup(kRegion, thing, group, t0_);
    ASSERT_TRUE(st.ok()) << thing << " -> " << group << ": " << st.ToString();
  }
  jobs::Job MakeJob(const std::string& id, std::vector<std::string> targets, Instant created,
                    const std::string& selection = "SNAPSHOT") const {
    jobs::Job j;
    j.region = kRegion;
    j.id = id;
    j.targets = std::move(targets);
    j.target_selection = selection;
    j.document = R"({"op":"noop"})";
    j.created_at = created;
    j.last_updated_at = created;
    return j;
  }
  void CreateJob(const jobs::Job& j, const std::vector<jobs::Tag>& tags = {}) {
    Status st = store_->CreateJob(j, JobArn(j.id), tags);
    ASSERT_TRUE(st.ok()) << j.id << ": " << st.ToString();
  }

  std::vector<jobs::Tag> Tags(const std::string& arn) {
    auto p = store_->ListTags(arn, "", 250);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? p->items : std::vector<jobs::Tag>{};
  }

  // Pages through a list call with pages of `limit`, checking the paging contract; returns the
  // keys of every item in order.
  template <typename T, typename Call, typename Key>
  std::vector<std::string> PageAll(Call call, Key key, int limit) {
    std::vector<std::string> keys;
    std::string after;
    for (int pages = 0; pages < 10000; ++pages) {
      Result<Page<T>> page = call(after, limit);
      EXPECT_TRUE(page.ok()) << page.status().ToString();
      if (!page.ok()) break;
      EXPECT_LE(static_cast<int>(page->items.size()), limit);
      for (const auto& item : page->items) keys.push_back(key(item));
      if (page->next_after.empty()) break;
      EXPECT_EQ(static_cast<int>(page->items.size()), limit) << "a short page must be the last";
      after = page->next_after;
    }
    return keys;
  }
  std::vector<std::string> ThingNames(const Store::ThingFilter& f, int limit = 250) {
    return PageAll<jobs::Thing>(
        [&](const std::string& after, int n) { return store_->ListThings(kRegion, f, after, n); },
        [](const jobs::Thing& t) { return t.name; }, limit);
  }
  std::vector<std::string> GroupNames(const Store::GroupFilter& f, int limit = 250) {
    return PageAll<jobs::ThingGroup>(
        [&](const std::string& after, int n) {
          return store_->ListThingGroups(kRegion, f, after, n);
        },
        [](const jobs::ThingGroup& g) { return g.name; }, limit);
  }
  std::vector<std::string> JobIds(const Store::JobFilter& f, int limit = 250) {
    return PageAll<jobs::Job>(
        [&](const std::string& after, int n) { return store_->ListJobs(kRegion, f, after, n); },
        [](const jobs::Job& j) { return j.id; }, limit);
  }

  // --- Executions, set up through Store::Transact (the rows the applier would write) ---

  // Gives each thing of `things` execution 1 of job `job_id`, QUEUED at `now`.
  void Seed(const std::string& job_id, const std::vector<std::string>& things, Instant now) {
    {
      Status st = store_->Transact([&](Txn& txn) -> Status {
        auto job = txn.FindJob(kRegion, job_id);
        if (!job.ok()) return job.status();
        if (!*job) return Status::NotFound("job " + job_id);
        jobs::JobCounters deltas;
        for (const auto& name : things) {
          auto thing = txn.ThingId(kRegion, name);
          if (!thing.ok()) return thing.status();
          if (!*thing) return Status::NotFound("thing " + name);
          jobs::ExecutionRecord r;
          r.job = (*job)->id;
          r.thing = **thing;
          r.e.region = kRegion;
          r.e.job_id = job_id;
          r.e.thing_name = name;
          r.e.queued_at = now;
          r.e.last_updated_at = now;
          IOTJOBS_RETURN_IF_ERROR(txn.InsertExecution(r));
          deltas.queued += 1;
        }
        return txn.AddCounters((*job)->id, deltas, static_cast<int64_t>(things.size()));
      });
      ASSERT_TRUE(st.ok()) << st.ToString();
      return;
    }
  }
  // Moves the latest execution of (job, thing) from QUEUED or IN_PROGRESS to `status`.
  void SetStatus(const std::string& job_id, const std::string& thing, ES status, Instant now) {
    {
      Status st = store_->Transact([&](Txn& txn) -> Status {
        auto job = txn.FindJob(kRegion, job_id);
        if (!job.ok()) return job.status();
        auto id = txn.ThingId(kRegion, thing);
        if (!id.ok()) return id.status();
        if (!*job || !*id) return Status::NotFound(job_id + "/" + thing);
        auto e = txn.Execution((*job)->id, **id, std::nullopt);
        if (!e.ok()) return e.status();
        if (!*e) return Status::NotFound("execution " + job_id + "/" + thing);
        jobs::ExecutionRecord r = **e;
        jobs::JobCounters deltas;
        deltas.For(r.e.status) -= 1;
        deltas.For(status) += 1;
        r.e.status = status;
        r.e.version_number += 1;
        r.e.last_updated_at = now;
        if (status == ES::kInProgress) r.e.started_at = now;
        IOTJOBS_RETURN_IF_ERROR(txn.UpdateExecution(r));
        return txn.AddCounters((*job)->id, deltas, 0);
      });
      ASSERT_TRUE(st.ok()) << st.ToString();
      return;
    }
  }

  const Instant t0_ = FromEpochMillis(1'800'000'000'000);
  std::unique_ptr<Store> store_;
};

// --- Things ---

TEST_P(StoreMoreConformanceTest, ThingRoundTripsAndANameIsTakenOnce) {
  jobs::Thing t = MakeThing("sensor-1", {{"model", "x1"}, {"room", "a \"quoted\" room"}}, "meter");
  t.billing_group_name = "bill";
  ASSERT_TRUE(store_->CreateThing(t).ok());
  auto got = store_->GetThing(kRegion, "sensor-1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(*got == t);
  EXPECT_EQ(got->version, 1);

  jobs::Thing other = MakeThing("sensor-1", {{"model", "y"}});
  EXPECT_EQ(store_->CreateThing(other).code(), Code::kConflict);
  EXPECT_TRUE(*store_->GetThing(kRegion, "sensor-1") == t) << "the refused create changed it";

  EXPECT_EQ(store_->GetThing(kRegion, "sensor-2").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->GetThing("eu-west-1", "sensor-1").status().code(), Code::kNotFound);
  jobs::Thing eu = t;
  eu.region = "eu-west-1";
  EXPECT_TRUE(store_->CreateThing(eu).ok()) << "regions are separate namespaces";
}

TEST_P(StoreMoreConformanceTest, ListThingsFiltersAndPagesByName) {
  Thing("b", {{"fw", "1.2.0"}}, "meter");
  Thing("a", {{"fw", "1.10"}});
  Thing("_c", {{"fw", "2.0"}, {"zone", "1"}}, "meter");
  Thing("D", {{"zone", "1.2"}});
  Thing("a-1");
  jobs::Thing eu = MakeThing("e");
  eu.region = "eu-west-1";
  ASSERT_TRUE(store_->CreateThing(eu).ok());

  std::vector<std::string> all = {"D", "_c", "a", "a-1", "b"};  // bytewise
  for (int limit : {1, 2, 4, 5, 6}) {
    SCOPED_TRACE("limit " + std::to_string(limit));
    EXPECT_EQ(ThingNames({}, limit), all);
  }
  Store::ThingFilter exact;
  exact.attribute_name = "fw";
  exact.attribute_value = "1.2.0";
  EXPECT_EQ(ThingNames(exact), (std::vector<std::string>{"b"}));
  Store::ThingFilter prefix = exact;
  prefix.attribute_value = "1.";
  prefix.prefix_value = true;
  EXPECT_EQ(ThingNames(prefix), (std::vector<std::string>{"a", "b"}));
  prefix.attribute_value = "1.2";
  EXPECT_EQ(ThingNames(prefix), (std::vector<std::string>{"b"})) << "D's zone is not fw";
  Store::ThingFilter by_type;
  by_type.thing_type_name = "meter";
  EXPECT_EQ(ThingNames(by_type), (std::vector<std::string>{"_c", "b"}));
  by_type.attribute_name = "zone";
  by_type.attribute_value = "1";
  EXPECT_EQ(ThingNames(by_type), (std::vector<std::string>{"_c"}));
  Store::ThingFilter none;
  none.attribute_name = "fw";
  none.attribute_value = "9";
  EXPECT_TRUE(ThingNames(none).empty());

  // Items are whole things.
  auto page = store_->ListThings(kRegion, {}, "a", 1);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_TRUE(page->items[0] == *store_->GetThing(kRegion, "a-1"));
  EXPECT_EQ(page->next_after, "a-1");
}

TEST_P(StoreMoreConformanceTest, UpdateThingChecksTheVersionAndReplacesTheThing) {
  Thing("t", {{"a", "1"}, {"b", "2"}}, "meter");
  jobs::Thing next = MakeThing("t", {{"c", "3"}});  // type removed, attributes replaced
  next.version = 2;
  EXPECT_EQ(store_->UpdateThing(next, 0).code(), Code::kVersionConflict);
  EXPECT_EQ(store_->UpdateThing(next, 2).code(), Code::kVersionConflict);
  EXPECT_EQ(store_->GetThing(kRegion, "t")->version, 1) << "refused updates change nothing";
  ASSERT_TRUE(store_->UpdateThing(next, 1).ok());
  auto got = store_->GetThing(kRegion, "t");
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(*got == next);
  EXPECT_EQ(store_->UpdateThing(next, 1).code(), Code::kVersionConflict) << "a stale write";
  jobs::Thing missing = MakeThing("nope");
  missing.version = 2;
  EXPECT_EQ(store_->UpdateThing(missing, 1).code(), Code::kNotFound);
}

TEST_P(StoreMoreConformanceTest, DeleteThingChecksTheVersionAndDropsMemberships) {
  Thing("t");
  Thing("u");
  ASSERT_TRUE(Group("g").ok());
  Member("t", "g");
  Member("u", "g");
  EXPECT_EQ(store_->DeleteThing(kRegion, "nope", -1, t0_).code(), Code::kNotFound);
  EXPECT_EQ(store_->DeleteThing(kRegion, "t", 7, t0_).code(), Code::kVersionConflict);
  EXPECT_TRUE(store_->GetThing(kRegion, "t").ok());
  ASSERT_TRUE(store_->DeleteThing(kRegion, "t", 1, t0_).ok());
  EXPECT_EQ(store_->GetThing(kRegion, "t").status().code(), Code::kNotFound);
  auto members = store_->ListThingsInGroup(kRegion, "g", false, "", 10);
  ASSERT_TRUE(members.ok());
  EXPECT_EQ(members->items, (std::vector<std::string>{"u"}));
  EXPECT_EQ(store_->DeleteThing(kRegion, "t", -1, t0_).code(), Code::kNotFound);
  // The name is free again, without the old memberships.
  Thing("t");
  auto groups = store_->ListGroupsForThing(kRegion, "t", "", 10);
  ASSERT_TRUE(groups.ok());
  EXPECT_TRUE(groups->items.empty());
  ASSERT_TRUE(store_->DeleteThing(kRegion, "u", -1, t0_).ok()) << "-1: any version";
}

// --- Thing groups ---

TEST_P(StoreMoreConformanceTest, ThingGroupRoundTripsWithItsPath) {
  jobs::ThingGroup root = MakeGroup("root");
  root.description = "the \"root\"";
  root.attributes = {{"site", "berlin"}};
  ASSERT_TRUE(store_->CreateThingGroup(root, GroupArn("root"), {{"k", "v"}}).ok());
  ASSERT_TRUE(Group("mid", "root").ok());
  ASSERT_TRUE(Group("leaf", "mid").ok());
  auto got = store_->GetThingGroup(kRegion, "root");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(*got == root);
  EXPECT_EQ(Tags(GroupArn("root")), (std::vector<jobs::Tag>{{"k", "v"}}));
  auto leaf = store_->GetThingGroup(kRegion, "leaf");
  ASSERT_TRUE(leaf.ok());
  EXPECT_EQ(leaf->parent_name, "mid");
  EXPECT_EQ(leaf->root_to_parent, (std::vector<std::string>{"root", "mid"}));
  EXPECT_EQ(leaf->version, 1);
  EXPECT_EQ(ToEpochMillis(leaf->created_at), ToEpochMillis(t0_));
  EXPECT_EQ(store_->GetThingGroup(kRegion, "nope").status().code(), Code::kNotFound);
  // A refused create (name taken) writes none of its tags.
  EXPECT_EQ(store_->CreateThingGroup(MakeGroup("root"), GroupArn("root"), {{"x", "y"}}).code(),
            Code::kConflict);
  EXPECT_EQ(Tags(GroupArn("root")), (std::vector<jobs::Tag>{{"k", "v"}}));
  EXPECT_EQ(store_->CreateThingGroup(MakeGroup("orphan", "nope"), GroupArn("orphan"), {{"x", "y"}})
                .code(),
            Code::kNotFound);
  EXPECT_TRUE(Tags(GroupArn("orphan")).empty());
}

TEST_P(StoreMoreConformanceTest, ListThingGroupsByParentPrefixAndDepth) {
  // r1 > (a > (a1, a2), b), r2 > (ab), r3
  for (auto [name, parent] : std::vector<std::pair<std::string, std::string>>{{"r1", ""},
                                                                              {"a", "r1"},
                                                                              {"b", "r1"},
                                                                              {"a1", "a"},
                                                                              {"a2", "a"},
                                                                              {"r2", ""},
                                                                              {"ab", "r2"},
                                                                              {"r3", ""}}) {
    ASSERT_TRUE(
        Group(name, parent.empty() ? std::nullopt : std::optional<std::string>(parent)).ok())
        << name;
  }
  Store::GroupFilter f;
  f.recursive = true;
  EXPECT_EQ(GroupNames(f), (std::vector<std::string>{"a", "a1", "a2", "ab", "b", "r1", "r2", "r3"}))
      << "no parent, recursive: every group";
  f.recursive = false;
  EXPECT_EQ(GroupNames(f), (std::vector<std::string>{"r1", "r2", "r3"})) << "roots only";
  f.parent = "r1";
  EXPECT_EQ(GroupNames(f), (std::vector<std::string>{"a", "b"}));
  f.recursive = true;
  EXPECT_EQ(GroupNames(f), (std::vector<std::string>{"a", "a1", "a2", "b"}));
  for (int limit : {1, 3, 4}) EXPECT_EQ(GroupNames(f, limit).size(), 4u) << limit;
  f.name_prefix = "a";
  EXPECT_EQ(GroupNames(f), (std::vector<std::string>{"a", "a1", "a2"}));
  f.parent.clear();
  EXPECT_EQ(GroupNames(f), (std::vector<std::string>{"a", "a1", "a2", "ab"}));
  f.parent = "a1";
  EXPECT_TRUE(GroupNames(f).empty()) << "a leaf has no children";
  f.parent = "nope";
  EXPECT_EQ(store_->ListThingGroups(kRegion, f, "", 10).status().code(), Code::kNotFound);
  // Items carry the group's name and id (what ListThingGroups answers with).
  auto page = store_->ListThingGroups(kRegion, Store::GroupFilter{"r2", "", false}, "", 10);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].name, "ab");
  EXPECT_EQ(page->items[0].id, "gid-ab");
  EXPECT_EQ(page->items[0].region, kRegion);
}

TEST_P(StoreMoreConformanceTest, UpdateThingGroupChecksTheVersion) {
  ASSERT_TRUE(Group("g").ok());
  jobs::ThingGroup g = MakeGroup("g");
  g.description = "new";
  g.attributes = {{"a", "1"}};
  g.version = 2;
  EXPECT_EQ(store_->UpdateThingGroup(g, 5).code(), Code::kVersionConflict);
  EXPECT_FALSE(store_->GetThingGroup(kRegion, "g")->description.has_value());
  ASSERT_TRUE(store_->UpdateThingGroup(g, 1).ok());
  auto got = store_->GetThingGroup(kRegion, "g");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->description, "new");
  EXPECT_EQ(got->attributes, (jobs::Attributes{{"a", "1"}}));
  EXPECT_EQ(got->version, 2);
  g.description.reset();
  g.attributes.clear();
  g.version = 3;
  ASSERT_TRUE(store_->UpdateThingGroup(g, -1).ok()) << "-1: any version";
  got = store_->GetThingGroup(kRegion, "g");
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->description.has_value());
  EXPECT_TRUE(got->attributes.empty());
  EXPECT_EQ(got->version, 3);
  jobs::ThingGroup missing = MakeGroup("nope");
  EXPECT_EQ(store_->UpdateThingGroup(missing, -1).code(), Code::kNotFound);
}

TEST_P(StoreMoreConformanceTest, DeleteThingGroupRefusesWhileItHasChildren) {
  ASSERT_TRUE(Group("p").ok());
  ASSERT_TRUE(Group("c", "p").ok());
  Thing("t");
  Member("t", "p");
  ASSERT_TRUE(store_->TagResource(GroupArn("p"), {{"k", "v"}}, 50).ok());
  EXPECT_EQ(store_->DeleteThingGroup(kRegion, "nope", GroupArn("nope"), -1).code(),
            Code::kNotFound);
  EXPECT_EQ(store_->DeleteThingGroup(kRegion, "p", GroupArn("p"), -1).code(),
            Code::kInvalidRequest);
  EXPECT_EQ(store_->DeleteThingGroup(kRegion, "c", GroupArn("c"), 9).code(),
            Code::kVersionConflict);
  ASSERT_TRUE(store_->DeleteThingGroup(kRegion, "c", GroupArn("c"), 1).ok());
  ASSERT_TRUE(store_->DeleteThingGroup(kRegion, "p", GroupArn("p"), -1).ok());
  EXPECT_EQ(store_->GetThingGroup(kRegion, "p").status().code(), Code::kNotFound);
  EXPECT_TRUE(Tags(GroupArn("p")).empty()) << "its tags go with it";
  auto groups = store_->ListGroupsForThing(kRegion, "t", "", 10);
  ASSERT_TRUE(groups.ok());
  EXPECT_TRUE(groups->items.empty()) << "and its memberships";
}

// Members come in the order the things were created (not by name: store.h), groups of a thing by
// name; both page without duplicates or gaps.
TEST_P(StoreMoreConformanceTest, MembershipListsPageInTheirOrder) {
  ASSERT_TRUE(Group("g").ok());
  ASSERT_TRUE(Group("sub", "g").ok());
  ASSERT_TRUE(Group("other").ok());
  std::vector<std::string> direct, all;
  for (int i = 0; i < 9; ++i) {
    const std::string name = "t" + std::to_string(i * 7 % 9);  // created out of name order
    Thing(name);
    all.push_back(name);
    if (i % 3 != 0) direct.push_back(name);
  }
  // Joined in yet another order, and one of them through two subgroups' worth of hierarchy.
  for (int i = 8; i >= 0; --i) Member(all[i], i % 3 == 0 ? "sub" : "g");
  Member(all[4], "other");
  for (int limit : {1, 2, 6, 9, 10}) {
    SCOPED_TRACE("limit " + std::to_string(limit));
    auto list = [&](bool recursive) {
      return PageAll<std::string>(
          [&](const std::string& after, int n) {
            return store_->ListThingsInGroup(kRegion, "g", recursive, after, n);
          },
          [](const std::string& s) { return s; }, limit);
    };
    EXPECT_EQ(list(false), direct);
    EXPECT_EQ(list(true), all);
  }
  EXPECT_EQ(store_->ListThingsInGroup(kRegion, "nope", true, "", 10).status().code(),
            Code::kNotFound);
  std::vector<std::string> groups;
  for (int i = 0; i < 5; ++i) {
    groups.push_back("h" + std::to_string(4 - i));
    ASSERT_TRUE(Group(groups.back()).ok());
    Member("t0", groups.back());
  }
  groups.push_back("sub");
  std::sort(groups.begin(), groups.end());
  for (int limit : {1, 2, 6, 7}) {
    EXPECT_EQ(PageAll<std::string>(
                  [&](const std::string& after, int n) {
                    return store_->ListGroupsForThing(kRegion, "t0", after, n);
                  },
                  [](const std::string& s) { return s; }, limit),
              groups)
        << limit;
  }
  EXPECT_EQ(store_->ListGroupsForThing(kRegion, "nope", "", 10).status().code(), Code::kNotFound);
}

// --- Bulk registration ---

TEST_P(StoreMoreConformanceTest, RegisterThingsReportsEachItemAndKeepsNoHalfItem) {
  ASSERT_TRUE(Group("root").ok());
  ASSERT_TRUE(Group("a", "root").ok());
  ASSERT_TRUE(Group("b", "root").ok());
  Thing("existing", {{"k", "v"}});
  auto item = [](const std::string& name, std::vector<std::string> groups,
                 jobs::Attributes attributes = {}) {
    return jobs::ThingRegistration{MakeThing(name, std::move(attributes)), std::move(groups)};
  };
  std::vector<jobs::ThingRegistration> items = {
      item("new", {"a"}),
      item("existing", {}, {{"k", "v"}}),      // identical: fine
      item("existing", {}, {{"k", "other"}}),  // another configuration
      item("lost", {"nope"}),                  // missing group
      item("torn", {"a", "b"}),                // two groups of one hierarchy
      item("new", {"a"}),                      // a duplicate line
  };
  auto r = store_->RegisterThings(kRegion, items, t0_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), items.size());
  EXPECT_TRUE((*r)[0].ok()) << (*r)[0].ToString();
  EXPECT_TRUE((*r)[1].ok()) << (*r)[1].ToString();
  EXPECT_EQ((*r)[2].code(), Code::kAlreadyExists);
  EXPECT_EQ((*r)[3].code(), Code::kNotFound);
  EXPECT_EQ((*r)[4].code(), Code::kInvalidRequest);
  EXPECT_TRUE((*r)[5].ok()) << (*r)[5].ToString();
  EXPECT_TRUE(store_->GetThing(kRegion, "new").ok());
  EXPECT_EQ(store_->GetThing(kRegion, "existing")->attributes, (jobs::Attributes{{"k", "v"}}));
  EXPECT_EQ(store_->GetThing(kRegion, "lost").status().code(), Code::kNotFound)
      << "a failed item leaves no thing behind";
  EXPECT_EQ(store_->GetThing(kRegion, "torn").status().code(), Code::kNotFound);
  auto in_a = store_->ListThingsInGroup(kRegion, "a", false, "", 10);
  ASSERT_TRUE(in_a.ok());
  EXPECT_EQ(in_a->items, (std::vector<std::string>{"new"}));
  auto in_b = store_->ListThingsInGroup(kRegion, "b", false, "", 10);
  ASSERT_TRUE(in_b.ok());
  EXPECT_TRUE(in_b->items.empty());
  auto empty = store_->RegisterThings(kRegion, {}, t0_);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST_P(StoreMoreConformanceTest, RegistrationTasksRoundTripAndListOldestFirst) {
  auto task = [&](const std::string& region, const std::string& id, const std::string& status,
                  int64_t seconds) {
    jobs::RegistrationTask t;
    t.region = region;
    t.id = id;
    t.status = status;
    t.template_body = R"({"Resources":{}})";
    t.bucket = "bucket";
    t.key = "in/" + id + ".json";
    t.role_arn = "arn:aws:iam::123456789012:role/r";
    t.created_at = T(seconds);
    t.updated_at = T(seconds);
    return t;
  };
  // Created in this order; ids deliberately not in that order.
  const std::vector<jobs::RegistrationTask> tasks = {
      task(kRegion, "z", "InProgress", 1), task("eu-west-1", "m", "InProgress", 2),
      task(kRegion, "a", "Completed", 3), task(kRegion, "k", "InProgress", 4)};
  for (const auto& t : tasks) ASSERT_TRUE(store_->CreateRegistrationTask(t).ok()) << t.id;
  auto got = store_->GetRegistrationTask(kRegion, "z");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(*got == tasks[0]);
  EXPECT_EQ(store_->GetRegistrationTask(kRegion, "m").status().code(), Code::kNotFound)
      << "another region's task";
  EXPECT_EQ(store_->GetRegistrationTask(kRegion, "nope").status().code(), Code::kNotFound);

  jobs::RegistrationTask done = tasks[0];
  done.status = "Completed";
  done.message = "2 lines failed";
  done.success_count = 98;
  done.failure_count = 2;
  done.percentage = 100;
  done.updated_at = T(60);
  ASSERT_TRUE(store_->UpdateRegistrationTask(done).ok());
  got = store_->GetRegistrationTask(kRegion, "z");
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(*got == done);
  jobs::RegistrationTask missing = task(kRegion, "nope", "Completed", 5);
  EXPECT_EQ(store_->UpdateRegistrationTask(missing).code(), Code::kNotFound);

  auto ids = [&](const std::string& region, const std::string& status, int limit) {
    return PageAll<jobs::RegistrationTask>(
        [&](const std::string& after, int n) {
          return store_->ListRegistrationTasks(region, status, after, n);
        },
        [](const jobs::RegistrationTask& t) { return t.id; }, limit);
  };
  for (int limit : {1, 2, 3, 4}) {
    SCOPED_TRACE("limit " + std::to_string(limit));
    EXPECT_EQ(ids(kRegion, "", limit), (std::vector<std::string>{"z", "a", "k"}));
    EXPECT_EQ(ids("", "", limit), (std::vector<std::string>{"z", "m", "a", "k"}));
    EXPECT_EQ(ids("", "InProgress", limit), (std::vector<std::string>{"m", "k"}));
    EXPECT_EQ(ids(kRegion, "Completed", limit), (std::vector<std::string>{"z", "a"}));
  }
  EXPECT_TRUE(ids("ap-south-1", "", 10).empty());
}

// --- Jobs ---

TEST_P(StoreMoreConformanceTest, CreateJobStoresEveryFieldAndItsTagsAtomically) {
  Thing("t");
  ASSERT_TRUE(Group("g").ok());
  jobs::Job j = MakeJob("full", {ThingArn("t"), GroupArn("g")}, T(1), "CONTINUOUS");
  j.description = "d \"q\"";
  j.document_source = "s3://b/k";
  j.configs = FullConfigs();
  j.job_template_arn = "arn:aws:iot:us-east-1:123456789012:jobtemplate/tpl";
  j.namespace_id = "ns";
  j.document_parameters = {{"p", "v"}};
  CreateJob(j, {{"owner", "me"}});
  auto got = store_->GetJob(kRegion, "full");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(*got == j);
  EXPECT_EQ(Tags(JobArn("full")), (std::vector<jobs::Tag>{{"owner", "me"}}));
  // Refused creates (id taken, missing target) write no tags.
  EXPECT_EQ(store_->CreateJob(MakeJob("full", {ThingArn("t")}, T(2)), JobArn("full"), {{"x", "1"}})
                .code(),
            Code::kAlreadyExists);
  EXPECT_EQ(Tags(JobArn("full")), (std::vector<jobs::Tag>{{"owner", "me"}}));
  EXPECT_EQ(store_->CreateJob(MakeJob("bad", {ThingArn("nope")}, T(2)), JobArn("bad"), {{"x", "1"}})
                .code(),
            Code::kNotFound);
  EXPECT_TRUE(Tags(JobArn("bad")).empty());
  EXPECT_EQ(store_->GetJob(kRegion, "bad").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->GetJob("eu-west-1", "full").status().code(), Code::kNotFound);
}

TEST_P(StoreMoreConformanceTest, ListJobsIsNewestFirstAndFilters) {
  Thing("t");
  ASSERT_TRUE(Group("g").ok());
  ASSERT_TRUE(Group("h").ok());
  jobs::Job a = MakeJob("a", {GroupArn("g")}, T(1));
  a.namespace_id = "ns";
  CreateJob(a);
  CreateJob(MakeJob("b", {ThingArn("t")}, T(2), "CONTINUOUS"));
  CreateJob(MakeJob("c", {GroupArn("h"), GroupArn("g")}, T(3), "CONTINUOUS"));
  jobs::Job eu = MakeJob("d", {}, T(4));
  eu.region = "eu-west-1";
  eu.targets.clear();
  ASSERT_TRUE(store_->CreateJob(eu, jobs::JobArn("eu-west-1", kAccount, "d"), {}).ok());
  for (int limit : {1, 2, 3, 4}) {
    EXPECT_EQ(JobIds({}, limit), (std::vector<std::string>{"c", "b", "a"})) << limit;
  }
  Store::JobFilter f;
  f.target_selection = "CONTINUOUS";
  EXPECT_EQ(JobIds(f), (std::vector<std::string>{"c", "b"}));
  f = {};
  f.thing_group = "g";
  EXPECT_EQ(JobIds(f), (std::vector<std::string>{"c", "a"}));
  f = {};
  f.thing_group_id = "gid-h";
  EXPECT_EQ(JobIds(f), (std::vector<std::string>{"c"}));
  f = {};
  f.namespace_id = "ns";
  EXPECT_EQ(JobIds(f), (std::vector<std::string>{"a"}));
  f = {};
  f.status = jobs::kJobInProgress;
  EXPECT_EQ(JobIds(f).size(), 3u);
  f.status = jobs::kJobCompleted;
  EXPECT_TRUE(JobIds(f).empty());
  f = {};
  f.thing_group = "nope";
  EXPECT_EQ(store_->ListJobs(kRegion, f, "", 10).status().code(), Code::kNotFound);
}

TEST_P(StoreMoreConformanceTest, UpdateJobReplacesDescriptionAndConfigsOnly) {
  Thing("t");
  jobs::Job j = MakeJob("j", {ThingArn("t")}, T(1));
  j.description = "before";
  CreateJob(j);
  jobs::Job u = j;
  u.description = "after";
  u.configs = FullConfigs();
  u.last_updated_at = T(5);
  ASSERT_TRUE(store_->UpdateJob(u).ok());
  auto got = store_->GetJob(kRegion, "j");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->description, "after");
  EXPECT_EQ(got->configs, FullConfigs());
  EXPECT_EQ(got->targets, j.targets);
  EXPECT_EQ(got->status, jobs::kJobInProgress);
  EXPECT_EQ(ToEpochMillis(got->created_at), ToEpochMillis(T(1)));
  jobs::Job missing = MakeJob("nope", {}, T(1));
  EXPECT_EQ(store_->UpdateJob(missing).code(), Code::kNotFound);
}

// --- Executions as read back ---

TEST_P(StoreMoreConformanceTest, ExecutionReadsFilterAndPage) {
  std::vector<std::string> things;
  for (int i = 0; i < 7; ++i) {
    things.push_back("t" + std::to_string(i));
    Thing(things.back());
  }
  Thing("idle");
  std::vector<std::string> arns;
  for (const auto& t : things) arns.push_back(ThingArn(t));
  CreateJob(MakeJob("j", arns, T(1)));
  CreateJob(MakeJob("k", {ThingArn("t0"), ThingArn("t1")}, T(2)));
  Seed("j", things, T(3));
  Seed("k", {"t0", "t1"}, T(4));
  SetStatus("j", "t2", ES::kInProgress, T(5));
  SetStatus("j", "t4", ES::kInProgress, T(5));
  SetStatus("j", "t4", ES::kSucceeded, T(6));
  SetStatus("k", "t0", ES::kInProgress, T(6));

  auto e = store_->GetExecution(kRegion, "j", "t4", std::nullopt);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->status, ES::kSucceeded);
  EXPECT_EQ(e->region, kRegion);
  EXPECT_EQ(e->job_id, "j");
  EXPECT_EQ(e->thing_name, "t4");
  EXPECT_EQ(e->execution_number, 1);
  EXPECT_EQ(e->version_number, 3);
  EXPECT_TRUE(store_->GetExecution(kRegion, "j", "t4", 1).ok());
  EXPECT_EQ(store_->GetExecution(kRegion, "j", "t4", 2).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->GetExecution(kRegion, "j", "idle", std::nullopt).status().code(),
            Code::kNotFound);
  EXPECT_EQ(store_->GetExecution(kRegion, "nope", "t4", std::nullopt).status().code(),
            Code::kNotFound);
  EXPECT_EQ(store_->GetExecution(kRegion, "j", "nope", std::nullopt).status().code(),
            Code::kNotFound);

  auto for_job = [&](std::optional<ES> status, int limit) {
    return PageAll<jobs::JobExecution>(
        [&](const std::string& after, int n) {
          return store_->ListExecutionsForJob(kRegion, "j", status, after, n);
        },
        [](const jobs::JobExecution& x) { return x.thing_name; }, limit);
  };
  for (int limit : {1, 2, 6, 7, 8}) {
    SCOPED_TRACE("limit " + std::to_string(limit));
    EXPECT_EQ(for_job(std::nullopt, limit), things) << "ordered by thing";
    EXPECT_EQ(for_job(ES::kQueued, limit),
              (std::vector<std::string>{"t0", "t1", "t3", "t5", "t6"}));
    EXPECT_EQ(for_job(ES::kInProgress, limit), (std::vector<std::string>{"t2"}));
  }
  EXPECT_TRUE(for_job(ES::kFailed, 10).empty());
  EXPECT_EQ(store_->ListExecutionsForJob(kRegion, "nope", std::nullopt, "", 10).status().code(),
            Code::kNotFound);

  auto for_thing = [&](const std::string& thing, std::optional<ES> status,
                       const std::string& job_id, int limit) {
    return PageAll<jobs::JobExecution>(
        [&](const std::string& after, int n) {
          return store_->ListExecutionsForThing(kRegion, thing, status, job_id, after, n);
        },
        [](const jobs::JobExecution& x) { return x.job_id; }, limit);
  };
  for (int limit : {1, 2, 3}) {
    EXPECT_EQ(for_thing("t0", std::nullopt, "", limit), (std::vector<std::string>{"k", "j"}))
        << "newest job first";
  }
  EXPECT_EQ(for_thing("t0", ES::kInProgress, "", 10), (std::vector<std::string>{"k"}));
  EXPECT_EQ(for_thing("t0", std::nullopt, "j", 10), (std::vector<std::string>{"j"}));
  EXPECT_EQ(for_thing("t1", ES::kSucceeded, "", 10), (std::vector<std::string>{}));
  EXPECT_TRUE(for_thing("idle", std::nullopt, "", 10).empty());
  EXPECT_EQ(
      store_->ListExecutionsForThing(kRegion, "nope", std::nullopt, "", "", 10).status().code(),
      Code::kNotFound);
  // Listed items are whole executions.
  auto page = store_->ListExecutionsForThing(kRegion, "t4", std::nullopt, "j", "", 10);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_TRUE(page->items[0] == *e);
}

// --- Event configurations and the outboxes ---

TEST_P(StoreMoreConformanceTest, EventConfigurationsMergePerRegion) {
  auto none = store_->GetEventConfigurations(kRegion);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->enabled.empty());
  EXPECT_FALSE(none->created_at.has_value());
  EXPECT_FALSE(none->updated_at.has_value());
  ASSERT_TRUE(
      store_->UpdateEventConfigurations(kRegion, {{"JOB", true}, {"THING", true}}, T(1)).ok());
  ASSERT_TRUE(
      store_->UpdateEventConfigurations(kRegion, {{"THING", false}, {"JOB_EXECUTION", true}}, T(2))
          .ok());
  auto got = store_->GetEventConfigurations(kRegion);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->enabled, (std::map<std::string, bool>{
                              {"JOB", true}, {"JOB_EXECUTION", true}, {"THING", false}}));
  EXPECT_TRUE(got->Enabled("JOB"));
  EXPECT_FALSE(got->Enabled("THING"));
  EXPECT_FALSE(got->Enabled("THING_GROUP"));
  ASSERT_TRUE(got->created_at && got->updated_at);
  EXPECT_EQ(ToEpochMillis(*got->created_at), ToEpochMillis(T(1)));
  EXPECT_EQ(ToEpochMillis(*got->updated_at), ToEpochMillis(T(2)));
  auto eu = store_->GetEventConfigurations("eu-west-1");
  ASSERT_TRUE(eu.ok());
  EXPECT_TRUE(eu->enabled.empty()) << "regions are separate";
}

// Regression (store-faults finding 2): setting one type stored JOB and JOB_EXECUTION as false too.
TEST_P(StoreMoreConformanceTest, EventConfigurationsHoldOnlyTheTypesSet) {
  ASSERT_TRUE(store_->UpdateEventConfigurations(kRegion, {{"THING", true}}, T(1)).ok());
  auto got = store_->GetEventConfigurations(kRegion);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->enabled, (std::map<std::string, bool>{{"THING", true}}));
}

TEST_P(StoreMoreConformanceTest, NotifiedStateIsRecordedWithTheAcknowledgement) {
  auto none = store_->GetNotified(kRegion, "t");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_FALSE(none->has_value());
  EXPECT_TRUE(store_->ThingChanges(10)->empty());
  ASSERT_TRUE(store_
                  ->AckThingChanges(0, {{kRegion, "t", "m1", "h1"},
                                        {kRegion, "u", "m2", "h2"},
                                        {"eu-west-1", "t", "m3", "h3"}})
                  .ok());
  auto t = store_->GetNotified(kRegion, "t");
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(t->has_value());
  EXPECT_EQ((*t)->members, "m1");
  EXPECT_EQ((*t)->head, "h1");
  EXPECT_EQ((*t)->region, kRegion);
  EXPECT_EQ((*t)->thing, "t");
  EXPECT_EQ((*store_->GetNotified("eu-west-1", "t"))->members, "m3");
  // Overwritten; empty members forget the thing.
  ASSERT_TRUE(
      store_->AckThingChanges(0, {{kRegion, "t", "m1b", "h1b"}, {kRegion, "u", "", ""}}).ok());
  EXPECT_EQ((*store_->GetNotified(kRegion, "t"))->head, "h1b");
  EXPECT_FALSE(store_->GetNotified(kRegion, "u")->has_value());
}

TEST_P(StoreMoreConformanceTest, AnEmptyEventOutboxAcknowledges) {
  auto events = store_->EventOutbox(10);
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  EXPECT_TRUE(events->empty());
  EXPECT_TRUE(store_->AckEvents(0).ok());
  EXPECT_TRUE(store_->AckEvents(1000).ok());
}

// --- Transactions (store/txn.h): what the Store side promises; the Txn operations themselves
// are the Txn suite's. Skipped for a backend still on Store::Transact's bootstrap default. ---

TEST_P(StoreMoreConformanceTest, TransactCommitsOnOkAndLeavesNothingOnError) {
  CreateJob(MakeJob("j", {}, T(1)));
  // Adds one QUEUED to job j's counters inside the transaction.
  auto add_one = [&](Txn& txn) -> Status {
    auto job = txn.FindJob(kRegion, "j");
    if (!job.ok()) return job.status();
    if (!*job) return Status::NotFound("job j");
    jobs::JobCounters d;
    d.queued = 1;
    return txn.AddCounters((*job)->id, d, 1);
  };
  int runs = 0;
  Status st = store_->Transact([&](Txn& txn) -> Status {
    ++runs;
    return add_one(txn);
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_GE(runs, 1);
  EXPECT_EQ(store_->GetJob(kRegion, "j")->counters.queued, 1);
  EXPECT_EQ(store_->GetJob(kRegion, "j")->notified, 1);
  st = store_->Transact([&](Txn& txn) -> Status {
    IOTJOBS_RETURN_IF_ERROR(add_one(txn));
    // The function sees its own write at once.
    auto job = txn.FindJob(kRegion, "j");
    if (!job.ok() || !*job) return Status::Internal("job j vanished");
    EXPECT_EQ((*job)->job.counters.queued, 2);
    return Status::InvalidRequest("changed my mind");
  });
  EXPECT_EQ(st.code(), Code::kInvalidRequest) << "fn's error comes back as it was";
  EXPECT_EQ(store_->GetJob(kRegion, "j")->counters.queued, 1) << "the failed transaction wrote";
  // View sees the committed state and refuses writes.
  st = store_->View([&](Txn& txn) -> Status {
    auto job = txn.FindJob(kRegion, "j");
    EXPECT_TRUE(job.ok() && *job && (*job)->job.counters.queued == 1);
    Status w = add_one(txn);
    EXPECT_EQ(w.code(), Code::kInternal) << w.ToString();
    return Status::Ok();
  });
  EXPECT_TRUE(st.ok() || st.code() == Code::kInternal) << st.ToString();
  EXPECT_EQ(store_->GetJob(kRegion, "j")->counters.queued, 1) << "a View wrote";
}

// Registry writes tell the observer inside their own transaction: its error undoes the write.
TEST_P(StoreMoreConformanceTest, TheRegistryObserverSeesMembershipChangesAtomically) {
  struct Recorder final : RegistryObserver {
    std::vector<std::string> calls;
    bool refuse = false;
    Status Note(const std::string& call) {
      calls.push_back(call);
      return refuse ? Status::Unavailable("observer refused") : Status::Ok();
    }
    Status OnMembershipAdded(Txn&, int64_t, int64_t, Instant) override { return Note("added"); }
    Status OnMembershipRemoved(Txn&, int64_t, int64_t, Instant) override { return Note("removed"); }
    Status OnThingDeleting(Txn&, int64_t, Instant) override { return Note("deleting"); }
  } recorder;
  store_->SetRegistryObserver(&recorder);
  Thing("t");
  ASSERT_TRUE(Group("g").ok());
  Member("t", "g");
  ASSERT_TRUE(store_->RemoveThingFromGroup(kRegion, "t", "g", t0_).ok());
  EXPECT_EQ(recorder.calls, (std::vector<std::string>{"added", "removed"}));
  recorder.refuse = true;
  EXPECT_EQ(store_->AddThingToGroup(kRegion, "t", "g", t0_).code(), Code::kUnavailable);
  auto groups = store_->ListGroupsForThing(kRegion, "t", "", 10);
  ASSERT_TRUE(groups.ok());
  EXPECT_TRUE(groups->items.empty()) << "the refused membership was kept";
  EXPECT_EQ(store_->DeleteThing(kRegion, "t", -1, t0_).code(), Code::kUnavailable);
  EXPECT_TRUE(store_->GetThing(kRegion, "t").ok()) << "the refused delete went through";
  recorder.refuse = false;
  ASSERT_TRUE(store_->DeleteThing(kRegion, "t", -1, t0_).ok());
  EXPECT_EQ(recorder.calls.back(), "deleting");
  store_->SetRegistryObserver(nullptr);
}

// --- Concurrent writers racing on one row ---

TEST_P(StoreMoreConformanceTest, ConcurrentCreatesOfOneThingHaveExactlyOneWinner) {
  constexpr int kThreads = 16, kRounds = 10;
  std::latch start(kThreads);
  std::vector<std::atomic<int>> wins(kRounds);
  std::atomic<int> unexpected{0};
  std::vector<std::thread> threads;
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      start.arrive_and_wait();
      for (int r = 0; r < kRounds; ++r) {
        jobs::Thing t = MakeThing("race-" + std::to_string(r), {{"by", std::to_string(th)}});
        Status st = store_->CreateThing(t);
        if (st.ok()) {
          ++wins[r];
        } else if (st.code() != Code::kConflict) {
          ++unexpected;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(unexpected.load(), 0);
  for (int r = 0; r < kRounds; ++r) EXPECT_EQ(wins[r].load(), 1) << "round " << r;
  EXPECT_EQ(ThingNames({}).size(), static_cast<size_t>(kRounds));
}

// Optimistic concurrency: every thread reads the version and writes version + 1; per version,
// exactly one write wins and the others are VersionConflict, so no update is lost.
TEST_P(StoreMoreConformanceTest, ConcurrentUpdatesOfOneThingHaveOneWinnerPerVersion) {
  constexpr int kThreads = 12, kAttempts = 25;
  Thing("t", {{"n", "0"}});
  std::latch start(kThreads);
  std::atomic<int> unexpected{0}, won{0};
  std::vector<std::vector<int64_t>> won_versions(kThreads);
  std::vector<std::thread> threads;
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      start.arrive_and_wait();
      for (int i = 0; i < kAttempts; ++i) {
        auto cur = store_->GetThing(kRegion, "t");
        if (!cur.ok()) {
          ++unexpected;
          continue;
        }
        jobs::Thing next = *cur;
        next.version = cur->version + 1;
        next.attributes = {{"n", std::to_string(next.version)}, {"by", std::to_string(th)}};
        Status st = store_->UpdateThing(next, cur->version);
        if (st.ok()) {
          ++won;
          won_versions[th].push_back(next.version);
        } else if (st.code() != Code::kVersionConflict) {
          ++unexpected;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(unexpected.load(), 0);
  std::vector<int64_t> all;
  for (const auto& v : won_versions) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  ASSERT_FALSE(all.empty());
  // Versions 2, 3, ... each won exactly once.
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], static_cast<int64_t>(i) + 2);
  auto last = store_->GetThing(kRegion, "t");
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->version, static_cast<int64_t>(won.load()) + 1);
  EXPECT_EQ(last->attributes.at("n"), std::to_string(last->version));
}

TEST_P(StoreMoreConformanceTest, ConcurrentJoinsNeverExceedTheGroupsPerThingLimit) {
  constexpr int kGroups = 3 * jobs::kMaxGroupsPerThing;
  Thing("t");
  for (int i = 0; i < kGroups; ++i) ASSERT_TRUE(Group("g" + std::to_string(i)).ok());
  std::latch start(kGroups);
  std::atomic<int> ok{0}, unexpected{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kGroups; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      Status st = store_->AddThingToGroup(kRegion, "t", "g" + std::to_string(i), t0_);
      if (st.ok()) {
        ++ok;
      } else if (st.code() != Code::kInvalidRequest) {
        ++unexpected;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_EQ(ok.load(), jobs::kMaxGroupsPerThing);
  auto groups = store_->ListGroupsForThing(kRegion, "t", "", 100);
  ASSERT_TRUE(groups.ok());
  EXPECT_EQ(groups->items.size(), static_cast<size_t>(jobs::kMaxGroupsPerThing));
}

TEST_P(StoreMoreConformanceTest, ConcurrentTaggingNeverExceedsTheTagLimit) {
  constexpr int kThreads = 24, kMax = 7;
  const std::string arn = JobArn("tagged");
  std::latch start(kThreads);
  std::atomic<int> ok{0}, unexpected{0};
  std::vector<std::thread> threads;
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      start.arrive_and_wait();
      // Each adds two new keys: at most kMax / 2 such calls fit.
      Status st = store_->TagResource(
          arn, {{"a" + std::to_string(th), "1"}, {"b" + std::to_string(th), "2"}}, kMax);
      if (st.ok()) {
        ++ok;
      } else if (st.code() != Code::kLimitExceeded) {
        ++unexpected;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_EQ(ok.load(), kMax / 2);
  EXPECT_EQ(Tags(arn).size(), static_cast<size_t>(kMax / 2 * 2)) << "no call was half-applied";
}

}  // namespace iotjobs::store::testing
