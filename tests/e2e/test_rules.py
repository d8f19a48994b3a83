"""The rules running in the real iotjobsd at --time-scale, with boto3 as operator and simulated
devices on the HTTPS jobs data plane (boto3 'iot-jobs-data'): execution timers (in-progress and
step), retries, abort criteria, schedules and maintenance windows, and rollout pacing measured
against the configured curve.

One daemon per test class, at the time scale its rules need:
- TIMER_SCALE (60: a minute of service time is a second of wall time) for timers, retries and
  abort, where a device must act before a one- or two-minute timer fires;
- RATE_SCALE (10) for the measured rollouts: a scheduler wake-up late by w seconds of wall time
  shifts a creation by w × scale of service time, and a creation more than the bucket's tolerance
  (1 s) late loses credit (jobs/rollout.h). At 60, six suites run at once on two cores measured a
  30-second stage at 121.8/min for 120; at 20, with sanitizer builds and other sessions' work on
  the same two cores, a stage measured 112.5/min for 120; at 10 a late wake-up must be twice as
  long to cost the same;
- SCHEDULE_SCALE (600) for schedulingConfig, whose times must be at least 30 minutes apart.

Timing assertions use the service's own timestamps (queuedAt, startedAt, lastUpdatedAt, a
template's createdAt as "now"), never wall-clock sleeps; tests wait for background events by polling
with a deadline. Expected rates and deadlines follow the header comments of src/jobs/rollout.h,
timeouts.h, abort_rules.h, retry_rules.h and scheduling.h."""

import datetime
import itertools
import json
import time
import unittest

import boto3
from botocore.config import Config

import harness
from harness import ACCOUNT, E2ECase

TIMER_SCALE = 60
RATE_SCALE = 10
SCHEDULE_SCALE = 600

WAIT_S = 20  # wall-clock bound on any single background event
PREFIX = f"arn:aws:iot:us-east-1:{ACCOUNT}"
DOCUMENT = json.dumps({"operation": "reboot"})
# A timer may fire late by the scheduler's wake-up delay; AWS allows about 60 s [model doc]. In
# service seconds; at TIMER_SCALE this is one second of wall time.
TIMEOUT_LATE_S = 60
RATE_TOLERANCE = 0.02  # the issue's ±2 %
BURST_TOLERANCE_MS = 1000  # jobs::kRolloutBurstTolerance

COUNTERS = ("numberOfQueuedThings", "numberOfInProgressThings", "numberOfSucceededThings",
            "numberOfFailedThings", "numberOfRejectedThings", "numberOfCanceledThings",
            "numberOfTimedOutThings", "numberOfRemovedThings")


def thing_arn(name):
    return f"{PREFIX}:thing/{name}"


def group_arn(name):
    return f"{PREFIX}:thinggroup/{name}"


def counters(**nonzero):
    """The full counter dict: the given ones (queued=1, timedOut=2...), every other counter 0."""
    want = {k: 0 for k in COUNTERS}
    for short, v in nonzero.items():
        key = f"numberOf{short[0].upper()}{short[1:]}Things"
        assert key in want, key
        want[key] = v
    return want


def ms(when):
    """A boto3 datetime as epoch milliseconds (the service keeps milliseconds)."""
    return round(when.timestamp() * 1000)


def iso(epoch_ms):
    """Epoch milliseconds as the ISO form schedulingConfig takes, e.g. 2026-10-01T12:00:30.250."""
    t = datetime.datetime.fromtimestamp(epoch_ms / 1000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}"


class RulesCase(E2ECase):
    """One daemon per class at the class's SCALE, an operator client and a device client."""

    wait_s = WAIT_S
    poll_s = 0.02

    SCALE = 1
    EXTRA_ARGS = ()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.d = cls.start_daemon(args=["--time-scale", str(cls.SCALE), *cls.EXTRA_ARGS])
        cls.c = cls.d.client(max_pool_connections=20)
        fields = dict(f.split("=", 1) for f in cls.d.ready_line.split()[2:])
        keys = cls.ws.keys
        cls.dev = boto3.session.Session(
            aws_access_key_id=keys.access_key, aws_secret_access_key=keys.secret_key,
            region_name="us-east-1").client(
                "iot-jobs-data", endpoint_url=fields["jobs"],
                config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30))
        cls._clock_ids = itertools.count()

    # --- setup --------------------------------------------------------------------------------

    @classmethod
    def make_things(cls, prefix, n, group=None):
        names = [f"{prefix}-{i:03d}" for i in range(n)]
        if group:
            cls.c.create_thing_group(thingGroupName=group)
        for name in names:
            cls.c.create_thing(thingName=name)
            if group:
                cls.c.add_thing_to_thing_group(thingGroupName=group, thingName=name)
        return names

    def job(self, job_id, things, **kw):
        kw.setdefault("document", DOCUMENT)
        self.c.create_job(jobId=job_id, targets=[thing_arn(t) for t in things], **kw)
        return job_id

    @classmethod
    def service_now_ms(cls):
        """The service clock now (a fresh template's createdAt), epoch milliseconds."""
        tid = f"clock-{next(cls._clock_ids)}"
        cls.c.create_job_template(jobTemplateId=tid, document="{}", description="clock")
        return ms(cls.c.describe_job_template(jobTemplateId=tid)["createdAt"])

    # --- waiting ------------------------------------------------------------------------------


    def describe(self, job_id):
        return self.c.describe_job(jobId=job_id)["job"]

    def counts(self, job_id):
        j = self.describe(job_id)
        return {k: j["jobProcessDetails"][k] for k in COUNTERS}

    def wait_counters(self, job_id, want, timeout_s=WAIT_S):
        self.wait_until(lambda: self.counts(job_id), lambda c: c == want,
                        f"counters of {job_id} to become {want}", timeout_s)
        return self.describe(job_id)

    def execution(self, job_id, thing, number=None):
        kw = {"executionNumber": number} if number is not None else {}
        return self.c.describe_job_execution(jobId=job_id, thingName=thing, **kw)["execution"]

    def wait_status(self, job_id, thing, status, number=None, timeout_s=WAIT_S):
        return self.wait_until(lambda: self.execution(job_id, thing, number),
                               lambda e: e["status"] == status,
                               f"{job_id}/{thing} to become {status}", timeout_s)

    def executions(self, job_id):
        """Every execution of the job (ListJobExecutionsForJob, all pages)."""
        items, token = [], None
        while True:
            kw = {"jobId": job_id, "maxResults": 250}
            if token:
                kw["nextToken"] = token
            page = self.c.list_job_executions_for_job(**kw)
            items += page["executionSummaries"]
            token = page.get("nextToken")
            if not token:
                return items

    def history(self, job_id, thing):
        """The thing's executions of the job, oldest first: [(number, status, retryAttempt)]."""
        out = self.c.list_job_executions_for_thing(thingName=thing, jobId=job_id)
        rows = [(s["jobExecutionSummary"]["executionNumber"], s["jobExecutionSummary"]["status"],
                 s["jobExecutionSummary"]["retryAttempt"]) for s in out["executionSummaries"]]
        return sorted(rows)

    # --- devices ------------------------------------------------------------------------------

    def start_next(self, thing, step=None):
        kw = {"stepTimeoutInMinutes": step} if step is not None else {}
        return self.dev.start_next_pending_job_execution(thingName=thing, **kw).get("execution")

    def report(self, job_id, thing, status, step=None, number=None):
        kw = {}
        if step is not None:
            kw["stepTimeoutInMinutes"] = step
        if number is not None:
            kw["executionNumber"] = number
        return self.dev.update_job_execution(jobId=job_id, thingName=thing, status=status, **kw)

    def run_to(self, job_id, thing, status):
        """The device starts its next execution (it must be of `job_id`) and reports `status`."""
        e = self.start_next(thing)
        self.assertIsNotNone(e, f"{thing} has nothing pending")
        self.assertEqual(e["jobId"], job_id)
        return self.report(job_id, thing, status)


