#include "store/memory/memory_store.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <deque>
#include <mutex>
#include <set>
#include <tuple>
#include <utility>

namespace iotjobs::store {
namespace {

using jobs::ExecutionStatus;
using ExecKey = std::tuple<int64_t, int64_t, int64_t>;            // job, thing, number
using ThingExecKey = std::tuple<int64_t, int64_t, int64_t>;       // thing, job, number
using TimerKey = std::tuple<Instant, int64_t, int64_t, int64_t>;  // timeout_at, job, thing, number
// thing, 0 for IN_PROGRESS / 1 for QUEUED, queued_at, job, number
using QueueKey = std::tuple<int64_t, int, Instant, int64_t, int64_t>;
using NameKey = std::pair<std::string, std::string>;           // region, name
using TargetKey = std::pair<int64_t, int64_t>;                 // job, idx
using TargetIndexKey = std::tuple<int64_t, int64_t, int64_t>;  // thing or group, job, idx

// One execution without its key and names (what a row of job_executions holds).
struct ExecRow {
  ExecutionStatus status = ExecutionStatus::kQueued;
  bool latest = true;
  bool force_canceled = false;
  int32_t retry_attempt = 0;
  std::optional<ExecutionStatus> retry_cause;
  int64_t version = 1;
  Instant queued_at{}, updated_at{};
  std::optional<Instant> started_at, timeout_at, in_progress_deadline, step_deadline;
  std::map<std::string, std::string> details;
};

ExecRow RowOf(const jobs::ExecutionRecord& r) {
  ExecRow x;
  x.status = r.e.status;
  x.latest = r.latest;
  x.force_canceled = r.e.force_canceled;
  x.retry_attempt = r.e.retry_attempt;
  x.retry_cause = r.retry_cause;
  x.version = r.e.version_number;
  x.queued_at = r.e.queued_at;
  x.updated_at = r.e.last_updated_at;
  x.started_at = r.e.started_at;
  x.timeout_at = r.e.timeout_at;
  x.in_progress_deadline = r.e.in_progress_deadline;
  x.step_deadline = r.e.step_deadline;
  x.details = r.e.status_details;
  return x;
}

bool Pending(ExecutionStatus s) {
  return s == ExecutionStatus::kQueued || s == ExecutionStatus::kInProgress;
}

struct GroupRow {
  std::string region, name, group_id;
  int64_t parent = 0;  // 0: a root group
  int64_t root = 0, depth = 1;
  std::optional<std::string> description;
  int64_t version = 1;
  Instant created_at{};
  jobs::Attributes attributes;
};

struct TaskRow {
  jobs::RegistrationTask task;
  int64_t seq = 0;
};

Status VersionConflict(const std::string& what, int64_t have, int64_t want) {
  return Status(Code::kVersionConflict,
                what + " is at version " + std::to_string(have) + ", not " + std::to_string(want));
}

Status Missing(const char* what, const std::string& name) {
  return Status::NotFound(std::string(what) + " " + name + " does not exist");
}

Status BadToken() {
  return Status::InvalidRequest("nextToken is invalid: pass the nextToken of a previous page");
}

bool ParseInt(std::string_view s, int64_t* v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return !s.empty() && ec == std::errc() && p == s.data() + s.size();
}

// A "<a>:<b>" cursor of two integers; (dflt, dflt) when empty.
Result<std::pair<int64_t, int64_t>> ParseCursor(const std::string& after, int64_t dflt) {
  if (after.empty()) return std::make_pair(dflt, dflt);
  size_t colon = after.find(':');
  int64_t a = 0, b = 0;
  if (colon == std::string::npos || !ParseInt(std::string_view(after).substr(0, colon), &a) ||
      !ParseInt(std::string_view(after).substr(colon + 1), &b)) {
    return BadToken();
  }
  return std::make_pair(a, b);
}

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

// Every table, its indexes and the undo log of the write in progress.
struct MemoryStore::State {
  // --- Tables ---
  std::map<NameKey, jobs::JobTemplate> templates;
  std::map<std::pair<std::string, std::string>, std::string> tags;  // (arn, key) -> value

  std::map<int64_t, jobs::Thing> things;
  std::map<NameKey, int64_t> thing_ids;
  std::map<int64_t, std::string> deleted_things;  // names of deleted things with executions
  std::map<int64_t, GroupRow> groups;
  std::map<NameKey, int64_t> group_ids;
  std::map<std::pair<int64_t, std::string>, int64_t> children;  // (parent or 0, name) -> group
  std::set<std::pair<int64_t, int64_t>> members;                // (group, thing)
  std::set<std::pair<int64_t, int64_t>> member_of;              // (thing, group)

  std::map<std::string, TaskRow> tasks;
  std::map<int64_t, std::string> task_seqs;

  std::map<int64_t, jobs::JobRecord> jobs;
  std::map<NameKey, int64_t> job_ids;
  std::map<TargetKey, jobs::Target> targets;
  std::set<TargetIndexKey> targets_by_group, targets_by_thing;
  std::map<int64_t, jobs::RolloutCursor> cursors;
  std::map<std::pair<int64_t, int64_t>, int64_t> batches;  // (job, at ms) -> count

  std::map<ExecKey, ExecRow> execs;
  std::set<ThingExecKey> execs_by_thing;
  std::set<TimerKey> timers;
  std::set<QueueKey> queues;

  std::map<std::string, EventConfigurations> event_configs;
  std::map<int64_t, Event> events;
  std::map<int64_t, int64_t> thing_changes;                         // seq -> thing
  std::map<NameKey, std::pair<std::string, std::string>> notified;  // -> (members, head)

  // Ids are never reused, not even those of a write that was undone.
  int64_t next_thing = 0, next_group = 0, next_job = 0, next_task_seq = 0, next_event = 0,
          next_change = 0;

  // --- The undo log ---
  std::vector<std::function<void()>> undo;

  void Log(std::function<void()> f) { undo.push_back(std::move(f)); }
  // Undoes everything logged after `mark`, newest first.
  void RollbackTo(size_t mark) {
    while (undo.size() > mark) {
      auto f = std::move(undo.back());
      undo.pop_back();
      f();
    }
  }

  template <typename M>
  void Put(M& m, const typename M::key_type& k, typename M::mapped_type v) {
    auto it = m.find(k);
    if (it == m.end()) {
      m.emplace(k, std::move(v));
      Log([&m, k] { m.erase(k); });
    } else {
      Log([&m, k, old = std::move(it->second)] { m.insert_or_assign(k, old); });
      it->second = std::move(v);
    }
  }
  template <typename M>
  bool Erase(M& m, const typename M::key_type& k) {
    auto it = m.find(k);
    if (it == m.end()) return false;
    Log([&m, k, old = std::move(it->second)] { m.emplace(k, old); });
    m.erase(it);
    return true;
  }
  template <typename S>
  bool Insert(S& s, const typename S::key_type& k) {
    if (!s.insert(k).second) return false;
    Log([&s, k] { s.erase(k); });
    return true;
  }
  template <typename S>
  bool Remove(S& s, const typename S::key_type& k) {
    if (s.erase(k) == 0) return false;
    Log([&s, k] { s.insert(k); });
    return true;
  }

  // --- Executions and their indexes ---
  // The keys of `r` in the timer and queue indexes (by_thing depends on the key only).
  static std::optional<TimerKey> TimerOf(const ExecKey& k, const ExecRow& r) {
    if (!r.timeout_at) return std::nullopt;
    return TimerKey{*r.timeout_at, std::get<0>(k), std::get<1>(k), std::get<2>(k)};
  }
  static std::optional<QueueKey> QueueOf(const ExecKey& k, const ExecRow& r) {
    if (!r.latest || !Pending(r.status)) return std::nullopt;
    return QueueKey{std::get<1>(k), r.status == ExecutionStatus::kInProgress ? 0 : 1, r.queued_at,
                    std::get<0>(k), std::get<2>(k)};
  }
  // Moves the row's timer and queue entries from `from` (nullptr: none) to `to` (nullptr: none),
  // touching only what changed.
  void Reindex(const ExecKey& k, const ExecRow* from, const ExecRow* to) {
    auto move = [](auto& set, const auto& before, const auto& after) {
      if (before == after) return;
      if (before) set.erase(*before);
      if (after) set.insert(*after);
    };
    using T = std::optional<TimerKey>;
    using Q = std::optional<QueueKey>;
    move(timers, from ? TimerOf(k, *from) : T(), to ? TimerOf(k, *to) : T());
    move(queues, from ? QueueOf(k, *from) : Q(), to ? QueueOf(k, *to) : Q());
  }
  // Sets (or with nullopt removes) the row at `k`, indexes included; returns what was there.
  std::optional<ExecRow> ExecRaw(const ExecKey& k, std::optional<ExecRow> row) {
    const auto& [job, thing, number] = k;
    std::optional<ExecRow> old;
    auto it = execs.find(k);
    if (it != execs.end()) {
      Reindex(k, &it->second, row ? &*row : nullptr);
      if (row) return std::exchange(it->second, std::move(*row));
      old = std::move(it->second);
      execs.erase(it);
      execs_by_thing.erase(ThingExecKey{thing, job, number});
      return old;
    }
    if (row) {
      Reindex(k, nullptr, &*row);
      execs_by_thing.insert(ThingExecKey{thing, job, number});
      execs.emplace(k, std::move(*row));
    }
    return old;
  }
  void ExecSet(const ExecKey& k, std::optional<ExecRow> row) {
    std::optional<ExecRow> old = ExecRaw(k, std::move(row));
    if (!old) {
      Log([this, k] { ExecRaw(k, std::nullopt); });  // an insert: no row to keep
    } else {
      Log([this, k, old = std::move(old)] { ExecRaw(k, old); });
    }
  }

