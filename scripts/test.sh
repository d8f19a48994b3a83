#!/usr/bin/env bash
# Runs every test: installs dependencies, then builds and runs ctest in phases, each in its own
# build directory (CMakePresets.json):
#   release  Release (build/, or $IOTJOBS_BUILD_DIR): every test, unit and end-to-end
#   asan     ASan + UBSan (build-asan/): every test again, the end-to-end suites against the
#            sanitized iotjobsd and iotjobs
#   tsan     TSan (build-tsan/): the tests labelled tsan (store, scheduler, HTTP, API, and the
#            MQTT/events/fleet end-to-end suites)
#   fuzz     libFuzzer targets (clang, build-fuzz/): each runs its corpus, then fuzzes a few seconds
# Usage: scripts/test.sh [ctest args...]; the args go to every phase's ctest, e.g.
#   scripts/test.sh -R e2e_jobs
#   IOTJOBS_TEST_PHASES=release scripts/test.sh      # only some phases (space or comma separated)
# Any sanitizer report fails its phase: the sanitizers stop the process at the first finding and
# write their reports under <build dir>/sanitizer-reports/, printed at the end of the phase.
# Suppressions (third-party code only, each documented) are in scripts/sanitizers/. Each phase's
# build and test times are printed at the end; IOTJOBS_TEST_RECORD=1 also writes them into
# RELIABILITY.md (section sanitizers).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
phases="${IOTJOBS_TEST_PHASES:-release asan tsan fuzz}"
phases="${phases//,/ }"
for p in $phases; do
  case "$p" in release|asan|tsan|fuzz) ;; *) echo "IOTJOBS_TEST_PHASES: unknown phase '$p'" >&2; exit 2 ;; esac
done

"$root/scripts/deps.sh"
(cd "$root/tests/e2e/js" && npm ci --no-audit --no-fund)  # the JS SDK suite's packages

supp="$root/scripts/sanitizers"
# The bad-input matrix (e2e_bad_input) writes its size and pass count here for RELIABILITY.md.
matrix_summary="$(mktemp)"
trap 'rm -f "$matrix_summary"' EXIT
export IOTJOBS_BAD_INPUT_SUMMARY="$matrix_summary"
summary=()
failed=()
start_all=$(date +%s)

# run_phase NAME BUILD_DIR "NINJA TARGETS" "CTEST SELECTION" ctest-args...
run_phase() {
  local name="$1" build="$2" targets="$3" select="$4"
  shift 4
  local t0 t1 t2 rc=0 reports log
  echo "=== test phase $name: building in $build" >&2
  t0=$(date +%s)
  if [ "$name" = release ]; then
    # shellcheck disable=SC2086
    IOTJOBS_BUILD_DIR="$build" "$root/scripts/build.sh" $targets
  else
    # shellcheck disable=SC2086
    "$root/scripts/build.sh" --preset "$name" $targets
  fi
  t1=$(date +%s)
  reports="$build/sanitizer-reports"
  rm -rf "$reports"
  mkdir -p "$reports"
  log="$build/test-phase.log"
  echo "=== test phase $name: ctest $select $*" >&2
  # Sanitizers: stop at the first report (abort, so the test sees a crash), and keep the report
  # in a file too: a daemon's stderr may only reach its test's log.
  # shellcheck disable=SC2086
  (cd "$build" &&
    ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:log_path=$reports/asan:log_exe_name=1" \
    LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0" \
    UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:log_path=$reports/ubsan:log_exe_name=1" \
    TSAN_OPTIONS="halt_on_error=1:abort_on_error=1:second_deadlock_stack=1:suppressions=$supp/tsan.supp:log_path=$reports/tsan:log_exe_name=1" \
    ctest --output-on-failure -j2 $select "$@" 2>&1 | tee "$log"; exit "${PIPESTATUS[0]}") || rc=$?
  t2=$(date +%s)
  local n_reports
  n_reports=$(find "$reports" -type f | wc -l)
  if [ "$n_reports" -gt 0 ]; then
    echo "=== test phase $name: $n_reports sanitizer report(s):" >&2
    for f in "$reports"/*; do
      echo "--- $f" >&2
      head -80 "$f" >&2
    done
    rc=1
  fi
  local counts
  counts="$(grep -Eo '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1 || true)"
  summary+=("$name|$((t1 - t0))|$((t2 - t1))|${counts:-no tests}|$n_reports|$rc")
  [ "$rc" = 0 ] || failed+=("$name")
}

for p in $phases; do
  case "$p" in
    release) run_phase release "${IOTJOBS_BUILD_DIR:-$root/build}" "" "" "$@" ;;
    asan) run_phase asan "$root/build-asan" "" "" "$@" ;;
    tsan) run_phase tsan "$root/build-tsan" \
            "store_test service_test http_test api_test iotjobsd iotjobs" "-L tsan" "$@" ;;
    fuzz) run_phase fuzz "$root/build-fuzz" "fuzz" "-L fuzz" "$@" ;;
  esac
done

total=$(($(date +%s) - start_all))
fmt() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }
echo "=== test phases (total $(fmt $total)):" >&2
for s in "${summary[@]}"; do
  IFS='|' read -r name build_s test_s counts n_reports rc <<<"$s"
  printf '  %-8s build %s  tests %s  %s  sanitizer reports: %s  %s\n' "$name" "$(fmt "$build_s")" \
    "$(fmt "$test_s")" "$counts" "$n_reports" "$([ "$rc" = 0 ] && echo ok || echo FAILED)" >&2
done

if [ "${IOTJOBS_TEST_RECORD:-0}" = 1 ]; then
  commit="$(git -C "$root" rev-parse --short=12 HEAD)"
  git -C "$root" diff --quiet HEAD -- src fuzz tests CMakeLists.txt || commit="$commit (with uncommitted changes)"
  {
    echo "<!-- sanitizers:begin -->"
    echo "## Sanitizer and fuzz regression runs (scripts/test.sh)"
    echo
    echo "Command: \`IOTJOBS_TEST_RECORD=1 scripts/test.sh${*:+ $*}\` (phases: $phases), $(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit, $(nproc) cores, total $(fmt $total)."
    echo
    echo "| phase | build | tests | result | sanitizer reports |"
    echo "|---|---|---|---|---|"
    for s in "${summary[@]}"; do
      IFS='|' read -r name build_s test_s counts n_reports rc <<<"$s"
      echo "| $name | $(fmt "$build_s") | $(fmt "$test_s") | $counts | $n_reports |"
    done
    echo "<!-- sanitizers:end -->"
  } | "$root/bench/reliability_md.sh" sanitizers
  if [ -s "$matrix_summary" ]; then
    {
      echo "<!-- bad-input:begin -->"
      echo "## Bad-input matrix (e2e_bad_input)"
      echo
      echo "Generated from the botocore models by \`tests/e2e/test_bad_input.py\`: for every served operation"
      echo "of both planes and every constraint of its input shapes, one request that violates exactly"
      echo "that constraint, sent signed to a real iotjobsd; each must get the modelled error type and a"
      echo "message naming the field. Recorded by \`IOTJOBS_TEST_RECORD=1 scripts/test.sh\`,"
      echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit (last phase that ran it):"
      echo
      echo "    $(cat "$matrix_summary")"
      echo "<!-- bad-input:end -->"
    } | "$root/bench/reliability_md.sh" bad-input
  fi
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "=== failed phases: ${failed[*]}" >&2
  exit 1
fi
