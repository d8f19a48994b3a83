#!/usr/bin/env python3
"""Draws a rollout timeline as an SVG (Python 3 standard library only: the SVG is written by hand).

Input: the JSON of `iotjobs fleet --json` (or any JSON with the same "timeline" object, or that
object alone):
  {"timeline": {"start_unix_ms": 1764200000000, "bucket_ms": 1000,
                "notified": [..], "started": [..], "succeeded": [..], "failed": [..],
                "rejected": [..], "hung": [..]}, ...}
Each list holds the number of events in each bucket of bucket_ms real milliseconds (not running
totals). They are summed into plotted minutes of --minute-ms real milliseconds each (1000 for a
service at --time-scale 60; a bucket that straddles two minutes is shared in proportion), and
drawn as one step line per series: x is the minute, y the events in that minute. --curve gives
the configured rollout allowance per minute ("30,60,120,120"), drawn dashed; after its last entry
it stays at that value. Lists of other names in "timeline" are drawn too, in further colours.

Usage: bench/plot_timeline.py [INPUT.json|-] --out FILE.svg [--minute-ms N] [--curve "a,b,c"]
                              [--title TEXT]
"""
import argparse
import datetime
import json
import math
import sys
from xml.sax.saxutils import escape, quoteattr

# Series in drawing and legend order: (key in the timeline, legend label, colour).
KNOWN_SERIES = [
    ("notified", "notified", "#1f77b4"),
    ("started", "in progress (started)", "#ff7f0e"),
    ("succeeded", "succeeded", "#2ca02c"),
    ("failed", "failed", "#d62728"),
    ("rejected", "rejected", "#9467bd"),
    ("timed_out", "timed out", "#8c564b"),
    ("hung", "hung (never answered)", "#7f7f7f"),
]
OTHER_COLOURS = ["#e377c2", "#bcbd22", "#17becf", "#aec7e8", "#ffbb78"]
CURVE_COLOUR = "#000000"
# Keys of the timeline that are not further series.
NOT_EXTRA = {"start_unix_ms", "bucket_ms"} | {key for key, _, _ in KNOWN_SERIES}

# Geometry (SVG user units = px).
WIDTH, HEIGHT = 1000, 540
LEFT, RIGHT, TOP, BOTTOM = 80, 270, 70, 70


def series_of(timeline):
    """[(key, label, colour, counts)] for every list in the timeline, known series first."""
    out, extra = [], 0
    for key, label, colour in KNOWN_SERIES:
        if isinstance(timeline.get(key), list):
            out.append((key, label, colour, timeline[key]))
    for key, value in timeline.items():
        if key in NOT_EXTRA:
            continue
        if isinstance(value, list):
            out.append((key, key.replace("_", " "), OTHER_COLOURS[extra % len(OTHER_COLOURS)], value))
            extra += 1
    return out


def per_minute(counts, bucket_ms, minute_ms):
    """Sums per-bucket counts into plotted minutes; a bucket straddling minutes is split in
    proportion to its overlap with each."""
    if bucket_ms <= 0 or minute_ms <= 0:
        raise ValueError("bucket_ms and minute_ms must be positive")
    minutes = math.ceil(len(counts) * bucket_ms / minute_ms) if counts else 0
    out = [0.0] * minutes
    for i, c in enumerate(counts):
        if not c:
            continue
        begin, end = i * bucket_ms, (i + 1) * bucket_ms
        m = begin // minute_ms
        while m * minute_ms < end:
            overlap = min(end, (m + 1) * minute_ms) - max(begin, m * minute_ms)
            out[m] += c * overlap / bucket_ms
            m += 1
    return out


def nice_step(span, target_ticks):
    """A 1, 2 or 5 times a power of ten step giving about target_ticks ticks over span."""
    if span <= 0:
        return 1
    raw = span / max(1, target_ticks)
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * power >= raw:
            return m * power
    return 10 * power


def fmt(v):
    return f"{v:,.0f}" if abs(v - round(v)) < 1e-9 else f"{v:,.1f}"


