#include "store/sqlite/sqlite_store.h"

#include "codec/json_codec.h"
#include "common/logging.h"
#include "store/sqlite/sqlite_txn.h"

namespace iotjobs::store {
namespace {

// Versioned schema: migration i takes the database from user_version i to i + 1. Never edit a
// released migration; append a new one. SQL stays portable to PostgreSQL where it can.
const char* const kMigrations[] = {
    // 1: job templates and tags.
    R"sql(
CREATE TABLE job_templates (
  region TEXT NOT NULL,
  id TEXT NOT NULL,
  description TEXT,
  document TEXT,
  document_source TEXT,
  configs TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  PRIMARY KEY (region, id)
) WITHOUT ROWID;
CREATE TABLE tags (
  arn TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (arn, key)
) WITHOUT ROWID;
)sql",
    // 2: the registry. Integer ids keep memberships (and later executions) compact.
    R"sql(
CREATE TABLE things (
  id INTEGER PRIMARY KEY,
  region TEXT NOT NULL,
  name TEXT NOT NULL,
  thing_id TEXT NOT NULL,
  thing_type TEXT,
  billing_group TEXT,
  version INTEGER NOT NULL,
  UNIQUE (region, name)
);
CREATE INDEX things_by_type ON things (region, thing_type, name);
CREATE TABLE thing_attributes (
  thing INTEGER NOT NULL,
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (thing, name)
) WITHOUT ROWID;
CREATE INDEX thing_attributes_by_value ON thing_attributes (name, value, thing);
CREATE TABLE thing_groups (
  id INTEGER PRIMARY KEY,
  region TEXT NOT NULL,
  name TEXT NOT NULL,
  group_id TEXT NOT NULL,
  parent INTEGER,
  root INTEGER,
  depth INTEGER NOT NULL,
  description TEXT,
  version INTEGER NOT NULL,
  created_at_ms INTEGER NOT NULL,
  UNIQUE (region, name)
);
CREATE INDEX thing_groups_by_parent ON thing_groups (parent, name);
CREATE TABLE group_attributes (
  grp INTEGER NOT NULL,
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (grp, name)
) WITHOUT ROWID;
CREATE TABLE thing_group_members (
  grp INTEGER NOT NULL,
  thing INTEGER NOT NULL,
  PRIMARY KEY (grp, thing)
) WITHOUT ROWID;
CREATE INDEX thing_group_members_by_thing ON thing_group_members (thing, grp);
)sql",
    // 3: jobs and executions. Executions are keyed by integer ids (job, thing, number) in a
    // WITHOUT ROWID table so a row costs tens of bytes; counters live on the job row so
    // DescribeJob never counts rows.
    R"sql(
CREATE TABLE jobs (
  id INTEGER PRIMARY KEY,
  region TEXT NOT NULL,
  job_id TEXT NOT NULL,
  status TEXT NOT NULL,
  target_selection TEXT NOT NULL,
  spec TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  completed_at_ms INTEGER,
  n_queued INTEGER NOT NULL DEFAULT 0,
  n_in_progress INTEGER NOT NULL DEFAULT 0,
  n_succeeded INTEGER NOT NULL DEFAULT 0,
  n_failed INTEGER NOT NULL DEFAULT 0,
  n_rejected INTEGER NOT NULL DEFAULT 0,
  n_canceled INTEGER NOT NULL DEFAULT 0,
  n_removed INTEGER NOT NULL DEFAULT 0,
  n_timed_out INTEGER NOT NULL DEFAULT 0,
  notified INTEGER NOT NULL DEFAULT 0,
  rollout_done INTEGER NOT NULL DEFAULT 0,
  work INTEGER NOT NULL DEFAULT 0,
  work_cursor INTEGER NOT NULL DEFAULT 0,
  UNIQUE (region, job_id)
);
CREATE INDEX jobs_with_work ON jobs (work) WHERE work <> 0;
CREATE TABLE job_targets (
  job INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  thing INTEGER,
  grp INTEGER,
  PRIMARY KEY (job, idx)
) WITHOUT ROWID;
CREATE INDEX job_targets_by_group ON job_targets (grp, job) WHERE grp IS NOT NULL;
CREATE INDEX job_targets_by_thing ON job_targets (thing, job) WHERE thing IS NOT NULL;
CREATE TABLE rollout_cursors (
  job INTEGER PRIMARY KEY,
  target_idx INTEGER NOT NULL DEFAULT 0,
  groups TEXT,
  group_idx INTEGER NOT NULL DEFAULT 0,
  last_thing INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE job_executions (
  job INTEGER NOT NULL,
  thing INTEGER NOT NULL,
  number INTEGER NOT NULL,
  status INTEGER NOT NULL,
  version INTEGER NOT NULL,
  latest INTEGER NOT NULL,
  queued_at_ms INTEGER NOT NULL,
  started_at_ms INTEGER,
  updated_at_ms INTEGER NOT NULL,
  retry_attempt INTEGER NOT NULL DEFAULT 0,
  force_canceled INTEGER NOT NULL DEFAULT 0,
  timeout_at_ms INTEGER,
  details TEXT,
  PRIMARY KEY (job, thing, number)
) WITHOUT ROWID;
CREATE INDEX job_executions_by_thing ON job_executions (thing, job, number);
CREATE INDEX job_executions_timeouts ON job_executions (timeout_at_ms) WHERE timeout_at_ms IS NOT NULL;
)sql",
    // 4: bulk thing registration tasks.
    R"sql(
CREATE TABLE registration_tasks (
  task_id TEXT PRIMARY KEY,
  region TEXT NOT NULL,
  status TEXT NOT NULL,
  template_body TEXT NOT NULL,
  bucket TEXT NOT NULL,
  input_key TEXT NOT NULL,
  role_arn TEXT NOT NULL,
  message TEXT,
  success_count INTEGER NOT NULL DEFAULT 0,
  failure_count INTEGER NOT NULL DEFAULT 0,
  percentage INTEGER NOT NULL DEFAULT 0,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  seq INTEGER NOT NULL
);
CREATE INDEX registration_tasks_by_region ON registration_tasks (region, seq);
)sql",
    // 5: both execution timers, so a step timer can replace its predecessor without moving the
    // in-progress deadline (timeout_at_ms stays their minimum, for the scheduler's index).
    R"sql(
