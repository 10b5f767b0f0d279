"""`make run` stops completely however it is signalled, and listens on loopback only.

Each round starts `make run` in a process group of its own, as a terminal would, on ports of
its own (MARKETPLACE_PORT, RECOMMENDATIONS_PORT, RECOMMENDATIONS_METRICS_PORT), waits until the
website answers, then sends the whole group one to three SIGINTs and SIGTERMs in quick
succession: Ctrl+C pressed twice, `kill` of the group, and make passing the signal on. Within
10 s nothing may listen on any of the three ports, and make must have exited.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from harness.ports import accepts, free_port
from harness.probes import answers
from harness.processes import Supervisor, clean_environment, wait_until

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 20
STOP_SECONDS = 10.0
PORTS = ("MARKETPLACE_PORT", "RECOMMENDATIONS_PORT", "RECOMMENDATIONS_METRICS_PORT")
# 127.0.0.1 as `ss` writes it, for IPv4 and IPv4-mapped IPv6 sockets.
LOOPBACK = {"127.0.0.1", "[::ffff:127.0.0.1]"}
# Seeded: every run sends the same rounds, and each count (1, 2, 3) and kind occurs.
_PLAN = random.Random(20261128)
SIGNAL_ROUNDS = [
    [_PLAN.choice([signal.SIGINT, signal.SIGTERM]) for _ in range(_PLAN.randint(1, 3))]
    for _ in range(ROUNDS)
]


def listeners(port: int) -> dict[str, set[int]]:
    """Each local address that a TCP socket listens on `port` at, with the processes listening."""
    table = subprocess.run(["ss", "-ltnpH"], check=True, capture_output=True, text=True).stdout
    found: dict[str, set[int]] = {}
    for line in table.splitlines():
        address, _, listening = line.split()[3].rpartition(":")
        if listening == str(port):
            pids = {int(part.split(",")[0]) for part in line.split("pid=")[1:]}
            found.setdefault(address, set()).update(pids)
    return found


@pytest.fixture(scope="module")
def environment(tmp_path_factory):
    """The caller's environment without the services' settings (so the service serves its
    packaged catalog), with a development database of the test's own, and the supervisor that
    starts `make run` (and stops whatever a failed round left of make)."""
    workdir = tmp_path_factory.mktemp("make-run")
    env = clean_environment({"DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}"})
    env.pop("MAKEFLAGS", None)
    with Supervisor(workdir / "logs") as supervisor:
        yield env, supervisor


def start(environment, name):
    """`make run` on fresh ports in a new process group; returns it, its ports and its log."""
    env, supervisor = environment
    ports = {setting: free_port() for setting in PORTS}
    env = {**env, **{setting: str(port) for setting, port in ports.items()}}
    make = supervisor.start(name, ["make", "-s", "run"], env, cwd=ROOT)
    site = f"http://127.0.0.1:{ports['MARKETPLACE_PORT']}/"
    supervisor.wait_ready(
        name,
        make,
        lambda: answers(site) and all(accepts(port) for port in ports.values()),
        what="serving on all three ports",
        timeout=60,
        interval=0.2,
    )
    return make, ports, supervisor.log_of(name)


def assert_stopped(make, ports, log, after: str) -> None:
    """Fail, saying what was `after` and stopping what is left, unless make exits and no port
    listens within STOP_SECONDS."""
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline:
        if make.poll() is not None and not any(accepts(p) for p in ports.values()):
            return
        time.sleep(0.1)
    left = {name: port for name, port in ports.items() if accepts(port)}
    for port in ports.values():
        for pids in listeners(port).values():
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
    if make.poll() is None:
        os.killpg(make.pid, signal.SIGKILL)
        make.wait()
    pytest.fail(f"after {after}: still listening {left}\n{log.read_text()[-3000:]}")


def test_make_run_listens_on_loopback_only(environment):
    make, ports, log = start(environment, "loopback")
    try:
        for name, port in ports.items():
            addresses = listeners(port).keys()
            assert addresses, name
            assert addresses <= LOOPBACK, (name, addresses)
        # make run announces the site from its own polling, which may come a moment after ours.
        banner = "the bookshop is open at http://127.0.0.1:"
        assert wait_until(lambda: banner in log.read_text(), timeout=5), log.read_text()
    finally:
        os.killpg(make.pid, signal.SIGINT)
        assert_stopped(make, ports, log, "SIGINT")


@pytest.mark.parametrize(
    "signals",
    SIGNAL_ROUNDS,
    ids=[f"round{n + 1}-" + "-".join(s.name for s in sent) for n, sent in enumerate(SIGNAL_ROUNDS)],
)
def test_make_run_stops_everything_on_one_to_three_signals(environment, signals):
    make, ports, log = start(environment, "-".join(s.name for s in signals))

    for number, sent in enumerate(signals):
        if number:
            time.sleep(random.uniform(0.0, 0.05))
        os.killpg(make.pid, sent)

    assert_stopped(make, ports, log, str(signals))


@pytest.mark.parametrize("stopping", ["MARKETPLACE_PORT", "RECOMMENDATIONS_PORT"])
def test_when_either_process_stops_the_other_is_stopped(environment, stopping):
    make, ports, log = start(environment, f"stop-{stopping}")
    for pid in set().union(*listeners(ports[stopping]).values()):
        os.kill(pid, signal.SIGKILL)

    assert_stopped(make, ports, log, f"killing the process on {stopping}")
    assert make.returncode != 0
