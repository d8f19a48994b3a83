#!/usr/bin/env bash
# Runs iotjobs locally: installs dependencies, builds (Release), starts a local Mosquitto, a local
# S3 store (moto's server, when moto is installed) and iotjobsd (SQLite under ./data; both
# listeners over HTTPS with the development CA of <data>/certs, devices may present their
# certificates), then prints the endpoints, the credentials and copy-paste examples. Ctrl-C (or
# SIGTERM) stops everything.
#
# Settings (environment; the README's "The two commands" lists them too):
#   IOTJOBS_CONTROL_LISTEN  127.0.0.1:9080   control plane (iotjobsd's own variable; port 0 picks one)
#   IOTJOBS_JOBS_LISTEN     127.0.0.1:9081   jobs data plane (iotjobsd's own variable; port 0 picks one)
#   IOTJOBS_MQTT_PORT       1883             Mosquitto's password listener for iotjobsd (127.0.0.1)
#   IOTJOBS_DEVICE_PORT     8883             Mosquitto's mTLS listener for devices (127.0.0.1)
#   IOTJOBS_S3_PORT         9000             the local S3 store (moto's server, 127.0.0.1)
#   IOTJOBS_S3_ENDPOINT     (none)           another S3-compatible store instead of the local one
#   IOTJOBS_DATA_DIR        ./data           IOTJOBS_CREDENTIALS (<data>/credentials), IOTJOBS_REGION
#   IOTJOBS_BUILD_DIR       ./build          IOTJOBS_NO_BUILD=1 runs the binaries there as they are
# Every other IOTJOBS_<NAME> reaches iotjobsd as its flag --<name> (e.g. IOTJOBS_LOG_LEVEL=debug).
# IOTJOBS_MQTT is refused: iotjobsd talks to the Mosquitto started here.
# Every port is checked before anything starts; a busy one stops the script with one line naming
# the port and the variable that moves it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

die() { echo "run.sh: $*" >&2; exit 1; }

# --- settings ---------------------------------------------------------------------------------
for old in CONTROL_PORT JOBS_PORT; do  # names of earlier versions: say so rather than ignore them
  name="IOTJOBS_$old"
  [ -z "${!name:-}" ] || die "$name is no longer read: set IOTJOBS_${old%_PORT}_LISTEN=127.0.0.1:${!name}"
done
[ -z "${IOTJOBS_MQTT:-}" ] ||
  die "IOTJOBS_MQTT is set, but iotjobsd uses the Mosquitto this script starts (move it with IOTJOBS_MQTT_PORT); unset IOTJOBS_MQTT"
control_listen="${IOTJOBS_CONTROL_LISTEN:-127.0.0.1:9080}"
jobs_listen="${IOTJOBS_JOBS_LISTEN:-127.0.0.1:9081}"
mqtt_port="${IOTJOBS_MQTT_PORT:-1883}"
device_port="${IOTJOBS_DEVICE_PORT:-8883}"
s3_port="${IOTJOBS_S3_PORT:-9000}"
s3_endpoint="${IOTJOBS_S3_ENDPOINT:-}"
region="${IOTJOBS_REGION:-us-east-1}"
build="${IOTJOBS_BUILD_DIR:-$root/build}"

