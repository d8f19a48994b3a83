#!/usr/bin/env bash
# Installs every Debian package iotjobs needs to build, run and test. Idempotent and quick when
# everything is already there. Needs root (or sudo).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config clang-format
  libboost1.81-dev libssl-dev libsqlite3-dev sqlite3 libcurl4-openssl-dev
  libspdlog-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev
  libmosquitto-dev mosquitto mosquitto-clients libpq-dev
  python3 curl ca-certificates openssl
  clang-14 libclang-rt-14-dev  # the fuzz phase: libFuzzer with ASan + UBSan (fuzz/)
)
# The JS SDK end-to-end suite needs node and npm; keep a node that is already there (any source).
if ! command -v node >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "deps: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
