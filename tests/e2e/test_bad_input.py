"""Bad input gets the right AWS error, never a crash or invalid bytes (issue 16).

- Finding 6: CreateJobTemplate validates maintenance-window crons exactly as CreateJob does.
- Finding 7: messages that quote user input are valid UTF-8 (boto3 raises ClientError, not
  UnicodeDecodeError).
- Finding 8: a malformed request target and a malformed %-escape in a query parameter get messages
  that say what is wrong; start-up on a read-only directory or a full disk names the file and why.
- The bad-input matrix: generated from the botocore models (iot and iot-jobs-data, the operations
  iotjobsd serves). For every operation and every constraint of its input shapes (required,
  min/max length, min/max value, pattern, enum, type) one request violates exactly that constraint
  and everything else is valid; it must get the operation's modelled validation error
  (InvalidRequestException) with a message naming the field. Each case's request without the
  violation is sent too and must NOT be refused as invalid, so a case cannot pass because its
  baseline was already bad. Requests are serialized by botocore and signed with its SigV4 signer,
  without client-side validation. The suite prints "bad-input matrix: N cases, N passed".
"""

import copy
import datetime
import json
import os
import re
import resource
import signal
import socket
import subprocess
import unittest
from pathlib import Path

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.serialize
import botocore.session
import urllib3
from botocore.exceptions import ClientError

import harness
from harness import ACCOUNT, E2ECase, error_code

REGION = "us-east-1"

# The operations iotjobsd serves: the control plane's routes (src/api/control_plane.cc,
# job_routes.cc, registry_routes.cc) and the jobs data plane (src/api/jobs_data_plane.cc).
# MatrixTest.test_every_listed_operation_is_served checks each answers something other than
# UnknownOperationException.
CONTROL_OPS = """
CreateJobTemplate DescribeJobTemplate ListJobTemplates DeleteJobTemplate
TagResource UntagResource ListTagsForResource
CreateJob DescribeJob ListJobs UpdateJob CancelJob DeleteJob GetJobDocument AssociateTargetsWithJob
ListJobExecutionsForThing DescribeJobExecution CancelJobExecution DeleteJobExecution
ListJobExecutionsForJob UpdateEventConfigurations DescribeEventConfigurations
CreateThing DescribeThing UpdateThing DeleteThing ListThings ListThingGroupsForThing
AddThingToThingGroup RemoveThingFromThingGroup ListThingGroups CreateThingGroup DescribeThingGroup
UpdateThingGroup DeleteThingGroup ListThingsInThingGroup
StartThingRegistrationTask ListThingRegistrationTasks DescribeThingRegistrationTask
ListThingRegistrationTaskReports StopThingRegistrationTask
""".split()
DATA_OPS = """
GetPendingJobExecutions StartNextPendingJobExecution DescribeJobExecution UpdateJobExecution
""".split()

ARN = f"arn:aws:iot:{REGION}:{ACCOUNT}"

# A valid value per model shape name (resources that do not exist: the validation must come
# before any lookup, so a valid request answers ResourceNotFoundException or similar).
VALID = {
    "JobId": "bi-job",
    "JobTemplateId": "bi-template",
    "ThingName": "bi-thing",
    "ThingGroupName": "bi-group",
    "ThingGroupId": "0a1b2c3d-0000-4000-8000-000000000000",
    "ThingTypeName": "bi-type",
    "BillingGroupName": "bi-billing",
    "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/bi-role",
    "TargetArn": f"{ARN}:thing/bi-thing",
    "JobTemplateArn": f"{ARN}:jobtemplate/bi-template",
    "JobArn": f"{ARN}:job/bi-job",
    "ResourceArn": f"{ARN}:jobtemplate/bi-template",
    "ThingArn": f"{ARN}:thing/bi-thing",
    "ThingGroupArn": f"{ARN}:thinggroup/bi-group",
    "PackageVersionArn": f"{ARN}:package/bi/version/1.0.0",
    "CronExpression": "cron(0 0 ? * SUN *)",
    "StringDateTime": None,  # set by MatrixTest: a day from now (the service allows a year)
    "JobDocument": '{"operation":"reboot"}',
    "JobDocumentSource": None,  # set by MatrixTest: an object in moto's S3
    "JobDescription": "a description",
    "Comment": "a comment",
    "ReasonCode": "REASON_1",
    "NamespaceId": "ns1",
    "TaskId": "bi-task",
    "TemplateBody": json.dumps({"Parameters": {"ThingName": {"Type": "String"}},
                                "Resources": {"thing": {"Type": "AWS::IoT::Thing", "Properties": {
                                    "ThingName": {"Ref": "ThingName"}}}}}),
    "RegistryS3BucketName": "bi-bucket",
    "RegistryS3KeyName": "things.json",
    "TagKey": "team",
    "TagValue": "blue",
    "AttributeName": "color",
    "AttributeValue": "red",
    "DetailsKey": "progress",
    "DetailsValue": "50%",
    "ParameterKey": "version",
    "ParameterValue": "1.0",
    "ThingGroupDescription": "a group",
    "DescribeJobExecutionJobId": "bi-job",
    "NextToken": None,  # never generated: only a previous page's token is valid
}

