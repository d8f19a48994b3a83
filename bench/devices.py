#!/usr/bin/env python3
"""Devices benchmark driver (run by bench/run_devices.sh, which builds the binaries).

`run` starts everything itself on free ports in a work directory and prints one JSON object:
  1. Mosquitto 2 (anonymous listener on loopback, set_tcp_nodelay, an ACL confining each device
     to $aws/things/<username>/jobs/#, large queues so nothing is dropped under load);
  2. broker ceiling: `iotjobs echo` (answers start-next / update from memory where iotjobsd would)
     and `iotjobs fleet` with N devices: (a) one job announced to every device (fan-out), then
     (b) J jobs per device with S IN_PROGRESS steps each (sustained updates);
  3. iotjobsd (SQLite, synchronous=FULL, --mqtt to the same broker): N things registered in one
     group, the same fleet command; (a) CreateJob on the group once every device is online and
     the notify-next fan-out measured from the CreateJob call; (b) J jobs created at once, each
     device runs them in order with S steps; DescribeJob checks that every execution succeeded
     and that the service's counts equal the simulator's;
  4. optional rollout timeline: iotjobsd at --time-scale 60 (one minute per second) with an
     exponential rollout over R devices, the fleet's per-second timeline plotted against the
     configured curve by bench/plot_timeline.py when it exists.

`write` prints the JSON as the section of BENCHMARKS.md between <!-- devices:begin --> and
<!-- devices:end --> (run_devices.sh writes it through bench/bench_md.py); `curve` prints the
configured rollout's allowance per minute and `rollout-json` the rollout's fleet summary, the two
inputs of bench/plot_timeline.py.
"""
import argparse
import concurrent.futures
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fleet_scale import cpu_seconds  # noqa: E402  (user + system CPU of a process)

GOALS = {"updates_per_s": 10_000, "share_of_ceiling": 0.5}


