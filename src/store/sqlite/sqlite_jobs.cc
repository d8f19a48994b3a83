// SqliteStore's jobs half: jobs, targets, rollout materialisation, cancellation and deletion in
// batches, and executions (control-plane view).
//
// Execution status is persisted as the integer value of jobs::ExecutionStatus. Counters on the
// job row (n_<status>) count each thing's latest execution and change in the same transaction as
// the execution, so they are exact.
#include <charconv>

#include "codec/job_codec.h"
#include "jobs/abort_rules.h"
#include "jobs/retry_rules.h"
#include "jobs/rollout.h"
#include "jobs/timeouts.h"
#include "store/sqlite/sqlite_internal.h"
#include "store/sqlite/sqlite_store.h"

namespace iotjobs::store {
namespace {

using internal::ExecutionFromRow;
using internal::InsertTargets;
using internal::JobFromRow;
using internal::kWorkCancel;
using internal::kWorkDelete;
using internal::kWorkForceCancel;
using internal::kWorkRollout;
using jobs::ExecutionStatus;

int64_t StatusInt(ExecutionStatus s) { return static_cast<int64_t>(s); }

// The counter column of `s`. Column names cannot be bound, so each status has its statement.
const char* CounterDelta(ExecutionStatus s) {
  switch (s) {
    case ExecutionStatus::kQueued:
      return "UPDATE jobs SET n_queued = n_queued + ?2 WHERE id = ?1";
    case ExecutionStatus::kInProgress:
      return "UPDATE jobs SET n_in_progress = n_in_progress + ?2 WHERE id = ?1";
    case ExecutionStatus::kSucceeded:
      return "UPDATE jobs SET n_succeeded = n_succeeded + ?2 WHERE id = ?1";
    case ExecutionStatus::kFailed:
      return "UPDATE jobs SET n_failed = n_failed + ?2 WHERE id = ?1";
    case ExecutionStatus::kTimedOut:
      return "UPDATE jobs SET n_timed_out = n_timed_out + ?2 WHERE id = ?1";
    case ExecutionStatus::kRejected:
      return "UPDATE jobs SET n_rejected = n_rejected + ?2 WHERE id = ?1";
    case ExecutionStatus::kRemoved:
      return "UPDATE jobs SET n_removed = n_removed + ?2 WHERE id = ?1";
    case ExecutionStatus::kCanceled:
      return "UPDATE jobs SET n_canceled = n_canceled + ?2 WHERE id = ?1";
  }
  return nullptr;
}

Status AddToCounter(SqliteDb& db, int64_t job, ExecutionStatus s, int64_t delta) {
  if (delta == 0) return Status::Ok();
  IOTJOBS_PREPARE(u, db, CounterDelta(s));
  return u.Bind(1, job).Bind(2, delta).Run();
}

struct JobRow {
  int64_t id = 0;
  std::string status, target_selection;
  int64_t work = 0;
};

Result<JobRow> FindJob(SqliteDb& db, const std::string& region, const std::string& job_id) {
  IOTJOBS_PREPARE(s, db,
                  "SELECT id, status, target_selection, work FROM jobs "
                  "WHERE region = ?1 AND job_id = ?2");
  IOTJOBS_RETURN_IF_ERROR(StepToNamed(s, region, job_id, "job"));
  return JobRow{s.Int(0), s.Text(1), s.Text(2), s.Int(3)};
}

Result<int64_t> FindId(SqliteDb& db, const char* sql, const std::string& region,
                       const std::string& name, const std::string& what) {
  auto s = db.Prepare(sql);
  if (!s.ok()) return s.status();
  (*s)->Bind(1, region).Bind(2, name);
  Status st;
  if (!(*s)->Step(&st)) {
    if (!st.ok()) return st;
    return Status::NotFound(what + " " + name + " does not exist");
  }
  return (*s)->Int(0);
}

Result<int64_t> FindThing(SqliteDb& db, const std::string& region, const std::string& name) {
  return FindId(db, "SELECT id FROM things WHERE region = ?1 AND name = ?2", region, name, "thing");
}

Result<int64_t> FindGroup(SqliteDb& db, const std::string& region, const std::string& name) {
  return FindId(db, "SELECT id FROM thing_groups WHERE region = ?1 AND name = ?2", region, name,
                "thing group");
}

// Reads a page of at most `limit` executions from `s`, whose rows are (cursor id, name,
// IOTJOBS_EXEC_COLUMNS...) and which asked for limit + 1 rows; `name_it` fills the region and
// the job / thing names (column 1 is the one the query joined). The cursor is "<id>:<number>".
template <typename NameIt>
Result<Page<jobs::JobExecution>> ExecutionPage(Stmt& s, int limit, NameIt name_it) {
  Page<jobs::JobExecution> page;
  Status st;
  std::string last;
  while (s.Step(&st)) {
    if (static_cast<int>(page.items.size()) == limit) {
      page.next_after = last;
      break;
    }
    auto e = ExecutionFromRow(s, 2);
    if (!e.ok()) return e.status();
    name_it(&*e, s.Text(1));
    last = std::to_string(s.Int(0)) + ":" + std::to_string(e->execution_number);
    page.items.push_back(std::move(e).value());
  }
  if (!st.ok()) return st;
  return page;
}

// A snapshot job whose rollout is done and whose latest executions are all terminal completes.
Status MaybeComplete(SqliteDb& db, int64_t job, Instant now) {
  IOTJOBS_PREPARE(u, db,
                  "UPDATE jobs SET status = 'COMPLETED', completed_at_ms = ?2, updated_at_ms = ?2 "
                  "WHERE id = ?1 AND status = 'IN_PROGRESS' AND target_selection = 'SNAPSHOT' "
                  "AND rollout_done = 1 AND n_queued = 0 AND n_in_progress = 0");
  return u.Bind(1, job).Bind(2, ToEpochMillis(now)).Run();
}

// Cancels job `job` (internal id) as CancelJob does: CANCELED at once, rollout stopped, QUEUED
// (and with force IN_PROGRESS) executions cancelled in the background by ProcessJobWork.
Status CancelJobRow(SqliteDb& db, int64_t job, bool force,
                    const std::optional<std::string>& reason_code,
                    const std::optional<std::string>& comment, Instant now) {
  IOTJOBS_PREPARE(s, db, "SELECT job_id, status, spec, work FROM jobs WHERE id = ?1");
  s.Bind(1, job);
  Status st;
  if (!s.Step(&st)) return st.ok() ? Status::NotFound("job does not exist") : st;
  const std::string id = s.Text(0);
  const std::string status = s.Text(1);
  jobs::Job j;
  IOTJOBS_RETURN_IF_ERROR(codec::JobSpecFromJson(s.Text(2), &j));
  int64_t work = s.Int(3);
  if (status == jobs::kJobDeletionInProgress) {
    return Status::InvalidRequest("job " + id + " is being deleted and cannot be canceled");
  }
  if (status == jobs::kJobCompleted) {
    return Status::InvalidRequest("job " + id + " is COMPLETED and cannot be canceled");
  }
  if (status == jobs::kJobCanceled && (!force || j.force_canceled)) {
    return Status::Ok();  // already cancelled; nothing more to do
  }
  if (reason_code) j.reason_code = reason_code;
  if (comment) j.comment = comment;
  if (force) j.force_canceled = true;
  work = (work & ~kWorkRollout) | kWorkCancel | (force ? kWorkForceCancel : 0);
  IOTJOBS_PREPARE(u, db,
                  "UPDATE jobs SET status = 'CANCELED', spec = ?2, work = ?3, work_cursor = 0, "
                  "updated_at_ms = ?4 WHERE id = ?1");
  return u.Bind(1, job)
      .Bind(2, codec::JobSpecToJson(j))
      .Bind(3, work)
      .Bind(4, ToEpochMillis(now))
      .Run();
}

// What follows an execution reaching a terminal `outcome` (spec §3.3, §4.3): a retry when the
// job's jobExecutionsRetryConfig allows one, then the abort criteria, then completion.
// `aborted` (optional) is set when the abort criteria cancelled the job.
Status AfterTerminal(SqliteDb& db, int64_t job, int64_t thing, const jobs::JobExecution& e,
                     bool latest, Instant now, bool* aborted = nullptr) {
  IOTJOBS_PREPARE(s, db,
                  "SELECT status, spec, n_succeeded, n_failed, n_rejected, n_timed_out, "
                  "n_canceled, n_removed FROM jobs WHERE id = ?1");
  s.Bind(1, job);
  Status st;
  if (!s.Step(&st)) return st;
  // A job SCHEDULED between maintenance windows still runs its executions: their failures are
  // retried and counted for abort as in a window. Only a canceled (or ending) job skips both.
  const std::string status = s.Text(0);
  if (status != jobs::kJobInProgress && status != jobs::kJobScheduled) {
    return MaybeComplete(db, job, now);
  }
  jobs::Job spec;
  IOTJOBS_RETURN_IF_ERROR(codec::JobSpecFromJson(s.Text(1), &spec));
  jobs::TerminalCounts counts{s.Int(2), s.Int(3), s.Int(4), s.Int(5), s.Int(6), s.Int(7)};

  const bool retryable =
      e.status == ExecutionStatus::kFailed || e.status == ExecutionStatus::kTimedOut;
  if (latest && retryable && spec.configs.retry_config) {
    IOTJOBS_PREPARE(u, db,
                    "SELECT retry_cause, count(*) FROM job_executions WHERE job = ?1 "
                    "AND thing = ?2 AND retry_cause IS NOT NULL GROUP BY retry_cause");
    u.Bind(1, job).Bind(2, thing);
    jobs::RetriesUsed used;
    while (u.Step(&st)) {
      const auto cause = static_cast<ExecutionStatus>(u.Int(0));
      (cause == ExecutionStatus::kFailed ? used.failed : used.timed_out) +=
          static_cast<int32_t>(u.Int(1));
    }
    IOTJOBS_RETURN_IF_ERROR(st);
    if (jobs::ShouldRetry(*spec.configs.retry_config, e.status, used)) {
      // A new execution with the next number; the failed one stops being the thing's latest.
      IOTJOBS_PREPARE(old, db,
                      "UPDATE job_executions SET latest = 0 WHERE job = ?1 AND thing = ?2 "
                      "AND number = ?3");
      IOTJOBS_RETURN_IF_ERROR(old.Bind(1, job).Bind(2, thing).Bind(3, e.execution_number).Run());
      IOTJOBS_PREPARE(ins, db,
                      "INSERT INTO job_executions(job, thing, number, status, version, latest, "
                      "queued_at_ms, updated_at_ms, retry_attempt, retry_cause) "
                      "VALUES (?1, ?2, ?3, 0, 1, 1, ?4, ?4, ?5, ?6)");
      IOTJOBS_RETURN_IF_ERROR(ins.Bind(1, job)
                                  .Bind(2, thing)
                                  .Bind(3, e.execution_number + 1)
                                  .Bind(4, ToEpochMillis(now))
                                  .Bind(5, static_cast<int64_t>(e.retry_attempt) + 1)
                                  .Bind(6, StatusInt(e.status))
                                  .Run());
      IOTJOBS_RETURN_IF_ERROR(AddToCounter(db, job, e.status, -1));
      IOTJOBS_RETURN_IF_ERROR(AddToCounter(db, job, ExecutionStatus::kQueued, 1));
      (e.status == ExecutionStatus::kFailed ? counts.failed : counts.timed_out) -= 1;
    }
  }
  if (spec.configs.abort_config) {
    if (auto abort = jobs::EvaluateAbort(*spec.configs.abort_config, counts)) {
      if (aborted) *aborted = true;
      return CancelJobRow(db, job, /*force=*/false, abort->reason_code, abort->comment, now);
    }
  }
  return MaybeComplete(db, job, now);
}

// Parses a "<a>:<b>" cursor of two integers; (dflt, dflt) when empty.
Result<std::pair<int64_t, int64_t>> ParseCursor(const std::string& after, int64_t dflt) {
  if (after.empty()) return std::make_pair(dflt, dflt);
  size_t colon = after.find(':');
  int64_t a = 0, b = 0;
  auto ok = [](std::string_view s, int64_t* v) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
    return !s.empty() && ec == std::errc() && p == s.data() + s.size();
  };
  if (colon == std::string::npos || !ok(std::string_view(after).substr(0, colon), &a) ||
      !ok(std::string_view(after).substr(colon + 1), &b)) {
    return Status::InvalidRequest("nextToken is invalid: pass the nextToken of a previous page");
  }
  return std::make_pair(a, b);
}

// Moves the latest execution of (job, thing) to REMOVED when it is not terminal.
Status RemoveExecution(SqliteDb& db, int64_t job, int64_t thing, Instant now) {
  IOTJOBS_PREPARE(s, db,
                  "SELECT number, status FROM job_executions WHERE job = ?1 AND thing = ?2 "
                  "AND latest = 1");
  s.Bind(1, job).Bind(2, thing);
  Status st;
  if (!s.Step(&st)) return st;
  const int64_t number = s.Int(0);
  const auto status = static_cast<ExecutionStatus>(s.Int(1));
  auto next = jobs::ApplyServiceEvent(status, jobs::ServiceEvent::kRemove);
  if (!next.ok()) return Status::Ok();  // terminal: nothing to remove
  IOTJOBS_PREPARE(
      u, db,
      "UPDATE job_executions SET status = ?4, version = version + 1, updated_at_ms = ?5, "
      "timeout_at_ms = NULL WHERE job = ?1 AND thing = ?2 AND number = ?3");
  IOTJOBS_RETURN_IF_ERROR(u.Bind(1, job)
                              .Bind(2, thing)
                              .Bind(3, number)
                              .Bind(4, StatusInt(*next))
                              .Bind(5, ToEpochMillis(now))
                              .Run());
  IOTJOBS_RETURN_IF_ERROR(AddToCounter(db, job, status, -1));
  IOTJOBS_RETURN_IF_ERROR(AddToCounter(db, job, *next, 1));
  return MaybeComplete(db, job, now);
}

// True when a target of `job` other than group `exclude` covers `thing`: a direct thing target,
// or a group target that is an ancestor-or-self of a group the thing belongs to.
Result<bool> CoveredByJob(SqliteDb& db, int64_t job, int64_t thing, int64_t exclude) {
  IOTJOBS_PREPARE(s, db,
                  "WITH RECURSIVE up(id) AS ("
                  "  SELECT grp FROM thing_group_members WHERE thing = ?2 AND grp <> ?3"
                  "  UNION SELECT g.parent FROM thing_groups g JOIN up ON g.id = up.id"
                  "  WHERE g.parent IS NOT NULL) "
                  "SELECT EXISTS (SELECT 1 FROM job_targets t WHERE t.job = ?1 "
                  "  AND (t.thing = ?2 OR t.grp IN up))");
  s.Bind(1, job).Bind(2, thing).Bind(3, exclude);
  Status st;
  if (!s.Step(&st)) return st.ok() ? Status::Internal("EXISTS returned no row") : st;
  return s.Int(0) != 0;
}

// IN_PROGRESS continuous jobs with a target on `grp` or one of its ancestors.
Result<std::vector<int64_t>> ContinuousJobsOver(SqliteDb& db, int64_t grp) {
  IOTJOBS_PREPARE(s, db,
                  "WITH RECURSIVE up(id) AS (SELECT ?1 UNION "
                  "  SELECT g.parent FROM thing_groups g JOIN up ON g.id = up.id "
                  "  WHERE g.parent IS NOT NULL) "
                  "SELECT DISTINCT t.job FROM job_targets t JOIN jobs j ON j.id = t.job "
                  "WHERE t.grp IN up AND j.target_selection = 'CONTINUOUS' "
                  "AND j.status = 'IN_PROGRESS'");
  s.Bind(1, grp);
  std::vector<int64_t> out;
  Status st;
  while (s.Step(&st)) out.push_back(s.Int(0));
  if (!st.ok()) return st;
  return out;
}

}  // namespace