  // --- Reads ---
  std::optional<int64_t> ThingId(const std::string& region, const std::string& name) const {
    auto it = thing_ids.find({region, name});
    if (it == thing_ids.end()) return std::nullopt;
    return it->second;
  }
  std::optional<int64_t> GroupId(const std::string& region, const std::string& name) const {
    auto it = group_ids.find({region, name});
    if (it == group_ids.end()) return std::nullopt;
    return it->second;
  }
  std::optional<int64_t> JobId(const std::string& region, const std::string& id) const {
    auto it = job_ids.find({region, id});
    if (it == job_ids.end()) return std::nullopt;
    return it->second;
  }
  // A thing's name, also once deleted (its executions keep it); empty when unknown.
  std::string ThingName(int64_t thing) const {
    if (auto it = things.find(thing); it != things.end()) return it->second.name;
    if (auto it = deleted_things.find(thing); it != deleted_things.end()) return it->second;
    return "";
  }
  jobs::ExecutionRecord Record(const ExecKey& k, const ExecRow& x) const {
    jobs::ExecutionRecord r;
    std::tie(r.job, r.thing, r.e.execution_number) = k;
    r.latest = x.latest;
    r.retry_cause = x.retry_cause;
    if (auto j = jobs.find(r.job); j != jobs.end()) {
      r.e.region = j->second.job.region;
      r.e.job_id = j->second.job.id;
    }
    r.e.thing_name = ThingName(r.thing);
    r.e.status = x.status;
    r.e.force_canceled = x.force_canceled;
    r.e.status_details = x.details;
    r.e.queued_at = x.queued_at;
    r.e.started_at = x.started_at;
    r.e.last_updated_at = x.updated_at;
    r.e.version_number = x.version;
    r.e.retry_attempt = x.retry_attempt;
    r.e.timeout_at = x.timeout_at;
    r.e.in_progress_deadline = x.in_progress_deadline;
    r.e.step_deadline = x.step_deadline;
    return r;
  }
  // `group` and its descendants, parents before children (breadth first, children by name).
  std::vector<int64_t> Subtree(int64_t group) const {
    std::vector<int64_t> out{group};
    for (size_t i = 0; i < out.size(); ++i) {
      for (auto it = children.lower_bound({out[i], std::string()});
           it != children.end() && it->first.first == out[i]; ++it) {
        out.push_back(it->second);
      }
    }
    return out;
  }
  void PutTags(const std::string& arn, const std::vector<jobs::Tag>& add) {
    for (const auto& t : add) Put(tags, {arn, t.key}, t.value);
  }
  void DeleteAllTags(const std::string& arn) {
    std::vector<std::pair<std::string, std::string>> keys;
    for (auto it = tags.lower_bound({arn, std::string()});
         it != tags.end() && it->first.first == arn; ++it) {
      keys.push_back(it->first);
    }
    for (const auto& k : keys) Erase(tags, k);
  }
  bool HasExecutions(int64_t thing) const {
    auto it = execs_by_thing.lower_bound({thing, INT64_MIN, INT64_MIN});
    return it != execs_by_thing.end() && std::get<0>(*it) == thing;
  }
};

// store::Txn over the state; writes go through the undo log of the write in progress.
class MemoryStore::Tx final : public Txn {
 public:
  Tx(State& s, bool read_only, bool track) : s_(s), read_only_(read_only), track_(track) {}

  State& state() { return s_; }

  Result<std::optional<jobs::JobRecord>> FindJob(const std::string& region,
                                                 const std::string& job_id) override {
    auto id = s_.JobId(region, job_id);
    if (!id) return std::optional<jobs::JobRecord>();
    return JobById(*id);
  }
  Result<std::optional<jobs::JobRecord>> JobById(int64_t job) override {
    auto it = s_.jobs.find(job);
    if (it == s_.jobs.end()) return std::optional<jobs::JobRecord>();
    return std::optional<jobs::JobRecord>(it->second);
  }
  Status PutJobState(const jobs::JobRecord& r) override {
    IOTJOBS_RETURN_IF_ERROR(Writable());
    auto it = s_.jobs.find(r.id);
    if (it == s_.jobs.end()) return Status::NotFound("job " + r.job.id + " does not exist");
    jobs::JobRecord next = r;
    next.job.region = it->second.job.region;
    next.job.id = it->second.job.id;
    next.job.counters = it->second.job.counters;
    next.job.notified = it->second.job.notified;
    s_.Put(s_.jobs, r.id, std::move(next));
    return Status::Ok();
  }
  Status AddCounters(int64_t job, const jobs::JobCounters& deltas, int64_t notified) override {
    IOTJOBS_RETURN_IF_ERROR(Writable());
    auto it = s_.jobs.find(job);
    if (it == s_.jobs.end()) return Status::NotFound("job does not exist");
    auto add = [](jobs::Job& j, const jobs::JobCounters& d, int64_t n, int64_t sign) {
      jobs::JobCounters& c = j.counters;
      c.queued += sign * d.queued;
      c.in_progress += sign * d.in_progress;
      c.succeeded += sign * d.succeeded;
      c.failed += sign * d.failed;
      c.rejected += sign * d.rejected;
      c.canceled += sign * d.canceled;
      c.removed += sign * d.removed;
      c.timed_out += sign * d.timed_out;
      j.notified += sign * n;
    };
    add(it->second.job, deltas, notified, 1);
    s_.Log([this, job, deltas, notified, add] {
      if (auto j = s_.jobs.find(job); j != s_.jobs.end()) add(j->second.job, deltas, notified, -1);
    });
    return Status::Ok();
  }
  Result<int64_t> CountJobsWithStatus(const std::string& status) override {
    int64_t n = 0;
    for (const auto& [id, r] : s_.jobs) n += r.job.status == status ? 1 : 0;
    return n;
  }
  Result<std::vector<jobs::JobRecord>> JobsWithWork() override {
    std::vector<jobs::JobRecord> out;
    for (const auto& [id, r] : s_.jobs) {
      if (r.work.Any()) out.push_back(r);
    }
    return out;
  }
  Result<std::vector<jobs::JobRecord>> ScheduledJobsIn(
      const std::vector<std::string>& statuses) override {
    std::vector<jobs::JobRecord> out;
    for (const auto& [id, r] : s_.jobs) {
      if (r.job.scheduling_config &&
          std::find(statuses.begin(), statuses.end(), r.job.status) != statuses.end()) {
        out.push_back(r);
      }
    }
    return out;
  }
  Status PurgeJob(int64_t job) override {
    IOTJOBS_RETURN_IF_ERROR(Writable());
    auto it = s_.jobs.find(job);
    if (it == s_.jobs.end()) return Status::NotFound("job does not exist");
    // Executions should be gone already; any left would name a job that no longer exists.
    std::vector<ExecKey> left;
    for (auto e = s_.execs.lower_bound({job, INT64_MIN, INT64_MIN});
         e != s_.execs.end() && std::get<0>(e->first) == job; ++e) {
      left.push_back(e->first);
    }
    for (const auto& k : left) s_.ExecSet(k, std::nullopt);
    std::vector<TargetKey> targets;
    for (auto t = s_.targets.lower_bound({job, INT64_MIN});
         t != s_.targets.end() && t->first.first == job; ++t) {
      targets.push_back(t->first);
    }
    for (const auto& k : targets) EraseTarget(k);
    std::vector<std::pair<int64_t, int64_t>> batches;
    for (auto b = s_.batches.lower_bound({job, INT64_MIN});
         b != s_.batches.end() && b->first.first == job; ++b) {
      batches.push_back(b->first);
    }
    for (const auto& k : batches) s_.Erase(s_.batches, k);
    s_.Erase(s_.cursors, job);
    s_.Erase(s_.job_ids, NameKey{it->second.job.region, it->second.job.id});
    s_.Erase(s_.jobs, job);
    return Status::Ok();
  }
  Status DeleteTags(const std::string& arn) override {
    IOTJOBS_RETURN_IF_ERROR(Writable());
    s_.DeleteAllTags(arn);
    return Status::Ok();
  }

