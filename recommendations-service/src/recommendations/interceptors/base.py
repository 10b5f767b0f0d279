"""The shared shape of our interceptors: wrap each method's behaviour once, at registration."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any, TypeAlias

import grpc

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

UnaryBehavior: TypeAlias = "Callable[[Any, grpc.ServicerContext], Any]"


class UnaryInterceptor(abc.ABC):
    """A decorator of unary-unary method behaviour, applied once per method.

    The server composes its interceptors with `apply_interceptors` when it registers its methods
    (see there for why), so an interceptor costs a call only the work its wrapper does.
    """

    @abc.abstractmethod
    def wrap(self, method: str, behavior: UnaryBehavior) -> UnaryBehavior:
        """Return `behavior` decorated with this interceptor's concern, for `method`."""


def apply_interceptors(
    method: str,
    handler: grpc.RpcMethodHandler[Any, Any],
    interceptors: Sequence[UnaryInterceptor],
) -> grpc.RpcMethodHandler[Any, Any]:
    """Return `handler` with its unary behaviour wrapped by `interceptors`, the first outermost.

    This is how the server composes its interceptors: once, when it registers a method. Passed
    to `grpc.server(interceptors=...)` instead, each interceptor adds a continuation step that
    grpcio runs on every call, several times what composing them here costs (benchmarks/README.md
    has the figures).
    """
    behavior = handler.unary_unary
    if behavior is None:
        return handler
    for interceptor in reversed(interceptors):
        behavior = interceptor.wrap(method, behavior)
    return grpc.unary_unary_rpc_method_handler(
        behavior,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def split_method(method: str) -> tuple[str, str]:
    """The service and rpc names of a full method path.

    >>> split_method("/bookshop.recommendations.v2.RecommendationsService/Recommend")
    ('bookshop.recommendations.v2.RecommendationsService', 'Recommend')
    """
    service, _, name = method.removeprefix("/").rpartition("/")
    return service, name


def status_code(context: grpc.ServicerContext) -> grpc.StatusCode | None:
    """Return the status code the call has been given so far; None means none (OK so far).

    grpcio's server contexts have `code()` since 1.38; the type stubs do not declare it.
    """
    code: grpc.StatusCode | None = context.code()  # type: ignore[attr-defined]
    return code


def status_name(context: grpc.ServicerContext, *, failed: bool = False) -> str:
    """Return the status code name a finished call carries, e.g. `OK` or `INVALID_ARGUMENT`.

    A call that raised without a status reaches the client as UNKNOWN; pass `failed=True` then.
    """
    code = status_code(context)
    if code is None:
        return "UNKNOWN" if failed else "OK"
    return code.name