# ================================================================================================
# Timers
# ================================================================================================


class TimersTest(RulesCase):
    """timeoutConfig and step timers (jobs/timeouts.h): the effective deadline is
    min(in-progress deadline, latest step deadline); the service sets TIMED_OUT at it."""

    SCALE = TIMER_SCALE

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.make_things("tm", 12)

    def assertTimedOutAt(self, e, deadline_ms, what):
        """`e` (control plane) is TIMED_OUT, at `deadline_ms` or up to TIMEOUT_LATE_S after."""
        self.assertEqual(e["status"], "TIMED_OUT", what)
        at = ms(e["lastUpdatedAt"])
        self.assertGreaterEqual(at, deadline_ms, f"{what}: timed out before its deadline")
        self.assertLessEqual(at - deadline_ms, TIMEOUT_LATE_S * 1000,
                             f"{what}: timed out {(at - deadline_ms) / 1000}s late")

    def remaining_bounds(self, deadline_ms, since_ms, wall_before):
        """approximateSecondsBeforeTimedOut read after wall time `wall_before` must lie in
        [deadline − (service time since then) − 1, deadline − since], whole seconds."""
        elapsed_s = (time.monotonic() - wall_before) * self.SCALE
        hi = (deadline_ms - since_ms) / 1000
        return hi - elapsed_s - 1, hi

    def test_in_progress_timeout(self):
        job = self.job("tm-ip", ["tm-000"], timeoutConfig={"inProgressTimeoutInMinutes": 2})
        self.wait_counters(job, counters(queued=1))
        # QUEUED: no timer runs, so no approximateSecondsBeforeTimedOut.
        queued = self.dev.describe_job_execution(jobId=job, thingName="tm-000")["execution"]
        self.assertEqual(queued["status"], "QUEUED")
        self.assertNotIn("approximateSecondsBeforeTimedOut", queued)
        self.assertNotIn("approximateSecondsBeforeTimedOut", self.execution(job, "tm-000"))

        wall = time.monotonic()
        started = self.start_next("tm-000")
        self.assertEqual((started["status"], started["versionNumber"]), ("IN_PROGRESS", 2))
        e = self.execution(job, "tm-000")
        deadline = ms(e["startedAt"]) + 120_000
        lo, hi = self.remaining_bounds(deadline, ms(e["startedAt"]), wall)
        self.assertIn("approximateSecondsBeforeTimedOut", started)
        self.assertLessEqual(started["approximateSecondsBeforeTimedOut"], hi)
        self.assertGreaterEqual(started["approximateSecondsBeforeTimedOut"], lo)
        self.wait_counters(job, counters(inProgress=1))

        # The countdown decreases (data plane and control plane alike).
        first = self.dev.describe_job_execution(jobId=job, thingName="tm-000")["execution"]
        a0 = first["approximateSecondsBeforeTimedOut"]
        self.assertLessEqual(a0, 120)
        later = self.wait_until(
            lambda: self.dev.describe_job_execution(jobId=job, thingName="tm-000")["execution"],
            lambda x: x["status"] != "IN_PROGRESS" or x["approximateSecondsBeforeTimedOut"] < a0,
            "approximateSecondsBeforeTimedOut to decrease")
        if later["status"] == "IN_PROGRESS":
            self.assertLess(later["approximateSecondsBeforeTimedOut"], a0)
            cp = self.execution(job, "tm-000")
            if cp["status"] == "IN_PROGRESS":
                self.assertLessEqual(cp["approximateSecondsBeforeTimedOut"], a0)

        e = self.wait_status(job, "tm-000", "TIMED_OUT")
        self.assertTimedOutAt(e, deadline, "in-progress timer of 2 minutes")
        self.assertEqual(e["versionNumber"], 3)  # the service's transition counts as an update
        self.assertNotIn("approximateSecondsBeforeTimedOut", e)
        j = self.wait_counters(job, counters(timedOut=1))
        self.assertEqual(j["status"], "COMPLETED")  # every execution is terminal
        # The device can no longer update it.
        with self.assertRaises(self.dev.exceptions.InvalidStateTransitionException):
            self.report(job, "tm-000", "SUCCEEDED")

    def test_step_timer_replaces_the_previous_one(self):
        # Shorter → longer and longer → shorter: each new step timer replaces the last one.
        job = self.job("tm-step", ["tm-001", "tm-002"],
                       timeoutConfig={"inProgressTimeoutInMinutes": 30})
        self.wait_counters(job, counters(queued=2))
        self.start_next("tm-002", step=1)
        wall = time.monotonic()
        self.report(job, "tm-002", "IN_PROGRESS", step=3)  # now+3 replaces start+1
        e2 = self.execution(job, "tm-002")
        self.assertEqual(e2["status"], "IN_PROGRESS", "the update came after the 1-minute step")
        d2 = ms(e2["lastUpdatedAt"]) + 180_000
        lo, hi = self.remaining_bounds(d2, ms(e2["lastUpdatedAt"]), wall)
        self.assertLessEqual(e2["approximateSecondsBeforeTimedOut"], hi)
        self.assertGreaterEqual(e2["approximateSecondsBeforeTimedOut"], lo)
        self.start_next("tm-001", step=5)
        self.report(job, "tm-001", "IN_PROGRESS", step=1)  # now+1 replaces start+5
        d1 = ms(self.execution(job, "tm-001")["lastUpdatedAt"]) + 60_000

        self.assertTimedOutAt(self.wait_status(job, "tm-001", "TIMED_OUT"), d1,
                              "step 5 then step 1")
        # tm-002's first step timer (a minute after its start, before d1) has passed, and the
        # scheduler fires every due timer in the same pass: the replacement keeps it running.
        self.assertEqual(self.execution(job, "tm-002")["status"], "IN_PROGRESS")
        self.assertTimedOutAt(self.wait_status(job, "tm-002", "TIMED_OUT"), d2,
                              "step 1 then step 3")

    def test_earlier_timer_wins(self):
        # A step timer before the in-progress deadline fires first; one after it is capped.
        job = self.job("tm-min", ["tm-003", "tm-004"],
                       timeoutConfig={"inProgressTimeoutInMinutes": 2})
        self.wait_counters(job, counters(queued=2))
        self.start_next("tm-003", step=1)
        self.start_next("tm-004", step=5)
        e3, e4 = self.execution(job, "tm-003"), self.execution(job, "tm-004")
        self.assertLessEqual(e3["approximateSecondsBeforeTimedOut"], 60)
        self.assertLessEqual(e4["approximateSecondsBeforeTimedOut"], 120)
        self.assertTimedOutAt(self.wait_status(job, "tm-003", "TIMED_OUT"),
                              ms(e3["startedAt"]) + 60_000, "step 1 under in-progress 2")
        self.assertTimedOutAt(self.wait_status(job, "tm-004", "TIMED_OUT"),
                              ms(e4["startedAt"]) + 120_000, "step 5 capped by in-progress 2")

    def test_minus_one_clears_the_step_timer(self):
        job = self.job("tm-clear", ["tm-005"], timeoutConfig={"inProgressTimeoutInMinutes": 4})
        self.wait_counters(job, counters(queued=1))
        self.start_next("tm-005", step=2)
        self.report(job, "tm-005", "IN_PROGRESS", step=-1)
        e = self.execution(job, "tm-005")
        self.assertEqual(e["status"], "IN_PROGRESS", "the update came after the 2-minute step")
        started = ms(e["startedAt"])
        # Back to the in-progress deadline: more than the 2-minute step left.
        self.assertGreater(e["approximateSecondsBeforeTimedOut"],
                           (started + 120_000 - ms(e["lastUpdatedAt"])) / 1000)
        self.assertTimedOutAt(self.wait_status(job, "tm-005", "TIMED_OUT"), started + 240_000,
                              "step timer cleared by -1")

    def test_no_timer_without_timeout_config(self):
        job = self.job("tm-none", ["tm-006"])
        self.wait_counters(job, counters(queued=1))
        started = self.start_next("tm-006")
        self.assertNotIn("approximateSecondsBeforeTimedOut", started)
        # A step timer alone runs without a timeoutConfig.
        self.report(job, "tm-006", "IN_PROGRESS", step=1)
        e = self.execution(job, "tm-006")
        self.assertTimedOutAt(self.wait_status(job, "tm-006", "TIMED_OUT"),
                              ms(e["lastUpdatedAt"]) + 60_000, "step timer without timeoutConfig")

    def test_terminal_update_stops_timers(self):
        things = ["tm-007", "tm-008", "tm-009"]
        job = self.job("tm-term", things, timeoutConfig={"inProgressTimeoutInMinutes": 1})
        self.wait_counters(job, counters(queued=3))
        self.start_next("tm-007")
        self.report(job, "tm-007", "SUCCEEDED", step=1)  # the step timer is ignored
        self.start_next("tm-008", step=1)
        self.report(job, "tm-008", "FAILED")
        v7 = self.execution(job, "tm-007")["versionNumber"]
        v8 = self.execution(job, "tm-008")["versionNumber"]
        # tm-009 starts last, so its deadline is the latest: once it has fired, every timer the
        # other two ever had has passed.
        self.start_next("tm-009")
        self.wait_status(job, "tm-009", "TIMED_OUT")
        for thing, status, version in (("tm-007", "SUCCEEDED", v7), ("tm-008", "FAILED", v8)):
            e = self.execution(job, thing)
            self.assertEqual((e["status"], e["versionNumber"]), (status, version), thing)
            self.assertNotIn("approximateSecondsBeforeTimedOut", e)
        j = self.wait_counters(job, counters(succeeded=1, failed=1, timedOut=1))
        self.assertEqual(j["status"], "COMPLETED")


