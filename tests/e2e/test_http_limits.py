"""The HTTP layer's own answers and limits, seen by a real SDK (issue 16 findings 3, 4 and 8)."""
import signal
import socket
import subprocess
import unittest

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

import harness
from harness import E2ECase


def raw_exchange(port, data, read_timeout=10):
    """Sends `data` on a new connection and returns everything the server answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as s:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return out.decode(errors="replace")


class HttpLimitsTest(E2ECase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.d = cls.start_daemon()
        cls.port = int(cls.d.endpoint.rsplit(":", 1)[1])

    def test_oversized_body_is_413_invalid_request_for_boto3(self):
        # Finding 4: the control plane takes bodies up to 256 KB (every valid input fits).
        client = self.d.client(validate=False)
        with self.assertRaises(ClientError) as cm:
            client.create_job_template(jobTemplateId="too-big", description="d",
                                       document="x" * (300 * 1024))
        self.assertClientError(cm.exception, "InvalidRequestException", 413,
                               message_contains="request body too large")

    def test_a_valid_large_document_still_fits(self):
        client = self.d.client()
        doc = '{"pad":"' + "y" * 32000 + '"}'
        client.create_job_template(jobTemplateId="large-ok", description="d", document=doc)
        self.assertEqual(client.describe_job_template(jobTemplateId="large-ok")["document"], doc)

    def test_malformed_request_is_400_with_an_error_type_and_json_message(self):
        # Finding 8: the HTTP layer's 400 carried no x-amzn-ErrorType.
        out = raw_exchange(self.port, b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        self.assertTrue(out.startswith("HTTP/1.1 400"), out)
        self.assertIn("x-amzn-ErrorType: InvalidRequestException", out)
        self.assertIn('{"message":"malformed HTTP request"', out)

    def test_unsigned_request_is_refused_before_its_body(self):
        # Finding 3: the answer comes without the server waiting for (or buffering) the body.
        out = raw_exchange(self.port, b"PUT /job-templates/x HTTP/1.1\r\nHost: x\r\n"
                                      b"Content-Type: application/json\r\n"
                                      b"Content-Length: 200000\r\n\r\n{")
        self.assertTrue(out.startswith("HTTP/1.1 403"), out)
        self.assertIn("x-amzn-ErrorType: MissingAuthenticationTokenException", out)

    def test_unknown_key_is_refused_before_its_body(self):
        head = ("PUT /job-templates/x HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n"
                "X-Amz-Date: 20260101T000000Z\r\n"
                "Authorization: AWS4-HMAC-SHA256 Credential=AKIANOBODY/20260101/us-east-1/iot/"
                "aws4_request, SignedHeaders=host;x-amz-date, Signature=00\r\n\r\n")
        out = raw_exchange(self.port, head.encode())
        self.assertTrue(out.startswith("HTTP/1.1 403"), out)
        self.assertIn("x-amzn-ErrorType: UnrecognizedClientException", out)


class TlsTest(E2ECase):
    """--tls-cert/--tls-key/--device-ca (issue 12, Deliver 3 and the HTTP side of 4)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.certs = cls.ws.mkdir("certs")
        subprocess.run([str(harness.REPO / "scripts/dev-certs.sh"), str(cls.certs), "thing-1"],
                       check=True, stdout=subprocess.DEVNULL)
        cls.d = cls.start_daemon(args=("--tls-cert", str(cls.certs / "server.crt"),
                                       "--tls-key", str(cls.certs / "server.key"),
                                       "--device-ca", str(cls.certs / "ca.crt")))

    def https_client(self):
        session = boto3.session.Session(aws_access_key_id=self.ws.keys.access_key,
                                        aws_secret_access_key=self.ws.keys.secret_key,
                                        region_name="us-east-1")
        return session.client("iot", endpoint_url=self.d.endpoint,
                              verify=str(self.certs / "ca.crt"),
                              config=Config(retries={"max_attempts": 1}))

    def test_control_plane_over_https_through_boto3(self):
        self.assertTrue(self.d.endpoint.startswith("https://"), self.d.ready_line)
        self.assertIn("jobs=https://", self.d.ready_line)
        c = self.https_client()
        c.create_job_template(jobTemplateId="tls-1", description="d", document="{}")
        self.assertEqual(c.describe_job_template(jobTemplateId="tls-1")["jobTemplateId"], "tls-1")

    def test_sighup_reloads_and_keeps_serving(self):
        self.d.proc.send_signal(signal.SIGHUP)
        self.wait_until(lambda: self.d.log(), lambda log: "TLS certificate reloaded" in log,
                        "the reload log line")
        self.assertEqual(self.https_client().list_job_templates()["ResponseMetadata"]
                         ["HTTPStatusCode"], 200)

    def test_unusable_certificate_fails_start_up_naming_the_file(self):
        missing = str(self.certs / "missing.crt")
        r = subprocess.run([harness.iotjobsd_binary(), "--data-dir", str(self.ws.mkdir()),
                            "--credentials", str(self.ws.credentials_file),
                            "--control-listen", "127.0.0.1:0", "--jobs-listen", "127.0.0.1:0",
                            "--tls-cert", missing, "--tls-key", str(self.certs / "server.key")],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertIn(missing, r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)


if __name__ == "__main__":
    unittest.main()