ALTER TABLE job_executions ADD COLUMN in_progress_deadline_ms INTEGER;
ALTER TABLE job_executions ADD COLUMN step_deadline_ms INTEGER;
)sql",
    // 6: names of deleted things that still have executions, so their REMOVED executions stay
    // listable (and match the job's numberOfRemovedThings).
    R"sql(
CREATE TABLE deleted_things (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL
);
)sql",
    // 7: why an execution exists: a retry after FAILED or TIMED_OUT (the status as integer), so
    // the retry budgets per failure type can be counted.
    R"sql(
ALTER TABLE job_executions ADD COLUMN retry_cause INTEGER;
)sql",
    // 8: an outbox of things whose pending executions may have changed, filled by triggers when
    // MQTT notifications are on (Options::track_thing_changes) and drained by the notifier.
    R"sql(
CREATE TABLE thing_changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  thing INTEGER NOT NULL
);
)sql",
    // 9: thing and group ids are never reused. Executions, job targets, tombstones and the outbox
    // refer to them by id, and a plain INTEGER PRIMARY KEY hands a deleted maximum id to the next
    // row: a new thing inherited a deleted thing's executions (and could then not be deleted,
    // its id being in deleted_things), a new group became a target of a deleted group's jobs.
    // AUTOINCREMENT needs the tables rebuilt; the sequences start above every id still referred
    // to, whatever the table.
    R"sql(
CREATE TABLE things_v9 (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  region TEXT NOT NULL,
  name TEXT NOT NULL,
  thing_id TEXT NOT NULL,
  thing_type TEXT,
  billing_group TEXT,
  version INTEGER NOT NULL,
  UNIQUE (region, name)
);
INSERT INTO things_v9 (id, region, name, thing_id, thing_type, billing_group, version)
  SELECT id, region, name, thing_id, thing_type, billing_group, version FROM things;
