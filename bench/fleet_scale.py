#!/usr/bin/env python3
"""Fleet-scale benchmark driver (run by bench/run_fleet_scale.sh, which starts the servers).

`run` drives a running iotjobsd and an S3-compatible store through the whole flow and prints one
JSON object with the figures:
  1. writes an input file of N JSON lines ({"ThingName": "dev-0000001"}, ...) to S3;
  2. creates a thing group and registers every thing into it with StartThingRegistrationTask,
     polling DescribeThingRegistrationTask until it ends (registration time, things/s);
  3. measures the database (checkpointed, main file + WAL) and its executions table, then
     CreateJob on the group with jobExecutionsRolloutConfig.maximumPerMinute raised and polls
     DescribeJob every --poll-ms until numberOfQueuedThings reaches N (time to all QUEUED,
     executions/s, and the progress timeline);
  4. peak RSS of iotjobsd (VmHWM after registration and at the end), database bytes per execution
     two ways: growth of the checkpointed file, and the exact pages of job_executions and its
     indexes (dbstat);
  5. latency of DescribeJob and ListJobExecutionsForThing (random things) over one keep-alive
     connection, one request at a time: each request is SigV4-signed by botocore *before* its
     timer starts, so the figures are the server's answer time plus the loopback and a minimal
     HTTP read, not the SDK's per-call overhead.

`restart` runs once the loaded iotjobsd has been stopped (SIGTERM, by the shell script that
started it) and adds restart-to-ready figures to that JSON: it starts iotjobsd again on the same
data dir (the command after `--`, listeners added here) and times exec → the ready line and
exec → the first DescribeJob answered with every execution QUEUED; then it crashes that process
with kill -9 while clients write (so the WAL holds acknowledged commits SQLite must recover),
starts it again, times the same, checks the last acknowledged write of every client survived,
and stops it with SIGTERM.

`write` renders that JSON as the section of BENCHMARKS.md between <!-- fleet-scale:begin --> and
<!-- fleet-scale:end --> and leaves every other section alone.
"""
import argparse
import http.client
import json
import math
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse

from bench_md import goal_mark, write_section

GOALS = {
    "exec_per_s": 100_000,  # executions materialised per second, at least
    "rss_bytes": 1 << 30,  # peak RSS, at most
    "bytes_per_exec": 300,  # database bytes per execution, at most
    "p99_ms": 5.0,  # per-thing calls, p99 at most
    "ready_s": 5.0,  # restart with every execution stored: exec to ready (and answering), at most
}


def log(msg):
    print(f"[fleet_scale] {msg}", file=sys.stderr, flush=True)


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024  # kB
    return None


def cpu_seconds(pid):
    """User + system CPU time of the whole process (all threads) so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def db_files_bytes(db):
    return sum(os.path.getsize(p) for p in (db, db + "-wal") if os.path.exists(p))


def checkpoint_and_measure(db):
    """Checkpoints the WAL into the main file (TRUNCATE) from a connection of our own, then
    returns (main+wal bytes, page_size, freelist pages, {table/index name: bytes} from dbstat)."""
    con = sqlite3.connect(db, timeout=30)
    try:
        busy, log_frames, ckpt = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        page_size = con.execute("PRAGMA page_size").fetchone()[0]
        freelist = con.execute("PRAGMA freelist_count").fetchone()[0]
        per_object = dict(con.execute(
            "SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall())
        payload = dict(con.execute(
            "SELECT name, sum(payload) FROM dbstat GROUP BY name").fetchall())
    finally:
        con.close()
    return {
        "bytes": db_files_bytes(db),
        "checkpoint_busy": busy,
        "page_size": page_size,
        "freelist_pages": freelist,
        "objects": per_object,
        "payload": payload,
    }


class SignedConnection:
    """One keep-alive HTTP/1.1 connection; requests are signed with botocore's SigV4Auth."""

    def __init__(self, endpoint, credentials, region):
        from botocore.auth import SigV4Auth
        self.url = urllib.parse.urlparse(endpoint)
        self.auth = SigV4Auth(credentials, "iot", region)
        self.conn = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=30)

    def prepare(self, path, query=None):
        from botocore.awsrequest import AWSRequest
        qs = ("?" + urllib.parse.urlencode(query)) if query else ""
        req = AWSRequest(method="GET", url=f"{self.url.scheme}://{self.url.netloc}{path}{qs}")
        self.auth.add_auth(req)
        return path + qs, dict(req.headers.items())

    def close(self):
        self.conn.close()

    def get(self, target, headers):
        """Sends a prepared request; returns (status, body, seconds from send to last byte)."""
        t0 = time.perf_counter()
        self.conn.request("GET", target, headers=headers)
        resp = self.conn.getresponse()
        body = resp.read()
        return resp.status, body, time.perf_counter() - t0


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = math.ceil(p / 100 * len(sorted_values)) - 1  # nearest rank
    return sorted_values[max(0, min(len(sorted_values) - 1, k))]


