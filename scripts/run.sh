#!/usr/bin/env bash
# Runs iotjobs locally: installs dependencies, builds (Release), starts a local Mosquitto and
# iotjobsd (SQLite under ./data), prints the endpoints, the credentials and a copy-paste example.
# Ctrl-C (or SIGTERM) stops everything gracefully. Settings (environment):
#   IOTJOBS_DATA_DIR (./data)  IOTJOBS_CONTROL_PORT (9080)  IOTJOBS_JOBS_PORT (9081)
#   IOTJOBS_MQTT_PORT (1883)   IOTJOBS_DEVICE_PORT (8883, the mTLS listener for devices)
#   IOTJOBS_S3_ENDPOINT (default: a local moto S3 server on 9000, when
#   moto is installed)         IOTJOBS_REGION (us-east-1)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data="$(mkdir -p "${IOTJOBS_DATA_DIR:-$root/data}" && cd "${IOTJOBS_DATA_DIR:-$root/data}" && pwd)"
control_port="${IOTJOBS_CONTROL_PORT:-9080}"
jobs_port="${IOTJOBS_JOBS_PORT:-9081}"
mqtt_port="${IOTJOBS_MQTT_PORT:-1883}"
device_port="${IOTJOBS_DEVICE_PORT:-8883}"
region="${IOTJOBS_REGION:-us-east-1}"

"$root/scripts/deps.sh"
echo "building iotjobsd (Release)..."
"$root/scripts/build.sh" iotjobsd iotjobs >/dev/null
bin="${IOTJOBS_BUILD_DIR:-$root/build}/src/server/iotjobsd"

rand() { head -c 64 /dev/urandom | base64 | tr -dc "$1" | head -c "$2"; }

# Credentials: one key pair, kept across runs. Every pair in the file is accepted.
if [ ! -f "$data/credentials" ]; then
  umask 077
  cat >"$data/credentials" <<CRED
[default]
aws_access_key_id = AKIA$(rand 'A-Z0-9' 16)
aws_secret_access_key = $(rand 'A-Za-z0-9' 40)
CRED
  umask 022
fi
# An AWS CLI config for this endpoint. cli_follow_urlparam = false stops AWS CLI v1 from
# downloading https:// parameter values (e.g. --document-source) itself.
cat >"$data/aws-config" <<CONF
[default]
region = $region
output = json
cli_follow_urlparam = false
CONF

