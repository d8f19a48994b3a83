// rules_tick_bench: does the rules engine keep its pace at fleet scale? The real
// service::Scheduler over a real SqliteStore (WAL, synchronous=FULL) holding 1,000,000 things and
// 100 concurrent jobs of 10,000 targets each (1,000,000 executions), on a scaled clock, while
// simulated devices call service::DeviceService (what the HTTPS and MQTT data planes call) on
// other threads: they start executions and finish them, some failing (retried where the job says
// so, aborting the jobs whose firmware is bad) and some hanging until their timers fire.
//
// The job mix (see Profile): maximumPerMinute rollouts from 200 to 5,000 a minute and
// exponentialRate rollouts; in-progress timeouts of 2, 5 and 10 minutes and step timeouts of 1
// minute set by the devices; retries on FAILED and TIMED_OUT; abort configs that never trip and
// ten jobs whose devices fail 60 % of the time, so theirs do; schedulingConfig start and end times
// (endBehavior CANCEL and FORCE_CANCEL); maintenance windows every 10 and every 4 minutes.
//
// What it measures:
// - tick cost: the wall-clock time of every Tick that Scheduler::Start's thread runs;
// - lag behind schedule: for every action the rules make due, the time from the instant it was
//   due to when the scheduler applied it. The due instants come from the rules (jobs/) and the
//   configuration, the applied instants from the store, recorded by triggers this program adds
//   to the database (so the figure does not rely on the scheduler's own account):
//     rollout release  due by jobs::RolloutDueAt over the job's actual releases so far (the
//                      bucket's TAT or the instant the rolling-minute cap frees a slot: a release
//                      within the bucket's tolerance before it is on the curve, one after it is
//                      late), or the instant the job may roll out again (created, startTime, a
//                      window opening) if later; one sample per release (a tick's batch of a job)
//     timeout          due at the execution's stored deadline
//     start, end, window open, window close
//                      due at the instant jobs::DecideSchedule changes its decision
//     abort, end cancel
//                      due when the job was canceled (an abort trips inside the device's update);
//                      applied when the last of its QUEUED executions was canceled
//   An action is applied in a tick; its store timestamp is the tick's `now`, so the applied
//   instant taken is that plus the whole tick's cost (an upper bound). Actions still undone at the
//   end of the run count with their lag so far. Lag is measured in service time and reported in
//   real time too (divided by the time scale): the scheduler's wall-clock delay, under a workload
//   that the scale makes that many times denser than a real-time fleet's.
// - correctness on the way: releases the rules did not allow, schedule changes applied early or
//   never, are counted and must be 0.
//
// Output: a summary on stderr; with --json one JSON object on stdout (bench/run_rules.sh writes
// BENCHMARKS.md from it). Exits 1 when the run is invalid (a setup error, a violation).
#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/logging.h"
#include "jobs/job.h"
#include "jobs/registry.h"
#include "jobs/rollout.h"
#include "jobs/scheduling.h"
#include "service/device_service.h"
#include "service/job_service.h"
#include "service/scheduler.h"
#include "store/sqlite/sqlite_store.h"

namespace iotjobs::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::minutes;

constexpr const char* kRegion = "us-east-1";
constexpr const char* kAccount = "123456789012";

struct Options {
  int64_t things = 1'000'000;
  int jobs = 100;
  double scale = 40;         // service time runs this many times faster than wall time
  double run_seconds = 120;  // wall-clock time the scheduler and the devices run
  int device_threads = 3;
  double device_rate = 1000;    // executions the devices take on per wall second (0: no limit)
  int64_t server_cap = 10'000;  // --max-rollout-per-minute of this self-hosted server
  std::string dir;              // empty: a temporary directory, removed at the end
  bool json = false;
};

// --- the job mix ------------------------------------------------------------------------------

struct Profile {
  std::string id, label;
  jobs::JobConfigs configs;
  bool scheduled = false;  // startTime / endTime
  std::string end_behavior;
  std::optional<jobs::MaintenanceWindow> window;
  std::optional<int64_t> step_minutes;             // devices set this step timer on StartNext
  int fail_pct = 7, reject_pct = 2, hang_pct = 6;  // the rest succeed
};