def latency(conn, calls, samples, warmup):
    """Sends the calls round-robin (one of each per round), `warmup` rounds unmeasured and then
    `samples` measured; returns per-call latency percentiles in ms."""
    times = {name: [] for name in calls}
    for i in range(warmup + samples):
        for name, make_request in calls.items():
            status, body, dt = conn.get(*make_request())
            if status != 200:
                raise RuntimeError(f"{name}: HTTP {status}: {body[:300]!r}")
            if i >= warmup:
                times[name].append(dt * 1000)
    out = {}
    for name, t in times.items():
        t.sort()
        out[name] = {
            "samples": len(t),
            "p50_ms": percentile(t, 50),
            "p90_ms": percentile(t, 90),
            "p99_ms": percentile(t, 99),
            "max_ms": t[-1],
            "mean_ms": sum(t) / len(t),
            "over_1ms": sum(1 for x in t if x > 1),
        }
    return out


def run(args):
    import boto3
    from botocore.config import Config
    from botocore.credentials import Credentials

    n = args.things
    cfg = Config(retries={"max_attempts": 1}, read_timeout=120)
    iot = boto3.client("iot", endpoint_url=args.endpoint, region_name=args.region,
                       aws_access_key_id=args.access_key, aws_secret_access_key=args.secret_key,
                       config=cfg)
    s3 = boto3.client("s3", endpoint_url=args.s3_endpoint, region_name=args.region,
                      aws_access_key_id=args.access_key, aws_secret_access_key=args.secret_key)
    # SchedulerConfig.batch: executions per materialisation transaction (no flag sets it).
    out = {"things": n, "batch_scheduler": 20000}

    # --- input file ------------------------------------------------------------------------
    bucket, key = "fleet-scale", "things.jsonl"
    s3.create_bucket(Bucket=bucket)
    body = "".join(f'{{"ThingName":"dev-{i:07d}"}}\n' for i in range(1, n + 1)).encode()
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    out["input_bytes"] = len(body)
    log(f"input file s3://{bucket}/{key}: {n:,} lines, {len(body):,} bytes")

    # --- registration ----------------------------------------------------------------------
    group = "fleet"
    iot.create_thing_group(thingGroupName=group)
    template = {
        "Parameters": {"ThingName": {"Type": "String"}},
        "Resources": {"thing": {"Type": "AWS::IoT::Thing", "Properties": {
            "ThingName": {"Ref": "ThingName"}, "ThingGroups": [group]}}},
    }
    rss_before = proc_status(args.pid, "VmRSS")
    cpu0 = cpu_seconds(args.pid)
    t0 = time.monotonic()
    task = iot.start_thing_registration_task(
        templateBody=json.dumps(template), inputFileBucket=bucket, inputFileKey=key,
        roleArn="arn:aws:iam::123456789012:role/fleet-scale-bench")["taskId"]
    progress = []  # (seconds, things registered, VmRSS bytes), about once a second
    while True:
        d = iot.describe_thing_registration_task(taskId=task)
        t = time.monotonic() - t0
        if not progress or t - progress[-1][0] >= 1 or (
                d.get("successCount", 0) == n and progress[-1][1] != n):
            progress.append((round(t, 2), d.get("successCount", 0), proc_status(args.pid, "VmRSS")))
        if d["status"] not in ("InProgress", "Cancelling"):
            break
        time.sleep(0.1)
    reg_s = time.monotonic() - t0
    reg_cpu = cpu_seconds(args.pid) - cpu0
    if d["status"] != "Completed" or d.get("successCount") != n:
        raise RuntimeError(f"registration ended {d['status']}: success {d.get('successCount')}, "
                           f"failure {d.get('failureCount')}, message {d.get('message')}")
    out["registration"] = {"seconds": reg_s, "things_per_s": n / reg_s,
                           "success": d["successCount"], "failure": d.get("failureCount", 0),
                           "progress": progress, "cpu_s": reg_cpu}
    out["registration"]["all_stored_s"] = next((t for t, c, _ in progress if c == n), reg_s)
    try:
        out["registration"]["results_report_bytes"] = s3.head_object(
            Bucket=bucket, Key=f"thing-registration-reports/{task}/results.jsonl")["ContentLength"]
    except Exception as e:  # the report's place is iotjobsd's business; its size is a detail
        log(f"no results report found: {e}")
        out["registration"]["results_report_bytes"] = None
    out["rss_hwm_after_registration"] = proc_status(args.pid, "VmHWM")
    out["rss_before_registration"] = rss_before
    log(f"registration: {n:,} things in {reg_s:.2f} s ({n / reg_s:,.0f}/s), "
        f"iotjobsd CPU {reg_cpu:.2f} s ({reg_cpu / n * 1e6:.1f} us per thing)")

    # --- database before the job -----------------------------------------------------------
    before = checkpoint_and_measure(args.db)
    out["db_before"] = before
    out["rss_before_job"] = proc_status(args.pid, "VmRSS")

    # --- job and materialisation -----------------------------------------------------------
    group_arn = iot.describe_thing_group(thingGroupName=group)["thingGroupArn"]
    job_id = out["job_id"] = "fleet-scale-job"
    poll = args.poll_ms / 1000
    timeline = []
    cpu0 = cpu_seconds(args.pid)
    t0 = time.monotonic()
    iot.create_job(jobId=job_id, targets=[group_arn], document='{"operation":"update"}',
                   targetSelection="SNAPSHOT",
                   jobExecutionsRolloutConfig={"maximumPerMinute": args.max_per_minute})
    create_s = time.monotonic() - t0
    queued = 0
    while True:
        d = iot.describe_job(jobId=job_id)["job"]
        queued = d.get("jobProcessDetails", {}).get("numberOfQueuedThings", 0)
        t = time.monotonic() - t0
        if not timeline or timeline[-1][1] != queued:
            timeline.append((round(t, 4), queued))
        if queued >= n:
            break
        if t > args.timeout:
            raise RuntimeError(f"only {queued:,} of {n:,} executions QUEUED after {t:.0f} s")
        time.sleep(poll)
    mat_s = time.monotonic() - t0
    mat_cpu = cpu_seconds(args.pid) - cpu0
    first = next((t for t, q in timeline if q > 0), None)
    out["materialisation"] = {
        "seconds": mat_s, "exec_per_s": n / mat_s, "create_job_call_s": create_s,
        "first_queued_s": first, "poll_ms": args.poll_ms, "timeline": timeline,
        "job_status": d["status"], "cpu_s": mat_cpu,
    }
    log(f"materialisation: {n:,} executions QUEUED {mat_s:.2f} s after CreateJob "
        f"({n / mat_s:,.0f}/s), iotjobsd CPU {mat_cpu:.2f} s ({mat_cpu / n * 1e6:.2f} us per "
        "execution, polling included)")
    out["rss_hwm_end"] = proc_status(args.pid, "VmHWM")
    out["rss_end"] = proc_status(args.pid, "VmRSS")

    # --- database after --------------------------------------------------------------------
    after = checkpoint_and_measure(args.db)
    out["db_after"] = after
    exec_objects = [k for k in after["objects"] if k.startswith("job_executions")]
    exec_bytes = sum(after["objects"][k] for k in exec_objects)
    out["bytes_per_exec_file"] = (after["bytes"] - before["bytes"]) / n
    out["bytes_per_exec_dbstat"] = exec_bytes / n
    out["exec_objects"] = {k: after["objects"][k] for k in exec_objects}
    out["exec_payload"] = {k: after["payload"].get(k) for k in exec_objects}
    log(f"database: {before['bytes']:,} -> {after['bytes']:,} bytes "
        f"({out['bytes_per_exec_file']:.1f} B/execution); job_executions* pages "
        f"{exec_bytes:,} bytes ({out['bytes_per_exec_dbstat']:.1f} B/execution)")

    # --- latency at that size --------------------------------------------------------------
    creds = Credentials(args.access_key, args.secret_key)
    conn = SignedConnection(args.endpoint, creds, args.region)
    rng = random.Random(args.seed)
    describe = lambda: conn.prepare(f"/jobs/{job_id}")  # noqa: E731
    by_thing = lambda: conn.prepare(  # noqa: E731
        f"/things/dev-{rng.randint(1, n):07d}/jobs", {"maxResults": "25"})
    # A control whose cost does not grow with the fleet: ListJobTemplates on an empty table pays
    # the same signature check, HTTP and thread hand-offs. Interleaved with the two calls above,
    # it shows how much of their tail is the machine (scheduling on shared cores), not the size.
    control = lambda: conn.prepare("/job-templates", {"maxResults": "1"})  # noqa: E731
    # Each answer is checked once: the job has N queued, a random thing lists the job.
    st, b, _ = conn.get(*describe())
    assert st == 200 and json.loads(b)["job"]["jobProcessDetails"]["numberOfQueuedThings"] == n, b
    st, b, _ = conn.get(*by_thing())
    assert st == 200 and json.loads(b)["executionSummaries"][0]["jobId"] == job_id, b
    out["latency"] = latency(conn, {"DescribeJob": describe,
                                    "ListJobExecutionsForThing": by_thing,
                                    "ListJobTemplates (control)": control},
                             args.samples, args.warmup)
    for name, l in out["latency"].items():
        log(f"{name}: p50 {l['p50_ms']:.2f} ms, p99 {l['p99_ms']:.2f} ms over {l['samples']:,}")
    out["rss_hwm_end"] = proc_status(args.pid, "VmHWM")
    print(json.dumps(out))


