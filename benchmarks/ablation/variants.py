"""The ablation's contenders: the full service, and one variant per speed trick, each with that
trick replaced by the plain, library-based way of doing the same thing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from benchmarks.ablation import interceptors, metrics, pool, responses

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import ExitStack

    from benchmarks.ablation.check import Check

FULL = "full"
"""The service as it ships, every trick in place."""


@dataclass(frozen=True, slots=True)
class Variant:
    """The service with one `trick` replaced by `replacement`, both in words for the report;
    `install` makes the replacement (see `benchmarks.ablation.serve`)."""

    name: str
    trick: str
    replacement: str
    install: Callable[[ExitStack], Check]


VARIANTS = {
    variant.name: variant
    for variant in (
        Variant(
            "thread-pool-executor",
            "worker pool (`WorkerPool`)",
            "`concurrent.futures.ThreadPoolExecutor(max_workers=RECOMMENDATIONS_WORKERS)`",
            pool.install,
        ),
        Variant(
            "built-responses",
            "pre-encoded responses",
            "response messages built per call, serialized by grpcio",
            responses.install,
        ),
        Variant(
            "prometheus-metrics",
            "hand-written metrics collector (`ServerMetrics`)",
            "prometheus-client `Counter`/`Histogram`/`Gauge`, updated per call",
            metrics.install,
        ),
        Variant(
            "grpc-interceptors",
            "interceptors composed at registration (`apply_interceptors`)",
            "the same interceptors per call in `grpc.server(interceptors=...)`",
            interceptors.install,
        ),
    )
}
"""Every variant, by name."""