  Result<std::vector<jobs::Target>> Targets(int64_t job) override {
    std::vector<jobs::Target> out;
    for (auto it = s_.targets.lower_bound({job, INT64_MIN});
         it != s_.targets.end() && it->first.first == job; ++it) {
      out.push_back(it->second);
    }
    return out;
  }
  Status AddTargets(int64_t job, const std::string& region, const std::vector<std::string>& arns,
                    int64_t first) override {
    IOTJOBS_RETURN_IF_ERROR(Writable());
    for (size_t i = 0; i < arns.size(); ++i) {
      const std::string& arn = arns[i];
      size_t colon = arn.rfind(':');
      std::string resource = colon == std::string::npos ? arn : arn.substr(colon + 1);
      size_t slash = resource.find('/');
      std::string type = resource.substr(0, slash);
      std::string name = slash == std::string::npos ? "" : resource.substr(slash + 1);
      jobs::Target t;
      if (type == "thing") {
        t.thing = s_.ThingId(region, name);
        if (!t.thing)
          return Status::NotFound("target " + arn + ": thing " + name + " does not exist");
      } else if (type == "thinggroup") {
        t.group = s_.GroupId(region, name);
        if (!t.group) {
          return Status::NotFound("target " + arn + ": thing group " + name + " does not exist");
        }
      } else {
        return Status::InvalidRequest("target " + arn +
                                      " is neither a thing nor a thing group ARN");
      }
      const TargetKey k{job, first + static_cast<int64_t>(i)};
      if (s_.targets.count(k)) {
        return Status::Conflict("job target " + std::to_string(k.second) + " already exists");
      }
      s_.Put(s_.targets, k, t);
      if (t.thing) s_.Insert(s_.targets_by_thing, TargetIndexKey{*t.thing, job, k.second});
      if (t.group) s_.Insert(s_.targets_by_group, TargetIndexKey{*t.group, job, k.second});
    }
    return Status::Ok();
  }
  Result<std::optional<int64_t>> ThingId(const std::string& region,
                                         const std::string& name) override {
    return s_.ThingId(region, name);
  }
  Result<bool> ThingExists(int64_t thing) override { return s_.things.count(thing) != 0; }
  Result<std::vector<int64_t>> GroupAndDescendants(int64_t group) override {
    return s_.Subtree(group);
  }
  Result<std::vector<int64_t>> GroupMembers(int64_t group, int64_t after, int64_t limit) override {
    std::vector<int64_t> out;
    for (auto it = s_.members.upper_bound({group, after});
         it != s_.members.end() && it->first == group && static_cast<int64_t>(out.size()) < limit;
         ++it) {
      out.push_back(it->second);
    }
    return out;
  }
  Result<std::vector<int64_t>> JobsTargetingGroupOrAncestors(int64_t group) override {
    std::set<int64_t> jobs;
    for (int64_t g = group; g != 0;) {
      for (auto it = s_.targets_by_group.lower_bound({g, INT64_MIN, INT64_MIN});
           it != s_.targets_by_group.end() && std::get<0>(*it) == g; ++it) {
        jobs.insert(std::get<1>(*it));
      }
      auto row = s_.groups.find(g);
      g = row == s_.groups.end() ? 0 : row->second.parent;
    }
    return std::vector<int64_t>(jobs.begin(), jobs.end());
  }
  Result<bool> TargetsCover(int64_t job, int64_t thing, int64_t exclude) override {
    auto direct = s_.targets_by_thing.lower_bound({thing, job, INT64_MIN});
    if (direct != s_.targets_by_thing.end() && std::get<0>(*direct) == thing &&
        std::get<1>(*direct) == job) {
      return true;
    }
    std::set<int64_t> seen;
    for (auto m = s_.member_of.lower_bound({thing, INT64_MIN});
         m != s_.member_of.end() && m->first == thing; ++m) {
      if (m->second == exclude) continue;
      for (int64_t g = m->second; g != 0 && seen.insert(g).second;) {
        auto t = s_.targets_by_group.lower_bound({g, job, INT64_MIN});
        if (t != s_.targets_by_group.end() && std::get<0>(*t) == g && std::get<1>(*t) == job) {
          return true;
        }
        auto row = s_.groups.find(g);
        g = row == s_.groups.end() ? 0 : row->second.parent;
      }
    }
    return false;
  }

  Result<std::optional<jobs::ExecutionRecord>> Execution(int64_t job, int64_t thing,
                                                         std::optional<int64_t> number) override {
    using R = std::optional<jobs::ExecutionRecord>;
    if (number) {
      auto it = s_.execs.find({job, thing, *number});
      if (it == s_.execs.end()) return R();
      return R(s_.Record(it->first, it->second));
    }
    auto it = s_.execs.upper_bound({job, thing, INT64_MAX});
    if (it == s_.execs.begin()) return R();
    --it;
    if (std::get<0>(it->first) != job || std::get<1>(it->first) != thing) return R();
    return R(s_.Record(it->first, it->second));
  }
  Result<std::vector<jobs::ExecutionRecord>> ExecutionsOf(int64_t job, int64_t thing) override {
    std::vector<jobs::ExecutionRecord> out;
    for (auto it = s_.execs.lower_bound({job, thing, INT64_MIN});
         it != s_.execs.end() && std::get<0>(it->first) == job && std::get<1>(it->first) == thing;
         ++it) {
      out.push_back(s_.Record(it->first, it->second));
    }
    return out;
  }
  Result<bool> HasExecution(int64_t job, int64_t thing) override {
    auto it = s_.execs.lower_bound({job, thing, INT64_MIN});
    return it != s_.execs.end() && std::get<0>(it->first) == job && std::get<1>(it->first) == thing;
  }
  Status InsertExecution(const jobs::ExecutionRecord& r) override {
    IOTJOBS_RETURN_IF_ERROR(Writable());
    const ExecKey k{r.job, r.thing, r.e.execution_number};
    if (s_.execs.count(k)) {
      return Status(Code::kAlreadyExists, "execution " + std::to_string(r.e.execution_number) +
                                              " of job " + std::to_string(r.job) + " on thing " +
                                              std::to_string(r.thing) + " already exists");
    }
    s_.ExecSet(k, RowOf(r));
    return Status::Ok();
  }
  Status UpdateExecution(const jobs::ExecutionRecord& r) override {
    IOTJOBS_RETURN_IF_ERROR(Writable());
    const ExecKey k{r.job, r.thing, r.e.execution_number};
    if (!s_.execs.count(k)) {
      return Status::NotFound("execution " + std::to_string(r.e.execution_number) + " of job " +
                              std::to_string(r.job) + " on thing " + std::to_string(r.thing) +
                              " does not exist");
    }
    s_.ExecSet(k, RowOf(r));
    return Status::Ok();
  }
  Status DeleteExecution(int64_t job, int64_t thing, int64_t number) override {
    IOTJOBS_RETURN_IF_ERROR(Writable());
    const ExecKey k{job, thing, number};
    if (!s_.execs.count(k)) {
      return Status::NotFound("execution " + std::to_string(number) + " of job " +
                              std::to_string(job) + " on thing " + std::to_string(thing) +
                              " does not exist");
    }
    s_.ExecSet(k, std::nullopt);
    return Status::Ok();
  }
  Result<std::vector<jobs::ExecutionRecord>> LatestOfJob(
      int64_t job, int64_t after_thing, const std::vector<jobs::ExecutionStatus>& statuses,
      int64_t limit) override {
    std::vector<jobs::ExecutionRecord> out;
    for (auto it = s_.execs.upper_bound({job, after_thing, INT64_MAX});
         it != s_.execs.end() && std::get<0>(it->first) == job &&
         static_cast<int64_t>(out.size()) < limit;
         ++it) {
      if (!it->second.latest) continue;
      if (!statuses.empty() &&
          std::find(statuses.begin(), statuses.end(), it->second.status) == statuses.end()) {
        continue;
      }
      out.push_back(s_.Record(it->first, it->second));
    }
    return out;
  }
  Result<std::vector<jobs::ExecutionRecord>> ExecutionsOfJob(int64_t job, int64_t after_thing,
                                                             int64_t limit_things) override {
    std::vector<jobs::ExecutionRecord> out;
    int64_t things = 0, last = 0;
    for (auto it = s_.execs.upper_bound({job, after_thing, INT64_MAX});
         it != s_.execs.end() && std::get<0>(it->first) == job; ++it) {
      const int64_t thing = std::get<1>(it->first);
      if (things == 0 || thing != last) {
        if (things == limit_things) break;
        ++things;
        last = thing;
      }
      out.push_back(s_.Record(it->first, it->second));
    }
    return out;
  }
  Result<std::vector<jobs::ExecutionRecord>> LatestOfThing(int64_t thing) override {
    std::vector<jobs::ExecutionRecord> out;
    for (auto it = s_.execs_by_thing.lower_bound({thing, INT64_MIN, INT64_MIN});
         it != s_.execs_by_thing.end() && std::get<0>(*it) == thing; ++it) {
      const ExecKey k{std::get<1>(*it), thing, std::get<2>(*it)};
      const ExecRow& x = s_.execs.at(k);
      if (x.latest) out.push_back(s_.Record(k, x));
    }
    return out;
  }
  Result<std::vector<jobs::ExecutionRecord>> ThingQueue(
      int64_t thing, const std::vector<std::string>& hidden_job_statuses, int64_t limit) override {
    std::vector<jobs::ExecutionRecord> out;
    for (auto it = s_.queues.lower_bound({thing, INT_MIN, Instant::min(), INT64_MIN, INT64_MIN});
         it != s_.queues.end() && std::get<0>(*it) == thing &&
         static_cast<int64_t>(out.size()) < limit;
         ++it) {
      const ExecKey k{std::get<3>(*it), thing, std::get<4>(*it)};
      auto j = s_.jobs.find(std::get<0>(k));
      if (j != s_.jobs.end() && std::find(hidden_job_statuses.begin(), hidden_job_statuses.end(),
                                          j->second.job.status) != hidden_job_statuses.end()) {
        continue;
      }
      out.push_back(s_.Record(k, s_.execs.at(k)));
    }
    return out;
  }
  Result<std::vector<jobs::ExecutionRecord>> DueTimers(Instant now, int64_t limit) override {
    std::vector<jobs::ExecutionRecord> out;
    for (auto it = s_.timers.begin(); it != s_.timers.end() && std::get<0>(*it) <= now &&
                                      static_cast<int64_t>(out.size()) < limit;
         ++it) {
      const ExecKey k{std::get<1>(*it), std::get<2>(*it), std::get<3>(*it)};
      out.push_back(s_.Record(k, s_.execs.at(k)));
    }
    return out;
  }
  Result<std::optional<Instant>> NextTimer() override {
    if (s_.timers.empty()) return std::optional<Instant>();
    return std::optional<Instant>(std::get<0>(*s_.timers.begin()));
  }

