"""The personalisation key sent as user_id: the signed-in user's id, else a session's own id."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from storefront.personalisation import as_user_id


@pytest.mark.django_db
def test_an_anonymous_reader_keeps_one_id_across_pages(client, recommendations_server):
    client.get("/")
    client.get("/category/science-fiction/")
    client.get("/")

    ids = {int(request.reader_id) for request in recommendations_server.requests}
    assert len(ids) == 1
    assert 0 <= ids.pop() < 2**31


@pytest.mark.django_db
def test_different_anonymous_readers_get_different_ids(recommendations_server):
    Client().get("/")
    Client().get("/")

    first, second = (int(request.reader_id) for request in recommendations_server.requests)
    assert first != second


@pytest.mark.django_db
def test_a_signed_in_reader_is_known_by_their_user_id(client, recommendations_server):
    user = get_user_model().objects.create_user(username="ada", password="not-used-here")
    client.force_login(user)

    client.get("/")

    (request,) = recommendations_server.requests
    assert int(request.reader_id) == user.pk


def test_any_integer_maps_into_the_non_negative_int32_range():
    assert as_user_id(0) == 0
    assert as_user_id(2**31 - 1) == 2**31 - 1
    assert as_user_id(2**31) == 0
    assert as_user_id(2**63 + 9) == 9
    assert as_user_id(-1) == 2**31 - 1
