"""BASELINE (benchmark fixture): a bare synchronous grpc.server with an empty handler."""

from __future__ import annotations

import os
import signal
from concurrent import futures

import grpc

METHOD_PATH = ("bookshop.recommendations.v2.RecommendationsService", "Recommend")
"""The one method it serves: the service's (the benchmarks check they agree)."""


def _empty(_request: bytes, _context: grpc.ServicerContext) -> bytes:
    return b""


def main() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=10))
    handler: grpc.RpcMethodHandler[bytes, bytes] = grpc.unary_unary_rpc_method_handler(_empty)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(METHOD_PATH[0], {METHOD_PATH[1]: handler}),)
    )
    server.add_insecure_port(f"127.0.0.1:{os.environ['BASELINE_PORT']}")
    server.start()
    signal.signal(signal.SIGTERM, lambda *_: server.stop(0))
    server.wait_for_termination()


if __name__ == "__main__":
    main()
