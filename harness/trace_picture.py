"""A trace as a waterfall picture: each span a bar on a time axis, children under parents.

    python -m harness.trace_picture SPANS.jsonl OUTPUT.png [--trace TRACE_ID]

SPANS.jsonl is what `python -m harness.otlp --output SPANS.jsonl` wrote; without --trace,
the last trace whose root is a page (`GET /`) is drawn. docs/observability.md's picture was made
this way from a `make run` homepage request.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt

from harness.otlp import ReceivedSpan

_COLOURS = {"marketplace": "#4c72b0", "recommendations": "#dd8452"}


def read_spans(path: Path) -> list[ReceivedSpan]:
    """The spans of a JSON-lines file written by the receiver."""
    return [ReceivedSpan(**json.loads(line)) for line in path.read_text().splitlines() if line]


def in_tree_order(spans: list[ReceivedSpan]) -> list[tuple[int, ReceivedSpan]]:
    """(depth, span) of one trace's spans, each parent before its children."""
    children: dict[str, list[ReceivedSpan]] = {}
    for span in spans:
        children.setdefault(span.parent_id, []).append(span)
    ordered: list[tuple[int, ReceivedSpan]] = []
    pending = [(0, root) for root in sorted(children.get("", []), key=lambda s: s.start_ns)]
    while pending:
        depth, span = pending.pop(0)
        ordered.append((depth, span))
        below = sorted(children.get(span.span_id, []), key=lambda s: s.start_ns)
        pending[:0] = [(depth + 1, child) for child in below]
    return ordered


def draw(spans: list[ReceivedSpan], output: Path, title: str) -> None:
    """Draw one trace's spans as a waterfall into `output` (PNG)."""
    rows = in_tree_order(spans)
    start = min(span.start_ns for _, span in rows)
    end = max(span.end_ns for _, span in rows)
    figure, axes = plt.subplots(figsize=(12, 1.2 + 0.8 * len(rows)), dpi=120)
    for row, (_, span) in enumerate(rows):
        left = (span.start_ns - start) / 1e6
        axes.barh(row, span.duration_ms, left=left, height=0.5, color=_COLOURS.get(span.service))
        note = f"{span.duration_ms:.2f} ms  span {span.span_id}  parent {span.parent_id or '-'}"
        axes.text(left + span.duration_ms, row, f"  {note}", fontsize=8, va="center")
    axes.set_yticks(
        range(len(rows)),
        [f"{'   ' * depth}{s.service} {s.kind}\n{'   ' * depth}{s.name}" for depth, s in rows],
        fontsize=8,
    )
    axes.invert_yaxis()
    axes.set_xlim(0, (end - start) / 1e6 * 1.6)
    axes.set_xlabel("milliseconds since the page's span started")
    axes.set_title(title, fontsize=10, loc="left")
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    figure.savefig(output)
    plt.close(figure)


def main() -> int:
    """Draw a trace from a receiver's JSON-lines file."""
    parser = argparse.ArgumentParser(prog="python -m harness.trace_picture", description=__doc__)
    parser.add_argument("spans", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--trace", default=None, help="the trace id (default: the last page)")
    args = parser.parse_args()
    spans = read_spans(args.spans)
    trace_id = args.trace or next(
        s.trace_id for s in reversed(spans) if s.parent_id == "" and s.name == "GET /"
    )
    chosen = [s for s in spans if s.trace_id == trace_id]
    draw(chosen, args.output, f"Trace {trace_id}: one homepage request across both services")
    print(f"wrote {args.output} ({len(chosen)} spans of trace {trace_id})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
