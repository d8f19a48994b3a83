"""bench/bench_md.py: the goal column's two forms, and a section replaced, appended or put first
without touching the others (ctest: bench_bench_md)."""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bench_md import goal_mark, write_section  # noqa: E402


class GoalMarkTest(unittest.TestCase):
    def test_met_goal_shows_the_goal(self):
        self.assertEqual(goal_mark(12000, "≥", 10000, "12,000/s", "10,000/s"), "✅ ≥ 10,000/s")
        self.assertEqual(goal_mark(5.0, "≤", 5.0, "5.00 s", "5 s"), "✅ ≤ 5 s")

    def test_missed_goal_shows_the_figure_and_the_goal(self):
        self.assertEqual(goal_mark(8100, "≥", 10000, "8,100/s", "10,000/s"),
                         "❌ 8,100/s (goal ≥ 10,000/s)")
        self.assertEqual(goal_mark(7.2, "≤", 5, "p99 7.20 ms", "5 ms", label="p99 "),
                         "❌ p99 7.20 ms (goal p99 ≤ 5 ms)")
        self.assertEqual(goal_mark(None, "≤", 5, "not measured", "5 s"),
                         "❌ not measured (goal ≤ 5 s)")


class WriteSectionTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "BENCHMARKS.md")

    def tearDown(self):
        self.dir.cleanup()

    def read(self):
        with open(self.path) as f:
            return f.read()

    def test_new_file_then_append_replace_and_first(self):
        write_section(self.path, "a", "<!-- a:begin -->\nA1\n<!-- a:end -->")
        write_section(self.path, "b", "<!-- b:begin -->\nB1\n<!-- b:end -->\n")
        write_section(self.path, "a", "<!-- a:begin -->\nA2\n<!-- a:end -->\n")
        write_section(self.path, "top", "<!-- top:begin -->\nT\n<!-- top:end -->\n", first=True)
        text = self.read()
        self.assertTrue(text.startswith("# Benchmarks\n"))
        self.assertNotIn("A1", text)
        self.assertLess(text.index("<!-- top:begin -->"), text.index("<!-- a:begin -->"))
        self.assertLess(text.index("A2"), text.index("B1"))
        self.assertEqual(text.count("<!-- a:begin -->"), 1)
        write_section(self.path, "top", "<!-- top:begin -->\nT2\n<!-- top:end -->\n", first=True)
        self.assertEqual(self.read(), text.replace("\nT\n", "\nT2\n"))

    def test_a_section_without_its_markers_is_refused(self):
        with self.assertRaises(ValueError):
            write_section(self.path, "a", "<!-- b:begin -->\nx\n<!-- b:end -->\n")
        self.assertFalse(os.path.exists(self.path))


if __name__ == "__main__":
    unittest.main()
