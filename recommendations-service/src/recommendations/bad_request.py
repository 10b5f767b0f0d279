"""INVALID_ARGUMENT as the API promises it: a readable message and a `google.rpc.BadRequest`."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

if TYPE_CHECKING:
    from collections.abc import Sequence

    import grpc

    from recommendations.domain import Violation


def abort_bad_request(context: grpc.ServicerContext, violations: Sequence[Violation]) -> NoReturn:
    """End the call with INVALID_ARGUMENT, one field violation per offending field."""
    details = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
            for v in violations
        ]
    )
    status = status_pb2.Status(
        code=code_pb2.INVALID_ARGUMENT,
        message="; ".join(f"{v.field} {v.description}" for v in violations),
    )
    status.details.add().Pack(details)
    context.abort_with_status(rpc_status.to_status(status))
