"""Page tokens: where a reader's next page starts, in a form that clients treat as opaque.

A token holds the UTC day whose order it pages through, the offset of the next book, and a
fingerprint of the reader and category it was issued for, so that a token passed back with
another reader or category is recognised and refused. Nothing in it is secret: a client that
forges one only gets another slice of a public catalog.

>>> token = PageToken(day=20_000, offset=10, fingerprint=fingerprint("reader-7", Category.MYSTERY))
>>> decode(encode(token)) == token
True
>>> decode("not a token") is None
True
"""

from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass
from hashlib import blake2b

from recommendations.domain import Category

_LAYOUT = struct.Struct(">IIQ")  # day, offset, fingerprint


@dataclass(frozen=True, slots=True)
class PageToken:
    """The next page of `day`'s order, from `offset`, for the reader and category fingerprinted."""

    day: int
    offset: int
    fingerprint: int


def fingerprint(reader_id: str, category: Category) -> int:
    """A 64-bit digest of the reader and category a token is issued for."""
    digest = blake2b(f"{category.value}/{reader_id}".encode(), digest_size=8, person=b"page")
    return int.from_bytes(digest.digest())


def encode(token: PageToken) -> str:
    """The token as URL-safe text (no padding)."""
    return _text(_LAYOUT.pack(token.day, token.offset, token.fingerprint))


def decode(text: str) -> PageToken | None:
    """The token `encode` made, or None for any text it did not make."""
    try:
        packed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(packed) != _LAYOUT.size or _text(packed) != text:
        return None
    return PageToken(*_LAYOUT.unpack(packed))


def _text(packed: bytes) -> str:
    # URL-safe base64 without padding: the one spelling a token has.
    return base64.urlsafe_b64encode(packed).decode().rstrip("=")