DROP TABLE things;
ALTER TABLE things_v9 RENAME TO things;
CREATE INDEX things_by_type ON things (region, thing_type, name);
CREATE TABLE thing_groups_v9 (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  region TEXT NOT NULL,
  name TEXT NOT NULL,
  group_id TEXT NOT NULL,
  parent INTEGER,
  root INTEGER,
  depth INTEGER NOT NULL,
  description TEXT,
  version INTEGER NOT NULL,
  created_at_ms INTEGER NOT NULL,
  UNIQUE (region, name)
);
INSERT INTO thing_groups_v9 (id, region, name, group_id, parent, root, depth, description,
                             version, created_at_ms)
  SELECT id, region, name, group_id, parent, root, depth, description, version, created_at_ms
  FROM thing_groups;
DROP TABLE thing_groups;
ALTER TABLE thing_groups_v9 RENAME TO thing_groups;
CREATE INDEX thing_groups_by_parent ON thing_groups (parent, name);
DELETE FROM sqlite_sequence WHERE name IN ('things', 'thing_groups');
INSERT INTO sqlite_sequence (name, seq) SELECT 'things', coalesce(max(id), 0) FROM (
  SELECT max(id) AS id FROM things UNION ALL SELECT max(id) FROM deleted_things
  UNION ALL SELECT max(thing) FROM job_executions UNION ALL SELECT max(thing) FROM job_targets
  UNION ALL SELECT max(thing) FROM thing_group_members
  UNION ALL SELECT max(thing) FROM thing_attributes UNION ALL SELECT max(thing) FROM thing_changes);
INSERT INTO sqlite_sequence (name, seq) SELECT 'thing_groups', coalesce(max(id), 0) FROM (
  SELECT max(id) AS id FROM thing_groups UNION ALL SELECT max(parent) FROM thing_groups
  UNION ALL SELECT max(root) FROM thing_groups UNION ALL SELECT max(grp) FROM job_targets
  UNION ALL SELECT max(grp) FROM thing_group_members UNION ALL SELECT max(grp) FROM group_attributes);
)sql",
    // 10: what the MQTT notifier last published per thing, so a restart compares a change with
    // what devices were told rather than with an empty list (no lost or repeated notify).
    R"sql(
CREATE TABLE IF NOT EXISTS thing_notified (
  region TEXT NOT NULL,
  thing TEXT NOT NULL,
  members TEXT NOT NULL,
  head TEXT NOT NULL,
  PRIMARY KEY (region, thing)
) WITHOUT ROWID;
)sql",
    // 11: job events ($aws/events/...): which event types each region enabled
    // (UpdateEventConfigurations), and an outbox of events, filled by triggers when MQTT is on
    // and only for enabled types.
    R"sql(
CREATE TABLE IF NOT EXISTS event_configurations (
  region TEXT PRIMARY KEY,
  job INTEGER NOT NULL DEFAULT 0,
  job_execution INTEGER NOT NULL DEFAULT 0,
  config TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS event_outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  region TEXT NOT NULL,
  type TEXT NOT NULL,
  job_id TEXT NOT NULL,
  operation TEXT NOT NULL,
  thing TEXT,
  status INTEGER,
  details TEXT,
  spec TEXT,
  target_selection TEXT,
  created_at_ms INTEGER,
  updated_at_ms INTEGER,
  completed_at_ms INTEGER,
  counters TEXT
);
)sql",
    // 12: rollout pacing. The batches of executions each job's rollout created within the last
    // minute (jobs/rollout.h derives the job's allowance from them), written in the transaction
    // that creates the executions, so a restarted scheduler paces on from where it was instead of
    // granting a fresh burst past the rolling-minute cap. Batches of one instant are one row.
    R"sql(
CREATE TABLE IF NOT EXISTS rollout_batches (
  job INTEGER NOT NULL,
  at_ms INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (job, at_ms)
) WITHOUT ROWID;
)sql",
    // 13: rule inputs SQL filters on are typed columns, not read out of the stored AWS JSON
    // (issue 10): ListJobs' namespaceId filter and the scheduler's jobs with a schedulingConfig.
    // Filled from the spec of every existing job here, written by CreateJob, UpdateJob and
    // Txn::PutJobState from then on. The partial index lists the scheduled jobs in id order
    // without a scan of every job.
    R"sql(
