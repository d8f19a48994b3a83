"""Bulk thing registration through boto3: StartThingRegistrationTask with an AWS provisioning
template and a JSON-lines input file in moto's S3, DescribeThingRegistrationTask,
ListThingRegistrationTasks, ListThingRegistrationTaskReports (presigned report links, downloaded
and read), StopThingRegistrationTask, validation, a missing input object, idempotent re-runs, and a
task that survives `kill -9` of iotjobsd half-way through 200,000 lines.

Plus the regression test for "CreateThing / CreateThingGroup conflicts did not name the resource"
(ResourceAlreadyExistsException must carry resourceId and resourceArn).

Tasks run in the background; tests poll with a deadline, never sleep a fixed time."""

import json
import time
import unittest
import urllib.error
import urllib.request

from botocore.exceptions import ClientError

import harness
from harness import ACCOUNT, E2ECase

WAIT_S = 30
BIG_WAIT_S = 150  # the 200k-line task, twice (before and after the kill)
PREFIX = f"arn:aws:iot:us-east-1:{ACCOUNT}"
BUCKET = "reg-e2e-input"
ROLE = "arn:aws:iam::123456789012:role/ProvisioningRole"

# An AWS provisioning template: one AWS::IoT::Thing resource whose values are literals, Refs to
# parameters (some with Defaults) and Fn::Join; the certificate and policy are not ours to make.
TEMPLATE = {
    "Parameters": {
        "ThingName": {"Type": "String"},
        "Model": {"Type": "String", "Default": "m-default"},
        "Serial": {"Type": "String"},
        "Site": {"Type": "String"},
        "Type": {"Type": "String", "Default": "sensor"},
        "CertificateId": {"Type": "String"},
    },
    "Resources": {
        "thing": {
            "Type": "AWS::IoT::Thing",
            "Properties": {
                "ThingName": {"Ref": "ThingName"},
                "ThingTypeName": {"Ref": "Type"},
                "AttributePayload": {
                    "model": {"Ref": "Model"},
                    "serial": {"Fn::Join": ["-", ["SN", {"Ref": "Serial"}]]},
                    "site": {"Ref": "Site"},
                },
                "ThingGroups": ["reg-fleet", {"Ref": "Site"}],
            },
        },
        "certificate": {
            "Type": "AWS::IoT::Certificate",
            "Properties": {"CertificateId": {"Ref": "CertificateId"}, "Status": "ACTIVE"},
        },
        "policy": {
            "Type": "AWS::IoT::Policy",
            "Properties": {"PolicyName": "DevicePolicy"},
        },
    },
}

# (line, expected outcome): a thing name, or an error message fragment.
INPUT = [
    ({"ThingName": "reg-001", "Serial": "1", "Site": "reg-site-a"}, "reg-001"),
    ({"ThingName": "reg-002", "Serial": "2", "Site": "reg-site-b", "Model": "m2",
      "Type": "gateway"}, "reg-002"),
    ({"ThingName": "bad name!", "Serial": "3", "Site": "reg-site-a"}, "bad name!"),
    ("{this is not json", "JSON"),
    ({"ThingName": "reg-004", "Serial": "4", "Site": "reg-site-nowhere"}, "reg-site-nowhere"),
    ({"ThingName": "reg-conflict", "Serial": "5", "Site": "reg-site-a"}, "reg-conflict"),
    ({"Serial": "6", "Site": "reg-site-a"}, "ThingName"),
    ({"ThingName": "reg-003", "Serial": "7", "Site": "reg-site-a"}, "reg-003"),
]
GOOD = ["reg-001", "reg-002", "reg-003"]


def input_text(rows):
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)


