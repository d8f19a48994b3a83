"""iotjobsd under a file-size limit (RLIMIT_FSIZE), and its descriptor limit.

Chaos campaign finding: with a file-size limit, the write that crosses it raised SIGXFSZ, whose
default action killed iotjobsd (exit by signal 25) mid-request. iotjobsd ignores SIGXFSZ, so the
write fails with EFBIG and the request is answered with an error (5xx with x-amzn-ErrorType); the
process keeps serving reads.

Also: the soft RLIMIT_NOFILE is raised to the hard limit at start-up and logged.
"""

import http.client
import resource
import signal
import subprocess
import unittest
import urllib.error

import harness
from harness import E2ECase

FSIZE_LIMIT = 2 * 1024 * 1024  # bytes: start-up fits, a few dozen 30 KB templates do not
DOCUMENT = '{"blob":"' + "x" * 30000 + '"}'
MAX_WRITES = 1000  # far more than the limit allows; the loop ends at the first failure


class LimitedDaemon(harness.Daemon):
    """iotjobsd started under `prlimit` (which sets the limit, then execs: same pid)."""

    def __init__(self, ws, limits, **kw):
        super().__init__(ws, **kw)
        self.limits = limits

    def argv(self):
        return ["prlimit", *self.limits, "--", *super().argv()]


class FileSizeLimit(E2ECase):

    def test_sigxfsz_does_not_kill_iotjobsd_a_write_fails_with_an_error(self):
        d = LimitedDaemon(self.ws, [f"--fsize={FSIZE_LIMIT}"])
        self.addCleanup(d.kill)
        d.start()
        c = d.client()
        failed = None
        for i in range(MAX_WRITES):
            try:
                status, headers, body = harness.signed_request(
                    d.endpoint, "PUT", f"/job-templates/big-{i}",
                    {"description": "d", "document": DOCUMENT}, keys=self.ws.keys)
            except (ConnectionError, http.client.HTTPException, urllib.error.URLError) as e:
                # No answer at all: the process died mid-request; reap it to see how.
                try:
                    d.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
                failed = (i, None, {}, repr(e))
                break
            if status != 200:
                failed = (i, status, headers, body)
                break
            self.assertTrue(d.running(), f"iotjobsd exited after write {i}")
        self.assertIsNotNone(
            failed, f"{MAX_WRITES} writes all succeeded under a {FSIZE_LIMIT}-byte limit; "
                    f"running={d.running()} rc={d.proc.poll()}")
        i, status, headers, body = failed
        self.assertGreater(i, 0, f"the first write already failed: {failed}")
        # Before the fix: the request got no answer and the process was gone with -25 (SIGXFSZ).
        self.assertNotEqual(d.proc.poll(), -signal.SIGXFSZ, "iotjobsd was killed by SIGXFSZ")
        self.assertTrue(d.running(), f"iotjobsd exited with {d.proc.poll()}; log:\n{d.log()}")
        print(f"\nwrite {i} failed under a {FSIZE_LIMIT}-byte file-size limit: {status} "
              f"{headers.get('x-amzn-ErrorType')} {body}")
        self.assertIn(status, (500, 503), body)
        self.assertTrue(headers.get("x-amzn-ErrorType"), headers)
        self.assertIsInstance(body, dict)
        self.assertIn("message", body)
        # Still serving: a read answers, and the templates written before the limit are there.
        self.assertEqual(c.describe_job_template(jobTemplateId="big-0")["jobTemplateId"], "big-0")
        self.assertTrue(d.running())


class DescriptorLimit(E2ECase):

    def test_soft_descriptor_limit_is_raised_to_the_hard_limit(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or hard <= 1024:
            self.skipTest(f"hard descriptor limit {hard}: nothing to raise a 1024 soft limit to")
        d = LimitedDaemon(self.ws, [f"--nofile=1024:{hard}"])
        self.addCleanup(d.kill)
        d.start()
        with open(f"/proc/{d.proc.pid}/limits") as f:
            line = next(ln for ln in f if ln.startswith("Max open files"))
        self.assertEqual(line.split()[3:5], [str(hard), str(hard)], line)
        self.assertRegex(d.log(), rf"descriptor limit: {hard}\b")
        d.stop()


if __name__ == "__main__":
    unittest.main()
