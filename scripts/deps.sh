#!/usr/bin/env bash
# Installs every Debian package iotjobs needs to build, run and test, then checks the tools the two
# commands (scripts/run.sh, scripts/test.sh) use beyond them: an `aws` CLI, boto3 and moto for the
# `python3` on PATH. Idempotent and quick when everything is already there. Needs root (or sudo)
# only when something is missing. A missing required piece stops it with one line saying what to
# do; moto only gets a note (see below).
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
# AWS CLI v2 (Debian's `awscli`, /usr/bin/aws) beside any v1 (e.g. a pip or pyenv `aws` earlier on
# PATH, which keeps working): the end-to-end suite cli_v2 runs the walk-through through both.
has_aws_v2=false
for a in $(type -ap aws) /usr/bin/aws /usr/local/bin/aws; do
  if [ -x "$a" ] && "$a" --version 2>&1 | grep -q '^aws-cli/2\.'; then has_aws_v2=true; break; fi
done
$has_aws_v2 || PACKAGES+=(awscli)
# boto3 for the python3 on PATH; Debian's python3-boto3 serves Debian's /usr/bin/python3.
py_has() { command -v python3 >/dev/null 2>&1 && python3 -c "import importlib.util as u, sys; sys.exit(u.find_spec('$1') is None)" 2>/dev/null; }
if ! py_has boto3; then
  PACKAGES+=(python3-boto3)
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
for p in "${PACKAGES[@]}"; do
  installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
      echo "deps: missing Debian packages: ${missing[*]}; install them as root (apt-get install ${missing[*]}) and run again" >&2
      exit 1
    }
    SUDO="sudo"
  fi
  echo "deps: installing ${missing[*]}" >&2
  if ! { $SUDO apt-get update -qq &&
         DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
    still=()
    for p in "${missing[@]}"; do installed "$p" || still+=("$p"); done
    echo "deps: apt-get could not install ${still[*]:-some packages} (its error is above); install them by hand, then run again" >&2
    exit 1
  fi
fi

# What the two commands use beyond the packages, checked as they will run it.
if ! command -v aws >/dev/null 2>&1; then
  echo "deps: no \`aws\` command on PATH (Debian's awscli did not provide one); install AWS CLI v2 (apt-get install awscli) or v1 (python3 -m pip install awscli) and run again" >&2
  exit 1
fi
if ! py_has boto3; then
  echo "deps: boto3 is not importable by $(command -v python3 || echo python3); install it for that Python (Debian's python3-boto3 serves /usr/bin/python3 only; others: python3 -m pip install boto3), then run again" >&2
  exit 1
fi
# moto's server is the local S3 store (documentSource) of run.sh and the e2e suites. Debian 12 has
# no package for it and pip's registry may be out of reach, so its absence is a note, not a failure:
# run.sh then runs without an S3 store, and the e2e suites that need one fail saying so.
if ! py_has moto; then
  echo "deps: note: moto is not installed for $(command -v python3) and Debian 12 has no package for it; where PyPI is reachable: python3 -m pip install 'moto[server]'. Without it scripts/run.sh has no local S3 store (documentSource unavailable) and the e2e suites that use S3 fail." >&2
fi
exit 0
