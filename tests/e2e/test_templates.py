"""Job templates through the real aws CLI v1 and boto3: the developer guide's own example, every
documentSource form, S3 failures, validation errors, and ListJobTemplates paging."""

import concurrent.futures
import datetime
import json
import re
import time
import unittest

from botocore.exceptions import ParamValidationError

import harness
from harness import ACCOUNT, E2ECase

VALID_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
DOC_BUCKET = "amzn-s3-demo-bucket"
DOC_SOURCE = f"https://s3.amazonaws.com/{DOC_BUCKET}/job-document.json"
JOB_DOCUMENT = {"operation": "firmware-update",
                "url": "${aws:iot:s3-presigned-url:https://s3.amazonaws.com/fw/firmware.bin}"}

# The argument strings of the developer guide's example ("Create custom job templates by using the
# AWS CLI", https://docs.aws.amazon.com/iot/latest/developerguide/job-templates-cli.html), with the
# shell's backslash escapes resolved; spacing kept as printed.
DOC_ROLLOUT = ('{ "exponentialRate": { "baseRatePerMinute": 50, "incrementFactor": 2, '
               '"rateIncreaseCriteria": { "numberOfNotifiedThings": 1000, '
               '"numberOfSucceededThings": 1000}}, "maximumPerMinute": 1000}')
DOC_ABORT = ('{ "criteriaList": [ { "action": "CANCEL", "failureType": "FAILED", '
             '"minNumberOfExecutedThings": 100, "thresholdPercentage": 20}, { "action": "CANCEL", '
             '"failureType": "TIMED_OUT", "minNumberOfExecutedThings": 200, '
             '"thresholdPercentage": 50}]}')
DOC_PRESIGNED = ('{"roleArn":"arn:aws:iam::123456789012:role/S3DownloadRole", '
                 '"expiresInSec":3600}')
DOC_DESCRIPTION = "My custom job template for updating the device firmware"

# Every member of DescribeJobTemplate's output that a request can set.
FULL_CONFIGS = {
    "presignedUrlConfig": {"roleArn": "arn:aws:iam::123456789012:role/S3DownloadRole",
                           "expiresInSec": 900},
    "jobExecutionsRolloutConfig": {
        "maximumPerMinute": 500,
        "exponentialRate": {"baseRatePerMinute": 10, "incrementFactor": 1.5,
                            "rateIncreaseCriteria": {"numberOfSucceededThings": 25}}},
    "abortConfig": {"criteriaList": [
        {"failureType": "REJECTED", "action": "CANCEL", "thresholdPercentage": 12.34,
         "minNumberOfExecutedThings": 10},
        {"failureType": "ALL", "action": "CANCEL", "thresholdPercentage": 99.99,
         "minNumberOfExecutedThings": 1}]},
    "timeoutConfig": {"inProgressTimeoutInMinutes": 10080},
    "jobExecutionsRetryConfig": {"criteriaList": [
        {"failureType": "FAILED", "numberOfRetries": 3},
        {"failureType": "TIMED_OUT", "numberOfRetries": 7}]},
    "maintenanceWindows": [{"startTime": "cron(0 2 ? * SAT *)", "durationInMinutes": 120},
                           {"startTime": "cron(30 23 1 * ? *)", "durationInMinutes": 1430}],
    "destinationPackageVersions": [
        f"arn:aws:iot:us-east-1:{ACCOUNT}:package/fw/version/2.0.1",
        f"arn:aws:iot:us-east-1:{ACCOUNT}:package/bootloader/version/1.0.0"],
}


def setUpModule():
    global WS, MOTO, D
    WS, MOTO, D = harness.module_with_s3([(DOC_BUCKET, "job-document.json", JOB_DOCUMENT)])


class Case(E2ECase):
    @classmethod
    def setUpClass(cls):
        cls.ws = WS  # module-wide workspace, daemon and S3

    def create(self, client, template_id, **kw):
        kw.setdefault("description", "e2e")
        if "document" not in kw and "documentSource" not in kw and "jobArn" not in kw:
            kw["document"] = json.dumps(JOB_DOCUMENT)
        return client.create_job_template(jobTemplateId=template_id, **kw)


