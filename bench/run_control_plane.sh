#!/usr/bin/env bash
# Control-plane benchmark: builds Release, starts iotjobsd (SQLite, synchronous=FULL) and moto's
# server on this machine, runs bench/control_plane_bench for describe, list and create against
# each with the same requests, connections and duration, and writes the figures into
# BENCHMARKS.md between <!-- control-plane:begin --> and <!-- control-plane:end -->.
#
# Usage: bench/run_control_plane.sh [--seconds N] [--warmup N] [--connections N]
#                                    [--client-threads N] [--ops "describe list create"]
#                                    [--nice N] [--output FILE] [--no-write] [--keep]
# --nice N runs both servers and the client at nice level N (a negative N needs root): on a machine
# shared with other work it gives the measured processes the cores first, the same for both servers.
# Environment: BUILD_DIR (default <repo>/build-bench), IOTJOBSD_ARGS (extra iotjobsd flags),
# IOTJOBSD (a prebuilt binary to measure instead of building one; for A/B comparisons).
# --keep leaves the temporary directory (database, logs) in place for inspection.
# Exits non-zero, leaving BENCHMARKS.md untouched, when any run reports an error.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_init run_control_plane "$@"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-bench}"
SECONDS_MEASURED=10
WARMUP=2
CONNECTIONS=64
CLIENT_THREADS=1
OPS="describe list create"  # list before create: moto's list cost grows with the template count
NICE=()

while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) SECONDS_MEASURED="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --client-threads) CLIENT_THREADS="$2"; shift 2 ;;
    --ops) OPS="$2"; shift 2 ;;
    --nice) NICE=(nice -n "$2"); shift 2 ;;
    *) bench_common_arg "$@"; shift "$BENCH_SHIFT" ;;
  esac
done

# --- build -----------------------------------------------------------------------------------
bench_build_iotjobsd control_plane_bench
BENCH="$BUILD_DIR/bench/control_plane_bench"

# --- servers ---------------------------------------------------------------------------------
bench_workdir iotjobs-bench
bench_credentials AKIDBENCH
# Extra flags are split on spaces on purpose.
# shellcheck disable=SC2206
EXTRA_ARGS=(${IOTJOBSD_ARGS:-})
bench_start_iotjobsd "${NICE[@]}" "$IOTJOBSD" --data-dir "$WORK/data" \
  --credentials "$WORK/credentials" --control-listen 127.0.0.1:0 --jobs-listen 127.0.0.1:0 \
  --log-level warn "${EXTRA_ARGS[@]}"
bench_start_moto "${NICE[@]}"

"$BENCH" --endpoint "$IOTJOBSD_URL" --target iotjobsd --check >&2
"$BENCH" --endpoint "$MOTO_URL" --target moto --check >&2

# --- runs ------------------------------------------------------------------------------------
LOADAVG_BEFORE="$(bench_loadavg)"
RESULTS="$WORK/results.jsonl"
: >"$RESULTS"
status=0
# CPU time (user + system, all threads) a process has used, in clock ticks. Throughput on a shared
# machine depends on what else runs; CPU per request does much less, so the table reports both.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Busy ticks of the whole machine (user nice system irq softirq steal), to tell how much CPU other
# processes took during a run: the figures are only as clean as that share is small.
busy_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))
for op in $OPS; do
  for target in iotjobsd moto; do
    url="$IOTJOBSD_URL"; pid="$IOTJOBSD_PID"
    [[ $target == moto ]] && url="$MOTO_URL" && pid="$MOTO_PID"
    log "$op against $target: $CONNECTIONS connections, ${WARMUP}s warm-up, ${SECONDS_MEASURED}s measured"
    before="$(cpu_ticks "$pid")"; busy_before="$(busy_ticks)"; t0="$(date +%s%N)"
    if ! line="$("${NICE[@]}" "$BENCH" --endpoint "$url" --target "$target" --op "$op" \
        --connections "$CONNECTIONS" --threads "$CLIENT_THREADS" --seconds "$SECONDS_MEASURED" \
        --warmup "$WARMUP" --json)"; then
      status=1
    fi
    after="$(cpu_ticks "$pid")"; busy_after="$(busy_ticks)"; t1="$(date +%s%N)"
    [[ -n "$line" ]] || continue
    # Server CPU per request: the whole run (warm-up included) over every answered request.
    # Other load: machine busy time minus server and client, in cores.
    python3 -c 'import json,sys
r = json.loads(sys.argv[1]); n = r.get("requests_total") or 0
server_us = int(sys.argv[2]) * int(sys.argv[3]); busy_us = int(sys.argv[4]) * int(sys.argv[3])
client_us = r.get("client_cpu_us_per_req", 0) * n; wall_us = int(sys.argv[5]) / 1000
r["server_cpu_us_per_req"] = round(server_us / n, 1) if n else None
r["other_load_cores"] = round(max(0.0, busy_us - server_us - client_us) / wall_us, 2)
print(json.dumps(r))' "$line" "$((after - before))" "$TICK_US" "$((busy_after - busy_before))" \
      "$((t1 - t0))" | tee -a "$RESULTS" >&2
  done
done
LOADAVG_AFTER="$(bench_loadavg)"
if [[ $status != 0 ]]; then
  log "a run reported errors (see above): its figures are invalid; $OUTPUT left untouched"
  cp "$RESULTS" "$BUILD_DIR/control_plane_results.jsonl"
  exit 1
fi
bench_save_results "$RESULTS" control_plane_results.jsonl

