"""The service's own count of the measured calls, by status: every one must have been OK.

h2load counts HTTP 200s, and a gRPC error travels in the trailers of a 200 (a call the server
cancels included), so the benchmarks compare the service's `grpc_server_handled_total` before
and after a run with the calls h2load made. A call cancelled before its request was read (the
receive watchdog, `RECOMMENDATIONS_RECEIVE_TIMEOUT_SECONDS`) never reaches the interceptors that
count it; `grpc_server_receive_timeouts_total` counts those, so the message can say so.

>>> before = Counts({"OK": 10.0}, 0.0)
>>> missing(before, Counts({"OK": 1010.0}, 0.0), 1000) is None
True
>>> missing(before, Counts({"OK": 1007.0}, 3.0), 1000)
'counted 997 OK of 1000 calls; 3 cancelled while waiting for their request'
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.metrics import by_label, scrape


@dataclass(frozen=True, slots=True)
class Counts:
    """Recommend calls handled so far, by status code name, and those cancelled unread."""

    handled: dict[str, float]
    receive_timeouts: float


def read(metrics_port: int) -> Counts:
    """The counts on the /metrics page of the service with this metrics port."""
    samples = scrape(f"http://127.0.0.1:{metrics_port}/metrics")
    handled = by_label(samples, "grpc_server_handled_total", "grpc_code", grpc_method="Recommend")
    timeouts = by_label(
        samples, "grpc_server_receive_timeouts_total", "grpc_method", grpc_method="Recommend"
    )
    return Counts(handled, sum(timeouts.values()))


def missing(before: Counts, after: Counts, calls: int) -> str | None:
    """What went wrong with `calls` calls made between the two readings; None if all were OK."""
    codes = set(before.handled) | set(after.handled)
    change = {c: round(after.handled.get(c, 0.0) - before.handled.get(c, 0.0)) for c in codes}
    ok = change.pop("OK", 0)
    failed = {code: n for code, n in sorted(change.items()) if n}
    timeouts = round(after.receive_timeouts - before.receive_timeouts)
    if ok == calls and not failed and not timeouts:
        return None
    problems = [f"counted {ok} OK of {calls} calls"]
    if failed:
        problems.append(", ".join(f"{n} {code}" for code, n in failed.items()))
    if timeouts:
        problems.append(f"{timeouts} cancelled while waiting for their request")
    return "; ".join(problems)
