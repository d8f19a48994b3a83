// memory_store_bench: what the in-memory store costs at the what-if simulator's scale. Google
// Benchmark over store::MemoryStore through store::Txn with 1,000,000 executions (1,000 jobs of
// 1,000 things, one execution each):
//   BM_InsertExecutions  a rollout's writes: 1,000,000 InsertExecution + AddCounters, 1,000 per
//                        transaction (a release batch); items = executions inserted
//   BM_UpdateExecution   a device's update at 1,000,000 rows: one transaction that reads the
//                        latest execution, rewrites it (status, version, timer) and adjusts the
//                        job's counters; items = executions updated
//                        (rss_MiB: the process's resident set with the million rows)
//   BM_ThingQueue        a device's pending list read (View + ThingQueue) at 1,000,000 rows
// Run: build/bench/memory_store_bench (items_per_second is the figure).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <memory>

#include "store/memory/memory_store.h"

namespace iotjobs::store {
namespace {

constexpr int64_t kJobs = 1000, kThings = 1000, kBatch = 1000;
const Instant kT0 = FromEpochMillis(1'800'000'000'000);

jobs::ExecutionRecord Queued(int64_t job, int64_t thing) {
  jobs::ExecutionRecord r;
  r.job = job;
  r.thing = thing;
  r.e.status = jobs::ExecutionStatus::kQueued;
  r.e.queued_at = kT0 + std::chrono::milliseconds(job * kThings + thing);
  r.e.last_updated_at = r.e.queued_at;
  return r;
}

// Inserts every execution (job j on things 1..kThings) in transactions of kBatch.
Status Fill(MemoryStore& store) {
  for (int64_t job = 1; job <= kJobs; ++job) {
    for (int64_t first = 1; first <= kThings; first += kBatch) {
      IOTJOBS_RETURN_IF_ERROR(store.Transact([&](Txn& txn) -> Status {
        for (int64_t thing = first; thing < first + kBatch && thing <= kThings; ++thing) {
          IOTJOBS_RETURN_IF_ERROR(txn.InsertExecution(Queued(job, thing)));
        }
        jobs::JobCounters d;
        d.queued = kBatch;
        return txn.AddCounters(job, d, kBatch);
      }));
    }
  }
  return Status::Ok();
}

// The jobs the executions belong to (AddCounters needs them).
std::unique_ptr<MemoryStore> WithJobs() {
  auto store = std::make_unique<MemoryStore>();
  for (int64_t job = 1; job <= kJobs; ++job) {
    jobs::Job j;
    j.region = "us-east-1";
    j.id = "job-" + std::to_string(job);
    j.document = "{}";
    j.created_at = kT0;
    if (!store->CreateJob(j, "arn:" + j.id, {}).ok()) return nullptr;
  }
  return store;
}

void BM_InsertExecutions(benchmark::State& state) {
  for (auto _ : state) {
    state.PauseTiming();
    auto store = WithJobs();
    state.ResumeTiming();
    if (!store || !Fill(*store).ok()) state.SkipWithError("fill failed");
    state.PauseTiming();
    store.reset();  // freeing a million rows is not the insert's cost
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kJobs * kThings);
}
BENCHMARK(BM_InsertExecutions)->Unit(benchmark::kMillisecond)->Iterations(2);

MemoryStore& Filled() {
  static std::unique_ptr<MemoryStore> store = [] {
    auto s = WithJobs();
    if (s && !Fill(*s).ok()) s.reset();
    return s;
  }();
  return *store;
}

// The process's resident set in MiB (/proc/self/statm), 0 when unknown.
double ResidentMiB() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  if (!(statm >> pages >> resident)) return 0;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1 << 20);
}

void BM_UpdateExecution(benchmark::State& state) {
  MemoryStore& store = Filled();
  // With the million rows (and 1,000 jobs) in place: the store's footprint, about.
  state.counters["rss_MiB"] = ResidentMiB();
  uint64_t x = 88172645463325252ull;  // xorshift: the row touched, spread over all of them
  int64_t n = 0;
  for (auto _ : state) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    const int64_t job = 1 + static_cast<int64_t>(x % kJobs);
    const int64_t thing = 1 + static_cast<int64_t>((x >> 20) % kThings);
    Status st = store.Transact([&](Txn& txn) -> Status {
      auto cur = txn.Execution(job, thing, std::nullopt);
      if (!cur.ok()) return cur.status();
      jobs::ExecutionRecord r = **cur;
      const bool start = r.e.status == jobs::ExecutionStatus::kQueued;
      r.e.status = start ? jobs::ExecutionStatus::kInProgress : jobs::ExecutionStatus::kQueued;
      r.e.version_number += 1;
      r.e.last_updated_at = kT0 + std::chrono::seconds(n);
      if (start) {
        r.e.timeout_at = r.e.last_updated_at + std::chrono::minutes(10);
      } else {
        r.e.timeout_at.reset();
      }
      IOTJOBS_RETURN_IF_ERROR(txn.UpdateExecution(r));
      jobs::JobCounters d;
      d.queued = start ? -1 : 1;
      d.in_progress = -d.queued;
      return txn.AddCounters(job, d, 0);
    });
    if (!st.ok()) state.SkipWithError("update failed");
    ++n;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_UpdateExecution);

void BM_ThingQueue(benchmark::State& state) {
  MemoryStore& store = Filled();
  int64_t thing = 0;
  for (auto _ : state) {
    thing = thing % kThings + 1;
    Status st = store.View([&](Txn& txn) -> Status {
      auto q = txn.ThingQueue(thing, {"SCHEDULED", "DELETION_IN_PROGRESS"}, 10);
      if (!q.ok()) return q.status();
      benchmark::DoNotOptimize(q->size());
      return Status::Ok();
    });
    if (!st.ok()) state.SkipWithError("read failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ThingQueue);

}  // namespace
}  // namespace iotjobs::store

BENCHMARK_MAIN();
