#!/usr/bin/env bash
# Runs every libFuzzer target in fuzz/ for long, one after the other (the machine is shared), and
# writes executions, coverage and crashes per target into RELIABILITY.md (section fuzz).
#   bench/fuzz.sh [--execs N] [--max-time S] [--output FILE] [--no-write] [TARGET...]
#   --execs N      executions per target (default 10,000,000; the goal, without a finding)
#   --max-time S   stop a target after S seconds even before N executions (default: no limit)
#   --output FILE  instead of RELIABILITY.md;  --no-write: only print
#   TARGET...      a subset, e.g. cron sigv4 (default: every fuzz/*_fuzz.cc)
# Builds the fuzz preset (clang-14, ASan + UBSan) into build-fuzz/. Each target starts from its
# committed corpus (fuzz/corpus/NAME) plus what earlier runs found (build-fuzz/fuzz/long/NAME);
# a crash stops the target and leaves its input in build-fuzz/fuzz/long/artifacts/ (commit it into
# fuzz/corpus/NAME as crash-<what> with the fix). Coverage is libFuzzer's: cov (edges) and ft
# (features) from its last status line.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
execs=10000000
max_time=0
output="$root/RELIABILITY.md"
write=1
targets=()
args="$*"
while [ $# -gt 0 ]; do
  case "$1" in
    --execs) execs="$2"; shift 2 ;;
    --max-time) max_time="$2"; shift 2 ;;
    --output) output="$2"; shift 2 ;;
    --no-write) write=0; shift ;;
    -h|--help) awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$root"/fuzz/*_fuzz.cc; do
    n="$(basename "$f" _fuzz.cc)"
    targets+=("$n")
  done
fi

log() { echo "[fuzz] $*" >&2; }
log "building the fuzz preset in build-fuzz"
"$root/scripts/build.sh" --preset fuzz fuzz >/dev/null
build="$root/build-fuzz/fuzz"
work="$build/long"
mkdir -p "$work/artifacts"
# One row per target, kept across runs (a run of some targets updates their rows only).
mkdir -p "$work/results"
commit="$(git -C "$root" rev-parse --short=12 HEAD)"
git -C "$root" diff --quiet HEAD -- src fuzz CMakeLists.txt || commit="$commit (with uncommitted changes)"
started="$(date -u '+%Y-%m-%d %H:%M UTC')"

for t in "${targets[@]}"; do
  bin="$build/${t}_fuzz"
  [ -x "$bin" ] || { log "no target $t ($bin)"; exit 2; }
  mkdir -p "$work/$t"
  log "$t: $execs executions"
  t0=$(date +%s)
  rc=0
  "$bin" -runs="$execs" -max_total_time="$max_time" -timeout=25 -rss_limit_mb=2560 \
    -print_final_stats=1 -dict="$root/fuzz/dict/$t.dict" \
    -artifact_prefix="$work/artifacts/$t-" "$work/$t" "$root/fuzz/corpus/$t" \
    >"$work/$t.log" 2>&1 || rc=$?
  secs=$(($(date +%s) - t0))
  python3 - "$t" "$work/$t.log" "$rc" "$secs" "$work/artifacts" "$started" "$commit" \
    >"$work/results/$t.tsv" <<'PY'
import os, re, sys
name, path, rc, secs, artifacts, started, commit = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6], sys.argv[7]
text = open(path, errors="replace").read()
def stat(key):
    m = re.findall(rf"stat::{key}:\s*(\d+)", text)
    return int(m[-1]) if m else 0
status = re.findall(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)", text, re.M)
execs, cov, ft, corp = (status[-1] if status else (0, 0, 0, 0))
execs = stat("number_of_executed_units") or int(execs)
crashes = sorted(f for f in os.listdir(artifacts) if f.startswith(name + "-"))
found = 1 if rc != 0 else 0
print("\t".join(map(str, [name, execs, secs, cov, ft, corp, found, stat("peak_rss_mb"),
                          " ".join(crashes) if found else "-", f"{started}, {commit}"])))
PY
  cat "$work/results/$t.tsv" >&2
done

group() { echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }

section() {
  echo "<!-- fuzz:begin -->"
  echo "## Fuzzing (bench/fuzz.sh)"
  echo
  echo "Last command: \`bench/fuzz.sh${args:+ $args}\`, started $started, commit $commit, $(nproc)"
  echo "cores (shared with other work; targets run one after the other; each row is its target's"
  echo "latest run). libFuzzer from clang-14 with ASan + UBSan; cov and ft are its edge and feature"
  echo "counts at the end of the run. Goal: 10,000,000 executions per target without a finding."
  echo
  echo "| target | what it feeds | executions | exec/s | cov | ft | corpus | peak RSS | findings | run |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---|---|"
  cat "$work"/results/*.tsv | while IFS=$'\t' read -r name n secs cov ft corp found rss crashes run; do
    what="$(sed -n 's@^// Fuzz target: \([^.(]*\).*@\1@p' "$root/fuzz/${name}_fuzz.cc" | head -1)"
    rate=$((n / (secs > 0 ? secs : 1)))
    if [ "$found" = 0 ]; then
      mark="✅ 0"
      [ "$n" -ge 10000000 ] || mark="0 (short of the 10,000,000 goal)"
    else
      mark="❌ crash: $crashes"
    fi
    printf '| %s | %s | %s | %s | %s | %s | %s | %s MB | %s | %s |\n' "$name" "$what" \
      "$(group "$n")" "$(group "$rate")" "$cov" "$ft" "$corp" "$rss" "$mark" "$run"
  done
  echo "<!-- fuzz:end -->"
}
section | tee "$work/section.md"
if [ "$write" = 1 ]; then
  RELIABILITY_MD="$output" "$root/bench/reliability_md.sh" fuzz <"$work/section.md"
  log "wrote section fuzz of $output"
fi
if (for t in "${targets[@]}"; do cat "$work/results/$t.tsv"; done) |
    awk -F'\t' '$7 == 1 { found = 1 } END { exit !found }'; then
  log "a target found a crash (see the table)"
  exit 1
fi
