// OpenScratchStore: a SqliteStore in a test's TempDir, without fsync (a temp file: durability is
// not under test). Shared, like temp_dir.h, by the tests of the modules above the store.
#pragma once

#include <memory>

#include "common/status.h"
#include "store/sqlite/sqlite_store.h"
#include "store/tests/temp_dir.h"

namespace iotjobs::testing {

// Opens <dir>/iotjobs.db; `track_thing_changes` fills the thing_changes outbox (what the MQTT
// notifier drains).
inline Result<std::unique_ptr<store::SqliteStore>> OpenScratchStore(
    const TempDir& dir, bool track_thing_changes = false) {
  store::SqliteStore::Options o;
  o.path = dir.File("iotjobs.db");
  o.synchronous_full = false;
  o.track_thing_changes = track_thing_changes;
  return store::SqliteStore::Open(o);
}

}  // namespace iotjobs::testing
