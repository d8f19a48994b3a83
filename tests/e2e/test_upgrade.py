"""Upgrade from the previous release: iotjobsd opens a data directory written by the release whose
schema is version 12 (tests/fixtures/v12.db, made by tests/fixtures/make_v12_fixture.py with that
release's iotjobsd), migrates it, and answers every question exactly as that release did
(tests/fixtures/v12.expected.json): DescribeJob, ListJobExecutionsForJob / ForThing,
DescribeJobExecution on both planes, GetPendingJobExecutions, ListJobs (per namespaceId, status
and thing group), the registry, tags, templates and event configurations. Then a device's update
through the data plane works on the migrated data.

Each test runs its own iotjobsd on its own copy of the fixture (the fixture file is never opened
for writing)."""

import datetime
import json
import shutil
import sqlite3
import sys
import unittest
from pathlib import Path

import harness
from harness import E2ECase

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
sys.path.insert(0, str(FIXTURES))

import make_v12_fixture as fixture  # noqa: E402

# The fixture's one SCHEDULED job starts 364 days after it was made: from then on a newer
# iotjobsd rightly starts it, and its answers are no longer the recorded ones.
SCHEDULED_JOB = "scheduled"


def without_job(value, job_id):
    """`value` without anything about job `job_id` (keys naming it, list items of it)."""
    if isinstance(value, dict):
        return {k: without_job(v, job_id) for k, v in value.items()
                if k != job_id and not k.startswith(job_id + "/")}
    if isinstance(value, list):
        return [without_job(v, job_id) for v in value
                if not (isinstance(v, dict) and v.get("jobId") == job_id)]
    return value


class UpgradeFromV12(E2ECase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.expected = json.loads((FIXTURES / "v12.expected.json").read_text())
        cls.about = cls.expected.pop("_about")

    def start_on_copy(self):
        data = self.ws.mkdir()
        shutil.copyfile(FIXTURES / "v12.db", data / "iotjobs.db")
        d = self.daemon(data_dir=data)
        jobs_endpoint = dict(f.split("=", 1) for f in d.ready_line.split()[2:])["jobs"]
        return d, d.client(), fixture.device_client(self.ws, jobs_endpoint)

    def scheduled_job_started(self, c):
        start = c.describe_job(jobId=SCHEDULED_JOB)["job"]["schedulingConfig"]["startTime"]
        start = datetime.datetime.strptime(start, "%Y-%m-%dT%H:%M").replace(
            tzinfo=datetime.timezone.utc)
        return harness.utcnow() >= start

    def test_fixture_is_the_previous_schema(self):
        con = sqlite3.connect(f"file:{FIXTURES / 'v12.db'}?mode=ro", uri=True)
        try:
            self.assertEqual(con.execute("PRAGMA user_version").fetchone()[0], 12)
            self.assertEqual(self.about["schema_version"], 12)
        finally:
            con.close()

    def test_every_recorded_answer_is_the_same_after_the_migration(self):
        d, c, dev = self.start_on_copy()
        self.assertIn("schema migrated to version 13", d.log())
        got = fixture.answers(c, dev, list(self.expected["DescribeJob"]))
        want = self.expected
        if self.scheduled_job_started(c):
            got, want = without_job(got, SCHEDULED_JOB), without_job(want, SCHEDULED_JOB)
        self.assertEqual(sorted(got), sorted(want))
        for op in sorted(want):
            with self.subTest(op=op):
                self.assertEqual(got[op], want[op])
        # The namespace filter (a typed column since migration 13) is not vacuous.
        self.assertTrue(want["ListJobs"]["namespaceId=ns-a"])
        self.assertTrue(want["ListJobs"]["namespaceId=ns-b"])

    def test_migration_fills_the_typed_columns_from_the_stored_specs(self):
        d, _, _ = self.start_on_copy()
        d.stop()
        con = sqlite3.connect(f"file:{d.data_dir / 'iotjobs.db'}?mode=ro", uri=True)
        try:
            self.assertGreaterEqual(con.execute("PRAGMA user_version").fetchone()[0], 13)
            rows = {r[0]: (r[1], r[2]) for r in con.execute(
                "SELECT job_id, namespace_id, has_schedule FROM jobs")}
        finally:
            con.close()
        for job_id, answer in self.expected["DescribeJob"].items():
            job = answer["job"]
            with self.subTest(job=job_id):
                self.assertEqual(rows[job_id],
                                 (job.get("namespaceId"), 1 if "schedulingConfig" in job else 0))

    def test_a_device_update_works_on_the_migrated_data(self):
        _, c, dev = self.start_on_copy()
        before = c.describe_job(jobId="snap-mixed")["job"]["jobProcessDetails"]
        pending = dev.get_pending_job_executions(thingName="dev-4")
        self.assertIn("snap-mixed", [e["jobId"] for e in pending["queuedJobs"]])
        started = dev.start_next_pending_job_execution(thingName="dev-4",
                                                       statusDetails={"step": "1"})["execution"]
        self.assertEqual((started["jobId"], started["status"]), ("snap-mixed", "IN_PROGRESS"))
        out = dev.update_job_execution(jobId="snap-mixed", thingName="dev-4", status="SUCCEEDED",
                                       expectedVersion=started["versionNumber"],
                                       includeJobExecutionState=True)
        self.assertEqual(out["executionState"]["status"], "SUCCEEDED")
        after = c.describe_job(jobId="snap-mixed")["job"]["jobProcessDetails"]
        self.assertEqual(after["numberOfQueuedThings"], before["numberOfQueuedThings"] - 1)
        self.assertEqual(after["numberOfSucceededThings"],
                         before.get("numberOfSucceededThings", 0) + 1)
        e = c.describe_job_execution(jobId="snap-mixed", thingName="dev-4")["execution"]
        self.assertEqual((e["status"], e["statusDetails"]["detailsMap"]),
                         ("SUCCEEDED", {"step": "1"}))


if __name__ == "__main__":
    unittest.main()
