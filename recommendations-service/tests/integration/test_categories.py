"""Every category each API version defines is served: a value added to a proto's BookCategory
without a category of the service's own fails here."""

from __future__ import annotations

import grpc
import pytest
from bookshop.recommendations.v1 import recommendations_pb2 as v1
from bookshop.recommendations.v1 import recommendations_pb2_grpc as v1_grpc
from bookshop.recommendations.v2 import recommendations_pb2 as v2
from bookshop.recommendations.v2 import recommendations_pb2_grpc as v2_grpc
from recommendations.domain import Category


def _values(module) -> list[str]:
    return [v.name for v in module.BookCategory.DESCRIPTOR.values if v.number != 0]


@pytest.mark.parametrize("name", _values(v1))
def test_every_v1_category_gets_books(channel: grpc.Channel, name: str) -> None:
    request = v1.RecommendRequest(user_id=1, category=v1.BookCategory.Value(name))
    response = v1_grpc.RecommendationsServiceStub(channel).Recommend(request, timeout=5)
    assert response.recommendations


@pytest.mark.parametrize("name", _values(v2))
def test_every_v2_category_gets_books(channel: grpc.Channel, name: str) -> None:
    request = v2.RecommendRequest(reader_id="r", category=v2.BookCategory.Value(name))
    assert v2_grpc.RecommendationsServiceStub(channel).Recommend(request, timeout=5).books


def test_the_domain_has_no_category_the_api_lacks() -> None:
    for module in (v1, v2):
        assert {f"BOOK_CATEGORY_{c.name}" for c in Category} == set(_values(module))
