"""Checking a contender's answers by gRPC status: grpcio calls, and the service's own counters.

Every gRPC answer, UNIMPLEMENTED for a wrong path included, is an HTTP 200: pointed at a path
nobody serves, h2load reports every call succeeded. So before and after its load every contender
(the baselines have no metrics) must answer a few grpcio calls with the same path and request
bytes OK (`check_answers`), which catches what fails every call: a wrong path, a request the
server cannot read, a handler that raises; and the service's `grpc_server_handled_total` must
count every call of a run OK (`require_ok`):

>>> before = {"OK": 10.0}
>>> missing(before, {"OK": 1010.0}, 1000) is None
True
>>> missing(before, {"OK": 1007.0, "UNAVAILABLE": 3.0}, 1000)
'counted 997 OK of 1000 calls; 3 UNAVAILABLE'
"""

from __future__ import annotations

import grpc

from harness.api import failure
from harness.metrics import difference
from harness.service import handled_calls

PROBE_CALLS = 5
"""How many calls `check_answers` makes."""


def check_answers(name: str, port: int, path: str, request: bytes) -> bytes:
    """Call `path` on 127.0.0.1:`port` `PROBE_CALLS` times with `request` (serialized), require
    OK each time, and return the last response's bytes; raise SystemExit naming contender `name`."""
    response = b""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        # No serializers: the request goes out as the very bytes h2load sends.
        call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
            path, request_serializer=None, response_deserializer=None
        )
        for _ in range(PROBE_CALLS):
            try:
                response = call(request, timeout=10)
            except grpc.RpcError as error:
                code, details = failure(error)
                message = f"error: {name} answered {path} with {code.name}: {details}"
                raise SystemExit(message) from None
    return response


def missing(before: dict[str, float], after: dict[str, float], calls: int) -> str | None:
    """What went wrong with `calls` calls made between two readings by status; None if all OK."""
    change = difference(after, before)
    ok = change.pop("OK", 0)
    if ok == calls and not change:
        return None
    failed = ", ".join(f"{n} {code}" for code, n in change.items())
    return f"counted {ok} OK of {calls} calls" + (f"; {failed}" if failed else "")


def require_ok(who: str, metrics_port: int, before: dict[str, float], calls: int) -> None:
    """Raise SystemExit naming `who` unless the service with this metrics port counted `calls`
    calls OK since it counted `before` (`harness.service.handled_calls`)."""
    problem = missing(before, handled_calls(metrics_port), calls)
    if problem is not None:
        raise SystemExit(f"error: {who} {problem}")