pids=()
cleanup() {
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 0' INT TERM

# Mosquitto: a password listener on loopback for iotjobsd, and an mTLS listener for devices whose
# certificate CN is their thing name; the ACL confines each device to $aws/things/<CN>/jobs/#.
# On the device listener the CN is also the client id (use_username_as_clientid): a device cannot
# take over iotjobsd's session (its client id, iotjobsd.service, is no thing name: '.' is not
# allowed in one) nor another device's, whatever client id it asks for. Sessions unused for 7 days
# (AWS's longest persistent-session expiry) are removed, with what was queued for them.
# Device certificates: scripts/dev-certs.sh "$data/certs" THING (the banner shows how).
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
mosquitto -c "$data/mosquitto/mosquitto.conf" &
pids+=($!)

# An S3-compatible store for documentSource: the given endpoint, else moto's server when present.
s3_endpoint="${IOTJOBS_S3_ENDPOINT:-}"
if [ -z "$s3_endpoint" ] && python3 -c 'import moto.server' 2>/dev/null; then
  python3 -m moto.server -H 127.0.0.1 -p 9000 >"$data/moto-s3.log" 2>&1 &
  pids+=($!)
  s3_endpoint="http://127.0.0.1:9000"
fi

"$bin" --data-dir "$data" --credentials "$data/credentials" --region "$region" \
  --control-listen "127.0.0.1:$control_port" --jobs-listen "127.0.0.1:$jobs_port" \
  --mqtt "mqtt://iotjobsd:$mqtt_pass@127.0.0.1:$mqtt_port" \
  ${s3_endpoint:+--s3-endpoint "$s3_endpoint"} >"$data/iotjobsd.out" 2> >(tee -a "$data/iotjobsd.log" >&2) &
daemon=$!
pids+=($daemon)
for _ in $(seq 1 300); do
  grep -q '^iotjobsd ready' "$data/iotjobsd.out" 2>/dev/null && break
  kill -0 "$daemon" 2>/dev/null || { echo "iotjobsd failed to start (see above)" >&2; exit 1; }
  sleep 0.1
done

endpoint="http://127.0.0.1:$control_port"
cat <<BANNER

iotjobs is running.
  control plane (aws iot)  $endpoint
  jobs data plane (HTTPS)  http://127.0.0.1:$jobs_port  (service iot-jobs-data)
  MQTT for devices (mTLS)  mqtts://127.0.0.1:$device_port  (client certificate CN = thing name; CA $data/certs/ca.crt)
  MQTT for iotjobsd        mqtt://127.0.0.1:$mqtt_port  (user iotjobsd, password in $data/mosquitto/iotjobsd.pass)
  S3-compatible store      ${s3_endpoint:-none (set IOTJOBS_S3_ENDPOINT for documentSource)}
  data                     $data (SQLite: iotjobs.db)
  credentials              $data/credentials (SigV4; every key pair in it is accepted)

Try it (copy-paste into another shell):

  export AWS_SHARED_CREDENTIALS_FILE=$data/credentials AWS_CONFIG_FILE=$data/aws-config
  aws iot create-job-template --endpoint-url $endpoint --job-template-id hello \\
      --description "My first template" --document '{"operation":"reboot"}' \\
      --timeout-config inProgressTimeoutInMinutes=60
  aws iot describe-job-template --endpoint-url $endpoint --job-template-id hello
  aws iot list-job-templates --endpoint-url $endpoint

  # a device: register it, issue its certificate, listen for jobs over mTLS
  aws iot create-thing --endpoint-url $endpoint --thing-name dev1
  $root/scripts/dev-certs.sh $data/certs dev1
  mosquitto_sub -h 127.0.0.1 -p $device_port --cafile $data/certs/ca.crt \\
      --cert $data/certs/dev1.crt --key $data/certs/dev1.key -t '\$aws/things/dev1/jobs/#' -v &
  aws iot create-job --endpoint-url $endpoint --job-id first --document '{"operation":"reboot"}' \\
      --targets arn:aws:iot:$region:123456789012:thing/dev1

  # a simulated fleet: 20 devices with certificates run a job (90% succeed, 10% fail)
  for i in \$(seq 0 19); do aws iot create-thing --endpoint-url $endpoint --thing-name sim-\$i >/dev/null; done
  $root/scripts/dev-certs.sh $data/certs \$(seq -f 'sim-%g' 0 19) >/dev/null
  aws iot create-job --endpoint-url $endpoint --job-id fleet-1 --document '{"operation":"update"}' \\
      --targets \$(seq -f 'arn:aws:iot:$region:123456789012:thing/sim-%g' 0 19)
  ${IOTJOBS_BUILD_DIR:-$root/build}/src/cli/iotjobs fleet --port $device_port --cafile $data/certs/ca.crt \\
      --cert-dir $data/certs --prefix sim- -n 20 --profile succeed=90,fail=10 --run-time uniform:1s-3s --expect 20
BANNER
if [ -n "$s3_endpoint" ]; then
  cat <<BANNER

  # a template whose document lives in S3 (fetched once, at creation):
  echo '{"operation":"install","url":"\${aws:iot:s3-presigned-url:https://s3.amazonaws.com/firmware/v2.bin}"}' > /tmp/job.json
  aws s3api create-bucket --endpoint-url $s3_endpoint --bucket my-bucket
  aws s3 cp --endpoint-url $s3_endpoint /tmp/job.json s3://my-bucket/job-document.json
  aws iot create-job-template --endpoint-url $endpoint --job-template-id from-s3 \\
      --description "document from S3" --document-source https://s3.amazonaws.com/my-bucket/job-document.json
BANNER
fi
echo
echo "Ctrl-C stops iotjobsd and Mosquitto."
wait "$daemon"
