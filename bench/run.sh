#!/usr/bin/env bash
# The benchmark suite in one command. Runs, in this order, bench/run_control_plane.sh,
# bench/run_fleet_scale.sh, bench/run_rules.sh, bench/run_devices.sh and bench/chaos.sh (each
# when it exists), each writing its own section of BENCHMARKS.md (chaos.sh: of RELIABILITY.md),
# then the suite's header section between
# <!-- suite:begin --> and <!-- suite:end -->: machine, date, command, each script's time and the
# total against the goal (<= 20 min on the 2-core machine). A script that fails leaves its section
# as it was; the others still run, and run.sh exits 1 at the end.
#
# Usage: bench/run.sh [--no-write] [--output FILE] [--list] [SUITE...]
#   SUITE: control-plane, fleet-scale, rules, devices, chaos (default: all of them, in that order;
#          named ones run in that order too). A named suite whose script is missing is an error.
#   --no-write, --output FILE: passed to every script (and the header follows them).
#   --list: the suites, their scripts and whether they exist, then exit.
# Only a run of the whole suite writes the header (its total is the whole suite's); a subset run
# prints its times and leaves the header alone.
# Environment: BUILD_DIR (default <repo>/build-bench: one Release build that every script shares),
# and what the scripts read (IOTJOBSD_ARGS, IOTJOBSD).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_init run "$@"
export BUILD_DIR="${BUILD_DIR:-$ROOT/build-bench}"
SUITES=(control-plane fleet-scale rules devices chaos)
GOAL_S=1200  # the whole suite on this 2-core machine, issue 6
PASS=()
CHOSEN=()

script_of() {
  case "$1" in
    chaos) echo "bench/chaos.sh" ;;  # writes RELIABILITY.md, not BENCHMARKS.md
    *) echo "bench/run_${1//-/_}.sh" ;;
  esac
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-write) PASS+=(--no-write); WRITE=0; shift ;;
    --output) [[ $# -ge 2 ]] || { echo "run.sh: --output needs a file" >&2; exit 2; }
      OUTPUT="$(realpath -m "$2")"; PASS+=(--output "$OUTPUT"); shift 2 ;;
    --list)
      for s in "${SUITES[@]}"; do
        f="$(script_of "$s")"
        printf '%-14s %-28s %s\n' "$s" "$f" "$([[ -x $ROOT/$f ]] && echo present || echo 'not present')"
      done
      exit 0 ;;
    -h|--help) bench_usage; exit 0 ;;
    -*) echo "run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) [[ " ${SUITES[*]} " == *" $1 "* ]] ||
         { echo "run.sh: unknown suite '$1' (one of: ${SUITES[*]})" >&2; exit 2; }
       CHOSEN+=("$1"); shift ;;
  esac
done

WHOLE=0
if [[ ${#CHOSEN[@]} == 0 ]]; then
  WHOLE=1
  CHOSEN=("${SUITES[@]}")
fi

# In suite order, each once; a named suite must have its script.
PLAN=()
for s in "${SUITES[@]}"; do
  [[ " ${CHOSEN[*]} " == *" $s "* ]] || continue
  if [[ ! -x "$ROOT/$(script_of "$s")" && $WHOLE == 0 ]]; then
    echo "run.sh: $(script_of "$s") does not exist (see --list)" >&2
    exit 2
  fi
  PLAN+=("$s")
done

duration() { printf '%d min %02d s' $(($1 / 60)) $(($1 % 60)); }

bench_commit
START_DATE="$(date -u '+%Y-%m-%d %H:%M UTC')"
LOADAVG_BEFORE="$(bench_loadavg)"
T0="$(date +%s)"
ROWS=()
FAILED=0
for s in "${PLAN[@]}"; do
  f="$(script_of "$s")"
  if [[ ! -x "$ROOT/$f" ]]; then
    log "$f: not present yet, skipped"
    ROWS+=("| \`$f\` | $s | – | not present yet |")
    continue
  fi
  log "=== $f ${PASS[*]}"
  t="$(date +%s)"
  rc=0
  "$ROOT/$f" "${PASS[@]}" || rc=$?
  t=$(($(date +%s) - t))
  if [[ $rc == 0 ]]; then
    result="ok"
  else
    result="❌ failed (exit $rc); its section is from an earlier run"
    FAILED=1
  fi
  log "=== $f: $(duration "$t"), $result"
  ROWS+=("| \`$f\` | $s | $(duration "$t") | $result |")
done
TOTAL=$(($(date +%s) - T0))
LOADAVG_AFTER="$(bench_loadavg)"
TOTAL_MARK="$(python3 -c 'import sys; sys.path.insert(0, sys.argv[1])
from bench_md import goal_mark
t, goal, text = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
print(goal_mark(t, "≤", goal, text, f"{goal // 60} min"))' "$ROOT/bench" "$TOTAL" "$GOAL_S" \
  "$(duration "$TOTAL")")"

log "suite: $(duration "$TOTAL") in all (${PLAN[*]})"
for row in "${ROWS[@]}"; do log "  $row"; done

if [[ $WHOLE == 1 && $WRITE == 1 ]]; then
  bench_machine
  {
    echo "<!-- suite:begin -->"
    echo "## The suite"
    echo
    echo "Written by \`bench/run.sh\`; do not edit by hand, re-run it. Each section below comes from"
    echo "one script of the suite and gives its own command, date and commit."
    echo
    echo "- Command: \`$COMMAND\`"
    echo "- Date: $START_DATE (start); commit \`$COMMIT\`"
    echo "- Machine: $NPROC cores, $MODEL, Linux $KERNEL; load average before/after" \
      "$LOADAVG_BEFORE / $LOADAVG_AFTER"
    echo
    echo "| script | section | time | result |"
    echo "|---|---|--:|---|"
    printf '%s\n' "${ROWS[@]}"
    echo "| whole suite | | $(duration "$TOTAL") | $TOTAL_MARK |"
    echo "<!-- suite:end -->"
  } | bench_write_section suite --first
  log "wrote the suite header into $OUTPUT"
elif [[ $WHOLE == 0 ]]; then
  log "a subset: the suite header in $OUTPUT is left as it was"
fi
exit "$FAILED"
