"""BENCH-ONLY WSGI entry point: the static-data page plus one bare grpcio call per page.

`PYTHONPATH=. marketplace-server benchmarks.web.floor_site:application` serves the page of
`static_site.py`, but every page first makes one blocking unary call with the least grpcio can do
(no channel options, no stub, no serializers, no deadline, an empty request) to
`benchmarks/baselines/bare_sync.py` (an empty reply), at RECOMMENDATIONS_TARGET as the site reads
it: the floor under the live page's cost, whatever the service and the client code.
"""

from __future__ import annotations

import os
import threading

import grpc
from storefront import recommendations
from storefront.categories import Category
from storefront.recommendations import Recommendations

from benchmarks.baselines.bare_sync import METHOD_PATH
from benchmarks.web.static_site import application, static_recommend

_METHOD = "/{}/{}".format(*METHOD_PATH)
_lock = threading.Lock()
_call: grpc.UnaryUnaryMultiCallable[bytes, bytes] | None = None


def _bare_call() -> grpc.UnaryUnaryMultiCallable[bytes, bytes]:
    # Opened on a worker's first page, never in a server's main process: a channel must
    # not cross a fork (the site's own module does the same).
    global _call  # noqa: PLW0603  (one channel per worker process is this module's state)
    with _lock:
        if _call is None:
            channel = grpc.insecure_channel(os.environ["RECOMMENDATIONS_TARGET"])
            _call = channel.unary_unary(_METHOD)
        return _call


def _floor_recommend(
    *, reader_id: int, category: Category, page_size: int, page_token: str = ""
) -> Recommendations:
    _bare_call()(b"")
    return static_recommend(reader_id=reader_id, category=category, page_size=page_size)


recommendations.recommend = _floor_recommend

__all__ = ["application"]
