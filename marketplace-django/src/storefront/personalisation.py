"""The personalisation key: the reader id sent to the recommendations service.

A signed-in reader is known by their user id; anyone else gets a random id that is kept in
their session, so their recommendations stay the same from page to page. The key is a
non-negative int32, so that it serves v1's `user_id` as well as v2's `reader_id` (as text).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.http import HttpRequest

SESSION_KEY = "storefront_reader_id"
_INT32_LIMIT = 2**31


def as_user_id(value: int) -> int:
    """Map any integer into the non-negative int32 range that `user_id` accepts.

    >>> as_user_id(42), as_user_id(2**31 + 5), as_user_id(-1)
    (42, 5, 2147483647)
    """
    return value % _INT32_LIMIT


def reader_id(request: HttpRequest) -> int:
    """The personalisation key of the reader making `request`.

    Whatever the session holds under SESSION_KEY that is not a valid id (a bool, a string, a
    float, an int out of range: the session is a cookie, and a cookie can be anything) is
    replaced by a fresh id; it never fails the page.
    """
    user = request.user
    if user.is_authenticated:
        return as_user_id(int(user.pk))
    stored = request.session.get(SESSION_KEY)
    # `type(...) is int`, not isinstance: bool is a subclass of int, and protobuf refuses it.
    if type(stored) is int and 0 <= stored < _INT32_LIMIT:
        return stored
    fresh = secrets.randbelow(_INT32_LIMIT)
    request.session[SESSION_KEY] = fresh
    return fresh