class DeveloperGuideExampleTest(Case):
    """The developer guide's CLI walk-through: create (verbatim example), describe, list, delete."""

    def test_create_describe_list_delete_as_in_the_guide(self):
        rc, out, err = D.cli(
            "create-job-template",
            "--job-template-id", "010",
            "--description", DOC_DESCRIPTION,
            "--document-source", DOC_SOURCE,
            "--timeout-config", "inProgressTimeoutInMinutes=100",
            "--job-executions-rollout-config", DOC_ROLLOUT,
            "--abort-config", DOC_ABORT,
            "--presigned-url-config", DOC_PRESIGNED)
        self.assertEqual(rc, 0, err)
        arn = f"arn:aws:iot:us-east-1:{ACCOUNT}:jobtemplate/010"
        self.assertEqual(out, {"jobTemplateArn": arn, "jobTemplateId": "010"})

        rc, got, err = D.cli("describe-job-template", "--job-template-id", "010")
        self.assertEqual(rc, 0, err)
        created_at = got.pop("createdAt")
        self.assertIsInstance(created_at, (int, float))  # epoch seconds on the wire
        self.assertLess(abs(created_at - time.time()), 120)
        self.assertEqual(got, {
            "jobTemplateArn": arn,
            "jobTemplateId": "010",
            "description": DOC_DESCRIPTION,
            "documentSource": DOC_SOURCE,
            "presignedUrlConfig": json.loads(DOC_PRESIGNED),
            "jobExecutionsRolloutConfig": json.loads(DOC_ROLLOUT),
            "abortConfig": json.loads(DOC_ABORT),
            "timeoutConfig": {"inProgressTimeoutInMinutes": 100},
        })

        rc, listed, err = D.cli("list-job-templates")
        self.assertEqual(rc, 0, err)
        mine = [t for t in listed["jobTemplates"] if t["jobTemplateId"] == "010"]
        self.assertEqual(len(mine), 1)
        self.assertEqual(set(mine[0]), {"jobTemplateArn", "jobTemplateId", "description",
                                        "createdAt"})
        self.assertEqual(mine[0]["jobTemplateArn"], arn)
        self.assertEqual(mine[0]["description"], DOC_DESCRIPTION)
        self.assertEqual(mine[0]["createdAt"], created_at)

        rc, out, err = D.cli("delete-job-template", "--job-template-id", "010")
        self.assertEqual((rc, out), (0, None), err)  # "The command displays no output."

        rc, out, err = D.cli("describe-job-template", "--job-template-id", "010")
        self.assertNotEqual(rc, 0)
        self.assertIn("ResourceNotFoundException", err)
        rc, listed, err = D.cli("list-job-templates")
        self.assertEqual(rc, 0, err)
        self.assertNotIn("010", [t["jobTemplateId"] for t in listed["jobTemplates"]])

    def test_describe_returns_every_field_as_given(self):
        c = D.client()
        self.create(c, "all-fields", description="every field", documentSource=DOC_SOURCE,
                    **FULL_CONFIGS)
        got = c.describe_job_template(jobTemplateId="all-fields")
        got.pop("ResponseMetadata")
        self.assertIsInstance(got.pop("createdAt"), datetime.datetime)
        want = {"jobTemplateArn": D.arn("all-fields"), "jobTemplateId": "all-fields",
                "description": "every field", "documentSource": DOC_SOURCE, **FULL_CONFIGS}
        self.assertEqual(got, want)

        # The CLI sees the same values (shorthand JSON input for two of them).
        rc, out, err = D.cli(
            "create-job-template", "--job-template-id", "all-fields-cli",
            "--description", "every field", "--document-source", DOC_SOURCE,
            "--presigned-url-config", json.dumps(FULL_CONFIGS["presignedUrlConfig"]),
            "--job-executions-rollout-config",
            json.dumps(FULL_CONFIGS["jobExecutionsRolloutConfig"]),
            "--abort-config", json.dumps(FULL_CONFIGS["abortConfig"]),
            "--timeout-config", "inProgressTimeoutInMinutes=10080",
            "--job-executions-retry-config",
            json.dumps(FULL_CONFIGS["jobExecutionsRetryConfig"]),
            "--maintenance-windows", json.dumps(FULL_CONFIGS["maintenanceWindows"]),
            "--destination-package-versions", *FULL_CONFIGS["destinationPackageVersions"])
        self.assertEqual(rc, 0, err)
        rc, out, err = D.cli("describe-job-template", "--job-template-id", "all-fields-cli")
        self.assertEqual(rc, 0, err)
        out.pop("createdAt")
        self.assertEqual(out, {**want, "jobTemplateArn": D.arn("all-fields-cli"),
                               "jobTemplateId": "all-fields-cli"})

    def test_inline_document_is_described_as_document(self):
        c = D.client()
        doc = json.dumps(JOB_DOCUMENT, indent=1)
        self.create(c, "inline-doc", document=doc)
        got = c.describe_job_template(jobTemplateId="inline-doc")
        self.assertEqual(got["document"], doc)
        self.assertNotIn("documentSource", got)

    def test_created_at_is_a_datetime_close_to_now(self):
        c = D.client()
        before = harness.utcnow()
        self.create(c, "created-at")
        got = c.describe_job_template(jobTemplateId="created-at")["createdAt"]
        self.assertIsInstance(got, datetime.datetime)
        self.assertIsNotNone(got.tzinfo)
        self.assertLess(abs((got - before).total_seconds()), 60)
        summary = [t for t in c.list_job_templates(maxResults=250)["jobTemplates"]
                   if t["jobTemplateId"] == "created-at"][0]
        self.assertEqual(summary["createdAt"], got)