# ---------------------------------------------------------------------------------------------
# Restart-to-ready


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wal_bytes(db):
    return os.path.getsize(db + "-wal") if os.path.exists(db + "-wal") else 0


class Started:
    """One iotjobsd started by `restart`, timed from just before exec: `ready_s` when its ready
    line appeared on stdout, `describe_s` when DescribeJob first answered 200 (polled over fresh
    connections every 2 ms from exec on, on a control port picked beforehand so the poll does
    not wait for the ready line to learn it)."""

    def __init__(self, cmd, log_path, creds, region):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.creds, self.region = creds, region
        self.ready_s = None
        self.err = open(log_path, "w")
        full = cmd + ["--control-listen", f"127.0.0.1:{self.port}", "--jobs-listen", "127.0.0.1:0"]
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=self.err, text=True)
        self.reader = threading.Thread(target=self._read_stdout, daemon=True)
        self.reader.start()

    def _read_stdout(self):
        for line in self.proc.stdout:  # to EOF, so iotjobsd never blocks on a full pipe
            if self.ready_s is None and line.startswith("iotjobsd ready "):
                self.ready_s = time.monotonic() - self.t0

    def wait_describe(self, job_id, n, timeout):
        """Polls DescribeJob until it answers 200; checks every execution is still QUEUED.
        Returns (seconds since exec, refused or failed attempts before it)."""
        failed = 0
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"iotjobsd exited {self.proc.returncode} while starting "
                                   f"(log: {self.err.name})")
            if time.monotonic() - self.t0 > timeout:
                raise RuntimeError(f"DescribeJob not answered {timeout:.0f} s after exec")
            conn = SignedConnection(self.endpoint, self.creds, self.region)
            try:
                status, body, _ = conn.get(*conn.prepare(f"/jobs/{job_id}"))
            except OSError:  # not listening yet, or the connection was cut while starting
                status, body = None, b""
            finally:
                conn.close()
            if status == 200:
                t = time.monotonic() - self.t0
                queued = json.loads(body)["job"]["jobProcessDetails"]["numberOfQueuedThings"]
                if queued != n:
                    raise RuntimeError(f"after the restart {queued:,} of {n:,} executions QUEUED")
                return t, failed
            failed += 1
            time.sleep(0.002)

    def wait_ready(self, timeout):
        deadline = self.t0 + timeout
        while self.ready_s is None and time.monotonic() < deadline and self.proc.poll() is None:
            time.sleep(0.001)
        if self.ready_s is None:
            raise RuntimeError(f"no ready line from iotjobsd (log: {self.err.name})")
        return self.ready_s

    def stop(self, sig):
        """Sends sig and waits; returns seconds from the signal to the exit, and the exit code."""
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        code = self.proc.wait()
        self.reader.join(5)
        self.err.close()
        return time.monotonic() - t0, code


