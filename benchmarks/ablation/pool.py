"""Variant: the worker pool replaced by `concurrent.futures.ThreadPoolExecutor`."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING
from unittest import mock

from recommendations import server

from benchmarks.ablation.check import NotInUseError

if TYPE_CHECKING:
    from contextlib import ExitStack

    from recommendations.server import RunningServer

    from benchmarks.ablation.check import Check


class LibraryPool(ThreadPoolExecutor):
    """`ThreadPoolExecutor(max_workers=workers)`, built the way `server.start` builds its pool.

    `spare` does nothing: the watchdog asks for spare threads for calls that wait on their
    clients, which the benchmark's calls never do; the variant measures speed, not that defence.
    """

    def __init__(self, workers: int, *, max_workers: int, thread_name_prefix: str = "") -> None:
        del max_workers  # the pool's ceiling for spare threads, which this pool never starts
        super().__init__(max_workers=workers, thread_name_prefix=thread_name_prefix)

    def spare(self, waiting: int) -> None:
        """Start nothing (see the class's docstring)."""


def install(stack: ExitStack) -> Check:
    """Make `server.start` build a `LibraryPool` instead of its `WorkerPool`."""
    stack.enter_context(mock.patch.object(server, "WorkerPool", LibraryPool))

    def check(running: RunningServer) -> None:
        pool: object = running.pool
        if not isinstance(pool, LibraryPool):
            raise NotInUseError(f"the server runs on a {type(pool).__name__}, not a LibraryPool")

    return check
