#!/usr/bin/env bash
# Crash-and-fault campaign (issue 16): builds Release (iotjobsd and the `iotjobs` tool), starts
# moto's S3 server and runs bench/chaos.py, which starts Mosquitto and iotjobsd itself and, with a
# seeded RNG (the seed is printed and recorded), kills iotjobsd with kill -9 at random instants
# while a fleet of simulated devices runs jobs with retries and timeouts, while bulk registration
# tasks run and while large groups' jobs materialise; kills and restarts Mosquitto on its port
# while devices work; fills iotjobsd's disk (tmpfs, else a loop-mounted image, else
# RLIMIT_FSIZE). It checks every acknowledged write against the store after a restart, the
# fleet's counts against jobProcessDetails, registration and materialisation results, and times
# recovery (ready line, and a device's start-next answered over MQTT) after each restart.
# Writes RELIABILITY.md between <!-- chaos:begin --> and <!-- chaos:end -->. About 5-8 minutes
# with the defaults on the 2-core machine; the flags scale it up.
#
# Usage: bench/chaos.sh [--seed N] [--devices N] [--kills-fleet N] [--broker-restarts N]
#                       [--kills-registration N] [--reg-lines N] [--kills-materialise N]
#                       [--group-things N] [--recovery-bound-s S] [--disk-mode auto|fsize]
#                       [--disk-mb N] [--mat-rate N] [--time-scale N] [--fleet-max-s S]
#                       [--reg-kill-window-s S]
#                       [--output FILE] [--no-write] [--keep]
#   Defaults: 300 devices, 10 + 7 + 7 kills, 3 broker restarts, 50,000-line tasks, a group of
#   20,000 things, a 20 s bound on recovery. More: bench/chaos.py run --help.
# Exits 1 (and writes nothing) when the campaign could not run; a run whose checks miss their
# goal writes its section with ❌ (and says so on stderr), as every bench script does.
# Environment: BUILD_DIR (default <repo>/build-bench), IOTJOBSD (a prebuilt binary to test).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_init chaos "$@"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-bench}"
OUTPUT="$ROOT/RELIABILITY.md"
PASS=()

while [[ $# -gt 0 ]]; do
  case "$1" in
    --seed|--devices|--kills-fleet|--broker-restarts|--kills-registration|--reg-lines|\
    --kills-materialise|--group-things|--recovery-bound-s|--disk-mode|--disk-mb|--mat-rate|\
    --time-scale|--fleet-max-s|--reg-kill-window-s)
      [[ $# -ge 2 ]] || { echo "chaos.sh: $1 needs a value" >&2; exit 2; }
      PASS+=("$1" "$2"); shift 2 ;;
    *) bench_common_arg "$@"; shift "$BENCH_SHIFT" ;;
  esac
done

bench_build_iotjobsd iotjobs
bench_workdir iotjobs-chaos
bench_credentials AKIDCHAOSS3
bench_start_moto nice -n 5

RESULTS="$WORK/results.json"
if ! python3 "$ROOT/bench/chaos.py" run --iotjobsd "$IOTJOBSD" \
    --iotjobs "$BUILD_DIR/src/cli/iotjobs" --s3-endpoint "$MOTO_URL" --work "$WORK/run" \
    "${PASS[@]}" >"$RESULTS"; then
  log "the campaign failed; the last iotjobsd log ends with:"
  # shellcheck disable=SC2012  # names of our own making: iotjobsd-N.err
  tail -n 20 "$(ls -t "$WORK"/run/iotjobsd-*.err | head -1)" >&2 || true
  exit 1
fi
bench_save_results "$RESULTS" chaos_results.json

bench_machine
export COMMAND COMMIT
# A new file gets its title here (bench_md.py's default is BENCHMARKS.md's).
# shellcheck disable=SC2016  # the backquotes are Markdown
[[ -e "$OUTPUT" ]] || printf '%s\n\n%s\n%s\n\n' '# Reliability' \
  'Figures are written by the scripts in `bench/`; each owns the section between its' \
  'markers.' >"$OUTPUT"
python3 "$ROOT/bench/chaos.py" write --results "$RESULTS" | bench_write_section chaos
log "wrote $OUTPUT"
if python3 "$ROOT/bench/chaos.py" write --results "$RESULTS" | grep -q '❌'; then
  log "some checks missed their goal (❌ in the section)"
fi