namespace internal {

Status OnMembershipAdded(SqliteDb& db, int64_t thing, int64_t grp, Instant now) {
  auto jobs = ContinuousJobsOver(db, grp);
  if (!jobs.ok()) return jobs.status();
  for (int64_t job : *jobs) {
    auto covered = CoveredByJob(db, job, thing, grp);
    if (!covered.ok()) return covered.status();
    if (*covered) continue;  // it already was a target through another group or directly
    IOTJOBS_PREPARE(s, db,
                    "SELECT number, status FROM job_executions WHERE job = ?1 AND thing = ?2 "
                    "AND latest = 1");
    s.Bind(1, job).Bind(2, thing);
    Status st;
    int64_t number = 0;
    if (s.Step(&st)) {
      const auto status = static_cast<ExecutionStatus>(s.Int(1));
      if (!jobs::IsTerminal(status)) continue;  // still running: keep it
      number = s.Int(0);
      IOTJOBS_PREPARE(old, db,
                      "UPDATE job_executions SET latest = 0 WHERE job = ?1 AND thing = ?2 AND "
                      "number = ?3");
      IOTJOBS_RETURN_IF_ERROR(old.Bind(1, job).Bind(2, thing).Bind(3, number).Run());
      IOTJOBS_RETURN_IF_ERROR(AddToCounter(db, job, status, -1));
    }
    IOTJOBS_RETURN_IF_ERROR(st);
    // A joiner gets a fresh execution at once, outside the rollout rate (spec §4.2). Numbered
    // after every execution the thing has, not only the latest: when the latest was deleted
    // (DeleteExecution) an older one may remain without being the latest, and latest + 1 would
    // collide with it.
    IOTJOBS_PREPARE(ins, db,
                    "INSERT INTO job_executions(job, thing, number, status, version, latest, "
                    "queued_at_ms, updated_at_ms) SELECT ?1, ?2, coalesce(max(number), 0) + 1, "
                    "0, 1, 1, ?3, ?3 FROM job_executions WHERE job = ?1 AND thing = ?2");
    IOTJOBS_RETURN_IF_ERROR(ins.Bind(1, job).Bind(2, thing).Bind(3, ToEpochMillis(now)).Run());
    IOTJOBS_RETURN_IF_ERROR(AddToCounter(db, job, ExecutionStatus::kQueued, 1));
    IOTJOBS_PREPARE(n, db,
                    "UPDATE jobs SET notified = notified + 1, updated_at_ms = ?2 WHERE id = ?1");
    IOTJOBS_RETURN_IF_ERROR(n.Bind(1, job).Bind(2, ToEpochMillis(now)).Run());
  }
  return Status::Ok();
}

Status OnMembershipRemoved(SqliteDb& db, int64_t thing, int64_t grp, Instant now) {
  auto jobs = ContinuousJobsOver(db, grp);
  if (!jobs.ok()) return jobs.status();
  for (int64_t job : *jobs) {
    auto covered = CoveredByJob(db, job, thing, -1);
    if (!covered.ok()) return covered.status();
    if (*covered) continue;  // still a target through another group
    IOTJOBS_RETURN_IF_ERROR(RemoveExecution(db, job, thing, now));
  }
  return Status::Ok();
}

Status OnThingDeleted(SqliteDb& db, int64_t thing, Instant now) {
  IOTJOBS_PREPARE(s, db,
                  "SELECT job FROM job_executions WHERE thing = ?1 AND latest = 1 "
                  "AND status IN (0, 1)");
  s.Bind(1, thing);
  std::vector<int64_t> jobs;
  Status st;
  while (s.Step(&st)) jobs.push_back(s.Int(0));
  IOTJOBS_RETURN_IF_ERROR(st);
  for (int64_t job : jobs) IOTJOBS_RETURN_IF_ERROR(RemoveExecution(db, job, thing, now));
  return Status::Ok();
}

}  // namespace internal

