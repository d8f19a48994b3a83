"""SigV4 on the control plane: the keys of the --credentials file, errors the SDKs recognise,
request dates, presigned URLs, regions as namespaces, and --no-auth."""

import datetime
import unittest
import urllib.parse
from unittest import mock

import botocore.auth
import botocore.awsrequest
import botocore.credentials
from botocore.exceptions import ClientError

import harness
from harness import ACCOUNT, E2ECase, Keys


class SigV4Test(E2ECase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.d = cls.start_daemon()
        cls.d.client().create_job_template(jobTemplateId="auth-probe", description="d",
                                           document="{}")

    def assertDenied(self, client, code, status=403):
        with self.assertRaises(ClientError) as cm:
            client.describe_job_template(jobTemplateId="auth-probe")
        self.assertClientError(cm.exception, code, status)
        return cm.exception

    def test_every_key_pair_in_the_file_is_accepted(self):
        for keys in (self.ws.keys, self.ws.other_keys):
            c = self.d.client(keys=keys)
            self.assertEqual(c.describe_job_template(jobTemplateId="auth-probe")["jobTemplateId"],
                             "auth-probe")
        rc, out, err = self.d.cli("describe-job-template", "--job-template-id", "auth-probe",
                                  "--profile", "ci")
        self.assertEqual(rc, 0, err)

    def test_unknown_access_key(self):
        self.assertDenied(self.d.client(keys=Keys()), "UnrecognizedClientException")

    def test_wrong_secret(self):
        keys = Keys(access_key=self.ws.keys.access_key, secret_key="wrong" + "x" * 35)
        e = self.assertDenied(self.d.client(keys=keys), "InvalidSignatureException")
        self.assertNotIn(self.ws.keys.secret_key, str(e.response))

    def test_unsigned_request(self):
        status, headers, body = harness.http_request(self.d.endpoint + "/job-templates/auth-probe")
        self.assertEqual(status, 403)
        self.assertEqual(headers.get("x-amzn-ErrorType"), "MissingAuthenticationTokenException")
        self.assertIn("message", body)

    def test_signed_request_works_raw(self):
        status, _, body = harness.signed_request(self.d.endpoint, "GET",
                                                 "/job-templates/auth-probe", keys=self.ws.keys)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["jobTemplateId"], "auth-probe")

    def test_request_dated_twenty_minutes_ago(self):
        for minutes in (20, -20):
            with self.subTest(minutes=minutes):
                signed_at = harness.utcnow() - datetime.timedelta(minutes=minutes)
                status, headers, body = harness.signed_request(
                    self.d.endpoint, "GET", "/job-templates/auth-probe", keys=self.ws.keys,
                    signed_at=signed_at)
                self.assertEqual(status, 403, body)
                self.assertEqual(headers.get("x-amzn-ErrorType"), "InvalidSignatureException")
        # Within the 15-minute window it is fine.
        status, _, body = harness.signed_request(
            self.d.endpoint, "GET", "/job-templates/auth-probe", keys=self.ws.keys,
            signed_at=harness.utcnow() - datetime.timedelta(minutes=10))
        self.assertEqual(status, 200, body)

    def test_body_tampered_after_signing(self):
        status, headers, _ = harness.signed_request(
            self.d.endpoint, "PUT", "/job-templates/tamper", keys=self.ws.keys,
            body={"description": "d", "document": "{}"})
        self.assertEqual(status, 200)
        # Sign one body, send another.
        url = self.d.endpoint + "/job-templates/tamper2"
        req = botocore.awsrequest.AWSRequest(method="PUT", url=url,
                                             data=b'{"description":"d","document":"{}"}')
        botocore.auth.SigV4Auth(botocore.credentials.Credentials(
            self.ws.keys.access_key, self.ws.keys.secret_key), "iot", "us-east-1").add_auth(req)
        status, headers, _ = harness.http_request(
            url, "PUT", b'{"description":"X","document":"{}"}', dict(req.headers.items()))
        self.assertEqual(status, 403)
        self.assertEqual(headers.get("x-amzn-ErrorType"), "InvalidSignatureException")
        c = self.d.client()
        with self.assertRaises(c.exceptions.ResourceNotFoundException):
            c.describe_job_template(jobTemplateId="tamper2")

    def test_wrong_service_in_scope(self):
        status, headers, body = harness.signed_request(
            self.d.endpoint, "GET", "/job-templates/auth-probe", keys=self.ws.keys,
            service="s3")
        self.assertEqual(status, 403, body)
        self.assertEqual(headers.get("x-amzn-ErrorType"), "InvalidSignatureException")

    def test_presigned_describe(self):
        c = self.d.client()
        url = c.generate_presigned_url("describe_job_template",
                                       Params={"jobTemplateId": "auth-probe"}, ExpiresIn=120)
        self.assertIn("X-Amz-Signature=", url)
        status, _, body = harness.http_request(url)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["jobTemplateId"], "auth-probe")
        self.assertEqual(body["jobTemplateArn"], self.d.arn("auth-probe"))

        # Another path under the same signature is refused.
        parts = urllib.parse.urlsplit(url)
        other = parts._replace(path="/job-templates/other").geturl()
        status, headers, _ = harness.http_request(other)
        self.assertEqual(status, 403)
        self.assertEqual(headers.get("x-amzn-ErrorType"), "InvalidSignatureException")

        # An expired presigned URL is refused.
        with mock.patch(
                "botocore.auth.get_current_datetime",
                return_value=(harness.utcnow() - datetime.timedelta(minutes=5)).replace(
                    tzinfo=None)):
            old = c.generate_presigned_url("describe_job_template",
                                           Params={"jobTemplateId": "auth-probe"}, ExpiresIn=60)
        status, headers, _ = harness.http_request(old)
        self.assertEqual(status, 403)
        self.assertEqual(headers.get("x-amzn-ErrorType"), "InvalidSignatureException")

    def test_regions_are_namespaces(self):
        use1 = self.d.client(region="us-east-1")
        euw1 = self.d.client(region="eu-west-1")
        use1.create_job_template(jobTemplateId="regional", description="us", document="{}")
        with self.assertRaises(euw1.exceptions.ResourceNotFoundException):
            euw1.describe_job_template(jobTemplateId="regional")
        self.assertNotIn("regional", [t["jobTemplateId"] for t in
                                      euw1.list_job_templates()["jobTemplates"]])

        out = euw1.create_job_template(jobTemplateId="regional", description="eu",
                                       document="{}")
        self.assertEqual(out["jobTemplateArn"],
                         f"arn:aws:iot:eu-west-1:{ACCOUNT}:jobtemplate/regional")
        self.assertEqual(euw1.describe_job_template(jobTemplateId="regional")["description"],
                         "eu")
        self.assertEqual(use1.describe_job_template(jobTemplateId="regional")["description"],
                         "us")
        eu_list = euw1.list_job_templates()["jobTemplates"]
        self.assertEqual([t["jobTemplateArn"] for t in eu_list],
                         [f"arn:aws:iot:eu-west-1:{ACCOUNT}:jobtemplate/regional"])

        rc, out, err = self.d.cli("list-job-templates", region="eu-west-1")
        self.assertEqual(rc, 0, err)
        self.assertEqual([t["jobTemplateId"] for t in out["jobTemplates"]], ["regional"])

        euw1.delete_job_template(jobTemplateId="regional")
        self.assertEqual(use1.describe_job_template(jobTemplateId="regional")["description"],
                         "us")


class NoAuthTest(E2ECase):
    def test_no_auth_serves_unsigned_requests_and_warns(self):
        d = self.daemon(no_auth=True, credentials=False)
        self.assertIn("--no-auth", d.log())
        self.assertRegex(d.log(), r"(?i)warn.*NOT authenticated")

        status, _, body = harness.http_request(
            d.endpoint + "/job-templates/open", "PUT", b'{"description":"d","document":"{}"}',
            {"Content-Type": "application/json"})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["jobTemplateArn"], d.arn("open"))

        unsigned = d.client(signed=False)
        self.assertEqual(unsigned.describe_job_template(jobTemplateId="open")["jobTemplateId"],
                         "open")
        # Signed clients work too, and their scope still picks the region.
        eu = d.client(region="eu-west-1", keys=Keys())
        out = eu.create_job_template(jobTemplateId="open", description="d", document="{}")
        self.assertEqual(out["jobTemplateArn"], d.arn("open", region="eu-west-1"))
        rc, out, err = d.cli("list-job-templates")
        self.assertEqual(rc, 0, err)
        self.assertEqual([t["jobTemplateId"] for t in out["jobTemplates"]], ["open"])


if __name__ == "__main__":
    unittest.main()
