"""Jobs and job executions on the control plane through boto3: the whole template → job →
executions → cancel → delete flow, every operation's options, and every error as its boto3
exception class.

Executions are created in the background by the scheduler, and CancelJob/DeleteJob finish in the
background too; the tests wait for those events by polling with a deadline (never a fixed sleep).
Executions leave QUEUED only through the HTTPS jobs data plane (DevicePlaneInteractionTest)."""

import datetime
import json
import time
import unittest

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

import harness
from harness import ACCOUNT, E2ECase

WAIT_S = 15  # bound on any background event (rollout of a few things, cancel, delete)
PREFIX = f"arn:aws:iot:us-east-1:{ACCOUNT}"
DOC_BUCKET = "jobs-e2e-docs"
DOCUMENT = {"operation": "install", "package": "fw-2.0.1"}


def thing_arn(name):
    return f"{PREFIX}:thing/{name}"


def group_arn(name):
    return f"{PREFIX}:thinggroup/{name}"


def job_arn(job_id):
    return f"{PREFIX}:job/{job_id}"


def template_arn(template_id):
    return f"{PREFIX}:jobtemplate/{template_id}"


COUNTERS = ("numberOfQueuedThings", "numberOfInProgressThings", "numberOfSucceededThings",
            "numberOfFailedThings", "numberOfRejectedThings", "numberOfCanceledThings",
            "numberOfTimedOutThings", "numberOfRemovedThings")


def counters(job, **nonzero):
    """The full counter dict a job should show: the given ones, every other counter 0."""
    want = {k: 0 for k in COUNTERS}
    for short, v in nonzero.items():
        want[f"numberOf{short[0].upper()}{short[1:]}Things"] = v
    return want


def setUpModule():
    global WS, MOTO, D
    WS, MOTO, D = harness.module_with_s3([(DOC_BUCKET, "doc.json", DOCUMENT)])


class JobsCase(E2ECase):
    wait_s = WAIT_S

    @classmethod
    def setUpClass(cls):
        cls.ws = WS
        cls.c = D.client()
        cls.raw = D.client(validate=False)  # lets invalid input reach the server

    # --- assertions ----------------------------------------------------------------------------

    def assertRaisesModeled(self, name, call, status=None, contains=None):
        """Runs call(); asserts it raised the modeled boto3 exception class `name` (not a bare
        ClientError) with that code, HTTP status and message parts; returns the exception."""
        with self.assertRaises(ClientError) as cm:
            call()
        exc = cm.exception
        self.assertEqual(type(exc).__name__, name, exc.response)
        self.assertClientError(exc, name, status, contains)
        self.assertTrue(exc.response["Error"]["Message"], exc.response)
        return exc

    def assertRecent(self, when, slack_s=120):
        self.assertIsInstance(when, datetime.datetime)
        self.assertIsNotNone(when.tzinfo)
        self.assertLess(abs((when - harness.utcnow()).total_seconds()), slack_s)

    # --- setup helpers -------------------------------------------------------------------------

    def things(self, *names, group=None):
        for n in names:
            self.c.create_thing(thingName=n)
            if group:
                self.c.add_thing_to_thing_group(thingGroupName=group, thingName=n)

    def group(self, name, parent=None):
        kw = {"parentGroupName": parent} if parent else {}
        self.c.create_thing_group(thingGroupName=name, **kw)

    def job(self, job_id, targets, **kw):
        if "document" not in kw and "documentSource" not in kw and "jobTemplateArn" not in kw:
            kw["document"] = json.dumps(DOCUMENT)
        return self.c.create_job(jobId=job_id, targets=targets, **kw)

    # --- waiting for background work -----------------------------------------------------------


    def describe(self, job_id):
        return self.c.describe_job(jobId=job_id)["job"]

    def wait_rolled_out(self, job_id, expected):
        """Waits until `expected` executions exist and the rollout has finished."""
        return self.wait_until(
            lambda: self.describe(job_id),
            lambda j: (sum(j["jobProcessDetails"][k] for k in COUNTERS) == expected and
                       not j["jobProcessDetails"]["processingTargets"] and
                       not j["isConcurrent"]),
            f"{expected} executions of {job_id}")

    def wait_counters(self, job_id, want):
        return self.wait_until(
            lambda: self.describe(job_id),
            lambda j: {k: j["jobProcessDetails"][k] for k in COUNTERS} == want,
            f"counters of {job_id} to become {want}")

    def wait_gone(self, job_id):
        def probe():
            try:
                return self.c.describe_job(jobId=job_id)["job"]["status"]
            except self.c.exceptions.ResourceNotFoundException:
                return None
        self.wait_until(probe, lambda s: s is None, f"job {job_id} to be deleted")

    def summaries_in_pages_of_two(self, call, **args):
        """Every page of an execution listing with maxResults=2; asserts page sizes; returns
        (summaries, pages)."""
        items, token, pages = [], None, 0
        while True:
            page = call(**args, maxResults=2, **({"nextToken": token} if token else {}))
            pages += 1
            self.assertLessEqual(len(page["executionSummaries"]), 2)
            items += page["executionSummaries"]
            token = page.get("nextToken")
            if not token:
                return items, pages
            self.assertLess(pages, 100)

    def executions_for_job(self, job_id, **kw):
        return self.summaries_in_pages_of_two(self.c.list_job_executions_for_job, jobId=job_id, **kw)

    def executions_for_thing(self, thing, **kw):
        return self.summaries_in_pages_of_two(self.c.list_job_executions_for_thing, thingName=thing,
                                              **kw)