def download(url):
    """GET with urllib, no proxy; returns (status, body bytes)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def setUpModule():
    global WS, MOTO
    WS, MOTO, _ = harness.module_with_s3(daemon=False)
    MOTO.bucket(BUCKET)


class RegistrationCase(E2ECase):
    wait_s = WAIT_S

    @classmethod
    def setUpClass(cls):
        cls.ws = WS
        cls.d = harness.Daemon(WS, s3_endpoint=MOTO.endpoint)
        cls.addClassCleanup(cls.d.kill)
        cls.d.start()
        cls.c = cls.d.client()
        cls.raw = cls.d.client(validate=False)  # lets invalid input reach the server

    def assertRaisesModeled(self, name, call, status=None, contains=None):
        with self.assertRaises(ClientError) as cm:
            call()
        exc = cm.exception
        self.assertEqual(type(exc).__name__, name, exc.response)
        self.assertClientError(exc, name, status, contains)
        self.assertTrue(exc.response["Error"]["Message"], exc.response)
        return exc

    def start_task(self, key, template=None, client=None):
        out = (client or self.c).start_thing_registration_task(
            templateBody=json.dumps(template or TEMPLATE), inputFileBucket=BUCKET,
            inputFileKey=key, roleArn=ROLE)
        self.assertTrue(out["taskId"])
        return out["taskId"]

    def describe(self, task_id, client=None):
        out = (client or self.c).describe_thing_registration_task(taskId=task_id)
        out.pop("ResponseMetadata")
        return out


    def wait_ended(self, task_id, timeout_s=WAIT_S, client=None):
        return self.wait_until(lambda: self.describe(task_id, client),
                               lambda t: t["status"] not in ("InProgress", "Cancelling"),
                               f"task {task_id} to end", timeout_s)

    def report(self, task_id, report_type, client=None):
        """Downloads the task's report through its presigned links; returns the parsed lines."""
        out = (client or self.c).list_thing_registration_task_reports(
            taskId=task_id, reportType=report_type)
        self.assertEqual(out["reportType"], report_type)
        self.assertTrue(out["resourceLinks"], out)
        rows = []
        for url in out["resourceLinks"]:
            self.assertIn("X-Amz-Signature=", url)
            status, body = download(url)
            self.assertEqual(status, 200, f"GET {url} -> {body[:300]!r}")
            rows += [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        return rows

    def list_tasks(self, **kw):
        ids, token, pages = [], None, 0
        while True:
            args = dict(kw, maxResults=2)
            if token:
                args["nextToken"] = token
            page = self.c.list_thing_registration_tasks(**args)
            pages += 1
            self.assertLessEqual(len(page["taskIds"]), 2)
            ids += page["taskIds"]
            token = page.get("nextToken")
            if not token:
                return ids
            self.assertLess(pages, 200)

    def group_things(self, group, page_size=250):
        names, token = [], None
        while True:
            args = {"thingGroupName": group, "maxResults": page_size}
            if token:
                args["nextToken"] = token
            page = self.c.list_things_in_thing_group(**args)
            names += page["things"]
            token = page.get("nextToken")
            if not token:
                return names


class RegisterTest(RegistrationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for g in ("reg-fleet", "reg-site-a", "reg-site-b"):
            cls.c.create_thing_group(thingGroupName=g)
        # Exists already, with another configuration: its line must fail and leave it alone.
        cls.c.create_thing(thingName="reg-conflict", attributePayload={"attributes": {
            "model": "other"}})
        MOTO.put(BUCKET, "devices/batch-1.jsonl", input_text(r for r, _ in INPUT))

    def check_outcome(self, task_id):
        t = self.describe(task_id)
        self.assertEqual(t["status"], "Completed", t)
        self.assertEqual((t["successCount"], t["failureCount"]), (3, 5), t)
        self.assertEqual(t["percentageProgress"], 100)
        self.assertIn("certificate (AWS::IoT::Certificate)", t["message"])
        self.assertIn("policy (AWS::IoT::Policy)", t["message"])
        self.assertEqual(t["inputFileBucket"], BUCKET)
        self.assertEqual(t["inputFileKey"], "devices/batch-1.jsonl")
        self.assertEqual(t["roleArn"], ROLE)
        self.assertEqual(json.loads(t["templateBody"]), TEMPLATE)
        self.assertLessEqual(t["creationDate"], t["lastModifiedDate"])
        self.assertLess(abs((t["creationDate"] - harness.utcnow()).total_seconds()), 120)

        errors = self.report(task_id, "ERRORS")
        by_line = {e["lineNumber"]: e["errorMessage"] for e in errors}
        self.assertEqual(len(by_line), len(errors), errors)
        want_errors = {n + 1: frag for n, (_, frag) in enumerate(INPUT) if frag not in GOOD}
        self.assertEqual(sorted(by_line), sorted(want_errors), errors)
        for n, frag in want_errors.items():
            self.assertIn(frag, by_line[n], f"line {n}: {by_line[n]}")
        self.assertIn("already exists", by_line[6])
        self.assertIn("does not exist", by_line[5])

        results = self.report(task_id, "RESULTS")
        self.assertEqual(sorted(results, key=lambda r: r["lineNumber"]),
                         [{"lineNumber": n + 1, "thingName": name,
                           "thingArn": f"{PREFIX}:thing/{name}"}
                          for n, (_, name) in enumerate(INPUT) if name in GOOD])

    def check_registry(self):
        c = self.c
        got = c.describe_thing(thingName="reg-001")
        self.assertEqual(got["attributes"], {"model": "m-default", "serial": "SN-1",
                                             "site": "reg-site-a"})
        self.assertEqual(got["thingTypeName"], "sensor")
        self.assertEqual(got["version"], 1)
        got = c.describe_thing(thingName="reg-002")
        self.assertEqual(got["attributes"], {"model": "m2", "serial": "SN-2",
                                             "site": "reg-site-b"})
        self.assertEqual(got["thingTypeName"], "gateway")
        self.assertEqual(sorted(self.group_things("reg-fleet")), GOOD)
        self.assertEqual(sorted(self.group_things("reg-site-a")), ["reg-001", "reg-003"])
        self.assertEqual(self.group_things("reg-site-b"), ["reg-002"])
        self.assertEqual(sorted(g["groupName"] for g in c.list_thing_groups_for_thing(
            thingName="reg-003")["thingGroups"]), ["reg-fleet", "reg-site-a"])
        # The failed lines left nothing behind.
        conflict = c.describe_thing(thingName="reg-conflict")
        self.assertEqual(conflict["attributes"], {"model": "other"})
        self.assertEqual(c.list_thing_groups_for_thing(thingName="reg-conflict")["thingGroups"],
                         [])
        with self.assertRaises(c.exceptions.ResourceNotFoundException):
            c.describe_thing(thingName="reg-004")

    def test_register_report_and_rerun(self):
        task_id = self.start_task("devices/batch-1.jsonl")
        self.wait_ended(task_id)
        self.check_outcome(task_id)
        self.check_registry()
        self.assertIn(task_id, self.list_tasks(status="Completed"))

        # Re-running the same task is idempotent: things already there with the same
        # configuration count as successes, and nothing changes.
        again = self.start_task("devices/batch-1.jsonl")
        self.assertNotEqual(again, task_id)
        self.wait_ended(again)
        self.check_outcome(again)
        self.check_registry()

        # Stopping a finished task is refused.
        self.assertRaisesModeled("InvalidRequestException", lambda: self.c.
                                 stop_thing_registration_task(taskId=task_id), 400, "Completed")

    def test_blank_lines_keep_line_numbers(self):
        MOTO.put(BUCKET, "devices/blank.jsonl",
                 '{"ThingName": "reg-blank-1"}\n'
                 "\n"
                 "   \r\n"
                 '{"ThingName": "reg blank"}\n')
        task_id = self.start_task("devices/blank.jsonl", {"Resources": {"t": {
            "Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "ThingName"}}}}})
        t = self.wait_ended(task_id)
        self.assertEqual((t["status"], t["successCount"], t["failureCount"]),
                         ("Completed", 1, 1), t)
        errors = self.report(task_id, "ERRORS")
        self.assertEqual([e["lineNumber"] for e in errors], [4], errors)  # the file's line
        self.assertEqual([r["lineNumber"] for r in self.report(task_id, "RESULTS")], [1])

    def test_missing_input_object_fails_the_task(self):
        task_id = self.start_task("devices/no-such-file.jsonl")
        t = self.wait_ended(task_id)
        self.assertEqual(t["status"], "Failed", t)
        self.assertIn("devices/no-such-file.jsonl", t["message"])
        self.assertEqual(t["successCount"], 0)
        self.assertIn(task_id, self.list_tasks(status="Failed"))
        # A failed task wrote no reports, so it links none.
        for report_type in ("ERRORS", "RESULTS"):
            self.assertEqual(self.c.list_thing_registration_task_reports(
                taskId=task_id, reportType=report_type)["resourceLinks"], [])
        self.assertRaisesModeled("InvalidRequestException", lambda: self.c.
                                 stop_thing_registration_task(taskId=task_id), 400)


class ValidationTest(RegistrationCase):
    def test_invalid_requests(self):
        raw = self.raw
        MOTO.put(BUCKET, "v/in.jsonl", '{"ThingName": "v-1"}\n')

        def start(template=TEMPLATE, bucket=BUCKET, key="v/in.jsonl", role=ROLE):
            body = template if isinstance(template, str) else json.dumps(template)
            return lambda: raw.start_thing_registration_task(
                templateBody=body, inputFileBucket=bucket, inputFileKey=key, roleArn=role)

        thing = TEMPLATE["Resources"]["thing"]
        cases = [
            (start("{not json"), "templateBody"),
            (start("[1, 2]"), "templateBody"),
            (start({"Parameters": {}}), "Resources"),
            (start({"Resources": {"cert": TEMPLATE["Resources"]["certificate"]}}),
             "AWS::IoT::Thing"),
            (start({"Resources": {"a": thing, "b": thing}}), "AWS::IoT::Thing"),
            (start({"Resources": {"t": {"Type": "AWS::IoT::Thing", "Properties": {
                "AttributePayload": {}}}}}), "ThingName"),
            (start("{" + " " * 10240 + "}"), "templateBody"),
            (start(bucket="ab"), "inputFileBucket"),
            (start(bucket="b" * 257), "inputFileBucket"),
            (start(key=""), "inputFileKey"),
            (start(key="k" * 1025), "inputFileKey"),
            (start(role="arn:aws:iam::1:r/x"), "roleArn"),
            (start(role="arn:aws:iam::123456789012:role/" + "r" * 2030), "roleArn"),
        ]
        before = self.list_tasks()
        for call, field in cases:
            with self.subTest(field=field):
                self.assertRaisesModeled("InvalidRequestException", call, 400, field)
        self.assertEqual(self.list_tasks(), before)  # nothing was queued

        status, _, body = harness.signed_request(
            self.d.endpoint, "POST", "/thing-registration-tasks",
            body={"templateBody": json.dumps(TEMPLATE), "inputFileBucket": BUCKET},
            keys=WS.keys)
        self.assertEqual(status, 400, body)
        self.assertIn("required", body["message"])

        self.assertRaisesModeled("ResourceNotFoundException", lambda: self.c.
                                 describe_thing_registration_task(taskId="no-such-task"), 404)
        self.assertRaisesModeled("ResourceNotFoundException", lambda: self.c.
                                 stop_thing_registration_task(taskId="no-such-task"), 404)
        self.assertRaisesModeled("InvalidRequestException", lambda: raw.
                                 list_thing_registration_tasks(status="Done"), 400, "status")
        task_id = self.start_task("v/in.jsonl")
        self.wait_ended(task_id)
        self.assertRaisesModeled("InvalidRequestException", lambda: raw.
                                 list_thing_registration_task_reports(
                                     taskId=task_id, reportType="ALL"), 400, "reportType")


class ListAndStopTest(RegistrationCase):
    LINES = 100000  # 20 batches: a stop lands between batches

    def test_stop_a_running_task_and_list_by_status(self):
        self.c.create_thing_group(thingGroupName="stop-fleet")
        tmpl = {"Resources": {"thing": {"Type": "AWS::IoT::Thing", "Properties": {
            "ThingName": {"Ref": "ThingName"}, "ThingGroups": ["stop-fleet"]}}}}
        MOTO.put(BUCKET, "stop/big.jsonl",
                 "".join(f'{{"ThingName":"stop-{i:06d}"}}\n' for i in range(self.LINES)))
        MOTO.put(BUCKET, "stop/small.jsonl", '{"ThingName":"stop-small"}\n')

        done = self.start_task("stop/small.jsonl", tmpl)
        self.wait_ended(done)
        failed = self.start_task("stop/missing.jsonl", tmpl)
        self.wait_ended(failed)

        big = self.start_task("stop/big.jsonl", tmpl)
        running = self.wait_until(lambda: self.describe(big),
                                  lambda t: t["successCount"] > 0 or t["status"] != "InProgress",
                                  "the big task to make progress")
        self.assertEqual(running["status"], "InProgress", running)
        self.assertLess(running["percentageProgress"], 100)
        self.assertIn(big, self.list_tasks(status="InProgress"))
        self.c.stop_thing_registration_task(taskId=big)
        t = self.wait_ended(big)
        self.assertEqual(t["status"], "Cancelled", t)
        self.assertLess(t["successCount"], self.LINES)
        self.assertLess(t["percentageProgress"], 100)
        self.assertIn("StopThingRegistrationTask", t["message"])
        # Stopped between batches: what it registered is whole, and the reports say what it was.
        self.assertEqual(len(self.group_things("stop-fleet")), 1 + t["successCount"])
        results = self.report(big, "RESULTS")
        self.assertEqual([r["lineNumber"] for r in results], list(range(1, t["successCount"] + 1)))
        self.assertEqual(self.report(big, "ERRORS"), [])
        self.assertRaisesModeled("InvalidRequestException", lambda: self.c.
                                 stop_thing_registration_task(taskId=big), 400)

        # Listing: paged by 2, filtered by status; each id once.
        every = self.list_tasks()
        self.assertEqual(len(every), len(set(every)))
        self.assertEqual(set(every), {done, failed, big})
        self.assertEqual(self.list_tasks(status="Completed"), [done])
        self.assertEqual(self.list_tasks(status="Failed"), [failed])
        self.assertEqual(self.list_tasks(status="Cancelled"), [big])
        self.assertEqual(self.list_tasks(status="InProgress"), [])
        one = self.c.list_thing_registration_tasks(maxResults=1)
        self.assertEqual(len(one["taskIds"]), 1)
        self.assertIn("nextToken", one)


class RestartTest(RegistrationCase):
    """kill -9 in the middle of a 200,000-line task; the restarted daemon (same data dir) runs
    the task again to its end, and every thing is registered exactly once."""

    LINES = 200000

    def test_task_resumes_after_kill_9(self):
        c = self.c
        c.create_thing_group(thingGroupName="bulk")
        tmpl = {"Parameters": {"ThingName": {"Type": "String"}, "N": {"Type": "String"}},
                "Resources": {"thing": {"Type": "AWS::IoT::Thing", "Properties": {
                    "ThingName": {"Ref": "ThingName"},
                    "AttributePayload": {"n": {"Ref": "N"}},
                    "ThingGroups": ["bulk"]}}}}
        names = [f"bulk-{i:06d}" for i in range(self.LINES)]
        MOTO.put(BUCKET, "bulk/200k.jsonl",
                 "".join(f'{{"ThingName":"{n}","N":"{i}"}}\n' for i, n in enumerate(names)))
        task_id = self.start_task("bulk/200k.jsonl", tmpl)
        t = self.wait_until(lambda: self.describe(task_id),
                            lambda t: t["successCount"] > 0 or t["status"] != "InProgress",
                            "the task to make progress", BIG_WAIT_S)
        self.d.kill()  # SIGKILL mid-task
        self.assertEqual(t["status"], "InProgress", "the task ended before the kill")
        self.assertLess(t["successCount"], self.LINES)

        self.d.start()
        c = self.c = self.d.client()
        t = self.wait_ended(task_id, BIG_WAIT_S)
        self.assertIn(f"resuming registration task={task_id}", self.d.log())
        self.assertEqual(t["status"], "Completed", t)
        self.assertEqual((t["successCount"], t["failureCount"], t["percentageProgress"]),
                         (self.LINES, 0, 100), t)
        self.assertEqual(self.list_tasks(status="Completed"), [task_id])

        # Every thing, once, in the group; the results report names every line.
        self.assertEqual(sorted(self.group_things("bulk")), names)
        results = self.report(task_id, "RESULTS")
        self.assertEqual(len(results), self.LINES)
        self.assertEqual({r["thingName"] for r in results}, set(names))
        self.assertEqual(self.report(task_id, "ERRORS"), [])
        for i in (0, self.LINES // 2, self.LINES - 1):
            got = c.describe_thing(thingName=names[i])
            self.assertEqual(got["attributes"], {"n": str(i)})
            self.assertEqual(got["version"], 1)


class CreateConflictRegressionTest(RegistrationCase):
    """Bug: CreateThing / CreateThingGroup with an existing name and a different configuration
    answered ResourceAlreadyExistsException without resourceId and resourceArn."""

    def test_issue_create_conflicts_name_the_resource(self):
        c = self.c
        first = c.create_thing(thingName="cf-thing", attributePayload={"attributes": {"a": "1"}})
        self.assertEqual(c.create_thing(thingName="cf-thing", attributePayload={
            "attributes": {"a": "1"}})["thingId"], first["thingId"])  # same config: idempotent
        exc = self.assertRaisesModeled(
            "ResourceAlreadyExistsException", lambda: c.create_thing(
                thingName="cf-thing", attributePayload={"attributes": {"a": "2"}}), 409,
            "cf-thing")
        self.assertEqual(exc.response.get("resourceId"), "cf-thing", exc.response)
        self.assertEqual(exc.response.get("resourceArn"), f"{PREFIX}:thing/cf-thing")

        c.create_thing_group(thingGroupName="cf-group",
                             thingGroupProperties={"thingGroupDescription": "one"})
        c.create_thing_group(thingGroupName="cf-group",
                             thingGroupProperties={"thingGroupDescription": "one"})
        exc = self.assertRaisesModeled(
            "ResourceAlreadyExistsException", lambda: c.create_thing_group(
                thingGroupName="cf-group",
                thingGroupProperties={"thingGroupDescription": "two"}), 409, "cf-group")
        self.assertEqual(exc.response.get("resourceId"), "cf-group", exc.response)
        self.assertEqual(exc.response.get("resourceArn"), f"{PREFIX}:thinggroup/cf-group")
        # The originals are unchanged.
        self.assertEqual(c.describe_thing(thingName="cf-thing")["attributes"], {"a": "1"})
        self.assertEqual(c.describe_thing_group(thingGroupName="cf-group")[
            "thingGroupProperties"]["thingGroupDescription"], "one")


if __name__ == "__main__":
    unittest.main()