Status SqliteStore::CreateJob(const jobs::Job& j, const std::string& arn,
                              const std::vector<jobs::Tag>& tags) {
  const std::string spec = codec::JobSpecToJson(j);
  return Write([&](SqliteDb& db) -> Status {
    IOTJOBS_PREPARE(s, db,
                    "INSERT INTO jobs(region, job_id, status, target_selection, spec, "
                    "created_at_ms, updated_at_ms, work, namespace_id, has_schedule) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING");
    IOTJOBS_RETURN_IF_ERROR(s.Bind(1, j.region)
                                .Bind(2, j.id)
                                .Bind(3, j.status)
                                .Bind(4, j.target_selection)
                                .Bind(5, spec)
                                .Bind(6, ToEpochMillis(j.created_at))
                                .Bind(7, kWorkRollout)
                                .Bind(8, j.namespace_id)
                                .Bind(9, int64_t{j.scheduling_config ? 1 : 0})
                                .Run());
    if (db.Changes() == 0) return Status(Code::kAlreadyExists, "job " + j.id + " already exists");
    const int64_t id = sqlite3_last_insert_rowid(db.raw());
    IOTJOBS_RETURN_IF_ERROR(InsertTargets(db, id, j.region, j.targets, 0));
    IOTJOBS_PREPARE(c, db, "INSERT INTO rollout_cursors(job) VALUES (?1)");
    IOTJOBS_RETURN_IF_ERROR(c.Bind(1, id).Run());
    return InsertTags(db, arn, tags);
  });
}

Result<jobs::Job> SqliteStore::GetJob(const std::string& region, const std::string& id) {
  return Read<jobs::Job>([&](SqliteDb& db) -> Result<jobs::Job> {
    IOTJOBS_PREPARE(s, db,
                    "SELECT " IOTJOBS_JOB_COLUMNS " FROM jobs WHERE region = ?1 AND job_id = ?2");
    IOTJOBS_RETURN_IF_ERROR(StepToNamed(s, region, id, "job"));
    return JobFromRow(s);
  });
}

Result<Page<jobs::Job>> SqliteStore::ListJobs(const std::string& region, const JobFilter& filter,
                                              const std::string& after, int limit) {
  using P = Page<jobs::Job>;
  return Read<P>([&](SqliteDb& db) -> Result<P> {
    std::optional<int64_t> group;
    if (!filter.thing_group.empty()) {
      auto g = FindGroup(db, region, filter.thing_group);
      if (!g.ok()) return g.status();
      group = *g;
    }
    int64_t before = INT64_MAX;
    if (!after.empty()) {
      auto [p, ec] = std::from_chars(after.data(), after.data() + after.size(), before);
      if (ec != std::errc() || p != after.data() + after.size()) {
        return Status::InvalidRequest(
            "nextToken is invalid: pass the nextToken of a previous page");
      }
    }
    IOTJOBS_PREPARE(s, db,
                    "SELECT " IOTJOBS_JOB_COLUMNS
                    ", id FROM jobs j WHERE region = ?1 AND id < ?2 "
                    "AND (?4 IS NULL OR status = ?4) AND (?5 IS NULL OR target_selection = ?5) "
                    "AND (?6 IS NULL OR EXISTS (SELECT 1 FROM job_targets t WHERE t.job = j.id "
                    "     AND t.grp = ?6)) "
                    "AND (?7 IS NULL OR namespace_id = ?7) "
                    "AND (?8 IS NULL OR EXISTS (SELECT 1 FROM job_targets t JOIN thing_groups g "
                    "     ON g.id = t.grp WHERE t.job = j.id AND g.group_id = ?8)) "
                    "ORDER BY id DESC LIMIT ?3");
    s.Bind(1, region).Bind(2, before).Bind(3, static_cast<int64_t>(limit) + 1);
    if (!filter.status.empty()) s.Bind(4, filter.status);
    if (!filter.target_selection.empty()) s.Bind(5, filter.target_selection);
    if (group) s.Bind(6, *group);
    if (!filter.namespace_id.empty()) s.Bind(7, filter.namespace_id);
    if (!filter.thing_group_id.empty()) s.Bind(8, filter.thing_group_id);
    P page;
    std::vector<int64_t> ids;
    Status st;
    while (s.Step(&st)) {
      auto j = JobFromRow(s);
      if (!j.ok()) return j.status();
      page.items.push_back(std::move(j).value());
      ids.push_back(s.Int(18));
    }
    if (!st.ok()) return st;
    if (static_cast<int>(page.items.size()) > limit) {
      page.items.resize(limit);
      page.next_after = std::to_string(ids[limit - 1]);
    }
    return page;
  });
}

Status SqliteStore::UpdateJob(const jobs::Job& j) {
  const std::string spec = codec::JobSpecToJson(j);
  return Write([&](SqliteDb& db) -> Status {
    IOTJOBS_PREPARE(s, db,
                    "UPDATE jobs SET spec = ?3, updated_at_ms = ?4, namespace_id = ?5, "
                    "has_schedule = ?6 WHERE region = ?1 AND job_id = ?2");
    IOTJOBS_RETURN_IF_ERROR(s.Bind(1, j.region)
                                .Bind(2, j.id)
                                .Bind(3, spec)
                                .Bind(4, ToEpochMillis(j.last_updated_at))
                                .Bind(5, j.namespace_id)
                                .Bind(6, int64_t{j.scheduling_config ? 1 : 0})
                                .Run());
    if (db.Changes() == 0) return Status::NotFound("job " + j.id + " does not exist");
    return Status::Ok();
  });
}

Status SqliteStore::CancelJob(const std::string& region, const std::string& id, bool force,
                              const std::optional<std::string>& reason_code,
                              const std::optional<std::string>& comment, Instant now) {
  return Write([&](SqliteDb& db) -> Status {
    auto j = FindJob(db, region, id);
    if (!j.ok()) return j.status();
    return CancelJobRow(db, j->id, force, reason_code, comment, now);
  });
}

Status SqliteStore::DeleteJob(const std::string& region, const std::string& id,
                              const std::string& arn, bool force, int max_deleting, Instant now) {
  return Write([&](SqliteDb& db) -> Status {
    auto j = FindJob(db, region, id);
    if (!j.ok()) return j.status();
    if (j->status == jobs::kJobDeletionInProgress) {
      return Status::InvalidRequest("job " + id + " is already being deleted");
    }
    const bool terminal = j->status == jobs::kJobCompleted || j->status == jobs::kJobCanceled;
    if (!terminal && !force) {
      return Status(Code::kInvalidStateTransition,
                    "job " + id + " is " + j->status +
                        "; only COMPLETED or CANCELED jobs can be deleted without force");
    }
    IOTJOBS_PREPARE(c, db, "SELECT COUNT(*) FROM jobs WHERE status = 'DELETION_IN_PROGRESS'");
    Status st;
    int64_t deleting = c.Step(&st) ? c.Int(0) : 0;
    IOTJOBS_RETURN_IF_ERROR(st);
    if (deleting >= max_deleting) {
      return Status::LimitExceeded(std::to_string(deleting) +
                                   " jobs are already being deleted; try again when one finishes");
    }
    IOTJOBS_RETURN_IF_ERROR(DeleteAllTags(db, arn));
    IOTJOBS_PREPARE(u, db,
                    "UPDATE jobs SET status = 'DELETION_IN_PROGRESS', work = ?2, work_cursor = 0, "
                    "updated_at_ms = ?3 WHERE id = ?1");
    return u.Bind(1, j->id).Bind(2, kWorkDelete).Bind(3, ToEpochMillis(now)).Run();
  });
}

