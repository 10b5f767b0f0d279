"""Page tokens: where a reader's next page starts, in a form that clients treat as opaque.

A token holds the UTC day whose order it pages through, the offset of the next book, and a
fingerprint of the reader and category it was issued for, so that a token passed back with
another reader or category is recognised and refused. Nothing in it is secret: a client that
forges one only gets another slice of a public catalog.

>>> text = encode(20_000, 10, 12345, Category.MYSTERY)
>>> decode(text) == PageToken(20_000, 10, fingerprint(12345, Category.MYSTERY))
True
>>> decode("not a token") is None
True
"""

from __future__ import annotations

import base64
import binascii
import struct
import zlib
from dataclasses import dataclass

from recommendations.domain import Category

_LAYOUT = struct.Struct(">III")  # day, offset, fingerprint
_URL_SAFE = bytes.maketrans(b"+/", b"-_")
_SALTS = {category: zlib.crc32(category.value.encode()) for category in Category}


@dataclass(frozen=True, slots=True)
class PageToken:
    """The next page of `day`'s order, from `offset`, for the reader and category fingerprinted."""

    day: int
    offset: int
    fingerprint: int


def fingerprint(reader_key: int, category: Category) -> int:
    """A 32-bit mark of the reader (by its key, a CRC-32 of its id) and the category."""
    return reader_key ^ _SALTS[category]


def encode(day: int, offset: int, reader_key: int, category: Category) -> str:
    """The token of `day`'s order from `offset`, for the reader (by its key) and category, as
    URL-safe base64 (12 bytes make 16 characters, never padded)."""
    return _text(_LAYOUT.pack(day, offset, fingerprint(reader_key, category)))


def decode(text: str) -> PageToken | None:
    """The token `encode` made, or None for any text it did not make."""
    try:
        packed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(packed) != _LAYOUT.size:
        return None
    # Only the one spelling `encode` makes: base64 decoding also takes padded and other texts.
    return PageToken(*_LAYOUT.unpack(packed)) if _text(packed) == text else None


def _text(packed: bytes) -> str:
    # binascii and a translation, because base64's URL-safe wrapper makes the same text in twice
    # the time, on every call that returns a token.
    return binascii.b2a_base64(packed, newline=False).translate(_URL_SAFE).decode()
