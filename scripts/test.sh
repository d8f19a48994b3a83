#!/usr/bin/env bash
# Runs every test: installs dependencies, builds (Release), then unit and end-to-end tests through
# ctest. Usage: scripts/test.sh [ctest args...], e.g. scripts/test.sh -R e2e
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/deps.sh"
"$root/scripts/build.sh"
(cd "$root/tests/e2e/js" && npm ci --no-audit --no-fund)  # the JS SDK suite's packages
cd "${IOTJOBS_BUILD_DIR:-$root/build}"
ctest --output-on-failure -j2 "$@"