Status SqliteStore::AssociateTargets(const std::string& region, const std::string& id,
                                     const std::vector<std::string>& targets, int max_targets,
                                     Instant now) {
  return Write([&](SqliteDb& db) -> Status {
    IOTJOBS_PREPARE(s, db,
                    "SELECT id, status, target_selection, spec FROM jobs "
                    "WHERE region = ?1 AND job_id = ?2");
    IOTJOBS_RETURN_IF_ERROR(StepToNamed(s, region, id, "job"));
    const int64_t job = s.Int(0);
    if (s.Text(2) != "CONTINUOUS" || s.Text(1) != jobs::kJobInProgress) {
      return Status::InvalidRequest(
          "targets can be associated only with a CONTINUOUS job that is "
          "IN_PROGRESS; job " +
          id + " is " + s.Text(2) + " and " + s.Text(1));
    }
    jobs::Job j;
    IOTJOBS_RETURN_IF_ERROR(codec::JobSpecFromJson(s.Text(3), &j));
    std::vector<std::string> added;
    for (const auto& t : targets) {
      if (std::find(j.targets.begin(), j.targets.end(), t) == j.targets.end() &&
          std::find(added.begin(), added.end(), t) == added.end()) {
        added.push_back(t);
      }
    }
    if (j.targets.size() + added.size() > static_cast<size_t>(max_targets)) {
      return Status::LimitExceeded("a job can have at most " + std::to_string(max_targets) +
                                   " targets; this would make " +
                                   std::to_string(j.targets.size() + added.size()));
    }
    IOTJOBS_RETURN_IF_ERROR(
        InsertTargets(db, job, region, added, static_cast<int64_t>(j.targets.size())));
    j.targets.insert(j.targets.end(), added.begin(), added.end());
    IOTJOBS_PREPARE(u, db,
                    "UPDATE jobs SET spec = ?2, work = work | ?3, rollout_done = 0, "
                    "updated_at_ms = ?4 WHERE id = ?1");
    return u.Bind(1, job)
        .Bind(2, codec::JobSpecToJson(j))
        .Bind(3, kWorkRollout)
        .Bind(4, ToEpochMillis(now))
        .Run();
  });
}

Result<std::vector<Store::JobWork>> SqliteStore::PendingJobWork() {
  using V = std::vector<JobWork>;
  return Read<V>([&](SqliteDb& db) -> Result<V> {
    IOTJOBS_PREPARE(s, db,
                    "SELECT id, region, job_id, work, status, spec, notified, n_succeeded "
                    "FROM jobs WHERE work <> 0");
    V out;
    Status st;
    while (s.Step(&st)) {
      JobWork w;
      w.job = s.Int(0);
      w.region = s.Text(1);
      w.id = s.Text(2);
      const int64_t work = s.Int(3);
      // A SCHEDULED job rolls out only once the scheduler has moved it to IN_PROGRESS.
      w.rollout = (work & kWorkRollout) && s.Text(4) == jobs::kJobInProgress;
      w.cancel = work & kWorkCancel;
      w.force_cancel = work & kWorkForceCancel;
      w.deletion = work & kWorkDelete;
      jobs::Job spec;
      IOTJOBS_RETURN_IF_ERROR(codec::JobSpecFromJson(s.Text(5), &spec));
      w.rollout_config = spec.configs.rollout_config;
      w.notified = s.Int(6);
      w.succeeded = s.Int(7);
      if (w.rollout || w.cancel || w.force_cancel || w.deletion) out.push_back(std::move(w));
    }
    if (!st.ok()) return st;
    return out;
  });
}

namespace {

// MaterializeExecutions for one job inside the caller's transaction; *created_out receives how
// many it created.
Status MaterializeJob(SqliteDb& db, int64_t job, int64_t max, Instant now, int64_t* created_out) {
  *created_out = 0;
  int64_t& created = *created_out;
  Status st;
  {
    // The caller read the job's work earlier; a CancelJob, an abort or a schedule may have
    // stopped the rollout since. Re-checked here, in the same transaction as the inserts.
    IOTJOBS_PREPARE(j, db, "SELECT status, work FROM jobs WHERE id = ?1");
    j.Bind(1, job);
    if (!j.Step(&st)) return st;  // gone already
    if (j.Text(0) != jobs::kJobInProgress || (j.Int(1) & kWorkRollout) == 0) {
      return Status::Ok();
    }
  }
  IOTJOBS_PREPARE(cur, db,
                  "SELECT target_idx, groups, group_idx, last_thing FROM rollout_cursors "
                  "WHERE job = ?1");
  cur.Bind(1, job);
  if (!cur.Step(&st)) return st.ok() ? Status::NotFound("job has no rollout cursor") : st;
  int64_t target_idx = cur.Int(0);
  std::string groups = cur.OptText(1).value_or("");
  int64_t group_idx = cur.Int(2), last_thing = cur.Int(3);

  struct Target {
    std::optional<int64_t> thing, grp;
  };
  std::vector<Target> targets;
  {
    IOTJOBS_PREPARE(t, db, "SELECT thing, grp FROM job_targets WHERE job = ?1 ORDER BY idx");
    t.Bind(1, job);
    while (t.Step(&st)) {
      Target x;
      if (t.OptText(0)) x.thing = t.Int(0);
      if (t.OptText(1)) x.grp = t.Int(1);
      targets.push_back(x);
    }
    IOTJOBS_RETURN_IF_ERROR(st);
  }
  const int64_t now_ms = ToEpochMillis(now);
  while (created < max && target_idx < static_cast<int64_t>(targets.size())) {
    const Target& t = targets[target_idx];
    if (t.thing) {
      // The thing may have been deleted since the job was created: no execution for it.
      IOTJOBS_PREPARE(ins, db,
                      "INSERT INTO job_executions(job, thing, number, status, version, latest, "
                      "queued_at_ms, updated_at_ms) SELECT ?1, ?2, 1, 0, 1, 1, ?3, ?3 "
                      "WHERE EXISTS (SELECT 1 FROM things WHERE id = ?2) "
                      "ON CONFLICT DO NOTHING");
      IOTJOBS_RETURN_IF_ERROR(ins.Bind(1, job).Bind(2, *t.thing).Bind(3, now_ms).Run());
      created += db.Changes();
      ++target_idx;
      continue;
    }
    // A group target covers the group and every descendant, listed once when its rollout
    // starts (snapshot semantics) and walked group by group in member order.
    std::vector<int64_t> ids;
    if (groups.empty()) {
      IOTJOBS_PREPARE(d, db,
                      "WITH RECURSIVE d(id) AS (SELECT ?1 UNION ALL "
                      "  SELECT g.id FROM thing_groups g JOIN d ON g.parent = d.id) "
                      "SELECT id FROM d");
      d.Bind(1, *t.grp);
      while (d.Step(&st)) groups += (groups.empty() ? "" : ",") + std::to_string(d.Int(0));
      IOTJOBS_RETURN_IF_ERROR(st);
      group_idx = 0;
      last_thing = 0;
    }
    for (size_t p = 0; p < groups.size();) {
      size_t comma = groups.find(',', p);
      if (comma == std::string::npos) comma = groups.size();
      ids.push_back(std::stoll(groups.substr(p, comma - p)));
      p = comma + 1;
    }
    if (group_idx >= static_cast<int64_t>(ids.size())) {
      ++target_idx;
      groups.clear();
      group_idx = 0;
      last_thing = 0;
      continue;
    }
    IOTJOBS_PREPARE(edge, db,
                    "SELECT max(thing) FROM (SELECT thing FROM thing_group_members "
                    "WHERE grp = ?1 AND thing > ?2 ORDER BY thing LIMIT ?3)");
    edge.Bind(1, ids[group_idx]).Bind(2, last_thing).Bind(3, max - created);
    if (!edge.Step(&st) || !edge.OptText(0)) {
      IOTJOBS_RETURN_IF_ERROR(st);
      ++group_idx;  // this group is exhausted
      last_thing = 0;
      continue;
    }
    const int64_t upto = edge.Int(0);
    IOTJOBS_PREPARE(ins, db,
                    "INSERT INTO job_executions(job, thing, number, status, version, latest, "
                    "queued_at_ms, updated_at_ms) "
                    "SELECT ?1, thing, 1, 0, 1, 1, ?4, ?4 FROM thing_group_members "
                    "WHERE grp = ?2 AND thing > ?3 AND thing <= ?5 ON CONFLICT DO NOTHING");
    IOTJOBS_RETURN_IF_ERROR(ins.Bind(1, job)
                                .Bind(2, ids[group_idx])
                                .Bind(3, last_thing)
                                .Bind(4, now_ms)
                                .Bind(5, upto)
                                .Run());
    created += db.Changes();
    last_thing = upto;
  }
  const bool done = target_idx >= static_cast<int64_t>(targets.size());
  IOTJOBS_PREPARE(save, db,
                  "UPDATE rollout_cursors SET target_idx = ?2, groups = ?3, group_idx = ?4, "
                  "last_thing = ?5 WHERE job = ?1");
  save.Bind(1, job).Bind(2, target_idx).Bind(4, group_idx).Bind(5, last_thing);
  if (!groups.empty()) save.Bind(3, groups);
  IOTJOBS_RETURN_IF_ERROR(save.Run());
  IOTJOBS_PREPARE(u, db,
                  "UPDATE jobs SET n_queued = n_queued + ?2, notified = notified + ?2, "
                  "rollout_done = ?3, work = CASE WHEN ?3 THEN work & ~1 ELSE work END, "
                  "updated_at_ms = CASE WHEN ?2 > 0 THEN ?4 ELSE updated_at_ms END WHERE id = ?1");
  IOTJOBS_RETURN_IF_ERROR(
      u.Bind(1, job).Bind(2, created).Bind(3, int64_t{done ? 1 : 0}).Bind(4, now_ms).Run());
  if (created > 0) {
    // The pacing history (migration 12): this batch, and nothing older than the window. One row
    // written and at most a few deleted per call, through the primary key.
    IOTJOBS_PREPARE(b, db,
                    "INSERT INTO rollout_batches(job, at_ms, count) VALUES (?1, ?2, ?3) "
                    "ON CONFLICT (job, at_ms) DO UPDATE SET count = count + excluded.count");
    IOTJOBS_RETURN_IF_ERROR(b.Bind(1, job).Bind(2, now_ms).Bind(3, created).Run());
    IOTJOBS_PREPARE(old, db, "DELETE FROM rollout_batches WHERE job = ?1 AND at_ms <= ?2");
    IOTJOBS_RETURN_IF_ERROR(old.Bind(1, job).Bind(2, now_ms - jobs::kRolloutWindow.count()).Run());
  }
  return MaybeComplete(db, job, now);
}

}  // namespace

