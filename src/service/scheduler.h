// Scheduler: the background half of the service. Tick(now) does the work that is due: it creates
// executions as each job's rollout rate allows (jobs::RolloutRatePerMinute, paced by the bucket
// and the rolling-minute cap of jobs/rollout.h), and cancels or purges the executions of cancelled
// and deleted jobs in batches, so no API call ever touches a million rows.
//
// Tick is idempotent and re-derives everything from the store. That includes each job's rollout
// pacing: the store records every batch of executions a rollout creates, in the transaction that
// creates them (Applier::ReleaseRollouts), and a job's last minute of batches is read back
// once when this Scheduler first meets the job, then kept in memory beside the store's copy. So a
// new Scheduler over the same store (a restarted iotjobsd) paces each job on exactly where the
// old one left it. The server-wide cap (max_rollout_per_minute) is a ceiling on each job's rate,
// paced by the same history; it keeps no state of its own.
// Start() runs Tick on a thread of its own; Poke() wakes it early (after CreateJob, CancelJob...).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "jobs/rollout.h"
#include "service/applier.h"
#include "store/store.h"

namespace iotjobs::service {

struct SchedulerConfig {
  int64_t max_rollout_per_minute = 1000;  // server-wide cap on any job's rollout rate
  int64_t batch = 20000;                  // executions created / cancelled / purged per transaction
  // Rows (executions created, timed out, cancelled or purged) a Tick writes before it yields: once
  // that many are written it starts no further batch and asks to run again at once. A row budget,
  // not a wall-clock one, so a simulated run decides the same on any machine (issue 10). 200,000
  // is what the former 200 ms budget allowed on the reference machine (BENCHMARKS.md, fleet
  // scale: 20,000 executions in 16 ms); a tick may exceed it by the batch under way.
  int64_t tick_rows = 200'000;
  Millis idle_wait{1000};   // wall-clock wait between ticks when nothing is due
  double time_scale = 1.0;  // service time runs this many times faster (--time-scale)
};

class Scheduler {
 public:
  // `applier` (not owned) runs the rules over `store`.
  Scheduler(SchedulerConfig config, store::Store* store, Applier* applier, const Clock* clock)
      : config_(config), store_(store), applier_(applier), clock_(clock) {}
  ~Scheduler() { Stop(); }

  // Does the work due at `now`. Returns when the next tick is due (nullopt: only when poked).
  Result<std::optional<Instant>> Tick(Instant now);

  // One tick that Start()'s thread ran.
  struct TickReport {
    Instant now;                    // the service instant it ran at (its decisions' timestamp)
    std::chrono::nanoseconds cost;  // wall-clock time it took
    std::optional<Instant> next;    // when it asked to run next
    bool ok = true;                 // false: it failed (and was logged)
  };
  // Called on the scheduler's thread after every tick Start() runs, for metrics and benchmarks; it
  // must return quickly. Set it before Start().
  void SetTickObserver(std::function<void(const TickReport&)> observer) {
    observer_ = std::move(observer);
  }

  void Start();
  void Stop();
  void Poke();

 private:
  struct Pacing {
    int64_t allowance;  // executions the job may create at `now`
    Instant next;       // when allowance is 0: the earliest instant it will be ≥ 1; else `now`
    Instant due;        // when allowance is 0: by when the next one is due (RolloutDueAt)
  };
  // The job's pacing at `now` under `rate` per minute, from its recent creations (read from the
  // store the first time the job is paced).
  Result<Pacing> Pace(int64_t job, int64_t rate, Instant now);

  SchedulerConfig config_;
  store::Store* store_;
  Applier* applier_;
  const Clock* clock_;
  // Per job rolling out, the last minute of its rollout batches: the store's record, cached. Only
  // Tick's thread touches it.
  std::map<int64_t, std::vector<jobs::RolloutBatch>> recent_;
  std::function<void(const TickReport&)> observer_;

  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool poked_ = false, stopping_ = false;
};

}  // namespace iotjobs::service