  Result<jobs::RolloutCursor> RolloutCursor(int64_t job) override {
    auto it = s_.cursors.find(job);
    if (it == s_.cursors.end()) return Status::NotFound("job has no rollout cursor");
    return it->second;
  }
  Status PutRolloutCursor(int64_t job, const jobs::RolloutCursor& c) override {
    IOTJOBS_RETURN_IF_ERROR(Writable());
    s_.Put(s_.cursors, job, c);
    return Status::Ok();
  }
  Status AddRolloutBatch(int64_t job, const jobs::RolloutBatch& b, Instant forget_up_to) override {
    IOTJOBS_RETURN_IF_ERROR(Writable());
    const std::pair<int64_t, int64_t> k{job, ToEpochMillis(b.at)};
    auto it = s_.batches.find(k);
    s_.Put(s_.batches, k, (it == s_.batches.end() ? 0 : it->second) + b.count);
    std::vector<std::pair<int64_t, int64_t>> old;
    for (auto o = s_.batches.lower_bound({job, INT64_MIN});
         o != s_.batches.end() && o->first.first == job &&
         o->first.second <= ToEpochMillis(forget_up_to);
         ++o) {
      old.push_back(o->first);
    }
    for (const auto& o : old) s_.Erase(s_.batches, o);
    return Status::Ok();
  }
  Result<std::vector<jobs::RolloutBatch>> RolloutBatches(int64_t job, Instant since) override {
    std::vector<jobs::RolloutBatch> out;
    for (auto it = s_.batches.upper_bound({job, ToEpochMillis(since)});
         it != s_.batches.end() && it->first.first == job; ++it) {
      out.push_back({FromEpochMillis(it->first.second), it->second});
    }
    return out;
  }

  Result<EventConfigurations> EventConfig(const std::string& region) override {
    auto it = s_.event_configs.find(region);
    return it == s_.event_configs.end() ? EventConfigurations{} : it->second;
  }
  Status AppendEvent(const Event& e) override {
    IOTJOBS_RETURN_IF_ERROR(Writable());
    if (!track_) return Status::Ok();  // no MQTT: nobody publishes events
    Event stored = e;
    stored.seq = ++s_.next_event;
    if (e.job) {
      // What the event keeps of the job (SqliteStore's outbox row): its spec and times, named by
      // the event; not its status, counters or rollout state.
      const jobs::Job& j = *e.job;
      jobs::Job& k = stored.job.emplace();
      k.region = e.region;
      k.id = e.job_id;
      k.target_selection = j.target_selection;
      k.force_canceled = j.force_canceled;
      k.reason_code = j.reason_code;
      k.comment = j.comment;
      k.description = j.description;
      k.targets = j.targets;
      k.document = j.document;
      k.document_source = j.document_source;
      k.configs = j.configs;
      k.scheduling_config = j.scheduling_config;
      k.job_template_arn = j.job_template_arn;
      k.namespace_id = j.namespace_id;
      k.document_parameters = j.document_parameters;
      k.created_at = j.created_at;
      k.last_updated_at = j.last_updated_at;
      k.completed_at = j.completed_at;
    }
    s_.Put(s_.events, stored.seq, std::move(stored));
    return Status::Ok();
  }
  Status AppendThingChange(int64_t thing) override {
    IOTJOBS_RETURN_IF_ERROR(Writable());
    if (!track_) return Status::Ok();
    s_.Put(s_.thing_changes, ++s_.next_change, thing);
    return Status::Ok();
  }

 private:
  Status Writable() const {
    return read_only_ ? Status::Internal("a write inside Store::View (read-only)") : Status::Ok();
  }
  void EraseTarget(const TargetKey& k) {
    auto it = s_.targets.find(k);
    if (it == s_.targets.end()) return;
    const jobs::Target t = it->second;
    if (t.thing) s_.Remove(s_.targets_by_thing, TargetIndexKey{*t.thing, k.first, k.second});
    if (t.group) s_.Remove(s_.targets_by_group, TargetIndexKey{*t.group, k.first, k.second});
    s_.Erase(s_.targets, k);
  }

