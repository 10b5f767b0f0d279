"""BASELINE (benchmark fixture): a bare grpc.aio server with an empty handler."""

from __future__ import annotations

import asyncio
import os
import signal

import grpc

METHOD_PATH = ("bookshop.recommendations.v2.RecommendationsService", "Recommend")
"""The one method it serves: the service's (the benchmarks check they agree)."""


async def _empty(_request: bytes, _context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
    return b""


async def main() -> None:
    server = grpc.aio.server()
    handler: grpc.RpcMethodHandler[bytes, bytes] = grpc.unary_unary_rpc_method_handler(_empty)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(METHOD_PATH[0], {METHOD_PATH[1]: handler}),)
    )
    server.add_insecure_port(f"127.0.0.1:{os.environ['BASELINE_PORT']}")
    await server.start()
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    await stopping.wait()
    await server.stop(0)


if __name__ == "__main__":
    asyncio.run(main())
