"""Run `recommendations-server` in this process, as the full service or as one variant.

Usage: python -m benchmarks.ablation.serve full|VARIANT

The server is configured from the environment as usual (`RECOMMENDATIONS_*`). A variant's
replacement is installed at the product's composition points before the server starts, and
checked to be in use once it has started: if it is not, the server stops and this exits 1. The
product code has no switch for any of this.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack
from typing import TYPE_CHECKING
from unittest import mock

from recommendations import cli, server

from benchmarks.ablation.check import NotInUseError
from benchmarks.ablation.variants import FULL, VARIANTS

if TYPE_CHECKING:
    from recommendations.catalog import Catalog
    from recommendations.settings import Settings
    from recommendations.telemetry import Tracing

    from benchmarks.ablation.check import Check


def main(argv: list[str]) -> int:
    """Serve as `argv[0]` (`full` or a variant's name) until SIGTERM; return the exit status."""
    names = [FULL, *VARIANTS]
    if len(argv) != 1 or argv[0] not in names:
        print(f"usage: python -m benchmarks.ablation.serve {'|'.join(names)}", file=sys.stderr)
        return 2
    with ExitStack() as stack:
        if argv[0] != FULL:
            check_in_use(stack, VARIANTS[argv[0]].install(stack))
        return cli.main([])


def check_in_use(stack: ExitStack, check: Check) -> None:
    """Make `server.start` run `check` on every server it starts, stopping the server and
    raising SystemExit if the check fails."""
    start = server.start

    def checked_start(
        settings: Settings, catalog: Catalog, tracing: Tracing | None = None
    ) -> server.RunningServer:
        running = start(settings, catalog, tracing)
        try:
            check(running)
        except NotInUseError as error:
            running.shutdown()
            raise SystemExit(f"error: the variant is not in use: {error}") from None
        return running

    stack.enter_context(mock.patch.object(server, "start", checked_start))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
