"""BASELINE (benchmark fixture): the original tutorial's Flask marketplace, not product code.

As the tutorial wrote it: a channel and a stub created at import time, one route that asks for
three mystery books for user 1 with no deadline and no error handling (an HTTP 500 whenever the
recommendations server is down), served by `flask run`. One deviation, so the benchmark can use a
free port: the server's port comes from RECOMMENDATIONS_PORT (the tutorial hard-codes 50051).
Needs the tutorial proto's generated modules on the path (the benchmark generates them).
"""

from __future__ import annotations

import os

import grpc
from flask import Flask, render_template
from recommendations_pb2 import (  # type: ignore[import-not-found]
    BookCategory,
    RecommendationRequest,
)
from recommendations_pb2_grpc import RecommendationsStub  # type: ignore[import-not-found]

app = Flask(__name__)

recommendations_host = os.getenv("RECOMMENDATIONS_HOST", "localhost")
recommendations_port = os.getenv("RECOMMENDATIONS_PORT", "50051")
recommendations_channel = grpc.insecure_channel(f"{recommendations_host}:{recommendations_port}")
recommendations_client = RecommendationsStub(recommendations_channel)


@app.route("/")
def render_homepage() -> str:
    recommendations_request = RecommendationRequest(
        user_id=1, category=BookCategory.MYSTERY, max_results=3
    )
    recommendations_response = recommendations_client.Recommend(recommendations_request)
    return render_template(
        "homepage.html",
        recommendations=recommendations_response.recommendations,
    )