ALTER TABLE jobs ADD COLUMN namespace_id TEXT;
ALTER TABLE jobs ADD COLUMN has_schedule INTEGER NOT NULL DEFAULT 0;
UPDATE jobs SET namespace_id = json_extract(spec, '$.namespaceId'),
                has_schedule = json_extract(spec, '$.schedulingConfig') IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_with_schedule ON jobs (id) WHERE has_schedule = 1;
)sql",
};

// Before issue 10 ("One home for the rules"), SQLite triggers wrote the thing-change and event
// outboxes. The rules write them now, explicitly, through store::Txn (AppendThingChange /
// AppendEvent), so every backend emits the same; the triggers of an earlier release's data
// directory are dropped whenever it is opened.
const char* const kDropLegacyTriggers = R"sql(
DROP TRIGGER IF EXISTS thing_changes_ins;
DROP TRIGGER IF EXISTS thing_changes_upd;
DROP TRIGGER IF EXISTS thing_changes_del;
DROP TRIGGER IF EXISTS job_events_status;
DROP TRIGGER IF EXISTS job_events_deleted;
DROP TRIGGER IF EXISTS execution_events_status;
DROP TRIGGER IF EXISTS execution_events_deleted;
)sql";
// With notifications off nothing drains the outboxes (and nothing fills them): start them empty,
// so turning MQTT on later does not replay stale changes.
const char* const kClearOutboxes = R"sql(
DELETE FROM event_outbox;
DELETE FROM thing_changes;
)sql";

std::shared_ptr<spdlog::logger> Log() {
  static auto l = Logger("store");
  return l;
}

}  // namespace

Status SqliteStore::InsertTags(SqliteDb& db, const std::string& arn,
                               const std::vector<jobs::Tag>& tags) {
  for (const auto& t : tags) {
    auto s = db.Prepare(
        "INSERT INTO tags(arn, key, value) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (arn, key) DO UPDATE SET value = excluded.value");
    if (!s.ok()) return s.status();
    IOTJOBS_RETURN_IF_ERROR((*s)->Bind(1, arn).Bind(2, t.key).Bind(3, t.value).Run());
  }
  return Status::Ok();
}

Status SqliteStore::DeleteAllTags(SqliteDb& db, const std::string& arn) {
  auto s = db.Prepare("DELETE FROM tags WHERE arn = ?1");
  if (!s.ok()) return s.status();
  return (*s)->Bind(1, arn).Run();
}

namespace {

Result<jobs::JobTemplate> TemplateFromRow(const Stmt& s) {
  jobs::JobTemplate t;
  t.region = s.Text(0);
  t.id = s.Text(1);
  t.description = s.OptText(2);
  t.document = s.OptText(3);
  t.document_source = s.OptText(4);
  auto configs = codec::ConfigsFromJson(s.Text(5));
  if (!configs.ok()) return configs.status();
  t.configs = std::move(configs).value();
  t.created_at = FromEpochMillis(s.Int(6));
  return t;
}

}  // namespace

int SqliteStore::SchemaVersion() { return static_cast<int>(std::size(kMigrations)); }

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const Options& options) {
  std::unique_ptr<SqliteStore> store(new SqliteStore(options));
  auto db = SqliteDb::Open(options.path, /*read_only=*/false, options.synchronous_full);
  if (!db.ok()) return db.status();
  store->writer_db_ = std::move(db).value();
  // Start-up writes (the schema, the outbox trigger) fail on a full disk: name the file and why.
  auto initialise = [&](Status st) {
    return st.ok() ? st
                   : Status::Unavailable("cannot initialise " + options.path + ": " + st.message() +
                                         store->writer_db_->OsReason());
  };
  IOTJOBS_RETURN_IF_ERROR(initialise(store->Migrate()));
  IOTJOBS_RETURN_IF_ERROR(initialise(store->writer_db_->Exec(kDropLegacyTriggers)));
  if (!options.track_thing_changes) {
    IOTJOBS_RETURN_IF_ERROR(initialise(store->writer_db_->Exec(kClearOutboxes)));
  }
  // Checkpoints move off the writer: SQLite's automatic checkpoint runs inside the commit that
  // crosses its threshold, copying pages into the database file and fsyncing it while every
  // queued write (a device's update, the scheduler's tick) waits. The hook replaces it.
  auto checkpoint_db = SqliteDb::Open(options.path, /*read_only=*/false, options.synchronous_full);
  if (!checkpoint_db.ok()) return checkpoint_db.status();
  store->checkpoint_db_ = std::move(checkpoint_db).value();
  sqlite3_wal_hook(store->writer_db_->raw(), &SqliteStore::OnWalCommit, store.get());
  store->checkpointer_ = std::thread([s = store.get()] { s->CheckpointLoop(); });
  store->writer_ = std::thread([s = store.get()] { s->WriterLoop(); });
  return store;
}

