"""The personalisation key sent as reader_id: the signed-in user's id, else a session's own id."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.test import Client
from storefront.personalisation import SESSION_KEY, as_user_id


@pytest.mark.django_db
def test_a_reader_keeps_one_id_across_pages_another_gets_another_a_user_their_own(
    client, recommendations_server
):
    client.get("/")
    client.get("/category/science-fiction/")
    client.get("/")
    Client().get("/")
    user = get_user_model().objects.create_user(username="ada", password="not-used-here")
    signed_in = Client()
    signed_in.force_login(user)
    signed_in.get("/")

    *ids, other, known = (int(request.reader_id) for request in recommendations_server.requests)
    assert len(set(ids)) == 1
    assert 0 <= ids[0] < 2**31
    assert other != ids[0]
    assert known == user.pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    "tampered", [True, False, -1, 2**31, 2**64, "42", 4.0, None, [7], {"id": 7}]
)
def test_a_session_value_that_is_no_reader_id_gets_a_fresh_one(
    client, recommendations_server, tampered
):
    # A validly signed session cookie whose reader id is not one: the signing key leaked, or
    # an older release stored something else there. The page must not fail.
    session = SessionStore()
    session[SESSION_KEY] = tampered
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key

    first = client.get("/")
    second = client.get("/category/mystery/")

    assert (first.status_code, second.status_code) == (200, 200)
    ids = [int(request.reader_id) for request in recommendations_server.requests]
    assert len(ids) == 2
    assert ids[0] == ids[1], "the fresh id is kept in the session"
    assert 0 <= ids[0] < 2**31
    stored = SessionStore(session_key=client.cookies[settings.SESSION_COOKIE_NAME].value)
    assert stored[SESSION_KEY] == ids[0]


def test_any_integer_maps_into_the_non_negative_int32_range():
    assert as_user_id(0) == 0
    assert as_user_id(2**31 - 1) == 2**31 - 1
    assert as_user_id(2**31) == 0
    assert as_user_id(2**63 + 9) == 9
    assert as_user_id(-1) == 2**31 - 1