  State& s_;
  const bool read_only_;
  const bool track_;
};

namespace {

// A page of at most `limit` items out of `items` (which may hold one more).
template <typename T, typename Key>
Page<T> MakePage(std::vector<T> items, int limit, Key key) {
  Page<T> page;
  if (static_cast<int>(items.size()) > limit) {
    items.resize(limit);
    page.next_after = key(items.back(), limit - 1);
  }
  page.items = std::move(items);
  return page;
}

}  // namespace

MemoryStore::MemoryStore() : MemoryStore(Options()) {}

MemoryStore::MemoryStore(Options options) : options_(options), state_(std::make_unique<State>()) {}

MemoryStore::~MemoryStore() = default;

void MemoryStore::SetRegistryObserver(RegistryObserver* observer) {
  std::unique_lock lock(mu_);
  observer_ = observer;
}

Status MemoryStore::Write(const std::function<Status(Tx&)>& fn) {
  std::unique_lock lock(mu_);
  Tx tx(*state_, /*read_only=*/false, options_.track_thing_changes);
  Status st = fn(tx);
  if (st.ok()) {
    state_->undo.clear();
  } else {
    state_->RollbackTo(0);
  }
  return st;
}

Status MemoryStore::Transact(const std::function<Status(Txn&)>& fn) {
  return Write([&](Tx& tx) { return fn(tx); });
}

Status MemoryStore::View(const std::function<Status(Txn&)>& fn) {
  std::shared_lock lock(mu_);
  Tx tx(*state_, /*read_only=*/true, options_.track_thing_changes);
  return fn(tx);
}

// --- Templates and tags ---

Status MemoryStore::CreateJobTemplate(const jobs::JobTemplate& t, const std::string& arn,
                                      const std::vector<jobs::Tag>& tags) {
  return Write([&](Tx& tx) -> Status {
    State& s = tx.state();
    if (s.templates.count({t.region, t.id})) {
      return Status::Conflict("job template " + t.id + " already exists");
    }
    s.Put(s.templates, {t.region, t.id}, t);
    s.PutTags(arn, tags);
    return Status::Ok();
  });
}

Result<jobs::JobTemplate> MemoryStore::GetJobTemplate(const std::string& region,
                                                      const std::string& id) {
  std::shared_lock lock(mu_);
  auto it = state_->templates.find({region, id});
  if (it == state_->templates.end()) return Missing("job template", id);
  return it->second;
}

Result<Page<jobs::JobTemplate>> MemoryStore::ListJobTemplates(const std::string& region,
                                                              const std::string& after, int limit) {
  std::shared_lock lock(mu_);
  std::vector<jobs::JobTemplate> items;
  for (auto it = state_->templates.upper_bound({region, after});
       it != state_->templates.end() && it->first.first == region &&
       static_cast<int>(items.size()) <= limit;
       ++it) {
    items.push_back(it->second);
  }
  return MakePage(std::move(items), limit, [](const jobs::JobTemplate& t, int) { return t.id; });
}

Status MemoryStore::DeleteJobTemplate(const std::string& region, const std::string& id,
                                      const std::string& arn) {
  return Write([&](Tx& tx) -> Status {
    State& s = tx.state();
    if (!s.Erase(s.templates, {region, id})) return Missing("job template", id);
    s.DeleteAllTags(arn);
    return Status::Ok();
  });
}

Status MemoryStore::TagResource(const std::string& arn, const std::vector<jobs::Tag>& tags,
                                int max_tags) {
  return Write([&](Tx& tx) -> Status {
    State& s = tx.state();
    s.PutTags(arn, tags);
    int64_t n = 0;
    for (auto it = s.tags.lower_bound({arn, std::string()});
         it != s.tags.end() && it->first.first == arn; ++it) {
      ++n;
    }
    if (n > max_tags) {
      return Status::LimitExceeded("a resource can have at most " + std::to_string(max_tags) +
                                   " tags; this request would give it " + std::to_string(n));
    }
    return Status::Ok();
  });
}

Status MemoryStore::UntagResource(const std::string& arn, const std::vector<std::string>& keys) {
  return Write([&](Tx& tx) -> Status {
    State& s = tx.state();
    for (const auto& k : keys) s.Erase(s.tags, {arn, k});
    return Status::Ok();
  });
}

Result<Page<jobs::Tag>> MemoryStore::ListTags(const std::string& arn, const std::string& after,
                                              int limit) {
  std::shared_lock lock(mu_);
  std::vector<jobs::Tag> items;
  for (auto it = state_->tags.upper_bound({arn, after});
       it != state_->tags.end() && it->first.first == arn &&
       static_cast<int>(items.size()) <= limit;
       ++it) {
    items.push_back({it->first.second, it->second});
  }
  return MakePage(std::move(items), limit, [](const jobs::Tag& t, int) { return t.key; });
}

// --- Things ---

Status MemoryStore::CreateThing(const jobs::Thing& t) {
  return Write([&](Tx& tx) -> Status {
    State& s = tx.state();
    if (s.thing_ids.count({t.region, t.name})) {
      return Status::Conflict("thing " + t.name + " already exists");
    }
    const int64_t id = ++s.next_thing;
    s.Put(s.things, id, t);
    s.Put(s.thing_ids, {t.region, t.name}, id);
    return Status::Ok();
  });
}

Result<jobs::Thing> MemoryStore::GetThing(const std::string& region, const std::string& name) {
  std::shared_lock lock(mu_);
  auto id = state_->ThingId(region, name);
  if (!id) return Missing("thing", name);
  return state_->things.at(*id);
}

Result<Page<jobs::Thing>> MemoryStore::ListThings(const std::string& region,
                                                  const ThingFilter& filter,
                                                  const std::string& after, int limit) {
  std::shared_lock lock(mu_);
  std::vector<jobs::Thing> items;
  for (auto it = state_->thing_ids.upper_bound({region, after});
       it != state_->thing_ids.end() && it->first.first == region &&
       static_cast<int>(items.size()) <= limit;
       ++it) {
    const jobs::Thing& t = state_->things.at(it->second);
    if (!filter.thing_type_name.empty() && t.thing_type_name != filter.thing_type_name) continue;
    if (!filter.attribute_name.empty()) {
      auto a = t.attributes.find(filter.attribute_name);
      if (a == t.attributes.end()) continue;
      if (filter.prefix_value ? !StartsWith(a->second, filter.attribute_value)
                              : a->second != filter.attribute_value) {
        continue;
      }
    }
    items.push_back(t);
  }
  return MakePage(std::move(items), limit, [](const jobs::Thing& t, int) { return t.name; });
}

Status MemoryStore::UpdateThing(const jobs::Thing& t, int64_t expected_version) {
  return Write([&](Tx& tx) -> Status {
    State& s = tx.state();
    auto id = s.ThingId(t.region, t.name);
    if (!id) return Missing("thing", t.name);
    jobs::Thing next = s.things.at(*id);
    if (next.version != expected_version) {
      return VersionConflict("thing " + t.name, next.version, expected_version);
    }
    next.thing_type_name = t.thing_type_name;
    next.billing_group_name = t.billing_group_name;
    next.version = t.version;
    next.attributes = t.attributes;
    s.Put(s.things, *id, std::move(next));
    return Status::Ok();
  });
}

Status MemoryStore::DeleteThing(const std::string& region, const std::string& name,
                                int64_t expected_version, Instant now) {
  return Write([&](Tx& tx) -> Status {
    State& s = tx.state();
    auto id = s.ThingId(region, name);
    if (!id) return Missing("thing", name);
    const int64_t version = s.things.at(*id).version;
    if (expected_version >= 0 && version != expected_version) {
      return VersionConflict("thing " + name, version, expected_version);
    }
    if (observer_) IOTJOBS_RETURN_IF_ERROR(observer_->OnThingDeleting(tx, *id, now));
    // Its executions keep its name (listable, and counted in numberOfRemovedThings).
    if (s.HasExecutions(*id)) s.Put(s.deleted_things, *id, name);
    // Its tags go too (keyed by ARN, whose account part the store does not know).
    const std::string from = "arn:aws:iot:" + region + ":", to = "arn:aws:iot:" + region + ";";
    const std::string suffix = ":thing/" + name;
    std::vector<std::pair<std::string, std::string>> tags;
    for (auto it = s.tags.lower_bound({from, std::string()});
         it != s.tags.end() && it->first.first < to; ++it) {
      if (EndsWith(it->first.first, suffix)) tags.push_back(it->first);
    }
    for (const auto& k : tags) s.Erase(s.tags, k);
    std::vector<int64_t> groups;
    for (auto m = s.member_of.lower_bound({*id, INT64_MIN});
         m != s.member_of.end() && m->first == *id; ++m) {
      groups.push_back(m->second);
    }
    for (int64_t g : groups) {
      s.Remove(s.member_of, {*id, g});
      s.Remove(s.members, {g, *id});
    }
    s.Erase(s.thing_ids, {region, name});
    s.Erase(s.things, *id);
    return Status::Ok();
  });
}

// --- Thing groups ---

Status MemoryStore::CreateThingGroup(const jobs::ThingGroup& g, const std::string& arn,
                                     const std::vector<jobs::Tag>& tags) {
  return Write([&](Tx& tx) -> Status {
    State& s = tx.state();
    GroupRow row;
    row.region = g.region;
    row.name = g.name;
    row.group_id = g.id;
    row.description = g.description;
    row.version = g.version;
    row.created_at = g.created_at;
    row.attributes = g.attributes;
    if (g.parent_name) {
      auto p = s.GroupId(g.region, *g.parent_name);
      if (!p) return Missing("thing group", *g.parent_name);
      const GroupRow& parent = s.groups.at(*p);
      if (parent.depth + 1 > jobs::kMaxGroupDepth) {
        return Status::InvalidRequest("thing group " + g.name + " would be at depth " +
                                      std::to_string(parent.depth + 1) + "; the hierarchy allows " +
                                      std::to_string(jobs::kMaxGroupDepth) + " levels");
      }
      row.parent = *p;
      row.root = parent.root;
      row.depth = parent.depth + 1;
    }
    if (s.group_ids.count({g.region, g.name})) {
      return Status::Conflict("thing group " + g.name + " already exists");
    }
    const int64_t id = ++s.next_group;
    if (!row.parent) row.root = id;
    s.Put(s.children, {row.parent, g.name}, id);
    s.Put(s.groups, id, std::move(row));
    s.Put(s.group_ids, {g.region, g.name}, id);
    s.PutTags(arn, tags);
    return Status::Ok();
  });
}

Result<jobs::ThingGroup> MemoryStore::GetThingGroup(const std::string& region,
                                                    const std::string& name) {
  std::shared_lock lock(mu_);
  auto id = state_->GroupId(region, name);
  if (!id) return Missing("thing group", name);
  const GroupRow& row = state_->groups.at(*id);
  jobs::ThingGroup g;
  g.region = region;
  g.name = name;
  g.id = row.group_id;
  g.description = row.description;
  g.version = row.version;
  g.created_at = row.created_at;
  g.attributes = row.attributes;
  for (int64_t p = row.parent; p != 0;) {
    const GroupRow& up = state_->groups.at(p);
    g.root_to_parent.insert(g.root_to_parent.begin(), up.name);
    p = up.parent;
  }
  if (!g.root_to_parent.empty()) g.parent_name = g.root_to_parent.back();
  return g;
}

Result<Page<jobs::ThingGroup>> MemoryStore::ListThingGroups(const std::string& region,
                                                            const GroupFilter& filter,
                                                            const std::string& after, int limit) {
  std::shared_lock lock(mu_);
  const State& s = *state_;
  std::optional<int64_t> parent;
  std::set<int64_t> under;  // with a parent and recursive: its descendants
  if (!filter.parent.empty()) {
    parent = s.GroupId(region, filter.parent);
    if (!parent) return Missing("thing group", filter.parent);
    if (filter.recursive) {
      auto sub = s.Subtree(*parent);
      under.insert(sub.begin() + 1, sub.end());
    }
  }
  std::vector<jobs::ThingGroup> items;
  for (auto it = s.group_ids.upper_bound({region, after});
       it != s.group_ids.end() && it->first.first == region &&
       static_cast<int>(items.size()) <= limit;
       ++it) {
    if (!StartsWith(it->first.second, filter.name_prefix)) continue;
    const GroupRow& row = s.groups.at(it->second);
    bool in;
    if (parent) {
      in = filter.recursive ? under.count(it->second) != 0 : row.parent == *parent;
    } else {
      in = filter.recursive || row.parent == 0;
    }
    if (!in) continue;
    jobs::ThingGroup g;
    g.region = region;
    g.name = row.name;
    g.id = row.group_id;
    items.push_back(std::move(g));
  }
  return MakePage(std::move(items), limit, [](const jobs::ThingGroup& g, int) { return g.name; });
}

Status MemoryStore::UpdateThingGroup(const jobs::ThingGroup& g, int64_t expected_version) {
  return Write([&](Tx& tx) -> Status {
    State& s = tx.state();
    auto id = s.GroupId(g.region, g.name);
    if (!id) return Missing("thing group", g.name);
    GroupRow row = s.groups.at(*id);
    if (expected_version >= 0 && row.version != expected_version) {
      return VersionConflict("thing group " + g.name, row.version, expected_version);
    }
    row.description = g.description;
    row.version += 1;
    row.attributes = g.attributes;
    s.Put(s.groups, *id, std::move(row));
    return Status::Ok();
  });
}

Status MemoryStore::DeleteThingGroup(const std::string& region, const std::string& name,
                                     const std::string& arn, int64_t expected_version) {
  return Write([&](Tx& tx) -> Status {
    State& s = tx.state();
    auto id = s.GroupId(region, name);
    if (!id) return Missing("thing group", name);
    const GroupRow row = s.groups.at(*id);
    if (expected_version >= 0 && row.version != expected_version) {
      return VersionConflict("thing group " + name, row.version, expected_version);
    }
    auto child = s.children.lower_bound({*id, std::string()});
    if (child != s.children.end() && child->first.first == *id) {
      return Status::InvalidRequest("Cannot delete thing group " + name +
                                    " when there are still child groups attached");
    }
    std::vector<int64_t> things;
    for (auto m = s.members.lower_bound({*id, INT64_MIN}); m != s.members.end() && m->first == *id;
         ++m) {
      things.push_back(m->second);
    }
    for (int64_t t : things) {
      s.Remove(s.members, {*id, t});
      s.Remove(s.member_of, {t, *id});
    }
    s.DeleteAllTags(arn);
    s.Erase(s.children, {row.parent, name});
    s.Erase(s.group_ids, {region, name});
    s.Erase(s.groups, *id);
    return Status::Ok();
  });
}

Status MemoryStore::AddMembership(Tx& tx, int64_t thing, const std::string& thing_name,
                                  int64_t group, const std::string& group_name, Instant now) {
  State& s = tx.state();
  const int64_t root = s.groups.at(group).root;
  int count = 0;
  for (auto m = s.member_of.lower_bound({thing, INT64_MIN});
       m != s.member_of.end() && m->first == thing; ++m) {
    if (m->second == group) return Status::Ok();  // already a member
    const GroupRow& other = s.groups.at(m->second);
    if (other.root == root) {
      return Status::InvalidRequest("thing " + thing_name + " is already in thing group " +
                                    other.name + " of the same hierarchy as " + group_name);
    }
    ++count;
  }
  if (count >= jobs::kMaxGroupsPerThing) {
    return Status::InvalidRequest("thing " + thing_name + " is already in " +
                                  std::to_string(count) +
                                  " thing groups, the most a thing can belong to");
  }
  s.Insert(s.members, {group, thing});
  s.Insert(s.member_of, {thing, group});
  if (observer_) return observer_->OnMembershipAdded(tx, thing, group, now);
  return Status::Ok();
}

Status MemoryStore::AddThingToGroup(const std::string& region, const std::string& thing,
                                    const std::string& group, Instant now) {
  return Write([&](Tx& tx) -> Status {
    State& s = tx.state();
    auto t = s.ThingId(region, thing);
    if (!t) return Missing("thing", thing);
    auto g = s.GroupId(region, group);
    if (!g) return Missing("thing group", group);
    return AddMembership(tx, *t, thing, *g, group, now);
  });
}

Status MemoryStore::RemoveThingFromGroup(const std::string& region, const std::string& thing,
                                         const std::string& group, Instant now) {
  return Write([&](Tx& tx) -> Status {
    State& s = tx.state();
    auto t = s.ThingId(region, thing);
    if (!t) return Missing("thing", thing);
    auto g = s.GroupId(region, group);
    if (!g) return Missing("thing group", group);
    if (!s.Remove(s.members, {*g, *t})) return Status::Ok();  // was not a member
    s.Remove(s.member_of, {*t, *g});
    if (observer_) return observer_->OnMembershipRemoved(tx, *t, *g, now);
    return Status::Ok();
  });
}

Result<Page<std::string>> MemoryStore::ListThingsInGroup(const std::string& region,
                                                         const std::string& group, bool recursive,
                                                         const std::string& after, int limit) {
  std::shared_lock lock(mu_);
  const State& s = *state_;
  auto g = s.GroupId(region, group);
  if (!g) return Missing("thing group", group);
  // Ordered by the thing's internal id; the cursor is that id (as SqliteStore).
  int64_t after_id = 0;
  if (!after.empty() && !ParseInt(after, &after_id)) return BadToken();
  std::vector<int64_t> ids;
  if (!recursive) {
    for (auto it = s.members.upper_bound({*g, after_id});
         it != s.members.end() && it->first == *g && static_cast<int>(ids.size()) <= limit; ++it) {
      ids.push_back(it->second);
    }
  } else {
    std::set<int64_t> merged;
    for (int64_t sub : s.Subtree(*g)) {
      for (auto it = s.members.upper_bound({sub, after_id});
           it != s.members.end() && it->first == sub; ++it) {
        merged.insert(it->second);
      }
    }
    for (int64_t id : merged) {
      if (static_cast<int>(ids.size()) > limit) break;
      ids.push_back(id);
    }
  }
  Page<std::string> page;
  if (static_cast<int>(ids.size()) > limit) {
    ids.resize(limit);
    page.next_after = std::to_string(ids.back());
  }
  for (int64_t id : ids) page.items.push_back(s.things.at(id).name);
  return page;
}

Result<Page<std::string>> MemoryStore::ListGroupsForThing(const std::string& region,
                                                          const std::string& thing,
                                                          const std::string& after, int limit) {
  std::shared_lock lock(mu_);
  const State& s = *state_;
  auto t = s.ThingId(region, thing);
  if (!t) return Missing("thing", thing);
  std::vector<std::string> names;
  for (auto m = s.member_of.lower_bound({*t, INT64_MIN}); m != s.member_of.end() && m->first == *t;
       ++m) {
    const std::string& name = s.groups.at(m->second).name;
    if (name > after) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  if (static_cast<int>(names.size()) > limit + 1) names.resize(limit + 1);
  return MakePage(std::move(names), limit, [](const std::string& n, int) { return n; });
}

// --- Bulk registration ---

Result<std::vector<Status>> MemoryStore::RegisterThings(
    const std::string& region, const std::vector<jobs::ThingRegistration>& items, Instant now) {
  std::vector<Status> results;
  Status st = Write([&](Tx& tx) -> Status {
    State& s = tx.state();
    results.assign(items.size(), Status::Ok());
    for (size_t i = 0; i < items.size(); ++i) {
      const jobs::Thing& t = items[i].thing;
      // Each item on its own: a failing line leaves no half-registered thing.
      const size_t mark = s.undo.size();
      Status item = [&]() -> Status {
        int64_t id;
        if (auto existing = s.ThingId(region, t.name)) {
          // Registered before (a re-run, or a duplicate line): fine when identical.
          const jobs::Thing& e = s.things.at(*existing);
          if (e.thing_type_name != t.thing_type_name ||
              e.billing_group_name != t.billing_group_name || e.attributes != t.attributes) {
            return Status(Code::kAlreadyExists,
                          "thing " + t.name + " already exists with a different configuration");
          }
          id = *existing;
        } else {
          jobs::Thing row = t;
          row.region = region;
          row.version = 1;
          id = ++s.next_thing;
          s.Put(s.things, id, std::move(row));
          s.Put(s.thing_ids, {region, t.name}, id);
        }
        for (const auto& name : items[i].groups) {
          auto g = s.GroupId(region, name);
          if (!g) return Missing("thing group", name);
          IOTJOBS_RETURN_IF_ERROR(AddMembership(tx, id, t.name, *g, name, now));
        }
        return Status::Ok();
      }();
      if (!item.ok()) {
        results[i] = item;
        s.RollbackTo(mark);
      }
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return results;
}

Status MemoryStore::CreateRegistrationTask(const jobs::RegistrationTask& t) {
  return Write([&](Tx& tx) -> Status {
    State& s = tx.state();
    if (s.tasks.count(t.id))
      return Status::Conflict("registration task " + t.id + " already exists");
    TaskRow row;
    row.task.region = t.region;
    row.task.id = t.id;
    row.task.status = t.status;
    row.task.template_body = t.template_body;
    row.task.bucket = t.bucket;
    row.task.key = t.key;
    row.task.role_arn = t.role_arn;
    row.task.created_at = t.created_at;
    row.task.updated_at = t.created_at;
    row.seq = ++s.next_task_seq;
    s.Put(s.task_seqs, row.seq, t.id);
    s.Put(s.tasks, t.id, std::move(row));
    return Status::Ok();
  });
}

Status MemoryStore::UpdateRegistrationTask(const jobs::RegistrationTask& t) {
  return Write([&](Tx& tx) -> Status {
    State& s = tx.state();
    auto it = s.tasks.find(t.id);
    if (it == s.tasks.end()) return Missing("registration task", t.id);
    TaskRow row = it->second;
    row.task.status = t.status;
    row.task.message = t.message;
    row.task.success_count = t.success_count;
    row.task.failure_count = t.failure_count;
    row.task.percentage = t.percentage;
    row.task.updated_at = t.updated_at;
    s.Put(s.tasks, t.id, std::move(row));
    return Status::Ok();
  });
}

Result<jobs::RegistrationTask> MemoryStore::GetRegistrationTask(const std::string& region,
                                                                const std::string& id) {
  std::shared_lock lock(mu_);
  auto it = state_->tasks.find(id);
  if (it == state_->tasks.end() || it->second.task.region != region) {
    return Missing("registration task", id);
  }
  return it->second.task;
}

Result<Page<jobs::RegistrationTask>> MemoryStore::ListRegistrationTasks(const std::string& region,
                                                                        const std::string& status,
                                                                        const std::string& after,
                                                                        int limit) {
  std::shared_lock lock(mu_);
  const State& s = *state_;
  int64_t after_seq = 0;
  if (!after.empty() && !ParseInt(after, &after_seq)) return BadToken();
  std::vector<std::pair<int64_t, jobs::RegistrationTask>> rows;
  for (auto it = s.task_seqs.upper_bound(after_seq);
       it != s.task_seqs.end() && static_cast<int>(rows.size()) <= limit; ++it) {
    const jobs::RegistrationTask& t = s.tasks.at(it->second).task;
    if (!region.empty() && t.region != region) continue;
    if (!status.empty() && t.status != status) continue;
    rows.emplace_back(it->first, t);
  }
  Page<jobs::RegistrationTask> page;
  if (static_cast<int>(rows.size()) > limit) {
    rows.resize(limit);
    page.next_after = std::to_string(rows.back().first);
  }
  for (auto& [seq, t] : rows) page.items.push_back(std::move(t));
  return page;
}

// --- Jobs ---

Status MemoryStore::CreateJob(const jobs::Job& j, const std::string& arn,
                              const std::vector<jobs::Tag>& tags) {
  return Write([&](Tx& tx) -> Status {
    State& s = tx.state();
    if (s.job_ids.count({j.region, j.id})) {
      return Status(Code::kAlreadyExists, "job " + j.id + " already exists");
    }
    jobs::JobRecord r;
    r.id = ++s.next_job;
    r.job = j;
    r.job.last_updated_at = j.created_at;
    r.job.completed_at.reset();
    r.job.counters = {};
    r.job.notified = 0;
    r.job.rollout_done = false;
    r.work.rollout = true;
    const int64_t id = r.id;
    s.Put(s.jobs, id, std::move(r));
    s.Put(s.job_ids, {j.region, j.id}, id);
    IOTJOBS_RETURN_IF_ERROR(tx.AddTargets(id, j.region, j.targets, 0));
    s.Put(s.cursors, id, jobs::RolloutCursor{});
    s.PutTags(arn, tags);
    return Status::Ok();
  });
}

Result<jobs::Job> MemoryStore::GetJob(const std::string& region, const std::string& id) {
  std::shared_lock lock(mu_);
  auto job = state_->JobId(region, id);
  if (!job) return Missing("job", id);
  return state_->jobs.at(*job).job;
}

Result<Page<jobs::Job>> MemoryStore::ListJobs(const std::string& region, const JobFilter& filter,
                                              const std::string& after, int limit) {
  std::shared_lock lock(mu_);
  const State& s = *state_;
  std::optional<int64_t> group;
  if (!filter.thing_group.empty()) {
    group = s.GroupId(region, filter.thing_group);
    if (!group) return Missing("thing group", filter.thing_group);
  }
  int64_t before = INT64_MAX;
  if (!after.empty() && !ParseInt(after, &before)) return BadToken();
  auto targets_group = [&](int64_t job, auto pred) {
    for (auto t = s.targets.lower_bound({job, INT64_MIN});
         t != s.targets.end() && t->first.first == job; ++t) {
      if (t->second.group && pred(*t->second.group)) return true;
    }
    return false;
  };
  std::vector<std::pair<int64_t, jobs::Job>> rows;
  for (auto it = std::make_reverse_iterator(s.jobs.lower_bound(before));
       it != s.jobs.rend() && static_cast<int>(rows.size()) <= limit; ++it) {
    const jobs::Job& j = it->second.job;
    if (j.region != region) continue;
    if (!filter.status.empty() && j.status != filter.status) continue;
    if (!filter.target_selection.empty() && j.target_selection != filter.target_selection) continue;
    if (group && !targets_group(it->first, [&](int64_t g) { return g == *group; })) continue;
    if (!filter.namespace_id.empty() && j.namespace_id != filter.namespace_id) continue;
    if (!filter.thing_group_id.empty() && !targets_group(it->first, [&](int64_t g) {
          auto row = s.groups.find(g);
          return row != s.groups.end() && row->second.group_id == filter.thing_group_id;
        })) {
      continue;
    }
    rows.emplace_back(it->first, j);
  }
  Page<jobs::Job> page;
  if (static_cast<int>(rows.size()) > limit) {
    rows.resize(limit);
    page.next_after = std::to_string(rows.back().first);
  }
  for (auto& [id, j] : rows) page.items.push_back(std::move(j));
  return page;
}

Status MemoryStore::UpdateJob(const jobs::Job& j) {
  return Write([&](Tx& tx) -> Status {
    State& s = tx.state();
    auto id = s.JobId(j.region, j.id);
    if (!id) return Missing("job", j.id);
    jobs::JobRecord r = s.jobs.at(*id);
    // The stored spec: everything but the status, selection, times, counters and rollout state.
    jobs::Job& x = r.job;
    x.description = j.description;
    x.document = j.document;
    x.document_source = j.document_source;
    x.targets = j.targets;
    x.configs = j.configs;
    x.scheduling_config = j.scheduling_config;
    x.job_template_arn = j.job_template_arn;
    x.namespace_id = j.namespace_id;
    x.document_parameters = j.document_parameters;
    x.reason_code = j.reason_code;
    x.comment = j.comment;
    x.force_canceled = j.force_canceled;
    x.last_updated_at = j.last_updated_at;
    s.Put(s.jobs, *id, std::move(r));
    return Status::Ok();
  });
}

// --- Executions (control-plane reads) ---

Result<jobs::JobExecution> MemoryStore::GetExecution(const std::string& region,
                                                     const std::string& job_id,
                                                     const std::string& thing,
                                                     std::optional<int64_t> number) {
  std::shared_lock lock(mu_);
  const State& s = *state_;
  auto j = s.JobId(region, job_id);
  if (!j) return Missing("job", job_id);
  auto t = s.ThingId(region, thing);
  if (!t) return Missing("thing", thing);
  std::map<ExecKey, ExecRow>::const_iterator it;
  if (number) {
    it = s.execs.find({*j, *t, *number});
  } else {
    it = s.execs.upper_bound({*j, *t, INT64_MAX});
    it = it == s.execs.begin() ? s.execs.end() : std::prev(it);
    if (it != s.execs.end() && (std::get<0>(it->first) != *j || std::get<1>(it->first) != *t)) {
      it = s.execs.end();
    }
  }
  if (it == s.execs.end()) {
    return Status::NotFound("job " + job_id + " has no execution" +
                            (number ? " number " + std::to_string(*number) : "") + " on thing " +
                            thing);
  }
  return s.Record(it->first, it->second).e;
}

Result<Page<jobs::JobExecution>> MemoryStore::ListExecutionsForJob(
    const std::string& region, const std::string& job_id, std::optional<ExecutionStatus> status,
    const std::string& after, int limit) {
  std::shared_lock lock(mu_);
  const State& s = *state_;
  auto j = s.JobId(region, job_id);
  if (!j) return Missing("job", job_id);
  auto cursor = ParseCursor(after, 0);
  if (!cursor.ok()) return cursor.status();
  Page<jobs::JobExecution> page;
  std::string last;
  for (auto it = s.execs.upper_bound({*j, cursor->first, cursor->second});
       it != s.execs.end() && std::get<0>(it->first) == *j; ++it) {
    if (status && it->second.status != *status) continue;
    if (static_cast<int>(page.items.size()) == limit) {
      page.next_after = last;
      break;
    }
    page.items.push_back(s.Record(it->first, it->second).e);
    last = std::to_string(std::get<1>(it->first)) + ":" + std::to_string(std::get<2>(it->first));
  }
  return page;
}

Result<Page<jobs::JobExecution>> MemoryStore::ListExecutionsForThing(
    const std::string& region, const std::string& thing, std::optional<ExecutionStatus> status,
    const std::string& job_id, const std::string& after, int limit) {
  std::shared_lock lock(mu_);
  const State& s = *state_;
  auto t = s.ThingId(region, thing);
  if (!t) return Missing("thing", thing);
  std::optional<int64_t> only_job;
  if (!job_id.empty()) {
    only_job = s.JobId(region, job_id);
    if (!only_job) return Missing("job", job_id);
  }
  auto cursor = ParseCursor(after, INT64_MAX);
  if (!cursor.ok()) return cursor.status();
  Page<jobs::JobExecution> page;
  std::string last;
  // (job, number) < cursor, newest job first.
  for (auto it = std::make_reverse_iterator(
           s.execs_by_thing.lower_bound({*t, cursor->first, cursor->second}));
       it != s.execs_by_thing.rend() && std::get<0>(*it) == *t; ++it) {
    const ExecKey k{std::get<1>(*it), *t, std::get<2>(*it)};
    if (only_job && std::get<0>(k) != *only_job) continue;
    if (!s.jobs.count(std::get<0>(k))) continue;
    const ExecRow& x = s.execs.at(k);
    if (status && x.status != *status) continue;
    if (static_cast<int>(page.items.size()) == limit) {
      page.next_after = last;
      break;
    }
    page.items.push_back(s.Record(k, x).e);
    last = std::to_string(std::get<0>(k)) + ":" + std::to_string(std::get<2>(k));
  }
  return page;
}

// --- Outboxes ---

Result<std::vector<Store::ThingChange>> MemoryStore::ThingChanges(int limit) {
  std::shared_lock lock(mu_);
  const State& s = *state_;
  std::vector<ThingChange> out;
  for (auto it = s.thing_changes.begin();
       it != s.thing_changes.end() && static_cast<int>(out.size()) < limit; ++it) {
    ThingChange c;
    c.seq = it->first;
    // A deleted thing has no device left to notify; its seq is still acknowledged.
    if (auto t = s.things.find(it->second); t != s.things.end()) {
      c.region = t->second.region;
      c.thing = t->second.name;
    }
    out.push_back(std::move(c));
  }
  return out;
}

Result<std::optional<Store::NotifiedState>> MemoryStore::GetNotified(const std::string& region,
                                                                     const std::string& thing) {
  std::shared_lock lock(mu_);
  auto it = state_->notified.find({region, thing});
  if (it == state_->notified.end()) return std::optional<NotifiedState>();
  return std::optional<NotifiedState>(
      NotifiedState{region, thing, it->second.first, it->second.second});
}

Status MemoryStore::AckThingChanges(int64_t up_to, const std::vector<NotifiedState>& states) {
  return Write([&](Tx& tx) -> Status {
    State& s = tx.state();
    for (const auto& n : states) {
      if (n.members.empty()) {
        s.Erase(s.notified, {n.region, n.thing});
      } else {
        s.Put(s.notified, {n.region, n.thing}, {n.members, n.head});
      }
    }
    std::vector<int64_t> done;
    for (auto it = s.thing_changes.begin(); it != s.thing_changes.end() && it->first <= up_to;
         ++it) {
      done.push_back(it->first);
    }
    for (int64_t seq : done) s.Erase(s.thing_changes, seq);
    return Status::Ok();
  });
}

Result<Store::EventConfigurations> MemoryStore::GetEventConfigurations(const std::string& region) {
  std::shared_lock lock(mu_);
  auto it = state_->event_configs.find(region);
  return it == state_->event_configs.end() ? EventConfigurations{} : it->second;
}

Status MemoryStore::UpdateEventConfigurations(const std::string& region,
                                              const std::map<std::string, bool>& changes,
                                              Instant now) {
  return Write([&](Tx& tx) -> Status {
    State& s = tx.state();
    auto it = s.event_configs.find(region);
    EventConfigurations c = it == s.event_configs.end() ? EventConfigurations{} : it->second;
    for (const auto& [k, v] : changes) c.enabled[k] = v;
    if (!c.created_at) c.created_at = now;
    c.updated_at = now;
    s.Put(s.event_configs, region, std::move(c));
    return Status::Ok();
  });
}

Result<std::vector<Store::Event>> MemoryStore::EventOutbox(int limit) {
  std::shared_lock lock(mu_);
  std::vector<Event> out;
  for (auto it = state_->events.begin();
       it != state_->events.end() && static_cast<int>(out.size()) < limit; ++it) {
    out.push_back(it->second);
  }
  return out;
}

Status MemoryStore::AckEvents(int64_t up_to) {
  return Write([&](Tx& tx) -> Status {
    State& s = tx.state();
    std::vector<int64_t> done;
    for (auto it = s.events.begin(); it != s.events.end() && it->first <= up_to; ++it) {
      done.push_back(it->first);
    }
    for (int64_t seq : done) s.Erase(s.events, seq);
    return Status::Ok();
  });
}

}  // namespace iotjobs::store
