#!/usr/bin/env bash
# Rules benchmark: builds Release and runs bench/rules_tick_bench, which registers 1,000,000 things
# (bulk path) in a SQLite store (WAL, synchronous=FULL) on a temporary data dir, creates 100
# concurrent jobs of 10,000 targets each with a mix of rollout, timeout, retry, abort, schedule and
# maintenance-window configurations, and runs the real service::Scheduler on a scaled clock while
# simulated devices start and finish executions through service::DeviceService. It measures the
# scheduler's tick cost and its lag behind schedule (for every rollout release, timeout, schedule
# start and end, window opening and closing, and abort, the time from when the rules made it due
# to when the scheduler applied it), and writes the figures into BENCHMARKS.md between
# <!-- rules:begin --> and <!-- rules:end -->. Goal: lag under 100 ms (p99, each kind of action).
#
# Usage: bench/run_rules.sh [--seconds N] [--scale N] [--things N] [--jobs N] [--device-rate N]
#                           [--output FILE] [--no-write] [--keep]
# Environment: BUILD_DIR (default <repo>/build-rules-bench).
# --keep leaves the temporary directory (database, log, results) in place for inspection.
# Exits non-zero, leaving BENCHMARKS.md untouched, when the run is invalid (a setup error, or a
# release or schedule change the rules did not allow).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-rules-bench}"
SECONDS_RUN=120
SCALE=40
THINGS=1000000
JOBS=100
DEVICE_RATE=1000
OUTPUT="$ROOT/BENCHMARKS.md"
WRITE=1
KEEP=0
COMMAND="bench/run_rules.sh${*:+ $*}"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) SECONDS_RUN="$2"; shift 2 ;;
    --scale) SCALE="$2"; shift 2 ;;
    --things) THINGS="$2"; shift 2 ;;
    --jobs) JOBS="$2"; shift 2 ;;
    --device-rate) DEVICE_RATE="$2"; shift 2 ;;
    --output) OUTPUT="$2"; shift 2 ;;
    --no-write) WRITE=0; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_rules.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

log() { echo "[run_rules] $*" >&2; }

# --- build -----------------------------------------------------------------------------------
log "building Release in $BUILD_DIR"
cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
# ninja reports compile errors on stdout; show them when the build fails.
if ! build_log="$(ninja -C "$BUILD_DIR" -j2 rules_tick_bench)"; then
  echo "$build_log" >&2
  exit 1
fi
BENCH="$BUILD_DIR/bench/rules_tick_bench"

# What was built (taken now: the tree may move while the benchmark runs). Only the sources the
# benchmark is built from count (its modules and itself; bench/ also holds other scripts' outputs).
COMMIT="$(git -C "$ROOT" rev-parse --short=12 HEAD)"
git -C "$ROOT" diff --quiet HEAD -- CMakeLists.txt src/common src/jobs src/codec src/s3 src/store \
  src/service bench/CMakeLists.txt bench/rules_tick_bench.cc bench/run_rules.sh ||
  COMMIT="$COMMIT (with uncommitted changes)"