# Per model pattern: (Python equivalent for a full match, a value that violates it). Java's \p{..}
# classes are approximated for the ASCII values used here.
PATTERNS = {
    "[a-zA-Z0-9_-]+": (r"[a-zA-Z0-9_-]+", "bad id!"),
    "[a-zA-Z0-9:_-]+": (r"[a-zA-Z0-9:_-]+", "bad name!"),
    "[a-zA-Z0-9\\-]+": (r"[a-zA-Z0-9\-]+", "bad_id!"),
    "[a-zA-Z0-9_-]+|^\\$next": (r"[a-zA-Z0-9_-]+|\$next", "bad id!"),
    "[a-zA-Z0-9_.,@/:#-]+": (r"[a-zA-Z0-9_.,@/:#-]+", "bad name!"),
    "[a-zA-Z0-9_.,@/:#=\\[\\]-]*": (r"[a-zA-Z0-9_.,@/:#=\[\]-]*", "bad value!"),
    "^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$": (r"[\w .:/=+\-@]*", "bad key!"),
    "^arn:[!-~]+$": (r"arn:[!-~]+", "not-an-arn"),
    "[^\\p{C}]+": (r"[^\x00-\x1f\x7f-\x9f]+", "bad\u0007text"),
    "[\\p{Graph}\\x20]*": (r"[\x21-\x7e ]*", "bad\ttext"),
    "[\\p{Upper}\\p{Digit}_]+": (r"[A-Z0-9_]+", "lower_case"),
    "[a-zA-Z0-9._-]+": (r"[a-zA-Z0-9._-]+", "bad bucket!"),
    "[a-zA-Z0-9!_.*'()-\\/]+": (r"[a-zA-Z0-9!_.*'()+,./-]+", "bad key with spaces"),
    "[\\s\\S]*": (r"[\s\S]*", None),  # matches everything: nothing to violate
}

# Members that exclude each other (the service's rule, not the model's): when a case needs one,
# the others are left out of its request.
EXCLUSIVE = [{"document", "documentSource", "jobTemplateArn", "jobArn"}]

# Members an operation needs beyond the model's required ones for a valid request.
EXTRAS = {
    "CreateJobTemplate": {"document": VALID["JobDocument"]},
    "CreateJob": {"document": VALID["JobDocument"]},
    "AddThingToThingGroup": {"thingGroupName": "bi-group", "thingName": "bi-thing"},
    "RemoveThingFromThingGroup": {"thingGroupName": "bi-group", "thingName": "bi-thing"},
    "UpdateJobExecution": {"status": "IN_PROGRESS"},
}
# Members a structure needs beyond its required ones (service rules).
STRUCT_EXTRAS = {
    "RateIncreaseCriteria": {"numberOfNotifiedThings": 10},
}
# Members a case needs beside the one it violates (service rules): (operation, top member) ->
# members to add.
COMPANIONS = {
    ("ListThings", "attributeValue"): {"attributeName": "color"},
}
# A service rule that refuses a request whose members are all valid by the model: the violating
# request must still get the model's error naming the violated field (so the model's constraints
# are checked first), while its baseline gets exactly this refusal.
BASELINE_REFUSED = {
    ("CreateJob", "documentParameters"): "documentParameters can be used only with AWS managed "
                                         "job templates",
}
# Valid numbers where the shape's range is not enough.
NUMBER_VALID = {"IncrementFactor": 2.0, "AbortThresholdPercentage": 10.0}

