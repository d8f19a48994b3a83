#!/usr/bin/env bash
# Configures and builds iotjobs with ninja and ccache.
# Usage: scripts/build.sh [--preset NAME] [ninja targets...]
#   no preset   Release into build/ (or $IOTJOBS_BUILD_DIR)
#   --preset P  a configure preset of CMakePresets.json: release, asan (ASan+UBSan, build-asan/),
#               tsan (build-tsan/), fuzz (clang libFuzzer targets, build-fuzz/)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# ccache: paths below the checkout are hashed relative to it, and the build directory is left out
# of the hash, so another clone of the same tree (CI's, a second worktree) hits the same cache.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$root}" CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
if [ "${1:-}" = "--preset" ]; then
  preset="$2"
  shift 2
  build="$root/build-$preset"
  [ "$preset" = release ] && build="$root/build"
  if [ ! -f "$build/build.ninja" ]; then
    (cd "$root" && cmake --preset "$preset" >/dev/null)
  fi
else
  build="${IOTJOBS_BUILD_DIR:-$root/build}"
  if [ ! -f "$build/build.ninja" ]; then
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
fi
ninja -C "$build" "$@"
