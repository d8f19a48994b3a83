#!/usr/bin/env bash
# Writes the section on stdin (with its <!-- NAME:begin --> / <!-- NAME:end --> markers) into
# RELIABILITY.md (or $RELIABILITY_MD), replacing that section and leaving the others alone, through
# bench/bench_md.py's section writer. Usage: ... | bench/reliability_md.sh NAME
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${RELIABILITY_MD:-$root/RELIABILITY.md}"
if [ ! -f "$out" ]; then
  cat >"$out" <<'INTRO'
# Reliability

Figures are written by the scripts that measure them (sanitizer runs by `scripts/test.sh`, fuzzing
by `bench/fuzz.sh`, ...); each owns the section between its markers.
INTRO
fi
python3 "$root/bench/bench_md.py" section --name "$1" --output "$out"