# ================================================================================================
# Retries
# ================================================================================================


class RetriesTest(RulesCase):
    """jobExecutionsRetryConfig (jobs/retry_rules.h): a FAILED or TIMED_OUT execution covered by a
    criterion with budget left is followed by a new QUEUED execution (executionNumber + 1,
    retryAttempt + 1); jobProcessDetails counts each thing's latest execution."""

    SCALE = TIMER_SCALE

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.make_things("rt", 12)

    def test_failed_retried_until_the_budget_is_spent(self):
        job = self.job("rt-failed", ["rt-000", "rt-001"],
                       jobExecutionsRetryConfig={"criteriaList": [
                           {"failureType": "FAILED", "numberOfRetries": 2}]})
        self.wait_counters(job, counters(queued=2))

        self.run_to(job, "rt-000", "FAILED")
        # The retry is there at once, and it is what the counters show for rt-000.
        self.assertEqual(self.history(job, "rt-000"), [(1, "FAILED", 0), (2, "QUEUED", 1)])
        self.assertEqual(self.counts(job), counters(queued=2))
        retry = self.execution(job, "rt-000")
        self.assertEqual((retry["executionNumber"], retry["versionNumber"], retry["status"]),
                         (2, 1, "QUEUED"))
        pending = self.dev.get_pending_job_executions(thingName="rt-000")["queuedJobs"]
        self.assertEqual([(p["jobId"], p["executionNumber"]) for p in pending], [(job, 2)])
        self.assertEqual(self.execution(job, "rt-000", 1)["status"], "FAILED")

        self.run_to(job, "rt-000", "FAILED")
        self.assertEqual(self.history(job, "rt-000"),
                         [(1, "FAILED", 0), (2, "FAILED", 1), (3, "QUEUED", 2)])
        self.run_to(job, "rt-000", "FAILED")  # the third failure: budget spent
        self.assertEqual(self.history(job, "rt-000"),
                         [(1, "FAILED", 0), (2, "FAILED", 1), (3, "FAILED", 2)])
        self.assertEqual(self.dev.get_pending_job_executions(thingName="rt-000")["queuedJobs"], [])
        self.assertEqual(self.counts(job), counters(queued=1, failed=1))

        # rt-001 fails once and succeeds on its retry: counted as succeeded, not failed.
        self.run_to(job, "rt-001", "FAILED")
        self.run_to(job, "rt-001", "SUCCEEDED")
        self.assertEqual(self.history(job, "rt-001"), [(1, "FAILED", 0), (2, "SUCCEEDED", 1)])
        j = self.wait_counters(job, counters(succeeded=1, failed=1))
        self.assertEqual(j["status"], "COMPLETED")
        self.assertEqual(len(self.executions(job)), 5)
        # An old execution cannot be updated into a second retry chain.
        with self.assertRaises(self.dev.exceptions.InvalidStateTransitionException):
            self.report(job, "rt-000", "FAILED", number=1)

    def test_rejected_is_never_retried(self):
        job = self.job("rt-rejected", ["rt-002"],
                       jobExecutionsRetryConfig={"criteriaList": [
                           {"failureType": "ALL", "numberOfRetries": 5}]})
        self.wait_counters(job, counters(queued=1))
        self.run_to(job, "rt-002", "REJECTED")
        self.assertEqual(self.history(job, "rt-002"), [(1, "REJECTED", 0)])
        j = self.wait_counters(job, counters(rejected=1))
        self.assertEqual(j["status"], "COMPLETED")

    def test_timed_out_is_retried_only_under_a_timed_out_or_all_criterion(self):
        timeout = {"inProgressTimeoutInMinutes": 1}
        only_failed = self.job("rt-to-failed", ["rt-003"], timeoutConfig=timeout,
                               jobExecutionsRetryConfig={"criteriaList": [
                                   {"failureType": "FAILED", "numberOfRetries": 3}]})
        only_to = self.job("rt-to-timedout", ["rt-004"], timeoutConfig=timeout,
                           jobExecutionsRetryConfig={"criteriaList": [
                               {"failureType": "TIMED_OUT", "numberOfRetries": 1}]})
        shared = self.job("rt-to-all", ["rt-005"], timeoutConfig=timeout,
                          jobExecutionsRetryConfig={"criteriaList": [
                              {"failureType": "ALL", "numberOfRetries": 2}]})
        for job in (only_failed, only_to, shared):
            self.wait_counters(job, counters(queued=1))
        for thing in ("rt-003", "rt-004", "rt-005"):
            self.start_next(thing)

        # FAILED criterion only: the time-out ends it.
        self.wait_status(only_failed, "rt-003", "TIMED_OUT")
        self.assertEqual(self.history(only_failed, "rt-003"), [(1, "TIMED_OUT", 0)])
        self.assertEqual(self.wait_counters(only_failed, counters(timedOut=1))["status"],
                         "COMPLETED")

        # TIMED_OUT criterion: retried once; a FAILED retry is not retried again.
        self.wait_status(only_to, "rt-004", "QUEUED", number=2)
        self.assertEqual(self.history(only_to, "rt-004"), [(1, "TIMED_OUT", 0), (2, "QUEUED", 1)])
        self.assertEqual(self.counts(only_to), counters(queued=1))
        self.run_to(only_to, "rt-004", "FAILED")
        self.assertEqual(self.history(only_to, "rt-004"), [(1, "TIMED_OUT", 0), (2, "FAILED", 1)])
        self.assertEqual(self.wait_counters(only_to, counters(failed=1))["status"], "COMPLETED")

        # ALL: one budget of 2 for both kinds — timed out, failed, then timed out for good.
        self.wait_status(shared, "rt-005", "QUEUED", number=2)
        self.run_to(shared, "rt-005", "FAILED")
        self.assertEqual(self.history(shared, "rt-005"),
                         [(1, "TIMED_OUT", 0), (2, "FAILED", 1), (3, "QUEUED", 2)])
        self.start_next("rt-005")
        self.wait_status(shared, "rt-005", "TIMED_OUT", number=3)
        self.assertEqual(self.history(shared, "rt-005"),
                         [(1, "TIMED_OUT", 0), (2, "FAILED", 1), (3, "TIMED_OUT", 2)])
        self.assertEqual(self.wait_counters(shared, counters(timedOut=1))["status"], "COMPLETED")

    def test_two_criteria_each_cap_their_type(self):
        # {ALL 3, FAILED 1}: FAILED retries stop at 1 even though ALL has budget left.
        job = self.job("rt-two", ["rt-006"],
                       jobExecutionsRetryConfig={"criteriaList": [
                           {"failureType": "ALL", "numberOfRetries": 3},
                           {"failureType": "FAILED", "numberOfRetries": 1}]})
        self.wait_counters(job, counters(queued=1))
        self.run_to(job, "rt-006", "FAILED")
        self.run_to(job, "rt-006", "FAILED")
        self.assertEqual(self.history(job, "rt-006"), [(1, "FAILED", 0), (2, "FAILED", 1)])
        self.assertEqual(self.wait_counters(job, counters(failed=1))["status"], "COMPLETED")


