#!/usr/bin/env python3
"""Crash-and-fault campaign driver (run by bench/chaos.sh, which builds the binaries and starts
moto's S3 server). Every process is on loopback, started here and stopped here by pid.

`run` prints one JSON object. It starts Mosquitto (bench/devices.py's set-up) and iotjobsd
(SQLite, durable, --mqtt, fixed ports so a restart keeps its addresses), then:
  ledger   a writer thread, running through every kill below, that creates things and jobs on the
           control plane and drives executions QUEUED → IN_PROGRESS → SUCCEEDED through the HTTP
           data plane (boto3 `iot-jobs-data`, expectedVersion on every update). Every write the
           service acknowledged goes into a client-side ledger; nothing else does.
  fleet    `iotjobs fleet` (D devices, succeed/fail/hang, progress steps, reconnects) runs jobs
           with retries (FAILED, 2) and an in-progress timeout back to back, while iotjobsd is
           killed (-9) at random instants and Mosquitto is killed and restarted on its port;
           at the end the fleet's outcomes must equal jobProcessDetails (failures that were
           retried counted through each execution's retryAttempt).
  registration  StartThingRegistrationTask (L lines from moto's S3) killed at random instants
           (once the task has stored a share of its lines drawn from the seed); every task must
           complete with every thing in its group, once.
  materialise   CreateJob on a group of M things at a paced rollout, killed at random instants;
           every job must end with exactly one execution per thing.
  disk-full      a second iotjobsd whose data dir is on a small filesystem (tmpfs, else a loop
           -mounted ext4 image, else RLIMIT_FSIZE): writes until the disk is full, then space is
           given back; requests must fail with a clear error, nothing acknowledged may be lost,
           and writes must succeed again.
After each kill, recovery is timed from the kill to the ready line (HTTP) and to a device's
start-next answered over MQTT (a probe client); MQTT is given --recovery-bound-s, then counted
as not back (and iotjobsd restarted once more so the campaign can go on). At the end, after one
last kill -9 and restart, the ledger is compared with DescribeJob / DescribeThing /
DescribeJobExecution.

`write` prints the JSON as RELIABILITY.md's section between <!-- chaos:begin --> and
<!-- chaos:end --> (chaos.sh writes it through bench/bench_md.py).
"""
import argparse
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

TERMINAL = {"SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT", "REMOVED", "CANCELED"}
REGION = "us-east-1"
CLEAR_DISK_ERROR = re.compile(r"disk|space|full|too large|EFBIG|ENOSPC|quota", re.I)