Result<int64_t> SqliteStore::MaterializeExecutions(int64_t job, int64_t max, Instant now) {
  int64_t created = 0;
  Status result =
      Write([&](SqliteDb& db) -> Status { return MaterializeJob(db, job, max, now, &created); });
  if (!result.ok()) return result;
  return created;
}

Result<std::vector<int64_t>> SqliteStore::MaterializeReleases(const std::vector<Release>& releases,
                                                              Instant now) {
  std::vector<int64_t> created;
  Status result = Write([&](SqliteDb& db) -> Status {
    created.assign(releases.size(), 0);
    for (size_t i = 0; i < releases.size(); ++i) {
      IOTJOBS_RETURN_IF_ERROR(
          MaterializeJob(db, releases[i].job, releases[i].max, now, &created[i]));
    }
    return Status::Ok();
  });
  if (!result.ok()) return result;
  return created;
}

Result<std::vector<jobs::RolloutBatch>> SqliteStore::RolloutBatches(int64_t job, Instant since) {
  using V = std::vector<jobs::RolloutBatch>;
  return Read<V>([&](SqliteDb& db) -> Result<V> {
    IOTJOBS_PREPARE(s, db,
                    "SELECT at_ms, count FROM rollout_batches WHERE job = ?1 AND at_ms > ?2 "
                    "ORDER BY at_ms");
    s.Bind(1, job).Bind(2, ToEpochMillis(since));
    V out;
    Status st;
    while (s.Step(&st)) out.push_back({FromEpochMillis(s.Int(0)), s.Int(1)});
    if (!st.ok()) return st;
    return out;
  });
}

Result<int64_t> SqliteStore::ProcessJobWork(int64_t job, int64_t max, Instant now) {
  int64_t touched = 0;
  Status result = Write([&](SqliteDb& db) -> Status {
    touched = 0;
    IOTJOBS_PREPARE(s, db, "SELECT work, work_cursor FROM jobs WHERE id = ?1");
    s.Bind(1, job);
    Status st;
    if (!s.Step(&st)) return st;  // gone already
    const int64_t work = s.Int(0), cursor = s.Int(1);
    const int64_t now_ms = ToEpochMillis(now);

    if (work & kWorkDelete) {
      IOTJOBS_PREPARE(e, db,
                      "SELECT max(thing) FROM (SELECT thing FROM job_executions WHERE job = ?1 "
                      "ORDER BY thing LIMIT ?2)");
      e.Bind(1, job).Bind(2, max);
      if (e.Step(&st) && e.OptText(0)) {
        IOTJOBS_PREPARE(d, db, "DELETE FROM job_executions WHERE job = ?1 AND thing <= ?2");
        IOTJOBS_RETURN_IF_ERROR(d.Bind(1, job).Bind(2, e.Int(0)).Run());
        touched = db.Changes();
        return Status::Ok();
      }
      IOTJOBS_RETURN_IF_ERROR(st);
      for (const char* sql :
           {"DELETE FROM job_targets WHERE job = ?1", "DELETE FROM rollout_cursors WHERE job = ?1",
            "DELETE FROM rollout_batches WHERE job = ?1", "DELETE FROM jobs WHERE id = ?1"}) {
        IOTJOBS_PREPARE(d, db, sql);
        IOTJOBS_RETURN_IF_ERROR(d.Bind(1, job).Run());
      }
      return Status::Ok();
    }
    if (work & (kWorkCancel | kWorkForceCancel)) {
      IOTJOBS_PREPARE(e, db,
                      "SELECT max(thing) FROM (SELECT thing FROM job_executions WHERE job = ?1 "
                      "AND thing > ?2 ORDER BY thing LIMIT ?3)");
      e.Bind(1, job).Bind(2, cursor).Bind(3, max);
      if (e.Step(&st) && e.OptText(0)) {
        const int64_t upto = e.Int(0);
        std::vector<ExecutionStatus> from = {ExecutionStatus::kQueued};
        if (work & kWorkForceCancel) from.push_back(ExecutionStatus::kInProgress);
        for (ExecutionStatus f : from) {
          IOTJOBS_PREPARE(u, db,
                          "UPDATE job_executions SET status = ?5, version = version + 1, "
                          "updated_at_ms = ?4, timeout_at_ms = NULL, force_canceled = ?6 "
                          "WHERE job = ?1 AND thing > ?2 AND thing <= ?3 AND latest = 1 "
                          "AND status = ?7");
          IOTJOBS_RETURN_IF_ERROR(u.Bind(1, job)
                                      .Bind(2, cursor)
                                      .Bind(3, upto)
                                      .Bind(4, now_ms)
                                      .Bind(5, StatusInt(ExecutionStatus::kCanceled))
                                      .Bind(6, int64_t{f == ExecutionStatus::kInProgress ? 1 : 0})
                                      .Bind(7, StatusInt(f))
                                      .Run());
          const int64_t n = db.Changes();
          IOTJOBS_RETURN_IF_ERROR(AddToCounter(db, job, f, -n));
          IOTJOBS_RETURN_IF_ERROR(AddToCounter(db, job, ExecutionStatus::kCanceled, n));
          touched += n;
        }
        IOTJOBS_PREPARE(c, db, "UPDATE jobs SET work_cursor = ?2 WHERE id = ?1");
        IOTJOBS_RETURN_IF_ERROR(c.Bind(1, job).Bind(2, upto).Run());
        touched = std::max<int64_t>(touched, 1);  // progress was made; call again
        return Status::Ok();
      }
      IOTJOBS_RETURN_IF_ERROR(st);
      IOTJOBS_PREPARE(c, db, "UPDATE jobs SET work = work & ~?2, work_cursor = 0 WHERE id = ?1");
      return c.Bind(1, job).Bind(2, kWorkCancel | kWorkForceCancel).Run();
    }
    return Status::Ok();
  });
  if (!result.ok()) return result;
  return touched;
}

Result<jobs::JobExecution> SqliteStore::GetExecution(const std::string& region,
                                                     const std::string& job_id,
                                                     const std::string& thing,
                                                     std::optional<int64_t> number) {
  return Read<jobs::JobExecution>([&](SqliteDb& db) -> Result<jobs::JobExecution> {
    auto j = FindJob(db, region, job_id);
    if (!j.ok()) return j.status();
    auto t = FindThing(db, region, thing);
    if (!t.ok()) return t.status();
    IOTJOBS_PREPARE(s, db,
                    "SELECT " IOTJOBS_EXEC_COLUMNS
                    " FROM job_executions e WHERE e.job = ?1 "
                    "AND e.thing = ?2 AND (?3 IS NULL OR e.number = ?3) ORDER BY e.number DESC "
                    "LIMIT 1");
    s.Bind(1, j->id).Bind(2, *t);
    if (number) s.Bind(3, *number);
    Status st;
    if (!s.Step(&st)) {
      if (!st.ok()) return st;
      return Status::NotFound("job " + job_id + " has no execution" +
                              (number ? " number " + std::to_string(*number) : "") + " on thing " +
                              thing);
    }
    auto e = ExecutionFromRow(s, 0);
    if (!e.ok()) return e.status();
    e->region = region;
    e->job_id = job_id;
    e->thing_name = thing;
    return e;
  });
}

Result<Page<jobs::JobExecution>> SqliteStore::ListExecutionsForJob(
    const std::string& region, const std::string& job_id, std::optional<ExecutionStatus> status,
    const std::string& after, int limit) {
  using P = Page<jobs::JobExecution>;
  return Read<P>([&](SqliteDb& db) -> Result<P> {
    auto j = FindJob(db, region, job_id);
    if (!j.ok()) return j.status();
    auto cursor = ParseCursor(after, 0);
    if (!cursor.ok()) return cursor.status();
    IOTJOBS_PREPARE(s, db,
                    "SELECT e.thing, coalesce(t.name, dt.name), " IOTJOBS_EXEC_COLUMNS
                    " FROM job_executions e LEFT JOIN things t ON t.id = e.thing "
                    "LEFT JOIN deleted_things dt ON dt.id = e.thing WHERE e.job = ?1 "
                    "AND (e.thing, e.number) > (?2, ?3) AND (?5 IS NULL OR e.status = ?5) "
                    "ORDER BY e.thing, e.number LIMIT ?4");
    s.Bind(1, j->id).Bind(2, cursor->first).Bind(3, cursor->second);
    s.Bind(4, static_cast<int64_t>(limit) + 1);
    if (status) s.Bind(5, StatusInt(*status));
    return ExecutionPage(s, limit, [&](jobs::JobExecution* e, const std::string& name) {
      e->region = region;
      e->job_id = job_id;
      e->thing_name = name;
    });
  });
}

