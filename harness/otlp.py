"""An OTLP trace receiver on loopback: what the services export, decoded, for tests and benches.

It speaks the protocol as a collector does, built from `opentelemetry-proto`: the gRPC
`TraceService/Export` and HTTP `POST /v1/traces` with a protobuf body (gzip or not), and answers
each export with an empty `ExportTraceServiceResponse`. Point a service at it with
`OTEL_EXPORTER_OTLP_ENDPOINT` set to `grpc_endpoint` (protocol `grpc`) or `http_endpoint`
(`http/protobuf`).

    receiver = OtlpReceiver()
    receiver.start()
    ...
    spans = receiver.wait_for(lambda spans: len(spans) >= 3, timeout=10)
    receiver.stop()

Run as `python -m harness.otlp [--grpc-port 4317] [--http-port 4318] [--output FILE]` it
prints one line per span as spans arrive (and appends them to FILE as JSON lines), so that
`make run` can be watched without a trace backend.
"""

from __future__ import annotations

import argparse
import gzip
import json
import signal
import sys
import threading
import time
from concurrent import futures
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

HTTP_PATH = "/v1/traces"


@dataclass(frozen=True, slots=True)
class ReceivedSpan:
    """One span as received: ids in lowercase hex (`parent_id` "" for a root), times in ns."""

    service: str
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_id: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    status: str
    status_message: str
    resource: dict[str, Any]
    protocol: str

    @property
    def duration_ms(self) -> float:
        """How long the span lasted, in milliseconds."""
        return (self.end_ns - self.start_ns) / 1e6


class OtlpReceiver:
    """Receives OTLP trace exports over gRPC and HTTP on two loopback ports (0: any free one)."""

    def __init__(self, *, grpc_port: int = 0, http_port: int = 0) -> None:
        self._spans: list[ReceivedSpan] = []
        self._arrived = threading.Condition()
        self._listeners: list[Callable[[list[ReceivedSpan]], None]] = []
        self._grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        # The generated _grpc module carries no type annotations.
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
            _TraceService(self), self._grpc
        )
        self.grpc_port = self._grpc.add_insecure_port(f"127.0.0.1:{grpc_port}")
        self._http = ThreadingHTTPServer(("127.0.0.1", http_port), _handler(self))
        self._http.daemon_threads = True
        self.http_port = self._http.server_address[1]
        self._http_thread = threading.Thread(
            target=self._http.serve_forever, name="otlp-http", daemon=True
        )

    @property
    def grpc_endpoint(self) -> str:
        """The OTEL_EXPORTER_OTLP_ENDPOINT for protocol `grpc`."""
        return f"http://127.0.0.1:{self.grpc_port}"

    @property
    def http_endpoint(self) -> str:
        """The OTEL_EXPORTER_OTLP_ENDPOINT for protocol `http/protobuf` (exporters add
        /v1/traces)."""
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> None:
        """Start accepting exports on both ports."""
        self._grpc.start()
        self._http_thread.start()

    def stop(self) -> None:
        """Stop both servers."""
        self._grpc.stop(0).wait()
        self._http.shutdown()
        self._http.server_close()

    def on_spans(self, listener: Callable[[list[ReceivedSpan]], None]) -> None:
        """Call `listener` with the spans of every export from now on (on a receiving thread)."""
        self._listeners.append(listener)

    def spans(self) -> list[ReceivedSpan]:
        """Every span received so far, in order of arrival."""
        with self._arrived:
            return list(self._spans)

    def clear(self) -> None:
        """Forget the spans received so far."""
        with self._arrived:
            self._spans.clear()

    def wait_for(
        self, enough: Callable[[list[ReceivedSpan]], bool], *, timeout: float
    ) -> list[ReceivedSpan]:
        """The spans received, once `enough(spans)` holds; raise TimeoutError after `timeout` s."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while not enough(list(self._spans)):
                left = deadline - time.monotonic()
                if left <= 0:
                    names = [(s.service, s.name) for s in self._spans]
                    raise TimeoutError(f"spans received in {timeout} s: {names}")
                self._arrived.wait(left)
            return list(self._spans)

    def receive(self, request: trace_service_pb2.ExportTraceServiceRequest, protocol: str) -> None:
        """Keep the spans of one export request."""
        spans = list(_decoded(request, protocol))
        with self._arrived:
            self._spans.extend(spans)
            self._arrived.notify_all()
        for listener in self._listeners:
            listener(spans)


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: OtlpReceiver) -> None:
        self._receiver = receiver

    def Export(  # noqa: N802  (the rpc's name)
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        self._receiver.receive(request, "grpc")
        return trace_service_pb2.ExportTraceServiceResponse()


def _handler(receiver: OtlpReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != HTTP_PATH:
                self._answer(404, b"")
                return
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
            receiver.receive(request, "http/protobuf")
            self._answer(200, trace_service_pb2.ExportTraceServiceResponse().SerializeToString())

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


def _decoded(
    request: trace_service_pb2.ExportTraceServiceRequest, protocol: str
) -> Iterable[ReceivedSpan]:
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield ReceivedSpan(
                    service=str(resource.get("service.name", "")),
                    name=span.name,
                    kind=trace_pb2.Span.SpanKind.Name(span.kind).removeprefix("SPAN_KIND_"),
                    trace_id=span.trace_id.hex(),
                    span_id=span.span_id.hex(),
                    parent_id=span.parent_span_id.hex(),
                    start_ns=span.start_time_unix_nano,
                    end_ns=span.end_time_unix_nano,
                    attributes=_attributes(span.attributes),
                    status=trace_pb2.Status.StatusCode.Name(span.status.code).removeprefix(
                        "STATUS_CODE_"
                    ),
                    status_message=span.status.message,
                    resource=resource,
                    protocol=protocol,
                )


def _attributes(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


def _value(value: AnyValue) -> Any:  # noqa: ANN401  (an attribute holds any of several types)
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    return getattr(value, kind)


def main() -> int:
    """Print (and optionally save) the spans exported to this receiver until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m harness.otlp", description=__doc__)
    parser.add_argument("--grpc-port", type=int, default=4317)
    parser.add_argument("--http-port", type=int, default=4318)
    parser.add_argument("--output", type=argparse.FileType("a"), default=None)
    args = parser.parse_args()
    receiver = OtlpReceiver(grpc_port=args.grpc_port, http_port=args.http_port)

    def show(spans: list[ReceivedSpan]) -> None:
        for span in spans:
            print(
                f"{span.service:<16} {span.kind:<6} {span.name:<58} trace {span.trace_id} "
                f"span {span.span_id} parent {span.parent_id or '-':<16} "
                f"{span.duration_ms:8.3f} ms {span.status}",
                flush=True,
            )
            if args.output is not None:
                args.output.write(json.dumps(asdict(span)) + "\n")
                args.output.flush()

    receiver.on_spans(show)
    receiver.start()
    print(
        f"receiving OTLP traces: grpc {receiver.grpc_endpoint}, http/protobuf "
        f"{receiver.http_endpoint} (Ctrl+C stops)",
        file=sys.stderr,
        flush=True,
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    receiver.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
