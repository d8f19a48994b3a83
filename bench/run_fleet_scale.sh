#!/usr/bin/env bash
# Fleet-scale benchmark: builds Release, starts moto's S3 server and iotjobsd (SQLite,
# synchronous=FULL, --max-rollout-per-minute raised) on a temporary data dir, and runs
# bench/fleet_scale.py: registers N things (default 1,000,000) in one group through
# StartThingRegistrationTask, creates a job on the group, waits until every execution is QUEUED,
# and measures registration time, materialisation rate, peak RSS, database bytes per execution and
# DescribeJob / ListJobExecutionsForThing latency at that size. Writes the figures into
# BENCHMARKS.md between <!-- fleet-scale:begin --> and <!-- fleet-scale:end -->.
#
# Usage: bench/run_fleet_scale.sh [--things N] [--samples N] [--poll-ms N] [--output FILE]
#                                 [--no-write] [--keep]
# Environment: BUILD_DIR (default <repo>/build-scale), IOTJOBSD_ARGS (extra iotjobsd flags),
# IOTJOBSD (a prebuilt binary to measure instead of building one; for A/B comparisons).
# --keep leaves the temporary directory (database, logs, results) in place for inspection.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-scale}"
THINGS=1000000
SAMPLES=2000
POLL_MS=50
MAX_PER_MINUTE=100000000
OUTPUT="$ROOT/BENCHMARKS.md"
WRITE=1
KEEP=0
COMMAND="bench/run_fleet_scale.sh${*:+ $*}"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --things) THINGS="$2"; shift 2 ;;
    --samples) SAMPLES="$2"; shift 2 ;;
    --poll-ms) POLL_MS="$2"; shift 2 ;;
    --output) OUTPUT="$2"; shift 2 ;;
    --no-write) WRITE=0; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_fleet_scale.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

log() { echo "[run_fleet_scale] $*" >&2; }

# --- build -----------------------------------------------------------------------------------
if [[ -n "${IOTJOBSD:-}" ]]; then
  log "measuring the prebuilt $IOTJOBSD (no build)"
  mkdir -p "$BUILD_DIR"
else
  log "building Release in $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  # ninja reports compile errors on stdout; show them when the build fails.
  if ! build_log="$(ninja -C "$BUILD_DIR" -j2 iotjobsd)"; then
    echo "$build_log" >&2
    exit 1
  fi
  IOTJOBSD="$BUILD_DIR/src/server/iotjobsd"
fi

# What was built (taken now: the tree may move while the benchmark runs).
COMMIT="$(git -C "$ROOT" rev-parse --short=12 HEAD)"
git -C "$ROOT" diff --quiet HEAD -- src bench CMakeLists.txt || COMMIT="$COMMIT (with uncommitted changes)"
[[ "$IOTJOBSD" == "$BUILD_DIR/src/server/iotjobsd" ]] || COMMIT="$COMMIT; binary: prebuilt $IOTJOBSD"