class CliFollowUrlParamTest(Case):
    """AWS CLI v1 fetches http(s):// parameter values itself unless cli_follow_urlparam = false."""

    def test_config_makes_the_cli_pass_the_url_through(self):
        # A URL on the configured --s3-endpoint is a valid documentSource, and the CLI can reach
        # it too, so the two CLI behaviours differ visibly without leaving this machine.
        MOTO.put("follow", "doc.json", {"operation": "follow"})
        MOTO.s3.put_object_acl(Bucket="follow", Key="doc.json", ACL="public-read")
        url = f"{MOTO.endpoint}/follow/doc.json"

        rc, out, err = D.cli("create-job-template", "--job-template-id", "url-through",
                             "--description", "d", "--document-source", url)
        self.assertEqual(rc, 0, err)
        rc, got, err = D.cli("describe-job-template", "--job-template-id", "url-through")
        self.assertEqual(got["documentSource"], url)

        # Without the setting the CLI downloads the object and sends its text as documentSource.
        following = WS.write_config("config-follow", follow_urlparam=True)
        rc, out, err = D.cli("create-job-template", "--job-template-id", "url-followed",
                             "--description", "d", "--document-source", url,
                             config_file=following)
        self.assertNotEqual(rc, 0)
        self.assertIn("InvalidRequestException", err)
        self.assertIn("operation", err)  # the server echoes what it got: the document's text
        self.assertIn("must be an S3 URL", err)

    def test_guide_https_url_reaches_the_server_unchanged(self):
        # The default (following) CLI would try to GET https://s3.amazonaws.com/... itself.
        rc, out, err = D.cli("create-job-template", "--job-template-id", "https-through",
                             "--description", "d", "--document-source", DOC_SOURCE)
        self.assertEqual(rc, 0, err)
        self.assertEqual(
            D.client().describe_job_template(jobTemplateId="https-through")["documentSource"],
            DOC_SOURCE)


