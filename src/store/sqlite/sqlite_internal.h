// Pieces shared by the SqliteStore translation units; called inside a write transaction.
#pragma once

#include "common/clock.h"
#include "common/status.h"
#include "store/sqlite/sqlite_db.h"

namespace iotjobs::store::internal {

// Continuous jobs follow group membership (spec §3.5). Call after the membership row changed.
Status OnMembershipAdded(SqliteDb& db, int64_t thing, int64_t grp, Instant now);
Status OnMembershipRemoved(SqliteDb& db, int64_t thing, int64_t grp, Instant now);
// Before the thing's row is deleted: its non-terminal latest executions become REMOVED.
Status OnThingDeleted(SqliteDb& db, int64_t thing, Instant now);

}  // namespace iotjobs::store::internal
