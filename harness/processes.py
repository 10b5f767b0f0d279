"""Starting processes, stopping them, and reading what the kernel knows about them.

Every process is started in its own session (its own process group), so stopping it also stops
what it started (the website server's workers), and `Supervisor.close` leaves nothing running
whatever happened before. Use the supervisor as a context manager (or call `close` from a
`finally`); `python -m soak` turns SIGTERM and SIGHUP into an ordinary exit so that it runs then
too:

    with Supervisor(tmp_path / "logs") as supervisor:
        server = supervisor.start("server", [command], clean_environment({}))
        supervisor.wait_ready("server", server, lambda: accepts(port), timeout=30)
        ...
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

# Variables of the services that must not leak from the caller's shell into a started process.
_OWN_PREFIXES = (
    "RECOMMENDATIONS_",
    "DJANGO_",
    "MARKETPLACE_",
    "PROMETHEUS_",
    "WEB_CONCURRENCY",
    "OTEL_",
)
_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
# Where the virtual environment's commands live (the interpreter running this code is in it).
BIN = Path(sys.executable).parent


def taskset(cpu: int | str | None) -> list[str]:
    """The command prefix that pins what follows to `cpu` (taskset's CPU list); none for None."""
    return [] if cpu is None else ["taskset", "-c", str(cpu)]


def clean_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment without any service variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_PREFIXES)}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


class Supervisor:
    """Starts processes, logging each one's output to a file, and stops them all on `close`."""

    def __init__(self, logs: Path) -> None:
        self._logs = logs
        self._logs.mkdir(parents=True, exist_ok=True)
        self._running: list[subprocess.Popen[bytes]] = []

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        cwd: Path | None = None,
        cpu: int | str | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start `argv` (pinned to `cpu`, a taskset CPU list, when given; otherwise on the CPUs
        this process may use), its output appended to logs/<name>.log."""
        command = [*taskset(cpu), *argv]
        with (self._logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                command,
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._running.append(process)
        return process

    def log_of(self, name: str) -> Path:
        """The file a process started as `name` writes to."""
        return self._logs / f"{name}.log"

    def wait_ready(
        self,
        name: str,
        process: subprocess.Popen[bytes],
        ready: Callable[[], bool],
        *,
        what: str = "ready",
        timeout: float = 30,
        interval: float = 0.1,
    ) -> None:
        """Return once `ready()` is true (an OSError from it counts as not yet); raise
        RuntimeError, with the end of the log of the process started as `name`, when the
        process exits first or `timeout` seconds pass."""

        def check() -> bool:
            if process.poll() is not None:
                log = self.log_of(name).read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{log}")
            try:
                return ready()
            except OSError:
                return False

        if not wait_until(check, timeout=timeout, interval=interval):
            log = self.log_of(name).read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{name} was not {what} within {timeout} s:\n{log}")

    def stop(
        self, process: subprocess.Popen[bytes], *, sig: int = signal.SIGTERM, timeout: float = 30
    ) -> int:
        """Send `sig` to the process's group, wait for it, and return its exit status."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return -signal.SIGKILL
        finally:
            if process in self._running:
                self._running.remove(process)

    def close(self) -> None:
        """Stop everything still running: politely, then for good after five seconds."""
        for process in list(self._running):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        for process in list(self._running):
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        # Whatever a process group left behind after its leader exited.
        for process in self._running:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        self._running.clear()

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _process_table() -> tuple[dict[int, list[int]], dict[int, int]]:
    """Children of every process, and the CPU ticks (user + system) each has used."""
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields start after the last ')'.
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        ticks[pid] = int(fields[11]) + int(fields[12])
    return children, ticks


def tree_pids(root: int) -> list[int]:
    """`root` and all its live descendants."""
    children, _ = _process_table()
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, []))
    return found


def tree_cpu_seconds(root: int) -> float:
    """User plus system CPU time of `root` and all its live descendants, in seconds."""
    children, ticks = _process_table()
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        total += ticks.get(pid, 0)
        pending.extend(children.get(pid, []))
    return total / _TICKS_PER_SECOND


def pin_tree(root: int, cpus: str) -> None:
    """Set the CPU affinity of every thread of `root` and its descendants (taskset syntax)."""
    for pid in tree_pids(root):
        subprocess.run(
            ["taskset", "-a", "-p", "-c", cpus, str(pid)], check=True, stdout=subprocess.DEVNULL
        )


def resident_bytes(pid: int) -> int:
    """The resident set size of one process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise ProcessLookupError(pid)


def wait_until(check: Callable[[], bool], *, timeout: float, interval: float = 0.05) -> bool:
    """Call `check` until it returns True (then True) or `timeout` seconds pass (then False)."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
