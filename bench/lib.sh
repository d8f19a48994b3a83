# shellcheck shell=bash disable=SC2034  # the variables set here are for the calling script
# What the bench scripts share, sourced by bench/run_*.sh (not run by itself):
#   bench_init NAME "$@"        COMMAND, OUTPUT, WRITE, KEEP and the log prefix; call first
#   bench_common_arg "$@"       --output, --no-write, --keep, -h/--help, unknown arguments
#   bench_build_iotjobsd [T..]  Release build of iotjobsd (and targets T) in BUILD_DIR, COMMIT
#   bench_commit                COMMIT: HEAD, marked when the sources differ from it
#   bench_workdir PREFIX        WORK, a temporary directory, and the cleanup trap
#   bench_credentials PREFIX    a random key pair in $WORK/credentials, exported as AWS_*
#   bench_start_moto [WRAP..]   moto's server on a free port: MOTO_PID, MOTO_URL
#   bench_start_iotjobsd CMD..  iotjobsd, waiting for its ready line: IOTJOBSD_PID, IOTJOBSD_URL,
#                               IOTJOBSD_JOBS_URL
#   bench_stop_iotjobsd         SIGTERM, wait: BENCH_STOP_MS
#   bench_machine               MODEL NPROC KERNEL FSTYPE DATE MOTO_VERSION, exported
#   bench_save_results FILE N   copies raw results to $BUILD_DIR/N; exits 0 here on --no-write
#   bench_write_section NAME    writes the section on stdin into $OUTPUT (bench/bench_md.py)
# Conventions every bench script follows (bench/run.sh relies on them): it builds what it needs in
# $BUILD_DIR, accepts --output FILE and --no-write, owns one section of BENCHMARKS.md between
# <!-- NAME:begin --> and <!-- NAME:end -->, and exits non-zero without writing when a run fails.
# Processes are started in the background and stopped by pid, never by name: the machine is
# shared.

BENCH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$BENCH_ROOT"

# bench_init NAME "$@": NAME is the script's name without .sh (the log prefix).
bench_init() {
  BENCH_NAME="$1"
  shift
  COMMAND="bench/$BENCH_NAME.sh${*:+ $*}"
  OUTPUT="$ROOT/BENCHMARKS.md"
  WRITE=1
  KEEP=0
  WORK=""
  IOTJOBSD_PID=""
  MOTO_PID=""
}

log() { echo "[$BENCH_NAME] $*" >&2; }

# Prints the comment block at the top of the calling script (its usage).
bench_usage() {
  awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
}

# bench_common_arg "$@": handles the options every script has; sets BENCH_SHIFT to the number
# of arguments it consumed. Exits 0 after --help, 2 on an unknown argument.
bench_common_arg() {
  case "$1" in
    --output) OUTPUT="$2"; BENCH_SHIFT=2 ;;
    --no-write) WRITE=0; BENCH_SHIFT=1 ;;
    --keep) KEEP=1; BENCH_SHIFT=1 ;;
    -h|--help) bench_usage; exit 0 ;;
    *) echo "$BENCH_NAME.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
}

# bench_build TARGET...: a Release build in $BUILD_DIR; ninja's errors (on stdout) are shown
# only when it fails.
bench_build() {
  log "building Release in $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  local build_log
  if ! build_log="$(ninja -C "$BUILD_DIR" -j2 "$@")"; then
    echo "$build_log" >&2
    exit 1
  fi
}

