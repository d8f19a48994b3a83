#include "store/sqlite/sqlite_db.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace iotjobs::store {

Stmt::~Stmt() {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
}

Stmt& Stmt::Bind(int i, std::string_view v) {
  sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::Bind(int i, int64_t v) {
  sqlite3_bind_int64(s_, i, v);
  return *this;
}
Stmt& Stmt::Bind(int i, const std::optional<std::string>& v) {
  return v ? Bind(i, std::string_view(*v)) : BindNull(i);
}
Stmt& Stmt::BindNull(int i) {
  sqlite3_bind_null(s_, i);
  return *this;
}

bool Stmt::Step(Status* st) {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) *st = db_->Error("step");
  return false;
}

Status Stmt::Run() {
  Status st;
  while (Step(&st)) {
  }
  return st;
}

std::string Stmt::Text(int col) const {
  auto p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
  return p ? std::string(p, sqlite3_column_bytes(s_, col)) : std::string();
}
std::optional<std::string> Stmt::OptText(int col) const {
  if (sqlite3_column_type(s_, col) == SQLITE_NULL) return std::nullopt;
  return Text(col);
}
int64_t Stmt::Int(int col) const { return sqlite3_column_int64(s_, col); }

namespace {

// Statement journals (the undo log of an open SAVEPOINT) stay in memory up to this size, then
// spill to a temp file. Every write runs inside a SAVEPOINT (group commit) and bulk registration
// nests one per thing, so each existing page a savepoint first changes is copied to the journal.
// With SQLite's default threshold (64 KiB) a registration batch spilled and then paid two
// pwrite(2) calls per page: ~43% of the writer's CPU while registering a million things; in
// memory, iotjobsd's CPU per registered thing fell from 25 to 14 us (bench/run_fleet_scale.sh,
// A/B on the same tree). The journal is never needed for crash recovery (the WAL and
// synchronous=FULL make commits durable), and one write's journal holds at most the pages that
// write touched, so the bound below is a bound on memory only.
// temp_store=MEMORY would do the same without a bound, and would also keep large sorts and
// DISTINCT sets in memory (25 MiB for one recursive ListThingsInThingGroup page over a
// million-thing group).
constexpr int kStatementJournalSpillBytes = 16 << 20;

// Process-wide SQLite settings; sqlite3_config works only before SQLite initialises, i.e. before
// the first connection opens. If something else initialised it first the default stays, which
// is slower but correct.
void ConfigureSqliteOnce() {
  static const int rc = sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, kStatementJournalSpillBytes);
  (void)rc;
}

}  // namespace

Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path, bool read_only,
                                                 bool synchronous_full) {
  ConfigureSqliteOnce();
  if (!read_only) {
    // SQLite says only "unable to open database file"; the OS says why (a read-only file system,
    // a missing directory, a directory where the file should be, no permission).
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      return Status::Unavailable("cannot open " + path + " for writing: " + std::strerror(errno));
    }
    ::close(fd);
  }
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_NOMUTEX |
              (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  std::unique_ptr<SqliteDb> db(new SqliteDb(raw));
  if (rc != SQLITE_OK) {
    return Status::Unavailable("sqlite: cannot open " + path + ": " +
                               (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)) +
                               (raw ? db->OsReason() : std::string()));
  }
  sqlite3_busy_timeout(raw, 10000);
  // The settings below already write (WAL mode creates PATH-wal and PATH-shm): a failure names the
  // file and the OS's reason, e.g. a full disk.
  auto setting = [&](const char* sql) {
    Status st = db->Exec(sql);
    return st.ok() ? st : Status::Unavailable(path + ": " + st.message() + db->OsReason());
  };
  if (!read_only) {
    IOTJOBS_RETURN_IF_ERROR(setting("PRAGMA journal_mode=WAL"));
  }
  // FULL: each commit is fsynced, so an acknowledged write survives power loss, not only kill -9.
  // Group commit amortises the fsync over every write waiting at that moment.
  IOTJOBS_RETURN_IF_ERROR(
      setting(synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
  IOTJOBS_RETURN_IF_ERROR(setting("PRAGMA foreign_keys=ON"));
  // Pages of the main file are read through a shared mapping instead of one pread() each: the
  // device plane's per-request reads were a tenth of iotjobsd's CPU in system calls.
  IOTJOBS_RETURN_IF_ERROR(setting("PRAGMA mmap_size=1073741824"));
  return db;
}

std::string SqliteDb::OsReason() const {
  const int e = sqlite3_system_errno(db_);
  return e == 0 ? std::string() : std::string(" (") + std::strerror(e) + ")";
}

SqliteDb::~SqliteDb() {
  for (auto& [sql, s] : cache_) sqlite3_finalize(s);
  sqlite3_close_v2(db_);
}

Status SqliteDb::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "unknown error";
    sqlite3_free(err);
    return Status::Unavailable(std::string("sqlite: ") + m +
                               " in: " + std::string(sql).substr(0, 80));
  }
  return Status::Ok();
}

Status SqliteDb::Run(const char* sql) {
  auto s = Prepare(sql);
  if (!s.ok()) return s.status();
  return (*s)->Run();
}

Result<std::unique_ptr<Stmt>> SqliteDb::Prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
      return Error("prepare");
    }
    it = cache_.emplace(sql, s).first;
  }
  return std::make_unique<Stmt>(this, it->second);
}

Status SqliteDb::Error(const char* what) const {
  int code = sqlite3_extended_errcode(db_);
  std::string m = std::string("sqlite ") + what + ": " + sqlite3_errmsg(db_);
  if ((code & 0xFF) == SQLITE_CONSTRAINT) return Status::Conflict(m);
  return Status::Unavailable(m);
}

Status StepToNamed(Stmt& s, const std::string& region, const std::string& name, const char* what) {
  s.Bind(1, region).Bind(2, name);
  Status st;
  if (s.Step(&st)) return Status::Ok();
  if (!st.ok()) return st;
  return Status::NotFound(std::string(what) + " " + name + " does not exist");
}

}  // namespace iotjobs::store