# Constraints the model states but AWS's service does not enforce, or that cannot be sent at all.
# Each is a choice documented in the README ("bad input" in the list of choices).
SKIP = {
    # An empty path segment routes to another operation (or none): not a request for this one.
    ("uri", "min"): "an empty path segment is another route",
    ("uri", "required"): "a path member cannot be left out",
    # README, choices: description is optional on the server, as in AWS's own examples.
    ("CreateJobTemplate", "description", "required"): "description is optional (README)",
}
# Response codes a valid request may get (anything but a validation error or a failure).
VALIDATION_ERRORS = {"InvalidRequestException", "ValidationException"}


def model(service):
    return botocore.session.get_session().get_service_model(service)


class Case:
    def __init__(self, op, path, kind, mutate, field):
        self.op = op            # OperationModel
        self.path = path        # [(member_name, wire_name) | 0, ...] from the input shape
        self.kind = kind        # required | min | max | pattern | enum | type | min-items ...
        self.mutate = mutate    # callable(container, key) -> None; violates the constraint
        self.field = field      # the name the message must contain

    def name(self):
        dotted = ".".join(str(p[0]) if isinstance(p, tuple) else f"[{p}]" for p in self.path)
        return f"{self.op.name} {dotted} {self.kind}"


def valid_value(shape, depth=0):
    """A valid value for `shape` (structures: their required members plus STRUCT_EXTRAS)."""
    t = shape.type_name
    md = shape.metadata
    if t == "structure":
        out = {}
        for name in shape.required_members:
            out[name] = valid_value(shape.members[name], depth + 1)
        for name, v in STRUCT_EXTRAS.get(shape.name, {}).items():
            out.setdefault(name, v)
        return out
    if t == "list":
        return [valid_value(shape.member, depth + 1) for _ in range(max(md.get("min", 1), 1))]
    if t == "map":
        return {valid_value(shape.key, depth + 1): valid_value(shape.value, depth + 1)}
    if t == "string":
        if "enum" in md:
            return md["enum"][0]
        if shape.name in VALID and VALID[shape.name] is not None:
            return VALID[shape.name]
        return "v" * max(md.get("min", 1), 1)
    if t in ("integer", "long"):
        lo = md.get("min", 1)
        return max(lo, 1) if md.get("max", 10**9) >= 1 else lo
    if t in ("double", "float"):
        if shape.name in NUMBER_VALID:
            return NUMBER_VALID[shape.name]
        return float(md.get("min", 1))
    if t == "boolean":
        return True
    raise ValueError(f"no valid value for {shape.name} ({t})")


def check_pattern(shape, value):
    p = shape.metadata.get("pattern")
    if p is None or not isinstance(value, str):
        return True
    return re.fullmatch(PATTERNS[p][0], value) is not None


def pad(shape, length):
    """A valid string of exactly `length` characters (the valid value, extended)."""
    base = valid_value(shape)
    fill = next(c for c in "a0x" if check_pattern(shape, base + c))
    return (base + fill * length)[:length] if length >= len(base) else None