def log(msg):
    print(f"[devices] {msg}", file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(predicate, what, timeout_s=60, proc=None):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {proc.returncode}")
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


class Processes:
    """Starts processes and stops exactly those, by pid."""

    def __init__(self, work):
        self.work = work
        self.procs = []

    def start(self, name, cmd):
        out = open(os.path.join(self.work, f"{name}.out"), "w")
        err = open(os.path.join(self.work, f"{name}.err"), "w")
        p = subprocess.Popen(cmd, stdout=out, stderr=err)
        self.procs.append(p)
        log(f"started {name} (pid {p.pid}): {' '.join(cmd)}")
        return p

    def stop(self, p, sig_timeout=20):
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(sig_timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.procs:
            self.procs.remove(p)

    def stop_all(self):
        for p in list(reversed(self.procs)):
            self.stop(p)


def start_broker(procs, work, port):
    conf = os.path.join(work, "mosquitto.conf")
    acl = os.path.join(work, "mosquitto.acl")
    with open(acl, "w") as f:
        f.write("user iotjobsd\ntopic readwrite $aws/#\n\n"
                "user iotjobs-echo\ntopic readwrite $aws/#\n\n"
                "pattern readwrite $aws/things/%u/jobs/#\n")
    with open(conf, "w") as f:
        f.write(f"""per_listener_settings false
user {os.environ.get('USER') or 'root'}
persistence false
log_dest file {work}/mosquitto.log
listener {port} 127.0.0.1
allow_anonymous true
acl_file {acl}
set_tcp_nodelay true
max_queued_messages 1000000
max_inflight_messages 1000
""")
    p = procs.start("mosquitto", ["mosquitto", "-c", conf])

    def up():
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            return False

    wait_for(up, "mosquitto", 20, p)
    return p


def start_iotjobsd(procs, args, work, broker_port, name, extra=()):
    data = os.path.join(work, name)
    os.makedirs(data, exist_ok=True)
    cmd = [args.iotjobsd, "--data-dir", data, "--credentials", args.credentials_file,
           "--control-listen", "127.0.0.1:0", "--jobs-listen", "127.0.0.1:0",
           "--mqtt", f"mqtt://iotjobsd@127.0.0.1:{broker_port}", "--mqtt-client-id", name,
           "--max-rollout-per-minute", "100000000", "--log-level", "info", *extra]
    p = procs.start(name, cmd)
    out = os.path.join(work, f"{name}.out")
    url = {}

    def ready():
        with open(out) as f:
            m = re.search(r"control=(http://[0-9.]+:[0-9]+) ", f.read())
        if m:
            url["control"] = m.group(1)
        return bool(url)

    wait_for(ready, f"{name} ready line", 60, p)
    # Devices ask start-next as soon as they connect: let iotjobsd subscribe first.
    err = os.path.join(work, f"{name}.err")
    wait_for(lambda: "connected to 127.0.0.1" in open(err).read(), f"{name} on the broker", 30, p)
    return p, url["control"]


def iot_client(args, endpoint):
    import boto3
    from botocore.config import Config
    return boto3.client("iot", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=args.access_key, aws_secret_access_key=args.secret_key,
                        config=Config(retries={"max_attempts": 1}, read_timeout=120,
                                      max_pool_connections=16))


def register(iot, prefix, n, group):
    """N things in one group, 8 client threads. Returns (seconds, group ARN)."""
    arn = iot.create_thing_group(thingGroupName=group)["thingGroupArn"]

    def one(i):
        name = f"{prefix}{i}"
        iot.create_thing(thingName=name)
        iot.add_thing_to_thing_group(thingGroupName=group, thingName=name)

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for _ in pool.map(one, range(n), chunksize=64):
            pass
    return time.monotonic() - t0, arn


def fleet_cmd(args, port, prefix, devices, expect, steps, ready_file, extra=()):
    return [args.iotjobs, "fleet", "--port", str(port), "--prefix", prefix, "-n", str(devices),
            "--expect", str(expect), "--steps", str(steps), "--json", "--progress", "never",
            "--ready-file", ready_file, "--max-seconds", str(args.max_seconds), *extra]


def run_fleet(procs, work, name, cmd, on_ready=None):
    """Runs the fleet to completion; `on_ready` runs once every device is online. Returns the
    fleet's JSON summary and the fleet's own CPU seconds."""
    ready_file = cmd[cmd.index("--ready-file") + 1]
    if os.path.exists(ready_file):
        os.remove(ready_file)
    p = procs.start(name, cmd)
    wait_for(lambda: os.path.exists(ready_file), f"{name}: devices online", 300, p)
    result = {"ready_unix_ms": int(time.time() * 1000)}
    if on_ready:
        result.update(on_ready() or {})
    cpu = 0.0
    while p.poll() is None:
        try:
            cpu = cpu_seconds(p.pid)
        except OSError:
            pass
        time.sleep(0.1)
    procs.procs.remove(p)
    with open(os.path.join(work, f"{name}.out")) as f:
        summary = json.load(f)
    if p.returncode != 0:
        raise RuntimeError(f"{name} exited {p.returncode}: {summary.get('errors')}")
    summary["fleet_cpu_s"] = cpu
    summary.update(result)
    return summary


def broker_ceiling(procs, args, work, port):
    n, jobs, steps = args.devices, args.jobs, args.steps
    out = {}
    for phase, j, s in (("fanout", 1, 0), ("sustained", jobs, steps)):
        echo = procs.start(f"echo-{phase}", [args.iotjobs, "echo", "--port", str(port),
                                             "--devices", str(n), "--jobs", str(j),
                                             "--username", "iotjobs-echo"])
        echo_out = os.path.join(work, f"echo-{phase}.out")
        wait_for(lambda: "iotjobs echo ready" in open(echo_out).read(), "echo subscribed", 20, echo)
        cmd = fleet_cmd(args, port, "dev-", n, n * j, s, os.path.join(work, "ready"))
        out[phase] = run_fleet(procs, work, f"fleet-echo-{phase}", cmd)
        out[phase]["responder_cpu_s"] = cpu_seconds(echo.pid)
        procs.stop(echo)
        log(f"ceiling {phase}: {out[phase]['executions_per_s']:,.0f} executions/s, "
            f"{out[phase]['updates_per_s']:,.0f} updates/s, fan-out {out[phase]['notify_fanout_s']} s")
    return out


def with_iotjobsd(procs, args, work, port):
    n, jobs, steps = args.devices, args.jobs, args.steps
    daemon, endpoint = start_iotjobsd(procs, args, work, port, "iotjobsd")
    iot = iot_client(args, endpoint)
    reg_s, group_arn = register(iot, "dev-", n, "bench")
    log(f"registered {n:,} things in {reg_s:.1f} s")
    out = {"registration_s": reg_s}
    job_seq = [0]

    def create_jobs(count):
        ids = []
        t0 = time.time()
        for _ in range(count):
            job_seq[0] += 1
            jid = f"bench-{job_seq[0]}"
            iot.create_job(jobId=jid, targets=[group_arn], document='{"operation":"bench"}',
                           targetSelection="SNAPSHOT",
                           jobExecutionsRolloutConfig={"maximumPerMinute": 100000000})
            ids.append(jid)
        return {"create_unix_ms": int(t0 * 1000), "create_s": time.time() - t0, "job_ids": ids}

    for phase, j, s in (("fanout", 1, 0), ("sustained", jobs, steps)):
        cpu0 = cpu_seconds(daemon.pid)
        cmd = fleet_cmd(args, port, "dev-", n, n * j, s, os.path.join(work, "ready"))
        r = run_fleet(procs, work, f"fleet-iotjobsd-{phase}", cmd, lambda j=j: create_jobs(j))
        r["iotjobsd_cpu_s"] = cpu_seconds(daemon.pid) - cpu0
        # The service's own account of the same run.
        counts = {"succeeded": 0, "failed": 0, "rejected": 0, "in_progress": 0, "queued": 0}
        for jid in r["job_ids"]:
            d = iot.describe_job(jobId=jid)["job"]
            pd = d.get("jobProcessDetails", {})
            counts["succeeded"] += pd.get("numberOfSucceededThings", 0)
            counts["failed"] += pd.get("numberOfFailedThings", 0)
            counts["rejected"] += pd.get("numberOfRejectedThings", 0)
            counts["in_progress"] += pd.get("numberOfInProgressThings", 0)
            counts["queued"] += pd.get("numberOfQueuedThings", 0)
        r["service_counts"] = counts
        r["counts_agree"] = (counts["succeeded"] == r["outcomes"]["succeeded"]
                             and counts["failed"] == r["outcomes"]["failed"]
                             and counts["rejected"] == r["outcomes"]["rejected"])
        notified_last = r["last_unix_ms"]["notified"]
        r["fanout_from_create_s"] = (notified_last - r["create_unix_ms"]) / 1000 if phase == "fanout" else None
        r["first_notify_after_create_s"] = (r["first_unix_ms"]["notified"] - r["create_unix_ms"]) / 1000
        out[phase] = r
        log(f"iotjobsd {phase}: {r['executions_per_s']:,.0f} executions/s, "
            f"{r['updates_per_s']:,.0f} updates/s, service counts {counts}, agree {r['counts_agree']}")
    procs.stop(daemon)
    return out


def rollout_timeline(procs, args, work, port):
    n = args.rollout_devices
    scale = 60
    daemon, endpoint = start_iotjobsd(procs, args, work, port, "iotjobsd-rollout",
                                      ["--time-scale", str(scale)])
    iot = iot_client(args, endpoint)
    register(iot, "roll-", n, "rollout")
    group_arn = iot.describe_thing_group(thingGroupName="rollout")["thingGroupArn"]
    rollout = {"maximumPerMinute": 400, "exponentialRate": {
        "baseRatePerMinute": 25, "incrementFactor": 2.0,
        "rateIncreaseCriteria": {"numberOfNotifiedThings": 50}}}
    cmd = fleet_cmd(args, port, "roll-", n, n, 0, os.path.join(work, "ready"),
                    ["--profile", "succeed=90,fail=10", "--run-time", "uniform:200ms-900ms",
                     "--bucket-ms", str(60_000 // scale)])

    def create():
        t0 = time.time()
        iot.create_job(jobId="rollout", targets=[group_arn], document='{"operation":"rollout"}',
                       targetSelection="SNAPSHOT", jobExecutionsRolloutConfig=rollout)
        return {"create_unix_ms": int(t0 * 1000)}

    r = run_fleet(procs, work, "fleet-rollout", cmd, create)
    procs.stop(daemon)
    return {"devices": n, "time_scale": scale, "rollout": rollout, "fleet": r}


def run(args):
    work = args.work
    os.makedirs(work, exist_ok=True)
    args.access_key = "AKIDDEV" + secrets.token_hex(6).upper()
    args.secret_key = secrets.token_urlsafe(30)
    args.credentials_file = os.path.join(work, "credentials")
    with open(args.credentials_file, "w") as f:
        f.write(f"[default]\naws_access_key_id = {args.access_key}\n"
                f"aws_secret_access_key = {args.secret_key}\n")
    procs = Processes(work)
    port = free_port()
    result = {"devices": args.devices, "jobs": args.jobs, "steps": args.steps,
              "loadavg_before": open("/proc/loadavg").read().split()[:3]}
    try:
        start_broker(procs, work, port)
        result["mosquitto_version"] = subprocess.run(
            ["mosquitto", "-h"], capture_output=True, text=True).stdout.split("\n")[0]
        result["ceiling"] = broker_ceiling(procs, args, work, port)
        result["iotjobsd"] = with_iotjobsd(procs, args, work, port)
        if args.rollout_devices > 0:
            result["rollout"] = rollout_timeline(procs, args, work, port)
    finally:
        procs.stop_all()
    result["loadavg_after"] = open("/proc/loadavg").read().split()[:3]
    json.dump(result, sys.stdout)
    print()


def write(args):
    """Prints the section, markers included (run_devices.sh hands it to bench_md)."""
    from bench_md import goal_mark
    with open(args.results) as f:
        r = json.load(f)
    env = os.environ
    n, j, s = r["devices"], r["jobs"], r["steps"]
    ce, io = r["ceiling"], r["iotjobsd"]
    ups = io["sustained"]["updates_per_s"]
    ceil_ups = ce["sustained"]["updates_per_s"]
    share = ups / ceil_ups if ceil_ups else 0
    lines = [
        "<!-- devices:begin -->",
        f"## Devices: {n:,} simulated devices through Mosquitto",
        "",
        "Written by `bench/run_devices.sh`; do not edit by hand, re-run the script.",
        "",
        f"- Command: `{env.get('COMMAND', 'bench/run_devices.sh')}`",
        f"- Date: {env.get('DATE', '?')}; commit `{env.get('COMMIT', '?')}`",
        f"- Machine: {env.get('NPROC', '?')} cores, {env.get('MODEL', '?')}, Linux {env.get('KERNEL', '?')}; "
        f"load average before/after {' '.join(r['loadavg_before'])} / {' '.join(r['loadavg_after'])}",
        f"- Broker: {r.get('mosquitto_version', 'mosquitto')} on loopback (one listener, ACL per device, "
        "set_tcp_nodelay, QoS 1 everywhere); devices: `iotjobs fleet` (one MQTT connection each, one event-loop thread), "
        "all three processes on the same 2 cores",
        f"- Work: phase *fan-out* = one job for all {n:,} devices, run time 0; phase *sustained* = {j} jobs per device "
        f"({n * j:,} executions), each start-next → {s} IN_PROGRESS update(s) with statusDetails → SUCCEEDED, "
        f"expectedVersion on every update",
        "- Ceiling: the same fleet command against `iotjobs echo`, which answers start-next and update from memory "
        "where iotjobsd would (same topics, similar payloads, no store)",
        "",
        "| figure | iotjobsd (SQLite, durable) | broker ceiling (echo) | goal |",
        "|---|--:|--:|---|",
        f"| sustained: accepted UpdateJobExecution per second | {ups:,.0f} | {ceil_ups:,.0f} | "
        f"{goal_mark(ups, '≥', GOALS['updates_per_s'], f'{ups:,.0f}/s', '10,000/s')} |",
        f"| sustained: iotjobsd as a share of the broker ceiling | {share:.0%} | 100% | "
        f"{goal_mark(share, '≥', GOALS['share_of_ceiling'], f'{share:.0%}', '50%')} |",
        f"| sustained: completed executions per second | {io['sustained']['executions_per_s']:,.0f} | "
        f"{ce['sustained']['executions_per_s']:,.0f} | – |",
        f"| sustained: update round trip p50 / p99 (ms) | {io['sustained']['latency_ms']['update']['p50']:.1f} / "
        f"{io['sustained']['latency_ms']['update']['p99']:.1f} | {ce['sustained']['latency_ms']['update']['p50']:.1f} / "
        f"{ce['sustained']['latency_ms']['update']['p99']:.1f} | – |",
        f"| fan-out: CreateJob → notify-next at the last of {n:,} devices (s) | {io['fanout']['fanout_from_create_s']:.2f} "
        f"(first after {io['fanout']['first_notify_after_create_s']:.2f}) | {ce['fanout']['notify_fanout_s']:.2f} (first to last) | – |",
        f"| fan-out: completed executions per second (one job, run time 0) | {io['fanout']['executions_per_s']:,.0f} | "
        f"{ce['fanout']['executions_per_s']:,.0f} | – |",
        f"| CPU seconds, sustained phase: server side / fleet | {io['sustained']['iotjobsd_cpu_s']:.1f} / "
        f"{io['sustained']['fleet_cpu_s']:.1f} | {ce['sustained']['responder_cpu_s']:.1f} / {ce['sustained']['fleet_cpu_s']:.1f} | – |",
        "",
        "Latencies are taken at saturation: every device keeps one request in flight, so a round trip "
        "is mostly time queued behind the other devices' requests (closed loop; rate = devices ÷ cycle time). "
        f"Agreement: after each phase DescribeJob's jobProcessDetails matched the simulator's outcomes "
        f"({'yes' if io['fanout']['counts_agree'] and io['sustained']['counts_agree'] else 'NO'}: "
        f"service {io['sustained']['service_counts']}, fleet {io['sustained']['outcomes']}). "
        f"Registration of the {n:,} things (boto3, 8 threads, CreateThing + AddThingToThingGroup) took "
        f"{io['registration_s']:.1f} s. Errors seen by devices: iotjobsd {io['sustained']['errors'] or 'none'}, "
        f"echo {ce['sustained']['errors'] or 'none'}.",
    ]
    if "rollout" in r:
        ro = r["rollout"]
        svg = env.get("ROLLOUT_SVG")
        lines += ["", f"### Rollout timeline ({ro['devices']:,} devices, --time-scale {ro['time_scale']})", "",
                  f"Exponential rollout {json.dumps(ro['rollout'])}; devices succeed 90% / fail 10% after "
                  "200–900 ms (12–54 scaled seconds). One plotted minute is one real second."]
        if svg:
            lines += ["", f"![rollout timeline]({svg})"]
        tl = ro["fleet"]["timeline"]
        lines += ["", "| minute | " + " | ".join(str(i) for i in range(len(tl["notified"]))) + " |",
                  "|---|" + "--:|" * len(tl["notified"])]
        for series in ("notified", "started", "succeeded", "failed"):
            lines.append(f"| {series} | " + " | ".join(str(x) for x in tl[series]) + " |")
    lines.append("<!-- devices:end -->")
    print("\n".join(lines))


def configured_curve(rollout, devices, minutes, steps_per_minute=600):
    """What the configured rollout allows per minute when every device is there to be notified:
    the exponential rate starts at baseRatePerMinute and is multiplied by incrementFactor each
    time another rateIncreaseCriteria.numberOfNotifiedThings things were notified (mid-minute
    too), never above maximumPerMinute, until all `devices` are notified. Integrated in steps of
    1/steps_per_minute of a minute."""
    exp = rollout.get("exponentialRate")
    cap = rollout.get("maximumPerMinute", 1000)
    out, cum = [], 0.0
    for _ in range(minutes):
        start = cum
        for _ in range(steps_per_minute):
            rate = cap
            if exp:
                k = int(cum // exp["rateIncreaseCriteria"]["numberOfNotifiedThings"])
                rate = min(cap, exp["baseRatePerMinute"] * exp["incrementFactor"] ** k)
            cum = min(devices, cum + rate / steps_per_minute)
        out.append(round(cum - start))
    return out


def curve(args):
    """The configured curve as "a,b,c" for bench/plot_timeline.py --curve, as many minutes as the
    run's timeline has."""
    with open(args.results) as f:
        ro = json.load(f)["rollout"]
    minutes = len(ro["fleet"]["timeline"]["notified"])
    print(",".join(str(x) for x in configured_curve(ro["rollout"], ro["devices"], minutes)))


def rollout_json(args):
    """The rollout run's fleet summary (with its timeline), the input of plot_timeline.py."""
    with open(args.results) as f:
        json.dump(json.load(f)["rollout"]["fleet"], sys.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--iotjobsd", required=True)
    r.add_argument("--iotjobs", required=True)
    r.add_argument("--work", required=True)
    r.add_argument("--devices", type=int, default=10000)
    r.add_argument("--jobs", type=int, default=3)
    r.add_argument("--steps", type=int, default=1)
    r.add_argument("--rollout-devices", type=int, default=1000)
    r.add_argument("--max-seconds", type=float, default=600)
    w = sub.add_parser("write")
    w.add_argument("--results", required=True)
    for name in ("curve", "rollout-json"):
        sub.add_parser(name).add_argument("--results", required=True)
    a = ap.parse_args()
    {"run": run, "write": write, "curve": curve, "rollout-json": rollout_json}[a.cmd](a)


if __name__ == "__main__":
    main()
