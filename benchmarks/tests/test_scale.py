"""The scale benchmark's pure parts: its generated catalogs, its verdicts, its report."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from recommendations.catalog import build_catalog, load_catalog, read_csv
from recommendations.domain import Category

from benchmarks.scale import KINDS, READERS_SIZE, SIZES, TARGET_SIZE, Size, generate_csv, report
from benchmarks.scale import verdicts as scale_verdicts
from benchmarks.targets import missed

if TYPE_CHECKING:
    from pathlib import Path


def _size(*, start_s: float = 1.0, cpu_us: float = 300.0, readers: float = 60.0) -> Size:
    size = Size(start_s, rss_start_mb=55.0, first_call_ms=[1.0, 1.2, 3.0])
    size.cpu_us = {kind: [cpu_us, cpu_us] for kind in KINDS}
    size.rss_readers_mb = readers
    return size


def test_a_generated_catalog_builds_and_loads(tmp_path: Path) -> None:
    books = read_csv(generate_csv(tmp_path / "books.csv", 3_000))
    build_catalog(books, tmp_path / "catalog.sqlite3")
    catalog = load_catalog(tmp_path / "catalog.sqlite3")
    assert len(catalog) == 3_000
    assert {catalog.count(category) for category in Category} == {1_000}


def test_every_target_is_met_by_figures_within_them() -> None:
    sizes = {n: _size() for n in SIZES}
    targets = scale_verdicts(sizes)
    assert len(targets) == 3 + len(KINDS) + 1
    assert missed(targets) is None


def test_a_slow_start_a_costly_call_and_growing_memory_are_missed() -> None:
    sizes = {n: _size() for n in SIZES}
    sizes[TARGET_SIZE] = _size(start_s=6.0, cpu_us=340.0)
    sizes[READERS_SIZE] = _size(readers=80.0)
    problem = missed(scale_verdicts(sizes))
    assert problem is not None
    assert "start to SERVING 6.000 s" in problem
    assert "CPU per call, v2 deep page 1.133 x 196" in problem
    assert "RSS growth over the readers 25.000 MB" in problem


def test_only_the_sizes_measured_are_judged_and_reported() -> None:
    sizes = {196: _size(), 10_000: _size(cpu_us=330.0)}
    assert scale_verdicts(sizes) == []
    args = argparse.Namespace(rounds=2, calls=1_000, readers=500, load=[1.0, 2.0])
    processes = "| processes | calls/s | CPU per call (us) |"
    text = report(sizes, processes, args)
    assert "| 10,000 | 1.0 s | 55 MB | 1.2 ms (max 3.0) | 1.10 / 1.10 / 1.10 | 60 MB |" in text
    assert text.endswith(f"## N processes against one\n\n{processes}\n")
