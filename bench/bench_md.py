#!/usr/bin/env python3
"""BENCHMARKS.md plumbing shared by the bench scripts (Python 3 standard library only).

Each script owns one section of BENCHMARKS.md between `<!-- NAME:begin -->` and
`<!-- NAME:end -->` and leaves every other section alone; `write_section` is the one place that
replaces (or adds) such a section. `goal_mark` is the one format of the goal column, so a missed
goal reads the same in every table: `✅ ≥ 100,000/s` when met, `❌ 8,100/s (goal ≥ 10,000/s)`
when not.

As a command (for shell scripts):
  python3 bench/bench_md.py section --name NAME --output FILE [--first] < SECTION
reads a section, markers included, from stdin and writes it into FILE.
"""
import argparse
import os
import re
import sys

INTRO = ("# Benchmarks\n\nFigures are written by the scripts in `bench/`; each owns the section "
         "between its markers.\n\n")

_OPS = {"≥": lambda v, t: v >= t, "≤": lambda v, t: v <= t}


def goal_mark(value, op, target, value_text, target_text, label=""):
    """The goal column: `✅ {label}{op} {target_text}` when value meets the goal, else
    `❌ {value_text} (goal {label}{op} {target_text})`. op is "≥" or "≤"; a value of None (the
    figure could not be taken) is a miss."""
    ok = value is not None and _OPS[op](value, target)
    if ok:
        return f"✅ {label}{op} {target_text}"
    return f"❌ {value_text} (goal {label}{op} {target_text})"


def write_section(path, name, section, first=False):
    """Replaces the section between NAME's markers in the file at path with `section` (which
    carries the markers itself). A file without them gets it appended, or with first=True put
    before every other section (after the title and intro). A missing file starts from INTRO."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    if not (section.startswith(begin) and section.rstrip("\n").endswith(end)):
        raise ValueError(f"section must start with {begin} and end with {end}")
    section = section.rstrip("\n") + "\n"
    text = open(path).read() if os.path.exists(path) else INTRO
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    elif first and (at := text.find("<!-- ")) >= 0:
        text = text[:at] + section + "\n" + text[at:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(text)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("section", help="write the section on stdin into --output")
    s.add_argument("--name", required=True)
    s.add_argument("--output", required=True)
    s.add_argument("--first", action="store_true", help="a new section goes before the others")
    args = p.parse_args()
    write_section(args.output, args.name, sys.stdin.read(), first=args.first)


if __name__ == "__main__":
    main()