Result<Page<jobs::JobExecution>> SqliteStore::ListExecutionsForThing(
    const std::string& region, const std::string& thing, std::optional<ExecutionStatus> status,
    const std::string& job_id, const std::string& after, int limit) {
  using P = Page<jobs::JobExecution>;
  return Read<P>([&](SqliteDb& db) -> Result<P> {
    auto t = FindThing(db, region, thing);
    if (!t.ok()) return t.status();
    std::optional<int64_t> only_job;
    if (!job_id.empty()) {
      auto j = FindJob(db, region, job_id);
      if (!j.ok()) return j.status();
      only_job = j->id;
    }
    auto cursor = ParseCursor(after, INT64_MAX);
    if (!cursor.ok()) return cursor.status();
    IOTJOBS_PREPARE(s, db,
                    "SELECT e.job, j.job_id, " IOTJOBS_EXEC_COLUMNS
                    " FROM job_executions e "
                    "JOIN jobs j ON j.id = e.job WHERE e.thing = ?1 "
                    "AND (e.job, e.number) < (?2, ?3) AND (?5 IS NULL OR e.status = ?5) "
                    "AND (?6 IS NULL OR e.job = ?6) "
                    "ORDER BY e.job DESC, e.number DESC LIMIT ?4");
    s.Bind(1, *t).Bind(2, cursor->first).Bind(3, cursor->second);
    s.Bind(4, static_cast<int64_t>(limit) + 1);
    if (status) s.Bind(5, StatusInt(*status));
    if (only_job) s.Bind(6, *only_job);
    return ExecutionPage(s, limit, [&](jobs::JobExecution* e, const std::string& name) {
      e->region = region;
      e->job_id = name;
      e->thing_name = thing;
    });
  });
}

Status SqliteStore::CancelExecution(const std::string& region, const std::string& job_id,
                                    const std::string& thing, bool force,
                                    std::optional<int64_t> expected_version,
                                    const std::map<std::string, std::string>& status_details,
                                    Instant now) {
  return Write([&](SqliteDb& db) -> Status {
    auto j = FindJob(db, region, job_id);
    if (!j.ok()) return j.status();
    auto t = FindThing(db, region, thing);
    if (!t.ok()) return t.status();
    IOTJOBS_PREPARE(s, db,
                    "SELECT " IOTJOBS_EXEC_COLUMNS
                    " FROM job_executions e WHERE e.job = ?1 "
                    "AND e.thing = ?2 ORDER BY e.number DESC LIMIT 1");
    s.Bind(1, j->id).Bind(2, *t);
    Status st;
    if (!s.Step(&st)) {
      if (!st.ok()) return st;
      return Status::NotFound("job " + job_id + " has no execution on thing " + thing);
    }
    auto e = ExecutionFromRow(s, 0);
    if (!e.ok()) return e.status();
    if (expected_version && *expected_version != e->version_number) {
      return Status(Code::kVersionConflict, "the execution is at version " +
                                                std::to_string(e->version_number) + ", not " +
                                                std::to_string(*expected_version));
    }
    auto next = jobs::ApplyServiceEvent(
        e->status, force ? jobs::ServiceEvent::kForceCancel : jobs::ServiceEvent::kCancel);
    if (!next.ok()) {
      return Status(Code::kInvalidStateTransition,
                    std::string("cannot cancel an execution that is ") + jobs::ToString(e->status) +
                        (e->status == ExecutionStatus::kInProgress ? " without force" : ""));
    }
    auto details = e->status_details;
    for (const auto& [k, v] : status_details) details[k] = v;
    IOTJOBS_PREPARE(u, db,
                    "UPDATE job_executions SET status = ?4, version = version + 1, "
                    "updated_at_ms = ?5, timeout_at_ms = NULL, force_canceled = ?6, details = ?7 "
                    "WHERE job = ?1 AND thing = ?2 AND number = ?3");
    u.Bind(1, j->id).Bind(2, *t).Bind(3, e->execution_number).Bind(4, StatusInt(*next));
    u.Bind(5, ToEpochMillis(now)).Bind(6, int64_t{force ? 1 : 0});
    if (!details.empty()) u.Bind(7, codec::StringMapToJson(details));
    IOTJOBS_RETURN_IF_ERROR(u.Run());
    IOTJOBS_RETURN_IF_ERROR(AddToCounter(db, j->id, e->status, -1));
    IOTJOBS_RETURN_IF_ERROR(AddToCounter(db, j->id, *next, 1));
    return MaybeComplete(db, j->id, now);
  });
}

Status SqliteStore::DeleteExecution(const std::string& region, const std::string& job_id,
                                    const std::string& thing, int64_t number, bool force,
                                    Instant now) {
  return Write([&](SqliteDb& db) -> Status {
    auto j = FindJob(db, region, job_id);
    if (!j.ok()) return j.status();
    auto t = FindThing(db, region, thing);
    if (!t.ok()) return t.status();
    IOTJOBS_PREPARE(s, db,
                    "SELECT status, latest FROM job_executions WHERE job = ?1 AND thing = ?2 "
                    "AND number = ?3");
    s.Bind(1, j->id).Bind(2, *t).Bind(3, number);
    Status st;
    if (!s.Step(&st)) {
      if (!st.ok()) return st;
      return Status::NotFound("job " + job_id + " has no execution number " +
                              std::to_string(number) + " on thing " + thing);
    }
    const auto status = static_cast<ExecutionStatus>(s.Int(0));
    const bool latest = s.Int(1) != 0;
    if (!jobs::IsTerminal(status) && !force) {
      return Status(Code::kInvalidStateTransition,
                    std::string("the execution is ") + jobs::ToString(status) +
                        "; only terminal executions can be deleted without force");
    }
    IOTJOBS_PREPARE(d, db,
                    "DELETE FROM job_executions WHERE job = ?1 AND thing = ?2 AND number = ?3");
    IOTJOBS_RETURN_IF_ERROR(d.Bind(1, j->id).Bind(2, *t).Bind(3, number).Run());
    if (latest) IOTJOBS_RETURN_IF_ERROR(AddToCounter(db, j->id, status, -1));
    return MaybeComplete(db, j->id, now);
  });
}

namespace {

// The pending list's SQL (spec §2.3): latest executions, IN_PROGRESS (1) before QUEUED (0), each
// in queue order; jobs that are SCHEDULED or being deleted hold nothing pending.
#define IOTJOBS_PENDING_SQL                                                                 \
  "SELECT j.job_id, e.thing, " IOTJOBS_EXEC_COLUMNS                                         \
  " FROM job_executions e "                                                                 \
  "JOIN jobs j ON j.id = e.job WHERE e.thing = ?1 AND e.latest = 1 AND e.status IN (0, 1) " \
  "AND j.status NOT IN ('SCHEDULED', 'DELETION_IN_PROGRESS') "                              \
  "ORDER BY e.status DESC, e.queued_at_ms, e.job, e.number LIMIT ?2"

Result<std::vector<jobs::JobExecution>> Pending(SqliteDb& db, const std::string& region,
                                                const std::string& thing_name, int64_t thing,
                                                int limit) {
  IOTJOBS_PREPARE(s, db, IOTJOBS_PENDING_SQL);
  s.Bind(1, thing).Bind(2, static_cast<int64_t>(limit));
  std::vector<jobs::JobExecution> out;
  Status st;
  while (s.Step(&st)) {
    auto e = ExecutionFromRow(s, 2);
    if (!e.ok()) return e.status();
    e->region = region;
    e->job_id = s.Text(0);
    e->thing_name = thing_name;
    out.push_back(std::move(e).value());
  }
  if (!st.ok()) return st;
  return out;
}

// Applies a device transition to execution `e` of `job` (internal ids) and writes it.
Status WriteDeviceTransition(SqliteDb& db, int64_t job, int64_t thing, jobs::JobExecution* e,
                             ExecutionStatus next,
                             const std::optional<std::map<std::string, std::string>>& details,
                             std::optional<int64_t> step_minutes, bool latest, Instant now,
                             bool* aborted = nullptr) {
  // The job's timeoutConfig, decoded from its spec (SQL reads no rule input out of JSON).
  IOTJOBS_PREPARE(t, db, "SELECT spec FROM jobs WHERE id = ?1");
  t.Bind(1, job);
  Status st;
  std::optional<int64_t> in_progress_minutes;
  if (t.Step(&st)) {
    jobs::Job spec;
    IOTJOBS_RETURN_IF_ERROR(codec::JobSpecFromJson(t.Text(0), &spec));
    if (spec.configs.timeout_config) {
      in_progress_minutes = spec.configs.timeout_config->in_progress_timeout_in_minutes;
    }
  }
  IOTJOBS_RETURN_IF_ERROR(st);
  const ExecutionStatus from = e->status;
  jobs::ExecutionTimers timers{e->in_progress_deadline, e->step_deadline};
  timers = jobs::TimersAfterTransition(timers, from, next, in_progress_minutes, step_minutes, now);
  e->status = next;
  e->in_progress_deadline = timers.in_progress_deadline;
  e->step_deadline = timers.step_deadline;
  e->timeout_at = jobs::EffectiveDeadline(timers);
  if (details) e->status_details = *details;
  if (!e->started_at && next != ExecutionStatus::kQueued) e->started_at = now;
  e->version_number += 1;
  e->last_updated_at = now;
  IOTJOBS_PREPARE(u, db,
                  "UPDATE job_executions SET status = ?4, version = ?5, updated_at_ms = ?6, "
                  "started_at_ms = ?7, timeout_at_ms = ?8, in_progress_deadline_ms = ?9, "
                  "step_deadline_ms = ?10, details = ?11 "
                  "WHERE job = ?1 AND thing = ?2 AND number = ?3");
  u.Bind(1, job).Bind(2, thing).Bind(3, e->execution_number).Bind(4, StatusInt(next));
  u.Bind(5, e->version_number).Bind(6, ToEpochMillis(now)).Bind(7, ToEpochMillis(*e->started_at));
  if (e->timeout_at) u.Bind(8, ToEpochMillis(*e->timeout_at));
  if (e->in_progress_deadline) u.Bind(9, ToEpochMillis(*e->in_progress_deadline));
  if (e->step_deadline) u.Bind(10, ToEpochMillis(*e->step_deadline));
  if (!e->status_details.empty()) u.Bind(11, codec::StringMapToJson(e->status_details));
  IOTJOBS_RETURN_IF_ERROR(u.Run());
  if (latest && from != next) {
    IOTJOBS_RETURN_IF_ERROR(AddToCounter(db, job, from, -1));
    IOTJOBS_RETURN_IF_ERROR(AddToCounter(db, job, next, 1));
  }
  if (jobs::IsTerminal(next)) return AfterTerminal(db, job, thing, *e, latest, now, aborted);
  return Status::Ok();
}

}  // namespace

