// The rules conformance suite (rules_conformance.h: service::Applier over a Store) on both
// backends: SqliteStore in a scratch directory, and MemoryStore.
#include "service/tests/rules_conformance.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>

#include "store/memory/memory_store.h"
#include "store/sqlite/sqlite_store.h"
#include "store/tests/temp_dir.h"

namespace iotjobs::service {
namespace {

using testing::RulesBackend;
using testing::RulesConformanceTest;

// Every test gets its own database file under one directory removed at exit.
iotjobs::testing::TempDir& ScratchRoot() {
  static iotjobs::testing::TempDir dir;
  return dir;
}

std::unique_ptr<store::Store> FreshSqliteStore(bool track_thing_changes) {
  static std::atomic<int> n{0};
  store::SqliteStore::Options o;
  o.path = ScratchRoot().File("rules-" + std::to_string(n++) + ".db");
  o.synchronous_full = false;  // a temp file: durability is not under test here
  o.track_thing_changes = track_thing_changes;
  auto s = store::SqliteStore::Open(o);
  if (!s.ok()) {
    ADD_FAILURE() << s.status().ToString();
    return nullptr;
  }
  return std::move(s).value();
}

std::unique_ptr<store::Store> FreshMemoryStore(bool track_thing_changes) {
  store::MemoryStore::Options o;
  o.track_thing_changes = track_thing_changes;
  return std::make_unique<store::MemoryStore>(o);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, RulesConformanceTest,
                         ::testing::Values(RulesBackend{"Sqlite", FreshSqliteStore}),
                         testing::RulesBackendName);

INSTANTIATE_TEST_SUITE_P(Memory, RulesConformanceTest,
                         ::testing::Values(RulesBackend{"Memory", FreshMemoryStore}),
                         testing::RulesBackendName);

}  // namespace
}  // namespace iotjobs::service
