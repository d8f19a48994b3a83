"""Tags on job templates through the aws CLI and boto3: TagResource, UntagResource,
ListTagsForResource, tags at creation, limits and unknown resources."""

import unittest

from harness import ACCOUNT, E2ECase


def tagset(tags):
    return {(t["Key"], t.get("Value", "")) for t in tags}


class TagsTest(E2ECase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.d = cls.start_daemon()

    def setUp(self):
        self.c = self.d.client()

    def new_template(self, template_id, tags=None):
        kw = {"tags": tags} if tags is not None else {}
        return self.c.create_job_template(jobTemplateId=template_id, description="tags",
                                          document="{}", **kw)["jobTemplateArn"]

    def cli_tags(self, arn):
        rc, out, err = self.d.cli("list-tags-for-resource", "--resource-arn", arn)
        self.assertEqual(rc, 0, err)
        return tagset(out["tags"])

    def test_cli_create_tag_untag_list(self):
        rc, out, err = self.d.cli("create-job-template", "--job-template-id", "tagged-cli",
                                  "--description", "d", "--document", "{}",
                                  "--tags", "Key=env,Value=prod", "Key=team,Value=firmware")
        self.assertEqual(rc, 0, err)
        arn = out["jobTemplateArn"]
        self.assertEqual(self.cli_tags(arn), {("env", "prod"), ("team", "firmware")})

        rc, out, err = self.d.cli("tag-resource", "--resource-arn", arn, "--tags",
                                  "Key=env,Value=staging", "Key=owner,Value=")
        self.assertEqual((rc, out), (0, None), err)
        self.assertEqual(self.cli_tags(arn),
                         {("env", "staging"), ("team", "firmware"), ("owner", "")})

        rc, out, err = self.d.cli("untag-resource", "--resource-arn", arn,
                                  "--tag-keys", "team", "not-there")
        self.assertEqual((rc, out), (0, None), err)
        self.assertEqual(self.cli_tags(arn), {("env", "staging"), ("owner", "")})

        # boto3 sees the same.
        got = self.c.list_tags_for_resource(resourceArn=arn)
        self.assertEqual(tagset(got["tags"]), {("env", "staging"), ("owner", "")})
        self.assertNotIn("nextToken", got)

    def test_boto3_tag_untag_list(self):
        arn = self.new_template("tagged-boto3", tags=[{"Key": "a", "Value": "1"}])
        self.assertEqual(arn, self.d.arn("tagged-boto3"))
        self.c.tag_resource(resourceArn=arn, tags=[{"Key": "b", "Value": "2"},
                                                   {"Key": "a", "Value": "one"},
                                                   {"Key": "ünïcode:key/x=y+z@w", "Value": "v"}])
        self.assertEqual(tagset(self.c.list_tags_for_resource(resourceArn=arn)["tags"]),
                         {("a", "one"), ("b", "2"), ("ünïcode:key/x=y+z@w", "v")})
        self.c.untag_resource(resourceArn=arn, tagKeys=["a", "ünïcode:key/x=y+z@w"])
        self.assertEqual(tagset(self.c.list_tags_for_resource(resourceArn=arn)["tags"]),
                         {("b", "2")})
        # Tags are not part of DescribeJobTemplate's output.
        self.assertNotIn("tags", self.c.describe_job_template(jobTemplateId="tagged-boto3"))

    def test_unknown_resource(self):
        unknown = self.d.arn("no-such-template")
        calls = [
            lambda: self.c.tag_resource(resourceArn=unknown, tags=[{"Key": "k", "Value": "v"}]),
            lambda: self.c.untag_resource(resourceArn=unknown, tagKeys=["k"]),
            lambda: self.c.list_tags_for_resource(resourceArn=unknown),
            # Another account's template.
            lambda: self.c.list_tags_for_resource(
                resourceArn="arn:aws:iot:us-east-1:999999999999:jobtemplate/x"),
        ]
        for i, call in enumerate(calls):
            with self.subTest(call=i):
                with self.assertRaises(self.c.exceptions.ResourceNotFoundException) as cm:
                    call()
                self.assertClientError(cm.exception, "ResourceNotFoundException", 404)
        rc, out, err = self.d.cli("tag-resource", "--resource-arn", unknown,
                                  "--tags", "Key=k,Value=v")
        self.assertNotEqual(rc, 0)
        self.assertIn("ResourceNotFoundException", err)

    def test_not_an_arn(self):
        with self.assertRaises(self.c.exceptions.InvalidRequestException):
            self.c.list_tags_for_resource(resourceArn="template-without-arn")

    def test_tag_limits(self):
        arn = self.new_template("tag-limits")
        many = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
        with self.assertRaises(self.c.exceptions.InvalidRequestException) as cm:
            self.c.tag_resource(resourceArn=arn, tags=many)
        self.assertClientError(cm.exception, "InvalidRequestException", 400, "50")
        with self.assertRaises(self.c.exceptions.InvalidRequestException):
            self.c.create_job_template(jobTemplateId="too-many-tags", description="d",
                                       document="{}", tags=many)

        # 40 present + 11 new = 51: over the per-resource limit.
        self.c.tag_resource(resourceArn=arn, tags=many[:40])
        with self.assertRaises(self.c.exceptions.LimitExceededException) as cm:
            self.c.tag_resource(resourceArn=arn, tags=many[40:51])
        self.assertClientError(cm.exception, "LimitExceededException", 410)
        self.assertEqual(len(self.c.list_tags_for_resource(resourceArn=arn)["tags"]), 40)
        # Overwriting existing keys does not count twice: exactly 50 fits.
        self.c.tag_resource(resourceArn=arn, tags=many[:10] + many[40:50])
        self.assertEqual(len(self.c.list_tags_for_resource(resourceArn=arn)["tags"]), 50)

    def test_bad_tag_keys(self):
        arn = self.new_template("bad-tag-keys")
        raw = self.d.client(validate=False)
        for key in ("aws:reserved", "bad#char", "x" * 129, ""):
            with self.subTest(key=key):
                with self.assertRaises(raw.exceptions.InvalidRequestException):
                    raw.tag_resource(resourceArn=arn, tags=[{"Key": key, "Value": "v"}])
        with self.assertRaises(raw.exceptions.InvalidRequestException):
            raw.tag_resource(resourceArn=arn, tags=[{"Key": "long", "Value": "v" * 257}])
        self.assertEqual(self.c.list_tags_for_resource(resourceArn=arn)["tags"], [])

    def test_delete_drops_tags(self):
        arn = self.new_template("recreated", tags=[{"Key": "old", "Value": "1"}])
        self.c.delete_job_template(jobTemplateId="recreated")
        with self.assertRaises(self.c.exceptions.ResourceNotFoundException):
            self.c.list_tags_for_resource(resourceArn=arn)
        self.assertEqual(self.new_template("recreated"), arn)
        self.assertEqual(self.c.list_tags_for_resource(resourceArn=arn)["tags"], [])

    def test_region_is_part_of_the_arn(self):
        arn = self.new_template("tag-region", tags=[{"Key": "r", "Value": "use1"}])
        eu = self.d.client(region="eu-west-1")
        eu_arn = arn.replace("us-east-1", "eu-west-1")
        with self.assertRaises(eu.exceptions.ResourceNotFoundException):
            eu.list_tags_for_resource(resourceArn=eu_arn)
        self.assertTrue(arn.startswith(f"arn:aws:iot:us-east-1:{ACCOUNT}:jobtemplate/"))


if __name__ == "__main__":
    unittest.main()