class Matrix:
    """Generates the cases for one service's operations."""

    def __init__(self, service, op_names):
        self.model = model(service)
        self.ops = [self.model.operation_model(n) for n in op_names]
        self.skipped = []

    def cases(self):
        out = []
        for op in self.ops:
            if op.input_shape is not None:
                self._walk(op, op.input_shape, [], out, top=True)
        return out

    def _walk(self, op, shape, path, out, top=False):
        for name, m in shape.members.items():
            if name == "nextToken":
                continue  # opaque; tested by the listing suites
            wire = m.serialization.get("name", name)
            loc = m.serialization.get("location", "body") if top else "body"
            p = path + [(name, wire, loc)]
            if name in shape.required_members:
                self._add(out, op, p, "required", loc, None, name)
            self._leaf(op, m, p, out, loc, name)

    def _add(self, out, op, path, kind, loc, value, field, delete=False):
        reason = SKIP.get((loc, kind)) or SKIP.get((op.name, path[0][0], kind))
        c = Case(op, path, kind, (value, delete), field)
        if reason:
            self.skipped.append((c.name(), reason))
            return
        out.append(c)

    def _leaf(self, op, m, p, out, loc, field):
        md = m.metadata
        t = m.type_name
        if t == "string":
            if "enum" in md:
                self._add(out, op, p, "enum", loc, "NOT_A_VALUE", field)
            if md.get("min", 0) >= 1:
                short = pad(m, md["min"] - 1) if md["min"] > 1 else ""
                if short is not None:
                    self._add(out, op, p, "min", loc, short, field)
            if "max" in md:
                long = pad(m, md["max"] + 1)
                self._add(out, op, p, "max", loc, long, field)
            if "pattern" in md:
                bad = PATTERNS[md["pattern"]][1]
                if bad is None:
                    self.skipped.append((f"{op.name} {field} pattern", "the pattern matches all"))
                elif md.get("min", 0) <= len(bad) <= md.get("max", 10**9):
                    self._add(out, op, p, "pattern", loc, bad, field)
            if loc == "body":
                self._add(out, op, p, "type", loc, 12345, field)
        elif t in ("integer", "long", "double", "float"):
            if "min" in md:
                below = md["min"] - (1 if t in ("integer", "long") else 0.1)
                self._add(out, op, p, "min", loc, round(below, 6), field)
            if "max" in md:
                above = md["max"] + (1 if t in ("integer", "long") else 0.5)
                self._add(out, op, p, "max", loc, above, field)
            self._add(out, op, p, "type", loc, "abc", field)
        elif t == "boolean":
            self._add(out, op, p, "type", loc, "maybe" if loc != "body" else "yes", field)
        elif t == "structure":
            self._add(out, op, p, "type", loc, "not-an-object", field)
            self._walk(op, m, p, out)
        elif t == "list":
            self._add(out, op, p, "type", loc, "not-a-list", field)
            if md.get("min", 0) >= 1:
                self._add(out, op, p, "min-items", loc, [], field)
            if "max" in md:
                item = valid_value(m.member)
                self._add(out, op, p, "max-items", loc, [item] * (md["max"] + 1), field)
            self._leaf(op, m.member, p + [0], out, loc, field)
        elif t == "map":
            self._add(out, op, p, "type", loc, "not-a-map", field)
            if "max" in md:
                keys = [f"k{i}" for i in range(md["max"] + 1)]
                v = valid_value(m.value)
                self._add(out, op, p, "max-items", loc, {k: v for k in keys}, field)
            # Keys: strings only on the wire, so no type case.
            k = m.key
            bad_keys = []
            if "enum" in k.metadata:
                bad_keys.append(("key enum", "NOT_A_VALUE"))
            if k.metadata.get("min", 0) >= 1:
                bad_keys.append(("key min", ""))
            if "max" in k.metadata:
                bad_keys.append(("key max", pad(k, k.metadata["max"] + 1)))
            if "pattern" in k.metadata and PATTERNS[k.metadata["pattern"]][1] is not None:
                bad_keys.append(("key pattern", PATTERNS[k.metadata["pattern"]][1]))
            for kind, key in bad_keys:
                self._add(out, op, p, kind, loc, {key: valid_value(m.value)}, field)
            self._leaf(op, m.value, p + [("{value}", None, "body")], out, loc, field)


def ensure(container, shape, path):
    """Makes every member on `path` present in `container` (a dict of structure `shape`) with a
    valid value, through lists (their first item) and maps (their first value)."""
    name = path[0][0]
    m = shape.members[name]
    if name not in container:
        container[name] = valid_value(m)
    value, vshape, rest = container[name], m, path[1:]
    while rest and (isinstance(rest[0], int) or rest[0][0] == "{value}"):
        if isinstance(rest[0], int):
            value, vshape = value[0], vshape.member
        else:
            value, vshape = next(iter(value.values())), vshape.value
        rest = rest[1:]
    if rest:
        ensure(value, vshape, rest)


def baseline(case):
    """The serializer params of the case's request without its violation: valid, with every member
    on the case's path present."""
    op = case.op
    params = valid_value(op.input_shape)
    for k, v in EXTRAS.get(op.name, {}).items():
        params.setdefault(k, copy.deepcopy(v))
    top = case.path[0][0]
    for k, v in (COMPANIONS.get((op.name, top)) or {}).items():
        params.setdefault(k, copy.deepcopy(v))
    for group in EXCLUSIVE:
        if top in group:
            for other in group - {top}:
                params.pop(other, None)
    ensure(params, op.input_shape, case.path)
    return params


