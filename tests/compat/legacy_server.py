"""A recommendations server built only from one release's generated v1 code.

Serves `bookshop.recommendations.v1.RecommendationsService` (and standard health checking) from
the service's own catalog and recommender, with whatever fields the installed release's protos
have: from release 1.0.0's code, books carry no author. `make check-compat` runs today's website
client against it, as a rolling upgrade would, in a venv holding that release, grpcio,
grpcio-health-checking and the recommendations distribution installed without its dependencies
(its catalog and recommender import neither gRPC nor protobuf).

Usage: python legacy_server.py CATALOG PORT   (serves on 127.0.0.1:PORT until SIGTERM)
"""

from __future__ import annotations

import signal
import sys
import threading
from concurrent import futures
from pathlib import Path

import grpc
from bookshop.recommendations.v1 import recommendations_pb2 as pb
from bookshop.recommendations.v1 import recommendations_pb2_grpc as rpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from recommendations.catalog import load_catalog
from recommendations.domain import Category, InvalidRequestError
from recommendations.health import HealthServicer
from recommendations.recommender import Recommender

_CATEGORIES = {pb.BookCategory.Value(f"BOOK_CATEGORY_{c.name}"): c for c in Category}
_HAS_AUTHOR = "author" in pb.BookRecommendation.DESCRIPTOR.fields_by_name


class LegacyServicer(rpc.RecommendationsServiceServicer):
    """v1 as the installed release defines it."""

    def __init__(self, recommender: Recommender) -> None:
        self._recommender = recommender

    def Recommend(  # noqa: N802 - the rpc's name
        self, request: pb.RecommendRequest, context: grpc.ServicerContext
    ) -> pb.RecommendResponse:
        """The first books of the user's order of the category."""
        category = _CATEGORIES.get(request.category)
        try:
            books = self._recommender.recommend(request.user_id, category, request.max_results)
        except InvalidRequestError as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        return pb.RecommendResponse(
            recommendations=[
                pb.BookRecommendation(
                    id=b.id, title=b.title, **({"author": b.author} if _HAS_AUTHOR else {})
                )
                for b in books
            ]
        )


def main(catalog: Path, port: int) -> None:
    """Serve on 127.0.0.1:`port` until SIGTERM."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    rpc.add_RecommendationsServiceServicer_to_server(
        LegacyServicer(Recommender(load_catalog(catalog))), server
    )
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    health.set("", health_pb2.HealthCheckResponse.SERVING)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    server.stop(1).wait()


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
