"""`make run`'s supervisor: the recommendations service and the website's development server
together in the foreground, started by ci/run.sh once the database is migrated.

    python ci/supervise.py

The website's development server listens on 127.0.0.1, on MARKETPLACE_PORT (the production
server's setting and default, 8000).

Each process runs in a session of its own, so that stopping it reaches everything it started
(the development server's auto-reloading child). The first SIGINT or SIGTERM (Ctrl+C, or make
passing one on, so a second often follows) sends SIGTERM to both; if either process stops by
itself, the other is stopped the same way. Five seconds later whatever is left of either is
killed. The signal handlers only set a flag that the main loop reads, so no number of signals,
at any moment, can interrupt the stopping half-way.

A Procfile runner would do the rest, but honcho 2.0 sends SIGKILL only once some process has
exited: when every process ignores SIGTERM (a hung server), any number of Ctrl+C leaves it and
them running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from marketplace.settings import environment as env

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STOP_SECONDS = 5.0
START_SECONDS = 30.0
_TICK = 0.1

_signalled: list[int] = []


def _note(signum: int, frame: FrameType | None) -> None:
    _signalled.append(signum)


def _say(message: str) -> None:
    # With `make run | tee log`, Ctrl+C stops tee too: the processes are signalled before any
    # message, and a message nobody reads is no reason to fail.
    with contextlib.suppress(OSError):
        print(f"==> {message}", file=sys.stderr, flush=True)


def _accepts(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
    except OSError:
        return False
    return True


def _stop(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    """SIGTERM to every process group, SIGKILL to what is left after STOP_SECONDS."""
    for process in processes.values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    _say("stopping the website and the recommendations service")
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline and any(p.poll() is None for p in processes.values()):
        time.sleep(_TICK)
    for process in processes.values():
        # Also whatever a group leader left behind when it exited (a reloader's child).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def main() -> int:
    """Run both until a signal or until one stops; 0 after a signal, 1 otherwise."""
    host, port = "127.0.0.1", env.integer("MARKETPLACE_PORT", minimum=1, maximum=65535)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _note)
    processes: dict[str, subprocess.Popen[bytes]] = {}
    commands = {
        "the recommendations service": ([str(BIN / "recommendations-server")], ROOT),
        "the website": (
            [sys.executable, "manage.py", "runserver", f"{host}:{port}"],
            ROOT / "marketplace-django",
        ),
    }
    for name, (argv, cwd) in commands.items():
        if _signalled:
            break
        processes[name] = subprocess.Popen(argv, cwd=cwd, start_new_session=True)

    opened = False
    started = time.monotonic()
    while not _signalled:
        stopped = [name for name, process in processes.items() if process.poll() is not None]
        if stopped:
            _stop(processes)
            _say(f"{stopped[0]} stopped (status {processes[stopped[0]].returncode})")
            return 1
        if not opened and _accepts(host, port):
            opened = True
            _say(f"the bookshop is open at http://{host}:{port}/ (Ctrl+C stops it)")
        if not opened and time.monotonic() - started > START_SECONDS:
            _stop(processes)
            _say(f"the website did not listen on {host}:{port} within {START_SECONDS:.0f} s")
            return 1
        time.sleep(_TICK)
    _stop(processes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