def start_and_time(cmd, label, args, creds):
    wal = wal_bytes(args.db)
    log(f"{label}: starting iotjobsd on the same data dir (WAL {wal:,} bytes)")
    started = Started(cmd, os.path.join(args.log_dir, f"restart-{label}.err"), creds, args.region)
    describe_s, failed = started.wait_describe(args.job_id, args.things, args.timeout)
    ready_s = started.wait_ready(args.timeout)
    figures = {"wal_bytes_at_start": wal, "ready_s": ready_s, "describe_s": describe_s,
               "attempts_before_describe": failed,
               "rss_after_describe": proc_status(started.proc.pid, "VmRSS")}
    log(f"{label}: ready line {ready_s * 1000:.0f} ms after exec, DescribeJob answered "
        f"({args.things:,} QUEUED) {describe_s * 1000:.0f} ms after exec")
    return started, figures


def write_load(endpoint, args, clients, stop):
    """`clients` threads, each creating job templates one after another until `stop` is set.
    Returns the threads and, per client, the number of the last acknowledged template."""
    import boto3
    from botocore.config import Config
    acked = [0] * clients

    def client(c):
        iot = boto3.client("iot", endpoint_url=endpoint, region_name=args.region,
                           aws_access_key_id=args.access_key,
                           aws_secret_access_key=args.secret_key,
                           config=Config(retries={"max_attempts": 1}, connect_timeout=5,
                                         read_timeout=30))
        i = 0
        while not stop.is_set():
            i += 1
            try:
                iot.create_job_template(jobTemplateId=f"crash-{c}-{i}", description="crash load",
                                        document='{"operation":"crash-load"}')
            except Exception:
                if stop.is_set():
                    return  # the process was killed under this request
                raise
            acked[c] = i

    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(clients)]
    for t in threads:
        t.start()
    return threads, acked


