"""Job events ($aws/events/job/... and $aws/events/jobExecution/...) end to end: a real Mosquitto,
iotjobsd connected to it with --mqtt, UpdateEventConfigurations / DescribeEventConfigurations
through boto3, devices reporting through the HTTPS data plane, and the events read back by
Mosquitto's own `mosquitto_sub`. Waits are deadlines on events arriving, never fixed sleeps."""
import json
import queue
import shutil
import subprocess
import threading
import time
import unittest

import boto3
from botocore.config import Config

import harness
from harness import E2ECase

ARN = "arn:aws:iot:us-east-1:123456789012"
WS = D = BROKER = SUB = None
EVENTS = queue.Queue()


def setUpModule():
    global WS, D, BROKER, SUB
    WS = harness.Workspace()
    unittest.addModuleCleanup(WS.cleanup)
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = harness.free_port()
    conf = WS.path("mosquitto.conf")
    with open(conf, "w") as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
        if hasattr(__import__("os"), "getuid") and __import__("os").getuid() == 0:
            f.write("user root\n")
    BROKER = subprocess.Popen([mosquitto, "-c", str(conf)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    harness._register(BROKER)
    unittest.addModuleCleanup(BROKER.kill)
    harness.wait_for_connect(port, BROKER, 20, "mosquitto")
    D = harness.Daemon(WS, args=["--mqtt", f"mqtt://127.0.0.1:{port}",
                                 "--mqtt-client-id", f"iotjobsd-events-{port}"])
    unittest.addModuleCleanup(D.kill)
    D.start()
    SUB = subprocess.Popen(["mosquitto_sub", "-p", str(port), "-t", "$aws/events/#", "-v",
                            "-q", "1"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True)
    harness._register(SUB)
    unittest.addModuleCleanup(SUB.kill)

    def read():
        for line in SUB.stdout:
            topic, _, payload = line.rstrip("\n").partition(" ")
            EVENTS.put((topic, json.loads(payload)))
    threading.Thread(target=read, daemon=True).start()


def next_events(topics, deadline_s=15):
    """Collects events until every topic in `topics` arrived; returns {topic: payload}."""
    want, got = set(topics), {}
    end = time.monotonic() + deadline_s
    while want - set(got):
        left = end - time.monotonic()
        if left <= 0:
            raise AssertionError(f"events {sorted(want - set(got))} did not arrive; got "
                                 f"{sorted(got)}")
        try:
            topic, payload = EVENTS.get(timeout=left)
        except queue.Empty:
            continue
        got[topic] = payload
    return got


class EventsTest(E2ECase):
    @classmethod
    def setUpClass(cls):
        cls.ws = WS
        cls.iot = D.client()
        jobs = dict(f.split("=", 1) for f in D.ready_line.split()[2:])["jobs"]
        cls.dp = boto3.session.Session(
            aws_access_key_id=WS.keys.access_key, aws_secret_access_key=WS.keys.secret_key,
            region_name="us-east-1").client("iot-jobs-data", endpoint_url=jobs,
                                            config=Config(retries={"max_attempts": 1}))

    def wait_queued(self, job, n):
        end = time.monotonic() + 15
        while time.monotonic() < end:
            if self.iot.describe_job(jobId=job)["job"]["jobProcessDetails"][
                    "numberOfQueuedThings"] == n:
                return
            time.sleep(0.05)
        self.fail(f"{job}: {n} executions were not created")

    def test_1_configurations_round_trip_and_validation(self):
        self.assertEqual(self.iot.describe_event_configurations()["eventConfigurations"], {})
        self.iot.update_event_configurations(eventConfigurations={
            "JOB": {"Enabled": True}, "JOB_EXECUTION": {"Enabled": True},
            "THING": {"Enabled": False}})
        d = self.iot.describe_event_configurations()
        self.assertEqual(d["eventConfigurations"], {"JOB": {"Enabled": True},
                                                    "JOB_EXECUTION": {"Enabled": True},
                                                    "THING": {"Enabled": False}})
        self.assertLess(abs((harness.utcnow() - d["creationDate"]).total_seconds()), 60)
        with self.assertRaises(self.iot.exceptions.InvalidRequestException):
            self.iot.update_event_configurations(eventConfigurations={"NOPE": {"Enabled": True}})

    def test_2_execution_and_completion_events(self):
        for t in ("ev-a", "ev-b"):
            self.iot.create_thing(thingName=t)
        self.iot.create_job(jobId="ev-done", targets=[f"{ARN}:thing/ev-a", f"{ARN}:thing/ev-b"],
                            document="{}", description="events")
        self.wait_queued("ev-done", 2)
        self.dp.update_job_execution(thingName="ev-a", jobId="ev-done", status="SUCCEEDED",
                                     statusDetails={"k": "v"})
        self.dp.update_job_execution(thingName="ev-b", jobId="ev-done", status="FAILED")
        got = next_events(["$aws/events/jobExecution/ev-done/succeeded",
                           "$aws/events/jobExecution/ev-done/failed",
                           "$aws/events/job/ev-done/completed"])
        ok = got["$aws/events/jobExecution/ev-done/succeeded"]
        self.assertEqual((ok["eventType"], ok["operation"], ok["status"], ok["thingArn"],
                          ok["statusDetails"]),
                         ("JOB_EXECUTION", "succeeded", "SUCCEEDED", f"{ARN}:thing/ev-a",
                          {"k": "v"}))
        done = got["$aws/events/job/ev-done/completed"]
        self.assertEqual((done["eventType"], done["status"], done["description"]),
                         ("JOB", "COMPLETED", "events"))
        self.assertEqual(done["jobProcessDetails"]["numberOfSucceededThings"], 1)
        self.assertEqual(done["jobProcessDetails"]["numberOfFailedThings"], 1)
        self.assertLess(abs(done["timestamp"] - time.time()), 60)  # seconds, not milliseconds

    def test_3_cancel_and_delete_events(self):
        self.iot.create_thing(thingName="ev-c")
        self.iot.create_job(jobId="ev-gone", targets=[f"{ARN}:thing/ev-c"], document="{}")
        self.wait_queued("ev-gone", 1)
        self.iot.cancel_job(jobId="ev-gone", comment="stop it")
        got = next_events(["$aws/events/job/ev-gone/cancellation_in_progress",
                           "$aws/events/jobExecution/ev-gone/canceled",
                           "$aws/events/job/ev-gone/canceled"])
        self.assertEqual(got["$aws/events/job/ev-gone/canceled"]["comment"], "stop it")
        self.iot.delete_job(jobId="ev-gone")
        got = next_events(["$aws/events/job/ev-gone/deletion_in_progress",
                           "$aws/events/jobExecution/ev-gone/deleted",
                           "$aws/events/job/ev-gone/deleted"])
        self.assertEqual(got["$aws/events/job/ev-gone/deleted"]["status"], "DELETED")

    def test_4_disabled_types_publish_nothing(self):
        self.iot.update_event_configurations(eventConfigurations={
            "JOB": {"Enabled": False}, "JOB_EXECUTION": {"Enabled": False}})
        self.iot.create_thing(thingName="ev-d")
        self.iot.create_job(jobId="ev-quiet", targets=[f"{ARN}:thing/ev-d"], document="{}")
        self.wait_queued("ev-quiet", 1)
        self.dp.update_job_execution(thingName="ev-d", jobId="ev-quiet", status="SUCCEEDED")
        # Enable again and produce a marker event: it must be the first one to arrive.
        self.iot.update_event_configurations(eventConfigurations={"JOB": {"Enabled": True}})
        self.iot.create_job(jobId="ev-marker", targets=[f"{ARN}:thing/ev-d"], document="{}")
        self.iot.cancel_job(jobId="ev-marker")
        topic, _ = EVENTS.get(timeout=15)
        self.assertEqual(topic, "$aws/events/job/ev-marker/cancellation_in_progress")


if __name__ == "__main__":
    unittest.main()