Result<std::vector<Store::ScheduledJob>> SqliteStore::ScheduledJobs() {
  using V = std::vector<ScheduledJob>;
  return Read<V>([&](SqliteDb& db) -> Result<V> {
    IOTJOBS_PREPARE(s, db,
                    "SELECT id, region, job_id, status, spec, work, rollout_done FROM jobs "
                    "WHERE status IN ('SCHEDULED', 'IN_PROGRESS') AND has_schedule = 1");
    V out;
    Status st;
    while (s.Step(&st)) {
      jobs::Job spec;
      IOTJOBS_RETURN_IF_ERROR(codec::JobSpecFromJson(s.Text(4), &spec));
      ScheduledJob j;
      j.job = s.Int(0);
      j.region = s.Text(1);
      j.id = s.Text(2);
      j.status = s.Text(3);
      j.scheduling = spec.scheduling_config.value_or(jobs::SchedulingConfig{});
      j.rollout_stopped = (s.Int(5) & kWorkRollout) == 0 && s.Int(6) != 0;
      out.push_back(std::move(j));
    }
    if (!st.ok()) return st;
    return out;
  });
}

Status SqliteStore::SetScheduledState(int64_t job, const std::string& status, bool stop_rollout,
                                      Instant now) {
  return Write([&](SqliteDb& db) -> Status {
    IOTJOBS_PREPARE(u, db,
                    "UPDATE jobs SET status = ?2, updated_at_ms = CASE WHEN status <> ?2 THEN ?3 "
                    "ELSE updated_at_ms END, work = CASE WHEN ?4 THEN work & ~1 ELSE work END, "
                    "rollout_done = CASE WHEN ?4 THEN 1 ELSE rollout_done END "
                    "WHERE id = ?1 AND status IN ('SCHEDULED', 'IN_PROGRESS')");
    IOTJOBS_RETURN_IF_ERROR(u.Bind(1, job)
                                .Bind(2, status)
                                .Bind(3, ToEpochMillis(now))
                                .Bind(4, int64_t{stop_rollout ? 1 : 0})
                                .Run());
    return MaybeComplete(db, job, now);
  });
}