class DocumentSourceTest(Case):
    def test_every_url_form(self):
        c = D.client()
        forms = {
            "path-global": "https://s3.amazonaws.com/{b}/{k}",
            "virtual-regional": "https://{b}.s3.us-east-1.amazonaws.com/{k}",
            "path-regional": "https://s3.us-east-1.amazonaws.com/{b}/{k}",
            "path-dash-regional": "https://s3-us-east-1.amazonaws.com/{b}/{k}",
            "s3-scheme": "s3://{b}/{k}",
        }
        for name, form in forms.items():
            with self.subTest(form=name):
                # A distinct key per form: a wrong bucket/key mapping finds no object.
                key = f"docs/{name}/job document.json"
                MOTO.put("forms-bucket", key, {"operation": name})
                url = form.format(b="forms-bucket", k=key.replace(" ", "%20"))
                self.create(c, f"src-{name}", documentSource=url)
                got = c.describe_job_template(jobTemplateId=f"src-{name}")
                self.assertEqual(got["documentSource"], url)
                self.assertNotIn("document", got)

    def test_object_changed_or_deleted_after_creation_leaves_template_alone(self):
        c = D.client()
        MOTO.put("mutable", "doc.json", {"operation": "v1"})
        url = "s3://mutable/doc.json"
        self.create(c, "fetched-once", documentSource=url)
        before = c.describe_job_template(jobTemplateId="fetched-once")
        MOTO.put("mutable", "doc.json", {"operation": "v2"})
        MOTO.delete("mutable", "doc.json")
        after = c.describe_job_template(jobTemplateId="fetched-once")
        for r in (before, after):
            r.pop("ResponseMetadata")
        self.assertEqual(before, after)
        self.assertEqual(after["documentSource"], url)

    def test_missing_object(self):
        c = D.client()
        MOTO.bucket("empty-bucket")
        with self.assertRaises(c.exceptions.InvalidRequestException) as cm:
            self.create(c, "missing-obj", documentSource="s3://empty-bucket/nope.json")
        self.assertClientError(cm.exception, "InvalidRequestException", 400,
                               ["s3://empty-bucket/nope.json", "does not exist"])
        with self.assertRaises(c.exceptions.ResourceNotFoundException):
            c.describe_job_template(jobTemplateId="missing-obj")

    def test_object_size_limit(self):
        c = D.client()

        def doc_of(size):
            d = '{"pad":"' + "x" * (size - len('{"pad":""}')) + '"}'
            assert len(d) == size
            return d

        MOTO.put("sizes", "max.json", doc_of(32768))
        MOTO.put("sizes", "over.json", doc_of(32769))
        self.create(c, "s3-max-size", documentSource="s3://sizes/max.json")
        with self.assertRaises(c.exceptions.InvalidRequestException) as cm:
            self.create(c, "s3-over-size", documentSource="s3://sizes/over.json")
        self.assertClientError(cm.exception, "InvalidRequestException", 400,
                               ["s3://sizes/over.json", "32768"])

    def test_object_that_is_not_json(self):
        c = D.client()
        MOTO.put("sizes", "bad.json", "{not json")
        with self.assertRaises(c.exceptions.InvalidRequestException) as cm:
            self.create(c, "s3-bad-json", documentSource="s3://sizes/bad.json")
        self.assertClientError(cm.exception, "InvalidRequestException", 400, "documentSource")

    def test_non_s3_urls(self):
        c = D.client()
        for url in ("https://example.com/doc.json", "ftp://s3.amazonaws.com/b/k",
                    "https://s3.amazonaws.com/bucket-only", "s3://bucket-only",
                    "http://s3.amazonaws.com/b/k", "not a url"):
            with self.subTest(url=url):
                with self.assertRaises(c.exceptions.InvalidRequestException) as cm:
                    self.create(c, "non-s3", documentSource=url)
                self.assertClientError(cm.exception, "InvalidRequestException", 400,
                                       "must be an S3 URL")


class S3FailureTest(E2ECase):
    """An unreachable or hung S3 store gives InvalidRequestException well within client timeouts."""

    def assert_fast_invalid_request(self, d, url, want):
        c = d.client(read_timeout=10)
        t0 = time.monotonic()
        with self.assertRaises(c.exceptions.InvalidRequestException) as cm:
            c.create_job_template(jobTemplateId="unreachable", description="d",
                                  documentSource=url)
        elapsed = time.monotonic() - t0
        self.assertClientError(cm.exception, "InvalidRequestException", 400, want)
        self.assertLess(elapsed, 5.0)
        return elapsed

    def test_closed_port(self):
        d = self.daemon(s3_endpoint=f"http://127.0.0.1:{harness.free_port()}",
                        args=["--s3-timeout-ms", "1000"])
        self.assert_fast_invalid_request(d, "s3://b/k.json", "unreachable")

    def test_store_that_never_answers(self):
        hung = harness.SilentListener()
        self.addCleanup(hung.close)
        d = self.daemon(s3_endpoint=hung.endpoint, args=["--s3-timeout-ms", "1000"])
        elapsed = self.assert_fast_invalid_request(d, "https://s3.amazonaws.com/b/k.json",
                                                   "did not answer within 1000 ms")
        self.assertGreaterEqual(elapsed, 0.9)
        # The server is still responsive afterwards.
        d.client().list_job_templates()

    def test_without_s3_endpoint(self):
        d = self.daemon()
        self.assert_fast_invalid_request(d, "s3://b/k.json", "--s3-endpoint")