# ================================================================================================
# Abort
# ================================================================================================


class AbortTest(RulesCase):
    """abortConfig (jobs/abort_rules.h): with executed = SUCCEEDED + FAILED + REJECTED +
    TIMED_OUT of the things' latest executions, a criterion trips when executed ≥
    minNumberOfExecutedThings and failures / executed × 100 ≥ thresholdPercentage. The job is then
    canceled like a non-forced CancelJob, with reasonCode ABORT_CRITERIA_MET."""

    SCALE = TIMER_SCALE

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.make_things("ab", 43)

    def abort_job(self, job_id, things, failure_type="FAILED", threshold=50, minimum=4, **kw):
        self.job(job_id, things, abortConfig={"criteriaList": [
            {"failureType": failure_type, "action": "CANCEL", "thresholdPercentage": threshold,
             "minNumberOfExecutedThings": minimum}]}, **kw)
        self.wait_counters(job_id, counters(queued=len(things)))
        return job_id

    def assertAborted(self, job_id, failure_type):
        j = self.describe(job_id)
        self.assertEqual(j["status"], "CANCELED")
        self.assertEqual(j["reasonCode"], "ABORT_CRITERIA_MET")
        self.assertIn("criterion 1", j["comment"])
        self.assertIn(f"failureType={failure_type}", j["comment"])
        self.assertFalse(j["forceCanceled"])
        return j

    def assertRunning(self, job_id, what):
        j = self.describe(job_id)
        self.assertEqual(j["status"], "IN_PROGRESS", what)
        self.assertNotIn("reasonCode", j, what)

    def test_exactly_at_the_threshold_trips(self):
        things = [f"ab-{i:03d}" for i in range(10)]
        job = self.abort_job("ab-at", things)
        self.run_to(job, things[0], "SUCCEEDED")
        self.run_to(job, things[1], "SUCCEEDED")
        self.run_to(job, things[2], "FAILED")
        self.assertRunning(job, "3 executed, under minNumberOfExecutedThings 4")
        self.start_next(things[4])  # IN_PROGRESS when the abort comes
        self.run_to(job, things[3], "FAILED")  # 2 of 4 = 50 %
        j = self.assertAborted(job, "FAILED")
        self.assertIn("2 of 4", j["comment"])

        # The five still QUEUED become CANCELED in the background; the running one is left alone.
        self.wait_counters(job, counters(succeeded=2, failed=2, inProgress=1, canceled=5))
        for t in things[5:]:
            e = self.execution(job, t)
            self.assertEqual(e["status"], "CANCELED", t)
            self.assertFalse(e["forceCanceled"])
        self.assertEqual(self.dev.get_pending_job_executions(thingName=things[5])["queuedJobs"],
                         [])
        self.assertEqual(self.execution(job, things[4])["status"], "IN_PROGRESS")
        # ...and can still report its result; the job stays CANCELED.
        self.report(job, things[4], "SUCCEEDED")
        self.assertEqual(self.execution(job, things[4])["status"], "SUCCEEDED")
        self.wait_counters(job, counters(succeeded=3, failed=2, canceled=5))
        self.assertAborted(job, "FAILED")
        with self.assertRaises(self.dev.exceptions.InvalidStateTransitionException):
            self.report(job, things[5], "IN_PROGRESS")

    def test_just_under_the_threshold_does_not_trip(self):
        things = [f"ab-{i:03d}" for i in range(10, 20)]
        job = self.abort_job("ab-under", things)
        for t in things[:3]:
            self.run_to(job, t, "SUCCEEDED")
        self.run_to(job, things[3], "FAILED")
        self.assertRunning(job, "1 of 4 failed (25 %)")
        self.run_to(job, things[4], "FAILED")
        self.assertRunning(job, "2 of 5 failed (40 %)")
        self.run_to(job, things[5], "FAILED")  # 3 of 6 = 50 %
        j = self.assertAborted(job, "FAILED")
        self.assertIn("3 of 6", j["comment"])
        self.wait_counters(job, counters(succeeded=3, failed=3, canceled=4))

    def test_minimum_executed_things(self):
        things = [f"ab-{i:03d}" for i in range(20, 25)]
        job = self.abort_job("ab-min", things, threshold=50, minimum=4)
        for t in things[:3]:
            self.run_to(job, t, "FAILED")
        self.assertRunning(job, "3 of 3 failed, but only 3 executed")
        self.run_to(job, things[3], "SUCCEEDED")  # 3 of 4 = 75 %
        self.assertAborted(job, "FAILED")
        self.wait_counters(job, counters(succeeded=1, failed=3, canceled=1))

    def test_threshold_has_two_exact_decimals(self):
        # 1 of 3 is 33.333… %: ≥ 33.33 trips, < 33.34 does not.
        under = self.abort_job("ab-dec-under", ["ab-025", "ab-026", "ab-027", "ab-028"],
                               threshold=33.34, minimum=3)
        at = self.abort_job("ab-dec-at", ["ab-029", "ab-030", "ab-031", "ab-032"],
                            threshold=33.33, minimum=3)
        for job, things in ((under, ["ab-025", "ab-026", "ab-027"]),
                            (at, ["ab-029", "ab-030", "ab-031"])):
            self.run_to(job, things[0], "SUCCEEDED")
            self.run_to(job, things[1], "SUCCEEDED")
            self.run_to(job, things[2], "FAILED")
        self.assertRunning(under, "1 of 3 against 33.34 %")
        self.assertAborted(at, "FAILED")

    def test_all_counts_failed_rejected_and_timed_out(self):
        things = [f"ab-{i:03d}" for i in range(33, 39)]
        job = self.abort_job("ab-all", things, failure_type="ALL", threshold=75, minimum=4,
                             timeoutConfig={"inProgressTimeoutInMinutes": 1})
        # A FAILED criterion on the same outcomes would see 1 of 4 (25 %): no abort.
        control = self.abort_job("ab-all-control", ["ab-039"], failure_type="FAILED",
                                 threshold=25, minimum=1)
        self.run_to(job, things[0], "SUCCEEDED")
        self.run_to(job, things[1], "FAILED")
        self.run_to(job, things[2], "REJECTED")
        self.assertRunning(job, "3 executed, under the minimum")
        self.start_next(things[3])  # times out after a minute: 3 of 4 = 75 %
        self.wait_status(job, things[3], "TIMED_OUT")
        j = self.assertAborted(job, "ALL")
        self.assertIn("3 of 4", j["comment"])
        self.wait_counters(job, counters(succeeded=1, failed=1, rejected=1, timedOut=1,
                                         canceled=2))
        self.run_to(control, "ab-039", "SUCCEEDED")
        self.assertEqual(self.describe(control)["status"], "COMPLETED")

    def test_abort_cancels_queued_retries(self):
        # A failure whose retry is queued does not count until the retry ends; when the abort
        # comes, the queued retry is cancelled with the other QUEUED executions.
        things = [f"ab-{i:03d}" for i in range(40, 43)]
        job = self.abort_job("ab-retry", things, threshold=50, minimum=2,
                             jobExecutionsRetryConfig={"criteriaList": [
                                 {"failureType": "FAILED", "numberOfRetries": 1}]})
        self.run_to(job, things[0], "SUCCEEDED")
        self.run_to(job, things[1], "FAILED")  # retry queued: 1 executed
        self.run_to(job, things[2], "FAILED")  # retry queued: still 1 executed
        self.assertRunning(job, "both failures have their retry queued")
        self.assertEqual(self.counts(job), counters(succeeded=1, queued=2))
        self.run_to(job, things[1], "FAILED")  # retry spent: 1 of 2 = 50 %
        self.assertAborted(job, "FAILED")
        self.wait_counters(job, counters(succeeded=1, failed=1, canceled=1))
        self.assertEqual(self.history(job, things[2]), [(1, "FAILED", 0), (2, "CANCELED", 1)])