Profile MakeProfile(int i) {
  Profile p;
  char id[32];
  std::snprintf(id, sizeof(id), "job-%03d", i);
  p.id = id;
  jobs::RolloutConfig r;
  switch (i % 5) {
    case 0:
      r.maximum_per_minute = 1000;
      p.label = "max 1000/min";
      break;
    case 1:
      r.maximum_per_minute = 500;
      p.label = "max 500/min";
      break;
    case 2:
      r.exponential_rate =
          jobs::ExponentialRolloutRate{100, 2.0, jobs::RateIncreaseCriteria{1000, std::nullopt}};
      p.label = "exp 100×2.0/1000";
      break;
    case 3:
      r.maximum_per_minute = 2000;
      r.exponential_rate =
          jobs::ExponentialRolloutRate{50, 1.5, jobs::RateIncreaseCriteria{500, std::nullopt}};
      p.label = "exp 50×1.5/500 ≤2000";
      break;
    default:
      r.maximum_per_minute = 5000;
      p.label = "max 5000/min";
      break;
  }
  p.configs.rollout_config = r;
  switch (i % 4) {
    case 1:
      p.configs.timeout_config = jobs::TimeoutConfig{int64_t{2}};
      break;
    case 2:
      p.configs.timeout_config = jobs::TimeoutConfig{int64_t{5}};
      break;
    case 3:
      p.configs.timeout_config = jobs::TimeoutConfig{int64_t{10}};
      p.step_minutes = 1;
      break;
    default:
      break;
  }
  switch (i % 3) {
    case 1:
      p.configs.retry_config = jobs::RetryConfig{{{"FAILED", 2}}};
      break;
    case 2:
      p.configs.retry_config = jobs::RetryConfig{{{"FAILED", 1}, {"TIMED_OUT", 1}}};
      break;
    default:
      break;
  }
  switch (i % 7) {
    case 0:  // never trips at the usual failure rate
      p.configs.abort_config = jobs::AbortConfig{{{"FAILED", "CANCEL", 20.0, 500}}};
      break;
    case 1:
      p.configs.abort_config = jobs::AbortConfig{{{"ALL", "CANCEL", 30.0, 200}}};
      break;
    default:
      break;
  }
  switch (i % 20) {
    case 3:
    case 13:  // rolling out over a 30-minute schedule at 200/min: still going at endTime
      p.scheduled = true;
      p.end_behavior = i % 20 == 3 ? "CANCEL" : "FORCE_CANCEL";
      p.configs.rollout_config = jobs::RolloutConfig{int32_t{200}, std::nullopt};
      p.label = "max 200/min, start +31 min, end +30 min " + p.end_behavior;
      break;
    case 8:
      p.window = jobs::MaintenanceWindow{"cron(0/10 * * * ? *)", 5};
      p.label += ", windows 5 min every 10";
      break;
    case 18:
      p.window = jobs::MaintenanceWindow{"cron(0/4 * * * ? *)", 2};
      p.label += ", windows 2 min every 4";
      break;
    case 7:
    case 17:  // bad firmware: the abort trips
      p.fail_pct = 60;
      p.reject_pct = 0;
      p.hang_pct = 5;
      p.configs.abort_config = jobs::AbortConfig{{{"ALL", "CANCEL", 35.0, 100}}};
      p.label += ", 60 % failing, abort ALL ≥35 %";
      break;
    default:
      break;
  }
  return p;
}

std::string ThingName(int job, int64_t index) {
  char n[32];
  std::snprintf(n, sizeof(n), "t%03d-%06" PRId64, job, index);
  return n;
}

uint64_t Mix(uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// --- figures ----------------------------------------------------------------------------------

struct Dist {
  std::vector<double> v;
  void Add(double x) { v.push_back(x); }
  double Pct(double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const size_t i = std::min(v.size() - 1,
                              static_cast<size_t>(std::ceil(p / 100 * v.size())) - (p > 0 ? 1 : 0));
    return v[i];
  }
  double Max() { return v.empty() ? 0 : *std::max_element(v.begin(), v.end()); }
};

// --- raw SQLite, for the instrumentation and the analysis ------------------------------------

class Raw {
 public:
  explicit Raw(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
      std::fprintf(stderr, "rules_tick_bench: cannot open %s\n", path.c_str());
      std::exit(1);
    }
    sqlite3_busy_timeout(db_, 60'000);
  }
  ~Raw() { sqlite3_close(db_); }
  void Exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::fprintf(stderr, "rules_tick_bench: %s\n  in: %s\n", err ? err : "?", sql);
      std::exit(1);
    }
  }
  // Runs `sql` with integer parameters, calling row(stmt) per row.
  template <typename F>
  void Query(const char* sql, std::initializer_list<int64_t> params, F&& row) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &s, nullptr) != SQLITE_OK) {
      std::fprintf(stderr, "rules_tick_bench: %s\n  in: %s\n", sqlite3_errmsg(db_), sql);
      std::exit(1);
    }
    int i = 1;
    for (int64_t p : params) sqlite3_bind_int64(s, i++, p);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) row(s);
    if (rc != SQLITE_DONE) {
      std::fprintf(stderr, "rules_tick_bench: %s\n  in: %s\n", sqlite3_errmsg(db_), sql);
      std::exit(1);
    }
    sqlite3_finalize(s);
  }
  int64_t Int(const char* sql, std::initializer_list<int64_t> params = {}) {
    int64_t v = 0;
    Query(sql, params, [&](sqlite3_stmt* s) { v = sqlite3_column_int64(s, 0); });
    return v;
  }

 private:
  sqlite3* db_ = nullptr;
};

std::string Text(sqlite3_stmt* s, int col) {
  const auto* t = sqlite3_column_text(s, col);
  return t ? reinterpret_cast<const char*>(t) : "";
}

// Logs of what the store applied, filled by triggers in the store's own transactions: job status
// changes (with the instant the store stamped and the reasonCode), execution time-outs (deadline
// and instant) and rollout batches (jobs/rollout.h's history, which the store prunes).
constexpr const char* kInstrumentation = R"sql(
CREATE TABLE bench_status_log (job INTEGER, old TEXT, new TEXT, at_ms INTEGER, reason TEXT);
CREATE TRIGGER bench_status AFTER UPDATE OF status ON jobs WHEN OLD.status <> NEW.status
BEGIN
  INSERT INTO bench_status_log VALUES (NEW.id, OLD.status, NEW.status, NEW.updated_at_ms,
                                       json_extract(NEW.spec, '$.reasonCode'));
END;
CREATE TABLE bench_timeouts (job INTEGER, due_ms INTEGER, at_ms INTEGER);
CREATE TRIGGER bench_timeout AFTER UPDATE OF status ON job_executions
WHEN NEW.status = 4 AND OLD.status <> 4
BEGIN
  INSERT INTO bench_timeouts VALUES (NEW.job, OLD.timeout_at_ms, NEW.updated_at_ms);
END;
CREATE TABLE bench_releases (job INTEGER, at_ms INTEGER, count INTEGER);
CREATE TRIGGER bench_release_new AFTER INSERT ON rollout_batches
BEGIN
  INSERT INTO bench_releases VALUES (NEW.job, NEW.at_ms, NEW.count);