SqliteStore::~SqliteStore() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  {
    std::lock_guard lock(checkpoint_mu_);
    checkpoint_stopping_ = true;
  }
  checkpoint_cv_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
  // Closing the last connection (the writer's) checkpoints what is left and removes the WAL.
}

int SqliteStore::OnWalCommit(void* self, sqlite3*, const char*, int pages) {
  auto* s = static_cast<SqliteStore*>(self);
  bool wake;
  {
    std::lock_guard lock(s->checkpoint_mu_);
    s->wal_pages_ = pages;
    // A WAL that restarted from its beginning (everything was checkpointed) counts from zero.
    if (pages < s->checkpointed_pages_) s->checkpointed_pages_ = 0;
    wake = pages - s->checkpointed_pages_ >= s->options_.checkpoint_pages;
  }
  if (wake) s->checkpoint_cv_.notify_one();
  return SQLITE_OK;
}

void SqliteStore::CheckpointLoop() {
  std::unique_lock lock(checkpoint_mu_);
  for (;;) {
    checkpoint_cv_.wait(lock, [&] {
      return checkpoint_stopping_ || wal_pages_ - checkpointed_pages_ >= options_.checkpoint_pages;
    });
    if (checkpoint_stopping_) return;
    checkpointed_pages_ = wal_pages_;
    lock.unlock();
    // PASSIVE: copies what no reader still needs, never waits for a reader or the writer (which
    // keeps appending meanwhile); what it leaves is taken by the next one. SQLite restarts the
    // WAL from its beginning at the first write after a checkpoint that copied everything.
    int log = 0, copied = 0;
    const int rc = sqlite3_wal_checkpoint_v2(checkpoint_db_->raw(), nullptr,
                                             SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      Log()->warn("checkpoint failed: {}", sqlite3_errmsg(checkpoint_db_->raw()));
    }
    lock.lock();
  }
}

Status SqliteStore::Migrate() {
  auto s = writer_db_->Prepare("PRAGMA user_version");
  if (!s.ok()) return s.status();
  Status st;
  int version = (*s)->Step(&st) ? static_cast<int>((*s)->Int(0)) : 0;
  IOTJOBS_RETURN_IF_ERROR(st);
  s = Result<std::unique_ptr<Stmt>>(Status::Internal("released"));
  const int target = SchemaVersion();
  if (version > target) {
    return Status::InvalidRequest("database schema version " + std::to_string(version) +
                                  " is newer than this iotjobsd understands (" +
                                  std::to_string(target) + ")");
  }
  for (int v = version; v < target; ++v) {
    IOTJOBS_RETURN_IF_ERROR(writer_db_->Exec("BEGIN IMMEDIATE"));
    Status m = writer_db_->Exec(kMigrations[v]);
    if (m.ok()) {
      m = writer_db_->Exec(("PRAGMA user_version = " + std::to_string(v + 1)).c_str());
    }
    if (!m.ok()) {
      (void)writer_db_->Exec("ROLLBACK");
      return m;
    }
    IOTJOBS_RETURN_IF_ERROR(writer_db_->Exec("COMMIT"));
    Log()->info("schema migrated to version {}", v + 1);
  }
  return Status::Ok();
}

Status SqliteStore::Write(WriteFn fn) {
  std::future<Status> f;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Status::Unavailable("store is shutting down");
    queue_.push_back(PendingWrite{std::move(fn), {}});
    f = queue_.back().done.get_future();
  }
  cv_.notify_one();
  return f.get();
}