class ValidationTest(Case):
    def setUp(self):
        self.c = D.client()
        self.raw = D.client(validate=False)  # lets out-of-model values reach the server

    def assert_invalid(self, client, template_id, field, **kw):
        with self.assertRaises(client.exceptions.InvalidRequestException) as cm:
            self.create(client, template_id, **kw)
        self.assertClientError(cm.exception, "InvalidRequestException", 400, field)
        if VALID_ID.fullmatch(template_id):  # nothing was created
            with self.assertRaises(client.exceptions.ResourceNotFoundException):
                client.describe_job_template(jobTemplateId=template_id)
        return cm.exception

    def test_id_pattern_and_length(self):
        for bad in ("bad.id", "bad id", "bäd", "a:b"):
            with self.subTest(id=bad):
                self.assert_invalid(self.c, bad, "jobTemplateId")
        self.assert_invalid(self.c, "x" * 65, "jobTemplateId")
        self.create(self.c, "y" * 64)
        self.assertEqual(self.c.describe_job_template(jobTemplateId="y" * 64)["jobTemplateId"],
                         "y" * 64)

    def test_document_sources(self):
        doc = json.dumps(JOB_DOCUMENT)
        e = self.assert_invalid(self.c, "two-sources", "exactly one", document=doc,
                                documentSource=DOC_SOURCE)
        self.assertIn("2 were given", e.response["Error"]["Message"])
        with self.assertRaises(self.c.exceptions.InvalidRequestException) as cm:
            self.c.create_job_template(jobTemplateId="no-source", description="d")
        self.assertClientError(cm.exception, "InvalidRequestException", 400, "none was given")

    def test_document_size_and_json(self):
        pad = "x" * (32768 - len('{"p":""}'))
        self.create(self.c, "doc-max", document='{"p":"' + pad + '"}')
        self.assert_invalid(self.c, "doc-over", "32768", document='{"p":"' + pad + 'x"}')
        self.assert_invalid(self.raw, "doc-not-json", "document", document="{not json")

    def test_configs_out_of_range(self):
        cases = [
            ("maximumPerMinute", {"jobExecutionsRolloutConfig": {"maximumPerMinute": 1001}}),
            ("inProgressTimeoutInMinutes",
             {"timeoutConfig": {"inProgressTimeoutInMinutes": 10081}}),
            ("inProgressTimeoutInMinutes", {"timeoutConfig": {"inProgressTimeoutInMinutes": 0}}),
            ("expiresInSec", {"presignedUrlConfig": {"roleArn": "arn:aws:iam::1:role/Download",
                                                     "expiresInSec": 59}}),
            ("expiresInSec", {"presignedUrlConfig": {"expiresInSec": 3601}}),
            ("thresholdPercentage", {"abortConfig": {"criteriaList": [
                {"failureType": "FAILED", "action": "CANCEL", "thresholdPercentage": 100.001,
                 "minNumberOfExecutedThings": 1}]}}),
            ("incrementFactor", {"jobExecutionsRolloutConfig": {"exponentialRate": {
                "baseRatePerMinute": 5, "incrementFactor": 5.1,
                "rateIncreaseCriteria": {"numberOfNotifiedThings": 5}}}}),
            ("at most 10 retries", {"jobExecutionsRetryConfig": {"criteriaList": [
                {"failureType": "FAILED", "numberOfRetries": 6},
                {"failureType": "TIMED_OUT", "numberOfRetries": 5}]}}),
            ("numberOfRetries", {"jobExecutionsRetryConfig": {"criteriaList": [
                {"failureType": "ALL", "numberOfRetries": 11}]}}),
            ("durationInMinutes", {"maintenanceWindows": [
                {"startTime": "cron(0 2 ? * SAT *)", "durationInMinutes": 1431}]}),
        ]
        for i, (field, cfg) in enumerate(cases):
            with self.subTest(field=field, cfg=cfg):
                self.assert_invalid(self.raw, f"range-{i}", field, **cfg)

    def test_botocore_checks_some_minimums_itself(self):
        # Why the tests above disable parameter validation: these never reach the server.
        with self.assertRaises(ParamValidationError):
            self.create(self.c, "client-side",
                        presignedUrlConfig={"roleArn": "arn:aws:iam::1:role/Download",
                                            "expiresInSec": 59})

    def test_rate_increase_criteria(self):
        rollout = {"exponentialRate": {"baseRatePerMinute": 50, "incrementFactor": 2,
                                       "rateIncreaseCriteria": {}}}
        self.assert_invalid(self.raw, "criteria-none", "rateIncreaseCriteria",
                            jobExecutionsRolloutConfig=rollout)
        # Both members together, as in the developer guide's example.
        rollout["exponentialRate"]["rateIncreaseCriteria"] = {"numberOfNotifiedThings": 1000,
                                                              "numberOfSucceededThings": 1000}
        self.create(self.c, "criteria-both", jobExecutionsRolloutConfig=rollout)

    def test_description_text(self):
        text = "Firmware 2.0 für Geräte – 🚀 «rollout»"
        self.create(self.c, "desc-unicode", description=text)
        self.assertEqual(self.c.describe_job_template(jobTemplateId="desc-unicode")["description"],
                         text)
        rc, out, err = D.cli("describe-job-template", "--job-template-id", "desc-unicode")
        self.assertEqual((rc, out["description"]), (0, text), err)
        self.create(self.c, "desc-max", description="d" * 2028)
        self.assert_invalid(self.raw, "desc-long", "description", description="d" * 2029)
        self.assert_invalid(self.raw, "desc-control", "description", description="bell\x07")

    def test_duplicate_is_conflict(self):
        self.create(self.c, "dup")
        with self.assertRaises(self.c.exceptions.ConflictException) as cm:
            self.create(self.c, "dup", description="other")
        self.assertClientError(cm.exception, "ConflictException", 409, "dup")
        self.assertEqual(self.c.describe_job_template(jobTemplateId="dup")["description"], "e2e")

    def test_concurrent_duplicates_one_wins(self):
        c = D.client(max_pool_connections=16)

        def create(i):
            try:
                self.create(c, "raced", description=f"writer {i}")
                return "ok"
            except c.exceptions.ConflictException:
                return "conflict"

        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(create, range(16)))
        self.assertEqual(results.count("ok"), 1, results)
        self.assertEqual(results.count("conflict"), 15, results)

    def test_unknown_is_not_found(self):
        for call in (self.c.describe_job_template, self.c.delete_job_template):
            with self.subTest(call=call.__name__):
                with self.assertRaises(self.c.exceptions.ResourceNotFoundException) as cm:
                    call(jobTemplateId="never-created")
                self.assertClientError(cm.exception, "ResourceNotFoundException", 404,
                                       "never-created")

    def test_description_may_be_absent_on_the_wire(self):
        # The model requires description, so botocore would refuse; the service accepts it.
        with self.assertRaises(ParamValidationError):
            self.c.create_job_template(jobTemplateId="no-desc", document="{}")
        self.raw.create_job_template(jobTemplateId="no-desc", document="{}")
        got = self.c.describe_job_template(jobTemplateId="no-desc")
        self.assertNotIn("description", got)
        summary = [t for t in self.c.list_job_templates(maxResults=250)["jobTemplates"]
                   if t["jobTemplateId"] == "no-desc"]
        self.assertEqual(len(summary), 1)
        self.assertNotIn("description", summary[0])