class TemplateToJobFlowTest(JobsCase):
    """The brief's whole flow, in order, on one set of things:

        fleet ── fleet-eu        fleet: f1, f2      fleet-eu: f3, f4      lone: f6 (no group)
        other: f5

    targets = [fleet, f1 (also in fleet), f6]  →  f1, f2, f3, f4, f6 (five executions)."""

    TEMPLATE = {
        "description": "firmware 2.0.1",
        "presignedUrlConfig": {"roleArn": "arn:aws:iam::123456789012:role/S3Download",
                               "expiresInSec": 600},
        "jobExecutionsRolloutConfig": {"maximumPerMinute": 600},
        "abortConfig": {"criteriaList": [{"failureType": "FAILED", "action": "CANCEL",
                                          "thresholdPercentage": 25.5,
                                          "minNumberOfExecutedThings": 4}]},
        "timeoutConfig": {"inProgressTimeoutInMinutes": 120},
        "jobExecutionsRetryConfig": {"criteriaList": [{"failureType": "FAILED",
                                                       "numberOfRetries": 2}]},
        "destinationPackageVersions": [f"{PREFIX}:package/fw/version/2.0.1"],
    }

    def test_template_job_executions_cancel_delete(self):
        c = self.c
        # Registry.
        self.group("fleet")
        self.group("fleet-eu", parent="fleet")
        self.group("other")
        self.things("f1", "f2", group="fleet")
        self.things("f3", "f4", group="fleet-eu")
        self.things("f5", group="other")
        self.things("f6")

        # Template with every inheritable config.
        document = json.dumps({"op": "update", "url": "${aws:iot:s3-presigned-url:"
                                                      "https://s3.amazonaws.com/fw/2.0.1.bin}"})
        c.create_job_template(jobTemplateId="fw-tpl", document=document, **self.TEMPLATE)

        # Job from the template, overriding timeoutConfig only.
        targets = [group_arn("fleet"), thing_arn("f1"), thing_arn("f6")]
        before = harness.utcnow()
        out = c.create_job(jobId="fw-rollout", targets=targets,
                           jobTemplateArn=template_arn("fw-tpl"),
                           timeoutConfig={"inProgressTimeoutInMinutes": 30},
                           tags=[{"Key": "release", "Value": "2.0.1"}])
        self.assertEqual(out["jobArn"], job_arn("fw-rollout"))
        self.assertEqual(out["jobId"], "fw-rollout")
        self.assertEqual(out["description"], "firmware 2.0.1")  # inherited

        j = self.wait_rolled_out("fw-rollout", 5)
        self.assertEqual(j["jobTemplateArn"], template_arn("fw-tpl"))
        self.assertEqual(j["description"], "firmware 2.0.1")
        self.assertEqual(j["targets"], targets)
        self.assertEqual(j["targetSelection"], "SNAPSHOT")
        self.assertEqual(j["status"], "IN_PROGRESS")
        self.assertFalse(j["forceCanceled"])
        for key in ("presignedUrlConfig", "jobExecutionsRolloutConfig", "abortConfig",
                    "jobExecutionsRetryConfig", "destinationPackageVersions"):
            self.assertEqual(j[key], self.TEMPLATE[key], key)
        self.assertEqual(j["timeoutConfig"], {"inProgressTimeoutInMinutes": 30})  # override
        self.assertRecent(j["createdAt"])
        self.assertGreaterEqual(j["createdAt"], before - datetime.timedelta(seconds=2))
        self.assertRecent(j["lastUpdatedAt"])
        self.assertNotIn("completedAt", j)
        self.assertEqual({k: j["jobProcessDetails"][k] for k in COUNTERS},
                         counters(j, queued=5))
        self.assertEqual(c.get_job_document(jobId="fw-rollout")["document"], document)
        self.assertEqual(c.list_tags_for_resource(resourceArn=job_arn("fw-rollout"))["tags"],
                         [{"Key": "release", "Value": "2.0.1"}])

        # ListJobExecutionsForJob, two per page: every targeted thing exactly once.
        items, pages = self.executions_for_job("fw-rollout")
        self.assertEqual(pages, 3)
        arns = [e["thingArn"] for e in items]
        self.assertEqual(sorted(arns), sorted(thing_arn(t) for t in ("f1", "f2", "f3", "f4", "f6")))
        for e in items:
            s = e["jobExecutionSummary"]
            self.assertEqual((s["status"], s["executionNumber"], s["retryAttempt"]),
                             ("QUEUED", 1, 0))
            self.assertRecent(s["queuedAt"])
            self.assertRecent(s["lastUpdatedAt"])
            self.assertNotIn("startedAt", s)

        # DescribeJobExecution (latest, and by number).
        ex = c.describe_job_execution(jobId="fw-rollout", thingName="f3")["execution"]
        self.assertEqual(ex["jobId"], "fw-rollout")
        self.assertEqual(ex["thingArn"], thing_arn("f3"))
        self.assertEqual((ex["status"], ex["executionNumber"], ex["versionNumber"]),
                         ("QUEUED", 1, 1))
        self.assertFalse(ex["forceCanceled"])
        self.assertRecent(ex["queuedAt"])
        self.assertEqual(c.describe_job_execution(jobId="fw-rollout", thingName="f3",
                                                  executionNumber=1)["execution"], ex)
        self.assertRaisesModeled("ResourceNotFoundException", lambda: c.describe_job_execution(
            jobId="fw-rollout", thingName="f3", executionNumber=2), 404)
        self.assertRaisesModeled("ResourceNotFoundException", lambda: c.describe_job_execution(
            jobId="fw-rollout", thingName="f5"), 404)  # not targeted

        # Two more jobs on f1, so ListJobExecutionsForThing pages too.
        self.job("f1-extra-a", [thing_arn("f1")])
        self.job("f1-extra-b", [thing_arn("f1")])
        self.wait_rolled_out("f1-extra-a", 1)
        self.wait_rolled_out("f1-extra-b", 1)
        items, pages = self.executions_for_thing("f1")
        self.assertEqual(sorted(e["jobId"] for e in items),
                         ["f1-extra-a", "f1-extra-b", "fw-rollout"])
        self.assertEqual(pages, 2)
        for e in items:
            self.assertEqual(e["jobExecutionSummary"]["status"], "QUEUED")
        only = c.list_job_executions_for_thing(thingName="f1", jobId="fw-rollout")
        self.assertEqual([e["jobId"] for e in only["executionSummaries"]], ["fw-rollout"])

        # CancelJobExecution: a stale expectedVersion is a conflict, then the counters move.
        self.assertRaisesModeled("VersionConflictException", lambda: c.cancel_job_execution(
            jobId="fw-rollout", thingName="f2", expectedVersion=7), 409)
        c.cancel_job_execution(jobId="fw-rollout", thingName="f2", expectedVersion=1,
                               statusDetails={"reason": "maintenance"})
        ex = c.describe_job_execution(jobId="fw-rollout", thingName="f2")["execution"]
        self.assertEqual((ex["status"], ex["versionNumber"]), ("CANCELED", 2))
        self.assertEqual(ex["statusDetails"], {"detailsMap": {"reason": "maintenance"}})
        self.assertFalse(ex["forceCanceled"])
        self.wait_counters("fw-rollout", counters(None, queued=4, canceled=1))
        self.assertRaisesModeled("InvalidStateTransitionException", lambda: c.cancel_job_execution(
            jobId="fw-rollout", thingName="f2"), 409)
        canceled = c.list_job_executions_for_job(jobId="fw-rollout", status="CANCELED")
        self.assertEqual([e["thingArn"] for e in canceled["executionSummaries"]],
                         [thing_arn("f2")])
        self.assertEqual(len(c.list_job_executions_for_thing(
            thingName="f2", status="QUEUED")["executionSummaries"]), 0)

        # CreateJobTemplate from the job: its document and configs (the override included).
        c.create_job_template(jobTemplateId="from-job", jobArn=job_arn("fw-rollout"),
                              description="copied")
        t = c.describe_job_template(jobTemplateId="from-job")
        self.assertEqual(t["document"], document)
        self.assertEqual(t["description"], "copied")
        for key in ("presignedUrlConfig", "jobExecutionsRolloutConfig", "abortConfig",
                    "jobExecutionsRetryConfig", "destinationPackageVersions"):
            self.assertEqual(t[key], self.TEMPLATE[key], key)
        self.assertEqual(t["timeoutConfig"], {"inProgressTimeoutInMinutes": 30})

        # DeleteJob of an IN_PROGRESS job needs force.
        self.assertRaisesModeled("InvalidStateTransitionException",
                                 lambda: c.delete_job(jobId="fw-rollout"), 409, "force")

        # CancelJob: QUEUED executions become CANCELED in the background.
        out = c.cancel_job(jobId="fw-rollout", reasonCode="FW_RECALL", comment="bad build")
        self.assertEqual((out["jobArn"], out["jobId"], out["description"]),
                         (job_arn("fw-rollout"), "fw-rollout", "firmware 2.0.1"))
        j = self.wait_counters("fw-rollout", counters(None, canceled=5))
        self.assertEqual(j["status"], "CANCELED")
        self.assertEqual((j["reasonCode"], j["comment"]), ("FW_RECALL", "bad build"))
        self.assertFalse(j["forceCanceled"])
        items, _ = self.executions_for_job("fw-rollout")
        self.assertEqual({e["jobExecutionSummary"]["status"] for e in items}, {"CANCELED"})
        self.assertEqual(len(items), 5)
        self.assertIn("fw-rollout", [s["jobId"] for s in c.list_jobs(status="CANCELED")["jobs"]])

        # DeleteJob of a CANCELED job needs no force; the job, its executions and tags go.
        c.delete_job(jobId="fw-rollout")
        self.wait_gone("fw-rollout")
        self.assertRaisesModeled("ResourceNotFoundException",
                                 lambda: c.describe_job(jobId="fw-rollout"), 404)
        self.assertRaisesModeled("ResourceNotFoundException",
                                 lambda: c.get_job_document(jobId="fw-rollout"), 404)
        self.assertRaisesModeled("ResourceNotFoundException",
                                 lambda: c.list_job_executions_for_job(jobId="fw-rollout"), 404)
        self.assertRaisesModeled("ResourceNotFoundException", lambda: c.describe_job_execution(
            jobId="fw-rollout", thingName="f1"), 404)
        self.assertRaisesModeled("ResourceNotFoundException", lambda: c.list_tags_for_resource(
            resourceArn=job_arn("fw-rollout")), 404)
        items, _ = self.executions_for_thing("f1")
        self.assertEqual(sorted(e["jobId"] for e in items), ["f1-extra-a", "f1-extra-b"])
        # The template made from the job outlives it.
        self.assertEqual(c.describe_job_template(jobTemplateId="from-job")["document"], document)
        # Once gone, the id can be used again.
        self.job("fw-rollout", [thing_arn("f6")])
        self.wait_rolled_out("fw-rollout", 1)