END;
CREATE TRIGGER bench_release_more AFTER UPDATE OF count ON rollout_batches
BEGIN
  INSERT INTO bench_releases VALUES (NEW.job, NEW.at_ms, NEW.count - OLD.count);
END;
)sql";

// --- the run ----------------------------------------------------------------------------------

struct JobState {
  Profile p;
  int index = 0;
  int64_t internal = 0;
  std::atomic<int64_t> notified{0};  // executions created, as last read by the poller
  std::atomic<int64_t> next{0};      // the next thing index to hand to a device
  std::atomic<bool> closed{false};   // CANCELED or COMPLETED
  std::mutex mu;
  std::deque<std::pair<int64_t, SteadyClock::time_point>> again;  // (index, not before)
};

struct DeviceCounts {
  std::atomic<int64_t> started{0}, succeeded{0}, failed{0}, rejected{0}, hung{0}, nothing{0},
      errors{0};
};

int64_t Rss() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;  // MiB
}

int Run(const Options& o) {
  SetLogLevel("warn");
  const int64_t per_job = o.things / o.jobs;
  std::string dir = o.dir;
  bool remove_dir = false;
  if (dir.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "iotjobs-rules.XXXXXX").string();
    if (!mkdtemp(tmpl.data())) {
      std::perror("mkdtemp");
      return 1;
    }
    dir = tmpl;
    remove_dir = true;
  }
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/iotjobs.db";
  auto opened = store::SqliteStore::Open({.path = path, .synchronous_full = true});
  if (!opened.ok()) {
    std::fprintf(stderr, "rules_tick_bench: %s\n", opened.status().message().c_str());
    return 1;
  }
  std::unique_ptr<store::SqliteStore> store = std::move(opened).value();
  service::Applier applier(store.get());
  Raw raw(path);
  raw.Exec(kInstrumentation);

  SystemClock clock(o.scale);
  SystemClock wall_clock(1.0);
  service::ServiceConfig config;
  config.account_id = kAccount;

  // Registry: one group of `per_job` things per job, through the bulk registration path.
  std::fprintf(stderr, "rules_tick_bench: registering %" PRId64 " things in %d groups in %s\n",
               per_job * o.jobs, o.jobs, dir.c_str());
  const auto reg_began = SteadyClock::now();
  for (int j = 0; j < o.jobs; ++j) {
    jobs::ThingGroup g;
    g.region = kRegion;
    char name[16];
    std::snprintf(name, sizeof(name), "g%03d", j);
    g.name = name;
    g.id = std::string("gid-") + name;
    g.created_at = clock.Now();
    Status st = store->CreateThingGroup(g, jobs::ThingGroupArn(kRegion, kAccount, name), {});
    if (!st.ok()) {
      std::fprintf(stderr, "rules_tick_bench: group %s: %s\n", name, st.message().c_str());
      return 1;
    }
    constexpr int64_t kChunk = 10'000;
    for (int64_t from = 0; from < per_job; from += kChunk) {
      std::vector<jobs::ThingRegistration> items;
      for (int64_t k = from; k < std::min(per_job, from + kChunk); ++k) {
        jobs::ThingRegistration r;
        r.thing.region = kRegion;
        r.thing.name = ThingName(j, k);
        r.thing.id = "tid-" + r.thing.name;
        r.groups = {name};
        items.push_back(std::move(r));
      }
      auto res = store->RegisterThings(kRegion, items, clock.Now());
      if (!res.ok()) {
        std::fprintf(stderr, "rules_tick_bench: register: %s\n", res.status().message().c_str());
        return 1;
      }
      for (const Status& s : *res) {
        if (!s.ok()) {
          std::fprintf(stderr, "rules_tick_bench: register: %s\n", s.message().c_str());
          return 1;
        }
      }
    }
  }
  const double registration_s =
      std::chrono::duration<double>(SteadyClock::now() - reg_began).count();
  std::fprintf(stderr, "rules_tick_bench: registered in %.1f s\n", registration_s);

  // The scheduler, exactly as iotjobsd wires it (with a tick observer).
  service::SchedulerConfig sc;
  sc.max_rollout_per_minute = o.server_cap;
  sc.time_scale = o.scale;
  service::Scheduler scheduler(sc, store.get(), &applier, &clock);
  std::vector<service::Scheduler::TickReport> ticks;  // only the scheduler's thread appends
  ticks.reserve(1 << 20);
  scheduler.SetTickObserver([&](const service::Scheduler::TickReport& r) { ticks.push_back(r); });
  service::JobLimits limits;
  limits.max_rollout_per_minute = o.server_cap;
  service::JobService job_service(config, limits, store.get(), nullptr, &clock,
                                  [&] { scheduler.Poke(); });
  service::DeviceService devices(config, store.get(), nullptr, &clock, &wall_clock);

  std::vector<std::unique_ptr<JobState>> js;
  for (int i = 0; i < o.jobs; ++i) {
    js.push_back(std::make_unique<JobState>());
    js.back()->p = MakeProfile(i);
    js.back()->index = i;
  }

  scheduler.Start();
  const auto run_began = SteadyClock::now();
  const Instant service_began = clock.Now();
  for (auto& s : js) {
    service::CreateJobInput in;
    in.region = kRegion;
    in.id = s->p.id;
    char g[16];
    std::snprintf(g, sizeof(g), "g%03d", s->index);
    in.targets = {jobs::ThingGroupArn(kRegion, kAccount, g)};
    in.document = R"({"operation":"firmware-update","version":"2.4.1"})";
    in.configs = s->p.configs;
    if (s->p.scheduled || s->p.window) {
      jobs::SchedulingConfig sched;
      if (s->p.scheduled) {
        // The 30-minute minimum lead, measured by CreateJob a moment later: a minute to spare.
        const Instant start = clock.Now() + minutes(31) + minutes(s->index % 20 == 13 ? 2 : 0);
        sched.start_time = jobs::FormatIsoUtc(start);
        sched.end_time = jobs::FormatIsoUtc(start + minutes(30));
        sched.end_behavior = s->p.end_behavior;
      }
      if (s->p.window) sched.maintenance_windows = std::vector{*s->p.window};
      in.scheduling_config = sched;
    }
    auto created = job_service.CreateJob(std::move(in));
    if (!created.ok()) {
      std::fprintf(stderr, "rules_tick_bench: CreateJob %s: %s\n", s->p.id.c_str(),
                   created.status().message().c_str());
      return 1;
    }
  }
  const double create_s = std::chrono::duration<double>(SteadyClock::now() - run_began).count();
  raw.Query("SELECT id, job_id FROM jobs", {}, [&](sqlite3_stmt* s) {
    const std::string id = Text(s, 1);
    for (auto& j : js) {
      if (j->p.id == id) j->internal = sqlite3_column_int64(s, 0);
    }
  });

  // Devices.
  std::atomic<bool> stop{false};
  DeviceCounts counts;
  std::mutex op_mu;
  Dist op_ms;  // StartNext and UpdateJobExecution, as a device waits for them
  std::thread poller([&] {
    while (!stop) {
      for (auto& s : js) {
        auto j = store->GetJob(kRegion, s->p.id);
        if (!j.ok()) continue;
        s->notified = j->notified;
        s->closed = j->status == jobs::kJobCanceled || j->status == jobs::kJobCompleted;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  std::vector<std::thread> workers;
  for (int w = 0; w < o.device_threads; ++w) {
    workers.emplace_back([&, w] {
      const double rate = o.device_rate > 0 ? o.device_rate / o.device_threads : 0;
      const auto period = rate > 0 ? std::chrono::duration_cast<SteadyClock::duration>(
                                         std::chrono::duration<double>(1.0 / rate))
                                   : SteadyClock::duration(0);
      auto slot = SteadyClock::now();
      size_t rr = static_cast<size_t>(w) * 7;
      std::vector<double> local_ms;
      while (!stop) {
        if (rate > 0) {
          slot += period;
          const auto now = SteadyClock::now();
          if (slot < now - std::chrono::seconds(1)) slot = now;  // do not catch up a backlog
          std::this_thread::sleep_until(slot);
        }
        // Round robin over the jobs: a thing whose execution exists and no device took yet, or
        // one to try again (a retry was queued, or its job was between maintenance windows).
        JobState* job = nullptr;
        int64_t idx = -1;
        for (size_t k = 0; k < js.size() && idx < 0; ++k) {
          JobState& s = *js[rr++ % js.size()];
          if (s.closed) continue;
          {
            std::lock_guard lock(s.mu);
            if (!s.again.empty() && s.again.front().second <= SteadyClock::now()) {
              idx = s.again.front().first;
              s.again.pop_front();
              job = &s;
              break;
            }
          }
          int64_t cur = s.next.load();
          while (cur < s.notified.load() && !s.next.compare_exchange_weak(cur, cur + 1)) {
          }
          if (cur < s.notified.load()) {
            idx = cur;
            job = &s;
          }
        }
        if (!job) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
          continue;
        }
        const std::string thing = ThingName(job->index, idx);
        const auto t0 = SteadyClock::now();
        auto started = devices.StartNext(kRegion, thing, std::nullopt, job->p.step_minutes);
        local_ms.push_back(
            std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count());
        if (!started.ok()) {
          ++counts.errors;
          continue;
        }
        if (!*started) {
          // Nothing pending: its job is between windows (its executions are hidden), or done.
          if (job->p.window && !job->closed) {
            std::lock_guard lock(job->mu);
            job->again.emplace_back(idx, SteadyClock::now() + std::chrono::milliseconds(100));
          } else {
            ++counts.nothing;
          }
          continue;
        }
        ++counts.started;
        const jobs::JobExecution& e = (*started)->execution;
        const int roll = static_cast<int>(Mix((static_cast<uint64_t>(job->index) << 40) ^
                                              (static_cast<uint64_t>(idx) << 8) ^
                                              static_cast<uint64_t>(e.execution_number)) %
                                          100);
        std::string outcome;
        if (roll < job->p.fail_pct) {
          outcome = "FAILED";
        } else if (roll < job->p.fail_pct + job->p.reject_pct) {
          outcome = "REJECTED";
        } else if (roll < job->p.fail_pct + job->p.reject_pct + job->p.hang_pct) {
          ++counts.hung;  // never answers again: its timers fire (when the job has any)
          continue;
        } else {
          outcome = "SUCCEEDED";
        }
        service::UpdateRequest u;
        u.status = outcome;
        const auto t1 = SteadyClock::now();
        auto r = devices.Update(kRegion, thing, e.job_id, u);
        local_ms.push_back(
            std::chrono::duration<double, std::milli>(SteadyClock::now() - t1).count());
        if (!r.status.ok()) {
          // The execution may have timed out or been canceled meanwhile: a device sees that too.
          ++counts.errors;
          continue;
        }
        if (outcome == "FAILED") {
          ++counts.failed;
          if (job->p.configs.retry_config) {  // the store queued a retry if the budget allows
            std::lock_guard lock(job->mu);
            job->again.emplace_back(idx, SteadyClock::now());
          }
        } else if (outcome == "REJECTED") {
          ++counts.rejected;
        } else {
          ++counts.succeeded;
        }
      }
      std::lock_guard lock(op_mu);
      op_ms.v.insert(op_ms.v.end(), local_ms.begin(), local_ms.end());
    });
  }

  // Progress once in a while, then stop everything.
  const auto run_until = run_began + std::chrono::duration_cast<SteadyClock::duration>(
                                         std::chrono::duration<double>(o.run_seconds));
  while (SteadyClock::now() < run_until) {
    std::this_thread::sleep_for(std::chrono::seconds(10));
    int64_t notified = 0;
    for (auto& s : js) notified += s->notified;
    std::fprintf(stderr,
                 "rules_tick_bench: +%3.0f s (service +%.0f min): %" PRId64
                 " executions created, %" PRId64 " started by devices, %zu ticks\n",
                 std::chrono::duration<double>(SteadyClock::now() - run_began).count(),
                 std::chrono::duration<double>(clock.Now() - service_began).count() / 60, notified,
                 counts.started.load(), ticks.size());
  }
  stop = true;
  for (auto& t : workers) t.join();
  poller.join();
  scheduler.Stop();
  const Instant service_end = clock.Now();
  const int64_t end_ms = ToEpochMillis(service_end);
  const double run_s = std::chrono::duration<double>(SteadyClock::now() - run_began).count();

  // --- analysis ------------------------------------------------------------------------------
  std::map<int64_t, double> tick_cost_ms;  // tick `now` (ms) -> wall-clock cost (ms)
  Dist tick_ms;
  int64_t failed_ticks = 0;
  for (const auto& t : ticks) {
    const double ms = std::chrono::duration<double, std::milli>(t.cost).count();
    tick_ms.Add(ms);
    double& c = tick_cost_ms[ToEpochMillis(t.now)];
    c = std::max(c, ms);
    if (!t.ok) ++failed_ticks;
  }
  // The service instant an action stamped `at_ms` was applied by: the end of its tick.
  auto applied = [&](int64_t at_ms) {
    auto it = tick_cost_ms.find(at_ms);
    return static_cast<double>(at_ms) + (it == tick_cost_ms.end() ? 0.0 : it->second * o.scale);
  };
  std::map<std::string, Dist> lag;                              // kind -> lag in service ms
  std::map<std::string, std::pair<double, std::string>> worst;  // kind -> (lag, what)
  std::string subject;  // what the samples being taken are about (for `worst`)
  std::map<std::string, int64_t> outstanding;
  int64_t violations = 0;
  std::vector<std::string> violation_notes;
  auto violation = [&](const std::string& what) {
    if (violation_notes.size() < 10) violation_notes.push_back(what);
    ++violations;
  };
  auto sample = [&](const std::string& kind, double due, double at, bool late_only = false) {
    const double l = at - due;
    if (l < 0 && !late_only) {
      violation(kind + " applied " + std::to_string(-l) + " ms before it was due");
    }
    lag[kind].Add(std::max(0.0, l));
    if (l > worst[kind].first) {
      worst[kind] = {
          l, subject + " due at +" +
                 std::to_string((static_cast<int64_t>(due) - ToEpochMillis(service_began)) / 1000) +
                 " s"};
    }
  };
  auto pending = [&](const std::string& kind, double due) {
    if (due < end_ms) {
      lag[kind].Add(end_ms - due);
      ++outstanding[kind];
      if (end_ms - due > worst[kind].first)
        worst[kind] = {end_ms - due, subject + ", undone at the end"};
    }
  };

  struct Change {
    int64_t at;
    std::string from, to, reason;
  };
  std::map<int64_t, std::vector<Change>> changes;
  raw.Query("SELECT job, old, new, at_ms, reason FROM bench_status_log ORDER BY rowid", {},
            [&](sqlite3_stmt* s) {
              changes[sqlite3_column_int64(s, 0)].push_back(
                  {sqlite3_column_int64(s, 3), Text(s, 1), Text(s, 2), Text(s, 4)});
            });
  std::map<int64_t, int64_t> created_ms;
  raw.Query("SELECT id, created_at_ms FROM jobs", {}, [&](sqlite3_stmt* s) {
    created_ms[sqlite3_column_int64(s, 0)] = sqlite3_column_int64(s, 1);
  });

  // Timeouts.
  int64_t timeouts = 0;
  subject = "an execution";
  raw.Query("SELECT due_ms, at_ms FROM bench_timeouts", {}, [&](sqlite3_stmt* s) {
    sample("timeout", static_cast<double>(sqlite3_column_int64(s, 0)),
           applied(sqlite3_column_int64(s, 1)));
    ++timeouts;
  });
  raw.Query(
      "SELECT timeout_at_ms FROM job_executions WHERE timeout_at_ms IS NOT NULL "
      "AND timeout_at_ms < ?1 AND status = 1",
      {end_ms}, [&](sqlite3_stmt* s) { pending("timeout", sqlite3_column_int64(s, 0)); });

  // Background cancellation after an abort or endTime: due when the job was canceled, applied
  // when the last of its QUEUED (with FORCE_CANCEL also IN_PROGRESS) executions was.
  std::map<int64_t, int64_t> last_canceled, work;
  raw.Query("SELECT job, max(updated_at_ms) FROM job_executions WHERE status = 7 GROUP BY job", {},
            [&](sqlite3_stmt* s) {
              last_canceled[sqlite3_column_int64(s, 0)] = sqlite3_column_int64(s, 1);
            });
  raw.Query("SELECT id, work FROM jobs", {}, [&](sqlite3_stmt* s) {
    work[sqlite3_column_int64(s, 0)] = sqlite3_column_int64(s, 1);
  });
  int64_t aborted = 0, ended = 0;
  for (auto& s : js) {
    subject = s->p.id + " (" + s->p.label + ")";
    for (const Change& c : changes[s->internal]) {
      if (c.to != jobs::kJobCanceled) continue;
      const bool abort = c.reason != "SCHEDULED_END";
      (abort ? aborted : ended) += 1;
      const std::string kind = abort ? "abort" : "end cancel";
      if (work[s->internal] & 6) {
        pending(kind, c.at);
      } else if (last_canceled.count(s->internal)) {
        sample(kind, c.at, applied(last_canceled[s->internal]));
      }
      break;
    }
  }

  // Schedules and windows: what jobs::DecideSchedule says should change, and when, against the
  // changes the store logged.
  for (auto& s : js) {
    subject = s->p.id + " (" + s->p.label + ")";
    if (!s->p.scheduled && !s->p.window) continue;
    auto job = store->GetJob(kRegion, s->p.id);
    if (!job.ok() || !job->scheduling_config) {
      violation(s->p.id + ": no schedule stored");
      continue;
    }
    auto schedule = jobs::ParseSchedule(*job->scheduling_config);
    if (!schedule.ok()) {
      violation(s->p.id + ": " + schedule.status().message());
      continue;
    }
    const auto& log = changes[s->internal];
    // Changes after the job ended by itself (COMPLETED, or an abort) are not expected.
    int64_t ended_at = INT64_MAX;
    for (const Change& c : log) {
      if (c.to == jobs::kJobCompleted ||
          (c.to == jobs::kJobCanceled && c.reason != "SCHEDULED_END")) {
        ended_at = std::min(ended_at, c.at);
      }
    }
    Instant t = FromEpochMillis(created_ms[s->internal]);
    jobs::ScheduleDecision d = jobs::DecideSchedule(*schedule, t);
    std::string state =
        d.status == jobs::ScheduledStatus::kScheduled ? jobs::kJobScheduled : jobs::kJobInProgress;
    size_t cursor = 0;
    while (d.next_change && ToEpochMillis(*d.next_change) < std::min(end_ms, ended_at)) {
      t = *d.next_change;
      d = jobs::DecideSchedule(*schedule, t);
      std::string to, kind;
      if (d.end_action && *d.end_action != jobs::EndBehavior::kStopRollout) {
        to = jobs::kJobCanceled;
        kind = "end";
      } else {
        to = d.status == jobs::ScheduledStatus::kScheduled ? jobs::kJobScheduled
                                                           : jobs::kJobInProgress;
        if (to == state) continue;
        kind = to == jobs::kJobScheduled                    ? "window close"
               : (schedule->start && t == *schedule->start) ? "start"
                                                            : "window open";
      }
      while (cursor < log.size() && log[cursor].to != to) ++cursor;
      if (cursor < log.size()) {
        sample(kind, ToEpochMillis(t), applied(log[cursor].at));
        ++cursor;
      } else {
        pending(kind, ToEpochMillis(t));
      }
      state = to;
      if (to == jobs::kJobCanceled) break;
    }
  }

  // Rollout releases, replayed through jobs/rollout.h.
  std::map<int64_t, std::vector<jobs::RolloutBatch>> releases;
  raw.Query(
      "SELECT job, at_ms, sum(count) FROM bench_releases GROUP BY job, at_ms ORDER BY job, at_ms",
      {}, [&](sqlite3_stmt* s) {
        releases[sqlite3_column_int64(s, 0)].push_back(
            {FromEpochMillis(sqlite3_column_int64(s, 1)), sqlite3_column_int64(s, 2)});
      });
  int64_t released = 0;
  for (auto& s : js) {
    subject = s->p.id + " (" + s->p.label + ")";
    std::optional<jobs::Schedule> schedule;
    if (s->p.scheduled || s->p.window) {
      auto job = store->GetJob(kRegion, s->p.id);
      if (job.ok() && job->scheduling_config) {
        auto parsed = jobs::ParseSchedule(*job->scheduling_config);
        if (parsed.ok()) schedule = *parsed;
      }
    }
    int64_t canceled_at = INT64_MAX;
    for (const Change& c : changes[s->internal]) {
      if (c.to == jobs::kJobCanceled) canceled_at = std::min(canceled_at, c.at);
    }
    // The first instant from `t` on at which the job may roll out (nullopt: never again).
    auto eligible_from = [&](Instant t) -> std::optional<Instant> {
      t = std::max(t, FromEpochMillis(created_ms[s->internal]));
      for (int guard = 0; guard < 100'000; ++guard) {
        if (ToEpochMillis(t) >= canceled_at) return std::nullopt;
        if (!schedule) return t;
        const jobs::ScheduleDecision d = jobs::DecideSchedule(*schedule, t);
        if (d.may_roll_out) return t;
        if (!d.next_change) return std::nullopt;
        t = *d.next_change;
      }
      return std::nullopt;
    };
    // The end of the stretch of time, from `t` (at which the job may roll out), during which it
    // may: a window closing, endTime, or the job being canceled.
    auto eligible_until = [&](Instant t) -> int64_t {
      for (int guard = 0; schedule && guard < 100'000; ++guard) {
        if (ToEpochMillis(t) >= canceled_at) break;
        const jobs::ScheduleDecision d = jobs::DecideSchedule(*schedule, t);
        if (!d.may_roll_out) return ToEpochMillis(t);
        if (!d.next_change) break;
        t = *d.next_change;
      }
      return canceled_at;
    };
    // A release due at `due` and not made by `by`: if the rules stopped allowing it in between (a
    // window closed), it was late by the time until then, and is due again when the job may
    // next roll out. Returns that instant (nullopt: never).
    auto carry = [&](std::optional<Instant> due, int64_t by) {
      while (due) {
        const int64_t until = eligible_until(*due);
        if (by <= until) break;
        sample("rollout release", ToEpochMillis(*due), until);
        due = eligible_from(FromEpochMillis(until));
      }
      return due;
    };
    const auto cap = static_cast<int32_t>(std::min<int64_t>(o.server_cap, INT32_MAX));
    const auto& b = releases[s->internal];
    std::vector<jobs::RolloutBatch> history;
    int64_t notified = 0;
    std::optional<Instant> due = eligible_from(FromEpochMillis(created_ms[s->internal]));
    for (size_t i = 0; i < b.size(); ++i) {
      const int32_t rate =
          jobs::RolloutRatePerMinute(s->p.configs.rollout_config, notified, 0, cap);
      due = carry(due, ToEpochMillis(b[i].at));
      if (!due) break;  // released just as it was canceled (see below): nothing was due
      const auto allowed = jobs::RolloutAllowanceOfBatches(rate, history, b[i].at);
      // (Creation and cancel instants are stamped before their commit, so only the schedule is
      // checked here; the store re-checks the job's state in the transaction that releases.)
      const bool in_schedule = !schedule || jobs::DecideSchedule(*schedule, b[i].at).may_roll_out;
      if (b[i].count > allowed || !in_schedule) {
        violation(s->p.id + ": released " + std::to_string(b[i].count) + " at +" +
                  std::to_string(ToEpochMillis(b[i].at) - ToEpochMillis(service_began)) +
                  " ms where the rules allowed " + std::to_string(allowed));
      }
      sample("rollout release", ToEpochMillis(*due), applied(ToEpochMillis(b[i].at)), true);
      history.push_back(b[i]);
      notified += b[i].count;
      released += b[i].count;
      const int32_t next_rate =
          jobs::RolloutRatePerMinute(s->p.configs.rollout_config, notified, 0, cap);
      due = eligible_from(jobs::RolloutDueAtOfBatches(next_rate, history, b[i].at));
    }
    const bool finished = notified >= per_job || (work[s->internal] & 1) == 0;
    if (!finished) due = carry(due, end_ms);
    if (!finished && due) pending("rollout release", ToEpochMillis(*due));
  }

  // --- report --------------------------------------------------------------------------------
  int64_t executions = raw.Int("SELECT count(*) FROM job_executions");
  std::map<int, int64_t> by_status;
  raw.Query(
      "SELECT status, count(*) FROM job_executions GROUP BY status", {},
      [&](sqlite3_stmt* s) { by_status[sqlite3_column_int(s, 0)] = sqlite3_column_int64(s, 1); });
  const int64_t retries = raw.Int("SELECT count(*) FROM job_executions WHERE number > 1");
  Dist all;
  for (auto& [kind, d] : lag) all.v.insert(all.v.end(), d.v.begin(), d.v.end());
  const double real = 1.0 / o.scale;
  const double goal_ms = 100;
  // Met when every kind of action is applied within the goal at the 99th percentile.
  bool goal = violations == 0 && failed_ticks == 0;
  for (auto& [kind, d] : lag) goal = goal && d.Pct(99) * real < goal_ms;
  int64_t outstanding_total = 0;
  for (auto& [k, n] : outstanding) outstanding_total += n;
  const double db_mib = static_cast<double>(std::filesystem::file_size(path)) / (1 << 20);

  std::fprintf(stderr, "\nrules_tick_bench: %d jobs, %" PRId64 " things, time scale %.0f, %.0f s\n",
               o.jobs, per_job * o.jobs, o.scale, run_s);
  std::fprintf(stderr, "  ticks         %zu (%.1f/s), failed %" PRId64 "\n", ticks.size(),
               ticks.size() / run_s, failed_ticks);
  std::fprintf(stderr, "  tick cost ms  p50 %.2f  p99 %.2f  max %.2f\n", tick_ms.Pct(50),
               tick_ms.Pct(99), tick_ms.Max());
  std::fprintf(stderr, "  lag (real ms = service ms / %.0f; service ms in brackets), %zu actions\n",
               o.scale, all.v.size());
  for (auto& [kind, d] : lag) {
    std::fprintf(stderr,
                 "    %-16s n=%-8zu p50 %7.2f  p99 %7.2f  max %7.2f  [%.0f / %.0f / %.0f]%s\n",
                 kind.c_str(), d.v.size(), d.Pct(50) * real, d.Pct(99) * real, d.Max() * real,
                 d.Pct(50), d.Pct(99), d.Max(),
                 outstanding[kind]
                     ? (" (" + std::to_string(outstanding[kind]) + " undone at the end)").c_str()
                     : "");
  }
  std::fprintf(
      stderr,
      "    %-16s n=%-8zu p50 %7.2f  p99 %7.2f  max %7.2f   goal: p99 of each < %.0f ms %s\n", "all",
      all.v.size(), all.Pct(50) * real, all.Pct(99) * real, all.Max() * real, goal_ms,
      goal ? "✅" : "❌");
  std::fprintf(
      stderr,
      "  executions    %" PRId64 " in the store (%" PRId64 " released by rollouts, %" PRId64
      " retries); devices started %" PRId64 ", succeeded %" PRId64 ", failed %" PRId64
      ", rejected %" PRId64 ", hung %" PRId64 "; %" PRId64 " timed out; jobs aborted %" PRId64
      ", canceled at endTime %" PRId64 "\n",
      executions, released, retries, counts.started.load(), counts.succeeded.load(),
      counts.failed.load(), counts.rejected.load(), counts.hung.load(), timeouts, aborted, ended);
  std::fprintf(stderr, "  device calls  p50 %.2f ms  p99 %.2f ms; errors %" PRId64 "\n",
               op_ms.Pct(50), op_ms.Pct(99), counts.errors.load());
  for (auto& [kind, w] : worst) {
    std::fprintf(stderr, "  worst %-16s %.1f ms (service %.0f ms): %s\n", kind.c_str(),
                 w.first * real, w.first, w.second.c_str());
  }
  std::fprintf(stderr, "  violations    %" PRId64 "\n", violations);
  for (const auto& v : violation_notes) std::fprintf(stderr, "    %s\n", v.c_str());

  if (o.json) {
    std::printf("{\"jobs\":%d,\"things\":%" PRId64 ",\"scale\":%g,\"run_s\":%.1f,", o.jobs,
                per_job * o.jobs, o.scale, run_s);
    std::printf("\"registration_s\":%.1f,\"create_jobs_s\":%.2f,", registration_s, create_s);
    std::printf("\"device_threads\":%d,\"device_rate\":%g,\"server_cap\":%" PRId64 ",",
                o.device_threads, o.device_rate, o.server_cap);
    std::printf("\"ticks\":%zu,\"failed_ticks\":%" PRId64
                ",\"tick_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},",
                ticks.size(), failed_ticks, tick_ms.Pct(50), tick_ms.Pct(99), tick_ms.Max());
    std::printf("\"lag\":{");
    bool first = true;
    for (auto& [kind, d] : lag) {
      std::printf("%s\"%s\":{\"n\":%zu,\"outstanding\":%" PRId64
                  ",\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f,\"worst\":\"%s\"}",
                  first ? "" : ",", kind.c_str(), d.v.size(), outstanding[kind], d.Pct(50) * real,
                  d.Pct(99) * real, d.Max() * real, worst[kind].second.c_str());
      first = false;
    }
    std::printf("},\"lag_all\":{\"n\":%zu,\"outstanding\":%" PRId64
                ",\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f,\"service_p50\":%.1f,"
                "\"service_p99\":%.1f,\"service_max\":%.1f},",
                all.v.size(), outstanding_total, all.Pct(50) * real, all.Pct(99) * real,
                all.Max() * real, all.Pct(50), all.Pct(99), all.Max());
    std::printf("\"goal_ms\":%g,\"goal_met\":%s,\"violations\":%" PRId64 ",", goal_ms,
                goal ? "true" : "false", violations);
    std::printf("\"executions\":%" PRId64 ",\"released\":%" PRId64 ",\"retries\":%" PRId64
                ",\"timeouts\":%" PRId64 ",\"aborted_jobs\":%" PRId64 ",\"ended_jobs\":%" PRId64
                ",",
                executions, released, retries, timeouts, aborted, ended);
    std::printf("\"by_status\":{");
    first = true;
    for (auto [st, n] : by_status) {
      std::printf("%s\"%s\":%" PRId64, first ? "" : ",",
                  jobs::ToString(static_cast<jobs::ExecutionStatus>(st)), n);
      first = false;
    }
    std::printf("},\"devices\":{\"started\":%" PRId64 ",\"succeeded\":%" PRId64
                ",\"failed\":%" PRId64 ",\"rejected\":%" PRId64 ",\"hung\":%" PRId64
                ",\"nothing_pending\":%" PRId64 ",\"errors\":%" PRId64
                ",\"call_ms_p50\":%.3f,\"call_ms_p99\":%.3f},",
                counts.started.load(), counts.succeeded.load(), counts.failed.load(),
                counts.rejected.load(), counts.hung.load(), counts.nothing.load(),
                counts.errors.load(), op_ms.Pct(50), op_ms.Pct(99));
    std::printf("\"db_mib\":%.1f,\"peak_rss_mib\":%" PRId64 "}\n", db_mib, Rss());
  }
  store.reset();
  if (remove_dir) std::filesystem::remove_all(dir);
  return violations == 0 && failed_ticks == 0 ? 0 : 1;
}

}  // namespace
}  // namespace iotjobs::bench

