"""The fleet simulator (`iotjobs fleet`) against the real service: a real Mosquitto (an anonymous
listener with a per-device ACL, and an mTLS listener whose certificate CN is the thing name),
iotjobsd at --time-scale 60 with --mqtt, jobs created through boto3. The simulator's own counts
of succeeded / failed / rejected / hung executions must equal what the service reports in
DescribeJob's jobProcessDetails and in ListJobExecutionsForJob. Waits are deadlines on the
simulator's exit and on the service's counts, never fixed sleeps."""
import json
import os
import shutil
import subprocess
import unittest
from pathlib import Path

import harness
from harness import E2ECase

ROOT = Path(__file__).resolve().parents[2]
WS = D = None
PLAIN_PORT = TLS_PORT = None
CERTS = None


def iotjobs_binary():
    path = os.environ.get("IOTJOBS_CLI")
    if path:
        return path
    for build in ("build-e2e", "build"):
        p = ROOT / build / "src" / "cli" / "iotjobs"
        if p.exists():
            return str(p)
    raise RuntimeError("iotjobs not found: set IOTJOBS_CLI or build build/src/cli/iotjobs")


def setUpModule():
    global WS, D, PLAIN_PORT, TLS_PORT, CERTS
    WS = harness.Workspace()
    unittest.addModuleCleanup(WS.cleanup)
    CERTS = WS.mkdir("certs")
    subprocess.run([str(ROOT / "scripts" / "dev-certs.sh"), str(CERTS), "tls-0", "tls-1", "tls-2"],
                   check=True, stdout=subprocess.DEVNULL)
    PLAIN_PORT, TLS_PORT = harness.free_port(), harness.free_port()
    acl = WS.path("acl")
    with open(acl, "w") as f:
        f.write("user iotjobsd\ntopic readwrite $aws/#\n\npattern readwrite $aws/things/%u/jobs/#\n")
    conf = WS.path("mosquitto.conf")
    with open(conf, "w") as f:
        if os.getuid() == 0:
            f.write("user root\n")
        f.write(f"""per_listener_settings true
listener {PLAIN_PORT} 127.0.0.1
allow_anonymous true
acl_file {acl}
set_tcp_nodelay true

listener {TLS_PORT} 127.0.0.1
allow_anonymous true
require_certificate true
use_identity_as_username true
cafile {CERTS}/ca.crt
certfile {CERTS}/server.crt
keyfile {CERTS}/server.key
acl_file {acl}
""")
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    broker = subprocess.Popen([mosquitto, "-c", str(conf)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    harness._register(broker)
    unittest.addModuleCleanup(broker.kill)
    harness.wait_for_connect(PLAIN_PORT, broker, 20, "mosquitto")
    harness.wait_for_connect(TLS_PORT, broker, 20, "mosquitto (mTLS listener)")
    D = harness.Daemon(WS, args=["--mqtt", f"mqtt://iotjobsd@127.0.0.1:{PLAIN_PORT}",
                                 "--mqtt-client-id", f"iotjobsd-fleet-{PLAIN_PORT}",
                                 "--time-scale", "60"])
    unittest.addModuleCleanup(D.kill)
    D.start()


class FleetTest(E2ECase):
    @classmethod
    def setUpClass(cls):
        cls.ws = WS
        cls.iot = D.client()

    def group_of(self, group, names):
        arn = self.iot.create_thing_group(thingGroupName=group)["thingGroupArn"]
        for name in names:
            self.iot.create_thing(thingName=name)
            self.iot.add_thing_to_thing_group(thingGroupName=group, thingName=name)
        return arn

    def start_fleet(self, *args):
        ready = self.ws.path(f"ready-{self.id().rsplit('.', 1)[1]}")
        proc = subprocess.Popen([iotjobs_binary(), "fleet", "--json", "--progress", "never",
                                 "--ready-file", str(ready), "--max-seconds", "120", *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        harness._register(proc)
        self.addCleanup(proc.kill)
        self.wait_until(lambda: os.path.exists(ready) or proc.poll() is not None, bool,
                        "the fleet's devices online", timeout_s=60)
        self.assertIsNone(proc.poll(), proc.stderr.read() if proc.poll() is not None else "")
        return proc

    def finish(self, proc):
        out, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 0, f"fleet exited {proc.returncode}: {err}\n{out}")
        return json.loads(out)

    def service_counts(self, job_ids):
        totals = {"succeeded": 0, "failed": 0, "rejected": 0, "timed_out": 0, "in_progress": 0,
                  "queued": 0}
        for jid in job_ids:
            pd = self.iot.describe_job(jobId=jid)["job"]["jobProcessDetails"]
            totals["succeeded"] += pd.get("numberOfSucceededThings", 0)
            totals["failed"] += pd.get("numberOfFailedThings", 0)
            totals["rejected"] += pd.get("numberOfRejectedThings", 0)
            totals["timed_out"] += pd.get("numberOfTimedOutThings", 0)
            totals["in_progress"] += pd.get("numberOfInProgressThings", 0)
            totals["queued"] += pd.get("numberOfQueuedThings", 0)
        return totals

    def listed_statuses(self, job_ids):
        counts = {}
        for jid in job_ids:
            for page in self.iot.get_paginator("list_job_executions_for_job").paginate(jobId=jid):
                for e in page["executionSummaries"]:
                    s = e["jobExecutionSummary"]["status"]
                    counts[s] = counts.get(s, 0) + 1
        return counts

    def test_mixed_outcomes_agree_with_job_process_details(self):
        n, jobs = 120, 2
        arn = self.group_of("fleet-mixed", [f"mix-{i}" for i in range(n)])
        fleet = self.start_fleet("--port", str(PLAIN_PORT), "--prefix", "mix-", "-n", str(n),
                                 "--expect", str(n * jobs), "--profile",
                                 "succeed=60,fail=20,reject=10,hang=10", "--steps", "2",
                                 "--run-time", "uniform:0ms-40ms", "--reconnect-share", "0.1",
                                 "--reconnect-delay", "100ms", "--seed", "7")
        ids = [f"fleet-mixed-{k}" for k in range(jobs)]
        for jid in ids:
            # A hung device's execution times out after ten (scaled) minutes, which lets the next
            # job reach it; the others move on as soon as they finish. Ten, not two: under the
            # sanitizers on a loaded machine a run's notify-to-done p99 reached 2.6 s, so at two
            # seconds of wall time healthy executions timed out too (and the counts disagreed).
            self.iot.create_job(jobId=jid, targets=[arn], document='{"operation":"fleet"}',
                                targetSelection="SNAPSHOT",
                                timeoutConfig={"inProgressTimeoutInMinutes": 10})
        r = self.finish(fleet)
        o = r["outcomes"]
        self.assertEqual(o["succeeded"] + o["failed"] + o["rejected"] + o["hung"], n * jobs)
        for kind in ("succeeded", "failed", "rejected", "hung"):
            self.assertGreater(o[kind], 0, f"the profile should produce some {kind}: {o}")
        self.assertGreater(r["disconnects"], 0, "some executions should have reconnected")
        self.assertEqual(r["errors"], {})
        # Hung executions time out on the service's clock; then every count must agree.
        self.wait_until(lambda: self.service_counts(ids)["timed_out"], lambda t: t == o["hung"],
                        "hung executions TIMED_OUT", timeout_s=30)
        svc = self.service_counts(ids)
        self.assertEqual(
            (svc["succeeded"], svc["failed"], svc["rejected"], svc["timed_out"]),
            (o["succeeded"], o["failed"], o["rejected"], o["hung"]), f"service {svc}, fleet {o}")
        self.assertEqual((svc["in_progress"], svc["queued"]), (0, 0))
        listed = self.listed_statuses(ids)
        self.assertEqual(listed, {k: v for k, v in {
            "SUCCEEDED": o["succeeded"], "FAILED": o["failed"], "REJECTED": o["rejected"],
            "TIMED_OUT": o["hung"]}.items() if v})
        # Every accepted update was counted by the service as a version: steps + final per run.
        self.assertEqual(r["updates_accepted"], (o["succeeded"] + o["failed"] + o["rejected"]) * 3)

    def test_mtls_devices_with_their_own_certificates(self):
        names = ["tls-0", "tls-1", "tls-2"]
        arn = self.group_of("fleet-tls", names)
        fleet = self.start_fleet("--port", str(TLS_PORT), "--cafile", str(CERTS / "ca.crt"),
                                 "--cert-dir", str(CERTS), "--prefix", "tls-", "-n", "3",
                                 "--expect", "3")
        self.iot.create_job(jobId="fleet-tls", targets=[arn], document='{"operation":"tls"}',
                            targetSelection="SNAPSHOT")
        r = self.finish(fleet)
        self.assertEqual(r["connected"], 3)
        self.assertEqual(r["outcomes"]["succeeded"], 3)
        self.assertEqual(self.service_counts(["fleet-tls"])["succeeded"], 3)

    def test_bad_input_is_refused_with_a_message(self):
        p = subprocess.run([iotjobs_binary(), "fleet", "--profile", "explode=1"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn("explode", p.stderr)
        p = subprocess.run([iotjobs_binary(), "fleet", "--run-time", "uniform:2s-1s"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn("HIGH is below LOW", p.stderr)
        # Nothing listens on the port: said so, and not a success.
        p = subprocess.run([iotjobs_binary(), "fleet", "--port", str(harness.free_port()), "-n", "2",
                            "--max-seconds", "1", "--progress", "never"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no device could connect", p.stderr)


if __name__ == "__main__":
    unittest.main()
