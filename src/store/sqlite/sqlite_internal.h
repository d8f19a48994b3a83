// Pieces shared by the SqliteStore translation units: the row readers of jobs and executions, the
// job's `work` bits, target insertion, and the legacy membership rules (called inside a write
// transaction).
#pragma once

#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "jobs/job.h"
#include "store/sqlite/sqlite_db.h"

namespace iotjobs::store::internal {

// Bits of jobs.work (jobs::JobWork).
inline constexpr int64_t kWorkRollout = 1;
inline constexpr int64_t kWorkCancel = 2;
inline constexpr int64_t kWorkForceCancel = 4;
inline constexpr int64_t kWorkDelete = 8;

// The columns JobFromRow reads, in its order.
#define IOTJOBS_JOB_COLUMNS                                                                   \
  "region, job_id, status, target_selection, spec, created_at_ms, updated_at_ms, "            \
  "completed_at_ms, n_queued, n_in_progress, n_succeeded, n_failed, n_rejected, n_canceled, " \
  "n_removed, n_timed_out, notified, rollout_done"

// The columns ExecutionFromRow reads (of job_executions aliased `e`), in its order.
#define IOTJOBS_EXEC_COLUMNS                                                          \
  "e.number, e.status, e.version, e.queued_at_ms, e.started_at_ms, e.updated_at_ms, " \
  "e.retry_attempt, e.force_canceled, e.timeout_at_ms, e.details, "                   \
  "e.in_progress_deadline_ms, e.step_deadline_ms"

// Reads IOTJOBS_JOB_COLUMNS from columns 0..17 (the spec JSON decoded).
Result<jobs::Job> JobFromRow(const Stmt& s);
// Reads IOTJOBS_EXEC_COLUMNS starting at column `c`; names are left empty.
Result<jobs::JobExecution> ExecutionFromRow(const Stmt& s, int c);

// Inserts job_targets rows for `targets` (ARNs ending in thing/<name> or thinggroup/<name> of
// `region`) at indexes first, first + 1, ... NotFound naming the ARN for a missing target;
// InvalidRequest for an ARN of another type.
Status InsertTargets(SqliteDb& db, int64_t job, const std::string& region,
                     const std::vector<std::string>& targets, int64_t first);

}  // namespace iotjobs::store::internal