int main(int argc, char** argv) {
  iotjobs::bench::Options o;
  CLI::App app{"rules_tick_bench: the scheduler's tick cost and lag at fleet scale",
               "rules_tick_bench"};
  app.add_option("--things", o.things, "things (and executions), split evenly over the jobs")
      ->capture_default_str();
  app.add_option("--jobs", o.jobs, "concurrent jobs")->capture_default_str();
  app.add_option("--scale", o.scale, "service time runs this many times faster")
      ->capture_default_str();
  app.add_option("--seconds", o.run_seconds, "wall-clock duration of the run")
      ->capture_default_str();
  app.add_option("--device-threads", o.device_threads, "threads of simulated devices")
      ->capture_default_str();
  app.add_option("--device-rate", o.device_rate,
                 "executions the devices take on per second of wall time (0: as fast as they can)")
      ->capture_default_str();
  app.add_option("--server-cap", o.server_cap, "the server's --max-rollout-per-minute")
      ->capture_default_str();
  app.add_option("--dir", o.dir, "database directory, kept (default: a temporary one)");
  app.add_flag("--json", o.json, "print the figures as one JSON object on stdout");
  CLI11_PARSE(app, argc, argv);
  if (o.jobs < 1 || o.things < o.jobs || o.scale <= 0 || o.device_threads < 1) {
    std::fprintf(stderr, "rules_tick_bench: bad arguments (see --help)\n");
    return 2;
  }
  return iotjobs::bench::Run(o);
}
