"""Checking a contender's answers by gRPC status, with real grpcio calls.

h2load counts HTTP statuses, and every gRPC answer, UNIMPLEMENTED for a wrong path included, is
an HTTP 200: pointed at a path nobody serves, h2load reports every call succeeded. So before and
after its load, the benchmark makes a few ordinary grpcio calls to the same path with the same
request bytes and requires each to end OK. This works for every contender (the baselines have no
metrics to read) and catches what fails every call: a wrong path, a request the server cannot
read, a handler that raises.
"""

from __future__ import annotations

from typing import cast

import grpc

PROBE_CALLS = 5
"""How many calls `check_answers` makes."""


class AnswerError(Exception):
    """A contender answered a call with a status other than OK; the message says which."""


def check_answers(
    name: str, port: int, path: str, request: bytes, *, calls: int = PROBE_CALLS
) -> bytes:
    """Call `path` on 127.0.0.1:`port` `calls` times with `request` (serialized), require OK each
    time, and return the last response's bytes; raise `AnswerError` naming contender `name`."""
    response = b""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        # No serializers: the request goes out as the very bytes h2load sends.
        call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
            path, request_serializer=None, response_deserializer=None
        )
        for _ in range(calls):
            try:
                response = call(request, timeout=10)
            except grpc.RpcError as error:
                status = cast("grpc.Call", error)  # a blocking call's error is also its Call
                raise AnswerError(
                    f"{name} answered {path} with {status.code().name}: {status.details()}"
                ) from None
    return response
