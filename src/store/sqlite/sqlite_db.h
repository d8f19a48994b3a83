// Thin RAII over one sqlite3 connection with a cache of prepared statements. Not thread-safe: a
// connection is used by one thread at a time (SqliteStore hands them out from a pool).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"
#include "jobs/job.h"

namespace iotjobs::store {

class SqliteDb;

// A prepared statement borrowed from the connection's cache; reset and unbound on destruction.
class Stmt {
 public:
  Stmt(SqliteDb* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  Stmt& Bind(int i, std::string_view v);
  Stmt& Bind(int i, const std::string& v) { return Bind(i, std::string_view(v)); }
  Stmt& Bind(int i, const char* v) { return Bind(i, std::string_view(v)); }
  Stmt& Bind(int i, int64_t v);
  Stmt& Bind(int i, const std::optional<std::string>& v);
  Stmt& BindNull(int i);

  // Steps once. Returns true when a row is available, false when done; error in *st.
  bool Step(Status* st);
  // Runs to completion (for writes).
  Status Run();

  std::string Text(int col) const;
  std::optional<std::string> OptText(int col) const;
  int64_t Int(int col) const;
  SqliteDb* db() const { return db_; }

 private:
  SqliteDb* db_;
  sqlite3_stmt* s_;
};

class SqliteDb {
 public:
  // Opens `path` (created when `create`), WAL mode, busy timeout. read_only connections refuse
  // writes.
  static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path, bool read_only,
                                                bool synchronous_full);
  ~SqliteDb();

  Status Exec(const char* sql);
  // " (<the OS's reason>)" for the last failed call when it was a system call
  // (sqlite3_system_errno: "Read-only file system", "No space left on device"), else empty. For
  // start-up messages.
  std::string OsReason() const;
  // Runs one statement through the prepared-statement cache: for the statements of every write
  // (BEGIN, SAVEPOINT, RELEASE, COMMIT), which Exec would parse again each time. `sql` must be a
  // string literal.
  Status Run(const char* sql);
  // `sql` must be a string literal (its address keys the cache).
  Result<std::unique_ptr<Stmt>> Prepare(const char* sql);
  Status Error(const char* what) const;
  int Changes() const { return sqlite3_changes(db_); }
  sqlite3* raw() { return db_; }

  // Decoded job specs by their stored text (jobs.spec), so the rules' read of a job, once per
  // device request, does not parse the JSON again while the spec is unchanged (a change changes
  // the text, hence the key). Per connection, so no lock: a connection serves one thread at a
  // time. Holds at most kSpecCacheSize specs and kSpecCacheBytes of spec text (a spec holds its
  // document, up to 32 KB), then starts afresh.
  static constexpr size_t kSpecCacheSize = 256;
  static constexpr size_t kSpecCacheBytes = 1 << 20;
  const jobs::Job* CachedSpec(const std::string& text) const {
    auto it = specs_.find(text);
    return it == specs_.end() ? nullptr : &it->second;
  }
  void CacheSpec(std::string text, const jobs::Job& spec) {
    if (specs_.size() >= kSpecCacheSize || spec_bytes_ + text.size() > kSpecCacheBytes) {
      specs_.clear();
      spec_bytes_ = 0;
    }
    if (text.size() > kSpecCacheBytes) return;
    spec_bytes_ += text.size();
    specs_.emplace(std::move(text), spec);
  }

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
  std::unordered_map<std::string, jobs::Job> specs_;
  size_t spec_bytes_ = 0;
};

// Binds ?1 = region and ?2 = name and steps to the one row they name: OK on it, the step's error,
// or NotFound("<what> <name> does not exist") when there is none.
Status StepToNamed(Stmt& s, const std::string& region, const std::string& name, const char* what);

}  // namespace iotjobs::store

// Prepares `sql` (a string literal) on `db` into `var` (a Stmt&), returning the error from the
// enclosing function when preparation fails.
#define IOTJOBS_PREPARE(var, db, sql)                       \
  auto var##_prepared = (db).Prepare(sql);                  \
  if (!var##_prepared.ok()) return var##_prepared.status(); \
  ::iotjobs::store::Stmt& var = **var##_prepared
