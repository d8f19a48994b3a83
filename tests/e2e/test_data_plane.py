"""The HTTPS jobs data plane (`iot-jobs-data`) on iotjobsd's jobs endpoint, driven by boto3's
'iot-jobs-data' client as a device would: GetPendingJobExecutions, StartNextPendingJobExecution,
DescribeJobExecution (a jobId and `$next`), UpdateJobExecution, the errors of each, presigned URLs
substituted at delivery (and downloaded from moto's S3), the control-plane view moving with the
device's updates, and the signing-service checks between the two endpoints.

Plus the regression test for "a deleted thing's execution vanished from ListJobExecutionsForJob"
(it must stay listed as REMOVED).

One daemon and one moto for the module; each test uses its own things and jobs. Executions are
created in the background, so tests wait for them by polling with a deadline (never a sleep)."""

import json
import time
import unittest
import urllib.error
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

import harness
from harness import ACCOUNT, E2ECase

WAIT_S = 15
PREFIX = f"arn:aws:iot:us-east-1:{ACCOUNT}"
BUCKET = "dp-e2e-firmware"
FIRMWARE = b"\x7fELF firmware image 4.2.0 " + bytes(range(256))
DOCUMENT = {"operation": "install", "version": "4.2.0"}
ROLE = "arn:aws:iam::123456789012:role/S3Download"

COUNTERS = ("numberOfQueuedThings", "numberOfInProgressThings", "numberOfSucceededThings",
            "numberOfFailedThings", "numberOfRejectedThings", "numberOfCanceledThings",
            "numberOfTimedOutThings", "numberOfRemovedThings")


def thing_arn(name):
    return f"{PREFIX}:thing/{name}"


def counters(**nonzero):
    want = {k: 0 for k in COUNTERS}
    for short, v in nonzero.items():
        want[f"numberOf{short[0].upper()}{short[1:]}Things"] = v
    return want


def setUpModule():
    global WS, MOTO, D, JOBS_ENDPOINT
    WS, MOTO, D = harness.module_with_s3([(BUCKET, "fw/4.2.0.bin", FIRMWARE)])
    JOBS_ENDPOINT = dict(f.split("=", 1) for f in D.ready_line.split()[2:])["jobs"]


