"""BASELINE (benchmark fixture): the recommendations server as the original tutorial wrote it.

Needs the tutorial proto's generated modules on the path (the bench generates them into a
temporary folder with grpc_tools.protoc). Only the port comes from the environment, so the bench
can run it beside the others.
"""

from __future__ import annotations

import os
import random
from concurrent import futures

import grpc
import recommendations_pb2_grpc  # type: ignore[import-not-found]
from recommendations_pb2 import (  # type: ignore[import-not-found]
    BookCategory,
    BookRecommendation,
    RecommendationResponse,
)

books_by_category = {
    BookCategory.MYSTERY: [
        BookRecommendation(id=1, title="The Maltese Falcon"),
        BookRecommendation(id=2, title="Murder on the Orient Express"),
        BookRecommendation(id=3, title="The Hound of the Baskervilles"),
    ],
    BookCategory.SCIENCE_FICTION: [
        BookRecommendation(id=4, title="The Hitchhiker's Guide to the Galaxy"),
        BookRecommendation(id=5, title="Ender's Game"),
        BookRecommendation(id=6, title="The Dune Chronicles"),
    ],
    BookCategory.SELF_HELP: [
        BookRecommendation(id=7, title="The 7 Habits of Highly Effective People"),
        BookRecommendation(id=8, title="How to Win Friends and Influence People"),
        BookRecommendation(id=9, title="Man's Search for Meaning"),
    ],
}


class RecommendationService(recommendations_pb2_grpc.RecommendationsServicer):  # type: ignore[misc]
    def Recommend(self, request, context):  # type: ignore[no-untyped-def]  # noqa: ANN001, ANN201, N802
        if request.category not in books_by_category:
            context.abort(grpc.StatusCode.NOT_FOUND, "Category not found")
        books_for_category = books_by_category[request.category]
        num_results = min(request.max_results, len(books_for_category))
        books_to_recommend = random.sample(books_for_category, num_results)
        return RecommendationResponse(recommendations=books_to_recommend)


def serve() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=10))
    recommendations_pb2_grpc.add_RecommendationsServicer_to_server(RecommendationService(), server)
    server.add_insecure_port(f"127.0.0.1:{os.environ['BASELINE_PORT']}")
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    serve()
