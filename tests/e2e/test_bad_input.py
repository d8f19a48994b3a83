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


if __name__ == "__main__":
    unittest.main()