# ================================================================================================
# Rollout pacing
# ================================================================================================


def rolling_minute_max(times):
    """The most creations in any rolling minute (t − 60 s, t], `times` sorted epoch ms."""
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - 60_000:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def gcra_violations(times, rate):
    """Pairs breaking the pacing bucket of jobs/rollout.h at `rate` per minute: creations i < j
    need t_j − t_i ≥ (j − i)·I − τ with I = 60 s / rate, τ = 1 s. Exact integer arithmetic in
    ms × rate (I × rate = 60000)."""
    bad = []
    for i in range(len(times)):
        for j in range(i + 1, len(times)):
            if (j - i) * 60_000 - (times[j] - times[i]) * rate > BURST_TOLERANCE_MS * rate:
                bad.append((i, j, times[i], times[j]))
    return bad


def slope_per_minute(times):
    """Least-squares slope of creation index against time, per minute: the measured rate of a
    run of creations, insensitive to the jitter of single instants."""
    n = len(times)
    mt = sum(times) / n
    mi = (n - 1) / 2
    cov = sum((t - mt) * (i - mi) for i, t in enumerate(times))
    var = sum((t - mt) ** 2 for t in times)
    return cov / var * 60_000


class RolloutRateTest(RulesCase):
    """jobExecutionsRolloutConfig (jobs/rollout.h): executions are created at
    R = min(maximumPerMinute or base × factor^k, --max-rollout-per-minute) per rolling minute,
    paced by a bucket with a burst of floor(R / 60) + 1. The three jobs roll out at once, from
    setUpClass; the tests measure them from their executions' queuedAt."""

    SCALE = RATE_SCALE
    FIXED_RATE = 60
    FIXED_THINGS = 200
    # Exponential: 30/min, doubling every 60 notified things, under the server's cap of 120/min:
    # 30, 60, 120, 120.
    BASE, FACTOR, STEP = 30, 2, 60
    EXP_THINGS = 240
    SERVER_CAP_RATE = 120  # --max-rollout-per-minute: a job asking for more gets this
    SERVER_CAP_THINGS = EXP_THINGS
    EXTRA_ARGS = ("--max-rollout-per-minute", "120")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        things = cls.make_things("rr", cls.EXP_THINGS)
        for group, n in (("rr-fixed", cls.FIXED_THINGS), ("rr-all", len(things))):
            cls.c.create_thing_group(thingGroupName=group)
            for t in things[:n]:
                cls.c.add_thing_to_thing_group(thingGroupName=group, thingName=t)
        cls.c.create_job(jobId="rr-fixed", targets=[group_arn("rr-fixed")], document=DOCUMENT,
                         jobExecutionsRolloutConfig={"maximumPerMinute": cls.FIXED_RATE})
        cls.c.create_job(jobId="rr-exp", targets=[group_arn("rr-all")], document=DOCUMENT,
                         jobExecutionsRolloutConfig={
                             "exponentialRate": {
                                 "baseRatePerMinute": cls.BASE, "incrementFactor": cls.FACTOR,
                                 "rateIncreaseCriteria": {"numberOfNotifiedThings": cls.STEP}}})
        # No jobExecutionsRolloutConfig: AWS's 1000/min, capped by --max-rollout-per-minute.
        cls.c.create_job(jobId="rr-capped", targets=[group_arn("rr-all")], document=DOCUMENT)

    def queued_times(self, job_id, n):
        self.wait_until(lambda: self.describe(job_id)["jobProcessDetails"]["numberOfQueuedThings"],
                        lambda q: q >= n, f"{n} executions of {job_id}", timeout_s=60)
        times = sorted(ms(e["jobExecutionSummary"]["queuedAt"]) for e in self.executions(job_id))
        self.assertEqual(len(times), n)
        return times

    def check_fixed_rate(self, times, rate, min_full=2):
        """Each full minute from the first creation holds `rate` ±2 %; no rolling minute holds
        more than `rate`; every pair keeps the bucket's spacing. Returns the minute counts."""
        t0 = times[0]
        full = (times[-1] - t0) // 60_000
        self.assertGreaterEqual(full, min_full, "the rollout spans too few full minutes")
        per_minute = [sum(1 for t in times if t0 + k * 60_000 <= t < t0 + (k + 1) * 60_000)
                      for k in range(full)]
        for k, n in enumerate(per_minute):
            self.assertLessEqual(abs(n - rate), rate * RATE_TOLERANCE,
                                 f"minute {k}: {n} executions, configured {rate}; all minutes: "
                                 f"{per_minute}")
        self.assertLessEqual(rolling_minute_max(times), rate)
        bad = gcra_violations(times, rate)
        self.assertEqual(bad[:5], [], f"{len(bad)} pairs closer than the bucket allows")
        return per_minute

    def test_maximum_per_minute(self):
        times = self.queued_times("rr-fixed", self.FIXED_THINGS)
        per_minute = self.check_fixed_rate(times, self.FIXED_RATE)
        # Evenly spread (check_fixed_rate's bucket check): a first burst of floor(60 / 60) + 1 = 2,
        # then one a second, so any 10 s hold at most 12 — not a minute's 60 in its first half.
        self.assertLessEqual(max(sum(1 for u in times if t <= u < t + 10_000) for t in times), 12)
        print(f"\n  rr-fixed {self.FIXED_RATE}/min: per full minute {per_minute}", flush=True)
        j = self.wait_until(lambda: self.describe("rr-fixed"),
                            lambda j: not j["jobProcessDetails"]["processingTargets"],
                            "rr-fixed to finish its rollout")
        self.assertEqual(j["status"], "IN_PROGRESS")

    def test_server_cap(self):
        times = self.queued_times("rr-capped", self.SERVER_CAP_THINGS)
        per_minute = self.check_fixed_rate(times, self.SERVER_CAP_RATE, min_full=1)
        print(f"\n  rr-capped 1000/min under --max-rollout-per-minute {self.SERVER_CAP_RATE}: "
              f"per full minute {per_minute}", flush=True)
        # A job may not ask for more than the server's cap.
        with self.assertRaises(self.c.exceptions.InvalidRequestException) as cm:
            self.c.create_job(jobId="rr-too-fast", targets=[thing_arn("rr-000")],
                              document=DOCUMENT, jobExecutionsRolloutConfig={
                                  "maximumPerMinute": self.SERVER_CAP_RATE + 1})
        self.assertIn("maximumPerMinute", str(cm.exception))

    def test_exponential_rate(self):
        times = self.queued_times("rr-exp", self.EXP_THINGS)
        figures = []
        for k in range(self.EXP_THINGS // self.STEP):
            rate = min(self.SERVER_CAP_RATE, self.BASE * self.FACTOR ** k)
            stage = times[k * self.STEP:(k + 1) * self.STEP]
            # The first creations of a stage may ride the previous rate's bucket (the rate is
            # read once per scheduler pass); measure from the new burst on.
            steady = stage[rate // 60 + 1:]
            measured = slope_per_minute(steady)
            figures.append((rate, round(measured, 1)))
            self.assertLessEqual(abs(measured / rate - 1), RATE_TOLERANCE,
                                 f"stage {k}: measured {measured:.1f}/min, configured {rate}; "
                                 f"all (configured, measured): {figures}")
            bad = gcra_violations(steady, rate)
            self.assertEqual(bad[:5], [], f"stage {k}: {len(bad)} pairs closer than the bucket")
        print(f"\n  rr-exp (configured, measured)/min per stage: {figures}", flush=True)


# ================================================================================================
# Schedules and maintenance windows
# ================================================================================================


class ScheduleTest(RulesCase):
    """schedulingConfig (jobs/scheduling.h): SCHEDULED before startTime with nothing rolled out,
    IN_PROGRESS from startTime, endBehavior at endTime; maintenance windows hold the rollout
    between windows. Times are in service time, read from the service ("now" is a fresh
    template's createdAt); every execution's queuedAt must fall where the schedule allows."""

    SCALE = SCHEDULE_SCALE
    LEAD_MIN = 40  # startTime − now at creation (the minimum is 30)
    SPAN_MIN = 30  # endTime − startTime (the minimum is 30)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.make_things("sc-c", 3)
        cls.make_things("sc-f", 3)
        cls.make_things("sc-s", 40)
        cls.make_things("sc-w", 16)
        cls.make_things("sc-r", 1)
        cls.make_things("sc-x", 120, group="sc-x")
        cls.make_things("sc-b", 3)

    def create_scheduled(self, jobs, with_end=True):
        """Creates {job_id: (things, schedulingConfig extras, CreateJob extras)} with startTime
        LEAD_MIN and (with_end) endTime LEAD_MIN + SPAN_MIN minutes from the service's now. CreateJob checks
        the 30-minute lead against a clock running at 10 minutes a second: on a slow start, read
        the clock again and retry. Returns (start_ms, end_ms, {job_id: created id})."""
        for attempt in range(3):
            start = self.service_now_ms() + self.LEAD_MIN * 60_000
            end = start + self.SPAN_MIN * 60_000
            times = {"startTime": iso(start)}
            if with_end:
                times["endTime"] = iso(end)
            ids = {}
            try:
                for key, (things, sched, kw) in jobs.items():
                    job_id = f"{key}-{attempt}"
                    self.c.create_job(jobId=job_id, targets=[thing_arn(t) for t in things],
                                      document=DOCUMENT, **kw,
                                      schedulingConfig=dict(times, **sched))
                    ids[key] = job_id
                return start, end, ids
            except self.c.exceptions.InvalidRequestException:
                if attempt == 2:
                    raise
                for job_id in ids.values():
                    self.c.cancel_job(jobId=job_id)

    def assertNothingRolledOut(self, job_id, things):
        j = self.describe(job_id)
        self.assertEqual(j["status"], "SCHEDULED")
        self.assertEqual(self.counts(job_id), counters())
        self.assertEqual(self.executions(job_id), [])
        for t in things:
            self.assertEqual(self.dev.get_pending_job_executions(thingName=t)["queuedJobs"], [])
            self.assertNotIn("execution", self.dev.start_next_pending_job_execution(thingName=t))
            with self.assertRaises(self.dev.exceptions.ResourceNotFoundException):
                self.dev.describe_job_execution(jobId=job_id, thingName=t)

    def assertQueuedWithin(self, job_id, start, end):
        """Every execution was queued in [start, end); the first within 5 minutes of start."""
        queued = [ms(e["jobExecutionSummary"]["queuedAt"]) for e in self.executions(job_id)]
        self.assertTrue(queued)
        self.assertEqual([iso(q) for q in queued if q < start], [], "queued before startTime")
        self.assertEqual([iso(q) for q in queued if q >= end], [], "queued after endTime")
        self.assertLessEqual(min(queued) - start, 5 * 60_000, "rollout started late")
        return len(queued)

    def test_start_time_and_end_behaviors(self):
        cancel, force, stop = self.things("sc-c", 3), self.things("sc-f", 3), self.things(
            "sc-s", 40)
        start, end, ids = self.create_scheduled({
            "sc-cancel": (cancel, {"endBehavior": "CANCEL"}, {}),
            "sc-force": (force, {"endBehavior": "FORCE_CANCEL"}, {}),
            # 1 a minute over a 30-minute schedule: 40 things cannot all be rolled out.
            "sc-stop": (stop, {"endBehavior": "STOP_ROLLOUT"},
                        {"jobExecutionsRolloutConfig": {"maximumPerMinute": 1}}),
        })
        # Before startTime: SCHEDULED, nothing for the devices.
        for key, things in (("sc-cancel", cancel), ("sc-force", force), ("sc-stop", stop[:3])):
            self.assertNothingRolledOut(ids[key], things)
        self.assertLessEqual({ids["sc-cancel"], ids["sc-force"], ids["sc-stop"]},
                             {s["jobId"] for s in self.c.list_jobs(status="SCHEDULED")["jobs"]})

        # From startTime: IN_PROGRESS and rolling out. The devices act before endTime: one
        # execution IN_PROGRESS, one SUCCEEDED, one left QUEUED.
        for key, things in (("sc-cancel", cancel), ("sc-force", force)):
            job_id = ids[key]
            self.wait_until(lambda: self.describe(job_id)["status"], lambda s: s != "SCHEDULED",
                            f"{job_id} to start", timeout_s=WAIT_S + 10)
            self.wait_counters(job_id, counters(queued=3))
            self.start_next(things[0])
            self.run_to(job_id, things[1], "SUCCEEDED")
        for job_id in (ids["sc-cancel"], ids["sc-force"]):
            j = self.describe(job_id)
            self.assertEqual(j["status"], "IN_PROGRESS",
                             "endTime passed before the devices acted (machine too slow)")
            self.assertEqual(self.counts(job_id), counters(queued=1, inProgress=1, succeeded=1))

        # At endTime: CANCEL and FORCE_CANCEL cancel the job with reasonCode SCHEDULED_END.
        for key in ("sc-cancel", "sc-force"):
            j = self.wait_until(lambda: self.describe(ids[key]),
                                lambda j: j["status"] == "CANCELED",
                                f"{ids[key]} to be canceled at endTime", timeout_s=WAIT_S + 10)
            self.assertEqual(j["reasonCode"], "SCHEDULED_END", key)
            self.assertGreaterEqual(ms(j["lastUpdatedAt"]), end, key)
            self.assertEqual(j["forceCanceled"], key == "sc-force")
            self.assertQueuedWithin(ids[key], start, end)

        # CANCEL: the QUEUED execution is canceled, the running one runs on and can finish.
        job_id = ids["sc-cancel"]
        self.wait_counters(job_id, counters(inProgress=1, succeeded=1, canceled=1))
        self.assertEqual(self.execution(job_id, cancel[2])["status"], "CANCELED")
        self.report(job_id, cancel[0], "SUCCEEDED")
        self.wait_counters(job_id, counters(succeeded=2, canceled=1))
        self.assertEqual(self.describe(job_id)["status"], "CANCELED")

        # FORCE_CANCEL: the running one is canceled too.
        job_id = ids["sc-force"]
        self.wait_counters(job_id, counters(succeeded=1, canceled=2))
        e = self.execution(job_id, force[0])
        self.assertEqual(e["status"], "CANCELED")
        self.assertTrue(e["forceCanceled"])
        with self.assertRaises(self.dev.exceptions.InvalidStateTransitionException):
            self.report(job_id, force[0], "SUCCEEDED")

        # STOP_ROLLOUT: no execution after endTime; the job stays IN_PROGRESS, its executions
        # continue, and it completes once they are done.
        job_id = ids["sc-stop"]
        self.wait_until(self.service_now_ms, lambda now: now > end + 10 * 60_000,
                        "the service clock to pass endTime")
        j = self.describe(job_id)
        self.assertEqual(j["status"], "IN_PROGRESS")
        self.assertNotIn("reasonCode", j)
        self.assertEqual(j["jobProcessDetails"]["processingTargets"], [])
        n = self.assertQueuedWithin(job_id, start, end)
        self.assertLess(n, len(stop), "STOP_ROLLOUT did not stop the rollout at endTime")
        for e in self.executions(job_id):
            self.run_to(job_id, e["thingArn"].rsplit("/", 1)[1], "SUCCEEDED")
        j = self.wait_until(lambda: self.describe(job_id), lambda j: j["status"] == "COMPLETED",
                            f"{job_id} to complete")
        self.assertEqual(self.counts(job_id), counters(succeeded=n))
        print(f"\n  STOP_ROLLOUT at 1/min over a 30-minute schedule: {n} executions", flush=True)

    def test_scheduled_job_rollouts_start_at_the_start_time(self):
        _, _, ids = self.create_scheduled({"sc-rollouts": (["sc-r-000"], {
            "maintenanceWindows": [{"startTime": "cron(30 * * * ? *)",
                                    "durationInMinutes": 10}]}, {})}, with_end=False)
        job_id = ids["sc-rollouts"]
        j = self.describe(job_id)
        start = ms(datetime.datetime.fromisoformat(j["schedulingConfig"]["startTime"]).replace(
            tzinfo=datetime.timezone.utc))
        self.assertEqual(j["schedulingConfig"]["maintenanceWindows"],
                         [{"startTime": "cron(30 * * * ? *)", "durationInMinutes": 10}])
        starts = [datetime.datetime.fromisoformat(r["startTime"]).replace(
            tzinfo=datetime.timezone.utc) for r in j["scheduledJobRollouts"]]
        # The next seven :30s from startTime on, an hour apart.
        self.assertEqual(len(starts), 7, j["scheduledJobRollouts"])
        self.assertGreaterEqual(ms(starts[0]), start)
        self.assertLess(ms(starts[0]), start + 3600_000)
        self.assertEqual([b - a for a, b in zip(starts, starts[1:])],
                         [datetime.timedelta(hours=1)] * 6)
        self.assertEqual({(s.minute, s.second) for s in starts}, {(30, 0)})
        self.c.cancel_job(jobId=job_id)

    def test_maintenance_windows_hold_the_rollout(self):
        # Windows of 5 minutes every 10 (one second of wall time), at most 1 execution a minute:
        # a burst of 1 and one a minute gives at most 6 per window, so 16 things need several.
        cycle_ms, open_ms, things = 10 * 60_000, 5 * 60_000, self.things("sc-w", 16)
        before = self.service_now_ms()
        wall = time.monotonic()
        self.c.create_job(
            jobId="sc-windows", targets=[thing_arn(t) for t in things], document=DOCUMENT,
            jobExecutionsRolloutConfig={"maximumPerMinute": 1},
            schedulingConfig={"maintenanceWindows": [
                {"startTime": "cron(0/10 * * * ? *)", "durationInMinutes": 5}]})
        # DescribeJob lists the next seven window starts.
        j = self.describe("sc-windows")
        after = before + (time.monotonic() - wall + 1) * self.SCALE * 1000
        starts = [ms(datetime.datetime.fromisoformat(r["startTime"]).replace(
            tzinfo=datetime.timezone.utc)) for r in j["scheduledJobRollouts"]]
        self.assertEqual(len(starts), 7, j["scheduledJobRollouts"])
        self.assertGreater(starts[0], before)
        self.assertLessEqual(starts[0], after + cycle_ms)
        self.assertEqual([b - a for a, b in zip(starts, starts[1:])], [cycle_ms] * 6)
        self.assertEqual({s % cycle_ms for s in starts}, {0})

        # Sample the status while the rollout runs: IN_PROGRESS inside windows, SCHEDULED between.
        seen = []
        deadline = time.monotonic() + 60
        while True:
            j = self.describe("sc-windows")
            created = sum(j["jobProcessDetails"][k] for k in COUNTERS)
            seen.append((j["status"], created))
            if created == len(things) and not j["jobProcessDetails"]["processingTargets"]:
                break
            self.assertLess(time.monotonic(), deadline, f"rollout did not finish: {seen[-5:]}")
            time.sleep(0.02)
        times = sorted(ms(e["jobExecutionSummary"]["queuedAt"])
                       for e in self.executions("sc-windows"))
        self.assertEqual(len(times), len(things))
        self.assertEqual([iso(t) for t in times if t % cycle_ms >= open_ms], [],
                         "executions created outside every maintenance window")
        windows = sorted({t // cycle_ms for t in times})
        per_window = [sum(1 for t in times if t // cycle_ms == w) for w in windows]
        self.assertGreaterEqual(len(windows), 3, "the rollout was not held between windows")
        self.assertLessEqual(max(per_window), 6, per_window)
        self.assertIn("SCHEDULED", [s for s, c in seen if 0 < c < len(things)],
                      "never saw the job SCHEDULED between windows")
        self.assertIn("IN_PROGRESS", [s for s, c in seen if 0 < c < len(things)],
                      "never saw the job IN_PROGRESS inside a window")
        print(f"\n  maintenance windows: executions per window {per_window}", flush=True)

    def test_issue_no_execution_as_a_window_closes(self):
        # Regression: the scheduler read the jobs' rollout work before applying the schedules, so
        # in the tick that closed a window (job → SCHEDULED) it still created executions, queued
        # at the closing instant or after. At 60 a minute one is nearly always due then.
        cycle_ms, open_ms, things = 2 * 60_000, 60_000, self.things("sc-x", 120)
        self.c.create_job(
            jobId="sc-closing", targets=[group_arn("sc-x")], document=DOCUMENT,
            jobExecutionsRolloutConfig={"maximumPerMinute": 60},
            schedulingConfig={"maintenanceWindows": [
                {"startTime": "cron(0/2 * * * ? *)", "durationInMinutes": 1}]})
        self.wait_until(lambda: self.describe("sc-closing"),
                        lambda j: sum(j["jobProcessDetails"][k] for k in COUNTERS) == len(things),
                        "sc-closing to roll out", timeout_s=60)
        times = sorted(ms(e["jobExecutionSummary"]["queuedAt"])
                       for e in self.executions("sc-closing"))
        self.assertEqual([iso(t) for t in times if t % cycle_ms >= open_ms], [],
                         "executions created outside every maintenance window")
        self.assertGreaterEqual(len({t // cycle_ms for t in times}), 2)

    def test_issue_failures_between_windows_are_retried_and_abort(self):
        # Regression: after a terminal update the store applied retries and abort criteria only
        # to IN_PROGRESS jobs, so a job SCHEDULED between maintenance windows neither retried a
        # FAILED execution nor aborted, however many failed.
        cycle_ms, open_ms = 10 * 60_000, 5 * 60_000
        windows = {"maintenanceWindows": [
            {"startTime": "cron(0/10 * * * ? *)", "durationInMinutes": 5}]}
        retry, abort = "sc-between-retry", "sc-between-abort"
        self.c.create_job(jobId=retry, targets=[thing_arn("sc-b-000")], document=DOCUMENT,
                          schedulingConfig=windows, jobExecutionsRetryConfig={"criteriaList": [
                              {"failureType": "FAILED", "numberOfRetries": 1}]})
        self.c.create_job(jobId=abort, targets=[thing_arn("sc-b-001"), thing_arn("sc-b-002")],
                          document=DOCUMENT, schedulingConfig=windows, abortConfig={
                              "criteriaList": [{"failureType": "FAILED", "action": "CANCEL",
                                                "thresholdPercentage": 50,
                                                "minNumberOfExecutedThings": 1}]})
        # The devices start their executions inside a window (between windows a SCHEDULED job
        # has nothing pending for them)...
        for job_id, thing in ((retry, "sc-b-000"), (abort, "sc-b-001"), (abort, "sc-b-002")):
            self.wait_until(lambda: self.start_next(thing), lambda e: e and e["jobId"] == job_id,
                            f"{thing} to start its execution of {job_id}")
        # ...and fail them after it has closed.
        for job_id in (retry, abort):
            self.wait_until(lambda: self.describe(job_id)["status"], lambda s: s == "SCHEDULED",
                            f"{job_id} to be SCHEDULED between windows")
        self.report(retry, "sc-b-000", "FAILED")
        self.report(abort, "sc-b-001", "FAILED")
        for job_id, thing in ((retry, "sc-b-000"), (abort, "sc-b-001")):
            failed_at = ms(self.execution(job_id, thing, 1)["lastUpdatedAt"])
            self.assertGreaterEqual(failed_at % cycle_ms, open_ms, "failed inside a window")
        self.assertEqual(self.history(retry, "sc-b-000"), [(1, "FAILED", 0), (2, "QUEUED", 1)])
        j = self.describe(abort)
        self.assertEqual((j["status"], j.get("reasonCode")), ("CANCELED", "ABORT_CRITERIA_MET"))
        self.assertEqual(self.execution(abort, "sc-b-002")["status"], "IN_PROGRESS")
        self.c.cancel_job(jobId=retry)

    @staticmethod
    def things(prefix, n):
        return [f"{prefix}-{i:03d}" for i in range(n)]


if __name__ == "__main__":
    unittest.main()
