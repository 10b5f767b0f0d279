"""The API changelog, derived from the release images (never written by hand).

For each release, newest first: what it added, what it deprecated and which comments it changed,
each element with its comment, since the comment is the element's contract.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from google.protobuf import descriptor_pb2

from ci.registry.versions import compare

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ci.registry.images import Element
    from ci.registry.versions import Version

_HEADER = """\
# API changelog

Every release of the proto registry, newest first: what it added, deprecated or re-documented,
with each element's comment (its contract). `make release-protos` writes this file from the release
images in `releases/`, and `make check-protos` fails when it is stale: do not edit it by hand.
"""


def render(releases: Sequence[tuple[Version, descriptor_pb2.FileDescriptorSet]]) -> str:
    """The changelog of `releases`, given oldest first."""
    sections = []
    previous = descriptor_pb2.FileDescriptorSet()
    for version, image in releases:
        difference = compare(previous, image)
        parts = [f"## {version}"]
        for title, entries in (
            ("Added", difference.added),
            ("Deprecated", difference.deprecated),
            (
                "Comments changed",
                [e for e in difference.recommented if e.comment and e not in difference.deprecated],
            ),
        ):
            if entries:
                parts.append(f"{title}:\n\n" + "\n".join(_entry(e) for e in entries))
        if len(parts) == 1:
            parts.append("No change to the API's elements or their comments (layout or options).")
        sections.append("\n\n".join(parts))
        previous = image
    return _HEADER + "".join(f"\n{section}\n" for section in reversed(sections))


def _entry(element: Element) -> str:
    """A list item: the element, then its comment as paragraphs (lines re-joined)."""
    head = f"- {element.kind} `{element.name}`"
    paragraphs = [" ".join(p.split()) for p in element.comment.split("\n\n") if p.strip()]
    if not paragraphs:
        return head
    return "\n\n".join([f"{head}: {paragraphs[0]}", *(f"  {p}" for p in paragraphs[1:])])
