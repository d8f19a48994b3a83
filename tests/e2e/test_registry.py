"""The registry through boto3: things, thing groups (hierarchy, depth, listing semantics),
memberships by name and by ARN, tags on thing groups, and every error as its boto3 exception class.

Each test class runs its own iotjobsd, so listings see only what the class created."""

import datetime
import unittest

from botocore.exceptions import ClientError

import harness
from harness import ACCOUNT, E2ECase

THING_ARN = f"arn:aws:iot:us-east-1:{ACCOUNT}:thing/{{}}"
GROUP_ARN = f"arn:aws:iot:us-east-1:{ACCOUNT}:thinggroup/{{}}"


def names(groups):
    return [g["groupName"] for g in groups]


def list_all(call, key, **kw):
    """Follows nextToken with maxResults=2; returns every item in order (pages of at most 2)."""
    items, token, pages = [], None, 0
    while True:
        args = dict(kw, maxResults=2)
        if token:
            args["nextToken"] = token
        page = call(**args)
        pages += 1
        assert len(page[key]) <= 2, page
        items += page[key]
        token = page.get("nextToken")
        if not token:
            return items, pages
        assert pages < 200, "paging does not end"


class RegistryCase(E2ECase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.d = cls.start_daemon()
        cls.c = cls.d.client()
        cls.raw = cls.d.client(validate=False)  # lets invalid input reach the server

    def assertRaisesModeled(self, name, call, status=None, contains=None):
        """Runs call(); asserts it raised the modeled boto3 exception class `name` (not a bare
        ClientError) with that code, HTTP status and message parts; returns the exception."""
        with self.assertRaises(ClientError) as cm:
            call()
        exc = cm.exception
        self.assertEqual(type(exc).__name__, name, exc.response)
        self.assertClientError(exc, name, status, contains)
        self.assertTrue(exc.response["Error"]["Message"], exc.response)
        return exc

    def assertRecent(self, when, slack_s=120):
        self.assertIsInstance(when, datetime.datetime)
        self.assertLess(abs((when - harness.utcnow()).total_seconds()), slack_s)

    def group(self, name, parent=None, **kw):
        if parent:
            kw["parentGroupName"] = parent
        return self.c.create_thing_group(thingGroupName=name, **kw)

    def things(self, *thing_names):
        for n in thing_names:
            self.c.create_thing(thingName=n)


class ThingsTest(RegistryCase):
    def test_create_describe_update_delete(self):
        out = self.c.create_thing(thingName="dev-1",
                                  attributePayload={"attributes": {"model": "m1", "rev": "7"}})
        self.assertEqual(out["thingName"], "dev-1")
        self.assertEqual(out["thingArn"], THING_ARN.format("dev-1"))
        self.assertTrue(out["thingId"])

        got = self.c.describe_thing(thingName="dev-1")
        self.assertEqual(got["thingName"], "dev-1")
        self.assertEqual(got["thingId"], out["thingId"])
        self.assertEqual(got["thingArn"], out["thingArn"])
        self.assertEqual(got["defaultClientId"], "dev-1")
        self.assertEqual(got["attributes"], {"model": "m1", "rev": "7"})
        self.assertEqual(got["version"], 1)
        self.assertNotIn("thingTypeName", got)

        # merge: an empty value removes the attribute, others are set or kept.
        self.c.update_thing(thingName="dev-1", attributePayload={
            "attributes": {"rev": "", "site": "lab"}, "merge": True})
        got = self.c.describe_thing(thingName="dev-1")
        self.assertEqual(got["attributes"], {"model": "m1", "site": "lab"})
        self.assertEqual(got["version"], 2)

        # Without merge the attributes are replaced; expectedVersion pins the version.
        self.c.update_thing(thingName="dev-1", expectedVersion=2,
                            attributePayload={"attributes": {"only": "this"}})
        got = self.c.describe_thing(thingName="dev-1")
        self.assertEqual((got["attributes"], got["version"]), ({"only": "this"}, 3))

        with self.assertRaises(self.c.exceptions.VersionConflictException) as cm:
            self.c.update_thing(thingName="dev-1", expectedVersion=2,
                                attributePayload={"attributes": {"x": "y"}})
        self.assertClientError(cm.exception, "VersionConflictException", 409, "version 3")
        self.assertEqual(self.c.describe_thing(thingName="dev-1")["version"], 3)

        # Thing type: set, then removed.
        self.c.update_thing(thingName="dev-1", thingTypeName="sensor")
        self.assertEqual(self.c.describe_thing(thingName="dev-1")["thingTypeName"], "sensor")
        self.c.update_thing(thingName="dev-1", removeThingType=True)
        got = self.c.describe_thing(thingName="dev-1")
        self.assertNotIn("thingTypeName", got)
        self.assertEqual(got["version"], 5)

        with self.assertRaises(self.c.exceptions.VersionConflictException) as cm:
            self.c.delete_thing(thingName="dev-1", expectedVersion=4)
        self.assertClientError(cm.exception, "VersionConflictException", 409)
        self.c.delete_thing(thingName="dev-1", expectedVersion=5)
        with self.assertRaises(self.c.exceptions.ResourceNotFoundException) as cm:
            self.c.describe_thing(thingName="dev-1")
        self.assertClientError(cm.exception, "ResourceNotFoundException", 404, "dev-1")

    def test_create_thing_is_idempotent_for_the_same_configuration(self):
        attrs = {"attributes": {"a": "1"}}
        first = self.c.create_thing(thingName="idem", thingTypeName="t",
                                    attributePayload=attrs)
        again = self.c.create_thing(thingName="idem", thingTypeName="t",
                                    attributePayload=attrs)
        self.assertEqual(again["thingId"], first["thingId"])
        self.assertEqual(again["thingArn"], first["thingArn"])
        self.assertEqual(self.c.describe_thing(thingName="idem")["version"], 1)

        for different in ({"attributePayload": {"attributes": {"a": "2"}}, "thingTypeName": "t"},
                          {"attributePayload": attrs},
                          {"attributePayload": attrs, "thingTypeName": "other"}):
            with self.subTest(different=different):
                with self.assertRaises(self.c.exceptions.ResourceAlreadyExistsException) as cm:
                    self.c.create_thing(thingName="idem", **different)
                self.assertClientError(cm.exception, "ResourceAlreadyExistsException", 409,
                                       "idem")
        self.assertEqual(self.c.describe_thing(thingName="idem")["attributes"], {"a": "1"})

    def test_delete_of_a_missing_thing_succeeds(self):
        out = self.c.delete_thing(thingName="never-created")
        self.assertEqual(out["ResponseMetadata"]["HTTPStatusCode"], 200)
        self.c.create_thing(thingName="gone-twice")
        self.c.delete_thing(thingName="gone-twice")
        self.c.delete_thing(thingName="gone-twice")

    def test_validation_errors(self):
        cases = [
            ("bad name", lambda: self.raw.create_thing(thingName="bad name")),
            ("4 attributes without a type", lambda: self.c.create_thing(
                thingName="many", attributePayload={"attributes": {
                    "a": "1", "b": "2", "c": "3", "d": "4"}})),
            ("attribute value", lambda: self.c.create_thing(
                thingName="badval", attributePayload={"attributes": {"a": "sp ace"}})),
            ("type and removeThingType", lambda: self.c.update_thing(
                thingName="x", thingTypeName="t", removeThingType=True)),
            ("maxResults 251", lambda: self.raw.list_things(maxResults=251)),
            ("bad nextToken", lambda: self.c.list_things(nextToken="not-a-token")),
            ("attributeValue alone", lambda: self.c.list_things(attributeValue="v")),
        ]
        for what, call in cases:
            with self.subTest(what):
                self.assertRaisesModeled("InvalidRequestException", call, 400)
        # With a thing type, up to 50 attributes are fine.
        attrs = {f"k{i}": str(i) for i in range(50)}
        self.c.create_thing(thingName="typed-many", thingTypeName="big",
                            attributePayload={"attributes": attrs})
        self.assertEqual(self.c.describe_thing(thingName="typed-many")["attributes"], attrs)

    def test_update_of_a_missing_thing_is_not_found(self):
        with self.assertRaises(self.c.exceptions.ResourceNotFoundException) as cm:
            self.c.update_thing(thingName="nobody", attributePayload={"attributes": {"a": "b"}})
        self.assertClientError(cm.exception, "ResourceNotFoundException", 404)


class ListThingsTest(RegistryCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = cls.c
        c.create_thing(thingName="lt-a", attributePayload={"attributes": {"site": "lab1"}})
        c.create_thing(thingName="lt-b", attributePayload={"attributes": {"site": "lab2"}})
        c.create_thing(thingName="lt-c", attributePayload={"attributes": {"site": "field"}})
        c.create_thing(thingName="lt-d", thingTypeName="cam",
                       attributePayload={"attributes": {"site": "lab1", "fw": "2"}})
        c.create_thing(thingName="lt-e", thingTypeName="cam")

    def listed(self, **kw):
        items, _ = list_all(self.c.list_things, "things", **kw)
        return sorted(t["thingName"] for t in items)

    def test_all_things_paged_exactly_once(self):
        items, pages = list_all(self.c.list_things, "things")
        got = [t["thingName"] for t in items]
        self.assertEqual(sorted(got), ["lt-a", "lt-b", "lt-c", "lt-d", "lt-e"])
        self.assertEqual(len(got), len(set(got)))
        self.assertEqual(pages, 3)
        d = next(t for t in items if t["thingName"] == "lt-d")
        self.assertEqual(d, {"thingName": "lt-d", "thingArn": THING_ARN.format("lt-d"),
                             "thingTypeName": "cam", "attributes": {"site": "lab1", "fw": "2"},
                             "version": 1})

    def test_attribute_filters(self):
        self.assertEqual(self.listed(attributeName="site", attributeValue="lab1"),
                         ["lt-a", "lt-d"])
        self.assertEqual(self.listed(attributeName="site", attributeValue="lab",
                                     usePrefixAttributeValue=True), ["lt-a", "lt-b", "lt-d"])
        self.assertEqual(self.listed(attributeName="site", attributeValue="lab"), [])
        self.assertEqual(self.listed(attributeName="fw"), ["lt-d"])

    def test_thing_type_filter(self):
        self.assertEqual(self.listed(thingTypeName="cam"), ["lt-d", "lt-e"])
        self.assertEqual(self.listed(thingTypeName="cam", attributeName="site",
                                     attributeValue="lab1"), ["lt-d"])
        self.assertEqual(self.listed(thingTypeName="none-such"), [])


class ThingGroupsTest(RegistryCase):
    def test_create_describe_update_delete(self):
        out = self.group("tg-plain", thingGroupProperties={
            "thingGroupDescription": "lab devices",
            "attributePayload": {"attributes": {"floor": "3"}}})
        self.assertEqual(out["thingGroupName"], "tg-plain")
        self.assertEqual(out["thingGroupArn"], GROUP_ARN.format("tg-plain"))
        gid = out["thingGroupId"]
        self.assertRegex(gid, r"^[a-zA-Z0-9\-]{1,128}$")

        got = self.c.describe_thing_group(thingGroupName="tg-plain")
        self.assertEqual(got["thingGroupName"], "tg-plain")
        self.assertEqual(got["thingGroupId"], gid)
        self.assertEqual(got["thingGroupArn"], GROUP_ARN.format("tg-plain"))
        self.assertEqual(got["version"], 1)
        self.assertEqual(got["thingGroupProperties"], {
            "thingGroupDescription": "lab devices",
            "attributePayload": {"attributes": {"floor": "3"}}})
        self.assertRecent(got["thingGroupMetadata"]["creationDate"])
        self.assertNotIn("parentGroupName", got["thingGroupMetadata"])

        up = self.c.update_thing_group(thingGroupName="tg-plain", thingGroupProperties={
            "thingGroupDescription": "moved", "attributePayload": {
                "attributes": {"floor": "4", "wing": "b"}}})
        self.assertEqual(up["version"], 2)
        got = self.c.describe_thing_group(thingGroupName="tg-plain")
        self.assertEqual(got["thingGroupProperties"]["thingGroupDescription"], "moved")
        self.assertEqual(got["thingGroupProperties"]["attributePayload"]["attributes"],
                         {"floor": "4", "wing": "b"})
        up = self.c.update_thing_group(thingGroupName="tg-plain", expectedVersion=2,
                                       thingGroupProperties={"attributePayload": {
                                           "attributes": {"wing": ""}, "merge": True}})
        self.assertEqual(up["version"], 3)
        self.assertEqual(self.c.describe_thing_group(thingGroupName="tg-plain")[
            "thingGroupProperties"]["attributePayload"]["attributes"], {"floor": "4"})

        with self.assertRaises(self.c.exceptions.VersionConflictException) as cm:
            self.c.update_thing_group(thingGroupName="tg-plain", expectedVersion=1,
                                      thingGroupProperties={"thingGroupDescription": "x"})
        self.assertClientError(cm.exception, "VersionConflictException", 409)
        with self.assertRaises(self.c.exceptions.VersionConflictException) as cm:
            self.c.delete_thing_group(thingGroupName="tg-plain", expectedVersion=2)
        self.assertClientError(cm.exception, "VersionConflictException", 409)

        self.c.delete_thing_group(thingGroupName="tg-plain", expectedVersion=3)
        with self.assertRaises(self.c.exceptions.ResourceNotFoundException) as cm:
            self.c.describe_thing_group(thingGroupName="tg-plain")
        self.assertClientError(cm.exception, "ResourceNotFoundException", 404, "tg-plain")
        with self.assertRaises(self.c.exceptions.ResourceNotFoundException):
            self.c.update_thing_group(thingGroupName="tg-plain",
                                      thingGroupProperties={"thingGroupDescription": "x"})
        # Deleting a group that is gone succeeds (DeleteThingGroup has no ResourceNotFound).
        self.c.delete_thing_group(thingGroupName="tg-plain")

    def test_create_thing_group_is_idempotent(self):
        props = {"thingGroupDescription": "same", "attributePayload": {"attributes": {"a": "b"}}}
        first = self.group("tg-idem", thingGroupProperties=props)
        again = self.group("tg-idem", thingGroupProperties=props)
        self.assertEqual(again["thingGroupId"], first["thingGroupId"])
        self.assertEqual(again["thingGroupArn"], first["thingGroupArn"])
        with self.assertRaises(self.c.exceptions.ResourceAlreadyExistsException) as cm:
            self.group("tg-idem", thingGroupProperties={"thingGroupDescription": "other"})
        self.assertClientError(cm.exception, "ResourceAlreadyExistsException", 409, "tg-idem")
        self.group("tg-idem-parent")
        with self.assertRaises(self.c.exceptions.ResourceAlreadyExistsException):
            self.group("tg-idem", parent="tg-idem-parent", thingGroupProperties=props)

    def test_child_groups_and_delete_with_children(self):
        self.group("tg-root")
        child = self.group("tg-child", parent="tg-root")
        self.group("tg-grandchild", parent="tg-child")
        got = self.c.describe_thing_group(thingGroupName="tg-grandchild")
        self.assertEqual(got["thingGroupMetadata"]["parentGroupName"], "tg-child")
        self.assertEqual(got["thingGroupMetadata"]["rootToParentThingGroups"], [
            {"groupName": "tg-root", "groupArn": GROUP_ARN.format("tg-root")},
            {"groupName": "tg-child", "groupArn": GROUP_ARN.format("tg-child")}])

        with self.assertRaises(self.c.exceptions.InvalidRequestException) as cm:
            self.c.delete_thing_group(thingGroupName="tg-root")
        self.assertClientError(cm.exception, "InvalidRequestException", 400, "child groups")
        with self.assertRaises(self.c.exceptions.InvalidRequestException):
            self.c.delete_thing_group(thingGroupName="tg-child")
        self.assertEqual(self.c.describe_thing_group(thingGroupName="tg-child")["thingGroupId"],
                         child["thingGroupId"])

        # A group that still holds things can be deleted; the things stay, minus the membership.
        self.things("tg-member")
        self.c.add_thing_to_thing_group(thingGroupName="tg-grandchild", thingName="tg-member")
        self.c.delete_thing_group(thingGroupName="tg-grandchild")
        self.assertEqual(self.c.list_thing_groups_for_thing(thingName="tg-member")["thingGroups"],
                         [])
        self.c.delete_thing_group(thingGroupName="tg-child")
        self.c.delete_thing_group(thingGroupName="tg-root")
        self.assertEqual(self.c.describe_thing(thingName="tg-member")["thingName"], "tg-member")

    def test_missing_parent_is_rejected(self):
        with self.assertRaises(self.c.exceptions.InvalidRequestException) as cm:
            self.group("tg-orphan", parent="tg-no-such-parent")
        self.assertClientError(cm.exception, "InvalidRequestException", 400,
                               "tg-no-such-parent")
        with self.assertRaises(self.c.exceptions.ResourceNotFoundException):
            self.c.describe_thing_group(thingGroupName="tg-orphan")

    def test_hierarchy_depth_is_at_most_7(self):
        parent = None
        for level in range(1, 8):
            self.group(f"depth-{level}", parent=parent)
            parent = f"depth-{level}"
        chain = self.c.describe_thing_group(thingGroupName="depth-7")["thingGroupMetadata"][
            "rootToParentThingGroups"]
        self.assertEqual(names(chain), [f"depth-{i}" for i in range(1, 7)])
        with self.assertRaises(self.c.exceptions.InvalidRequestException) as cm:
            self.group("depth-8", parent="depth-7")
        self.assertClientError(cm.exception, "InvalidRequestException", 400, "depth")
        with self.assertRaises(self.c.exceptions.ResourceNotFoundException):
            self.c.describe_thing_group(thingGroupName="depth-8")

    def test_validation_errors(self):
        cases = [
            ("bad name", lambda: self.raw.create_thing_group(thingGroupName="a/b")),
            ("description control char", lambda: self.group(
                "tg-bad-desc", thingGroupProperties={"thingGroupDescription": "a\u0001b"})),
            ("update without properties", lambda: self.raw.update_thing_group(
                thingGroupName="x")),
            ("maxResults 0", lambda: self.raw.list_thing_groups(maxResults=0)),
            ("bad prefix", lambda: self.raw.list_thing_groups(namePrefixFilter="a b")),
        ]
        for what, call in cases:
            with self.subTest(what):
                self.assertRaisesModeled("InvalidRequestException", call, 400)


class ListThingGroupsTest(RegistryCase):
    """Tree:  fleet ─┬─ fleet-eu ─── fleet-eu-west
                      └─ fleet-us
              lab (root)"""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = cls.c
        for name, parent in (("fleet", None), ("fleet-eu", "fleet"), ("fleet-us", "fleet"),
                             ("fleet-eu-west", "fleet-eu"), ("lab", None)):
            kw = {"parentGroupName": parent} if parent else {}
            c.create_thing_group(thingGroupName=name, **kw)

    def listed(self, **kw):
        items, _ = list_all(self.c.list_thing_groups, "thingGroups", **kw)
        for g in items:
            self.assertEqual(g["groupArn"], GROUP_ARN.format(g["groupName"]))
        return sorted(names(items))

    def test_no_filter_lists_every_group_paged_exactly_once(self):
        items, pages = list_all(self.c.list_thing_groups, "thingGroups")
        got = names(items)
        self.assertEqual(len(got), len(set(got)))
        self.assertEqual(sorted(got),
                         ["fleet", "fleet-eu", "fleet-eu-west", "fleet-us", "lab"])
        self.assertEqual(pages, 3)

    def test_parent_group(self):
        self.assertEqual(self.listed(parentGroup="fleet", recursive=False),
                         ["fleet-eu", "fleet-us"])
        self.assertEqual(self.listed(parentGroup="fleet", recursive=True),
                         ["fleet-eu", "fleet-eu-west", "fleet-us"])
        self.assertEqual(self.listed(parentGroup="fleet-eu", recursive=True), ["fleet-eu-west"])
        self.assertEqual(self.listed(parentGroup="fleet-eu-west", recursive=True), [])
        self.assertEqual(self.listed(parentGroup="lab", recursive=False), [])

    def test_not_recursive_without_parent_lists_root_groups(self):
        self.assertEqual(self.listed(recursive=False), ["fleet", "lab"])

    def test_name_prefix(self):
        self.assertEqual(self.listed(namePrefixFilter="fleet-e"), ["fleet-eu", "fleet-eu-west"])
        self.assertEqual(self.listed(namePrefixFilter="l"), ["lab"])
        self.assertEqual(self.listed(namePrefixFilter="fleet-u", parentGroup="fleet",
                                     recursive=True), ["fleet-us"])
        self.assertEqual(self.listed(namePrefixFilter="fleet", recursive=False), ["fleet"])
        self.assertEqual(self.listed(namePrefixFilter="zzz"), [])

    def test_unknown_parent_is_not_found(self):
        with self.assertRaises(self.c.exceptions.ResourceNotFoundException) as cm:
            self.c.list_thing_groups(parentGroup="no-such-group")
        self.assertClientError(cm.exception, "ResourceNotFoundException", 404)


class MembershipTest(RegistryCase):
    def test_add_remove_by_name_and_by_arn(self):
        self.group("m-grp")
        self.things("m-t1", "m-t2")
        self.c.add_thing_to_thing_group(thingGroupName="m-grp", thingName="m-t1")
        self.c.add_thing_to_thing_group(thingGroupArn=GROUP_ARN.format("m-grp"),
                                        thingArn=THING_ARN.format("m-t2"))
        # Adding again is a no-op.
        self.c.add_thing_to_thing_group(thingGroupName="m-grp", thingArn=THING_ARN.format("m-t1"))
        got = self.c.list_things_in_thing_group(thingGroupName="m-grp")
        self.assertEqual(sorted(got["things"]), ["m-t1", "m-t2"])
        self.assertNotIn("nextToken", got)
        self.assertEqual(self.c.list_thing_groups_for_thing(thingName="m-t2")["thingGroups"],
                         [{"groupName": "m-grp", "groupArn": GROUP_ARN.format("m-grp")}])

        self.c.remove_thing_from_thing_group(thingGroupArn=GROUP_ARN.format("m-grp"),
                                             thingName="m-t1")
        self.c.remove_thing_from_thing_group(thingGroupName="m-grp",
                                             thingArn=THING_ARN.format("m-t2"))
        self.assertEqual(self.c.list_things_in_thing_group(thingGroupName="m-grp")["things"], [])
        self.assertEqual(self.c.list_thing_groups_for_thing(thingName="m-t1")["thingGroups"], [])
        # Removing a thing that is not a member succeeds.
        self.c.remove_thing_from_thing_group(thingGroupName="m-grp", thingName="m-t1")

    def test_membership_errors(self):
        self.group("me-grp")
        self.things("me-t")
        not_found = [
            ("missing group", lambda: self.c.add_thing_to_thing_group(
                thingGroupName="me-none", thingName="me-t")),
            ("missing thing", lambda: self.c.add_thing_to_thing_group(
                thingGroupName="me-grp", thingName="me-none")),
            ("remove from missing group", lambda: self.c.remove_thing_from_thing_group(
                thingGroupName="me-none", thingName="me-t")),
            ("things in missing group", lambda: self.c.list_things_in_thing_group(
                thingGroupName="me-none")),
            ("groups of missing thing", lambda: self.c.list_thing_groups_for_thing(
                thingName="me-none")),
        ]
        for what, call in not_found:
            with self.subTest(what):
                self.assertRaisesModeled("ResourceNotFoundException", call, 404)
        invalid = [
            ("neither name nor ARN", lambda: self.c.add_thing_to_thing_group(thingName="me-t")),
            ("no thing", lambda: self.c.add_thing_to_thing_group(thingGroupName="me-grp")),
            ("name and ARN disagree", lambda: self.c.add_thing_to_thing_group(
                thingGroupName="me-grp", thingGroupArn=GROUP_ARN.format("other"),
                thingName="me-t")),
            ("thing ARN as group ARN", lambda: self.c.add_thing_to_thing_group(
                thingGroupArn=THING_ARN.format("me-t"), thingName="me-t")),
            ("other account", lambda: self.c.add_thing_to_thing_group(
                thingGroupArn="arn:aws:iot:us-east-1:999999999999:thinggroup/me-grp",
                thingName="me-t")),
        ]
        for what, call in invalid:
            with self.subTest(what):
                self.assertRaisesModeled("InvalidRequestException", call, 400)
        self.assertEqual(self.c.list_thing_groups_for_thing(thingName="me-t")["thingGroups"], [])

    def test_a_thing_cannot_be_in_two_groups_of_one_hierarchy(self):
        self.group("h-root")
        self.group("h-a", parent="h-root")
        self.group("h-b", parent="h-root")
        self.group("h-a1", parent="h-a")
        self.group("h-other")
        self.things("h-t")
        self.c.add_thing_to_thing_group(thingGroupName="h-a1", thingName="h-t")
        for g in ("h-root", "h-a", "h-b"):
            with self.subTest(group=g):
                with self.assertRaises(self.c.exceptions.InvalidRequestException) as cm:
                    self.c.add_thing_to_thing_group(thingGroupName=g, thingName="h-t")
                self.assertClientError(cm.exception, "InvalidRequestException", 400,
                                       "same hierarchy")
        self.c.add_thing_to_thing_group(thingGroupName="h-other", thingName="h-t")
        self.assertEqual(
            names(self.c.list_thing_groups_for_thing(thingName="h-t")["thingGroups"]),
            ["h-a1", "h-other"])
        # Once out of h-a1, the thing may join another group of that hierarchy.
        self.c.remove_thing_from_thing_group(thingGroupName="h-a1", thingName="h-t")
        self.c.add_thing_to_thing_group(thingGroupName="h-b", thingName="h-t")

    def test_a_thing_is_in_at_most_10_groups(self):
        self.things("ten-t")
        for i in range(11):
            self.group(f"ten-{i:02d}")
        for i in range(10):
            self.c.add_thing_to_thing_group(thingGroupName=f"ten-{i:02d}", thingName="ten-t")
        with self.assertRaises(self.c.exceptions.InvalidRequestException) as cm:
            self.c.add_thing_to_thing_group(thingGroupName="ten-10", thingName="ten-t")
        self.assertClientError(cm.exception, "InvalidRequestException", 400, "10")
        items, pages = list_all(self.c.list_thing_groups_for_thing, "thingGroups",
                                thingName="ten-t")
        self.assertEqual(names(items), [f"ten-{i:02d}" for i in range(10)])
        self.assertEqual(pages, 5)
        self.assertEqual(self.c.list_things_in_thing_group(thingGroupName="ten-10")["things"],
                         [])

    def test_list_things_in_thing_group_recursive(self):
        # r ─┬─ r-a ── r-a-x      r: r1; r-a: a1, a2; r-a-x: x1, x2, x3; r-b: b1
        #    └─ r-b
        self.group("r")
        self.group("r-a", parent="r")
        self.group("r-b", parent="r")
        self.group("r-a-x", parent="r-a")
        placement = {"r": ["r1"], "r-a": ["a1", "a2"], "r-a-x": ["x1", "x2", "x3"],
                     "r-b": ["b1"]}
        for group, members in placement.items():
            for t in members:
                self.c.create_thing(thingName=t)
                self.c.add_thing_to_thing_group(thingGroupName=group, thingName=t)

        def things(group, recursive):
            items, _ = list_all(self.c.list_things_in_thing_group, "things",
                                thingGroupName=group, recursive=recursive)
            self.assertEqual(len(items), len(set(items)), items)  # each thing exactly once
            return sorted(items)

        self.assertEqual(things("r", False), ["r1"])
        self.assertEqual(things("r", True), ["a1", "a2", "b1", "r1", "x1", "x2", "x3"])
        self.assertEqual(things("r-a", True), ["a1", "a2", "x1", "x2", "x3"])
        self.assertEqual(things("r-a", False), ["a1", "a2"])
        self.assertEqual(things("r-a-x", True), ["x1", "x2", "x3"])
        self.assertEqual(self.c.list_things_in_thing_group(thingGroupName="r")["things"],
                         ["r1"])  # recursive defaults to false

    def test_deleting_a_thing_drops_its_memberships(self):
        self.group("del-grp")
        self.things("del-t")
        self.c.add_thing_to_thing_group(thingGroupName="del-grp", thingName="del-t")
        self.c.delete_thing(thingName="del-t")
        self.assertEqual(self.c.list_things_in_thing_group(thingGroupName="del-grp")["things"],
                         [])
        self.c.create_thing(thingName="del-t")  # a new thing of the same name starts clean
        self.assertEqual(self.c.list_thing_groups_for_thing(thingName="del-t")["thingGroups"], [])


class ThingGroupTagsTest(RegistryCase):
    def tags(self, arn):
        got = self.c.list_tags_for_resource(resourceArn=arn)
        return {t["Key"]: t.get("Value", "") for t in got["tags"]}

    def test_tags_at_creation_tag_untag_and_deletion(self):
        arn = self.group("tagged", tags=[{"Key": "env", "Value": "prod"},
                                         {"Key": "team", "Value": "fw"}])["thingGroupArn"]
        self.assertEqual(self.tags(arn), {"env": "prod", "team": "fw"})
        self.c.tag_resource(resourceArn=arn, tags=[{"Key": "env", "Value": "dev"},
                                                   {"Key": "cost", "Value": ""}])
        self.assertEqual(self.tags(arn), {"env": "dev", "team": "fw", "cost": ""})
        self.c.untag_resource(resourceArn=arn, tagKeys=["team", "absent"])
        self.assertEqual(self.tags(arn), {"env": "dev", "cost": ""})

        self.c.delete_thing_group(thingGroupName="tagged")
        with self.assertRaises(self.c.exceptions.ResourceNotFoundException):
            self.c.list_tags_for_resource(resourceArn=arn)
        # A new group of the same name does not inherit the old tags.
        arn = self.group("tagged")["thingGroupArn"]
        self.assertEqual(self.tags(arn), {})

    def test_tag_errors(self):
        with self.assertRaises(self.c.exceptions.ResourceNotFoundException):
            self.c.tag_resource(resourceArn=GROUP_ARN.format("nope"),
                                tags=[{"Key": "a", "Value": "b"}])
        self.assertRaisesModeled("InvalidRequestException", lambda: self.raw.create_thing_group(
            thingGroupName="bad-tags", tags=[{"Key": "", "Value": "b"}]), 400)
        with self.assertRaises(self.c.exceptions.ResourceNotFoundException):
            self.c.describe_thing_group(thingGroupName="bad-tags")


if __name__ == "__main__":
    unittest.main()
