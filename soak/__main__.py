"""`python -m soak [--short]`: run every scenario, print a summary, exit 1 if a promise broke.

The full run also writes docs/reliability.md and docs/reliability-latency.png.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import FrameType

from harness.processes import Supervisor
from harness.service import build_catalog
from soak import report
from soak.scenarios import ALL
from soak.scenarios.base import Context, Outcome

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    """Run the scenarios; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m soak", description=__doc__)
    parser.add_argument("--short", action="store_true", help="shortened run (under 3 minutes)")
    parser.add_argument("--only", action="append", metavar="NAME", help="run only this scenario")
    parser.add_argument("--certs", type=Path, default=ROOT / "certs", help="`make certs` output")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs", help="where the report goes")
    args = parser.parse_args()

    def leave(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, leave)
    signal.signal(signal.SIGHUP, leave)

    workdir = Path(tempfile.mkdtemp(prefix="bookshop-soak-"))
    outcomes: list[tuple[Outcome, float]] = []
    began = time.monotonic()
    with Supervisor(workdir / "logs") as supervisor:
        catalog = workdir / "catalog.sqlite3"
        build_catalog(catalog)
        context = Context(supervisor, workdir, catalog, args.certs, args.short)
        for scenario in ALL:
            name = scenario.__name__.rsplit(".", 1)[-1]
            if args.only and name not in args.only:
                continue
            print(f"\n== {scenario.TITLE} ({'short' if args.short else 'full'})", flush=True)
            started = time.monotonic()
            try:
                outcome = scenario.run(context)
            except Exception as error:  # a crashed scenario is a broken promise
                traceback.print_exc()
                outcome = Outcome(name, scenario.TITLE)
                outcome.broken.append(f"the scenario could not run: {error!r}")
            finally:
                supervisor.close()  # whatever the scenario left running
            outcomes.append((outcome, time.monotonic() - started))

    print("\n== Summary")
    for outcome, seconds in outcomes:
        verdict = "PASS" if outcome.passed else "FAIL"
        print(f"  {verdict}  {outcome.title:<22} {seconds:6.1f} s")
        for broken in outcome.broken:
            print(f"        broken: {broken}")
    total = time.monotonic() - began
    failed = [o for o, _ in outcomes if not o.passed]
    print(
        f"  {len(outcomes) - len(failed)}/{len(outcomes)} scenarios kept their promises "
        f"in {total:.0f} s"
    )
    if not args.short and not args.only:
        written = report.write(outcomes, args.docs, total_seconds=total)
        print(f"  wrote {', '.join(str(p.relative_to(ROOT)) for p in written)}")
    if failed:
        print(f"  process logs kept in {workdir / 'logs'}")
        return 1
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
