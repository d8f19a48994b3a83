"""Start-up: a bad flag exits non-zero with one clear line on stderr naming the flag; --help works;
SIGTERM stops a running daemon with exit code 0."""

import socket
import subprocess
import unittest

import harness
from harness import E2ECase


class StartupErrorsTest(E2ECase):
    def run_daemon(self, *args, credentials=True):
        argv = [harness.iotjobsd_binary(), "--data-dir", str(self.ws.mkdir())]
        if credentials:
            argv += ["--credentials", str(self.ws.credentials_file)]
        return subprocess.run(argv + list(args), capture_output=True, text=True, timeout=20,
                              stdin=subprocess.DEVNULL)

    def assert_fails_naming(self, flag, *args, credentials=True, after_logs=False):
        p = self.run_daemon(*args, credentials=credentials)
        self.assertNotEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("iotjobsd ready", p.stdout)
        lines = p.stderr.strip().splitlines()
        if after_logs:  # failures after start-up began may follow info log lines
            lines = [ln for ln in lines if " info [" not in ln]
        self.assertEqual(len(lines), 1, f"want one line on stderr, got:\n{p.stderr}")
        self.assertTrue(lines[0].startswith("iotjobsd: "), lines[0])
        self.assertIn(flag, lines[0])
        return lines[0]

    def test_bad_flags(self):
        cases = [
            ("--control-listen", ["--control-listen", "nonsense"]),
            ("--control-listen", ["--control-listen", "127.0.0.1:99999"]),
            ("--jobs-listen", ["--jobs-listen", ":9081"]),
            ("--mqtt", ["--mqtt", "http://x"]),
            ("--time-scale", ["--time-scale", "0"]),
            ("--time-scale", ["--time-scale", "-2"]),
            ("--time-scale", ["--time-scale", "fast"]),
            ("--store", ["--store", "postgres://iot@db.example/iotjobs"]),
            ("--store", ["--store", "postgresql://iot@db.example/iotjobs"]),
            ("--store", ["--store", "mysql://x"]),
            ("--s3-endpoint", ["--s3-endpoint", "ftp://x"]),
            ("--s3-timeout-ms", ["--s3-timeout-ms", "5"]),
            ("--account-id", ["--account-id", "123"]),
            ("--region", ["--region", "bad_region"]),
            ("--log-level", ["--log-level", "loud"]),
            ("--worker-threads", ["--worker-threads", "0"]),
            ("--bogus", ["--bogus"]),
        ]
        for flag, args in cases:
            with self.subTest(args=args):
                self.assert_fails_naming(flag, *args)

    def test_missing_credentials_file(self):
        missing = str(self.ws.path("no-such-credentials"))
        line = self.assert_fails_naming("--credentials", "--credentials", missing,
                                        credentials=False)
        self.assertIn(missing, line)
        self.assertIn("--no-auth", line)  # says what else one can do

    def test_default_credentials_file_missing(self):
        # Without --credentials the default is <data-dir>/credentials, which does not exist.
        self.assert_fails_naming("--credentials", credentials=False)

    def test_control_port_in_use(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            line = self.assert_fails_naming("--control-listen", "--control-listen",
                                            f"127.0.0.1:{port}", after_logs=True)
            self.assertIn("in use", line)

    def test_help(self):
        p = subprocess.run([harness.iotjobsd_binary(), "--help"], capture_output=True, text=True,
                           timeout=20)
        self.assertEqual(p.returncode, 0)
        for flag in ("--control-listen", "--data-dir", "--credentials", "--s3-endpoint",
                     "--s3-timeout-ms", "--no-auth", "--time-scale", "--store", "--mqtt"):
            self.assertIn(flag, p.stdout)


class GracefulStopTest(E2ECase):
    def test_sigterm_exits_zero_and_keeps_data(self):
        d = self.daemon()
        self.assertRegex(d.ready_line,
                         r"^iotjobsd ready control=http://127\.0\.0\.1:\d+ "
                         r"jobs=http://127\.0\.0\.1:\d+ region=us-east-1 "
                         r"account=123456789012$")
        d.client().create_job_template(jobTemplateId="kept", description="d", document="{}")
        self.assertEqual(d.stop(), 0, d.log())
        d.start()
        self.assertEqual(d.client().describe_job_template(jobTemplateId="kept")["jobTemplateId"],
                         "kept")


if __name__ == "__main__":
    unittest.main()
