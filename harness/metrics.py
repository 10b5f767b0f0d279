"""Reading Prometheus counters from a /metrics page."""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True, slots=True)
class Sample:
    """One sample of a scrape: its full name (with suffix), its labels and its value."""

    name: str
    labels: dict[str, str]
    value: float


def scrape(url: str, *, timeout: float = 5) -> list[Sample]:
    """Every sample the /metrics page at `url` shows."""
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback URL)
        return parse(response.read().decode())


def parse(text: str) -> list[Sample]:
    """Every sample of a page in Prometheus's text format."""
    return [
        Sample(sample.name, dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def by_label(samples: list[Sample], name: str, label: str, **match: str) -> dict[str, float]:
    """The values of the samples called `name` whose labels include `match`, keyed by `label`.

    Samples with the same `label` value (differing in other labels) are added up.
    """
    totals: dict[str, float] = {}
    for sample in samples:
        if sample.name != name or any(sample.labels.get(k) != v for k, v in match.items()):
            continue
        key = sample.labels.get(label, "")
        totals[key] = totals.get(key, 0.0) + sample.value
    return totals


def difference(after: dict[str, float], before: dict[str, float]) -> dict[str, int]:
    """`after - before` per key, leaving out keys that did not change."""
    keys = set(after) | set(before)
    changes = {k: round(after.get(k, 0.0) - before.get(k, 0.0)) for k in keys}
    return {k: v for k, v in sorted(changes.items()) if v}