# bench_build_iotjobsd [TARGET...]: builds iotjobsd and the targets, unless $IOTJOBSD names a
# prebuilt binary to measure instead (for A/B comparisons; the targets are built anyway). Sets
# IOTJOBSD and COMMIT (what was built, taken now: the tree may move while the benchmark runs).
bench_build_iotjobsd() {
  if [[ -n "${IOTJOBSD:-}" ]]; then
    log "measuring the prebuilt $IOTJOBSD (no build of it)"
    mkdir -p "$BUILD_DIR"
    [[ $# == 0 ]] || bench_build "$@"
  else
    bench_build iotjobsd "$@"
    IOTJOBSD="$BUILD_DIR/src/server/iotjobsd"
  fi
  bench_commit
  [[ "$IOTJOBSD" == "$BUILD_DIR/src/server/iotjobsd" ]] || COMMIT="$COMMIT; binary: prebuilt $IOTJOBSD"
}

# COMMIT: HEAD, and whether the sources differ from it.
bench_commit() {
  COMMIT="$(git -C "$ROOT" rev-parse --short=12 HEAD)"
  git -C "$ROOT" diff --quiet HEAD -- src bench CMakeLists.txt ||
    COMMIT="$COMMIT (with uncommitted changes)"
}

# Stops what this script started (by pid) and removes $WORK unless --keep.
bench_cleanup() {
  [[ -n "$IOTJOBSD_PID" ]] && kill "$IOTJOBSD_PID" 2>/dev/null && wait "$IOTJOBSD_PID" 2>/dev/null
  [[ -n "$MOTO_PID" ]] && kill "$MOTO_PID" 2>/dev/null && wait "$MOTO_PID" 2>/dev/null
  if [[ -n "$WORK" ]]; then
    if [[ $KEEP == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  fi
  return 0
}

bench_workdir() {
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")"
  trap bench_cleanup EXIT
}

bench_free_port() {
  python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}

# bench_credentials PREFIX: the access key id is PREFIX plus 12 random hex digits.
bench_credentials() {
  ACCESS_KEY="$1$(python3 -c 'import secrets;print(secrets.token_hex(6).upper())')"
  SECRET_KEY="$(python3 -c 'import secrets;print(secrets.token_urlsafe(30))')"
  cat >"$WORK/credentials" <<EOF
[default]
aws_access_key_id = $ACCESS_KEY
aws_secret_access_key = $SECRET_KEY
EOF
  export AWS_ACCESS_KEY_ID="$ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$SECRET_KEY"
}

# bench_start_moto [WRAPPER...]: e.g. `bench_start_moto nice -n 5`.
bench_start_moto() {
  local port ready=0
  port="$(bench_free_port)"
  log "starting python3 -m moto.server -H 127.0.0.1 -p $port"
  # Werkzeug logs one line per request to stderr; a file keeps that cheap.
  "$@" python3 -m moto.server -H 127.0.0.1 -p "$port" >"$WORK/moto.out" 2>"$WORK/moto.err" &
  MOTO_PID=$!
  MOTO_URL="http://127.0.0.1:$port"
  for _ in $(seq 1 300); do
    if python3 -c 'import socket,sys;socket.create_connection(("127.0.0.1",int(sys.argv[1])),0.5)' \
        "$port" 2>/dev/null; then ready=1; break; fi
    kill -0 "$MOTO_PID" 2>/dev/null || break
    sleep 0.1
  done
  [[ $ready == 1 ]] || { log "moto did not start"; cat "$WORK/moto.err" >&2; exit 1; }
}

# bench_start_iotjobsd CMD...: output in $WORK/iotjobsd.{out,err}.
bench_start_iotjobsd() {
  log "starting $*"
  "$@" >"$WORK/iotjobsd.out" 2>"$WORK/iotjobsd.err" &
  IOTJOBSD_PID=$!
  local line=""
  for _ in $(seq 1 300); do
    # The trailing space proves the jobs URL was written completely, not caught mid-line.
    line="$(grep -o 'iotjobsd ready control=http://[^ ]* jobs=http://[^ ]* ' "$WORK/iotjobsd.out" |
      head -1 || true)"
    [[ -n "$line" ]] && break
    kill -0 "$IOTJOBSD_PID" 2>/dev/null || { cat "$WORK/iotjobsd.err" >&2; exit 1; }
    sleep 0.1
  done
  [[ -n "$line" ]] || { log "iotjobsd did not become ready"; cat "$WORK/iotjobsd.err" >&2; exit 1; }
  IOTJOBSD_URL="${line#* control=}"
  IOTJOBSD_URL="${IOTJOBSD_URL%% *}"
  IOTJOBSD_JOBS_URL="${line#* jobs=}"
  IOTJOBSD_JOBS_URL="${IOTJOBSD_JOBS_URL%% *}"
}

# SIGTERM to the iotjobsd started above and wait for it; BENCH_STOP_MS is how long it took.
bench_stop_iotjobsd() {
  local t0 rc=0
  t0="$(date +%s%N)"
  kill -TERM "$IOTJOBSD_PID"
  wait "$IOTJOBSD_PID" || rc=$?
  BENCH_STOP_MS=$((($(date +%s%N) - t0) / 1000000))
  IOTJOBSD_PID=""
  [[ $rc == 0 ]] || { log "iotjobsd exited $rc on SIGTERM"; tail -20 "$WORK/iotjobsd.err" >&2; exit 1; }
}

bench_loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

bench_machine() {
  MODEL="$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)"
  NPROC="$(nproc)"
  KERNEL="$(uname -r)"
  FSTYPE="$(df -T "${WORK:-$ROOT}" | awk 'NR==2{print $2}')"
  DATE="$(date -u '+%Y-%m-%d %H:%M UTC')"
  MOTO_VERSION="$(python3 -c 'import importlib.metadata as m;print(m.version("moto"))')"
  export MODEL NPROC KERNEL FSTYPE DATE MOTO_VERSION
}

# bench_save_results FILE NAME: keeps the raw results beside the build; on --no-write the script
# ends here.
bench_save_results() {
  cp "$1" "$BUILD_DIR/$2"
  log "raw results: $BUILD_DIR/$2"
  [[ $WRITE == 1 ]] || { log "--no-write: $OUTPUT left untouched"; exit 0; }
}

# bench_write_section NAME [--first] < SECTION
bench_write_section() {
  python3 "$ROOT/bench/bench_md.py" section --name "$1" --output "$OUTPUT" "${@:2}"
}