def render(data, minute_ms=60000, curve=None, title=None):
    """Returns the SVG document (a str) for the timeline in `data` (see the module docstring)."""
    timeline = data.get("timeline", data)
    bucket_ms = timeline["bucket_ms"]
    series = [(k, label, colour, per_minute(counts, bucket_ms, minute_ms))
              for k, label, colour, counts in series_of(timeline)]
    curve = list(curve or [])
    minutes = max([len(s[3]) for s in series] + [len(curve), 1])
    top_value = max([v for s in series for v in s[3]] + curve + [1])
    y_step = nice_step(top_value, 6)
    y_max = math.ceil(top_value / y_step) * y_step
    x_step = max(1, nice_step(minutes, 12))

    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(m):
        return LEFT + plot_w * m / minutes

    def y(v):
        return TOP + plot_h * (1 - v / y_max)

    def steps(values):
        """A step line: each minute's value held across that minute."""
        pts = []
        for m, v in enumerate(values):
            pts += [(x(m), y(v)), (x(m + 1), y(v))]
        return " ".join(f"{px:.1f},{py:.1f}" for px, py in pts)

    title = title or "Rollout timeline"
    start_ms = timeline.get("start_unix_ms")
    subtitle = []
    if start_ms is not None:
        start = datetime.datetime.fromtimestamp(start_ms / 1000, datetime.timezone.utc)
        subtitle.append(f"start {start:%Y-%m-%d %H:%M:%S} UTC")
    subtitle.append(f"buckets of {bucket_ms:,} ms")
    if minute_ms != 60000:
        subtitle.append(f"1 plotted minute = {minute_ms:,} ms of real time")

    o = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{LEFT}" y="28" font-size="18" font-weight="bold">{escape(title)}</text>',
        f'<text x="{LEFT}" y="48" fill="#555555">{escape("; ".join(subtitle))}</text>',
        '<g class="grid" stroke="#dddddd" stroke-width="1">',
    ]
    y_ticks = [i * y_step for i in range(int(round(y_max / y_step)) + 1)]
    x_ticks = list(range(0, minutes + 1, x_step))
    o += [f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>'
          for v in y_ticks]
    o.append("</g>")
    # Axes, ticks and labels.
    o.append('<g class="axes" stroke="#000000" stroke-width="1">')
    o.append(f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_h}"/>')
    o.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{TOP + plot_h}" y2="{TOP + plot_h}"/>')
    o += [f'<line x1="{x(m):.1f}" x2="{x(m):.1f}" y1="{TOP + plot_h}" y2="{TOP + plot_h + 5}"/>'
          for m in x_ticks]
    o += [f'<line x1="{LEFT - 5}" x2="{LEFT}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>' for v in y_ticks]
    o.append("</g>")
    o.append('<g class="tick-labels">')
    o += [f'<text x="{x(m):.1f}" y="{TOP + plot_h + 20}" text-anchor="middle">{m}</text>'
          for m in x_ticks]
    o += [f'<text x="{LEFT - 8}" y="{y(v) + 4:.1f}" text-anchor="end">{fmt(v)}</text>'
          for v in y_ticks]
    o.append("</g>")
    x_label = "minute" + (" (scaled)" if minute_ms != 60000 else "")
    o.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 20}" text-anchor="middle">'
             f"{escape(x_label)}</text>")
    o.append(f'<text transform="translate(22 {TOP + plot_h / 2:.1f}) rotate(-90)" '
             'text-anchor="middle">executions per minute</text>')

    legend = []
    # Lines that coincide (every notified device starts at once) would hide the one drawn first:
    # the earlier a series, the wider and paler its line, so it shows beside the later ones.
    for i, (key, label, colour, values) in enumerate(series):
        width, opacity = (5, 0.5) if i == 0 else (3.5, 0.8) if i == 1 else (2, 1)
        o.append(f'<polyline class="series" data-series={quoteattr(key)} fill="none" '
                 f'stroke="{colour}" stroke-width="{width}" stroke-opacity="{opacity}" '
                 f'stroke-linejoin="round" points="{steps(values)}">'
                 f"<title>{escape(label)}</title></polyline>")
        legend.append((label, colour, (width, opacity), sum(values)))
    # The curve last, so its dashes stay visible where a measured line runs along it.
    if curve:
        held = curve + [curve[-1]] * (minutes - len(curve))
        o.append(f'<polyline class="curve" data-series="curve" fill="none" stroke="{CURVE_COLOUR}" '
                 f'stroke-width="1.5" stroke-dasharray="6 4" points="{steps(held)}">'
                 "<title>configured rollout (allowed per minute)</title></polyline>")
        legend.insert(0, ("configured rollout (allowed)", CURVE_COLOUR, None, None))

    o.append('<g class="legend">')
    lx, ly = LEFT + plot_w + 20, TOP + 10
    for i, (label, colour, stroke, total) in enumerate(legend):
        yy = ly + i * 22
        # stroke: (width, opacity) of a series; None for the dashed curve.
        look = ('stroke-width="1.5" stroke-dasharray="6 4"' if stroke is None else
                f'stroke-width="{stroke[0]}" stroke-opacity="{stroke[1]}"')
        o.append(f'<line x1="{lx}" x2="{lx + 28}" y1="{yy}" y2="{yy}" stroke="{colour}" {look}/>')
        text = label if total is None else f"{label} ({fmt(total)})"
        o.append(f'<text x="{lx + 36}" y="{yy + 4}">{escape(text)}</text>')
    o.append("</g>")
    o.append("</svg>")
    return "\n".join(o) + "\n"


def parse_curve(text):
    if not text:
        return []
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise SystemExit(f"plot_timeline.py: --curve wants numbers separated by commas, got {text!r}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("input", nargs="?", default="-", help="JSON file, or - for stdin (default)")
    p.add_argument("--out", required=True, help="the SVG file to write")
    p.add_argument("--minute-ms", type=int, default=60000,
                   help="real milliseconds per plotted minute (1000 at --time-scale 60)")
    p.add_argument("--curve", default="", help='configured allowance per minute, e.g. "30,60,120"')
    p.add_argument("--title", default=None)
    args = p.parse_args(argv)
    if args.minute_ms <= 0:
        p.error("--minute-ms must be positive")
    data = json.load(sys.stdin if args.input == "-" else open(args.input))
    timeline = data.get("timeline", data)
    if not isinstance(timeline.get("bucket_ms"), int) or timeline["bucket_ms"] <= 0:
        p.error("the input has no timeline with a positive bucket_ms")
    svg = render(data, args.minute_ms, parse_curve(args.curve), args.title)
    with open(args.out, "w") as f:
        f.write(svg)


if __name__ == "__main__":
    main()
