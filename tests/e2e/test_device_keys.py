"""A device key is not an admin key (issue 12): the credentials file's iotjobs extension,
`iotjobs_role = device` (and optionally `iotjobs_thing = NAME`), limits a key to the jobs data
plane (and to one thing). Through boto3: the device runs its own job on both the jobs listener
and the single endpoint, is refused (AccessDeniedException, 403) on another thing's executions and
on the control plane; operator keys keep every right. The file stays a valid shared-credentials
file: boto3 loads the device profile by name.
"""

import json
import os
import unittest
from unittest import mock

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

import harness
from harness import E2ECase

CFG = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30)


def setUpModule():
    global WS, D, DEVICE, FLEET, JOBS
    WS = harness.Workspace()
    unittest.addModuleCleanup(WS.cleanup)
    DEVICE, FLEET = harness.Keys(), harness.Keys()
    with open(WS.credentials_file, "a") as f:
        f.write("\n[sensor-1]\n"
                f"aws_access_key_id = {DEVICE.access_key}\n"
                f"aws_secret_access_key = {DEVICE.secret_key}\n"
                "iotjobs_role = device\n"
                "iotjobs_thing = sensor-1\n\n"
                "[fleet]\n"
                f"aws_access_key_id = {FLEET.access_key}\n"
                f"aws_secret_access_key = {FLEET.secret_key}\n"
                "iotjobs_role = device\n")
    D = harness.Daemon(WS)
    unittest.addModuleCleanup(D.kill)
    D.start()
    JOBS = D.ready_line.split("jobs=")[1].split()[0]


def data_client(keys, endpoint):
    return boto3.session.Session(
        aws_access_key_id=keys.access_key, aws_secret_access_key=keys.secret_key,
        region_name="us-east-1").client("iot-jobs-data", endpoint_url=endpoint, config=CFG)


class DeviceKeyTest(E2ECase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.op = WS.client(D.endpoint)
        for t in ("sensor-1", "sensor-2"):
            cls.op.create_thing(thingName=t)

    def assertDenied(self, call, *parts):
        with self.assertRaises(ClientError) as ctx:
            call()
        err = ctx.exception.response
        self.assertEqual(err["Error"]["Code"], "AccessDeniedException", err)
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], 403)
        for p in parts:
            self.assertIn(p, err["Error"]["Message"])

    def run_job(self, dev, job_id, thing):
        self.op.create_job(jobId=job_id, targets=[f"arn:aws:iot:us-east-1:123456789012:thing/{thing}"],
                           document=json.dumps({"op": job_id}))
        self.wait_until(lambda: dev.get_pending_job_executions(thingName=thing)["queuedJobs"],
                        lambda q: [j["jobId"] for j in q] == [job_id], f"{job_id} queued")
        ex = dev.start_next_pending_job_execution(thingName=thing)["execution"]
        self.assertEqual(ex["jobId"], job_id)
        dev.update_job_execution(thingName=thing, jobId=job_id, status="SUCCEEDED")
        self.assertEqual(self.op.describe_job_execution(jobId=job_id, thingName=thing)
                         ["execution"]["status"], "SUCCEEDED")

    def test_device_key_runs_its_own_job_and_is_refused_elsewhere(self):
        for name, endpoint in (("jobs listener", JOBS), ("single endpoint", D.endpoint)):
            with self.subTest(name):
                dev = data_client(DEVICE, endpoint)
                self.run_job(dev, f"own-{len(name)}", "sensor-1")
                other = f"other-{len(name)}"
                self.op.create_job(jobId=other,
                                   targets=["arn:aws:iot:us-east-1:123456789012:thing/sensor-2"],
                                   document="{}")
                self.wait_until(
                    lambda: self.op.list_job_executions_for_job(jobId=other)["executionSummaries"],
                    lambda e: len(e) == 1, f"{other}'s execution")
                msg = f"User: access key {DEVICE.access_key} is not authorized"
                self.assertDenied(lambda: dev.get_pending_job_executions(thingName="sensor-2"),
                                  msg, "iotjobsdata:GetPendingJobExecutions", "thing/sensor-2")
                self.assertDenied(
                    lambda: dev.start_next_pending_job_execution(thingName="sensor-2"), msg)
                self.assertDenied(
                    lambda: dev.describe_job_execution(thingName="sensor-2", jobId=other), msg)
                self.assertDenied(lambda: dev.update_job_execution(
                    thingName="sensor-2", jobId=other, status="FAILED"), msg)
                # Nothing changed for sensor-2.
                self.assertEqual(self.op.describe_job_execution(jobId=other, thingName="sensor-2")
                                 ["execution"]["status"], "QUEUED")

    def test_device_keys_are_refused_on_the_control_plane(self):
        for keys in (DEVICE, FLEET):
            ctl = WS.client(D.endpoint, keys=keys)
            self.assertDenied(ctl.list_jobs, "device key (iotjobs_role = device)")
            self.assertDenied(lambda: ctl.create_thing(thingName="made-by-a-device"),
                              keys.access_key)
            self.assertDenied(lambda: ctl.list_job_executions_for_thing(thingName="sensor-1"))
        with self.assertRaises(self.op.exceptions.ResourceNotFoundException):
            self.op.describe_thing(thingName="made-by-a-device")

    def test_device_key_without_a_thing_serves_every_thing(self):
        dev = data_client(FLEET, D.endpoint)
        for t in ("sensor-1", "sensor-2"):
            self.assertIn("queuedJobs", dev.get_pending_job_executions(thingName=t))

    def test_the_file_stays_a_shared_credentials_file_for_the_sdks(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_SHARED_CREDENTIALS_FILE=str(WS.credentials_file),
                   AWS_CONFIG_FILE=str(WS.path("no-such-config")))
        with mock.patch.dict(os.environ, env, clear=True):
            session = boto3.session.Session(profile_name="sensor-1", region_name="us-east-1")
            dev = session.client("iot-jobs-data", endpoint_url=D.endpoint, config=CFG)
        self.assertEqual(session.get_credentials().access_key, DEVICE.access_key)
        self.assertIn("queuedJobs", dev.get_pending_job_executions(thingName="sensor-1"))
        self.assertDenied(lambda: dev.get_pending_job_executions(thingName="sensor-2"))


if __name__ == "__main__":
    unittest.main()
