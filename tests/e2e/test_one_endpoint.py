"""One endpoint for every SDK (issue 12): with only AWS_ENDPOINT_URL set to iotjobsd's control
listener, boto3's `iot` and `iot-jobs-data` clients (no endpoint_url anywhere) run a job from the
control plane to the device's completion. iotjobsd tells the two APIs apart by the signing service
of the credential scope (both have GET /things/{thing}/jobs). The separate jobs listener stays.

boto3/botocore honour AWS_ENDPOINT_URL since botocore 1.31.7 (the suite checks the installed
version resolves it rather than assuming).
"""

import json
import os
import unittest
from unittest import mock

import boto3
import botocore

import harness
from harness import ACCOUNT, E2ECase


def setUpModule():
    global WS, D
    WS = harness.Workspace()
    unittest.addModuleCleanup(WS.cleanup)
    D = harness.Daemon(WS)
    unittest.addModuleCleanup(D.kill)
    D.start()


def env_only(endpoint, keys):
    """The process environment as a user would set it: endpoint, keys and region, nothing else
    from AWS_* (no config file either)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID=keys.access_key,
               AWS_SECRET_ACCESS_KEY=keys.secret_key, AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE=str(WS.path("no-such-config")),
               AWS_SHARED_CREDENTIALS_FILE=str(WS.path("no-such-credentials")),
               AWS_MAX_ATTEMPTS="1")
    return env


class OneEndpointTest(E2ECase):
    def test_boto3_with_only_aws_endpoint_url(self):
        with mock.patch.dict(os.environ, env_only(D.endpoint, WS.keys), clear=True):
            session = boto3.session.Session()
            iot = session.client("iot")
            dev = session.client("iot-jobs-data")
        # The installed botocore resolves the variable (it does since 1.31.7).
        self.assertEqual(iot.meta.endpoint_url, D.endpoint, botocore.__version__)
        self.assertEqual(dev.meta.endpoint_url, D.endpoint, botocore.__version__)

        thing = iot.create_thing(thingName="one-endpoint")
        iot.create_job(jobId="one-endpoint-job", targets=[thing["thingArn"]],
                       document=json.dumps({"op": "one-endpoint"}))
        pending = self.wait_until(
            lambda: dev.get_pending_job_executions(thingName="one-endpoint"),
            lambda p: [j["jobId"] for j in p["queuedJobs"]] == ["one-endpoint-job"],
            "the queued execution")
        self.assertEqual(pending["inProgressJobs"], [])
        started = dev.start_next_pending_job_execution(thingName="one-endpoint")["execution"]
        self.assertEqual((started["jobId"], started["status"]), ("one-endpoint-job", "IN_PROGRESS"))
        self.assertEqual(json.loads(started["jobDocument"]), {"op": "one-endpoint"})
        done = dev.update_job_execution(thingName="one-endpoint", jobId="one-endpoint-job",
                                        status="SUCCEEDED", statusDetails={"via": "one"},
                                        includeJobExecutionState=True)
        self.assertEqual(done["executionState"]["status"], "SUCCEEDED")

        seen = iot.describe_job_execution(jobId="one-endpoint-job", thingName="one-endpoint")
        self.assertEqual(seen["execution"]["status"], "SUCCEEDED")
        self.assertEqual(seen["execution"]["statusDetails"], {"detailsMap": {"via": "one"}})
        self.assertEqual(seen["execution"]["thingArn"],
                         f"arn:aws:iot:us-east-1:{ACCOUNT}:thing/one-endpoint")
        job = self.wait_until(lambda: iot.describe_job(jobId="one-endpoint-job")["job"],
                              lambda j: j["status"] == "COMPLETED", "the job to complete")
        self.assertEqual(job["jobProcessDetails"]["numberOfSucceededThings"], 1)

    def test_the_same_path_goes_to_the_plane_it_was_signed_for(self):
        WS.client(D.endpoint).create_thing(thingName="same-path")
        # GET /things/{thing}/jobs: ListJobExecutionsForThing when signed for iot (or
        # execute-api), GetPendingJobExecutions when signed for iot-jobs-data.
        for service, member in (("iot", "executionSummaries"), ("execute-api", "executionSummaries"),
                                ("iot-jobs-data", "queuedJobs")):
            status, _, body = harness.signed_request(D.endpoint, "GET", "/things/same-path/jobs",
                                                     keys=WS.keys, service=service)
            self.assertEqual(status, 200, (service, body))
            self.assertIn(member, body, service)
        # The separate jobs listener still serves the data plane and still refuses `iot`.
        jobs = D.ready_line.split("jobs=")[1].split()[0]
        status, _, body = harness.signed_request(jobs, "GET", "/things/same-path/jobs",
                                                 keys=WS.keys, service="iot-jobs-data")
        self.assertEqual(status, 200, body)
        status, headers, _ = harness.signed_request(jobs, "GET", "/things/same-path/jobs",
                                                    keys=WS.keys, service="iot")
        self.assertEqual((status, headers.get("x-amzn-ErrorType")),
                         (403, "InvalidSignatureException"))


class ScopeRegionTest(E2ECase):
    """Issue 16 finding 8: only region-shaped scope regions, on both planes and listeners."""

    def test_regions_that_are_not_region_shaped_are_refused(self):
        jobs = D.ready_line.split("jobs=")[1].split()[0]
        for region in ("a" * 3000, '"us-east-1"', "", ".."):
            for endpoint, method, path, body, service in (
                    (D.endpoint, "PUT", "/job-templates/r", {"document": "{}"}, "iot"),
                    (D.endpoint, "GET", "/things/t/jobs", None, "iot-jobs-data"),
                    (jobs, "GET", "/things/t/jobs", None, "iot-jobs-data")):
                with self.subTest(region=region[:12], endpoint=endpoint, service=service):
                    status, headers, out = harness.signed_request(
                        endpoint, method, path, body=body, keys=WS.keys, region=region,
                        service=service)
                    self.assertEqual(status, 403, out)
                    self.assertEqual(headers.get("x-amzn-ErrorType"), "InvalidSignatureException")
                    self.assertIn("valid region", out["message"])


if __name__ == "__main__":
    unittest.main()
