#!/usr/bin/env bash
# Fleet-scale benchmark: builds Release, starts moto's S3 server and iotjobsd (SQLite,
# synchronous=FULL, --max-rollout-per-minute raised) on a temporary data dir, and runs
# bench/fleet_scale.py: registers N things (default 1,000,000) in one group through
# StartThingRegistrationTask, creates a job on the group, waits until every execution is QUEUED,
# and measures registration time, materialisation rate, peak RSS, database bytes per execution and
# DescribeJob / ListJobExecutionsForThing latency at that size; then restart-to-ready with all
# executions in the database, after SIGTERM and after kill -9 under write load (crash recovery).
# Writes the figures into BENCHMARKS.md between <!-- fleet-scale:begin --> and
# <!-- fleet-scale:end -->.
#
# Usage: bench/run_fleet_scale.sh [--things N] [--samples N] [--poll-ms N] [--output FILE]
#                                 [--no-write] [--keep]
# Environment: BUILD_DIR (default <repo>/build-scale), IOTJOBSD_ARGS (extra iotjobsd flags),
# IOTJOBSD (a prebuilt binary to measure instead of building one; for A/B comparisons).
# --keep leaves the temporary directory (database, logs, results) in place for inspection.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_init run_fleet_scale "$@"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-scale}"
THINGS=1000000
SAMPLES=2000
POLL_MS=50
MAX_PER_MINUTE=100000000

while [[ $# -gt 0 ]]; do
  case "$1" in
    --things) THINGS="$2"; shift 2 ;;
    --samples) SAMPLES="$2"; shift 2 ;;
    --poll-ms) POLL_MS="$2"; shift 2 ;;
    *) bench_common_arg "$@"; shift "$BENCH_SHIFT" ;;
  esac
done

# --- build -----------------------------------------------------------------------------------
bench_build_iotjobsd

# --- servers ---------------------------------------------------------------------------------
bench_workdir iotjobs-fleet
bench_start_moto
bench_credentials AKIDFLEET
# Extra flags are split on spaces on purpose.
# shellcheck disable=SC2206
EXTRA_ARGS=(${IOTJOBSD_ARGS:-})
IOTJOBSD_FLAGS=(--max-rollout-per-minute "$MAX_PER_MINUTE" --s3-endpoint "$MOTO_URL"
  --s3-timeout-ms 120000 --log-level info "${EXTRA_ARGS[@]}")
# The listeners are added per start: the restarts below pick their own control port.
IOTJOBSD_BASE=("$IOTJOBSD" --data-dir "$WORK/data" --credentials "$WORK/credentials"
  "${IOTJOBSD_FLAGS[@]}")
bench_start_iotjobsd "${IOTJOBSD_BASE[@]}" --control-listen 127.0.0.1:0 --jobs-listen 127.0.0.1:0

# --- run -------------------------------------------------------------------------------------
LOADAVG_BEFORE="$(bench_loadavg)"
RESULTS="$WORK/results.json"
if ! python3 "$ROOT/bench/fleet_scale.py" run --endpoint "$IOTJOBSD_URL" --s3-endpoint "$MOTO_URL" \
    --db "$WORK/data/iotjobs.db" --pid "$IOTJOBSD_PID" --things "$THINGS" --samples "$SAMPLES" \
    --poll-ms "$POLL_MS" --max-per-minute "$MAX_PER_MINUTE" >"$RESULTS"; then
  log "the run failed; iotjobsd's log ends with:"
  tail -20 "$WORK/iotjobsd.err" >&2
  exit 1
fi

# --- restart-to-ready ------------------------------------------------------------------------
# Stop the loaded service cleanly, then fleet_scale.py starts it again on the same data dir
# (timing exec → ready line → first DescribeJob), crashes it with kill -9 under write load and
# starts it once more; it stops its own last process.
log "stopping iotjobsd (SIGTERM) with $THINGS executions QUEUED"
bench_stop_iotjobsd
log "iotjobsd stopped ${BENCH_STOP_MS} ms after SIGTERM"
if ! python3 "$ROOT/bench/fleet_scale.py" restart --results "$RESULTS" --db "$WORK/data/iotjobs.db" \
    --stop-ms "$BENCH_STOP_MS" --log-dir "$WORK" -- "${IOTJOBSD_BASE[@]}"; then
  log "the restart run failed; the restarted iotjobsd's logs end with:"
  tail -n 20 "$WORK"/restart-*.err >&2 || true
  exit 1
fi
LOADAVG_AFTER="$(bench_loadavg)"
bench_save_results "$RESULTS" fleet_scale_results.json

# --- BENCHMARKS.md ---------------------------------------------------------------------------
bench_machine
FLAGS_TEXT="${IOTJOBSD_FLAGS[*]//$MOTO_URL/http://127.0.0.1:PORT}"
export COMMAND COMMIT LOADAVG_BEFORE LOADAVG_AFTER MAX_PER_MINUTE FLAGS_TEXT
python3 "$ROOT/bench/fleet_scale.py" write --results "$RESULTS" --output "$OUTPUT"
log "wrote $OUTPUT"
