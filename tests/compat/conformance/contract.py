"""What every API version's tests share: reading a failed call's status and its details."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

if TYPE_CHECKING:
    from collections.abc import Callable

MAX_REQUEST_BYTES = 64 * 1024
"""The request size every release promises the server accepts."""


def failure(call: Callable[[], object]) -> grpc.Call:
    """The failed call that `call()` raises (it must fail)."""
    with pytest.raises(grpc.RpcError) as error:
        call()
    return cast("grpc.Call", error.value)


def field_violations(failed: grpc.Call) -> dict[str, str]:
    """The field violations of the google.rpc.BadRequest in a failed call's status details."""
    details = dict(failed.trailing_metadata() or ()).get("grpc-status-details-bin")
    assert details is not None, "the status has no details"
    status = status_pb2.Status.FromString(cast("bytes", details))
    assert status.code == failed.code().value[0]
    assert status.message == failed.details()
    requests = [d for d in status.details if d.Is(error_details_pb2.BadRequest.DESCRIPTOR)]
    assert len(requests) == 1, status.details
    bad_request = error_details_pb2.BadRequest()
    requests[0].Unpack(bad_request)
    return {v.field: v.description for v in bad_request.field_violations}


def padded(request: bytes, size: int) -> bytes:
    """`request` with an unknown length-delimited field (15) making it `size` bytes or more."""
    return request + b"\x7a" + _varint(size) + b"x" * size


def _varint(value: int) -> bytes:
    """`value` as a protobuf varint: seven bits a byte, the lowest first."""
    return bytes([(value & 0x7F) | 0x80]) + _varint(value >> 7) if value > 0x7F else bytes([value])
