"""A device over HTTPS with its certificate, end to end (issue 12, Deliver 3 and 4; Done when).

iotjobsd serves both listeners over HTTPS (--tls-cert/--tls-key: a server certificate for
127.0.0.1 and localhost from scripts/dev-certs.sh's development CA) and asks for device
certificates (--device-ca). The operator is boto3 over HTTPS with verify=CA. A device is Python's
ssl + http.client presenting its certificate (CN = its thing) and sending unsigned requests on the
iot-jobs-data REST paths of the botocore model:

- it runs its job: GetPendingJobExecutions, StartNextPendingJobExecution, UpdateJobExecution to
  SUCCEEDED with expectedVersion; the operator sees SUCCEEDED;
- it is refused (403 AccessDeniedException, body {"message"}) on another thing's execution (get,
  start-next, update: the other thing's execution is untouched) and on the control plane
  (ListJobs on the control listener), its certificate being its only credential;
- a certificate from another CA fails the TLS handshake: no HTTP answer at all.
"""

import http.client
import json
import ssl
import subprocess
import unittest

import boto3
from botocore.config import Config

import harness
from harness import E2ECase

ACCOUNT = harness.ACCOUNT


class DeviceOverHttps(E2ECase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.certs = cls.ws.mkdir("certs")
        cls.other_certs = cls.ws.mkdir("other-ca")  # another CA, same thing name
        for d in (cls.certs, cls.other_certs):
            subprocess.run([str(harness.REPO / "scripts/dev-certs.sh"), str(d), "dev-a", "dev-b"],
                           check=True, stdout=subprocess.DEVNULL)
        cls.ca = str(cls.certs / "ca.crt")
        cls.d = cls.start_daemon(args=("--tls-cert", str(cls.certs / "server.crt"),
                                       "--tls-key", str(cls.certs / "server.key"),
                                       "--device-ca", cls.ca))
        fields = dict(f.split("=", 1) for f in cls.d.ready_line.split()[2:])
        cls.control_port = int(fields["control"].rsplit(":", 1)[1])
        cls.jobs_port = int(fields["jobs"].rsplit(":", 1)[1])
        cls.iot = boto3.session.Session(
            aws_access_key_id=cls.ws.keys.access_key,
            aws_secret_access_key=cls.ws.keys.secret_key,
            region_name="us-east-1").client(
                "iot", endpoint_url=fields["control"], verify=cls.ca,
                config=Config(retries={"max_attempts": 1}))
        for thing in ("dev-a", "dev-b"):
            cls.iot.create_thing(thingName=thing)
            cls.iot.create_job(jobId=f"job-{thing}", document='{"operation":"reboot"}',
                               targets=[f"arn:aws:iot:us-east-1:{ACCOUNT}:thing/{thing}"])

    # --- a device: its certificate, unsigned requests -----------------------------------------

    def device_context(self, thing, certs=None):
        certs = certs or self.certs
        ctx = ssl.create_default_context(cafile=self.ca)  # it checks the server, too
        ctx.load_cert_chain(str(certs / f"{thing}.crt"), str(certs / f"{thing}.key"))
        return ctx

    def device(self, thing, method, path, body=None, port=None, certs=None):
        """(status, headers, parsed body) of one unsigned request with `thing`'s certificate."""
        conn = http.client.HTTPSConnection("127.0.0.1", port or self.jobs_port, timeout=30,
                                           context=self.device_context(thing, certs))
        try:
            data = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/json"} if data is not None else {}
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, \
                (json.loads(raw) if raw else None)
        finally:
            conn.close()

    def assertAccessDenied(self, answer, thing=None):
        status, headers, body = answer
        self.assertEqual(status, 403, answer)
        self.assertEqual(headers.get("x-amzn-errortype", "").split(":")[0],
                         "AccessDeniedException", answer)
        self.assertIsInstance(body, dict, answer)
        self.assertIn("message", body, answer)
        self.assertEqual(body.get("__type", "AccessDeniedException"), "AccessDeniedException")
        self.assertIn("certificate CN=dev-a", body["message"])
        if thing:
            self.assertIn(f"thing/{thing}", body["message"])

    def pending(self, thing):
        status, _, body = self.device(thing, "GET", f"/things/{thing}/jobs")
        self.assertEqual(status, 200, body)
        return body

    # --- the tests ------------------------------------------------------------------------------

    def test_1_device_runs_its_job_and_operator_sees_succeeded(self):
        # Executions are created in the background: wait until dev-a's is pending.
        body = self.wait_until(lambda: self.pending("dev-a"),
                               lambda b: any(j["jobId"] == "job-dev-a" for j in b["queuedJobs"]),
                               "dev-a's execution to be queued")
        self.assertEqual([j["jobId"] for j in body["queuedJobs"]], ["job-dev-a"], body)

        status, _, started = self.device("dev-a", "PUT", "/things/dev-a/jobs/$next",
                                         {"statusDetails": {"step": "downloading"}})
        self.assertEqual(status, 200, started)
        execution = started["execution"]
        self.assertEqual((execution["jobId"], execution["thingName"], execution["status"]),
                         ("job-dev-a", "dev-a", "IN_PROGRESS"), execution)
        self.assertEqual(json.loads(execution["jobDocument"]), {"operation": "reboot"})

        status, _, updated = self.device(
            "dev-a", "POST", "/things/dev-a/jobs/job-dev-a",
            {"status": "SUCCEEDED", "expectedVersion": execution["versionNumber"]})
        self.assertEqual(status, 200, updated)
        self.assertEqual(updated.get("executionState", {}).get("status", "SUCCEEDED"),
                         "SUCCEEDED", updated)

        seen = self.iot.describe_job_execution(jobId="job-dev-a", thingName="dev-a")
        self.assertEqual(seen["execution"]["status"], "SUCCEEDED")
        self.assertEqual(self.pending("dev-a"), {"inProgressJobs": [], "queuedJobs": []})

    def test_2_device_is_refused_on_another_things_execution(self):
        self.wait_until(lambda: self.iot.list_job_executions_for_thing(thingName="dev-b")
                        ["executionSummaries"], lambda s: len(s) == 1, "dev-b's execution")
        self.assertAccessDenied(self.device("dev-a", "GET", "/things/dev-b/jobs"), "dev-b")
        self.assertAccessDenied(self.device("dev-a", "GET", "/things/dev-b/jobs/job-dev-b"),
                                "dev-b")
        self.assertAccessDenied(self.device("dev-a", "PUT", "/things/dev-b/jobs/$next", {}),
                                "dev-b")
        self.assertAccessDenied(self.device("dev-a", "POST", "/things/dev-b/jobs/job-dev-b",
                                            {"status": "SUCCEEDED"}), "dev-b")
        # Nothing changed for dev-b, which may still run its own job.
        seen = self.iot.describe_job_execution(jobId="job-dev-b", thingName="dev-b")
        self.assertEqual((seen["execution"]["status"], seen["execution"]["versionNumber"]),
                         ("QUEUED", 1), seen["execution"])
        self.assertEqual([j["jobId"] for j in self.pending("dev-b")["queuedJobs"]], ["job-dev-b"])

    def test_3_device_is_refused_on_the_control_plane(self):
        # ListJobs on the control listener (which also asks for device certificates).
        self.assertAccessDenied(self.device("dev-a", "GET", "/jobs", port=self.control_port))
        # ... and a write, refused before its body is read.
        self.assertAccessDenied(self.device("dev-a", "PUT", "/things/dev-c", {},
                                            port=self.control_port))
        with self.assertRaises(self.iot.exceptions.ResourceNotFoundException):
            self.iot.describe_thing(thingName="dev-c")
        # The operator (SigV4 over HTTPS, verify=CA) is served on the same listener.
        self.assertIn("job-dev-a", [j["jobId"] for j in self.iot.list_jobs()["jobs"]])

    def test_4_certificate_from_another_ca_fails_the_handshake(self):
        for port in (self.jobs_port, self.control_port):
            with self.subTest(port=port):
                # TLS 1.3 ends the client's handshake before the server has checked its
                # certificate: the refusal arrives as an alert on the first read.
                with self.assertRaises((ssl.SSLError, ConnectionError)) as ctx:
                    self.device("dev-a", "GET", "/things/dev-a/jobs", port=port,
                                certs=self.other_certs)
                print(f"\nother CA's certificate on port {port}: {ctx.exception!r}")
                if isinstance(ctx.exception, ssl.SSLError):  # the server's alert, not ours
                    self.assertIn("ALERT", str(ctx.exception))
        # The device's own certificate still works afterwards.
        self.pending("dev-a")

    def test_5_a_client_without_the_ca_does_not_trust_the_server(self):
        plain = boto3.session.Session(
            aws_access_key_id=self.ws.keys.access_key,
            aws_secret_access_key=self.ws.keys.secret_key,
            region_name="us-east-1").client(
                "iot", endpoint_url=f"https://127.0.0.1:{self.control_port}",
                config=Config(retries={"max_attempts": 1}))
        from botocore.exceptions import SSLError
        with self.assertRaises(SSLError):
            plain.list_jobs()


if __name__ == "__main__":
    unittest.main()
