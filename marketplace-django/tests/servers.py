"""A real gRPC server for the tests: the generated servicer, with scripted behaviour."""

from __future__ import annotations

import socket
import threading
from concurrent import futures

import grpc
from bookshop.recommendations.v1 import recommendations_pb2, recommendations_pb2_grpc


class ScriptedServicer(recommendations_pb2_grpc.RecommendationsServiceServicer):
    """Answers like the real service, or slowly, or with an error, as a test sets it up."""

    def __init__(self) -> None:
        self.requests: list[recommendations_pb2.RecommendRequest] = []
        self.peers: list[str] = []
        self.delay = 0.0
        self.authors = True  # False answers as a server older than release 1.1.0 does
        self.error: tuple[grpc.StatusCode, str] | None = None
        self.released = threading.Event()
        self._lock = threading.Lock()

    def Recommend(self, request, context):  # noqa: N802  (the generated servicer's name)
        with self._lock:
            self.requests.append(request)
            self.peers.append(context.peer())
        if self.delay:
            self.released.wait(self.delay)
        if self.error is not None:
            context.abort(*self.error)
        category = recommendations_pb2.BookCategory.Name(request.category)
        count = min(request.max_results or 3, 10)
        return recommendations_pb2.RecommendResponse(
            recommendations=[
                recommendations_pb2.BookRecommendation(
                    id=request.category * 100 + number,
                    title=f"{category} title {number}",
                    author=f"{category} author {number}" if self.authors else "",
                )
                for number in range(1, count + 1)
            ]
        )


def start(
    servicer: ScriptedServicer,
    *,
    port: int = 0,
    credentials: grpc.ServerCredentials | None = None,
) -> tuple[grpc.Server, int]:
    """Serve `servicer` on a loopback port (ephemeral by default); returns the server and port."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    recommendations_pb2_grpc.add_RecommendationsServiceServicer_to_server(servicer, server)
    address = f"127.0.0.1:{port}"
    if credentials is None:
        port = server.add_insecure_port(address)
    else:
        port = server.add_secure_port(address, credentials)
    server.start()
    return server, port


def unused_port() -> int:
    """A loopback port that nothing listens on (bound by the OS, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
