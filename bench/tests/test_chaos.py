"""bench/chaos.py's pure parts: the ledger comparison, percentiles, the fleet-vs-service
agreement, the MQTT probe's packet encoding and RELIABILITY.md's chaos section, written beside
another script's section (ctest: bench_chaos). No server; well under a second."""
import copy
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bench_md import write_section  # noqa: E402
from chaos import (Ledger, _mqtt_packet, compare_ledger, fleet_agreement,  # noqa: E402
                   percentile, section, summarize)


def ledger_of():
    led = Ledger()
    led.thing("t1")
    led.thing("t2")
    led.job("j1")
    led.update("t1", "j1", 2, "IN_PROGRESS", {"step": "1"})
    led.update("t1", "j1", 3, "IN_PROGRESS", {"step": "2"})
    led.update("t2", "j1", 4, "SUCCEEDED", {"step": "3"})
    return led


class LedgerTest(unittest.TestCase):
    def test_everything_present_is_nothing_lost(self):
        led = ledger_of()
        stored = {("t1", "j1"): (3, "IN_PROGRESS", {"step": "2"}),
                  ("t2", "j1"): (4, "SUCCEEDED", {"step": "3"})}
        out = compare_ledger(led, {"t1", "t2"}, {"j1"}, stored)
        self.assertEqual((out["checked"], out["lost"]), (6, 0), out)
        self.assertEqual(out["examples"], [])

    def test_a_later_version_than_acknowledged_is_not_a_loss(self):
        # An update whose answer was lost (the kill) may have been applied after the last ack.
        led = ledger_of()
        stored = {("t1", "j1"): (4, "SUCCEEDED", {"step": "3"}),
                  ("t2", "j1"): (4, "SUCCEEDED", {"step": "3"})}
        self.assertEqual(compare_ledger(led, {"t1", "t2"}, {"j1"}, stored)["lost"], 0)

    def test_each_kind_of_loss_is_counted_and_named(self):
        led = ledger_of()
        led.update("t3", "j1", 2, "IN_PROGRESS", {})
        stored = {("t1", "j1"): (2, "IN_PROGRESS", {"step": "1"}),   # version went back
                  ("t2", "j1"): (5, "FAILED", {}),                    # terminal changed
                  ("t3", "j1"): None}                                 # gone
        out = compare_ledger(led, {"t1"}, set(), stored)
        self.assertEqual(out["lost"], 5, out)  # thing t2, job j1, three executions
        self.assertEqual(out["updates_lost_at_least"], 3)
        text = "\n".join(out["examples"])
        for part in ("thing t2", "job j1", "version 2 < acknowledged 3",
                     "FAILED after acknowledged terminal SUCCEEDED", "not found"):
            self.assertIn(part, text)

    def test_same_version_different_content_is_a_loss(self):
        led = ledger_of()
        stored = {("t1", "j1"): (3, "IN_PROGRESS", {"step": "9"}),
                  ("t2", "j1"): (4, "SUCCEEDED", {"step": "3"})}
        self.assertEqual(compare_ledger(led, {"t1", "t2"}, {"j1"}, stored)["lost"], 1)

    def test_the_ledger_keeps_the_newest_ack(self):
        led = Ledger()
        led.update("t", "j", 3, "IN_PROGRESS", {})
        led.update("t", "j", 2, "IN_PROGRESS", {})  # a late, older answer
        self.assertEqual(led.executions[("t", "j")][0], 3)
        self.assertEqual((led.updates, led.acknowledged()), (2, 2))


class PercentileTest(unittest.TestCase):
    def test_nearest_rank(self):
        v = list(range(1, 101))
        self.assertEqual((percentile(v, 50), percentile(v, 99), percentile(v, 100)), (50, 99, 100))
        self.assertEqual(percentile([3.0, 1.0, 2.0], 50), 2.0)
        self.assertEqual(percentile([5], 99), 5)
        self.assertIsNone(percentile([], 50))

    def test_summary_leaves_out_misses(self):
        self.assertEqual(summarize([0.2, None, 0.1, 0.4]), {"n": 3, "p50": 0.2, "p99": 0.4,
                                                            "max": 0.4})
        self.assertEqual(summarize([None]), {"n": 0, "p50": None, "p99": None, "max": None})


SERVICE = {"succeeded": 80, "failed": 5, "rejected": 0, "timed_out": 3, "in_progress": 0,
           "queued": 0}


class FleetAgreementTest(unittest.TestCase):
    def test_retried_failures_are_counted_through_retry_attempts(self):
        fleet = {"succeeded": 80, "failed": 12, "rejected": 0, "hung": 3, "notified": 100}
        out = fleet_agreement(fleet, SERVICE, retries=7)
        self.assertTrue(out["agree"], out)

    def test_a_difference_is_a_disagreement(self):
        fleet = {"succeeded": 79, "failed": 12, "rejected": 0, "hung": 3}
        out = fleet_agreement(fleet, SERVICE, retries=7, update_timeouts=1)
        self.assertFalse(out["agree"])
        self.assertTrue(out["explained"], out)  # one final update's reply never arrived
        self.assertFalse(fleet_agreement(fleet, SERVICE, 7, update_timeouts=0)["explained"])
        ahead = dict(fleet, succeeded=81)  # the fleet counting more than the service: never
        self.assertFalse(fleet_agreement(ahead, SERVICE, 7, update_timeouts=5)["explained"])

    def test_open_executions_are_a_disagreement(self):
        fleet = {"succeeded": 80, "failed": 12, "rejected": 0, "hung": 3}
        out = fleet_agreement(fleet, dict(SERVICE, queued=1), retries=7)
        self.assertFalse(out["agree"])
        self.assertFalse(out["explained"])


