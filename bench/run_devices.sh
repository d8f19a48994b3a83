#!/usr/bin/env bash
# Devices benchmark: builds Release (iotjobsd and the `iotjobs` tool) and runs bench/devices.py,
# which starts Mosquitto, measures the broker-only ceiling with `iotjobs echo` + `iotjobs fleet`,
# then iotjobsd (SQLite, durable) with the same fleet: N devices (default 10,000), a one-job
# notify-next fan-out and a sustained phase of J jobs per device with S progress steps each;
# finally a rollout timeline at --time-scale 60, plotted to bench/results/rollout-timeline.svg by
# bench/plot_timeline.py. Writes the section between <!-- devices:begin --> and
# <!-- devices:end --> of BENCHMARKS.md.
#
# Usage: bench/run_devices.sh [--devices N] [--jobs J] [--steps S] [--rollout-devices R]
#                             [--output FILE] [--no-write] [--keep]
# Environment: BUILD_DIR (default <repo>/build-bench), IOTJOBSD (a prebuilt binary to measure).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_init run_devices "$@"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-bench}"
DEVICES=10000
JOBS=3
STEPS=1
ROLLOUT_DEVICES=1000

while [[ $# -gt 0 ]]; do
  case "$1" in
    --devices) DEVICES="$2"; shift 2 ;;
    --jobs) JOBS="$2"; shift 2 ;;
    --steps) STEPS="$2"; shift 2 ;;
    --rollout-devices) ROLLOUT_DEVICES="$2"; shift 2 ;;
    *) bench_common_arg "$@"; shift "$BENCH_SHIFT" ;;
  esac
done

bench_build_iotjobsd iotjobs
bench_workdir iotjobs-devices

RESULTS="$WORK/results.json"
python3 "$ROOT/bench/devices.py" run --iotjobsd "$IOTJOBSD" \
  --iotjobs "$BUILD_DIR/src/cli/iotjobs" --work "$WORK/run" --devices "$DEVICES" --jobs "$JOBS" \
  --steps "$STEPS" --rollout-devices "$ROLLOUT_DEVICES" >"$RESULTS"
bench_save_results "$RESULTS" devices_results.json

ROLLOUT_SVG=""
if [[ "$ROLLOUT_DEVICES" -gt 0 ]]; then
  mkdir -p "$ROOT/bench/results"
  python3 "$ROOT/bench/devices.py" rollout-json --results "$RESULTS" >"$WORK/rollout.json"
  python3 "$ROOT/bench/plot_timeline.py" "$WORK/rollout.json" --minute-ms 1000 \
    --curve "$(python3 "$ROOT/bench/devices.py" curve --results "$RESULTS")" \
    --title "Rollout of one job to $ROLLOUT_DEVICES devices (exponential rate, --time-scale 60)" \
    --out "$ROOT/bench/results/rollout-timeline.svg"
  ROLLOUT_SVG="bench/results/rollout-timeline.svg"
  log "plotted $ROLLOUT_SVG"
fi

bench_machine
export COMMAND COMMIT ROLLOUT_SVG
python3 "$ROOT/bench/devices.py" write --results "$RESULTS" | bench_write_section devices
log "wrote $OUTPUT"
