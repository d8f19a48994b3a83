"""The README's AWS CLI walk-through and a job flow through BOTH the AWS CLI v1 (Python package,
e.g. pyenv's `aws` shim) and the AWS CLI v2 (Debian 12's `awscli` 2.9.19 at /usr/bin/aws).

AWS CLI v2 2.9.19 signs `iot` requests with the signing name `execute-api` (as older botocore
releases do); AWS IoT accepts it and so must iotjobsd (issue 12). Each CLI is found explicitly:
every `aws` on PATH plus /usr/bin/aws and /usr/local/bin/aws, classified by `aws --version`. A
missing major version fails the suite naming scripts/deps.sh (the project needs both runnable).
"""

import datetime
import json
import os
import subprocess
import unittest

import harness
from harness import ACCOUNT, E2ECase

DOC_BUCKET = "amzn-s3-demo-bucket"
DOC_SOURCE = f"https://s3.amazonaws.com/{DOC_BUCKET}/job-document.json"
JOB_DOCUMENT = {"operation": "reboot"}


def find_clis():
    """{1: path, 2: path} for the AWS CLI major versions found."""
    candidates = []
    for d in os.environ.get("PATH", "").split(os.pathsep):
        p = os.path.join(d, "aws")
        if d and os.access(p, os.X_OK):
            candidates.append(p)
    candidates += ["/usr/bin/aws", "/usr/local/bin/aws"]
    found = {}
    for p in candidates:
        if not os.access(p, os.X_OK):
            continue
        try:
            v = subprocess.run([p, "--version"], capture_output=True, text=True, timeout=60,
                               stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            continue
        text = (v.stdout + v.stderr).strip()
        for major in (1, 2):
            if text.startswith(f"aws-cli/{major}.") and major not in found:
                found[major] = (p, text.split()[0])
    return found


CLIS = find_clis()


def setUpModule():
    global WS, MOTO, D
    WS, MOTO, D = harness.module_with_s3([(DOC_BUCKET, "job-document.json", JOB_DOCUMENT)])


def epoch(value):
    """CLI v1 prints timestamps as epoch seconds, v2 as ISO 8601 (cli_timestamp_format)."""
    if isinstance(value, (int, float)):
        return float(value)
    return datetime.datetime.fromisoformat(value).timestamp()


class CliMixin:
    """The walk-through for the CLI of major version MAJOR."""

    MAJOR = None

    def setUp(self):
        if self.MAJOR not in CLIS:
            self.fail(f"AWS CLI v{self.MAJOR} not found (found {CLIS}); run scripts/deps.sh")
        self.program, self.version = CLIS[self.MAJOR]
        self.prefix = f"v{self.MAJOR}-"

    def aws(self, *args):
        env = WS.cli_env()
        env["AWS_PAGER"] = ""  # v2 pipes output through `less` otherwise
        cmd = [self.program, "iot", *args, "--endpoint-url", D.endpoint, "--output", "json"]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 0, f"{self.version} {' '.join(args)}: {p.stderr}")
        return json.loads(p.stdout) if p.stdout.strip() else None

    def test_template_walk_through(self):
        tid = self.prefix + "hello"
        arn = f"arn:aws:iot:us-east-1:{ACCOUNT}:jobtemplate/{tid}"
        out = self.aws("create-job-template", "--job-template-id", tid,
                       "--description", "My first template",
                       "--document", json.dumps({"operation": "reboot"}))
        self.assertEqual(out, {"jobTemplateArn": arn, "jobTemplateId": tid})
        got = self.aws("describe-job-template", "--job-template-id", tid)
        self.assertLess(abs(epoch(got.pop("createdAt")) - datetime.datetime.now().timestamp()),
                        120)
        self.assertEqual(got, {"jobTemplateArn": arn, "jobTemplateId": tid,
                               "description": "My first template",
                               "document": '{"operation": "reboot"}'})

        # documentSource, fetched from moto's S3 at creation.
        sid = self.prefix + "from-s3"
        self.aws("create-job-template", "--job-template-id", sid, "--description", "s3",
                 "--document-source", DOC_SOURCE, "--timeout-config",
                 "inProgressTimeoutInMinutes=100")
        got = self.aws("describe-job-template", "--job-template-id", sid)
        self.assertEqual(got["documentSource"], DOC_SOURCE)
        self.assertEqual(got["timeoutConfig"], {"inProgressTimeoutInMinutes": 100})

        listed = self.aws("list-job-templates")
        mine = {t["jobTemplateId"] for t in listed["jobTemplates"]}
        self.assertLessEqual({tid, sid}, mine)
        self.aws("delete-job-template", "--job-template-id", tid)
        self.aws("delete-job-template", "--job-template-id", sid)
        listed = self.aws("list-job-templates")
        self.assertFalse({tid, sid} & {t["jobTemplateId"] for t in listed["jobTemplates"]})

    def test_job_flow(self):
        thing = self.prefix + "thing"
        job = self.prefix + "job"
        t = self.aws("create-thing", "--thing-name", thing)
        self.assertEqual(t["thingName"], thing)
        created = self.aws("create-job", "--job-id", job, "--targets", t["thingArn"],
                           "--document", json.dumps(JOB_DOCUMENT))
        self.assertEqual(created["jobId"], job)
        self.assertEqual(created["jobArn"], f"arn:aws:iot:us-east-1:{ACCOUNT}:job/{job}")
        described = self.aws("describe-job", "--job-id", job)["job"]
        self.assertEqual(described["jobId"], job)
        self.assertEqual(described["targets"], [t["thingArn"]])
        self.assertEqual(self.aws("get-job-document", "--job-id", job)["document"],
                         json.dumps(JOB_DOCUMENT))
        ex = self.aws("describe-job-execution", "--job-id", job, "--thing-name", thing)
        self.assertEqual(ex["execution"]["jobId"], job)
        self.assertEqual(ex["execution"]["status"], "QUEUED")
        per_thing = self.aws("list-job-executions-for-thing", "--thing-name", thing)
        self.assertEqual([s["jobId"] for s in per_thing["executionSummaries"]], [job])
        self.aws("cancel-job", "--job-id", job)
        self.aws("delete-job", "--job-id", job, "--force")
        self.aws("delete-thing", "--thing-name", thing)


class CliV1Test(CliMixin, E2ECase):
    MAJOR = 1


class CliV2Test(CliMixin, E2ECase):
    MAJOR = 2


if __name__ == "__main__":
    unittest.main()