def restart(args):
    """See the module docstring. The shell script stopped the loaded process (args.stop_ms)."""
    import boto3
    from botocore.config import Config
    from botocore.credentials import Credentials
    creds = Credentials(args.access_key, args.secret_key)
    cmd = args.iotjobsd_cmd[1:] if args.iotjobsd_cmd[:1] == ["--"] else args.iotjobsd_cmd
    r = json.load(open(args.results))
    args.job_id, args.things = r["job_id"], r["things"]
    out = {"first_stop_s": args.stop_ms / 1000}
    started = None
    try:
        started, out["sigterm"] = start_and_time(cmd, "after-sigterm", args, creds)

        # Crash under write load: clients write for a while, then kill -9 lands between commits
        # and during requests, with the WAL holding whatever the last checkpoint left.
        stop = threading.Event()
        threads, acked = write_load(started.endpoint, args, args.crash_clients, stop)
        time.sleep(args.crash_load_s)
        if not all(t.is_alive() for t in threads):
            raise RuntimeError("a write-load client failed before the kill")
        wal = wal_bytes(args.db)
        stop.set()
        killed_s, code = started.stop(signal.SIGKILL)
        started = None
        for t in threads:
            t.join(30)
        # Every request a client saw answered was acknowledged before the process died.
        acked_at_kill = list(acked)
        out["crash"] = {"clients": args.crash_clients, "load_s": args.crash_load_s,
                        "acked_writes": sum(acked_at_kill), "wal_bytes_at_kill": wal}
        log(f"kill -9 after {sum(acked_at_kill):,} acknowledged CreateJobTemplate from "
            f"{args.crash_clients} clients over {args.crash_load_s:.1f} s; WAL {wal:,} bytes")

        started, out["kill9"] = start_and_time(cmd, "after-kill9", args, creds)
        iot = boto3.client("iot", endpoint_url=started.endpoint, region_name=args.region,
                           aws_access_key_id=args.access_key,
                           aws_secret_access_key=args.secret_key,
                           config=Config(retries={"max_attempts": 1}))
        for c, last in enumerate(acked_at_kill):
            if last:  # raises ResourceNotFoundException if an acknowledged write was lost
                iot.describe_job_template(jobTemplateId=f"crash-{c}-{last}")
        out["crash"]["last_acked_found"] = True
        out["final_stop_s"], code = started.stop(signal.SIGTERM)
        started = None
        if code != 0:
            raise RuntimeError(f"iotjobsd exited {code} on SIGTERM")
    finally:
        if started is not None:
            started.stop(signal.SIGKILL)
    r["restart"] = out
    with open(args.results, "w") as f:
        json.dump(r, f)