# --- run -------------------------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/iotjobs-rules.XXXXXX")"
BENCH_PID=""
cleanup() {
  # Only the process this script started, by pid.
  [[ -n "$BENCH_PID" ]] && kill "$BENCH_PID" 2>/dev/null && wait "$BENCH_PID" 2>/dev/null
  if [[ $KEEP == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# CPU time (user + system, all threads) of a process, and busy time of the whole machine, in
# clock ticks: how much of the machine other work took during the run.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
busy_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))

RESULTS="$WORK/results.json"
LOADAVG_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
log "running $BENCH --things $THINGS --jobs $JOBS --scale $SCALE --seconds $SECONDS_RUN" \
  "--device-rate $DEVICE_RATE (log: $WORK/bench.log)"
busy_before="$(busy_ticks)"; t0="$(date +%s%N)"
"$BENCH" --things "$THINGS" --jobs "$JOBS" --scale "$SCALE" --seconds "$SECONDS_RUN" \
  --device-rate "$DEVICE_RATE" --dir "$WORK/data" --json >"$RESULTS" 2> >(tee "$WORK/bench.log" >&2) &
BENCH_PID=$!
bench_cpu=0
while kill -0 "$BENCH_PID" 2>/dev/null; do
  bench_cpu="$(cpu_ticks "$BENCH_PID" 2>/dev/null || echo "$bench_cpu")"
  sleep 1
done
status=0
wait "$BENCH_PID" || status=$?
BENCH_PID=""
busy_after="$(busy_ticks)"; t1="$(date +%s%N)"
LOADAVG_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"
# Other load, in cores: machine busy time minus the benchmark's own, over the wall time.
OTHER_LOAD="$(python3 -c 'import sys
busy, own, tick_us, wall_ns = map(int, sys.argv[1:])
print(round(max(0, (busy - own) * tick_us) / (wall_ns / 1000), 2))' \
  "$((busy_after - busy_before))" "$bench_cpu" "$TICK_US" "$((t1 - t0))")"
mkdir -p "$BUILD_DIR"
[[ -s "$RESULTS" ]] && cp "$RESULTS" "$BUILD_DIR/rules_results.json"
if [[ $status != 0 ]]; then
  log "the run is invalid (exit $status; see above): $OUTPUT left untouched"
  exit 1
fi
log "raw results: $BUILD_DIR/rules_results.json"
[[ $WRITE == 1 ]] || { log "--no-write: $OUTPUT left untouched"; exit 0; }

# --- BENCHMARKS.md ---------------------------------------------------------------------------
MODEL="$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)"
NPROC="$(nproc)"
KERNEL="$(uname -r)"
FSTYPE="$(df -T "$WORK" | awk 'NR==2{print $2}')"
DATE="$(date -u '+%Y-%m-%d %H:%M UTC')"
export RESULTS OUTPUT COMMAND COMMIT MODEL NPROC KERNEL FSTYPE DATE LOADAVG_BEFORE LOADAVG_AFTER \
  OTHER_LOAD
python3 - <<'PY'
import json, os, re

env = os.environ
r = json.loads(open(env["RESULTS"]).read())
goal = r["goal_ms"]
order = ["rollout release", "timeout", "start", "end", "end cancel", "window open",
         "window close", "abort"]
labels = {
    "rollout release": "rollout release (a tick's batch of one job)",
    "timeout": "timeout (in-progress or step timer)",
    "start": "schedule start (startTime)",
    "end": "schedule end (endTime: job CANCELED)",
    "end cancel": "endTime CANCEL / FORCE_CANCEL: last execution canceled",
    "window open": "maintenance window opens",
    "window close": "maintenance window closes",
    "abort": "abort: last QUEUED execution canceled",
}
kinds = [k for k in order if k in r["lag"]] + sorted(k for k in r["lag"] if k not in order)

def n(v): return f"{v:,}"
def count(*mods): return sum(1 for i in range(r["jobs"]) if i % 20 in mods)
def ms(v): return f"{v:.1f}" if v < 100 else f"{v:,.0f}"

lines = [
    "<!-- rules:begin -->",
    f"## Rules: {r['jobs']} concurrent jobs over {n(r['things'])} executions",
    "",
    "Written by `bench/run_rules.sh`; do not edit by hand, re-run the script.",
    "",
    f"- Command: `{env['COMMAND']}`",
    f"- Date: {env['DATE']}; commit `{env['COMMIT']}`",
    f"- Machine: {env['NPROC']} cores, {env['MODEL']}, Linux {env['KERNEL']}; data dir on "
    f"{env['FSTYPE']}; load average before/after {env['LOADAVG_BEFORE']} / "
    f"{env['LOADAVG_AFTER']}; other processes used {env['OTHER_LOAD']} of {env['NPROC']} cores "
    "during the run",
    f"- Store: SqliteStore (WAL, synchronous=FULL) with {n(r['things'])} things registered "
    f"through the bulk path (RegisterThings, {r['registration_s']:.1f} s) in {r['jobs']} groups; "
    f"{r['jobs']} jobs created through JobService::CreateJob ({r['create_jobs_s']:.2f} s), one "
    f"group of {n(r['things'] // r['jobs'])} each",
    f"- Run: the real service::Scheduler, started as iotjobsd starts it (server cap "
    f"{n(r['server_cap'])}/min), on a clock running {r['scale']:g}× faster than wall time for "
    f"{r['run_s']:.0f} s ({r['run_s'] * r['scale'] / 60:.0f} min of service time); "
    f"{r['device_threads']} threads of simulated devices calling service::DeviceService "
    f"(StartNext, UpdateJobExecution) at up to {r['device_rate']:g} executions/s",
    "- Jobs (rules_tick_bench.cc, MakeProfile): maximumPerMinute 500, 1000 and 5000 and "
    "exponentialRate (100 ×2.0 every 1000 notified; 50 ×1.5 every 500 up to 2000); "
    "inProgressTimeoutInMinutes 2, 5, 10 on three quarters, devices setting 1-minute step timers "
    "on a quarter; retries on FAILED (and TIMED_OUT) on two thirds; abort configs that do not trip "
    f"on two sevenths; {count(7, 17)} jobs whose devices fail 60 % with abort ALL ≥ 35 %; "
    f"{count(3, 13)} jobs with startTime +31 min and endTime 30 min later at 200/min (endBehavior "
    f"CANCEL or FORCE_CANCEL); {count(8, 18)} with maintenance windows (5 min every 10, 2 min "
    "every 4). Devices: 85 % succeed, 7 % fail, 2 % reject, 6 % never answer again",
    "",
    "Lag is the time from the instant the rules made an action due to the end of the tick that "
    "applied it, in real time (service time divided by the time scale: the scheduler's wall-clock "
    "delay, under a workload the scale makes that many times denser than a real-time fleet's). Due "
    "instants come from the rules in `jobs/` and the configuration; applied instants from the "
    "store, recorded by triggers the benchmark adds. A release is due at `RolloutDueAt` over the "
    "job's actual releases (the bucket's TAT, or the instant the rolling-minute cap frees a slot), "
    "or when the job may roll out again; actions still undone at the end count with their lag so "
    "far.",
    "",
    "| figure | value | goal |",
    "|---|--:|---|",
    f"| tick cost (wall ms), p50 / p99 / max over {n(r['ticks'])} ticks | "
    f"{r['tick_ms']['p50']:.2f} / {r['tick_ms']['p99']:.2f} / {r['tick_ms']['max']:.1f} | – |",
]
for k in kinds:
    d = r["lag"][k]
    ok = d["p99"] < goal
    extra = f"; {n(d['outstanding'])} undone at the end" if d["outstanding"] else ""
    lines.append(
        f"| lag: {labels.get(k, k)}, p50 / p99 / max ms ({n(d['n'])} actions{extra}) | "
        f"{ms(d['p50'])} / {ms(d['p99'])} / {ms(d['max'])} | "
        f"{'✅' if ok else '❌'} p99 < {goal:g} ms |")
a = r["lag_all"]
lines += [
    f"| lag: all {n(a['n'])} actions, p50 / p99 / max ms | {ms(a['p50'])} / {ms(a['p99'])} / "
    f"{ms(a['max'])} | {'✅' if r['goal_met'] else '❌'} every kind's p99 < {goal:g} ms |",
    f"| releases or schedule changes the rules did not allow | {r['violations']} | "
    f"{'✅' if r['violations'] == 0 else '❌'} 0 |",
]
dev = r["devices"]
st = r["by_status"]
lines += [
    f"| executions in the store at the end | {n(r['executions'])} ({n(r['released'])} released "
    f"by rollouts, {n(r['retries'])} retries) | – |",
    f"| executions processed by devices | {n(dev['started'])} started: {n(dev['succeeded'])} "
    f"succeeded, {n(dev['failed'])} failed, {n(dev['rejected'])} rejected, {n(dev['hung'])} hung; "
    f"{n(r['timeouts'])} timed out | – |",
    f"| jobs aborted / canceled at endTime | {r['aborted_jobs']} / {r['ended_jobs']} | – |",
    f"| device calls (StartNext, UpdateJobExecution), p50 / p99 ms | {dev['call_ms_p50']:.2f} / "
    f"{dev['call_ms_p99']:.2f} | – |",
    "",
    "Executions by status at the end: " + ", ".join(f"{k} {n(v)}" for k, v in st.items()) +
    f". Database file {r['db_mib']:,.0f} MiB; peak RSS {r['peak_rss_mib']} MiB. Worst action per "
    "kind: " + "; ".join(f"{k} {ms(r['lag'][k]['max'])} ms ({r['lag'][k]['worst']})"
                          for k in kinds) + ".",
    "<!-- rules:end -->",
]
section = "\n".join(lines) + "\n"
path = env["OUTPUT"]
text = open(path).read() if os.path.exists(path) else (
    "# Benchmarks\n\nFigures are written by the scripts in `bench/`; each owns the section "
    "between its markers.\n\n")
pattern = re.compile(r"<!-- rules:begin -->.*?<!-- rules:end -->\n?", re.S)
text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
print(section)
PY
log "wrote $OUTPUT"