class MqttPacketTest(unittest.TestCase):
    def test_remaining_length_is_a_varint(self):
        self.assertEqual(_mqtt_packet(0x30, b"x" * 5)[:2], b"\x30\x05")
        self.assertEqual(_mqtt_packet(0x30, b"x" * 200)[:3], b"\x30\xc8\x01")
        self.assertEqual(len(_mqtt_packet(0x30, b"x" * 20000)), 20000 + 4)


def results():
    rec = [{"scenario": "fleet", "http_s": 0.05 * (i + 1), "mqtt_s": 0.1 * (i + 1)}
           for i in range(21)]
    return {
        "seed": 42, "recovery_bound_s": 20, "seconds": 300.0, "mosquitto_version": "mosquitto 2",
        "recoveries": rec, "start_failures": 0, "mqtt_remedial_restarts": 0,
        "faults": {"kill -9 iotjobsd (fleet)": 8, "kill -9 iotjobsd (registration)": 6,
                   "kill -9 iotjobsd (materialisation)": 6, "kill -9 iotjobsd (final check)": 1,
                   "Mosquitto killed (-9) and restarted on its port": 3,
                   "disk full (tmpfs of 24 MiB)": 1},
        "ledger": {"checked": 9000, "lost": 0, "examples": [], "things": 100, "jobs": 900,
                   "updates": 8000},
        "fleet": {"devices": 200, "jobs": 3, "kills": 8, "broker_restarts": 3, "broker_back": 3,
                  "agreement": fleet_agreement({"succeeded": 80, "failed": 12, "rejected": 0,
                                                "hung": 3}, SERVICE, 7),
                  "summary": "80 succeeded"},
        "registration": {"tasks": 3, "lines": 30000, "kills": 6, "complete": 3, "mid_task": 5},
        "materialise": {"things": 10000, "jobs": 6, "kills": 6, "exact": 6, "mid_job": 4},
        "disk": {"mode": "tmpfs of 24 MiB", "refused": 20, "first_error": "500 x: disk full",
                 "clear_error": True, "acknowledged": 30, "lost": 0, "recovered_s": 0.3,
                 "note": "ok"},
    }


ENV = {"COMMAND": "bench/chaos.sh --seed 42", "DATE": "2026-12-03 14:00 UTC",
       "COMMIT": "abc123", "NPROC": "2", "MODEL": "cpu", "KERNEL": "6", "MOTO_VERSION": "5"}


class SectionTest(unittest.TestCase):
    def test_a_clean_run_has_no_miss(self):
        text = section(results(), ENV)
        self.assertTrue(text.startswith("<!-- chaos:begin -->"))
        self.assertTrue(text.endswith("<!-- chaos:end -->"))
        self.assertNotIn("❌", text)
        for part in ("bench/chaos.sh --seed 42", "seed 42", "abc123", "9,000 / 0",
                     "| kill -9 iotjobsd (fleet) | 8 |", "yes: 21 of 21",
                     "0.55 s / 1.05 s / 1.05 s", "1.10 s / 2.10 s / 2.10 s", "2026-12-03 14:00 UTC",
                     "21 `kill -9` of iotjobsd, 20 of them at instants drawn"):
            self.assertIn(part, text)

    def test_fleet_rows_three_forms(self):
        r = results()
        self.assertIn("| ✅ equal |", section(r, ENV))
        behind = {"succeeded": 79, "failed": 12, "rejected": 0, "hung": 3}
        r["fleet"]["agreement"] = fleet_agreement(behind, SERVICE, 7, update_timeouts=1)
        text = section(r, ENV)
        self.assertIn("service ahead only by updates whose reply a device never got (1", text)
        self.assertIn("| ✅ equal but for lost replies |", text)
        r["fleet"]["agreement"] = fleet_agreement(behind, SERVICE, 7, update_timeouts=0)
        text = section(r, ENV)
        self.assertIn("service ahead NOT only by", text)
        self.assertIn("| ❌ equal |", text)

    def test_mqtt_not_back_and_lost_writes_are_misses_with_counts(self):
        r = results()
        r["recoveries"][3]["mqtt_s"] = None
        r["recoveries"][9]["mqtt_s"] = None
        r["ledger"].update(lost=2, examples=["thing x acknowledged, not found"])
        text = section(r, ENV)
        self.assertIn("no: 19 of 21 | ❌ 19/21", text)
        self.assertIn("❌ 2 not back (goal ≤ 20 s)", text)  # not a max over the others
        self.assertIn("❌ 2 lost (goal ≤ 0 lost)", text)
        self.assertIn("thing x acknowledged, not found", text)
        self.assertIn("over 19 |", text)  # percentiles over the restarts MQTT came back from

    def test_the_section_goes_beside_another_scripts_section(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "RELIABILITY.md")
            with open(path, "w") as f:
                f.write("# Reliability\n\n<!-- fuzz:begin -->\nF\n<!-- fuzz:end -->\n")
            write_section(path, "chaos", section(results(), ENV))
            r = copy.deepcopy(results())
            r["seed"] = 7
            write_section(path, "chaos", section(r, ENV))  # replaced, not appended again
            with open(path) as f:
                text = f.read()
        self.assertIn("<!-- fuzz:begin -->\nF\n<!-- fuzz:end -->", text)
        self.assertEqual(text.count("<!-- chaos:begin -->"), 1)
        self.assertIn("seed 7", text)


if __name__ == "__main__":
    unittest.main()