def apply_violation(case, body, params):
    """Applies the case's violation: top-level uri/query members in `params`, everything else in
    the serialized JSON `body` (wire names)."""
    value, _ = case.mutate
    path = case.path
    loc = path[0][2]
    if loc in ("uri", "querystring"):
        if case.kind == "required":
            params.pop(path[0][0], None)
        else:
            params[path[0][0]] = value
        return
    # walk the body by wire names
    node = body
    for step in path[:-1]:
        if isinstance(step, int):
            node = node[0]
        elif step[0] == "{value}":
            node = next(iter(node.values()))
        else:
            node = node[step[1]]
    last = path[-1]
    if isinstance(last, int):
        node[0] = value
    elif last[0] == "{value}":
        k = next(iter(node))
        node[k] = value
    elif case.kind == "required":
        node.pop(last[1], None)
    else:
        node[last[1]] = value


class Sender:
    """Serializes with botocore (no validation), signs with botocore's SigV4 signer, sends over one
    keep-alive pool."""

    def __init__(self, ws, endpoints):
        self.creds = botocore.credentials.Credentials(ws.keys.access_key, ws.keys.secret_key)
        self.endpoints = endpoints  # service -> endpoint URL
        self.pool = urllib3.PoolManager(maxsize=2, retries=False, timeout=30)
        self.serializers = {}

    def send(self, op, params, body_edit=None):
        svc = op.service_model
        ser = self.serializers.setdefault(
            svc.protocol, botocore.serialize.create_serializer(svc.protocol, include_validation=False))
        req = ser.serialize_to_request(params, op)
        body = req.get("body") or b""
        if body_edit is not None:
            parsed = json.loads(body) if body else {}
            body_edit(parsed)
            body = json.dumps(parsed).encode()
            req["body"] = body
        endpoint = self.endpoints[svc.service_name]
        botocore.awsrequest.prepare_request_dict(req, endpoint_url=endpoint)
        aws = botocore.awsrequest.AWSRequest(method=req["method"], url=req["url"], data=req["body"],
                                             headers=req["headers"])
        signer = botocore.auth.SigV4Auth(self.creds, svc.signing_name, REGION)
        signer.add_auth(aws)
        p = aws.prepare()
        r = self.pool.request(p.method, p.url, body=p.body, headers=dict(p.headers.items()),
                              redirect=False)
        raw = r.data
        text = raw.decode("utf-8")  # strict: an answer must be valid UTF-8
        parsed = json.loads(text) if text else {}
        return r.status, r.headers.get("x-amzn-ErrorType", ""), parsed

    def close(self):
        self.pool.clear()


def send_case(sender, case, violate=True):
    params = baseline(case)
    edit = None
    if violate:
        if case.path[0][2] in ("uri", "querystring"):
            apply_violation(case, None, params)
        else:
            def edit(body, case=case, params=params):
                apply_violation(case, body, params)
    return sender.send(case.op, params, edit)


BAD_CRONS = ["cron(60 0 * * ? *)", "cron(0/0 0 * * ? *)", "cron(0 0 ? * ? *)", "cron(30-10 0 * * ? *)",
             "cron(0 0 * * ? 99999)", "cron(0 0 ? * 1#6 *)"]


