"""The service's own count of the measured calls, by status: every one must have been OK.

h2load counts HTTP 200s, and a gRPC error travels in the trailers of a 200, so the benchmarks
compare the service's `grpc_server_handled_total` before and after a run with the calls h2load
made.

>>> before = {"OK": 10.0}
>>> missing(before, {"OK": 1010.0}, 1000) is None
True
>>> missing(before, {"OK": 1007.0, "UNAVAILABLE": 3.0}, 1000)
'counted 997 OK of 1000 calls; 3 UNAVAILABLE'
"""

from __future__ import annotations

from harness.metrics import by_label, scrape


def read(metrics_port: int) -> dict[str, float]:
    """Recommend calls handled so far by the service with this metrics port, by status code."""
    samples = scrape(f"http://127.0.0.1:{metrics_port}/metrics")
    return by_label(samples, "grpc_server_handled_total", "grpc_code", grpc_method="Recommend")


def missing(before: dict[str, float], after: dict[str, float], calls: int) -> str | None:
    """What went wrong with `calls` calls made between the two readings; None if all were OK."""
    codes = set(before) | set(after)
    change = {c: round(after.get(c, 0.0) - before.get(c, 0.0)) for c in codes}
    ok = change.pop("OK", 0)
    failed = {code: n for code, n in sorted(change.items()) if n}
    if ok == calls and not failed:
        return None
    problems = [f"counted {ok} OK of {calls} calls"]
    if failed:
        problems.append(", ".join(f"{n} {code}" for code, n in failed.items()))
    return "; ".join(problems)
