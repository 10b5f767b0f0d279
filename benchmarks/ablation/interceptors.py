"""Variant: the service's interceptors run per call by grpcio's own interceptor pipeline.

The product composes its interceptors once per method when it registers the method
(`apply_interceptors`). Here the methods are registered bare, and the server is built with
`grpc.server(interceptors=[...])`: one `grpc.ServerInterceptor` per interceptor of the service, in
the same order (the first outermost), each wrapping the handler of every call with that
interceptor's `wrap`, as an interceptor written for grpcio's pipeline does its work per call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar, cast
from unittest import mock

import grpc
from recommendations import server

from benchmarks.ablation.check import NotInUseError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from concurrent import futures
    from contextlib import ExitStack

    from recommendations.interceptors import UnaryInterceptor
    from recommendations.server import RunningServer

    from benchmarks.ablation.check import Check

_Request = TypeVar("_Request")
_Response = TypeVar("_Response")


class PerCallInterceptor(grpc.ServerInterceptor):
    """grpcio's pipeline running one `UnaryInterceptor` on each call of `methods`.

    The handlers the server registered read their request through the watchdog (a unary call
    arrives as a stream of one request); the interceptors only pass the request on, so they wrap
    that behaviour as they wrap a unary one in the product.
    """

    def __init__(self, interceptor: UnaryInterceptor, methods: set[str]) -> None:
        self.interceptor = interceptor
        self._methods = methods

    def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], grpc.RpcMethodHandler[_Request, _Response] | None
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[_Request, _Response] | None:
        """The next handler, its behaviour wrapped by the interceptor if it is one of `methods`."""
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method not in self._methods or handler.response_streaming:
            return handler
        if handler.stream_unary is not None:
            make: Any = grpc.stream_unary_rpc_method_handler
            behavior: Any = handler.stream_unary
        else:
            make, behavior = grpc.unary_unary_rpc_method_handler, handler.unary_unary
        wrapped = make(
            self.interceptor.wrap(method, behavior),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
        return cast("grpc.RpcMethodHandler[_Request, _Response]", wrapped)


def install(stack: ExitStack) -> Check:
    """Make `server.start` register its methods bare and build its servers with the service's
    interceptors in grpcio's pipeline."""
    methods: set[str] = set()
    composed: list[Sequence[UnaryInterceptor]] = []
    pipelines: list[list[grpc.ServerInterceptor]] = []
    grpc_server = grpc.server

    def register_bare(
        method: str,
        handler: grpc.RpcMethodHandler[Any, Any],
        interceptors: Sequence[UnaryInterceptor],
    ) -> grpc.RpcMethodHandler[Any, Any]:
        methods.add(method)
        if not composed:
            composed.append(interceptors)
        elif composed[0] is not interceptors:
            raise NotInUseError("the server composes different interceptors for its methods")
        return handler

    def server_with_pipeline(
        thread_pool: futures.ThreadPoolExecutor,
        handlers: list[grpc.GenericRpcHandler] | None = None,
        interceptors: list[grpc.ServerInterceptor] | None = None,
        options: Sequence[tuple[str, Any]] | None = None,
        maximum_concurrent_rpcs: int | None = None,
        compression: grpc.Compression | None = None,
        xds: bool = False,
    ) -> grpc.Server:
        if interceptors or not composed:
            raise NotInUseError("the server's interceptors are not the ones it composes")
        pipeline: list[grpc.ServerInterceptor] = [
            PerCallInterceptor(i, methods) for i in composed[0]
        ]
        pipelines.append(pipeline)
        return grpc_server(
            thread_pool,
            handlers=handlers,
            interceptors=pipeline,
            options=options,
            maximum_concurrent_rpcs=maximum_concurrent_rpcs,
            compression=compression,
            xds=xds,
        )

    stack.enter_context(mock.patch.object(server, "apply_interceptors", register_bare))
    stack.enter_context(mock.patch.object(grpc, "server", server_with_pipeline))

    def check(running: RunningServer) -> None:
        del running  # grpcio keeps its pipeline private: check what start asked it for
        if not pipelines or not methods or any(not p for p in pipelines):
            raise NotInUseError("no server was built with the interceptors in its pipeline")

    return check