# ---------------------------------------------------------------------------------------------
# BENCHMARKS.md


def mib(b):
    return f"{b / (1 << 20):,.0f} MiB"


def write(args):
    r = json.load(open(args.results))
    env = os.environ
    n = r["things"]
    reg, mat = r["registration"], r["materialisation"]
    lat = r["latency"]
    rss = r["rss_hwm_end"]
    rate = mat["exec_per_s"]
    objs = ", ".join(f"`{k}` {v / n:.1f} B" for k, v in sorted(r["exec_objects"].items()))

    def bytes_goal(v):
        return goal_mark(v, "≤", GOALS["bytes_per_exec"], f"{v:.1f} B", "300 B")

    lines = [
        "<!-- fleet-scale:begin -->",
        f"## Fleet scale: {n:,} things, one job",
        "",
        "Written by `bench/run_fleet_scale.sh`; do not edit by hand, re-run the script.",
        "",
        f"- Command: `{env['COMMAND']}`",
        f"- Date: {env['DATE']}; commit `{env['COMMIT']}`",
        f"- Machine: {env['NPROC']} cores, {env['MODEL']}, Linux {env['KERNEL']}; data dir on "
        f"{env['FSTYPE']}; load average before/after {env['LOADAVG_BEFORE']} / "
        f"{env['LOADAVG_AFTER']} (the machine is shared: other work makes every figure noisier)",
        f"- iotjobsd (Release): SQLite WAL, synchronous=FULL; `{env['FLAGS_TEXT']}`; "
        f"S3: moto {env['MOTO_VERSION']} server",
        f"- Flow: {n:,}-line input file in S3 → StartThingRegistrationTask (template puts every "
        f"thing in one group) → CreateJob on the group, SNAPSHOT, maximumPerMinute "
        f"{env['MAX_PER_MINUTE']} → DescribeJob polled every {mat['poll_ms']} ms until "
        f"numberOfQueuedThings = {n:,}",
        "",
        "| figure | value | goal |",
        "|---|--:|---|",
        f"| registration ({n:,} things, bulk path) | {reg['seconds']:.1f} s "
        f"({reg['things_per_s']:,.0f} things/s; iotjobsd CPU {reg['cpu_s']:.1f} s, "
        f"{reg['cpu_s'] / n * 1e6:.1f} µs per thing) | – |",
        f"| CreateJob → all {n:,} executions QUEUED | {mat['seconds']:.2f} s "
        f"({rate:,.0f} executions/s; iotjobsd CPU {mat['cpu_s']:.2f} s, "
        f"{mat['cpu_s'] / n * 1e6:.2f} µs per execution) | "
        f"{goal_mark(rate, '≥', GOALS['exec_per_s'], f'{rate:,.0f}/s', '100,000/s')} |",
        f"| peak RSS of iotjobsd (VmHWM, whole run) | {mib(rss)} "
        f"(after registration {mib(r['rss_hwm_after_registration'])}) | "
        f"{goal_mark(rss, '≤', GOALS['rss_bytes'], mib(rss), '1 GiB')} |",
        f"| database bytes per execution: file growth (main + WAL, checkpointed) | "
        f"{r['bytes_per_exec_file']:.1f} B | "
        f"{bytes_goal(r['bytes_per_exec_file'])} |",
        f"| database bytes per execution: pages of `job_executions*` (dbstat) | "
        f"{r['bytes_per_exec_dbstat']:.1f} B ({objs}) | "
        f"{bytes_goal(r['bytes_per_exec_dbstat'])} |",
    ]
    for name, label in (("DescribeJob", "DescribeJob"),
                        ("ListJobExecutionsForThing", "ListJobExecutionsForThing (random thing)"),
                        ("ListJobTemplates (control)",
                         "control: ListJobTemplates on an empty table")):
        l = lat[name]
        goal = (goal_mark(l["p99_ms"], "≤", GOALS["p99_ms"], f"p99 {l['p99_ms']:.2f} ms", "5 ms",
                          label="p99 ")
                if "control" not in name else "– (same loop; the floor of this machine)")
        size = f" at {n:,} executions" if "control" not in name else ""
        lines.append(
            f"| {label}{size}, p50 / p99 ({l['samples']:,} calls) | "
            f"{l['p50_ms']:.2f} / {l['p99_ms']:.2f} ms (max {l['max_ms']:.2f}; "
            f"{l['over_1ms'] / l['samples']:.1%} over 1 ms) | {goal} |")
    rs = r.get("restart")
    if rs:
        for key, how in (("sigterm", "after SIGTERM"), ("kill9", "after kill -9 under write load")):
            x = rs[key]
            for figure, what in (("ready_s", "ready line"),
                                 ("describe_s", "first DescribeJob answered (all QUEUED)")):
                v = x[figure]
                lines.append(
                    f"| restart {how} with {n:,} executions: exec → {what} | {v:.3f} s | "
                    f"{goal_mark(v, '≤', GOALS['ready_s'], f'{v:.2f} s', '5 s')} |")
    upload = reg["seconds"] - reg["all_stored_s"]
    batches = -(-n // r["batch_scheduler"])
    lines += [
        "",
        f"Registration stored all {n:,} things after {reg['all_stored_s']:.1f} s; the remaining "
        f"{upload:.1f} s wrote the RESULTS/ERRORS reports to S3 "
        + (f"({reg['results_report_bytes']:,} bytes of results) "
           if reg.get("results_report_bytes") is not None else "")
        + "and finished the task (progress polled every 0.1 s). "
        f"RSS: {mib(r['rss_before_registration'])} at start, peak {mib(r['rss_hwm_after_registration'])} "
        f"by the end of registration, {mib(r['rss_before_job'])} before CreateJob and "
        f"{mib(r['rss_end'])} once all executions were QUEUED. "
        f"Materialisation: {batches} transactions of up to {r['batch_scheduler']:,} executions, "
        f"{mat['seconds'] / batches * 1000:.1f} ms each on average (poll-to-poll, so including up to "
        f"{mat['poll_ms']} ms of polling granularity overall). "
        f"Database: {r['db_before']['bytes']:,} bytes before CreateJob, "
        f"{r['db_after']['bytes']:,} after (page size {r['db_after']['page_size']}); "
        f"first executions QUEUED {mat['first_queued_s']:.2f} s after CreateJob was sent. "
        "Latency: one keep-alive connection, one request at a time, the three calls interleaved; "
        "each request SigV4-signed by botocore before its timer starts, timed from send to the "
        "last byte read by Python `http.client` on the same machine (client cost included, SDK "
        "cost not).",
    ]
    if rs:
        c, st, k9 = rs["crash"], rs["sigterm"], rs["kill9"]
        lines += [
            "",
            f"Restart: the loaded iotjobsd stopped {rs['first_stop_s']:.2f} s after SIGTERM (no WAL "
            f"left: {st['wal_bytes_at_start']:,} bytes at the next start). Each start is timed "
            "from just before exec, on the same data dir and flags, to the ready line on stdout "
            "and to the first DescribeJob answered 200 with every execution QUEUED (polled every "
            "2 ms over fresh connections on a port picked beforehand, "
            f"{st['attempts_before_describe']} and {k9['attempts_before_describe']} refused "
            "attempts). Crash: "
            f"{c['clients']} clients created job templates for {c['load_s']:.1f} s "
            f"({c['acked_writes']:,} acknowledged), then kill -9 with {c['wal_bytes_at_kill']:,} "
            "bytes of WAL; after the restart the last acknowledged template of every client was "
            f"there, and SIGTERM stopped it in {rs['final_stop_s']:.2f} s. RSS once answering: "
            f"{mib(st['rss_after_describe'])} / {mib(k9['rss_after_describe'])}. The database "
            "file was in the page cache (it had just been written); a cold start reads from disk "
            "first.",
        ]
    busy = [k for k in ("db_before", "db_after") if r[k]["checkpoint_busy"]]
    if busy:
        lines.append(f"The WAL checkpoint was busy at {', '.join(busy)}: the file sizes there "
                     "include an untruncated WAL; the dbstat figure does not depend on it.")
    if env.get("NPROC") != "2":
        lines.append(f"The goals are for 2 cores; this machine has {env.get('NPROC')}.")
    lines.append("<!-- fleet-scale:end -->")
    section = "\n".join(lines) + "\n"

    write_section(args.output, "fleet-scale", section)
    print(section)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    # What both commands that talk to iotjobsd take.
    server = argparse.ArgumentParser(add_help=False)
    server.add_argument("--db", required=True, help="iotjobsd's SQLite file")
    server.add_argument("--region", default="us-east-1")
    server.add_argument("--access-key", default=os.environ.get("AWS_ACCESS_KEY_ID"))
    server.add_argument("--secret-key", default=os.environ.get("AWS_SECRET_ACCESS_KEY"))
    r = sub.add_parser("run", parents=[server])
    r.add_argument("--endpoint", required=True)
    r.add_argument("--s3-endpoint", required=True)
    r.add_argument("--pid", type=int, required=True, help="iotjobsd's pid (for /proc)")
    r.add_argument("--things", type=int, default=1_000_000)
    r.add_argument("--max-per-minute", type=int, default=100_000_000)
    r.add_argument("--poll-ms", type=int, default=50)
    r.add_argument("--samples", type=int, default=2000)
    r.add_argument("--warmup", type=int, default=200)
    r.add_argument("--timeout", type=float, default=600)
    r.add_argument("--seed", type=int, default=1)
    x = sub.add_parser("restart", parents=[server])
    x.add_argument("--results", required=True, help="the run's JSON, extended in place")
    x.add_argument("--stop-ms", type=float, required=True,
                   help="how long the first stop (SIGTERM, by the caller) took")
    x.add_argument("--log-dir", required=True)
    x.add_argument("--crash-clients", type=int, default=4)
    x.add_argument("--crash-load-s", type=float, default=2.0)
    x.add_argument("--timeout", type=float, default=120)
    x.add_argument("iotjobsd_cmd", nargs=argparse.REMAINDER,
                   help="-- iotjobsd and its flags, without the listeners")
    w = sub.add_parser("write")
    w.add_argument("--results", required=True)
    w.add_argument("--output", required=True)
    args = p.parse_args()
    {"run": run, "restart": restart, "write": write}[args.cmd](args)


if __name__ == "__main__":
    main()
