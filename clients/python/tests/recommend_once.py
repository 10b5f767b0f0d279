"""A consumer of the wheel, run by a runtime venv's interpreter (not by pytest).

`python -W error recommend_once.py HOST:PORT` imports the generated modules (any warning is an
error), round-trips a request through its wire form, makes one Recommend call to the server at
HOST:PORT and prints what it saw as one JSON object.
"""

from __future__ import annotations

import json
import sys

import grpc
from bookshop.recommendations.v1 import recommendations_pb2, recommendations_pb2_grpc
from google.protobuf import __version__ as protobuf_version
from google.protobuf.internal import api_implementation


def main(address: str) -> None:
    request = recommendations_pb2.RecommendRequest(
        user_id=7, category=recommendations_pb2.BOOK_CATEGORY_MYSTERY, max_results=3
    )
    decoded = recommendations_pb2.RecommendRequest.FromString(request.SerializeToString())
    with grpc.insecure_channel(address) as channel:
        stub = recommendations_pb2_grpc.RecommendationsServiceStub(channel)
        response = stub.Recommend(request, timeout=10)
    report = {
        "protobuf": protobuf_version,
        "protobuf_implementation": api_implementation.Type(),
        "grpcio": grpc.__version__,
        "round_trip": decoded == request and decoded.user_id == 7,
        "titles": [book.title for book in response.recommendations],
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