# HOST:PORT of a listen variable: listen_split NAME VALUE sets host and port.
listen_split() {
  [[ $2 =~ ^(.+):([0-9]{1,5})$ ]] || die "$1='$2' is not HOST:PORT (e.g. 127.0.0.1:9080)"
  host=${BASH_REMATCH[1]} port=${BASH_REMATCH[2]}
}
listen_split IOTJOBS_CONTROL_LISTEN "$control_listen"
control_host=$host control_port=$port
listen_split IOTJOBS_JOBS_LISTEN "$jobs_listen"
jobs_host=$host jobs_port=$port
for v in IOTJOBS_MQTT_PORT:$mqtt_port IOTJOBS_DEVICE_PORT:$device_port IOTJOBS_S3_PORT:$s3_port; do
  [[ ${v#*:} =~ ^[0-9]{1,5}$ ]] || die "${v%%:*}='${v#*:}' is not a port number"
done

# One "VARIABLE HOST PORT what" line per port this run listens on.
port_specs() {
  echo "IOTJOBS_CONTROL_LISTEN $control_host $control_port the control plane"
  echo "IOTJOBS_JOBS_LISTEN $jobs_host $jobs_port the jobs data plane"
  echo "IOTJOBS_MQTT_PORT 127.0.0.1 $mqtt_port Mosquitto's listener for iotjobsd"
  echo "IOTJOBS_DEVICE_PORT 127.0.0.1 $device_port Mosquitto's mTLS listener for devices"
  [ -n "$s3_endpoint" ] || ! have_moto || echo "IOTJOBS_S3_PORT 127.0.0.1 $s3_port the local S3 store"
}
# True when moto (the local S3 store) is importable; deps.sh says how to get it.
have_moto() { python3 -c 'import importlib.util as u, sys; sys.exit(u.find_spec("moto") is None)' 2>/dev/null; }
# Every port valid, distinct and free to bind (as the servers bind: SO_REUSEADDR), else one line
# naming the port and the variable that moves it.
check_ports() {
  port_specs | python3 -c '
import errno, socket, sys
seen = {}
for line in sys.stdin:
    var, host, port, what = line.rstrip("\n").split(" ", 3)
    port = int(port)
    listen_var = var.endswith("_LISTEN")
    move = f"{var}={host}:PORT" if listen_var else f"{var}=PORT"
    if port > 65535 or (port == 0 and not listen_var):
        sys.exit(f"run.sh: {var}: port {port} is not a port number (1-65535)")
    if port == 0:
        continue  # iotjobsd picks one
    if port in seen:
        sys.exit(f"run.sh: port {port} is set twice, by {seen[port]} and {var}; move one ({move})")
    seen[port] = var
    bind_host = host.strip("[]")
    try:
        infos = socket.getaddrinfo(bind_host, port, type=socket.SOCK_STREAM)
    except OSError as e:
        sys.exit(f"run.sh: {var}: cannot resolve host {host!r} ({e.strerror})")
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                sys.exit(f"run.sh: port {port} ({what}) is already in use; move it with {move}")
            sys.exit(f"run.sh: {var}: cannot listen on {host}:{port} ({e.strerror})")
'
}
# Before anything else (when python3 is already there), so a busy port fails in well under a second.
if command -v python3 >/dev/null 2>&1; then check_ports; fi

# --- dependencies and build ------------------------------------------------------------------
"$root/scripts/deps.sh"
if [ "${IOTJOBS_NO_BUILD:-0}" = 1 ]; then
  for b in src/server/iotjobsd src/cli/iotjobs; do
    [ -x "$build/$b" ] || die "IOTJOBS_NO_BUILD=1 but $build/$b is missing (build it, or unset IOTJOBS_NO_BUILD)"
  done
  build="$(cd "$build" && pwd)"
else
  mkdir -p "$build"
  build="$(cd "$build" && pwd)"
  echo "building iotjobsd (Release) in $build..."
  IOTJOBS_BUILD_DIR="$build" "$root/scripts/build.sh" iotjobsd iotjobs >/dev/null
fi
bin="$build/src/server/iotjobsd"
cli="$build/src/cli/iotjobs"
mosquitto_bin="$(command -v mosquitto || echo /usr/sbin/mosquitto)"
check_ports  # again: the build may have taken minutes

data="$(mkdir -p "${IOTJOBS_DATA_DIR:-$root/data}" && cd "${IOTJOBS_DATA_DIR:-$root/data}" && pwd)"
creds="${IOTJOBS_CREDENTIALS:-$data/credentials}"
rand() { head -c 64 /dev/urandom | base64 | tr -dc "$1" | head -c "$2"; }

# Credentials: one key pair, kept across runs. Every pair in the file is accepted.
if [ ! -f "$creds" ]; then
  (
    umask 077
    cat >"$creds" <<CRED
[default]
aws_access_key_id = AKIA$(rand 'A-Z0-9' 16)
aws_secret_access_key = $(rand 'A-Za-z0-9' 40)
CRED
  )
fi
creds="$(cd "$(dirname "$creds")" && pwd)/$(basename "$creds")"
# An AWS CLI config for this endpoint. ca_bundle: the development CA that signed iotjobsd's
# certificate (AWS CLI v1 and v2, boto3 and botocore read it from the config file);
# cli_follow_urlparam = false stops AWS CLI v1 from downloading https:// parameter values (e.g.
# --document-source) itself; cli_pager= keeps AWS CLI v2 from paging its output.
cat >"$data/aws-config" <<CONF
[default]
region = $region
output = json
ca_bundle = $data/certs/ca.crt
cli_follow_urlparam = false
cli_pager =
CONF
# The examples' ids carry this run's number, so they are new on every run over the same data.
run=$(($(cat "$data/runs" 2>/dev/null || echo 0) + 1))
echo "$run" >"$data/runs"

pids=() daemon="" tee_pid=""
# Stops what this script started, by pid: iotjobsd first (it leaves the broker cleanly), then the
# rest; each is waited for, so nothing outlives the script.
cleanup() {
  trap - EXIT INT TERM
  if [ -n "$daemon" ]; then
    kill -TERM "$daemon" 2>/dev/null || true
    wait "$daemon" 2>/dev/null || true
  fi
  [ -z "$tee_pid" ] || wait "$tee_pid" 2>/dev/null || true
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 0' INT TERM

# log_tail NAME LOG...: the last lines of a server's logs, on the console.
log_tail() {
  local name=$1 log
  shift
  for log in "$@"; do
    [ -s "$log" ] || continue
    echo "run.sh: $name: last lines of $log:" >&2
    tail -n 15 "$log" | sed 's/^/    /' >&2
  done
}
# wait_listening PID PORT SECONDS NAME LOG...: until PORT accepts a connection; when the process
# exits or the time is up, its logs' tails go to the console and the script stops.
wait_listening() {
  local pid=$1 port=$2 seconds=$3 name=$4
  shift 4
  local deadline=$((SECONDS + seconds))
  while ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log_tail "$name" "$@"
      die "$name exited during start-up (port $port; logs above)"
    fi
    [ "$SECONDS" -lt "$deadline" ] || { log_tail "$name" "$@"; die "$name did not listen on port $port within ${seconds}s (logs above)"; }
    sleep 0.05
  done
}

# Mosquitto: a password listener on loopback for iotjobsd, and an mTLS listener for devices whose
# certificate CN is their thing name; the ACL confines each device to $aws/things/<CN>/jobs/#.
# On the device listener the CN is also the client id (use_username_as_clientid): a device cannot
# take over iotjobsd's session (its client id, iotjobsd.service, is no thing name: '.' is not
# allowed in one) nor another device's, whatever client id it asks for. Sessions unused for 7 days
# (AWS's longest persistent-session expiry) are removed, with what was queued for them.
# Device certificates: scripts/dev-certs.sh "$data/certs" THING (the banner shows how). The same
# CA and server certificate (127.0.0.1 and localhost) serve iotjobsd's HTTPS listeners.
mkdir -p "$data/mosquitto"
"$root/scripts/dev-certs.sh" "$data/certs" >/dev/null
printf 'pattern readwrite $aws/things/%%u/jobs/#\n' >"$data/mosquitto/acl"
if [ ! -f "$data/mosquitto/passwd" ]; then
  mqtt_pass="$(rand 'A-Za-z0-9' 24)"
  echo "$mqtt_pass" >"$data/mosquitto/iotjobsd.pass"
  chmod 600 "$data/mosquitto/iotjobsd.pass"
  mosquitto_passwd -b -c "$data/mosquitto/passwd" iotjobsd "$mqtt_pass" 2>/dev/null
fi
mqtt_pass="$(cat "$data/mosquitto/iotjobsd.pass")"
cat >"$data/mosquitto/mosquitto.conf" <<CONF
per_listener_settings true
user $(id -un)
# Small replies go out at once (no Nagle delay), and a busy iotjobsd's queue is not cut at 1,000.
set_tcp_nodelay true
max_queued_messages 100000
persistent_client_expiration 7d
persistence true
persistence_location $data/mosquitto/
log_dest file $data/mosquitto/mosquitto.log
listener $mqtt_port 127.0.0.1
allow_anonymous false
password_file $data/mosquitto/passwd

listener $device_port 127.0.0.1
allow_anonymous false
require_certificate true
use_identity_as_username true
use_username_as_clientid true
cafile $data/certs/ca.crt
certfile $data/certs/server.crt
keyfile $data/certs/server.key
acl_file $data/mosquitto/acl
CONF
# This run's Mosquitto log starts empty (the previous one is kept as mosquitto.log.1), so its tail
# on a failure is this run's.
[ ! -f "$data/mosquitto/mosquitto.log" ] || mv -f "$data/mosquitto/mosquitto.log" "$data/mosquitto/mosquitto.log.1"
"$mosquitto_bin" -c "$data/mosquitto/mosquitto.conf" >"$data/mosquitto/mosquitto.out" 2>&1 &
mosquitto_pid=$!
pids+=("$mosquitto_pid")
mosquitto_logs=("$data/mosquitto/mosquitto.out" "$data/mosquitto/mosquitto.log")
# The password listener accepting connections (a bare TCP connection to the TLS listener would log
# a TLS error); Mosquitto exits when any listener fails, which is checked again once iotjobsd is up.
wait_listening "$mosquitto_pid" "$mqtt_port" 10 Mosquitto "${mosquitto_logs[@]}"

# The S3-compatible store for documentSource: IOTJOBS_S3_ENDPOINT, else moto's server.
s3_shown="$s3_endpoint"
if [ -z "$s3_endpoint" ]; then
  if have_moto; then
    python3 -m moto.server -H 127.0.0.1 -p "$s3_port" >"$data/moto-s3.log" 2>&1 &
    moto_pid=$!
    pids+=("$moto_pid")
    wait_listening "$moto_pid" "$s3_port" 60 "the local S3 store (moto)" "$data/moto-s3.log"
    s3_endpoint="http://127.0.0.1:$s3_port"
    s3_shown="$s3_endpoint  (moto's server, in memory)"
  else
    s3_shown="none: moto is not installed (see scripts/deps.sh), so documentSource is unavailable"
    echo "run.sh: no local S3 store: moto is not installed, so documentSource is unavailable (IOTJOBS_S3_ENDPOINT=URL names another S3-compatible store)" >&2
  fi
fi

# iotjobsd: stdout (the ready line) to iotjobsd.out, stderr (its log) to the console and iotjobsd.log.
# Both listeners serve HTTPS with the development CA's server certificate; with --device-ca a device
# presenting a certificate of that CA is the thing its CN names, on the jobs data plane only.
# tee ignores Ctrl-C and SIGTERM: it ends when iotjobsd closes its stderr, after its last line.
exec 4> >(trap '' INT TERM; exec tee -a "$data/iotjobsd.log" >&2)
tee_pid=$!
# The broker URL (its password) goes in the environment, readable by this user only, not in ps.
IOTJOBS_MQTT="mqtt://iotjobsd:$mqtt_pass@127.0.0.1:$mqtt_port" \
  "$bin" --data-dir "$data" --credentials "$creds" --region "$region" \
  --control-listen "$control_listen" --jobs-listen "$jobs_listen" \
  --tls-cert "$data/certs/server.crt" --tls-key "$data/certs/server.key" \
  --device-ca "$data/certs/ca.crt" \
  ${s3_endpoint:+--s3-endpoint "$s3_endpoint"} >"$data/iotjobsd.out" 2>&4 &
daemon=$!
exec 4>&-
ready=""
for _ in $(seq 1 300); do
  ready="$(grep -m1 '^iotjobsd ready' "$data/iotjobsd.out" 2>/dev/null)" && break
  kill -0 "$daemon" 2>/dev/null || die "iotjobsd failed to start (its log is above, and in $data/iotjobsd.log)"
  sleep 0.1
done
[ -n "$ready" ] || die "iotjobsd did not print its ready line within 30s (log: $data/iotjobsd.log)"
kill -0 "$mosquitto_pid" 2>/dev/null || { log_tail Mosquitto "${mosquitto_logs[@]}"; die "Mosquitto exited during start-up (logs above)"; }

# The endpoints as iotjobsd bound them (port 0 picks one); a wildcard host is reached on loopback.
endpoint_of() {
  local url
  url="$(sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$ready")"
  sed -e 's#//0\.0\.0\.0:#//127.0.0.1:#' -e 's#//\[::\]:#//127.0.0.1:#' -e 's#//:#//127.0.0.1:#' <<<"$url"
}
endpoint="$(endpoint_of control)"
jobs_endpoint="$(endpoint_of jobs)"
account="$(sed -n 's/.* account=\([^ ]*\).*/\1/p' <<<"$ready")"

# The banner. Each example block below runs as pasted into a fresh shell, in the order shown
# (tests/e2e/test_run_command.py runs every block exactly so). Blocks start with "  # N. ".
n=$run
env_line="export AWS_SHARED_CREDENTIALS_FILE=$creds AWS_CONFIG_FILE=$data/aws-config"
dev="device-$n" job="job-$n" hdev="https-device-$n" hjob="https-job-$n"
cat <<BANNER

iotjobs is running.
  control plane (aws iot)  $endpoint  (HTTPS; CA $data/certs/ca.crt, ca_bundle in aws-config)
  jobs data plane          $jobs_endpoint  (iot-jobs-data: SigV4, or a device certificate, CN = thing name)
  MQTT for devices (mTLS)  mqtts://127.0.0.1:$device_port  (client certificate CN = thing name; CA $data/certs/ca.crt)
  MQTT for iotjobsd        mqtt://127.0.0.1:$mqtt_port  (user iotjobsd, password in $data/mosquitto/iotjobsd.pass)
  S3-compatible store      $s3_shown
  data                     $data (SQLite: iotjobs.db)
  credentials              $creds (SigV4; every key pair in it is accepted)

Try it: paste each block into a fresh shell, in this order (the ids carry this run's number, $n).

  # 1. a job template, through the AWS CLI
  $env_line
  aws iot create-job-template --endpoint-url $endpoint --job-template-id welcome-$n \\
      --description "My first template" --document '{"operation":"reboot"}' \\
      --timeout-config inProgressTimeoutInMinutes=60
  aws iot describe-job-template --endpoint-url $endpoint --job-template-id welcome-$n
  aws iot list-job-templates --endpoint-url $endpoint

  # 2. two devices: register the things, issue their certificates, give each a job
  $env_line
  aws iot create-thing --endpoint-url $endpoint --thing-name $dev
  aws iot create-thing --endpoint-url $endpoint --thing-name $hdev
  $root/scripts/dev-certs.sh $data/certs $dev $hdev
  aws iot create-job --endpoint-url $endpoint --job-id $job --document '{"operation":"reboot"}' \\
      --targets arn:aws:iot:$region:$account:thing/$dev
  aws iot create-job --endpoint-url $endpoint --job-id $hjob --document '{"operation":"reboot"}' \\
      --targets arn:aws:iot:$region:$account:thing/$hdev

  # 3. the device runs its job over MQTT (mTLS): subscribe to the replies (a persistent session,
  #    QoS 1, keeps them until read), start the next job, then report it SUCCEEDED
  $env_line
  d="-h 127.0.0.1 -p $device_port --cafile $data/certs/ca.crt --cert $data/certs/$dev.crt \\
     --key $data/certs/$dev.key -i $dev -c -q 1"
  t='\$aws/things/$dev/jobs'
  mosquitto_sub \$d -E -t "\$t/start-next/accepted" -t "\$t/start-next/rejected" \\
      -t "\$t/$job/update/accepted" -t "\$t/$job/update/rejected"
  mosquitto_pub \$d -t "\$t/start-next" -m '{"clientToken":"$dev"}'
  reply=\$(mosquitto_sub \$d -C 1 -W 10 -v -t "\$t/start-next/accepted" -t "\$t/start-next/rejected")
  echo "\$reply"
  version=\$(grep -o '"versionNumber":[0-9]*' <<<"\$reply" | cut -d: -f2)
  mosquitto_pub \$d -t "\$t/$job/update" -m "{\\"status\\":\\"SUCCEEDED\\",\\"expectedVersion\\":\$version}"
  mosquitto_sub \$d -C 1 -W 10 -v -t "\$t/$job/update/accepted" -t "\$t/$job/update/rejected"
  aws iot describe-job-execution --endpoint-url $endpoint --job-id $job --thing-name $dev \\
      --query execution.status

  # 4. the other device runs its job over HTTPS, its certificate its only credential (curl):
  #    its pending jobs, start the next one, then report it SUCCEEDED
  $env_line
  c="-sS --fail-with-body -w \\n --cacert $data/certs/ca.crt \\
     --cert $data/certs/$hdev.crt --key $data/certs/$hdev.key"
  curl \$c $jobs_endpoint/things/$hdev/jobs
  reply=\$(curl \$c -X PUT -d '{}' '$jobs_endpoint/things/$hdev/jobs/\$next')
  echo "\$reply"
  version=\$(grep -o '"versionNumber":[0-9]*' <<<"\$reply" | cut -d: -f2)
  curl \$c -X POST -d "{\\"status\\":\\"SUCCEEDED\\",\\"expectedVersion\\":\$version}" \\
      $jobs_endpoint/things/$hdev/jobs/$hjob
  aws iot describe-job-execution --endpoint-url $endpoint --job-id $hjob --thing-name $hdev \\
      --query execution.status

  # 5. a simulated fleet: 20 devices with certificates run a job (90% succeed, 10% fail)
  $env_line
  seq -f 'fleet$n-%g' 0 19 | xargs -P 4 -I{} aws iot create-thing --endpoint-url $endpoint --thing-name {} >/dev/null
  $root/scripts/dev-certs.sh $data/certs \$(seq -f 'fleet$n-%g' 0 19) >/dev/null
  aws iot create-job --endpoint-url $endpoint --job-id fleet-$n --document '{"operation":"update"}' \\
      --targets \$(seq -f 'arn:aws:iot:$region:$account:thing/fleet$n-%g' 0 19)
  $cli fleet --port $device_port --cafile $data/certs/ca.crt \\
      --cert-dir $data/certs --prefix fleet$n- -n 20 --profile succeed=90,fail=10 --run-time uniform:1s-3s --expect 20
BANNER
if [ -n "$s3_endpoint" ]; then
  cat <<BANNER

  # 6. a template whose document lives in S3 (fetched once, at creation)
  $env_line
  echo '{"operation":"install","url":"\${aws:iot:s3-presigned-url:https://s3.amazonaws.com/firmware/v2.bin}"}' \\
      > $data/job-document.json
  aws s3api create-bucket --endpoint-url $s3_endpoint --bucket iotjobs-examples
  aws s3 cp --endpoint-url $s3_endpoint $data/job-document.json s3://iotjobs-examples/job-document-$n.json
  aws iot create-job-template --endpoint-url $endpoint --job-template-id from-s3-$n \\
      --description "document from S3" --document-source https://s3.amazonaws.com/iotjobs-examples/job-document-$n.json
BANNER
fi
echo
echo "Ctrl-C stops iotjobsd, Mosquitto and the S3 store."
wait "$daemon"
