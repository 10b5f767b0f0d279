"""What every variant provides: a check that its replacement is what the running server uses."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from collections.abc import Callable

    from recommendations.server import RunningServer

Check: TypeAlias = "Callable[[RunningServer], None]"
"""Raises `NotInUseError` unless the variant's replacement is in use in the running server."""


class NotInUseError(Exception):
    """A variant's replacement is not what the server runs: the measurement would be wrong."""