def log(msg):
    print(f"[chaos] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Pure parts (bench/tests/test_chaos.py)


def percentile(values, p):
    """Nearest-rank percentile of unsorted values; None for none."""
    if not values:
        return None
    s = sorted(values)
    k = -(-p * len(s) // 100) - 1  # ceil(p/100 * n) - 1, in integers
    return s[max(0, min(len(s) - 1, int(k)))]


def summarize(values):
    """{"n", "p50", "p99", "max"} of a list of seconds (None entries are left out)."""
    v = [x for x in values if x is not None]
    return {"n": len(v), "p50": percentile(v, 50), "p99": percentile(v, 99),
            "max": max(v) if v else None}


class Ledger:
    """Every write the service acknowledged, as the client saw it. Thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.things = set()     # CreateThing acknowledged
        self.jobs = set()       # CreateJob acknowledged
        self.updates = 0        # UpdateJobExecution acknowledged
        self.executions = {}    # (thing, job) -> (version, status, statusDetails) of the last ack

    def thing(self, name):
        with self.lock:
            self.things.add(name)

    def job(self, job_id):
        with self.lock:
            self.jobs.add(job_id)

    def update(self, thing, job, version, status, details):
        with self.lock:
            self.updates += 1
            prev = self.executions.get((thing, job))
            if prev is None or version >= prev[0]:
                self.executions[(thing, job)] = (version, status, dict(details or {}))

    def acknowledged(self):
        with self.lock:
            return len(self.things) + len(self.jobs) + self.updates


def compare_ledger(ledger, things_present, jobs_present, stored):
    """Compares the ledger with what the store answers after the restart. `things_present` and
    `jobs_present` are sets of names found; `stored` maps (thing, job) to (version, status,
    statusDetails) or None when DescribeJobExecution found nothing. Every update carried
    expectedVersion, so an acknowledged update at version v means the ones before it were there
    too: the stored execution must be at a version >= the last acknowledged one, the same
    status and details at the same version, and the same status once that status was terminal.
    Returns {"checked", "lost", "examples"}: checked counts acknowledged writes (each update
    once), lost the ones the store does not reflect."""
    lost, examples = 0, []

    def miss(what):
        nonlocal lost
        lost += 1
        if len(examples) < 10:
            examples.append(what)

    for name in sorted(ledger.things - things_present):
        miss(f"thing {name} acknowledged, not found")
    for job in sorted(ledger.jobs - jobs_present):
        miss(f"job {job} acknowledged, not found")
    updates_lost = 0
    for key, (version, status, details) in sorted(ledger.executions.items()):
        got = stored.get(key)
        bad = None
        if got is None:
            bad = "not found"
        else:
            gv, gs, gd = got
            if gv < version:
                bad = f"version {gv} < acknowledged {version}"
            elif gv == version and (gs != status or (gd or {}) != details):
                bad = f"version {gv}: {gs} {gd} != acknowledged {status} {details}"
            elif status in TERMINAL and gs != status:
                bad = f"{gs} after acknowledged terminal {status}"
        if bad:
            # The writes of that execution from the first unreflected one on are lost; the
            # ledger keeps the last one only, so count one (the lower bound) and name it.
            updates_lost += 1
            miss(f"execution {key[1]} on {key[0]}: {bad}")
    return {"checked": len(ledger.things) + len(ledger.jobs) + ledger.updates,
            "lost": lost, "updates_lost_at_least": updates_lost, "examples": examples}


def fleet_agreement(fleet, service, retries, update_timeouts=0):
    """The fleet's device-side outcomes against DescribeJob's jobProcessDetails summed over its
    jobs. A FAILED execution that was retried is no longer counted by the service (its thing's
    newest execution is), so fleet failures = service failures + retry attempts; hung devices
    are the service's TIMED_OUT (no retry on timeouts). `agree` is exact equality with nothing
    left open. When they differ, `explained` says whether the service is ahead of the fleet by
    no more than the updates whose reply a device never got (`update_timeouts`: its
    update:timeout errors plus executions it started and never finished): an update committed
    just before a kill -9 is applied, but its reply is lost and the device cannot count it."""
    want = {"succeeded": service["succeeded"], "failed": service["failed"] + retries,
            "rejected": service["rejected"], "hung": service["timed_out"]}
    got = {k: fleet.get(k, 0) for k in want}
    open_ = service["in_progress"] + service["queued"]
    ahead = sum(want[k] - got[k] for k in want)
    explained = all(got[k] <= want[k] for k in want) and ahead <= update_timeouts
    return {"agree": got == want and open_ == 0, "fleet": got, "service_expected": want,
            "service_open": open_, "explained": open_ == 0 and explained,
            "update_timeouts": update_timeouts}


def goal(ok, text):
    return f"✅ {text}" if ok else f"❌ {text}"


def section(r, env):
    """RELIABILITY.md's chaos section, markers included."""
    from bench_md import goal_mark
    rec = r["recoveries"]
    http = summarize([x["http_s"] for x in rec])
    mqtt = summarize([x["mqtt_s"] for x in rec])
    back = sum(1 for x in rec if x["mqtt_s"] is not None)
    faults = r["faults"]
    led = r["ledger"]
    bound = r["recovery_bound_s"]

    def secs(v):
        return "–" if v is None else f"{v:.2f} s"

    kills = sum(v for k, v in faults.items() if k.startswith("kill -9"))
    ag = r["fleet"]["agreement"]
    fleet_mark = ("✅ equal" if ag["agree"] else
                  "✅ equal but for lost replies" if ag["explained"] else "❌ equal")
    random_kills = r["fleet"]["kills"] + r["registration"]["kills"] + r["materialise"]["kills"]
    broker_text = f"{r['fleet']['broker_back']}/{r['fleet']['broker_restarts']}"
    lines = [
        "<!-- chaos:begin -->",
        "## Chaos: crashes and faults",
        "",
        "Written by `bench/chaos.sh`; do not edit by hand, re-run the script.",
        "",
        f"- Command: `{env.get('COMMAND', 'bench/chaos.sh')}`",
        f"- Date: {env.get('DATE', '?')}; commit `{env.get('COMMIT', '?')}`; seed {r['seed']} "
        f"(`--seed {r['seed']}` repeats the instants)",
        f"- Machine: {env.get('NPROC', '?')} cores, {env.get('MODEL', '?')}, Linux "
        f"{env.get('KERNEL', '?')}; {r.get('mosquitto_version', 'mosquitto')}, moto "
        f"{env.get('MOTO_VERSION', '?')} (S3); campaign {r['seconds']:.0f} s",
        f"- Runs: fleet of {r['fleet']['devices']} devices ({r['fleet']['jobs']} job(s) with "
        f"retries on FAILED and an in-progress timeout), {r['registration']['tasks']} "
        f"registration task(s) of {r['registration']['lines']:,} lines, "
        f"{r['materialise']['jobs']} job(s) on a group of {r['materialise']['things']:,} things, "
        f"disk full ({r['disk']['mode']}); a ledger writer through all of them",
        "",
        "| fault injected | count |",
        "|---|--:|",
    ]
    lines += [f"| {k} | {v} |" for k, v in faults.items()]
    fl, rg, mt, dk = r["fleet"], r["registration"], r["materialise"], r["disk"]
    lines += [
        "",
        "| check | result | goal |",
        "|---|---|---|",
        f"| acknowledged writes checked / lost (things, jobs, execution updates) | "
        f"{led['checked']:,} / {led['lost']} | "
        f"{goal_mark(led['lost'], '≤', 0, str(led['lost']) + ' lost', '0 lost')} |",
        f"| recovery after kill -9: ready line (HTTP), p50 / p99 / max over {http['n']} | "
        f"{secs(http['p50'])} / {secs(http['p99'])} / {secs(http['max'])} | – |",
        f"| recovery after kill -9: start-next answered over MQTT, p50 / p99 / max over "
        f"{mqtt['n']} | {secs(mqtt['p50'])} / {secs(mqtt['p99'])} / {secs(mqtt['max'])} | "
        + (goal_mark(mqtt["max"], "≤", bound, "max " + secs(mqtt["max"]), f"{bound:g} s")
           if back == len(rec) else
           goal_mark(None, "≤", bound, f"{len(rec) - back} not back", f"{bound:g} s"))
        + " |",
        f"| MQTT back after every restart (within {bound:g} s) | "
        f"{'yes' if back == len(rec) else 'no'}: {back} of {len(rec)} | "
        f"{goal(back == len(rec), f'{back}/{len(rec)}')} |",
        f"| iotjobsd starts that failed (exited before its ready line) | "
        f"{r['start_failures']} | {goal(r['start_failures'] == 0, '0')} |",
        f"| after Mosquitto restarts: MQTT back (start-next answered); max time | "
        f"{fl['broker_back']} of {fl['broker_restarts']}; "
        f"{secs((fl.get('broker_recovery') or {}).get('max'))} | "
        f"{goal(fl['broker_back'] == fl['broker_restarts'], broker_text)} |",
        f"| fleet's outcomes = jobProcessDetails | fleet {fl['agreement']['fleet']}, service "
        f"{fl['agreement']['service_expected']} (open {fl['agreement']['service_open']})"
        + ("" if fl["agreement"]["agree"] else
           f"; service ahead {'only' if fl['agreement']['explained'] else 'NOT only'} by "
           f"updates whose reply a device never got ({fl['agreement']['update_timeouts']}: "
           "lost in a kill -9 after the commit)")
        + f" | {fleet_mark} |",
        f"| registration tasks Completed with every thing in its group once | "
        f"{rg['complete']} of {rg['tasks']} | {goal(rg['complete'] == rg['tasks'], 'all')} |",
        f"| materialised jobs with exactly one execution per thing | "
        f"{mt['exact']} of {mt['jobs']} | {goal(mt['exact'] == mt['jobs'], 'all')} |",
        f"| disk full: writes refused with a clear error | {dk['refused']} refused; first: "
        f"`{dk['first_error'] or 'none'}` | {goal(dk['clear_error'], 'clear error')} |",
        f"| disk full: acknowledged writes lost / service back when space returned | "
        f"{dk['lost']} of {dk['acknowledged']} / "
        f"{'yes, ' + secs(dk['recovered_s']) if dk['recovered_s'] is not None else 'no'} | "
        f"{goal(dk['lost'] == 0 and dk['recovered_s'] is not None, '0 lost, back')} |",
        "",
        f"Kills: {kills} `kill -9` of iotjobsd, {random_kills} of them at instants drawn from "
        f"the seed ({fl['kills']} while the fleet ran, {rg['kills']} during registration, "
        f"{mt['kills']} during materialisation), the others before the final ledger check and "
        "in the disk-full run; "
        f"{rg['mid_task']} of the registration kills and {mt['mid_job']} of the materialisation "
        "kills found the work unfinished after the restart (the rest landed between tasks/jobs). "
        f"Recovery is timed from the kill to the ready line, and to a probe device's start-next "
        f"answered through Mosquitto; MQTT not back within {bound:g} s counts as a miss and "
        f"iotjobsd is restarted once more (restarts for that: {r['mqtt_remedial_restarts']}"
        + (f"; iotjobsd's last MQTT log lines then: "
           + "; ".join(sorted({" / ".join(x.get("mqtt_log", [])) or "none"
                               for x in rec if x["mqtt_s"] is None})) if back < len(rec) else "")
        + "). "
        f"The ledger: {led['things']:,} things, {led['jobs']:,} jobs and {led['updates']:,} "
        "acknowledged UpdateJobExecution (HTTP data plane, expectedVersion on each) compared with "
        "DescribeThing / DescribeJob / DescribeJobExecution after a last kill -9 and restart"
        + (f"; lost: {'; '.join(led['examples'])}" if led["examples"] else "") + ". "
        f"Fleet: {fl['summary']}. Disk full: {dk['note']}",
        "<!-- chaos:end -->",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# MQTT probe: a minimal MQTT 3.1.1 client (QoS 0), enough for one start-next.


def _mqtt_str(s):
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def _mqtt_packet(kind, body):
    n, rl = len(body), b""
    while True:
        d, n = n % 128, n // 128
        rl += bytes([d | (0x80 if n else 0)])
        if not n:
            break
    return bytes([kind]) + rl + body


class MqttProbe:
    """Connects as the thing `name` (the broker's ACL keys on the user name), subscribes to its
    start-next replies and asks start-next until one is answered."""

    def __init__(self, port, name, client_id, timeout):
        self.name = name
        self.s = socket.create_connection(("127.0.0.1", port), timeout)
        self.s.settimeout(timeout)
        self.buf = b""
        body = _mqtt_str("MQTT") + bytes([4, 0x82]) + struct.pack("!H", 30)
        body += _mqtt_str(client_id) + _mqtt_str(name)
        self.s.sendall(_mqtt_packet(0x10, body))
        kind, payload = self._read()
        if kind != 0x20 or payload[1] != 0:
            raise OSError(f"CONNACK {payload!r}")
        base = f"$aws/things/{name}/jobs/start-next"
        sub = struct.pack("!H", 1) + _mqtt_str(base + "/accepted") + b"\0"
        sub += _mqtt_str(base + "/rejected") + b"\0"
        self.s.sendall(_mqtt_packet(0x82, sub))
        while self._read()[0] != 0x90:
            pass

    def _read(self):
        while True:
            if len(self.buf) >= 2:
                n, mul, i = 0, 1, 1
                while i < len(self.buf) and i <= 4:
                    n += (self.buf[i] & 0x7F) * mul
                    mul *= 128
                    if not self.buf[i] & 0x80:
                        break
                    i += 1
                if i < len(self.buf) and len(self.buf) >= i + 1 + n:
                    kind, body = self.buf[0], self.buf[i + 1:i + 1 + n]
                    self.buf = self.buf[i + 1 + n:]
                    return kind & 0xF0, body
            chunk = self.s.recv(65536)
            if not chunk:
                raise OSError("connection closed")
            self.buf += chunk

    def start_next(self, deadline):
        """Publishes start-next every second until a reply with its token arrives; True when
        answered before `deadline` (monotonic)."""
        topic = f"$aws/things/{self.name}/jobs/start-next"
        k = 0
        while time.monotonic() < deadline:
            k += 1
            token = f"probe-{k}"
            self.s.sendall(_mqtt_packet(0x30, _mqtt_str(topic) + json.dumps(
                {"clientToken": token}).encode()))
            until = min(deadline, time.monotonic() + 1.0)
            while time.monotonic() < until:
                self.s.settimeout(max(0.01, until - time.monotonic()))
                try:
                    kind, body = self._read()
                except socket.timeout:
                    break
                if kind == 0x30:
                    (tl,) = struct.unpack("!H", body[:2])
                    if token.encode() in body[2 + tl:]:
                        return True
        return False

    def close(self):
        try:
            self.s.sendall(b"\xe0\x00")
            self.s.close()
        except OSError:
            pass


def mqtt_answered(port, name, bound_s, seq=[0]):
    """Seconds until start-next for `name` is answered over MQTT, or None within bound_s.
    Reconnects when the broker is not (yet) there."""
    t0 = time.monotonic()
    deadline = t0 + bound_s
    while time.monotonic() < deadline:
        seq[0] += 1
        try:
            p = MqttProbe(port, name, f"{name}-{seq[0]}", 2)
        except OSError:
            time.sleep(0.1)
            continue
        try:
            if p.start_next(deadline):
                return time.monotonic() - t0
        except OSError:
            time.sleep(0.1)
        finally:
            p.close()
    return None


# ---------------------------------------------------------------------------------------------
# Processes


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, what, timeout_s, proc=None):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {proc.returncode}")
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {timeout_s} s waiting for {what}")


class Daemon:
    """iotjobsd on fixed ports (so clients keep their endpoints across restarts); each start logs
    to its own files."""

    def __init__(self, args, work, name, data, mqtt_port=None, extra=(), wrap=()):
        self.args, self.work, self.name, self.data = args, work, name, data
        self.control_port, self.jobs_port = free_port(), free_port()
        self.endpoint = f"http://127.0.0.1:{self.control_port}"
        self.jobs_endpoint = f"http://127.0.0.1:{self.jobs_port}"
        self.mqtt_port, self.extra, self.wrap = mqtt_port, list(extra), list(wrap)
        self.proc = None
        self.starts = 0
        self.start_failures = []

    def cmd(self):
        c = [*self.wrap, self.args.iotjobsd, "--data-dir", self.data,
             "--credentials", self.args.credentials_file,
             "--control-listen", f"127.0.0.1:{self.control_port}",
             "--jobs-listen", f"127.0.0.1:{self.jobs_port}",
             "--max-rollout-per-minute", "100000000", "--log-level", "info", *self.extra]
        if self.mqtt_port:
            c += ["--mqtt", f"mqtt://iotjobsd@127.0.0.1:{self.mqtt_port}",
                  "--mqtt-client-id", self.name]
        if self.args.s3_endpoint:
            c += ["--s3-endpoint", self.args.s3_endpoint, "--s3-timeout-ms", "60000"]
        return c

    def start(self, timeout_s=60, attempts=3):
        """Starts and waits for the ready line; a start that exits first is recorded and tried
        again (up to `attempts`). Returns the monotonic time of the ready line."""
        for _ in range(attempts):
            self.starts += 1
            base = os.path.join(self.work, f"{self.name}-{self.starts}")
            out = open(base + ".out", "w")
            err = open(base + ".err", "w")
            self.proc = subprocess.Popen(self.cmd(), stdout=out, stderr=err)
            out.close()
            err.close()
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                with open(base + ".out") as f:
                    if re.search(r"iotjobsd ready control=\S+ jobs=\S+ ", f.read()):
                        return time.monotonic()
                if self.proc.poll() is not None:
                    break
                time.sleep(0.01)
            if self.proc.poll() is None:
                raise RuntimeError(f"{self.name}: no ready line in {timeout_s} s ({base}.err)")
            with open(base + ".err") as f:
                tail = f.read().strip().splitlines()[-1:] or ["(no output)"]
            self.start_failures.append(f"exit {self.proc.returncode}: {tail[0][:200]}")
            log(f"{self.name} exited {self.proc.returncode} before its ready line: {tail[0][:200]}")
            time.sleep(0.2)
        raise RuntimeError(f"{self.name}: {attempts} starts failed: {self.start_failures[-3:]}")

    def kill9(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        return time.monotonic()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_text(self):
        return open(os.path.join(self.work, f"{self.name}-{self.starts}.err")).read()


class Broker:
    """Mosquitto as bench/devices.py configures it, restartable on the same port."""

    def __init__(self, work, port):
        from devices import Processes, start_broker
        self.work, self.port = work, port
        self.procs = Processes(work)
        self._start = lambda: start_broker(self.procs, work, port)
        self.proc = self._start()

    def restart(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.procs.procs.remove(self.proc)
        t = time.monotonic()
        while True:
            try:
                self.proc = self._start()
                return
            except RuntimeError:  # the port not yet free again
                if time.monotonic() - t > 20:
                    raise
                time.sleep(0.2)

    def stop(self):
        self.procs.stop_all()


# ---------------------------------------------------------------------------------------------
# Clients


def clients(args, d, read_timeout=30):
    import boto3
    from botocore.config import Config
    cfg = Config(retries={"max_attempts": 1}, connect_timeout=3, read_timeout=read_timeout,
                 max_pool_connections=8)
    kw = dict(region_name=REGION, aws_access_key_id=args.access_key,
              aws_secret_access_key=args.secret_key, config=cfg)
    return (boto3.client("iot", endpoint_url=d.endpoint, **kw),
            boto3.client("iot-jobs-data", endpoint_url=d.jobs_endpoint, **kw))


def retrying(call, deadline_s=120, what="call"):
    """Calls until it answers (the service may be restarting); ClientErrors other than
    throttling / unavailability are raised at once."""
    from botocore.exceptions import ClientError
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            return call()
        except ClientError as e:
            code = e.response["Error"]["Code"]
            if code not in ("ServiceUnavailableException", "ThrottlingException",
                            "InternalFailureException", "InternalServerException"):
                raise
            err = e
        except Exception as e:  # connection refused / reset while restarting
            err = e
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: no answer in {deadline_s} s: {err}")
        time.sleep(0.1)


def paginate(call, key, **kw):
    out, token = [], None
    while True:
        page = retrying(lambda: call(**kw, **({"nextToken": token} if token else {})))
        out += page.get(key, [])
        token = page.get("nextToken")
        if not token:
            return out


class LedgerWriter(threading.Thread):
    """Creates things and jobs and runs the jobs' executions through the HTTP data plane, over
    and over, ledgering each acknowledged write."""

    THINGS = 24
    PER_JOB = 6

    def __init__(self, args, d, ledger):
        super().__init__(daemon=True)
        self.args, self.d, self.ledger = args, d, ledger
        self.stop_event = threading.Event()
        self.errors = {}
        self.rounds = 0
        self.things = [f"ledger-{i}" for i in range(self.THINGS)]

    def err(self, kind):
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def setup(self):
        iot, _ = clients(self.args, self.d)
        for t in self.things:
            retrying(lambda: iot.create_thing(thingName=t))
            self.ledger.thing(t)

    def run(self):
        from botocore.exceptions import ClientError
        iot, data = clients(self.args, self.d, read_timeout=15)
        r = 0
        while not self.stop_event.is_set():
            r += 1
            try:
                iot.create_thing(thingName=f"ledger-new-{r}")
                self.ledger.thing(f"ledger-new-{r}")
            except Exception as e:
                self.err(type(e).__name__)
            targets = [self.things[(r * self.PER_JOB + i) % self.THINGS]
                       for i in range(self.PER_JOB)]
            job = f"ledger-job-{r}"
            try:
                iot.create_job(jobId=job, document='{"operation":"ledger"}',
                               targets=[f"arn:aws:iot:{REGION}:123456789012:thing/{t}"
                                        for t in targets])
                self.ledger.job(job)
            except Exception as e:
                self.err(type(e).__name__)
                time.sleep(0.05)
                continue
            for t in targets:
                self.drive(data, t, job, ClientError)
            self.rounds = r

    def drive(self, data, thing, job, ClientError):
        """QUEUED → IN_PROGRESS (2 steps) → SUCCEEDED with expectedVersion, resyncing on
        conflicts; bounded attempts."""
        version, step = None, 0
        for _ in range(400):
            if self.stop_event.is_set():
                return
            try:
                if version is None:
                    ex = data.describe_job_execution(jobId=job, thingName=thing)["execution"]
                    version = ex["versionNumber"]
                    if ex["status"] in TERMINAL:
                        return
                    step = int((ex.get("statusDetails") or {}).get("step", "0"))
                    continue
                status = "IN_PROGRESS" if step < 2 else "SUCCEEDED"
                details = {"step": str(step + 1)}
                out = data.update_job_execution(jobId=job, thingName=thing, status=status,
                                                statusDetails=details, expectedVersion=version,
                                                includeJobExecutionState=True)
                st = out.get("executionState") or {}
                version = st.get("versionNumber", version + 1)
                self.ledger.update(thing, job, version, st.get("status", status),
                                   st.get("statusDetails", details))
                step += 1
                if status == "SUCCEEDED":
                    return
            except ClientError as e:
                self.err(e.response["Error"]["Code"])
                version = None  # resync (conflict, not there yet, or unknown outcome)
                time.sleep(0.05)
            except Exception as e:
                self.err(type(e).__name__)
                version = None
                time.sleep(0.05)
        self.err("gave-up")


def verify_ledger(args, d, ledger):
    iot, data = clients(args, d)
    from botocore.exceptions import ClientError

    def exists(call):
        try:
            retrying(call)
            return True
        except ClientError as e:
            if e.response["Error"]["Code"] == "ResourceNotFoundException":
                return False
            raise

    things = {t for t in ledger.things if exists(lambda t=t: iot.describe_thing(thingName=t))}
    jobs = {j for j in ledger.jobs if exists(lambda j=j: iot.describe_job(jobId=j))}
    stored = {}
    for (thing, job) in ledger.executions:
        try:
            ex = retrying(lambda: data.describe_job_execution(jobId=job, thingName=thing))
            ex = ex["execution"]
            stored[(thing, job)] = (ex["versionNumber"], ex["status"], ex.get("statusDetails", {}))
        except ClientError as e:
            if e.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            stored[(thing, job)] = None
    out = compare_ledger(ledger, things, jobs, stored)
    out.update(things=len(ledger.things), jobs=len(ledger.jobs), updates=ledger.updates)
    return out


# ---------------------------------------------------------------------------------------------
# The campaign


class Campaign:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.recoveries = []
        self.faults = {}
        self.remedial = 0

    def fault(self, kind):
        self.faults[kind] = self.faults.get(kind, 0) + 1

    def recover(self, scenario, t_kill):
        """Restarts iotjobsd after a kill at t_kill; times the ready line and MQTT."""
        d, a = self.d, self.args
        t_ready = d.start()
        http_s = t_ready - t_kill
        m = mqtt_answered(self.broker.port, "chaos-probe", a.recovery_bound_s)
        mqtt_s = None if m is None else http_s + m
        entry = {"scenario": scenario, "http_s": http_s, "mqtt_s": mqtt_s}
        if m is None:  # what iotjobsd said about the broker, for the report
            said = [ln.split("] ", 1)[-1] for ln in d.log_text().splitlines() if "[mqtt]" in ln]
            entry["mqtt_log"] = said[-2:]
        self.recoveries.append(entry)
        log(f"{scenario}: ready {http_s:.2f} s after the kill, MQTT "
            + (f"{mqtt_s:.2f} s" if mqtt_s is not None else
               f"NOT back within {a.recovery_bound_s:g} s"))
        tries = 0
        while m is None and tries < 3:
            # Not hidden: counted above. Restart once more so the campaign can go on.
            tries += 1
            self.remedial += 1
            log(f"{scenario}: restarting iotjobsd to get MQTT back (attempt {tries})")
            d.stop()
            d.start()
            m = mqtt_answered(self.broker.port, "chaos-probe", a.recovery_bound_s)
        if m is None:
            raise RuntimeError("MQTT not back after 3 more restarts")

    def kill_and_recover(self, scenario):
        t = self.d.kill9()
        self.fault(f"kill -9 iotjobsd ({scenario})")
        self.recover(scenario, t)

    # --- fleet ---------------------------------------------------------------------------------

    def fleet(self):
        a = self.args
        n = a.devices
        iot, _ = clients(a, self.d)
        arn = retrying(lambda: iot.create_thing_group(thingGroupName="fleet"))["thingGroupArn"]
        for i in range(n):
            retrying(lambda: iot.create_thing(thingName=f"fleet-{i}"))
            retrying(lambda: iot.add_thing_to_thing_group(thingGroupName="fleet",
                                                          thingName=f"fleet-{i}"))
        ready = os.path.join(self.work, "fleet.ready")
        cmd = [a.iotjobs, "fleet", "--port", str(self.broker.port), "--prefix", "fleet-", "-n",
               str(n), "--profile", "succeed=80,fail=15,hang=5", "--run-time",
               "uniform:300ms-1500ms", "--steps", "2", "--reconnect-share", "0.05",
               "--reconnect-delay", "200ms", "--seed", str(a.seed), "--json", "--progress",
               "never", "--ready-file", ready, "--max-seconds", str(a.fleet_max_s)]
        out = open(os.path.join(self.work, "fleet.out"), "w")
        err = open(os.path.join(self.work, "fleet.err"), "w")
        fleet = subprocess.Popen(cmd, stdout=out, stderr=err)
        self.fleet_proc = fleet
        wait_for(lambda: os.path.exists(ready), "the fleet's devices online", 120, fleet)
        jobs = []

        def new_job():
            jid = f"fleet-job-{len(jobs) + 1}"
            retrying(lambda: iot.create_job(
                jobId=jid, targets=[arn], document='{"operation":"chaos"}',
                targetSelection="SNAPSHOT",
                jobExecutionsRetryConfig={"criteriaList": [
                    {"failureType": "FAILED", "numberOfRetries": 2}]},
                timeoutConfig={"inProgressTimeoutInMinutes": a.timeout_minutes}))
            jobs.append(jid)

        def all_done():
            return all(retrying(lambda j=j: iot.describe_job(jobId=j))["job"]["status"]
                       == "COMPLETED" for j in jobs)

        events = ["kill"] * a.kills_fleet + ["broker"] * a.broker_restarts
        self.rng.shuffle(events)
        new_job()
        broker_back, broker_s = 0, []
        for ev in events:
            time.sleep(self.rng.uniform(0.5, 3.0))
            if all_done():
                new_job()
                time.sleep(self.rng.uniform(0.2, 1.5))
            if ev == "kill":
                self.kill_and_recover("fleet")
            else:
                self.fault("Mosquitto killed (-9) and restarted on its port")
                t = time.monotonic()
                self.broker.restart()
                m = mqtt_answered(self.broker.port, "chaos-probe", a.recovery_bound_s)
                log("broker restart: MQTT " + (f"back {time.monotonic() - t:.2f} s after"
                                                if m is not None else "NOT back"))
                if m is not None:
                    broker_back += 1
                    broker_s.append(time.monotonic() - t)
                else:
                    self.remedial += 1
                    self.d.stop()
                    self.d.start()
        log(f"fleet: {len(jobs)} jobs; waiting for them to complete")
        deadline = time.monotonic() + a.fleet_max_s
        while not all_done() and time.monotonic() < deadline and fleet.poll() is None:
            time.sleep(0.5)
        # A device whose last request went unanswered (its reply lost in a kill) gives up after
        # its request timeout and says so (update:timeout); wait for that before stopping it.
        time.sleep(a.device_timeout_s + 1)
        if fleet.poll() is None:
            fleet.send_signal(signal.SIGTERM)
        fleet.wait(60)
        out.close()
        err.close()
        with open(os.path.join(self.work, "fleet.out")) as f:
            summary = json.load(f)
        svc = {"succeeded": 0, "failed": 0, "rejected": 0, "timed_out": 0, "in_progress": 0,
               "queued": 0}
        retries = 0  # retry attempts of each thing's newest execution (the list holds them all)
        for j in jobs:
            pd = retrying(lambda: iot.describe_job(jobId=j))["job"]["jobProcessDetails"]
            for k, f in (("succeeded", "Succeeded"), ("failed", "Failed"),
                         ("rejected", "Rejected"), ("timed_out", "TimedOut"),
                         ("in_progress", "InProgress"), ("queued", "Queued")):
                svc[k] += pd.get(f"number{'Of'}{f}Things", 0)
            newest = {}
            for e in paginate(iot.list_job_executions_for_job, "executionSummaries", jobId=j,
                              maxResults=250):
                x = e["jobExecutionSummary"]
                if x.get("executionNumber", 0) >= newest.get(e["thingArn"], (0, 0))[0]:
                    newest[e["thingArn"]] = (x.get("executionNumber", 0), x.get("retryAttempt", 0))
            retries += sum(r for _, r in newest.values())
        errs = summary.get("errors") or {}
        o = summary["outcomes"]
        unfinished = o.get("started", 0) - sum(o.get(k, 0) for k in
                                                ("succeeded", "failed", "rejected", "hung"))
        agreement = fleet_agreement(o, svc, retries,
                                    errs.get("update:timeout", 0) + max(0, unfinished))
        log(f"fleet: outcomes {summary['outcomes']}, service {svc}, retries {retries}: "
            f"{'agree' if agreement['agree'] else 'DISAGREE'}")
        return {"devices": n, "jobs": len(jobs), "kills": a.kills_fleet,
                "broker_restarts": a.broker_restarts, "broker_back": broker_back,
                "broker_recovery": summarize(broker_s),
                "agreement": agreement, "service": svc, "retries": retries,
                "outcomes": summary["outcomes"], "errors": errs,
                "summary": f"{summary['outcomes']['succeeded']:,} succeeded, "
                           f"{summary['outcomes']['failed']:,} failed, "
                           f"{summary['outcomes']['hung']:,} hung on the devices, "
                           f"{unfinished} started and not finished when stopped; "
                           f"{retries} retries; device-side errors "
                           + (", ".join(f"{k} {v}" for k, v in sorted(errs.items())) or "none")}

    # --- registration ----------------------------------------------------------------------

    def start_task(self, iot, s3, name, lines, group):
        retrying(lambda: iot.create_thing_group(thingGroupName=group))
        body = "".join(f'{{"ThingName":"{name}-{i:06d}"}}\n' for i in range(lines))
        s3.put_object(Bucket="chaos", Key=f"{name}.jsonl", Body=body.encode())
        tmpl = {"Parameters": {"ThingName": {"Type": "String"}},
                "Resources": {"thing": {"Type": "AWS::IoT::Thing", "Properties": {
                    "ThingName": {"Ref": "ThingName"}, "ThingGroups": [group]}}}}
        return retrying(lambda: iot.start_thing_registration_task(
            templateBody=json.dumps(tmpl), inputFileBucket="chaos", inputFileKey=f"{name}.jsonl",
            roleArn="arn:aws:iam::123456789012:role/chaos"))["taskId"]

    def wait_task(self, iot, task, timeout_s=300):
        deadline = time.monotonic() + timeout_s
        while True:
            t = retrying(lambda: iot.describe_thing_registration_task(taskId=task))
            if t["status"] not in ("InProgress", "Cancelling") or time.monotonic() > deadline:
                return t
            time.sleep(0.2)

    def registration(self):
        a = self.args
        iot, _ = clients(a, self.d)
        tasks = []  # (task id, name, group)
        mid = 0
        for k in range(a.kills_registration):
            if not tasks or retrying(lambda: iot.describe_thing_registration_task(
                    taskId=tasks[-1][0]))["status"] != "InProgress":
                name = f"reg{len(tasks) + 1}"
                tasks.append((self.start_task(iot, self.s3, name, a.reg_lines, f"g-{name}"),
                              name, f"g-{name}"))
            # The instant: once the task has stored a random share of its lines (polled every
            # 20 ms), or after --reg-kill-window-s if it gets there first or ends.
            share = self.rng.uniform(0.02, 0.9)
            until = time.monotonic() + a.reg_kill_window_s
            while time.monotonic() < until:
                t = retrying(lambda: iot.describe_thing_registration_task(taskId=tasks[-1][0]))
                if t["status"] != "InProgress" or t.get("successCount", 0) >= share * a.reg_lines:
                    break
                time.sleep(0.02)
            self.kill_and_recover("registration")
            st = retrying(lambda: iot.describe_thing_registration_task(taskId=tasks[-1][0]))
            if st["status"] == "InProgress":
                mid += 1
        complete = 0
        for task, name, group in tasks:
            t = self.wait_task(iot, task)
            names = paginate(iot.list_things_in_thing_group, "things", thingGroupName=group,
                             maxResults=250)
            want = [f"{name}-{i:06d}" for i in range(a.reg_lines)]
            ok = (t["status"] == "Completed" and t.get("successCount") == a.reg_lines
                  and t.get("failureCount", 0) == 0 and sorted(names) == want)
            complete += ok
            log(f"registration {name}: {t['status']}, success {t.get('successCount')}, failure "
                f"{t.get('failureCount')}, {len(names):,} things in {group} "
                f"({len(set(names)):,} distinct): {'ok' if ok else 'NOT OK'}")
        return {"tasks": len(tasks), "lines": a.reg_lines, "kills": a.kills_registration,
                "complete": complete, "mid_task": mid}

    # --- materialisation -------------------------------------------------------------------

    def materialise(self):
        a = self.args
        iot, _ = clients(a, self.d)
        m = a.group_things
        task = self.start_task(iot, self.s3, "mat", m, "mat")
        t = self.wait_task(iot, task)
        if t["status"] != "Completed" or t.get("successCount") != m:
            raise RuntimeError(f"the materialisation group's registration ended {t}")
        arn = retrying(lambda: iot.describe_thing_group(thingGroupName="mat"))["thingGroupArn"]
        # A rollout paced to about --mat-rate executions per second (service minutes are
        # shortened by --time-scale) keeps the job materialising for a few seconds.
        per_minute = max(1, int(a.mat_rate * 60 / a.time_scale))
        jobs, mid = [], 0
        for k in range(a.kills_materialise):
            jid = f"mat-job-{k + 1}"
            retrying(lambda: iot.create_job(
                jobId=jid, targets=[arn], document='{"operation":"mat"}',
                targetSelection="SNAPSHOT",
                jobExecutionsRolloutConfig={"maximumPerMinute": per_minute}))
            jobs.append(jid)
            time.sleep(self.rng.uniform(0.1, m / a.mat_rate))
            self.kill_and_recover("materialisation")
            pd = retrying(lambda: iot.describe_job(jobId=jid))["job"]["jobProcessDetails"]
            if pd.get("numberOfQueuedThings", 0) < m:
                mid += 1
            deadline = time.monotonic() + 5 * m / a.mat_rate + 60
            while retrying(lambda: iot.describe_job(jobId=jid))["job"]["jobProcessDetails"].get(
                    "numberOfQueuedThings", 0) < m and time.monotonic() < deadline:
                time.sleep(0.2)
        want = sorted(f"mat-{i:06d}" for i in range(m))
        exact = 0
        for jid in jobs:
            ex = paginate(iot.list_job_executions_for_job, "executionSummaries", jobId=jid,
                          maxResults=250)
            names = sorted(e["thingArn"].rsplit("/", 1)[1] for e in ex)
            q = retrying(lambda: iot.describe_job(jobId=jid))["job"]["jobProcessDetails"].get(
                "numberOfQueuedThings", 0)
            ok = names == want and q == m
            exact += ok
            log(f"materialised {jid}: {len(names):,} executions ({len(set(names)):,} things), "
                f"{q:,} QUEUED: {'ok' if ok else 'NOT OK'}")
        return {"things": m, "jobs": len(jobs), "kills": a.kills_materialise, "exact": exact,
                "mid_job": mid, "per_minute": per_minute}

    # --- disk full -------------------------------------------------------------------------

    def mount_small(self, path, size_mb):
        """tmpfs, else a loop-mounted ext4 image; returns (mode, unmount) or None."""
        os.makedirs(path)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", path],
                           capture_output=True, text=True)
        if r.returncode == 0:
            return f"tmpfs of {size_mb} MiB", lambda: subprocess.run(["umount", path])
        log(f"mount -t tmpfs refused: {r.stderr.strip()}")
        img = path + ".img"
        with open(img, "wb") as f:
            f.truncate(size_mb << 20)
        r = subprocess.run(["mkfs.ext4", "-q", "-F", img], capture_output=True, text=True)
        if r.returncode == 0:
            r = subprocess.run(["mount", "-o", "loop", img, path], capture_output=True, text=True)
        if r.returncode == 0:
            return (f"loop-mounted ext4 image of {size_mb} MiB",
                    lambda: (subprocess.run(["umount", path]), os.remove(img)))
        log(f"loop mount refused: {r.stderr.strip()}")
        os.remove(img)
        return None

    def disk_full(self):
        a = self.args
        mnt = os.path.join(self.work, "small")
        got = None if a.disk_mode == "fsize" else self.mount_small(mnt, a.disk_mb)
        filler = os.path.join(mnt, "filler")
        wrap = []
        if got:
            mode, unmount = got
        else:
            os.makedirs(mnt, exist_ok=True)
            mode, unmount = "RLIMIT_FSIZE (prlimit --fsize), writes fail with EFBIG", lambda: None
        data = os.path.join(mnt, "data")
        os.makedirs(data, exist_ok=True)
        d = Daemon(a, self.work, "iotjobsd-disk", data)
        ledger = Ledger()
        out = {"mode": mode, "refused": 0, "first_error": None, "clear_error": False,
               "acknowledged": 0, "lost": None, "recovered_s": None, "note": ""}
        target = [f"arn:aws:iot:{REGION}:123456789012:thing/disk-thing"]
        try:
            d.start()
            iot, _ = clients(a, d)
            iot.create_thing(thingName="disk-thing")
            if got:
                # Leave about a megabyte: the database's growth hits the wall within seconds.
                st = os.statvfs(mnt)
                free = st.f_bavail * st.f_frsize
                with open(filler, "wb") as f:
                    f.write(b"\0" * max(0, free - (1 << 20)))
            else:
                size = sum(os.path.getsize(os.path.join(data, f)) for f in os.listdir(data))
                limit = size + (1 << 20)
                subprocess.run(["prlimit", f"--pid={d.proc.pid}", f"--fsize={limit}"], check=True)
            doc = json.dumps({"operation": "fill", "pad": "x" * 30000})
            i, errors = 0, []
            from botocore.exceptions import ClientError
            deadline = time.monotonic() + 120
            while out["refused"] < 20 and time.monotonic() < deadline:
                i += 1
                try:
                    iot.create_job(jobId=f"fill-{i}", document=doc, targets=target)
                    ledger.job(f"fill-{i}")
                except ClientError as e:
                    out["refused"] += 1
                    msg = f"{e.response['ResponseMetadata'].get('HTTPStatusCode')} " \
                          f"{e.response['Error']['Code']}: {e.response['Error']['Message']}"
                    errors.append(msg)
                except Exception as e:
                    out["refused"] += 1
                    errors.append(f"{type(e).__name__}: {e}")
                    if d.proc.poll() is not None:
                        errors.append(f"iotjobsd exited {d.proc.returncode}")
                        break
            out["first_error"] = errors[0][:200] if errors else None
            out["clear_error"] = bool(errors) and all(CLEAR_DISK_ERROR.search(e) for e in errors)
            out["acknowledged"] = len(ledger.jobs)
            log(f"disk full ({mode}): {len(ledger.jobs)} acknowledged, {out['refused']} refused; "
                f"first error: {out['first_error']}")
            alive = d.proc.poll() is None
            # Space returns.
            if got:
                os.remove(filler)
            elif alive:
                subprocess.run(["prlimit", f"--pid={d.proc.pid}", "--fsize=unlimited"], check=True)
            t0 = time.monotonic()
            if not alive:
                out["note"] += f"iotjobsd died of the full disk (exit {d.proc.returncode}); "
                d.start()
                iot, _ = clients(a, d)
            while time.monotonic() - t0 < 60:
                try:
                    iot.create_job(jobId=f"after-{i}", document='{"operation":"after"}',
                                   targets=target)
                    ledger.job(f"after-{i}")
                    out["recovered_s"] = time.monotonic() - t0
                    break
                except Exception:
                    i += 1
                    time.sleep(0.2)
            # Nothing acknowledged lost, through a kill -9 and restart too.
            d.kill9()
            self.fault("kill -9 iotjobsd (disk full, before its check)")
            d.start()
            iot, _ = clients(a, d)
            present = set()
            for j in ledger.jobs:
                try:
                    retrying(lambda: iot.describe_job(jobId=j))
                    present.add(j)
                except ClientError:
                    pass
            out["lost"] = len(ledger.jobs - present)
            out["acknowledged"] = len(ledger.jobs)
            out["note"] += (f"{out['acknowledged']} CreateJob (30 KB documents) acknowledged, "
                            f"{out['refused']} refused, then space given back; "
                            + ("a write succeeded " + f"{out['recovered_s']:.2f} s later"
                               if out["recovered_s"] is not None else
                               "no write succeeded within 60 s")
                            + f"; all checked after kill -9 and restart: {out['lost']} lost. "
                            f"Errors seen: {sorted(set(e[:120] for e in errors))[:3]}")
            self.fault(f"disk full ({mode.split(' (')[0]})")
        finally:
            d.stop()
            unmount()
        return out

    # --- all -------------------------------------------------------------------------------

    def run(self):
        import boto3
        a = self.args
        self.work = a.work
        os.makedirs(self.work, exist_ok=True)
        a.access_key = "AKIDCHAOS" + secrets.token_hex(6).upper()
        a.secret_key = secrets.token_urlsafe(30)
        a.credentials_file = os.path.join(self.work, "credentials")
        with open(a.credentials_file, "w") as f:
            f.write(f"[default]\naws_access_key_id = {a.access_key}\n"
                    f"aws_secret_access_key = {a.secret_key}\n")
        log(f"seed {a.seed}")
        self.s3 = boto3.client("s3", endpoint_url=a.s3_endpoint, region_name=REGION,
                               aws_access_key_id=a.access_key, aws_secret_access_key=a.secret_key)
        self.s3.create_bucket(Bucket="chaos")
        t0 = time.monotonic()
        self.broker = Broker(self.work, free_port())
        self.d = Daemon(a, self.work, "iotjobsd", os.path.join(self.work, "data"),
                        self.broker.port, ["--time-scale", str(a.time_scale)])
        result = {"seed": a.seed, "recovery_bound_s": a.recovery_bound_s,
                  "mosquitto_version": subprocess.run(["mosquitto", "-h"], capture_output=True,
                                                      text=True).stdout.split("\n")[0]}
        writer = None
        try:
            self.d.start()
            iot, _ = clients(a, self.d)
            retrying(lambda: iot.create_thing(thingName="chaos-probe"))
            if mqtt_answered(self.broker.port, "chaos-probe", a.recovery_bound_s) is None:
                raise RuntimeError("MQTT not answered after the first start")
            ledger = Ledger()
            writer = LedgerWriter(a, self.d, ledger)
            writer.setup()
            writer.start()
            result["fleet"] = self.fleet()
            result["registration"] = self.registration()
            result["materialise"] = self.materialise()
            writer.stop_event.set()
            writer.join(60)
            self.kill_and_recover("final check")
            log(f"ledger: {ledger.acknowledged():,} acknowledged writes; writer errors "
                f"{writer.errors}")
            result["ledger"] = verify_ledger(a, self.d, ledger)
            result["ledger"]["writer_errors"] = writer.errors
            log(f"ledger: {result['ledger']['checked']:,} checked, {result['ledger']['lost']} lost")
            self.d.stop()
            result["disk"] = self.disk_full()
        finally:
            if writer:
                writer.stop_event.set()
            if getattr(self, "fleet_proc", None) and self.fleet_proc.poll() is None:
                self.fleet_proc.kill()
                self.fleet_proc.wait()
            self.d.stop()
            self.broker.stop()
        result["recoveries"] = self.recoveries
        result["faults"] = self.faults
        result["start_failures"] = len(self.d.start_failures)
        result["start_failure_messages"] = self.d.start_failures
        result["mqtt_remedial_restarts"] = self.remedial
        result["seconds"] = time.monotonic() - t0
        return result


def run(args):
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 1 << 31)
    result = Campaign(args).run()
    json.dump(result, sys.stdout)
    print()


def write(args):
    with open(args.results) as f:
        r = json.load(f)
    print(section(r, os.environ))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--iotjobsd", required=True)
    r.add_argument("--iotjobs", required=True)
    r.add_argument("--s3-endpoint", required=True)
    r.add_argument("--work", required=True)
    r.add_argument("--seed", type=int)
    r.add_argument("--devices", type=int, default=300)
    r.add_argument("--kills-fleet", type=int, default=10)
    r.add_argument("--broker-restarts", type=int, default=3)
    r.add_argument("--kills-registration", type=int, default=7)
    r.add_argument("--reg-lines", type=int, default=50000)
    r.add_argument("--reg-kill-window-s", type=float, default=20)
    r.add_argument("--kills-materialise", type=int, default=7)
    r.add_argument("--group-things", type=int, default=20000)
    r.add_argument("--mat-rate", type=float, default=4000, help="executions per second")
    r.add_argument("--time-scale", type=int, default=20)
    r.add_argument("--timeout-minutes", type=int, default=10,
                   help="the fleet jobs' in-progress timeout (service minutes)")
    r.add_argument("--recovery-bound-s", type=float, default=20)
    r.add_argument("--fleet-max-s", type=float, default=180)
    r.add_argument("--device-timeout-s", type=float, default=10,
                   help="the simulator's request timeout (Device::kRequestTimeoutMs)")
    r.add_argument("--disk-mode", choices=("auto", "fsize"), default="auto")
    r.add_argument("--disk-mb", type=int, default=24)
    w = sub.add_parser("write")
    w.add_argument("--results", required=True)
    a = ap.parse_args()
    {"run": run, "write": write}[a.cmd](a)


if __name__ == "__main__":
    main()