Result<int64_t> SqliteStore::TimeOutExecutions(Instant now, int64_t max) {
  int64_t n = 0;
  Status st = Write([&](SqliteDb& db) -> Status {
    n = 0;
    IOTJOBS_PREPARE(s, db,
                    "SELECT e.job, e.thing, e.latest, " IOTJOBS_EXEC_COLUMNS
                    " FROM job_executions e WHERE e.timeout_at_ms <= ?1 AND e.status = 1 "
                    "ORDER BY e.timeout_at_ms LIMIT ?2");
    s.Bind(1, ToEpochMillis(now)).Bind(2, max);
    struct Due {
      int64_t job, thing;
      bool latest;
      jobs::JobExecution e;
    };
    std::vector<Due> due;
    Status rs;
    while (s.Step(&rs)) {
      auto e = ExecutionFromRow(s, 3);
      if (!e.ok()) return e.status();
      due.push_back({s.Int(0), s.Int(1), s.Int(2) != 0, std::move(e).value()});
    }
    IOTJOBS_RETURN_IF_ERROR(rs);
    for (auto& d : due) {
      auto next = jobs::ApplyServiceEvent(d.e.status, jobs::ServiceEvent::kTimeOut);
      if (!next.ok()) continue;
      d.e.status = *next;
      d.e.version_number += 1;
      IOTJOBS_PREPARE(u, db,
                      "UPDATE job_executions SET status = ?4, version = version + 1, "
                      "updated_at_ms = ?5, timeout_at_ms = NULL, in_progress_deadline_ms = NULL, "
                      "step_deadline_ms = NULL WHERE job = ?1 AND thing = ?2 AND number = ?3");
      IOTJOBS_RETURN_IF_ERROR(u.Bind(1, d.job)
                                  .Bind(2, d.thing)
                                  .Bind(3, d.e.execution_number)
                                  .Bind(4, StatusInt(*next))
                                  .Bind(5, ToEpochMillis(now))
                                  .Run());
      if (d.latest) {
        IOTJOBS_RETURN_IF_ERROR(AddToCounter(db, d.job, ExecutionStatus::kInProgress, -1));
        IOTJOBS_RETURN_IF_ERROR(AddToCounter(db, d.job, *next, 1));
      }
      IOTJOBS_RETURN_IF_ERROR(AfterTerminal(db, d.job, d.thing, d.e, d.latest, now));
      ++n;
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return n;
}

Result<std::vector<Store::ThingChange>> SqliteStore::ThingChanges(int limit) {
  using V = std::vector<ThingChange>;
  return Read<V>([&](SqliteDb& db) -> Result<V> {
    IOTJOBS_PREPARE(s, db,
                    "SELECT c.seq, t.region, t.name FROM thing_changes c "
                    "LEFT JOIN things t ON t.id = c.thing ORDER BY c.seq LIMIT ?1");
    s.Bind(1, static_cast<int64_t>(limit));
    V out;
    Status st;
    while (s.Step(&st)) {
      // A deleted thing has no device left to notify; its seq is still acknowledged.
      out.push_back({s.Int(0), s.OptText(1).value_or(""), s.OptText(2).value_or("")});
    }
    if (!st.ok()) return st;
    return out;
  });
}

Result<std::optional<Store::NotifiedState>> SqliteStore::GetNotified(const std::string& region,
                                                                     const std::string& thing) {
  using R = std::optional<NotifiedState>;
  return Read<R>([&](SqliteDb& db) -> Result<R> {
    IOTJOBS_PREPARE(s, db,
                    "SELECT members, head FROM thing_notified WHERE region = ?1 AND thing = ?2");
    s.Bind(1, region).Bind(2, thing);
    Status st;
    if (s.Step(&st)) return R(NotifiedState{region, thing, s.Text(0), s.Text(1)});
    if (!st.ok()) return st;
    return R();
  });
}

Status SqliteStore::AckThingChanges(int64_t up_to, const std::vector<NotifiedState>& states) {
  return Write([&](SqliteDb& db) -> Status {
    for (const auto& n : states) {
      if (n.members.empty()) {
        IOTJOBS_PREPARE(d, db, "DELETE FROM thing_notified WHERE region = ?1 AND thing = ?2");
        IOTJOBS_RETURN_IF_ERROR(d.Bind(1, n.region).Bind(2, n.thing).Run());
      } else {
        IOTJOBS_PREPARE(u, db,
                        "INSERT INTO thing_notified(region, thing, members, head) "
                        "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (region, thing) DO UPDATE SET "
                        "members = excluded.members, head = excluded.head");
        IOTJOBS_RETURN_IF_ERROR(
            u.Bind(1, n.region).Bind(2, n.thing).Bind(3, n.members).Bind(4, n.head).Run());
      }
    }
    IOTJOBS_PREPARE(d, db, "DELETE FROM thing_changes WHERE seq <= ?1");
    return d.Bind(1, up_to).Run();
  });
}

Result<Store::EventConfigurations> SqliteStore::GetEventConfigurations(const std::string& region) {
  return Read<EventConfigurations>([&](SqliteDb& db) -> Result<EventConfigurations> {
    IOTJOBS_PREPARE(s, db,
                    "SELECT config, created_at_ms, updated_at_ms FROM event_configurations "
                    "WHERE region = ?1");
    s.Bind(1, region);
    EventConfigurations out;
    Status st;
    if (s.Step(&st)) {
      auto m = codec::StringMapFromJson(s.Text(0));
      if (!m.ok()) return m.status();
      for (const auto& [k, v] : *m) out.enabled[k] = v == "true";
      out.created_at = FromEpochMillis(s.Int(1));
      out.updated_at = FromEpochMillis(s.Int(2));
    }
    if (!st.ok()) return st;
    return out;
  });
}

Status SqliteStore::UpdateEventConfigurations(const std::string& region,
                                              const std::map<std::string, bool>& changes,
                                              Instant now) {
  return Write([&](SqliteDb& db) -> Status {
    IOTJOBS_PREPARE(s, db, "SELECT config FROM event_configurations WHERE region = ?1");
    s.Bind(1, region);
    std::map<std::string, std::string> config;
    Status st;
    if (s.Step(&st)) {
      auto m = codec::StringMapFromJson(s.Text(0));
      if (!m.ok()) return m.status();
      config = std::move(m).value();
    }
    IOTJOBS_RETURN_IF_ERROR(st);
    for (const auto& [k, v] : changes) config[k] = v ? "true" : "false";
    IOTJOBS_PREPARE(u, db,
                    "INSERT INTO event_configurations(region, job, job_execution, config, "
                    "created_at_ms, updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?5) "
                    "ON CONFLICT (region) DO UPDATE SET job = excluded.job, "
                    "job_execution = excluded.job_execution, config = excluded.config, "
                    "updated_at_ms = excluded.updated_at_ms");
    return u.Bind(1, region)
        .Bind(2, int64_t{config["JOB"] == "true" ? 1 : 0})
        .Bind(3, int64_t{config["JOB_EXECUTION"] == "true" ? 1 : 0})
        .Bind(4, codec::StringMapToJson(config))
        .Bind(5, ToEpochMillis(now))
        .Run();
  });
}

Result<std::vector<Store::Event>> SqliteStore::EventOutbox(int limit) {
  using V = std::vector<Event>;
  return Read<V>([&](SqliteDb& db) -> Result<V> {
    IOTJOBS_PREPARE(s, db,
                    "SELECT seq, region, type, job_id, operation, thing, status, details, spec, "
                    "target_selection, created_at_ms, updated_at_ms, completed_at_ms, counters "
                    "FROM event_outbox ORDER BY seq LIMIT ?1");
    s.Bind(1, static_cast<int64_t>(limit));
    V out;
    Status st;
    while (s.Step(&st)) {
      Event e;
      e.seq = s.Int(0);
      e.region = s.Text(1);
      e.type = s.Text(2);
      e.job_id = s.Text(3);
      e.operation = s.Text(4);
      e.thing = s.OptText(5).value_or("");
      if (s.OptText(6)) e.status = static_cast<ExecutionStatus>(s.Int(6));
      if (auto d = s.OptText(7)) {
        auto m = codec::StringMapFromJson(*d);
        if (m.ok()) e.status_details = std::move(m).value();
      }
      if (auto spec = s.OptText(8)) {
        jobs::Job j;
        j.region = e.region;
        j.id = e.job_id;
        IOTJOBS_RETURN_IF_ERROR(codec::JobSpecFromJson(*spec, &j));
        j.target_selection = s.OptText(9).value_or("SNAPSHOT");
        j.created_at = FromEpochMillis(s.Int(10));
        j.last_updated_at = FromEpochMillis(s.Int(11));
        if (s.OptText(12)) j.completed_at = FromEpochMillis(s.Int(12));
        e.job = std::move(j);
      }
      if (auto c = s.OptText(13)) {
        auto m = codec::StringMapFromJson(*c);
        if (m.ok()) {
          for (const auto& [k, v] : *m) e.counters[k] = std::atoll(v.c_str());
        }
      }
      out.push_back(std::move(e));
    }
    if (!st.ok()) return st;
    return out;
  });
}

Status SqliteStore::AckEvents(int64_t up_to) {
  return Write([&](SqliteDb& db) -> Status {
    IOTJOBS_PREPARE(d, db, "DELETE FROM event_outbox WHERE seq <= ?1");
    return d.Bind(1, up_to).Run();
  });
}

Result<std::optional<Instant>> SqliteStore::NextTimeout() {
  using R = std::optional<Instant>;
  return Read<R>([&](SqliteDb& db) -> Result<R> {
    IOTJOBS_PREPARE(s, db,
                    "SELECT min(timeout_at_ms) FROM job_executions WHERE timeout_at_ms IS NOT NULL "
                    "AND status = 1");
    Status st;
    if (s.Step(&st) && s.OptText(0)) return R(FromEpochMillis(s.Int(0)));
    if (!st.ok()) return st;
    return R();
  });
}

Result<std::vector<jobs::JobExecution>> SqliteStore::PendingExecutions(const std::string& region,
                                                                       const std::string& thing,
                                                                       int limit) {
  using V = std::vector<jobs::JobExecution>;
  return Read<V>([&](SqliteDb& db) -> Result<V> {
    auto t = FindThing(db, region, thing);
    if (!t.ok()) return t.status();
    return Pending(db, region, thing, *t, limit);
  });
}

Store::DeviceResult SqliteStore::UpdateExecution(const std::string& region,
                                                 const std::string& thing,
                                                 const std::string& job_id,
                                                 const DeviceUpdate& update, Instant now) {
  DeviceResult out;
  Status st = Write([&](SqliteDb& db) -> Status {
    out = DeviceResult{};
    auto j = FindJob(db, region, job_id);
    if (!j.ok()) return j.status();
    if (j->status == jobs::kJobDeletionInProgress) {
      return Status::NotFound("job " + job_id + " is being deleted");
    }
    auto t = FindThing(db, region, thing);
    if (!t.ok()) return t.status();
    IOTJOBS_PREPARE(s, db,
                    "SELECT e.latest, " IOTJOBS_EXEC_COLUMNS
                    " FROM job_executions e "
                    "WHERE e.job = ?1 AND e.thing = ?2 AND (?3 IS NULL OR e.number = ?3) "
                    "ORDER BY e.number DESC LIMIT 1");
    s.Bind(1, j->id).Bind(2, *t);
    if (update.execution_number) s.Bind(3, *update.execution_number);
    Status rs;
    if (!s.Step(&rs)) {
      if (!rs.ok()) return rs;
      return Status::NotFound("job " + job_id + " has no execution" +
                              (update.execution_number
                                   ? " number " + std::to_string(*update.execution_number)
                                   : std::string()) +
                              " for thing " + thing);
    }
    const bool latest = s.Int(0) != 0;
    auto e = ExecutionFromRow(s, 1);
    if (!e.ok()) return e.status();
    e->region = region;
    e->job_id = job_id;
    e->thing_name = thing;
    if (update.expected_version && *update.expected_version != e->version_number) {
      out.execution = *e;
      return Status(Code::kVersionConflict, "expectedVersion " +
                                                std::to_string(*update.expected_version) +
                                                " does not match the execution's version " +
                                                std::to_string(e->version_number));
    }
    auto next = jobs::ApplyDeviceUpdate(e->status, update.status);
    if (!next.ok()) {
      if (next.status().code() == Code::kInvalidStateTransition) out.execution = *e;
      return next.status();
    }
    IOTJOBS_RETURN_IF_ERROR(WriteDeviceTransition(db, j->id, *t, &*e, *next, update.status_details,
                                                  update.step_timeout_minutes, latest, now,
                                                  &out.job_aborted));
    out.execution = *e;
    out.changed = true;
    return Status::Ok();
  });
  out.status = st;
  if (!st.ok() && st.code() != Code::kVersionConflict &&
      st.code() != Code::kInvalidStateTransition) {
    out.execution.reset();
  }
  return out;
}

Store::DeviceResult SqliteStore::StartNextExecution(
    const std::string& region, const std::string& thing,
    const std::optional<std::map<std::string, std::string>>& details,
    std::optional<int64_t> step_timeout_minutes, Instant now) {
  DeviceResult out;
  out.status = Write([&](SqliteDb& db) -> Status {
    out = DeviceResult{};
    auto t = FindThing(db, region, thing);
    if (!t.ok()) return t.status();
    auto head = Pending(db, region, thing, *t, 1);
    if (!head.ok()) return head.status();
    if (head->empty()) return Status::Ok();  // nothing pending: not an error
    jobs::JobExecution e = head->front();
    if (e.status == ExecutionStatus::kInProgress) {
      out.execution = e;  // already started: returned unchanged
      return Status::Ok();
    }
    auto j = FindJob(db, region, e.job_id);
    if (!j.ok()) return j.status();
    IOTJOBS_RETURN_IF_ERROR(WriteDeviceTransition(db, j->id, *t, &e, ExecutionStatus::kInProgress,
                                                  details, step_timeout_minutes, true, now));
    out.execution = e;
    out.changed = true;
    return Status::Ok();
  });
  return out;
}

}  // namespace iotjobs::store