class Finding6TemplateCronTest(E2ECase):
    """Issue 16 finding 6: CreateJobTemplate stored maintenance-window crons the scheduler cannot
    run (only their shape was checked), so every CreateJob from the template failed."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.d = cls.start_daemon()
        cls.c = cls.d.client(validate=False)

    def test_template_refuses_what_create_job_refuses(self):
        window_ok = {"startTime": "cron(0 0 ? * SUN *)", "durationInMinutes": 60}
        for i, cron in enumerate(BAD_CRONS):
            with self.subTest(cron=cron):
                bad = {"startTime": cron, "durationInMinutes": 60}
                with self.assertRaises(ClientError) as e:
                    self.c.create_job_template(jobTemplateId=f"f6-{i}", description="d",
                                               document="{}", maintenanceWindows=[window_ok, bad])
                self.assertEqual(error_code(e.exception), "InvalidRequestException")
                self.assertIn("maintenanceWindows[1].startTime", str(e.exception))
                with self.assertRaises(ClientError) as e:
                    self.c.describe_job_template(jobTemplateId=f"f6-{i}")
                self.assertEqual(error_code(e.exception), "ResourceNotFoundException")
                # CreateJob refuses the same windows, naming its own field.
                with self.assertRaises(ClientError) as e:
                    self.c.create_job(jobId=f"f6-job-{i}", targets=[f"{ARN}:thing/t"],
                                      document="{}",
                                      schedulingConfig={"maintenanceWindows": [bad]})
                self.assertEqual(error_code(e.exception), "InvalidRequestException")
                self.assertIn("schedulingConfig.maintenanceWindows[0].startTime",
                              str(e.exception))
        # A good window is still stored, and a job from the template gets it.
        self.c.create_job_template(jobTemplateId="f6-good", description="d", document="{}",
                                   maintenanceWindows=[window_ok])
        self.assertEqual(self.c.describe_job_template(jobTemplateId="f6-good")
                         ["maintenanceWindows"], [window_ok])


class Finding7Utf8Test(E2ECase):
    """Issue 16 finding 7: messages cut user input mid-character (a 79-byte id followed by é, a
    cron containing ٣, statusDetails), so boto3 raised UnicodeDecodeError, not ClientError."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.d = cls.start_daemon()
        cls.c = cls.d.client(validate=False)
        fields = dict(f.split("=", 1) for f in cls.d.ready_line.split()[2:])
        import boto3
        from botocore.config import Config
        cls.jobs = boto3.session.Session(
            aws_access_key_id=cls.ws.keys.access_key,
            aws_secret_access_key=cls.ws.keys.secret_key, region_name=REGION).client(
                "iot-jobs-data", endpoint_url=fields["jobs"],
                config=Config(parameter_validation=False, retries={"max_attempts": 1}))

    def assert_client_error(self, call, *expect_in):
        try:
            call()
        except ClientError as e:
            self.assertEqual(error_code(e), "InvalidRequestException", e)
            for s in expect_in:
                self.assertIn(s, e.response["Error"]["Message"])
            return e
        self.fail("no error")

    def test_long_id_ending_in_a_two_byte_character(self):
        jid = "a" * 79 + "é"
        self.assert_client_error(lambda: self.c.describe_job_template(jobTemplateId=jid))
        self.assert_client_error(lambda: self.c.describe_job(jobId=jid))
        self.assert_client_error(lambda: self.c.create_job_template(
            jobTemplateId=jid, description="d", document="{}"))
        self.assert_client_error(lambda: self.c.describe_thing(thingName="a" * 139 + "é"))

    def test_cron_with_a_non_ascii_digit(self):
        for cron in ["cron(٣ 0 * * ? *)", "cron(0 0 ? * SUN ٣)", "cron(0 0 ? * SUN *٣)"]:
            with self.subTest(cron=cron):
                self.assert_client_error(lambda: self.c.create_job_template(
                    jobTemplateId="f7-cron", description="d", document="{}",
                    maintenanceWindows=[{"startTime": cron, "durationInMinutes": 60}]),
                    "maintenanceWindows[0].startTime")

    def test_status_details(self):
        # Keys are quoted in the message; one cut at 140 bytes, one key too long, one value bad.
        for details in [{"k" * 139 + "é": "v"}, {"é" * 200: "v"}, {"ok": "é" * 1025},
                        {"é" * 127 + "!": "v"}]:
            with self.subTest(details=list(details)[0][:5]):
                self.assert_client_error(lambda: self.jobs.update_job_execution(
                    thingName="t", jobId="j", status="IN_PROGRESS", statusDetails=details),
                    "statusDetails")
                self.assert_client_error(lambda: self.c.cancel_job_execution(
                    thingName="t", jobId="j", statusDetails=details), "statusDetails")


