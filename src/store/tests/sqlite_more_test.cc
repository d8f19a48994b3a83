// The third part of the conformance suite (store_conformance_more.h) on SqliteStore.
#include <atomic>
#include <memory>
#include <string>

#include "store/sqlite/sqlite_store.h"
#include "store/tests/store_conformance_more.h"
#include "store/tests/temp_dir.h"

namespace iotjobs::store {
namespace {

using testing::StoreBackend;
using testing::StoreConformanceTest;
using testing::StoreMoreConformanceTest;

iotjobs::testing::TempDir& ScratchRoot() {
  static iotjobs::testing::TempDir dir;
  return dir;
}

std::unique_ptr<Store> FreshSqliteStore() {
  static std::atomic<int> n{0};
  SqliteStore::Options o;
  o.path = ScratchRoot().File("more-" + std::to_string(n++) + ".db");
  o.synchronous_full = false;  // a temp file: durability is not under test here
  auto s = SqliteStore::Open(o);
  if (!s.ok()) {
    ADD_FAILURE() << s.status().ToString();
    return nullptr;
  }
  return std::move(s).value();
}

// The first part's suite comes along with the builders this part shares; store_test runs it.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(StoreConformanceTest);

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreMoreConformanceTest,
                         ::testing::Values(StoreBackend{"Sqlite", FreshSqliteStore}),
                         testing::StoreBackendName);

}  // namespace
}  // namespace iotjobs::store