# --- servers ---------------------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/iotjobs-fleet.XXXXXX")"
IOTJOBSD_PID=""
MOTO_PID=""
cleanup() {
  # Only the two processes this script started, by pid.
  [[ -n "$IOTJOBSD_PID" ]] && kill "$IOTJOBSD_PID" 2>/dev/null && wait "$IOTJOBSD_PID" 2>/dev/null
  [[ -n "$MOTO_PID" ]] && kill "$MOTO_PID" 2>/dev/null && wait "$MOTO_PID" 2>/dev/null
  if [[ $KEEP == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}

MOTO_PORT="$(free_port)"
log "starting python3 -m moto.server -H 127.0.0.1 -p $MOTO_PORT"
python3 -m moto.server -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.out" 2>"$WORK/moto.err" &
MOTO_PID=$!
MOTO_URL="http://127.0.0.1:$MOTO_PORT"
ready=0
for _ in $(seq 1 300); do
  if python3 -c 'import socket,sys;socket.create_connection(("127.0.0.1",int(sys.argv[1])),0.5)' \
      "$MOTO_PORT" 2>/dev/null; then ready=1; break; fi
  kill -0 "$MOTO_PID" 2>/dev/null || break
  sleep 0.1
done
[[ $ready == 1 ]] || { log "moto did not start"; cat "$WORK/moto.err" >&2; exit 1; }

ACCESS_KEY="AKIDFLEET$(python3 -c 'import secrets;print(secrets.token_hex(6).upper())')"
SECRET_KEY="$(python3 -c 'import secrets;print(secrets.token_urlsafe(30))')"
cat >"$WORK/credentials" <<EOF
[default]
aws_access_key_id = $ACCESS_KEY
aws_secret_access_key = $SECRET_KEY
EOF

# Extra flags are split on spaces on purpose.
# shellcheck disable=SC2206
EXTRA_ARGS=(${IOTJOBSD_ARGS:-})
IOTJOBSD_FLAGS=(--max-rollout-per-minute "$MAX_PER_MINUTE" --s3-endpoint "$MOTO_URL"
  --s3-timeout-ms 120000 --log-level info "${EXTRA_ARGS[@]}")
IOTJOBSD_CMD=("$IOTJOBSD" --data-dir "$WORK/data" --credentials "$WORK/credentials"
  --control-listen 127.0.0.1:0 "${IOTJOBSD_FLAGS[@]}")
log "starting ${IOTJOBSD_CMD[*]}"
"${IOTJOBSD_CMD[@]}" >"$WORK/iotjobsd.out" 2>"$WORK/iotjobsd.err" &
IOTJOBSD_PID=$!
IOTJOBSD_URL=""
for _ in $(seq 1 300); do
  # The trailing space proves the port was written completely, not caught mid-line.
  IOTJOBSD_URL="$(grep -o 'control=http://[0-9.]*:[0-9]* ' "$WORK/iotjobsd.out" | head -1 |
    cut -d= -f2 | tr -d ' ' || true)"
  [[ -n "$IOTJOBSD_URL" ]] && break
  kill -0 "$IOTJOBSD_PID" 2>/dev/null || { cat "$WORK/iotjobsd.err" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$IOTJOBSD_URL" ]] || { log "iotjobsd did not become ready"; cat "$WORK/iotjobsd.err" >&2; exit 1; }

# --- run -------------------------------------------------------------------------------------
export AWS_ACCESS_KEY_ID="$ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$SECRET_KEY"
LOADAVG_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
RESULTS="$WORK/results.json"
if ! python3 "$ROOT/bench/fleet_scale.py" run --endpoint "$IOTJOBSD_URL" --s3-endpoint "$MOTO_URL" \
    --db "$WORK/data/iotjobs.db" --pid "$IOTJOBSD_PID" --things "$THINGS" --samples "$SAMPLES" \
    --poll-ms "$POLL_MS" --max-per-minute "$MAX_PER_MINUTE" >"$RESULTS"; then
  log "the run failed; iotjobsd's log ends with:"
  tail -20 "$WORK/iotjobsd.err" >&2
  exit 1
fi
LOADAVG_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"
cp "$RESULTS" "$BUILD_DIR/fleet_scale_results.json"
log "raw results: $BUILD_DIR/fleet_scale_results.json"
[[ $WRITE == 1 ]] || { log "--no-write: $OUTPUT left untouched"; exit 0; }

# --- BENCHMARKS.md ---------------------------------------------------------------------------
MODEL="$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)"
NPROC="$(nproc)"
KERNEL="$(uname -r)"
FSTYPE="$(df -T "$WORK" | awk 'NR==2{print $2}')"
DATE="$(date -u '+%Y-%m-%d %H:%M UTC')"
MOTO_VERSION="$(python3 -c 'import importlib.metadata as m;print(m.version("moto"))')"
FLAGS_TEXT="${IOTJOBSD_FLAGS[*]//$MOTO_URL/http://127.0.0.1:PORT}"
export COMMAND COMMIT LOADAVG_BEFORE LOADAVG_AFTER MAX_PER_MINUTE MODEL NPROC KERNEL FSTYPE DATE \
  MOTO_VERSION FLAGS_TEXT
python3 "$ROOT/bench/fleet_scale.py" write --results "$RESULTS" --output "$OUTPUT"
log "wrote $OUTPUT"