class Finding8MessagesTest(E2ECase):
    """Issue 16 finding 8 (messages): a malformed request target and a malformed %-escape in
    maxResults got misleading messages."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.d = cls.start_daemon(no_auth=True)

    def raw(self, target, port=None):
        port = port or self.d.port
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                      .encode())
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split()[1])
        etype = re.search(rb"(?im)^x-amzn-ErrorType: *(\S+)", head)
        return status, etype.group(1).decode() if etype else "", json.loads(body.decode("utf-8"))

    def test_malformed_targets(self):
        for target, want in [
            ("things", "must be an absolute path starting with '/'"),
            ("http://127.0.0.1/things", "must be an absolute path starting with '/'"),
            ("/things/a%ZZb", "the request path has a malformed %-escape '%ZZ'"),
            ("/things/a%4", "the request path has a malformed %-escape '%4'"),
        ]:
            with self.subTest(target=target):
                status, etype, body = self.raw(target)
                self.assertEqual((status, etype), (400, "InvalidRequestException"), body)
                self.assertIn(want, body["message"])

    def test_bad_max_results_escape(self):
        for q, want in [
            ("maxResults=%ZZ", "query parameter maxResults has a malformed %-escape '%ZZ'"),
            ("maxResults=1%", "query parameter maxResults has a malformed %-escape '%'"),
            ("max%52esults=%G1", "query parameter maxResults has a malformed %-escape '%G1'"),
            ("maxResults=%32", None),  # "2": a well-formed escape is fine
        ]:
            with self.subTest(q=q):
                status, etype, body = self.raw("/things?" + q)
                if want is None:
                    self.assertEqual(status, 200, body)
                    continue
                self.assertEqual((status, etype), (400, "InvalidRequestException"), body)
                self.assertIn(want, body["message"])
        fields = dict(f.split("=", 1) for f in self.d.ready_line.split()[2:])
        data_port = int(fields["jobs"].rsplit(":", 1)[1])
        status, etype, body = self.raw("/things/t/jobs/j?executionNumber=%zz", port=data_port)
        self.assertEqual((status, etype), (400, "InvalidRequestException"), body)
        self.assertIn("query parameter executionNumber has a malformed %-escape '%zz'",
                      body["message"])



class Finding8StartupTest(E2ECase):
    """Issue 16 finding 8: start-up on a read-only directory or a full disk says which file and why
    (one line, exit 2). Root ignores permission bits, so read-only means a read-only mount (a bind
    mount with -o ro), and a full disk a 32 KiB tmpfs; where mount is not allowed, read-only falls
    back to chmod (non-root) and the full disk to RLIMIT_FSIZE (the file cannot grow: EFBIG)."""

    def run_daemon(self, data_dir, preexec=None):
        argv = [harness.iotjobsd_binary(), "--data-dir", str(data_dir), "--credentials",
                str(self.ws.credentials_file), "--control-listen", "127.0.0.1:0",
                "--jobs-listen", "127.0.0.1:0"]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=20,
                           stdin=subprocess.DEVNULL, preexec_fn=preexec)
        self.assertEqual(p.returncode, 2, p.stderr)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, f"want one line on stderr, got:\n{p.stderr}")
        self.assertTrue(lines[0].startswith("iotjobsd: "), lines[0])
        return lines[0]

    def mount(self, *args):
        target = self.ws.mkdir()
        p = subprocess.run(["mount", *args, str(target)], capture_output=True, text=True)
        if p.returncode != 0:
            return None
        self.addCleanup(subprocess.run, ["umount", "-l", str(target)], capture_output=True)
        return target

    def test_read_only_directory(self):
        src = self.ws.mkdir()
        ro = self.mount("--bind", "-o", "ro", str(src)) if os.geteuid() == 0 else None
        if ro is None:
            if os.geteuid() == 0:
                self.skipTest("root and no mount: permission bits cannot make a directory "
                              "read-only for root")
            ro = src
            os.chmod(ro, 0o555)
            self.addCleanup(os.chmod, ro, 0o755)
        line = self.run_daemon(ro)
        self.assertIn(f"{ro}/iotjobs.db", line)
        self.assertRegex(line, "Read-only file system|Permission denied")
        # A directory where the database file should be.
        d = self.ws.mkdir()
        (d / "iotjobs.db").mkdir()
        line = self.run_daemon(d)
        self.assertIn(f"cannot open {d}/iotjobs.db for writing: Is a directory", line)

    def test_full_disk(self):
        full = self.mount("-t", "tmpfs", "-o", "size=32k", "tmpfs") if os.geteuid() == 0 else None
        if full is not None:
            line = self.run_daemon(full)
            self.assertIn(f"cannot initialise {full}/iotjobs.db", line)
            self.assertIn("No space left on device", line)
            return

        def small_files():
            resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        d = self.ws.mkdir()
        line = self.run_daemon(d, preexec=small_files)
        self.assertIn(f"cannot initialise {d}/iotjobs.db", line)
        self.assertIn("File too large", line)



class MatrixTest(E2ECase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        moto = harness.MotoS3(cls.ws)
        cls.addClassCleanup(moto.kill)
        moto.start()
        moto.put("bi-bucket", "doc.json", {"operation": "reboot"})
        VALID["JobDocumentSource"] = f"{moto.endpoint}/bi-bucket/doc.json"
        now = harness.utcnow()
        VALID["StringDateTime"] = (now + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
        STRUCT_EXTRAS["SchedulingConfig"] = {
            "endTime": (now + datetime.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")}
        # The matrix sends hundreds of requests for one thing within seconds; the per-thing device
        # budget (--device-requests-per-second) would answer them 429 before their input is read.
        cls.d = cls.start_daemon(s3_endpoint=moto.endpoint,
                                 args=("--device-requests-per-second", "0"))
        eps = cls.d.ready_line.split()
        fields = dict(f.split("=", 1) for f in eps[2:])
        cls.sender = Sender(cls.ws, {"iot": fields["control"], "iot-jobs-data": fields["jobs"]})
        cls.addClassCleanup(cls.sender.close)

    def test_every_listed_operation_is_served(self):
        for service, ops in (("iot", CONTROL_OPS), ("iot-jobs-data", DATA_OPS)):
            m = Matrix(service, ops)
            for op in m.ops:
                with self.subTest(op=op.name):
                    params = valid_value(op.input_shape) if op.input_shape else {}
                    params.update(EXTRAS.get(op.name, {}))
                    status, etype, body = self.sender.send(op, params)
                    self.assertNotEqual(etype, "UnknownOperationException", body)

    def test_bad_input_matrix(self):
        cases, skipped = [], []
        for service, ops in (("iot", CONTROL_OPS), ("iot-jobs-data", DATA_OPS)):
            m = Matrix(service, ops)
            cases += m.cases()
            skipped += m.skipped
        failures = []
        passed = 0
        for case in cases:
            declared = {e.name for e in case.op.error_shapes}
            want = sorted(declared & VALIDATION_ERRORS)
            try:
                b_status, b_type, b_body = send_case(self.sender, case, violate=False)
                status, etype, body = send_case(self.sender, case)
            except Exception as e:  # noqa: BLE001 - any failure is this case's failure
                failures.append(f"{case.name()}: {type(e).__name__}: {e}")
                continue
            problems = []
            refused = BASELINE_REFUSED.get((case.op.name, case.path[0][0]))
            if refused and isinstance(b_body, dict) and b_body.get("message") == refused:
                # the service rule behind the model's constraints (BASELINE_REFUSED): the
                # violation must be reported, not the rule
                if isinstance(body, dict) and body.get("message") == refused:
                    problems.append(f"got the service rule {refused!r}, not the violation")
            elif b_type in VALIDATION_ERRORS or b_status >= 500 or b_type == "UnknownOperationException":
                problems.append(f"the request without the violation got {b_status} {b_type}: "
                                f"{b_body.get('message') if isinstance(b_body, dict) else b_body}")
            msg = body.get("message", "") if isinstance(body, dict) else ""
            if etype not in want or status != 400:
                problems.append(f"got {status} {etype or '(no type)'} {msg!r}, want 400 {want}")
            elif case.field not in msg:
                problems.append(f"message does not name {case.field}: {msg!r}")
            if problems:
                failures.append(f"{case.name()}: " + "; ".join(problems))
            else:
                passed += 1
        summary = f"bad-input matrix: {len(cases)} cases, {passed} passed"
        print(f"\n{summary} ({len(skipped)} constraints not sendable, e.g. "
              f"{skipped[0][0]}: {skipped[0][1]})" if skipped else f"\n{summary}")
        out = os.environ.get("IOTJOBS_BAD_INPUT_SUMMARY")
        if out:
            Path(out).write_text(summary + "\n")
        if failures:
            self.fail(f"{summary}; failures:\n" + "\n".join(f[:400] for f in failures))
        self.assertGreater(len(cases), 300)


if __name__ == "__main__":
    unittest.main()