# --- BENCHMARKS.md ---------------------------------------------------------------------------
bench_machine
export RESULTS OUTPUT COMMIT COMMAND LOADAVG_BEFORE LOADAVG_AFTER CONNECTIONS CLIENT_THREADS \
  SECONDS_MEASURED WARMUP BENCH_ROOT
WERKZEUG_VERSION="$(python3 -c 'import importlib.metadata as m;print(m.version("werkzeug"))')"
export WERKZEUG_VERSION
export IOTJOBSD_FLAGS="--io-threads/--worker-threads default${IOTJOBSD_ARGS:+, $IOTJOBSD_ARGS}"
python3 - <<'PY'
import json, os, sys

env = os.environ
sys.path.insert(0, os.path.join(env["BENCH_ROOT"], "bench"))
from bench_md import goal_mark, write_section
rows = [json.loads(l) for l in open(env["RESULTS"]) if l.strip()]
by = {(r["target"], r["op"]): r for r in rows}
ops = [op for op in ("describe", "create", "list") if ("iotjobsd", op) in by]
goals = {"describe": 20000, "create": 5000}
labels = {
    "describe": "DescribeJobTemplate (GET /job-templates/{id})",
    "create": "CreateJobTemplate (PUT, durable)",
    "list": "ListJobTemplates (maxResults=25)",
}

def rps(r): return f"{r['rps']:,.0f}"
def ms(us): return f"{us / 1000:.2f}"
def cpu(r):
    v = r.get("server_cpu_us_per_req")
    return "–" if v is None else f"{v:,.0f}"

lines = [
    "<!-- control-plane:begin -->",
    "## Control plane: job templates",
    "",
    "Written by `bench/run_control_plane.sh`; do not edit by hand, re-run the script.",
    "",
    f"- Command: `{env['COMMAND']}`",
    f"- Date: {env['DATE']}; commit `{env['COMMIT']}`",
    f"- Machine: {env['NPROC']} cores, {env['MODEL']}, Linux {env['KERNEL']}; "
    f"data dir on {env['FSTYPE']}",
    f"- Load: {env['CONNECTIONS']} concurrent keep-alive connections, closed loop, "
    f"{env['CLIENT_THREADS']} client thread(s) on the same machine, {env['WARMUP']} s warm-up then "
    f"{env['SECONDS_MEASURED']} s measured per row; every request SigV4-signed (service iot)",
    f"- iotjobsd: SQLite WAL, synchronous=FULL, a create is acknowledged only after its group "
    f"commit; {env['IOTJOBSD_FLAGS']}",
    f"- moto {env['MOTO_VERSION']} (`python3 -m moto.server`, Werkzeug {env['WERKZEUG_VERSION']}, "
    f"in memory, not durable)",
    f"- Load average (1, 5, 15 min) before/after the runs: {env['LOADAVG_BEFORE']} / "
    f"{env['LOADAVG_AFTER']}",
    "",
    "| operation | iotjobsd req/s | p50 ms | p99 ms | CPU µs/req | moto req/s | p50 ms | p99 ms | "
    "CPU µs/req | iotjobsd / moto | goal | other load |",
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|",
]
for op in ops:
    i, m = by[("iotjobsd", op)], by.get(("moto", op))
    goal = goals.get(op)
    if goal is None:
        g = "–"
    else:
        g = goal_mark(i["rps"], "≥", goal, f"{rps(i)}/s", f"{goal:,}/s")
        if env["NPROC"] != "2":
            g += f" (goal is for 2 cores; this machine has {env['NPROC']})"
    mcols = [rps(m), ms(m["p50_us"]), ms(m["p99_us"]), cpu(m)] if m else ["–"] * 4
    ratio = f"{i['rps'] / m['rps']:,.0f}×" if m and m["rps"] > 0 else "–"
    lines.append(
        f"| {labels[op]} | {rps(i)} | {ms(i['p50_us'])} | {ms(i['p99_us'])} | {cpu(i)} | "
        + " | ".join(mcols) + f" | {ratio} | {g} | {i.get('other_load_cores', 0):.2f} |")
client = [r["client_cpu_us_per_req"] for r in rows
          if r["target"] == "iotjobsd" and r.get("client_cpu_us_per_req")]
other = [r.get("other_load_cores", 0) for r in rows]
lines += [
    "",
    "CPU µs/req: the server process's user + system CPU time over the run divided by the requests "
    "it answered; it moves much less with other load on the machine than req/s does."
    + (f" Against iotjobsd the client itself used {min(client):,.0f}–{max(client):,.0f} µs of CPU "
       "per request." if client else ""),
    "",
    f"Other load: cores that other processes used during the iotjobsd run of that row (machine busy "
    f"time minus server and client); {min(other):.2f}–{max(other):.2f} of {env['NPROC']} over all "
    "runs.",
]
if max(other) > 0.2:
    lines += [
        "",
        "**Noisy run:** other work competed for the cores, so req/s, latencies and the goal column "
        "understate what an otherwise idle machine gives; CPU µs/req is the steadier figure.",
    ]
moto_reconnects = sum(r["reconnects"] for r in rows if r["target"] == "moto")
if moto_reconnects:
    lines += [
        "",
        f"moto's development server answers `Connection: close`, so the bench reconnected "
        f"{moto_reconnects:,} times against it; those moto latencies include the new connection.",
    ]
lines.append("<!-- control-plane:end -->")
section = "\n".join(lines) + "\n"

write_section(env["OUTPUT"], "control-plane", section)
print(section)
PY
log "wrote $OUTPUT"