void SqliteStore::WriterLoop() {
  std::vector<PendingWrite> batch;
  std::vector<Status> results;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      while (!queue_.empty() && static_cast<int>(batch.size()) < options_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    results.assign(batch.size(), Status::Ok());
    Status txn = writer_db_->Run("BEGIN IMMEDIATE");
    if (txn.ok()) {
      for (size_t i = 0; i < batch.size(); ++i) {
        Status sp = writer_db_->Run("SAVEPOINT w");
        if (!sp.ok()) {
          results[i] = sp;
          continue;
        }
        results[i] = batch[i].fn(*writer_db_);
        if (!results[i].ok()) (void)writer_db_->Run("ROLLBACK TO w");
        (void)writer_db_->Run("RELEASE w");
      }
      txn = writer_db_->Run("COMMIT");
      if (!txn.ok()) (void)writer_db_->Exec("ROLLBACK");
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      batch[i].done.set_value(txn.ok() ? results[i] : txn);
    }
    if (!txn.ok())
      Log()->error("group commit of {} writes failed: {}", batch.size(), txn.message());
    batch.clear();
  }
}

Status SqliteStore::Transact(const std::function<Status(Txn&)>& fn) {
  // The writer loop wraps it in SAVEPOINT w: an error from `fn` rolls back everything it wrote.
  return Write([&](SqliteDb& db) -> Status {
    SqliteTxn txn(db, /*writable=*/true, options_.track_thing_changes);
    return fn(txn);
  });
}

Status SqliteStore::View(const std::function<Status(Txn&)>& fn) {
  std::unique_ptr<SqliteDb> db = AcquireReader();
  if (!db) return Status::Unavailable("sqlite: cannot open a read connection to " + options_.path);
  // One read transaction: every statement of `fn` reads the snapshot its first read saw.
  Status st = db->Run("BEGIN");
  if (st.ok()) {
    SqliteTxn txn(*db, /*writable=*/false, /*track_changes=*/false);
    st = fn(txn);
    (void)db->Run("ROLLBACK");
  }
  // A connection left inside a transaction would pin its stale snapshot: drop it instead.
  if (sqlite3_get_autocommit(db->raw())) ReleaseReader(std::move(db));
  return st;
}

void SqliteStore::SetRegistryObserver(RegistryObserver* observer) { observer_.store(observer); }

std::unique_ptr<SqliteDb> SqliteStore::AcquireReader() {
  {
    std::lock_guard lock(pool_mu_);
    if (!readers_.empty()) {
      auto db = std::move(readers_.back());
      readers_.pop_back();
      return db;
    }
  }
  auto opened = SqliteDb::Open(options_.path, /*read_only=*/true, options_.synchronous_full);
  if (!opened.ok()) {
    Log()->error("{}", opened.status().message());
    return nullptr;
  }
  return std::move(opened).value();
}

void SqliteStore::ReleaseReader(std::unique_ptr<SqliteDb> db) {
  std::lock_guard lock(pool_mu_);
  readers_.push_back(std::move(db));
}

Status SqliteStore::CreateJobTemplate(const jobs::JobTemplate& t, const std::string& arn,
                                      const std::vector<jobs::Tag>& tags) {
  std::string configs = codec::ConfigsToJson(t.configs);
  return Write([&](SqliteDb& db) -> Status {
    auto s = db.Prepare(
        "INSERT INTO job_templates(region, id, description, document, document_source, configs, "
        "created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING");
    if (!s.ok()) return s.status();
    IOTJOBS_RETURN_IF_ERROR((*s)->Bind(1, t.region)
                                .Bind(2, t.id)
                                .Bind(3, t.description)
                                .Bind(4, t.document)
                                .Bind(5, t.document_source)
                                .Bind(6, configs)
                                .Bind(7, ToEpochMillis(t.created_at))
                                .Run());
    if (db.Changes() == 0) return Status::Conflict("job template " + t.id + " already exists");
    return InsertTags(db, arn, tags);
  });
}

Result<jobs::JobTemplate> SqliteStore::GetJobTemplate(const std::string& region,
                                                      const std::string& id) {
  return Read<jobs::JobTemplate>([&](SqliteDb& db) -> Result<jobs::JobTemplate> {
    auto s = db.Prepare(
        "SELECT region, id, description, document, document_source, configs, created_at_ms "
        "FROM job_templates WHERE region = ?1 AND id = ?2");
    if (!s.ok()) return s.status();
    (*s)->Bind(1, region).Bind(2, id);
    Status st;
    if (!(*s)->Step(&st)) {
      if (!st.ok()) return st;
      return Status::NotFound("job template " + id + " does not exist");
    }
    return TemplateFromRow(**s);
  });
}