def download(url):
    """GET with urllib, no proxy; returns (status, raw body bytes)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def device_client(validate=True, keys=None):
    keys = keys or WS.keys
    cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5,
                 read_timeout=30, parameter_validation=validate)
    return boto3.session.Session(
        aws_access_key_id=keys.access_key, aws_secret_access_key=keys.secret_key,
        region_name="us-east-1").client("iot-jobs-data", endpoint_url=JOBS_ENDPOINT, config=cfg)


class DataPlaneCase(E2ECase):
    wait_s = WAIT_S

    @classmethod
    def setUpClass(cls):
        cls.ws = WS
        cls.c = D.client()
        cls.dev = device_client()
        cls.raw = device_client(validate=False)  # lets invalid input reach the server

    # --- assertions ----------------------------------------------------------------------------

    def assertRaisesModeled(self, name, call, status=None, contains=None):
        """Runs call(); asserts it raised the modeled boto3 exception class `name` with that code,
        HTTP status and message parts; returns the exception."""
        with self.assertRaises(ClientError) as cm:
            call()
        exc = cm.exception
        self.assertEqual(type(exc).__name__, name, exc.response)
        self.assertClientError(exc, name, status, contains)
        self.assertTrue(exc.response["Error"]["Message"], exc.response)
        return exc

    def assertEpochSeconds(self, value, what, slack_s=120):
        """A data-plane `long` timestamp: an integer number of seconds, close to now."""
        self.assertIsInstance(value, int, f"{what} = {value!r}")
        self.assertLess(abs(value - time.time()), slack_s,
                        f"{what} = {value} is not epoch seconds near now (milliseconds?)")

    def assertSummary(self, s, job_id, version, started):
        self.assertEqual(s["jobId"], job_id)
        self.assertEqual(s["versionNumber"], version)
        self.assertEqual(s["executionNumber"], 1)
        self.assertEpochSeconds(s["queuedAt"], "queuedAt")
        self.assertEpochSeconds(s["lastUpdatedAt"], "lastUpdatedAt")
        if started:
            self.assertEpochSeconds(s["startedAt"], "startedAt")
        else:
            self.assertNotIn("startedAt", s)
        self.assertEqual(set(s) - {"jobId", "queuedAt", "startedAt", "lastUpdatedAt",
                                   "versionNumber", "executionNumber"}, set(), s)

    # --- setup helpers -------------------------------------------------------------------------

    def thing(self, name):
        self.c.create_thing(thingName=name)
        return name


    def describe_job(self, job_id):
        return self.c.describe_job(jobId=job_id)["job"]

    def job(self, job_id, things, document=None, wait=True, **kw):
        """Creates a snapshot job on `things` and (by default) waits until every execution
        exists, so jobs created one after the other are queued in that order."""
        self.c.create_job(jobId=job_id, targets=[thing_arn(t) for t in things],
                          document=json.dumps(document or DOCUMENT), **kw)
        if wait:
            self.wait_until(
                lambda: self.describe_job(job_id),
                lambda j: (j["jobProcessDetails"]["numberOfQueuedThings"] == len(things) and
                           not j["isConcurrent"]),
                f"{len(things)} queued executions of {job_id}")

    def wait_counters(self, job_id, want):
        return self.wait_until(
            lambda: self.describe_job(job_id),
            lambda j: {k: j["jobProcessDetails"][k] for k in COUNTERS} == want,
            f"counters of {job_id} to become {want}")


class PendingListTest(DataPlaneCase):
    def test_in_progress_first_then_queued_oldest_first_capped_at_10(self):
        t = self.thing("pl-dev")
        self.assertEqual(self.dev.get_pending_job_executions(thingName=t)["inProgressJobs"], [])
        ids = [f"pl-{i:02d}" for i in range(12)]
        for job_id in ids:
            self.job(job_id, [t])

        # Nothing started: the ten oldest, oldest first.
        out = self.dev.get_pending_job_executions(thingName=t)
        self.assertEqual(out["inProgressJobs"], [])
        self.assertEqual([s["jobId"] for s in out["queuedJobs"]], ids[:10])
        for s in out["queuedJobs"]:
            self.assertSummary(s, s["jobId"], version=1, started=False)

        # pl-00 started through StartNext, pl-07 through UpdateJobExecution: both lead the list
        # (oldest first), the rest follow in queue order, ten in all.
        self.assertEqual(self.dev.start_next_pending_job_execution(thingName=t)["execution"][
            "jobId"], "pl-00")
        self.dev.update_job_execution(thingName=t, jobId="pl-07", status="IN_PROGRESS")
        out = self.dev.get_pending_job_executions(thingName=t)
        self.assertEqual([s["jobId"] for s in out["inProgressJobs"]], ["pl-00", "pl-07"])
        for s in out["inProgressJobs"]:
            self.assertSummary(s, s["jobId"], version=2, started=True)
        self.assertEqual([s["jobId"] for s in out["queuedJobs"]],
                         [i for i in ids if i not in ("pl-00", "pl-07")][:8])

        # Terminal executions leave the list; the two newest move up.
        for job_id in ("pl-00", "pl-01", "pl-02"):
            self.dev.update_job_execution(thingName=t, jobId=job_id, status="SUCCEEDED")
        out = self.dev.get_pending_job_executions(thingName=t)
        self.assertEqual([s["jobId"] for s in out["inProgressJobs"]], ["pl-07"])
        self.assertEqual([s["jobId"] for s in out["queuedJobs"]],
                         ["pl-03", "pl-04", "pl-05", "pl-06", "pl-08", "pl-09", "pl-10",
                          "pl-11"])

    def test_errors(self):
        self.assertRaisesModeled("ResourceNotFoundException", lambda: self.dev.
                                 get_pending_job_executions(thingName="pl-nobody"), 404,
                                 "pl-nobody")
        self.assertRaisesModeled("InvalidRequestException", lambda: self.raw.
                                 get_pending_job_executions(thingName="bad name"), 400)


class StartNextTest(DataPlaneCase):
    def test_queued_head_starts_in_progress_head_is_returned_unchanged(self):
        t = self.thing("sn-dev")
        self.assertNotIn("execution", self.dev.start_next_pending_job_execution(thingName=t))
        self.job("sn-a", [t], timeoutConfig={"inProgressTimeoutInMinutes": 60})
        self.job("sn-b", [t], document={"operation": "reboot"})

        before = time.time()
        out = self.dev.start_next_pending_job_execution(
            thingName=t, statusDetails={"step": "download", "progress": "0"},
            stepTimeoutInMinutes=5)
        e = out["execution"]
        self.assertEqual(e["jobId"], "sn-a")
        self.assertEqual(e["thingName"], t)
        self.assertEqual(e["status"], "IN_PROGRESS")
        self.assertEqual(e["statusDetails"], {"step": "download", "progress": "0"})
        self.assertEqual(e["versionNumber"], 2)
        self.assertEqual(e["executionNumber"], 1)
        self.assertIsInstance(e["jobDocument"], str)  # a JSON *string* over HTTPS
        self.assertEqual(json.loads(e["jobDocument"]), DOCUMENT)
        for k in ("queuedAt", "startedAt", "lastUpdatedAt"):
            self.assertEpochSeconds(e[k], k)
        self.assertGreaterEqual(e["startedAt"], int(before) - 1)
        # The step timer (5 min) runs out before the in-progress one (60 min).
        self.assertIsInstance(e["approximateSecondsBeforeTimedOut"], int)
        self.assertTrue(240 <= e["approximateSecondsBeforeTimedOut"] <= 300, e)

        # The IN_PROGRESS head comes back as it is: no new details, no new version.
        again = self.dev.start_next_pending_job_execution(
            thingName=t, statusDetails={"step": "other"}, stepTimeoutInMinutes=10)["execution"]
        self.assertEqual(again["jobId"], "sn-a")
        self.assertEqual(again["statusDetails"], {"step": "download", "progress": "0"})
        self.assertEqual(again["versionNumber"], 2)
        self.assertEqual(again["startedAt"], e["startedAt"])

        # The control plane sees the device's state.
        ex = self.c.describe_job_execution(jobId="sn-a", thingName=t)["execution"]
        self.assertEqual(ex["status"], "IN_PROGRESS")
        self.assertEqual(ex["statusDetails"], {"detailsMap": {"step": "download", "progress": "0"}})
        self.wait_counters("sn-a", counters(inProgress=1))

        # Finished: the next one starts; without a timeoutConfig or step timer there is no
        # approximateSecondsBeforeTimedOut.
        self.dev.update_job_execution(thingName=t, jobId="sn-a", status="SUCCEEDED")
        b = self.dev.start_next_pending_job_execution(thingName=t)["execution"]
        self.assertEqual(b["jobId"], "sn-b")
        self.assertEqual(json.loads(b["jobDocument"]), {"operation": "reboot"})
        self.assertEqual(b["statusDetails"], {})
        self.assertNotIn("approximateSecondsBeforeTimedOut", b)
        self.dev.update_job_execution(thingName=t, jobId="sn-b", status="SUCCEEDED")

        # Nothing pending: 200 and no `execution` member (not an error).
        out = self.dev.start_next_pending_job_execution(thingName=t)
        self.assertEqual(harness.http_status(out), 200)
        self.assertNotIn("execution", out)
        self.assertNotIn("execution", self.dev.describe_job_execution(thingName=t, jobId="$next"))

    def test_in_progress_timeout_without_step_timer(self):
        t = self.thing("sn-timeout")
        self.job("sn-t", [t], timeoutConfig={"inProgressTimeoutInMinutes": 30})
        # QUEUED: no timer runs yet.
        self.assertNotIn("approximateSecondsBeforeTimedOut",
                         self.dev.describe_job_execution(thingName=t, jobId="sn-t")["execution"])
        e = self.dev.start_next_pending_job_execution(thingName=t)["execution"]
        self.assertTrue(1740 <= e["approximateSecondsBeforeTimedOut"] <= 1800, e)

    def test_errors(self):
        t = self.thing("sn-err")
        self.job("sn-err-job", [t])
        self.assertRaisesModeled("ResourceNotFoundException", lambda: self.dev.
                                 start_next_pending_job_execution(thingName="sn-nobody"), 404)
        for minutes in (0, 10081, -1):
            self.assertRaisesModeled(
                "InvalidRequestException", lambda: self.dev.start_next_pending_job_execution(
                    thingName=t, stepTimeoutInMinutes=minutes), 400, "stepTimeoutInMinutes")
        self.assertRaisesModeled(
            "InvalidRequestException", lambda: self.raw.start_next_pending_job_execution(
                thingName=t, statusDetails={f"k{i}": "v" for i in range(11)}), 400,
            "statusDetails")
        self.assertRaisesModeled(
            "InvalidRequestException", lambda: self.raw.start_next_pending_job_execution(
                thingName=t, statusDetails={"bad key": "v"}), 400, "bad key")
        # None of the refusals started it.
        self.assertEqual(self.dev.describe_job_execution(thingName=t, jobId="sn-err-job")[
            "execution"]["status"], "QUEUED")


class DescribeTest(DataPlaneCase):
    def test_by_job_id_and_next(self):
        t = self.thing("de-dev")
        self.job("de-1", [t])
        self.job("de-2", [t], document={"operation": "second"})

        e = self.dev.describe_job_execution(thingName=t, jobId="de-2")["execution"]
        self.assertEqual(e["jobId"], "de-2")
        self.assertEqual(e["thingName"], t)
        self.assertEqual(e["status"], "QUEUED")
        self.assertEqual(e["versionNumber"], 1)
        self.assertEqual(e["executionNumber"], 1)
        self.assertNotIn("startedAt", e)
        self.assertEpochSeconds(e["queuedAt"], "queuedAt")
        # includeJobDocument defaults to true; the document is a JSON string.
        self.assertIsInstance(e["jobDocument"], str)
        self.assertEqual(json.loads(e["jobDocument"]), {"operation": "second"})
        e = self.dev.describe_job_execution(thingName=t, jobId="de-2",
                                            includeJobDocument=False)["execution"]
        self.assertNotIn("jobDocument", e)
        e = self.dev.describe_job_execution(thingName=t, jobId="de-2", executionNumber=1)[
            "execution"]
        self.assertEqual(e["executionNumber"], 1)

        # $next is the head of the pending list, and describing it changes nothing.
        for _ in range(2):
            n = self.dev.describe_job_execution(thingName=t, jobId="$next")["execution"]
            self.assertEqual(n["jobId"], "de-1")
            self.assertEqual(n["status"], "QUEUED")
            self.assertEqual(n["versionNumber"], 1)
            self.assertEqual(json.loads(n["jobDocument"]), DOCUMENT)
        n = self.dev.describe_job_execution(thingName=t, jobId="$next", includeJobDocument=False)
        self.assertNotIn("jobDocument", n["execution"])
        # An IN_PROGRESS execution leads, even a newer one.
        self.dev.update_job_execution(thingName=t, jobId="de-2", status="IN_PROGRESS")
        self.assertEqual(self.dev.describe_job_execution(thingName=t, jobId="$next")[
            "execution"]["jobId"], "de-2")

        # A terminal execution is still described.
        self.dev.update_job_execution(thingName=t, jobId="de-2", status="FAILED")
        e = self.dev.describe_job_execution(thingName=t, jobId="de-2")["execution"]
        self.assertEqual(e["status"], "FAILED")
        self.assertEqual(e["versionNumber"], 3)

    def test_errors(self):
        t = self.thing("de-err")
        self.job("de-err-job", [t])
        self.assertRaisesModeled("ResourceNotFoundException", lambda: self.dev.
                                 describe_job_execution(thingName=t, jobId="de-no-such-job"), 404)
        self.assertRaisesModeled("ResourceNotFoundException", lambda: self.dev.
                                 describe_job_execution(thingName="de-nobody", jobId="de-err-job"),
                                 404)
        self.assertRaisesModeled("ResourceNotFoundException", lambda: self.dev.
                                 describe_job_execution(thingName=t, jobId="de-err-job",
                                                        executionNumber=2), 404)
        self.assertRaisesModeled("ResourceNotFoundException", lambda: self.dev.
                                 describe_job_execution(thingName="de-nobody", jobId="$next"), 404)
        self.assertRaisesModeled("InvalidRequestException", lambda: self.raw.
                                 describe_job_execution(thingName=t, jobId="bad.id"), 400)


class UpdateTest(DataPlaneCase):
    def test_versions_results_and_job_completion(self):
        things = [self.thing(f"up-{i}") for i in range(3)]
        self.job("up-job", things, document={"operation": "update"})

        # Defaults: the response is empty.
        out = self.dev.update_job_execution(thingName="up-0", jobId="up-job", status="IN_PROGRESS",
                                            statusDetails={"step": "1"}, expectedVersion=1)
        self.assertEqual({k: v for k, v in out.items() if k != "ResponseMetadata"}, {})
        self.wait_counters("up-job", counters(queued=2, inProgress=1))

        # A stale expectedVersion: 409 InvalidStateTransitionException, nothing changes.
        self.assertRaisesModeled(
            "InvalidStateTransitionException", lambda: self.dev.update_job_execution(
                thingName="up-0", jobId="up-job", status="SUCCEEDED", expectedVersion=1), 409)
        self.assertEqual(self.dev.describe_job_execution(thingName="up-0", jobId="up-job")[
            "execution"]["status"], "IN_PROGRESS")

        # includeJobExecutionState / includeJobDocument.
        out = self.dev.update_job_execution(
            thingName="up-0", jobId="up-job", status="SUCCEEDED", expectedVersion=2,
            statusDetails={"result": "ok"}, includeJobExecutionState=True,
            includeJobDocument=True)
        self.assertEqual(out["executionState"],
                         {"status": "SUCCEEDED", "statusDetails": {"result": "ok"},
                          "versionNumber": 3})
        self.assertIsInstance(out["jobDocument"], str)
        self.assertEqual(json.loads(out["jobDocument"]), {"operation": "update"})
        out = self.dev.update_job_execution(thingName="up-1", jobId="up-job", status="FAILED",
                                            includeJobExecutionState=True)
        self.assertEqual(out["executionState"]["status"], "FAILED")
        self.assertEqual(out["executionState"]["versionNumber"], 2)
        self.assertNotIn("jobDocument", out)
        j = self.wait_counters("up-job", counters(queued=1, succeeded=1, failed=1))
        self.assertEqual(j["status"], "IN_PROGRESS")

        # Terminal executions refuse any further update, whatever the status asked for.
        for thing, status in (("up-0", "IN_PROGRESS"), ("up-0", "FAILED"),
                              ("up-1", "SUCCEEDED"), ("up-1", "REJECTED")):
            self.assertRaisesModeled(
                "InvalidStateTransitionException", lambda: self.dev.update_job_execution(
                    thingName=thing, jobId="up-job", status=status), 409)

        # The last one rejected: the snapshot job completes.
        self.dev.update_job_execution(thingName="up-2", jobId="up-job", status="REJECTED",
                                      statusDetails={"reason": "unsupported"})
        j = self.wait_until(lambda: self.describe_job("up-job"),
                            lambda j: j["status"] == "COMPLETED", "up-job to complete")
        self.assertEqual({k: j["jobProcessDetails"][k] for k in COUNTERS},
                         counters(succeeded=1, failed=1, rejected=1))
        self.assertIn("completedAt", j)
        ex = self.c.describe_job_execution(jobId="up-job", thingName="up-2")["execution"]
        self.assertEqual(ex["status"], "REJECTED")
        self.assertEqual(ex["statusDetails"], {"detailsMap": {"reason": "unsupported"}})
        summaries = self.c.list_job_executions_for_job(jobId="up-job")["executionSummaries"]
        self.assertEqual(sorted((s["thingArn"], s["jobExecutionSummary"]["status"])
                                for s in summaries),
                         [(thing_arn("up-0"), "SUCCEEDED"), (thing_arn("up-1"), "FAILED"),
                          (thing_arn("up-2"), "REJECTED")])

    def test_status_details_replace_and_step_timer(self):
        t = self.thing("up-details")
        self.job("up-details-job", [t], timeoutConfig={"inProgressTimeoutInMinutes": 100})
        self.dev.update_job_execution(thingName=t, jobId="up-details-job", status="IN_PROGRESS",
                                      statusDetails={"a": "1", "b": "2"}, stepTimeoutInMinutes=3)
        e = self.dev.describe_job_execution(thingName=t, jobId="up-details-job")["execution"]
        self.assertEqual(e["statusDetails"], {"a": "1", "b": "2"})
        self.assertTrue(120 <= e["approximateSecondsBeforeTimedOut"] <= 180, e)
        # Omitted statusDetails leave them; given ones replace them. -1 cancels the step timer.
        self.dev.update_job_execution(thingName=t, jobId="up-details-job", status="IN_PROGRESS",
                                      stepTimeoutInMinutes=-1)
        e = self.dev.describe_job_execution(thingName=t, jobId="up-details-job")["execution"]
        self.assertEqual(e["statusDetails"], {"a": "1", "b": "2"})
        self.assertTrue(5900 <= e["approximateSecondsBeforeTimedOut"] <= 6000, e)
        self.dev.update_job_execution(thingName=t, jobId="up-details-job", status="IN_PROGRESS",
                                      statusDetails={"c": "3"})
        e = self.dev.describe_job_execution(thingName=t, jobId="up-details-job")["execution"]
        self.assertEqual(e["statusDetails"], {"c": "3"})
        self.assertEqual(e["versionNumber"], 4)

    def test_invalid_requests(self):
        t = self.thing("up-bad")
        self.job("up-bad-job", [t])
        call = self.raw.update_job_execution
        # Statuses only the service sets.
        for status in ("CANCELED", "QUEUED", "TIMED_OUT", "REMOVED"):
            self.assertRaisesModeled("InvalidRequestException", lambda: call(
                thingName=t, jobId="up-bad-job", status=status), 400)
        self.assertRaisesModeled("InvalidRequestException", lambda: call(
            thingName=t, jobId="up-bad-job", status="DONE"), 400)
        self.assertRaisesModeled("InvalidRequestException", lambda: call(
            thingName=t, jobId="up-bad-job", status="IN_PROGRESS",
            statusDetails={f"k{i}": "v" for i in range(11)}), 400, "10")
        self.assertRaisesModeled("InvalidRequestException", lambda: call(
            thingName=t, jobId="up-bad-job", status="IN_PROGRESS",
            statusDetails={"bad/key": "v"}), 400, "bad/key")
        self.assertRaisesModeled("InvalidRequestException", lambda: call(
            thingName=t, jobId="up-bad-job", status="IN_PROGRESS",
            statusDetails={"k": "line\nbreak"}), 400)
        for minutes in (0, 10081, -2):
            self.assertRaisesModeled("InvalidRequestException", lambda: call(
                thingName=t, jobId="up-bad-job", status="IN_PROGRESS",
                stepTimeoutInMinutes=minutes), 400, "stepTimeoutInMinutes")
        self.assertRaisesModeled("InvalidRequestException", lambda: call(
            thingName=t, jobId="$next", status="IN_PROGRESS"), 400)
        # Unknown thing / job.
        self.assertRaisesModeled("ResourceNotFoundException", lambda: call(
            thingName="up-nobody", jobId="up-bad-job", status="SUCCEEDED"), 404)
        self.assertRaisesModeled("ResourceNotFoundException", lambda: call(
            thingName=t, jobId="up-no-such-job", status="SUCCEEDED"), 404)
        # None of it touched the execution.
        e = self.dev.describe_job_execution(thingName=t, jobId="up-bad-job")["execution"]
        self.assertEqual((e["status"], e["versionNumber"], e["statusDetails"]), ("QUEUED", 1, {}))


class PresignedUrlTest(DataPlaneCase):
    PLACEHOLDER = f"${{aws:iot:s3-presigned-url:https://s3.amazonaws.com/{BUCKET}/fw/4.2.0.bin}}"

    def test_documents_delivered_to_devices_carry_working_urls(self):
        t = self.thing("ps-dev")
        document = {"operation": "install", "url": self.PLACEHOLDER,
                    "steps": [{"download": self.PLACEHOLDER}]}
        self.job("ps-job", [t], document=document,
                 presignedUrlConfig={"roleArn": ROLE, "expiresInSec": 600})

        # The control plane keeps the placeholder.
        self.assertEqual(json.loads(self.c.get_job_document(jobId="ps-job")["document"]),
                         document)

        def check(doc_text, what):
            doc = json.loads(doc_text)
            self.assertNotIn("aws:iot:s3-presigned-url", doc_text, what)
            for url in (doc["url"], doc["steps"][0]["download"]):
                self.assertTrue(url.startswith(f"{MOTO.endpoint}/{BUCKET}/fw/4.2.0.bin?"), url)
                self.assertIn("X-Amz-Signature=", url)
                self.assertRegex(url, r"X-Amz-Expires=600(&|$)")
                status, body = download(url)
                self.assertEqual(status, 200, f"{what}: GET {url} -> {body[:300]!r}")
                self.assertEqual(body, FIRMWARE, what)
            self.assertEqual(doc["operation"], "install")

        check(self.dev.describe_job_execution(thingName=t, jobId="ps-job")["execution"][
            "jobDocument"], "DescribeJobExecution")
        check(self.dev.describe_job_execution(thingName=t, jobId="$next")["execution"][
            "jobDocument"], "DescribeJobExecution $next")
        check(self.dev.start_next_pending_job_execution(thingName=t)["execution"]["jobDocument"],
              "StartNextPendingJobExecution")
        check(self.dev.update_job_execution(thingName=t, jobId="ps-job", status="IN_PROGRESS",
                                            includeJobDocument=True)["jobDocument"],
              "UpdateJobExecution")
        # Still the placeholder for the operator.
        self.assertEqual(json.loads(self.c.get_job_document(jobId="ps-job")["document"]),
                         document)


class AuthTest(DataPlaneCase):
    def test_signing_service_decides_the_plane(self):
        t = self.thing("au-dev")
        # Signed for the control plane's service: refused by the jobs endpoint.
        status, headers, body = harness.signed_request(
            JOBS_ENDPOINT, "GET", f"/things/{t}/jobs", keys=WS.keys, service="iot")
        self.assertEqual(status, 403, body)
        self.assertEqual(headers.get("x-amzn-ErrorType"), "InvalidSignatureException")
        self.assertIn("iot-jobs-data", body["message"])
        # Signed right: served.
        status, _, body = harness.signed_request(
            JOBS_ENDPOINT, "GET", f"/things/{t}/jobs", keys=WS.keys, service="iot-jobs-data")
        self.assertEqual(status, 200, body)
        self.assertEqual(body, {"inProgressJobs": [], "queuedJobs": []})
        # Unsigned, or with a key the daemon does not know: refused.
        status, _, _ = harness.signed_request(JOBS_ENDPOINT, "GET", f"/things/{t}/jobs")
        self.assertIn(status, (401, 403))
        with self.assertRaises(ClientError) as cm:
            device_client(keys=harness.Keys()).get_pending_job_executions(thingName=t)
        self.assertIn(harness.http_status(cm.exception), (401, 403))

        # A control-plane client pointed at the jobs endpoint fails, even on the shared path.
        wrong = WS.client(JOBS_ENDPOINT)
        with self.assertRaises(ClientError) as cm:
            wrong.list_job_executions_for_thing(thingName=t)
        self.assertEqual(harness.error_code(cm.exception), "InvalidSignatureException")
        with self.assertRaises(ClientError):
            wrong.list_things()
        # A device client pointed at the control endpoint is served there (one endpoint for
        # every SDK: the signing service decides the plane; see test_one_endpoint).
        same = boto3.session.Session(
            aws_access_key_id=WS.keys.access_key, aws_secret_access_key=WS.keys.secret_key,
            region_name="us-east-1").client("iot-jobs-data", endpoint_url=D.endpoint,
                                             config=Config(retries={"max_attempts": 1}))
        pending = same.get_pending_job_executions(thingName=t)
        self.assertEqual((pending["inProgressJobs"], pending["queuedJobs"]), ([], []))


class DeletedThingRegressionTest(DataPlaneCase):
    """Bug: DeleteThing of a targeted thing dropped its execution from ListJobExecutionsForJob
    instead of showing it REMOVED (numberOfRemovedThings 1)."""

    def test_issue_deleted_things_execution_is_listed_removed(self):
        for name in ("rm-keep", "rm-gone", "rm-started"):
            self.thing(name)
        self.job("rm-job", ["rm-keep", "rm-gone", "rm-started"])
        self.dev.start_next_pending_job_execution(thingName="rm-started")
        self.c.delete_thing(thingName="rm-gone")
        j = self.wait_counters("rm-job", counters(queued=1, inProgress=1, removed=1))
        self.assertEqual(j["status"], "IN_PROGRESS")
        summaries = self.c.list_job_executions_for_job(jobId="rm-job")["executionSummaries"]
        by_thing = {s["thingArn"]: s["jobExecutionSummary"] for s in summaries}
        self.assertEqual({k: v["status"] for k, v in by_thing.items()},
                         {thing_arn("rm-keep"): "QUEUED", thing_arn("rm-gone"): "REMOVED",
                          thing_arn("rm-started"): "IN_PROGRESS"})
        self.assertEqual(
            [s["jobExecutionSummary"]["status"] for s in self.c.list_job_executions_for_job(
                jobId="rm-job", status="REMOVED")["executionSummaries"]], ["REMOVED"])
        # The thing is gone for the device plane.
        self.assertRaisesModeled("ResourceNotFoundException", lambda: self.dev.
                                 get_pending_job_executions(thingName="rm-gone"), 404)
        # Deleting an IN_PROGRESS thing removes that execution too; the job then completes once
        # the last one finishes.
        self.c.delete_thing(thingName="rm-started")
        self.wait_counters("rm-job", counters(queued=1, removed=2))
        self.dev.update_job_execution(thingName="rm-keep", jobId="rm-job", status="SUCCEEDED")
        j = self.wait_until(lambda: self.describe_job("rm-job"),
                            lambda j: j["status"] == "COMPLETED", "rm-job to complete")
        self.assertEqual({k: j["jobProcessDetails"][k] for k in COUNTERS},
                         counters(succeeded=1, removed=2))


if __name__ == "__main__":
    unittest.main()
