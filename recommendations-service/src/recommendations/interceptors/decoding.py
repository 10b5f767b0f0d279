"""Request bytes that are not the method's request message: INVALID_ARGUMENT, not INTERNAL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from google.protobuf.message import DecodeError

from recommendations.bad_request import abort_bad_request
from recommendations.domain import Violation
from recommendations.interceptors.base import (
    MethodInterceptor,
    behavior_of,
    is_non_blocking,
    with_behavior,
)

if TYPE_CHECKING:
    import grpc

    from recommendations.interceptors.base import Handler


class _Undecodable:
    """Stands in for a request whose bytes did not parse; the handler never sees it."""


_UNDECODABLE: Final = _Undecodable()


class DecodingInterceptor(MethodInterceptor):
    """Answers INVALID_ARGUMENT, with a `google.rpc.BadRequest`, for undecodable request bytes.

    grpcio answers INTERNAL when a request deserializer raises, and the API promises
    INVALID_ARGUMENT: a client sent a bad request, the server did not fail. No grpcio option or
    hook changes that, so this is the one place that swaps a method's deserializer for a lenient
    one. It returns a marker for bytes that do not parse, and the wrapped behaviour refuses the
    marker before the servicer's method runs: the servicer only ever sees request messages.
    Methods with streaming requests, and grpcio's non-blocking streams (the health Watch, whose
    requests are a service name), pass through unchanged.
    """

    def wrap(self, method: str, handler: Handler) -> Handler:
        """Return `handler` refusing undecodable requests itself."""
        parse = handler.request_deserializer
        if handler.request_streaming or parse is None or is_non_blocking(handler):
            return handler
        behavior = behavior_of(handler)
        message_class = getattr(parse, "__self__", None)
        name = getattr(message_class, "__name__", "request message")
        refusal = [Violation("request", f"is not a valid {name}")]

        def lenient(data: bytes) -> object:
            try:
                return parse(data)
            except DecodeError:
                return _UNDECODABLE

        def refuse_undecodable(request: object, context: grpc.ServicerContext) -> object:
            if request is _UNDECODABLE:
                abort_bad_request(context, refusal)
            return behavior(request, context)

        return with_behavior(handler, refuse_undecodable, request_deserializer=lenient)