class CreateJobTest(JobsCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = cls.c
        c.create_thing(thingName="cj-1")
        c.create_thing(thingName="cj-2")
        c.create_thing_group(thingGroupName="cj-grp")
        c.add_thing_to_thing_group(thingGroupName="cj-grp", thingName="cj-2")

    def test_inline_document(self):
        doc = json.dumps({"a": [1, 2, {"b": "ü"}]})
        out = self.job("cj-inline", [thing_arn("cj-1")], document=doc, description="d1")
        self.assertEqual(out, {**out, "jobArn": job_arn("cj-inline"), "jobId": "cj-inline",
                               "description": "d1"})
        self.assertEqual(self.c.get_job_document(jobId="cj-inline")["document"], doc)
        got = self.c.describe_job(jobId="cj-inline")
        self.assertNotIn("documentSource", got)
        self.assertNotIn("jobTemplateArn", got["job"])
        self.assertNotIn("document", got["job"])

    def test_document_source_is_fetched_once(self):
        source = f"https://s3.amazonaws.com/{DOC_BUCKET}/doc.json"
        self.job("cj-s3", [thing_arn("cj-1")], documentSource=source)
        got = self.c.describe_job(jobId="cj-s3")
        self.assertEqual(got["documentSource"], source)
        self.assertEqual(json.loads(self.c.get_job_document(jobId="cj-s3")["document"]),
                         DOCUMENT)
        self.wait_rolled_out("cj-s3", 1)
        self.assertRaisesModeled("InvalidRequestException", lambda: self.job(
            "cj-s3-missing", [thing_arn("cj-1")],
            documentSource=f"https://s3.amazonaws.com/{DOC_BUCKET}/absent.json"), 400)

    def test_group_target_and_continuous_selection(self):
        self.job("cj-cont", [group_arn("cj-grp")], targetSelection="CONTINUOUS")
        j = self.wait_rolled_out("cj-cont", 1)
        self.assertEqual(j["targetSelection"], "CONTINUOUS")
        self.assertEqual(j["status"], "IN_PROGRESS")

    def test_scheduled_job_waits(self):
        start = (harness.utcnow() + datetime.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
        end = (harness.utcnow() + datetime.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
        self.job("cj-sched", [thing_arn("cj-1")], schedulingConfig={
            "startTime": start, "endTime": end, "endBehavior": "CANCEL"})
        j = self.describe("cj-sched")
        self.assertEqual(j["status"], "SCHEDULED")
        self.assertEqual(j["schedulingConfig"],
                         {"startTime": start, "endTime": end, "endBehavior": "CANCEL"})
        self.assertEqual({k: j["jobProcessDetails"][k] for k in COUNTERS}, counters(j))
        self.assertEqual(self.c.list_job_executions_for_job(jobId="cj-sched")[
            "executionSummaries"], [])
        # A SCHEDULED job is not terminal: deleting it needs force.
        self.assertRaisesModeled("InvalidStateTransitionException",
                                 lambda: self.c.delete_job(jobId="cj-sched"), 409)
        self.c.delete_job(jobId="cj-sched", force=True)
        self.wait_gone("cj-sched")

    def test_duplicate_job_id(self):
        self.job("cj-dup", [thing_arn("cj-1")])
        exc = self.assertRaisesModeled("ResourceAlreadyExistsException", lambda: self.job(
            "cj-dup", [thing_arn("cj-2")]), 409, "cj-dup")
        self.assertEqual(exc.response.get("resourceId"), "cj-dup")
        self.assertEqual(exc.response.get("resourceArn"), job_arn("cj-dup"))

    def test_not_found_targets_and_template(self):
        c = self.c
        self.assertRaisesModeled("ResourceNotFoundException", lambda: self.job(
            "cj-nf-thing", [thing_arn("cj-1"), thing_arn("cj-nobody")]), 404, "cj-nobody")
        self.assertRaisesModeled("ResourceNotFoundException", lambda: self.job(
            "cj-nf-group", [group_arn("cj-nogroup")]), 404, "cj-nogroup")
        self.assertRaisesModeled("ResourceNotFoundException", lambda: c.create_job(
            jobId="cj-nf-tpl", targets=[thing_arn("cj-1")],
            jobTemplateArn=template_arn("no-such-template")), 404)
        # A failed create leaves nothing behind.
        for job_id in ("cj-nf-thing", "cj-nf-group", "cj-nf-tpl"):
            self.assertRaisesModeled("ResourceNotFoundException",
                                     lambda: c.describe_job(jobId=job_id), 404)

    def test_more_than_100_targets_is_a_limit(self):
        targets = [thing_arn(f"many-{i}") for i in range(101)]
        self.assertRaisesModeled("LimitExceededException", lambda: self.raw.create_job(
            jobId="cj-101", targets=targets, document="{}"), 410, "100")

    def test_invalid_requests(self):
        c, raw = self.c, self.raw
        t = [thing_arn("cj-1")]
        c.create_job_template(jobTemplateId="cj-tpl", description="t", document="{}")
        placeholder = json.dumps({"u": "${aws:iot:s3-presigned-url:https://s3.amazonaws.com/b/k}"})
        cases = {
            "no document": lambda: c.create_job(jobId="cj-x", targets=t),
            "document and source": lambda: c.create_job(
                jobId="cj-x", targets=t, document="{}",
                documentSource=f"https://s3.amazonaws.com/{DOC_BUCKET}/doc.json"),
            "template and document": lambda: c.create_job(
                jobId="cj-x", targets=t, document="{}", jobTemplateArn=template_arn("cj-tpl")),
            "document not JSON": lambda: c.create_job(jobId="cj-x", targets=t, document="{nope"),
            "document too large": lambda: raw.create_job(
                jobId="cj-x", targets=t, document=json.dumps({"k": "x" * 32768})),
            "empty targets": lambda: raw.create_job(jobId="cj-x", targets=[], document="{}"),
            "not an ARN": lambda: c.create_job(jobId="cj-x", targets=["cj-1"], document="{}"),
            "other account": lambda: c.create_job(
                jobId="cj-x", targets=["arn:aws:iot:us-east-1:999999999999:thing/cj-1"],
                document="{}"),
            "other region": lambda: c.create_job(
                jobId="cj-x", targets=[f"arn:aws:iot:eu-west-1:{ACCOUNT}:thing/cj-1"],
                document="{}"),
            "job ARN as target": lambda: c.create_job(
                jobId="cj-x", targets=[job_arn("cj-dup")], document="{}"),
            "bad jobId": lambda: raw.create_job(jobId="bad.id", targets=t, document="{}"),
            "jobId too long": lambda: raw.create_job(jobId="j" * 65, targets=t, document="{}"),
            "targetSelection": lambda: raw.create_job(jobId="cj-x", targets=t, document="{}",
                                                      targetSelection="SOMETIMES"),
            "documentParameters on a custom template": lambda: c.create_job(
                jobId="cj-x", targets=t, jobTemplateArn=template_arn("cj-tpl"),
                documentParameters={"k": "v"}),
            "placeholder without presignedUrlConfig": lambda: c.create_job(
                jobId="cj-x", targets=t, document=placeholder),
            "rollout above 1000": lambda: c.create_job(
                jobId="cj-x", targets=t, document="{}",
                jobExecutionsRolloutConfig={"maximumPerMinute": 1001}),
            "timeout 0": lambda: c.create_job(jobId="cj-x", targets=t, document="{}",
                                              timeoutConfig={"inProgressTimeoutInMinutes": 0}),
            "startTime in the past": lambda: c.create_job(
                jobId="cj-x", targets=t, document="{}",
                schedulingConfig={"startTime": "2020-01-01T00:00"}),
            "template ARN of another account": lambda: c.create_job(
                jobId="cj-x", targets=t,
                jobTemplateArn="arn:aws:iot:us-east-1:999999999999:jobtemplate/cj-tpl"),
        }
        for what, call in cases.items():
            with self.subTest(what):
                self.assertRaisesModeled("InvalidRequestException", call, 400)
        self.assertRaisesModeled("ResourceNotFoundException",
                                 lambda: c.describe_job(jobId="cj-x"), 404)

    def test_rollout_rate_limits_execution_creation(self):
        for i in range(3):
            self.c.create_thing(thingName=f"slow-{i}")
        self.job("cj-slow", [thing_arn(f"slow-{i}") for i in range(3)],
                 jobExecutionsRolloutConfig={"maximumPerMinute": 1})
        j = self.wait_until(lambda: self.describe("cj-slow"),
                            lambda j: j["jobProcessDetails"]["numberOfQueuedThings"] > 0,
                            "the first execution of cj-slow")
        # One per minute: the first is out, the other two wait, so the job is still rolling out.
        self.assertEqual(j["jobProcessDetails"]["numberOfQueuedThings"], 1)
        self.assertTrue(j["isConcurrent"])
        self.assertEqual(j["jobProcessDetails"]["processingTargets"],
                         [thing_arn(f"slow-{i}") for i in range(3)])
        # CancelJob stops the rollout: only the one execution ever exists.
        self.c.cancel_job(jobId="cj-slow")
        j = self.wait_counters("cj-slow", counters(None, canceled=1))
        self.assertFalse(j["isConcurrent"])
        self.assertEqual(j["jobProcessDetails"]["processingTargets"], [])

    def test_issue_deleted_direct_target_gets_no_phantom_execution(self):
        # Regression: a thing target deleted before the rollout reached it got an execution for
        # the dead thing: counted as QUEUED (so the job never completed) yet never listed.
        for n in ("ph-1", "ph-2", "ph-3"):
            self.c.create_thing(thingName=n)
        self.job("cj-phantom", [thing_arn(n) for n in ("ph-1", "ph-2", "ph-3")],
                 jobExecutionsRolloutConfig={"maximumPerMinute": 1})
        self.wait_until(lambda: self.describe("cj-phantom"),
                        lambda j: j["jobProcessDetails"]["numberOfQueuedThings"] == 1,
                        "the first execution of cj-phantom")
        first = self.c.list_job_executions_for_job(jobId="cj-phantom")["executionSummaries"]
        self.assertEqual([e["thingArn"] for e in first], [thing_arn("ph-1")])  # targets in order
        self.c.delete_thing(thingName="ph-2")
        self.c.update_job(jobId="cj-phantom",
                          jobExecutionsRolloutConfig={"maximumPerMinute": 1000})
        j = self.wait_until(lambda: self.describe("cj-phantom"), lambda j: not j["isConcurrent"],
                            "the rollout of cj-phantom to finish")
        self.assertEqual({k: j["jobProcessDetails"][k] for k in COUNTERS},
                         counters(None, queued=2))
        items, _ = self.executions_for_job("cj-phantom")
        self.assertEqual(sorted(e["thingArn"] for e in items),
                         [thing_arn("ph-1"), thing_arn("ph-3")])

    def test_region_is_a_namespace(self):
        eu = D.client(region="eu-west-1")
        eu.create_thing(thingName="cj-1")  # same name, other region
        out = eu.create_job(jobId="cj-region", targets=[
            f"arn:aws:iot:eu-west-1:{ACCOUNT}:thing/cj-1"], document="{}")
        self.assertEqual(out["jobArn"], f"arn:aws:iot:eu-west-1:{ACCOUNT}:job/cj-region")
        self.assertRaisesModeled("ResourceNotFoundException",
                                 lambda: self.c.describe_job(jobId="cj-region"), 404)
        self.assertEqual(eu.describe_job(jobId="cj-region")["job"]["jobArn"], out["jobArn"])


class ListJobsTest(JobsCase):
    @classmethod
    def setUpClass(cls):
        # A daemon of its own, so the listings see only these jobs.
        cls.ws = WS
        cls.d = harness.Daemon(WS)
        cls.addClassCleanup(cls.d.kill)
        cls.d.start()
        cls.c = cls.d.client()
        cls.raw = cls.d.client(validate=False)
        c = cls.c
        c.create_thing_group(thingGroupName="lj-a")
        c.create_thing_group(thingGroupName="lj-a-child", parentGroupName="lj-a")
        c.create_thing_group(thingGroupName="lj-b")
        for n, g in (("lj-1", "lj-a"), ("lj-2", "lj-a-child"), ("lj-3", "lj-b")):
            c.create_thing(thingName=n)
            c.add_thing_to_thing_group(thingGroupName=g, thingName=n)
        doc = "{}"
        c.create_job(jobId="lj-snap-a", targets=[group_arn("lj-a")], document=doc)
        c.create_job(jobId="lj-cont-a", targets=[group_arn("lj-a")], document=doc,
                     targetSelection="CONTINUOUS")
        c.create_job(jobId="lj-snap-b", targets=[group_arn("lj-b"), thing_arn("lj-1")],
                     document=doc)
        c.create_job(jobId="lj-thing", targets=[thing_arn("lj-3")], document=doc)
        c.create_job(jobId="lj-canceled", targets=[thing_arn("lj-3")], document=doc)
        c.cancel_job(jobId="lj-canceled")

    def listed(self, **kw):
        items, token, pages = [], None, 0
        while True:
            args = dict(kw, maxResults=2)
            if token:
                args["nextToken"] = token
            page = self.c.list_jobs(**args)
            pages += 1
            self.assertLessEqual(len(page["jobs"]), 2)
            items += page["jobs"]
            token = page.get("nextToken")
            if not token:
                break
        ids = [j["jobId"] for j in items]
        self.assertEqual(len(ids), len(set(ids)), ids)  # each job exactly once
        return items

    def ids(self, **kw):
        return sorted(j["jobId"] for j in self.listed(**kw))

    def test_all_jobs_paged_newest_first(self):
        items = self.listed()
        self.assertEqual([j["jobId"] for j in items],
                         ["lj-canceled", "lj-thing", "lj-snap-b", "lj-cont-a", "lj-snap-a"])
        s = next(j for j in items if j["jobId"] == "lj-cont-a")
        self.assertEqual(s["jobArn"], job_arn("lj-cont-a"))
        self.assertEqual(s["targetSelection"], "CONTINUOUS")
        self.assertEqual(s["status"], "IN_PROGRESS")
        self.assertRecent(s["createdAt"])
        self.assertRecent(s["lastUpdatedAt"])
        self.assertNotIn("thingGroupId", s)

    def test_status_and_target_selection_filters(self):
        self.assertEqual(self.ids(status="CANCELED"), ["lj-canceled"])
        self.assertEqual(self.ids(status="IN_PROGRESS"),
                         ["lj-cont-a", "lj-snap-a", "lj-snap-b", "lj-thing"])
        self.assertEqual(self.ids(status="COMPLETED"), [])
        self.assertEqual(self.ids(targetSelection="CONTINUOUS"), ["lj-cont-a"])
        self.assertEqual(self.ids(targetSelection="SNAPSHOT", status="CANCELED"),
                         ["lj-canceled"])

    def test_thing_group_filters(self):
        gid = self.c.describe_thing_group(thingGroupName="lj-a")["thingGroupId"]
        items = self.listed(thingGroupName="lj-a")
        self.assertEqual(sorted(j["jobId"] for j in items), ["lj-cont-a", "lj-snap-a"])
        self.assertEqual({j["thingGroupId"] for j in items}, {gid})
        self.assertEqual(sorted(j["jobId"] for j in self.listed(thingGroupId=gid)),
                         ["lj-cont-a", "lj-snap-a"])
        self.assertEqual(self.ids(thingGroupName="lj-a", targetSelection="SNAPSHOT"),
                         ["lj-snap-a"])
        self.assertEqual(self.ids(thingGroupName="lj-b"), ["lj-snap-b"])
        # The filter is on the job's group targets, not on groups reached through children.
        self.assertEqual(self.ids(thingGroupName="lj-a-child"), [])
        self.assertRaisesModeled("ResourceNotFoundException",
                                 lambda: self.c.list_jobs(thingGroupName="lj-none"), 404)

    def test_invalid_filters(self):
        for what, kw in (("status", {"status": "RUNNING"}),
                         ("targetSelection", {"targetSelection": "ALL"}),
                         ("maxResults", {"maxResults": 251}),
                         ("nextToken", {"nextToken": "garbage"})):
            with self.subTest(what):
                self.assertRaisesModeled("InvalidRequestException",
                                         lambda: self.raw.list_jobs(**kw), 400)


class UpdateJobTest(JobsCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.c.create_thing(thingName="uj-1")

    def test_update_job(self):
        c = self.c
        self.job("uj", [thing_arn("uj-1")], description="before",
                 jobExecutionsRetryConfig={"criteriaList": [
                     {"failureType": "ALL", "numberOfRetries": 3}]})
        created = self.describe("uj")
        out = c.update_job(jobId="uj", description="after",
                           timeoutConfig={"inProgressTimeoutInMinutes": 45},
                           jobExecutionsRolloutConfig={"maximumPerMinute": 50},
                           abortConfig={"criteriaList": [{
                               "failureType": "ALL", "action": "CANCEL",
                               "thresholdPercentage": 50, "minNumberOfExecutedThings": 1}]},
                           presignedUrlConfig={"roleArn": "arn:aws:iam::123456789012:role/R",
                                               "expiresInSec": 3600},
                           jobExecutionsRetryConfig={"criteriaList": [
                               {"failureType": "ALL", "numberOfRetries": 1}]})
        self.assertEqual(set(out) - {"ResponseMetadata"}, set())
        j = self.describe("uj")
        self.assertEqual(j["description"], "after")
        self.assertEqual(j["timeoutConfig"], {"inProgressTimeoutInMinutes": 45})
        self.assertEqual(j["jobExecutionsRolloutConfig"], {"maximumPerMinute": 50})
        self.assertEqual(j["abortConfig"]["criteriaList"][0]["failureType"], "ALL")
        self.assertEqual(j["presignedUrlConfig"]["expiresInSec"], 3600)
        self.assertEqual(j["jobExecutionsRetryConfig"],
                         {"criteriaList": [{"failureType": "ALL", "numberOfRetries": 1}]})
        self.assertGreaterEqual(j["lastUpdatedAt"], created["lastUpdatedAt"])
        self.assertEqual(j["createdAt"], created["createdAt"])

        # An update that leaves a config out keeps it.
        c.update_job(jobId="uj", description="again")
        self.assertEqual(self.describe("uj")["timeoutConfig"], {"inProgressTimeoutInMinutes": 45})

        self.assertRaisesModeled("InvalidRequestException", lambda: c.update_job(
            jobId="uj", jobExecutionsRetryConfig={"criteriaList": [
                {"failureType": "ALL", "numberOfRetries": 2}]}), 400, "raised")
        self.assertRaisesModeled("InvalidRequestException", lambda: c.update_job(
            jobId="uj", jobExecutionsRolloutConfig={"maximumPerMinute": 5000}), 400)
        self.assertRaisesModeled("InvalidRequestException", lambda: c.update_job(
            jobId="uj", timeoutConfig={"inProgressTimeoutInMinutes": 10081}), 400)
        self.assertRaisesModeled("ResourceNotFoundException", lambda: c.update_job(
            jobId="uj-none", description="x"), 404)

    def test_max_rollout_per_minute_flag_raises_the_cap(self):
        d = self.daemon(args=["--max-rollout-per-minute", "5000"])
        c = d.client()
        c.create_thing(thingName="fast")
        c.create_job(jobId="fast", targets=[thing_arn("fast")], document="{}",
                     jobExecutionsRolloutConfig={"maximumPerMinute": 5000})
        c.update_job(jobId="fast", jobExecutionsRolloutConfig={"maximumPerMinute": 4000})
        self.assertEqual(c.describe_job(jobId="fast")["job"]["jobExecutionsRolloutConfig"],
                         {"maximumPerMinute": 4000})
        self.assertRaisesModeled("InvalidRequestException", lambda: c.update_job(
            jobId="fast", jobExecutionsRolloutConfig={"maximumPerMinute": 5001}), 400)


class CancelAndDeleteJobTest(JobsCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for i in range(4):
            cls.c.create_thing(thingName=f"cd-{i}")

    def targets(self, n=4):
        return [thing_arn(f"cd-{i}") for i in range(n)]

    def test_force_cancel(self):
        self.job("cd-force", self.targets())
        self.wait_rolled_out("cd-force", 4)
        self.c.cancel_job(jobId="cd-force", force=True)
        j = self.wait_counters("cd-force", counters(None, canceled=4))
        self.assertEqual(j["status"], "CANCELED")
        self.assertTrue(j["forceCanceled"])
        self.assertNotIn("reasonCode", j)
        # Cancelling a cancelled job again is accepted and changes nothing.
        self.c.cancel_job(jobId="cd-force")
        self.assertEqual(self.describe("cd-force")["status"], "CANCELED")

    def test_cancel_errors(self):
        self.job("cd-err", self.targets(1))
        self.assertRaisesModeled("InvalidRequestException", lambda: self.c.cancel_job(
            jobId="cd-err", reasonCode="lower_case"), 400, "reasonCode")
        self.assertRaisesModeled("ResourceNotFoundException", lambda: self.c.cancel_job(
            jobId="cd-none"), 404)
        self.assertEqual(self.describe("cd-err")["status"], "IN_PROGRESS")

    def test_a_job_whose_executions_are_all_canceled_completes(self):
        self.job("cd-complete", self.targets(2))
        self.wait_rolled_out("cd-complete", 2)
        for i in range(2):
            self.c.cancel_job_execution(jobId="cd-complete", thingName=f"cd-{i}")
        j = self.wait_until(lambda: self.describe("cd-complete"),
                            lambda j: j["status"] == "COMPLETED", "cd-complete to complete")
        self.assertRecent(j["completedAt"])
        self.assertEqual({k: j["jobProcessDetails"][k] for k in COUNTERS},
                         counters(None, canceled=2))
        self.assertIn("cd-complete", [s["jobId"] for s in self.c.list_jobs(
            status="COMPLETED")["jobs"]])
        self.assertRaisesModeled("InvalidRequestException",
                                 lambda: self.c.cancel_job(jobId="cd-complete"), 400)
        self.c.delete_job(jobId="cd-complete")  # COMPLETED is terminal: no force needed
        self.wait_gone("cd-complete")

    def test_force_delete_of_an_in_progress_job(self):
        self.job("cd-del", self.targets())
        self.wait_rolled_out("cd-del", 4)
        self.assertRaisesModeled("InvalidStateTransitionException",
                                 lambda: self.c.delete_job(jobId="cd-del"), 409)
        self.c.delete_job(jobId="cd-del", force=True)
        # Until the purge finishes the job is DELETION_IN_PROGRESS: no cancel, no second delete,
        # and its id is still taken.
        try:
            status = self.describe("cd-del")["status"]
        except self.c.exceptions.ResourceNotFoundException:
            status = None
        if status is not None:
            self.assertEqual(status, "DELETION_IN_PROGRESS")
        self.wait_gone("cd-del")
        for i in range(4):
            self.assertNotIn("cd-del", [e["jobId"] for e in self.executions_for_thing(
                f"cd-{i}")[0]])
        self.assertRaisesModeled("ResourceNotFoundException",
                                 lambda: self.c.delete_job(jobId="cd-del"), 404)

    def test_deletion_in_progress_rejects_cancel_delete_and_reuse(self):
        # The purge runs in the background and may finish before the next request arrives, so
        # each request accepts either outcome: rejected because the job is being deleted, or
        # the job is already gone. At least one rejection must be seen over a few attempts.
        for i in range(4, 40):
            self.c.create_thing(thingName=f"cd-{i}")
        rejections = []
        for attempt in range(5):
            job_id = f"cd-dip-{attempt}"
            self.job(job_id, [thing_arn(f"cd-{i}") for i in range(40)])
            self.c.delete_job(jobId=job_id, force=True)
            for what, call, name in (
                    ("cancel", lambda: self.c.cancel_job(jobId=job_id),
                     "InvalidRequestException"),
                    ("delete", lambda: self.c.delete_job(jobId=job_id, force=True),
                     "InvalidRequestException"),
                    ("create", lambda: self.job(job_id, [thing_arn("cd-0")]),
                     "ResourceAlreadyExistsException")):
                try:
                    call()
                except ClientError as e:
                    if harness.error_code(e) == "ResourceNotFoundException" and what != "create":
                        continue  # already gone
                    self.assertEqual(type(e).__name__, name, e.response)
                    self.assertEqual(harness.error_code(e), name)
                    rejections.append(what)
                    continue
                # Accepted: only a create may be, once the old job is gone.
                self.assertEqual(what, "create", f"{what} of a job being deleted was accepted")
                self.c.delete_job(jobId=job_id, force=True)
                break
            self.wait_gone(job_id)
            if rejections:
                break
        if not rejections:
            self.skipTest("every deletion finished before the next request arrived")


class ExecutionsTest(JobsCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for i in range(3):
            cls.c.create_thing(thingName=f"ex-{i}")

    def test_delete_job_execution(self):
        c = self.c
        self.job("ex-del", [thing_arn(f"ex-{i}") for i in range(3)])
        self.wait_rolled_out("ex-del", 3)
        # QUEUED is not terminal: force is needed.
        self.assertRaisesModeled("InvalidStateTransitionException", lambda: c.delete_job_execution(
            jobId="ex-del", thingName="ex-0", executionNumber=1), 409)
        self.assertRaisesModeled("ResourceNotFoundException", lambda: c.delete_job_execution(
            jobId="ex-del", thingName="ex-0", executionNumber=2, force=True), 404)
        c.delete_job_execution(jobId="ex-del", thingName="ex-0", executionNumber=1, force=True)
        self.assertRaisesModeled("ResourceNotFoundException", lambda: c.describe_job_execution(
            jobId="ex-del", thingName="ex-0"), 404)
        self.wait_counters("ex-del", counters(None, queued=2))

        # A terminal (CANCELED) execution is deleted without force, and drops out of the counters.
        c.cancel_job_execution(jobId="ex-del", thingName="ex-1")
        self.wait_counters("ex-del", counters(None, queued=1, canceled=1))
        c.delete_job_execution(jobId="ex-del", thingName="ex-1", executionNumber=1)
        self.wait_counters("ex-del", counters(None, queued=1))
        items, _ = self.executions_for_job("ex-del")
        self.assertEqual([e["thingArn"] for e in items], [thing_arn("ex-2")])

    def test_cancel_job_execution_details_and_errors(self):
        c = self.c
        self.job("ex-cancel", [thing_arn(f"ex-{i}") for i in range(2)])
        self.wait_rolled_out("ex-cancel", 2)
        # force is not needed for a QUEUED execution, but allowed, and recorded (AWS:
        # forceCanceled "will be true if the job execution was canceled with force").
        c.cancel_job_execution(jobId="ex-cancel", thingName="ex-0", force=True,
                               statusDetails={"a": "1", "b": "2"})
        ex = c.describe_job_execution(jobId="ex-cancel", thingName="ex-0")["execution"]
        self.assertEqual(ex["status"], "CANCELED")
        self.assertTrue(ex["forceCanceled"])
        self.assertEqual(ex["statusDetails"]["detailsMap"], {"a": "1", "b": "2"})
        self.assertEqual(ex["versionNumber"], 2)
        self.assertRaisesModeled("InvalidStateTransitionException", lambda: c.cancel_job_execution(
            jobId="ex-cancel", thingName="ex-0", force=True), 409)

        too_many = {f"k{i}": "v" for i in range(11)}
        for what, call in (
                ("11 statusDetails", lambda: c.cancel_job_execution(
                    jobId="ex-cancel", thingName="ex-1", statusDetails=too_many)),
                ("bad key", lambda: c.cancel_job_execution(
                    jobId="ex-cancel", thingName="ex-1", statusDetails={"a b": "v"}))):
            with self.subTest(what):
                self.assertRaisesModeled("InvalidRequestException", call, 400, "statusDetails")
        self.assertEqual(c.describe_job_execution(jobId="ex-cancel", thingName="ex-1")[
            "execution"]["status"], "QUEUED")
        for what, call in (
                ("missing job", lambda: c.cancel_job_execution(jobId="ex-none",
                                                               thingName="ex-1")),
                ("missing thing", lambda: c.cancel_job_execution(jobId="ex-cancel",
                                                                 thingName="ex-nobody")),
                ("thing not targeted", lambda: c.cancel_job_execution(jobId="ex-cancel",
                                                                      thingName="ex-2"))):
            with self.subTest(what):
                self.assertRaisesModeled("ResourceNotFoundException", call, 404)

    def test_list_filters_and_errors(self):
        c = self.c
        self.job("ex-list", [thing_arn("ex-2")])
        self.wait_rolled_out("ex-list", 1)
        got = c.list_job_executions_for_thing(thingName="ex-2", jobId="ex-list",
                                              status="QUEUED")["executionSummaries"]
        self.assertEqual([e["jobId"] for e in got], ["ex-list"])
        self.assertEqual(c.list_job_executions_for_job(jobId="ex-list", status="SUCCEEDED")[
            "executionSummaries"], [])
        self.assertRaisesModeled("ResourceNotFoundException", lambda: c.list_job_executions_for_job(
            jobId="ex-nojob"), 404)
        self.assertRaisesModeled("InvalidRequestException", lambda: self.raw.
                                 list_job_executions_for_job(jobId="ex-list", status="DONE"), 400)
        self.assertRaisesModeled("InvalidRequestException", lambda: c.list_job_executions_for_job(
            jobId="ex-list", nextToken="garbage"), 400)
        self.assertRaisesModeled("InvalidRequestException", lambda: self.raw.
                                 list_job_executions_for_thing(thingName="ex-2", maxResults=0),
                                 400)


class AssociateTargetsTest(JobsCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = cls.c
        c.create_thing_group(thingGroupName="at-1")
        c.create_thing_group(thingGroupName="at-2")
        c.create_thing_group(thingGroupName="at-2-child", parentGroupName="at-2")
        for n, g in (("at-a", "at-1"), ("at-b", "at-2"), ("at-c", "at-2-child")):
            c.create_thing(thingName=n)
            c.add_thing_to_thing_group(thingGroupName=g, thingName=n)

    def test_associate_with_a_continuous_job(self):
        c = self.c
        self.job("at-cont", [group_arn("at-1")], targetSelection="CONTINUOUS",
                 description="continuous")
        self.wait_rolled_out("at-cont", 1)
        out = c.associate_targets_with_job(jobId="at-cont", targets=[group_arn("at-2")],
                                           comment="second wave")
        self.assertEqual((out["jobArn"], out["jobId"], out["description"]),
                         (job_arn("at-cont"), "at-cont", "continuous"))
        j = self.wait_rolled_out("at-cont", 3)  # at-b and at-c (child group) join
        self.assertEqual(j["targets"], [group_arn("at-1"), group_arn("at-2")])
        items, _ = self.executions_for_job("at-cont")
        self.assertEqual(sorted(e["thingArn"] for e in items),
                         [thing_arn("at-a"), thing_arn("at-b"), thing_arn("at-c")])
        # Associating a target the job already has adds nothing.
        c.associate_targets_with_job(jobId="at-cont", targets=[group_arn("at-1")])
        self.assertEqual(self.describe("at-cont")["targets"],
                         [group_arn("at-1"), group_arn("at-2")])
        self.assertEqual(sorted(j["jobId"] for j in c.list_jobs(thingGroupName="at-2")["jobs"]),
                         ["at-cont"])

    def test_associate_errors(self):
        c, raw = self.c, self.raw
        self.job("at-snap", [group_arn("at-1")])
        self.assertRaisesModeled("InvalidRequestException", lambda: c.associate_targets_with_job(
            jobId="at-snap", targets=[group_arn("at-2")]), 400, "CONTINUOUS")
        self.job("at-full", [group_arn("at-1")], targetSelection="CONTINUOUS")
        self.assertRaisesModeled("ResourceNotFoundException", lambda: c.associate_targets_with_job(
            jobId="at-full", targets=[group_arn("at-none")]), 404)
        self.assertRaisesModeled("ResourceNotFoundException", lambda: c.associate_targets_with_job(
            jobId="at-nojob", targets=[group_arn("at-2")]), 404)
        self.assertRaisesModeled("LimitExceededException", lambda: raw.associate_targets_with_job(
            jobId="at-full", targets=[group_arn(f"g{i}") for i in range(101)]), 410)
        # 1 existing + 100 new is over the limit too, even though each list alone is not.
        for i in range(100):
            c.create_thing(thingName=f"at-many-{i}")
        self.assertRaisesModeled("LimitExceededException", lambda: c.associate_targets_with_job(
            jobId="at-full", targets=[thing_arn(f"at-many-{i}") for i in range(100)]), 410)
        self.assertEqual(self.describe("at-full")["targets"], [group_arn("at-1")])
        c.cancel_job(jobId="at-full")
        self.assertRaisesModeled("InvalidRequestException", lambda: c.associate_targets_with_job(
            jobId="at-full", targets=[group_arn("at-2")]), 400)


class ContinuousMembershipTest(JobsCase):
    """A CONTINUOUS job follows its groups: joiners (directly or through a child group) get an
    execution, leavers' executions become REMOVED, and a deleted thing's too."""

    def test_membership_changes_drive_a_continuous_job(self):
        c = self.c
        self.group("cm-g")
        self.group("cm-g-child", parent="cm-g")
        self.things("cm-1", group="cm-g")
        self.job("cm-job", [group_arn("cm-g")], targetSelection="CONTINUOUS")
        self.wait_rolled_out("cm-job", 1)

        self.things("cm-2", group="cm-g")
        self.things("cm-3", group="cm-g-child")
        self.wait_counters("cm-job", counters(None, queued=3))

        c.remove_thing_from_thing_group(thingGroupName="cm-g", thingName="cm-2")
        self.wait_counters("cm-job", counters(None, queued=2, removed=1))
        ex = c.describe_job_execution(jobId="cm-job", thingName="cm-2")["execution"]
        self.assertEqual((ex["status"], ex["executionNumber"]), ("REMOVED", 1))

        # Rejoining creates the next execution number; the counters follow the latest one.
        c.add_thing_to_thing_group(thingGroupName="cm-g", thingName="cm-2")
        self.wait_counters("cm-job", counters(None, queued=3))
        ex = c.describe_job_execution(jobId="cm-job", thingName="cm-2")["execution"]
        self.assertEqual((ex["status"], ex["executionNumber"]), ("QUEUED", 2))
        self.assertEqual(c.describe_job_execution(jobId="cm-job", thingName="cm-2",
                                                  executionNumber=1)["execution"]["status"],
                         "REMOVED")
        items, _ = self.executions_for_thing("cm-2")
        self.assertEqual(sorted((e["jobId"], e["jobExecutionSummary"]["executionNumber"])
                                for e in items), [("cm-job", 1), ("cm-job", 2)])

        # Deleting a thing removes its execution.
        c.delete_thing(thingName="cm-3")
        self.wait_counters("cm-job", counters(None, queued=2, removed=1))
        self.assertEqual(self.describe("cm-job")["status"], "IN_PROGRESS")  # never completes


class DevicePlaneInteractionTest(JobsCase):
    """Control-plane rules that need a device to have started an execution, driven through the
    HTTPS jobs data plane (boto3 'iot-jobs-data') of the same daemon."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        fields = dict(f.split("=", 1) for f in D.ready_line.split()[2:])
        keys = WS.keys
        cls.dev = boto3.session.Session(
            aws_access_key_id=keys.access_key, aws_secret_access_key=keys.secret_key,
            region_name="us-east-1").client(
                "iot-jobs-data", endpoint_url=fields["jobs"],
                config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30))
        for i in range(3):
            cls.c.create_thing(thingName=f"dp-{i}")

    def start(self, thing):
        out = self.dev.start_next_pending_job_execution(thingName=thing)
        return out["execution"]

    def test_in_progress_needs_force_and_cancel_leaves_it_running(self):
        c = self.c
        self.job("dp-job", [thing_arn(f"dp-{i}") for i in range(3)])
        self.wait_rolled_out("dp-job", 3)
        self.assertEqual(self.start("dp-0")["status"], "IN_PROGRESS")
        self.assertEqual(self.start("dp-1")["status"], "IN_PROGRESS")
        self.wait_counters("dp-job", counters(None, queued=1, inProgress=2))
        ex = c.describe_job_execution(jobId="dp-job", thingName="dp-0")["execution"]
        self.assertEqual(ex["status"], "IN_PROGRESS")
        self.assertRecent(ex["startedAt"])

        self.assertRaisesModeled("InvalidStateTransitionException", lambda: c.cancel_job_execution(
            jobId="dp-job", thingName="dp-0"), 409, "force")
        self.assertRaisesModeled("InvalidStateTransitionException", lambda: c.delete_job_execution(
            jobId="dp-job", thingName="dp-0", executionNumber=1), 409)
        c.cancel_job_execution(jobId="dp-job", thingName="dp-0", force=True)
        ex = c.describe_job_execution(jobId="dp-job", thingName="dp-0")["execution"]
        self.assertEqual(ex["status"], "CANCELED")
        self.assertTrue(ex["forceCanceled"])
        self.wait_counters("dp-job", counters(None, queued=1, inProgress=1, canceled=1))

        # A non-forced CancelJob cancels QUEUED executions only; dp-1 keeps running.
        c.cancel_job(jobId="dp-job")
        j = self.wait_counters("dp-job", counters(None, inProgress=1, canceled=2))
        self.assertEqual(j["status"], "CANCELED")
        self.assertFalse(j["forceCanceled"])
        self.assertEqual(c.describe_job_execution(jobId="dp-job", thingName="dp-1")[
            "execution"]["status"], "IN_PROGRESS")
        # Forcing it afterwards cancels the running one too.
        c.cancel_job(jobId="dp-job", force=True)
        j = self.wait_counters("dp-job", counters(None, canceled=3))
        self.assertTrue(j["forceCanceled"])
        ex = c.describe_job_execution(jobId="dp-job", thingName="dp-1")["execution"]
        self.assertEqual(ex["status"], "CANCELED")
        self.assertTrue(ex["forceCanceled"])

    def test_device_results_complete_a_snapshot_job(self):
        self.job("dp-done", [thing_arn("dp-2")])
        self.wait_rolled_out("dp-done", 1)
        self.start("dp-2")
        self.dev.update_job_execution(jobId="dp-done", thingName="dp-2", status="SUCCEEDED",
                                      statusDetails={"result": "ok"})
        j = self.wait_until(lambda: self.describe("dp-done"), lambda j: j["status"] == "COMPLETED",
                            "dp-done to complete")
        self.assertEqual({k: j["jobProcessDetails"][k] for k in COUNTERS},
                         counters(None, succeeded=1))
        self.assertRecent(j["completedAt"])
        ex = self.c.describe_job_execution(jobId="dp-done", thingName="dp-2")["execution"]
        self.assertEqual(ex["status"], "SUCCEEDED")
        self.assertEqual(ex["statusDetails"], {"detailsMap": {"result": "ok"}})
        self.assertRaisesModeled("InvalidStateTransitionException", lambda: self.c.
                                 cancel_job_execution(jobId="dp-done", thingName="dp-2"), 409)


class TemplateFromJobTest(JobsCase):
    def test_errors(self):
        self.assertRaisesModeled("ResourceNotFoundException", lambda: self.c.create_job_template(
            jobTemplateId="tfj-none", description="d", jobArn=job_arn("tfj-no-such-job")), 404)
        self.assertRaisesModeled("InvalidRequestException", lambda: self.c.create_job_template(
            jobTemplateId="tfj-bad", description="d", jobArn=template_arn("x")), 400)
        self.c.create_thing(thingName="tfj-t")
        self.job("tfj-job", [thing_arn("tfj-t")])
        self.assertRaisesModeled("InvalidRequestException", lambda: self.c.create_job_template(
            jobTemplateId="tfj-both", description="d", jobArn=job_arn("tfj-job"),
            document="{}"), 400)
        # Configs given with jobArn override the job's.
        self.c.create_job_template(jobTemplateId="tfj-ok", description="d",
                                   jobArn=job_arn("tfj-job"),
                                   timeoutConfig={"inProgressTimeoutInMinutes": 9})
        t = self.c.describe_job_template(jobTemplateId="tfj-ok")
        self.assertEqual(json.loads(t["document"]), DOCUMENT)
        self.assertEqual(t["timeoutConfig"], {"inProgressTimeoutInMinutes": 9})


if __name__ == "__main__":
    unittest.main()
