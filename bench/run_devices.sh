#!/usr/bin/env bash
# Devices benchmark: builds Release (iotjobsd and the `iotjobs` tool) and runs bench/devices.py,
# which starts Mosquitto, measures the broker-only ceiling with `iotjobs echo` + `iotjobs fleet`,
# then iotjobsd (SQLite, durable) with the same fleet: N devices (default 10,000), a one-job
# notify-next fan-out and a sustained phase of J jobs per device with S progress steps each;
# finally a rollout timeline at --time-scale 60, plotted to bench/results/rollout-timeline.svg
# when bench/plot_timeline.py exists. Writes the section between <!-- devices:begin --> and
# <!-- devices:end --> of BENCHMARKS.md.
#
# Usage: bench/run_devices.sh [--devices N] [--jobs J] [--steps S] [--rollout-devices R]
#                             [--output FILE] [--no-write] [--keep]
# Environment: BUILD_DIR (default <repo>/build-bench).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-bench}"
DEVICES=10000
JOBS=3
STEPS=1
ROLLOUT_DEVICES=1000
OUTPUT="$ROOT/BENCHMARKS.md"
WRITE=1
KEEP=0
COMMAND="bench/run_devices.sh${*:+ $*}"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --devices) DEVICES="$2"; shift 2 ;;
    --jobs) JOBS="$2"; shift 2 ;;
    --steps) STEPS="$2"; shift 2 ;;
    --rollout-devices) ROLLOUT_DEVICES="$2"; shift 2 ;;
    --output) OUTPUT="$2"; shift 2 ;;
    --no-write) WRITE=0; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_devices.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

log() { echo "[run_devices] $*" >&2; }

log "building Release in $BUILD_DIR"
cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
if ! build_log="$(ninja -C "$BUILD_DIR" -j2 iotjobsd iotjobs)"; then
  echo "$build_log" >&2
  exit 1
fi
COMMIT="$(git -C "$ROOT" rev-parse --short=12 HEAD)"
git -C "$ROOT" diff --quiet HEAD -- src bench CMakeLists.txt || COMMIT="$COMMIT (with uncommitted changes)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/iotjobs-devices.XXXXXX")"
cleanup() { if [[ $KEEP == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT

RESULTS="$WORK/results.json"
python3 "$ROOT/bench/devices.py" run --iotjobsd "$BUILD_DIR/src/server/iotjobsd" \
  --iotjobs "$BUILD_DIR/src/cli/iotjobs" --work "$WORK/run" --devices "$DEVICES" --jobs "$JOBS" \
  --steps "$STEPS" --rollout-devices "$ROLLOUT_DEVICES" >"$RESULTS"
cp "$RESULTS" "$BUILD_DIR/devices_results.json"
log "raw results: $BUILD_DIR/devices_results.json"
[[ $WRITE == 1 ]] || { log "--no-write: $OUTPUT left untouched"; exit 0; }

ROLLOUT_SVG=""
if [[ "$ROLLOUT_DEVICES" -gt 0 && -f "$ROOT/bench/plot_timeline.py" ]]; then
  mkdir -p "$ROOT/bench/results"
  python3 - "$RESULTS" "$WORK/rollout.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
json.dump(r["rollout"]["fleet"], open(sys.argv[2], "w"))
PY
  # The configured curve per scaled minute, from the rollout the run used.
  CURVE="$(python3 "$ROOT/bench/devices.py" curve --results "$RESULTS")"
  python3 "$ROOT/bench/plot_timeline.py" "$WORK/rollout.json" --minute-ms 1000 --curve "$CURVE" \
    --title "Rollout of one job to $ROLLOUT_DEVICES devices (exponential rate, --time-scale 60)" \
    --out "$ROOT/bench/results/rollout-timeline.svg"
  ROLLOUT_SVG="bench/results/rollout-timeline.svg"
  log "plotted $ROLLOUT_SVG"
fi

export COMMAND COMMIT ROLLOUT_SVG
export DATE="$(date -u '+%Y-%m-%d %H:%M UTC')" NPROC="$(nproc)" KERNEL="$(uname -r)"
export MODEL="$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)"
python3 "$ROOT/bench/devices.py" write --results "$RESULTS" --output "$OUTPUT"
log "wrote $OUTPUT"
