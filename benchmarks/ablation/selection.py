"""Variant: each reader's order of the day shuffled on every call instead of kept per day."""

from __future__ import annotations

from typing import TYPE_CHECKING
from unittest import mock

from recommendations import server
from recommendations.recommender import Recommender

from benchmarks.ablation.check import NotInUseError

if TYPE_CHECKING:
    from contextlib import ExitStack

    from recommendations.catalog import Catalog
    from recommendations.domain import Book, Category
    from recommendations.server import RunningServer

    from benchmarks.ablation.check import Check


class ShufflingRecommender(Recommender):
    """A `Recommender` that keeps no orders: every call shuffles the reader's order again.

    `Recommender._order` keeps today's orders only; for any other day it computes the reader's
    slot and shuffles, keeping nothing. Asking it as if `day` were never today gives the same
    orders as the product (the same slot, the same shuffle), recomputed on every call.
    """

    def _order(self, reader: int, category: Category, day: int, today: int) -> tuple[Book, ...]:
        del today
        return super()._order(reader, category, day, today=day + 1)


def install(stack: ExitStack) -> Check:
    """Make `server.start` build a `ShufflingRecommender` instead of its `Recommender`."""
    made: list[ShufflingRecommender] = []

    def recommender(catalog: Catalog) -> ShufflingRecommender:
        made.append(ShufflingRecommender(catalog))
        return made[-1]

    stack.enter_context(mock.patch.object(server, "Recommender", recommender))

    def check(running: RunningServer) -> None:
        del running  # the servicers hold the recommender: check that start built one
        if len(made) != 1:
            raise NotInUseError(f"{len(made)} ShufflingRecommenders made for one server")

    return check
