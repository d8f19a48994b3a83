// SqliteStore's jobs half: jobs and their targets, the control plane's execution reads, the
// outboxes (thing changes, events) and event configurations. What changes executions and job
// state is the rules' (service::Applier through sqlite_txn.cc); nothing here decides.
//
// Execution status is persisted as the integer value of jobs::ExecutionStatus. Counters on the
// job row (n_<status>) count each thing's latest execution.
#include <charconv>

#include "codec/job_codec.h"
#include "jobs/rollout.h"
#include "store/sqlite/sqlite_internal.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/sqlite_txn.h"

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

}  // namespace

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
    // The rules' read (SqliteTxn::EventConfig), over a read connection.
    return SqliteTxn(db, /*writable=*/false, options_.track_thing_changes).EventConfig(region);
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
    // find(), not operator[]: reading a type must not store it (DescribeEventConfigurations
    // would list JOB and JOB_EXECUTION as false after any other type was set).
    auto enabled = [&](const char* type) {
      auto it = config.find(type);
      return it != config.end() && it->second == "true";
    };
    IOTJOBS_PREPARE(u, db,
                    "INSERT INTO event_configurations(region, job, job_execution, config, "
                    "created_at_ms, updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?5) "
                    "ON CONFLICT (region) DO UPDATE SET job = excluded.job, "
                    "job_execution = excluded.job_execution, config = excluded.config, "
                    "updated_at_ms = excluded.updated_at_ms");
    return u.Bind(1, region)
        .Bind(2, int64_t{enabled("JOB") ? 1 : 0})
        .Bind(3, int64_t{enabled("JOB_EXECUTION") ? 1 : 0})
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

}  // namespace iotjobs::store
