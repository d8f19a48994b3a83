#!/usr/bin/env bash
# Configures and builds iotjobs (Release) into build/, with ccache.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${IOTJOBS_BUILD_DIR:-$root/build}"
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
ninja -C "$build" "$@"