class PagingTest(E2ECase):
    """ListJobTemplates paging through the CLI and botocore's paginator, on a daemon of its own."""

    N = 30

    @classmethod
    def setUpClass(cls):
        cls.ws = WS
        cls.d = harness.Daemon(WS)
        cls.addClassCleanup(cls.d.kill)
        cls.d.start()
        c = cls.d.client()
        cls.ids = [f"page-{i:02d}-{'abcdefghij'[i % 10]}" for i in range(cls.N)]
        for i in reversed(cls.ids):  # not in sorted order
            c.create_job_template(jobTemplateId=i, description=f"template {i}", document="{}")

    def all_in_one(self):
        got = self.d.client().list_job_templates(maxResults=250)
        self.assertNotIn("nextToken", got)
        return [t["jobTemplateId"] for t in got["jobTemplates"]]

    def test_paginator_pages_of_seven(self):
        c = self.d.client()
        pages = list(c.get_paginator("list_job_templates").paginate(
            PaginationConfig={"PageSize": 7}))
        self.assertEqual([len(p["jobTemplates"]) for p in pages], [7, 7, 7, 7, 2])
        ids = [t["jobTemplateId"] for p in pages for t in p["jobTemplates"]]
        self.assertEqual(sorted(ids), sorted(self.ids))
        self.assertEqual(len(set(ids)), self.N)
        self.assertEqual(ids, self.all_in_one())  # stable order
        again = [t["jobTemplateId"] for p in c.get_paginator("list_job_templates").paginate(
            PaginationConfig={"PageSize": 7}) for t in p["jobTemplates"]]
        self.assertEqual(again, ids)

    def test_manual_next_token(self):
        c = self.d.client()
        ids, token, pages = [], None, 0
        while True:
            kw = {"maxResults": 7}
            if token:
                kw["nextToken"] = token
            page = c.list_job_templates(**kw)
            pages += 1
            self.assertLessEqual(len(page["jobTemplates"]), 7)
            ids += [t["jobTemplateId"] for t in page["jobTemplates"]]
            token = page.get("nextToken")
            if not token:
                break
        self.assertEqual(pages, 5)
        self.assertEqual(ids, self.all_in_one())

    def test_cli_page_size_and_max_items(self):
        rc, out, err = self.d.cli("list-job-templates", "--page-size", "7")
        self.assertEqual(rc, 0, err)
        everything = [t["jobTemplateId"] for t in out["jobTemplates"]]
        self.assertEqual(everything, self.all_in_one())
        self.assertNotIn("NextToken", out)

        ids, token, calls = [], None, 0
        while True:
            args = ["list-job-templates", "--page-size", "7", "--max-items", "7"]
            if token:
                args += ["--starting-token", token]
            rc, out, err = self.d.cli(*args)
            self.assertEqual(rc, 0, err)
            calls += 1
            ids += [t["jobTemplateId"] for t in out["jobTemplates"]]
            token = out.get("NextToken")
            if not token:
                break
        self.assertEqual(calls, 5)
        self.assertEqual(ids, everything)

    def test_delete_between_pages(self):
        d = harness.Daemon(WS)
        self.addCleanup(d.kill)
        c = d.start().client()
        for i in range(12):
            c.create_job_template(jobTemplateId=f"del-{i:02d}", description="d", document="{}")
        everything = [t["jobTemplateId"] for t in c.list_job_templates()["jobTemplates"]]
        first = c.list_job_templates(maxResults=5)
        seen = [t["jobTemplateId"] for t in first["jobTemplates"]]
        self.assertEqual(seen, everything[:5])
        c.delete_job_template(jobTemplateId=seen[-1])  # the item the token points after
        c.delete_job_template(jobTemplateId=everything[5])  # the next page's first item
        rest = c.list_job_templates(maxResults=250, nextToken=first["nextToken"])
        self.assertEqual([t["jobTemplateId"] for t in rest["jobTemplates"]], everything[6:])
        self.assertNotIn("nextToken", rest)

    def test_bad_max_results_and_token(self):
        raw = self.d.client(validate=False)
        for bad in (0, 251, -1):
            with self.subTest(maxResults=bad):
                with self.assertRaises(raw.exceptions.InvalidRequestException) as cm:
                    raw.list_job_templates(maxResults=bad)
                self.assertClientError(cm.exception, "InvalidRequestException", 400, "maxResults")
        for token in ("garbage", "!!!", "a" * 300):
            with self.subTest(nextToken=token):
                with self.assertRaises(raw.exceptions.InvalidRequestException) as cm:
                    raw.list_job_templates(nextToken=token)
                self.assertClientError(cm.exception, "InvalidRequestException", 400, "nextToken")
        rc, out, err = self.d.cli("list-job-templates", "--max-results", "251")
        self.assertNotEqual(rc, 0)
        self.assertIn("InvalidRequestException", err)


if __name__ == "__main__":
    unittest.main()