Result<Page<jobs::JobTemplate>> SqliteStore::ListJobTemplates(const std::string& region,
                                                              const std::string& after, int limit) {
  using P = Page<jobs::JobTemplate>;
  return Read<P>([&](SqliteDb& db) -> Result<P> {
    auto s = db.Prepare(
        "SELECT region, id, description, document, document_source, configs, created_at_ms "
        "FROM job_templates WHERE region = ?1 AND id > ?2 ORDER BY id LIMIT ?3");
    if (!s.ok()) return s.status();
    (*s)->Bind(1, region).Bind(2, after).Bind(3, static_cast<int64_t>(limit) + 1);
    P page;
    Status st;
    while ((*s)->Step(&st)) {
      if (static_cast<int>(page.items.size()) == limit) {
        page.next_after = page.items.back().id;
        break;
      }
      auto t = TemplateFromRow(**s);
      if (!t.ok()) return t.status();
      page.items.push_back(std::move(t).value());
    }
    if (!st.ok()) return st;
    return page;
  });
}

Status SqliteStore::DeleteJobTemplate(const std::string& region, const std::string& id,
                                      const std::string& arn) {
  return Write([&](SqliteDb& db) -> Status {
    auto s = db.Prepare("DELETE FROM job_templates WHERE region = ?1 AND id = ?2");
    if (!s.ok()) return s.status();
    IOTJOBS_RETURN_IF_ERROR((*s)->Bind(1, region).Bind(2, id).Run());
    if (db.Changes() == 0) return Status::NotFound("job template " + id + " does not exist");
    return DeleteAllTags(db, arn);
  });
}

Status SqliteStore::TagResource(const std::string& arn, const std::vector<jobs::Tag>& tags,
                                int max_tags) {
  return Write([&](SqliteDb& db) -> Status {
    IOTJOBS_RETURN_IF_ERROR(InsertTags(db, arn, tags));
    auto s = db.Prepare("SELECT COUNT(*) FROM tags WHERE arn = ?1");
    if (!s.ok()) return s.status();
    (*s)->Bind(1, arn);
    Status st;
    int64_t n = (*s)->Step(&st) ? (*s)->Int(0) : 0;
    IOTJOBS_RETURN_IF_ERROR(st);
    if (n > max_tags) {
      return Status::LimitExceeded("a resource can have at most " + std::to_string(max_tags) +
                                   " tags; this request would give it " + std::to_string(n));
    }
    return Status::Ok();
  });
}

Status SqliteStore::UntagResource(const std::string& arn, const std::vector<std::string>& keys) {
  return Write([&](SqliteDb& db) -> Status {
    for (const auto& k : keys) {
      auto s = db.Prepare("DELETE FROM tags WHERE arn = ?1 AND key = ?2");
      if (!s.ok()) return s.status();
      IOTJOBS_RETURN_IF_ERROR((*s)->Bind(1, arn).Bind(2, k).Run());
    }
    return Status::Ok();
  });
}

Result<Page<jobs::Tag>> SqliteStore::ListTags(const std::string& arn, const std::string& after,
                                              int limit) {
  using P = Page<jobs::Tag>;
  return Read<P>([&](SqliteDb& db) -> Result<P> {
    auto s =
        db.Prepare("SELECT key, value FROM tags WHERE arn = ?1 AND key > ?2 ORDER BY key LIMIT ?3");
    if (!s.ok()) return s.status();
    (*s)->Bind(1, arn).Bind(2, after).Bind(3, static_cast<int64_t>(limit) + 1);
    P page;
    Status st;
    while ((*s)->Step(&st)) {
      if (static_cast<int>(page.items.size()) == limit) {
        page.next_after = page.items.back().key;
        break;
      }
      page.items.push_back({(*s)->Text(0), (*s)->Text(1)});
    }
    if (!st.ok()) return st;
    return page;
  });
}

}  // namespace iotjobs::store
