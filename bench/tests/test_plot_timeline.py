"""bench/plot_timeline.py: a synthetic timeline renders to well-formed SVG with one line per
series and the dashed curve; per-minute sums are exact. Standard library only, well under a
second (ctest: bench_plot_timeline)."""
import json
import os
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

BENCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, BENCH)
import plot_timeline  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"


def synthetic(buckets=40, bucket_ms=100):
    """Ten buckets of 100 ms per plotted minute of 1000 ms (a service at --time-scale 60)."""
    notified = [3 * (i // 10 + 1) for i in range(buckets)]  # 30, 60, 90, 120 per minute
    return {
        "devices": 300,
        "timeline": {
            "start_unix_ms": 1764200000000,
            "bucket_ms": bucket_ms,
            "notified": notified,
            "started": [max(0, n - 1) for n in notified],
            "succeeded": [max(0, n - 2) for n in notified],
            "failed": [1 if i % 5 == 0 else 0 for i in range(buckets)],
            "rejected": [1 if i % 7 == 0 else 0 for i in range(buckets)],
            "hung": [0] * buckets,
        },
    }


def polylines(root):
    return {p.get("data-series"): p for p in root.iter(SVG + "polyline")}


class PlotTimelineTest(unittest.TestCase):
    def test_svg_has_one_line_per_series_and_the_dashed_curve(self):
        data = synthetic()
        svg = plot_timeline.render(data, minute_ms=1000, curve=[30, 60, 120, 120],
                                   title="Rollout <test> & co")
        root = ET.fromstring(svg)  # well-formed, title escaped
        self.assertEqual(root.tag, SVG + "svg")
        lines = polylines(root)
        series = [k for k in data["timeline"] if isinstance(data["timeline"][k], list)]
        self.assertEqual(sorted(lines), sorted(series + ["curve"]))
        self.assertEqual(len(list(root.iter(SVG + "polyline"))), len(series) + 1)
        self.assertEqual(lines["curve"].get("stroke-dasharray"), "6 4")
        for key in series:
            self.assertIsNone(lines[key].get("stroke-dasharray"), key)
        texts = ["".join(t.itertext()) for t in root.iter(SVG + "text")]
        self.assertIn("Rollout <test> & co", texts)
        self.assertIn("executions per minute", texts)
        self.assertIn("minute (scaled)", texts)
        self.assertIn("configured rollout (allowed)", texts)
        self.assertIn("notified (300)", texts)  # legend with the total
        self.assertTrue(any("1 plotted minute = 1,000 ms" in t for t in texts))

    def test_step_line_has_two_points_per_minute_and_the_curve_holds_its_last_value(self):
        svg = plot_timeline.render(synthetic(buckets=60), minute_ms=1000, curve=[30, 60])
        lines = polylines(ET.fromstring(svg))
        for key, line in lines.items():
            self.assertEqual(len(line.get("points").split()), 2 * 6, key)  # 6 minutes
        curve_y = [float(p.split(",")[1]) for p in lines["curve"].get("points").split()]
        self.assertEqual(len(set(curve_y[2:])), 1)  # 60 from minute 1 to the end
        self.assertEqual(curve_y[2], curve_y[-1])

    def test_per_minute_sums_buckets_and_splits_straddling_ones(self):
        self.assertEqual(plot_timeline.per_minute([1, 2, 3, 4], 500, 1000), [3, 7])
        self.assertEqual(plot_timeline.per_minute([1, 2, 3], 500, 1000), [3, 3])
        # 1500 ms buckets over 1000 ms minutes: the second bucket is shared half and half.
        self.assertEqual(plot_timeline.per_minute([6, 6], 1500, 1000), [4, 4, 4])
        self.assertEqual(plot_timeline.per_minute([], 1000, 1000), [])

    def test_empty_timeline_renders(self):
        data = {"timeline": {"start_unix_ms": 0, "bucket_ms": 1000, "notified": []}}
        root = ET.fromstring(plot_timeline.render(data))
        self.assertEqual(sorted(polylines(root)), ["notified"])

    def test_command_line_reads_fleet_json_and_writes_the_file(self):
        with tempfile.TemporaryDirectory() as d:
            src, out = os.path.join(d, "fleet.json"), os.path.join(d, "timeline.svg")
            with open(src, "w") as f:
                json.dump(synthetic(), f)
            subprocess.run(
                [sys.executable, os.path.join(BENCH, "plot_timeline.py"), src, "--out", out,
                 "--minute-ms", "1000", "--curve", "30,60,120,120", "--title", "t"],
                check=True)
            lines = polylines(ET.parse(out).getroot())
            self.assertIn("curve", lines)
            self.assertEqual(len(lines), 7)
            bad = subprocess.run(
                [sys.executable, os.path.join(BENCH, "plot_timeline.py"), src, "--out", out,
                 "--curve", "30,x"], capture_output=True, text=True)
            self.assertNotEqual(bad.returncode, 0)
            self.assertIn("--curve", bad.stderr)


if __name__ == "__main__":
    unittest.main()
