"""Registry versions, and the bump a compatible change between two images calls for.

The registry is versioned like a library: comments, layout or options only is a PATCH; anything
added (a file, package, message, field, oneof, enum, enum value, service or rpc) is a MINOR. What
breaks clients is `buf breaking`'s finding, never a bump: a breaking change is a new package
served beside the old one, which is itself an addition.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ci.registry import images

if TYPE_CHECKING:
    from google.protobuf import descriptor_pb2

    from ci.registry.images import Element

_VERSION = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")


@dataclass(frozen=True, order=True, slots=True)
class Version:
    """MAJOR.MINOR.PATCH, ordered numerically."""

    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse `1.2.3`; raise ValueError for anything else (no prefix, suffix or leading 0)."""
        match = _VERSION.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"{text!r} is not MAJOR.MINOR.PATCH, e.g. 1.2.0")
        return cls(*(int(part) for part in match.groups()))

    def bumped(self, bump: Bump) -> Version:
        """The version after a change of kind `bump` (NONE keeps it)."""
        if bump is Bump.MINOR:
            return Version(self.major, self.minor + 1, 0)
        if bump is Bump.PATCH:
            return Version(self.major, self.minor, self.patch + 1)
        return self

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


class Bump(enum.IntEnum):
    """What a compatible change calls for, in increasing order."""

    NONE = 0
    PATCH = 1
    MINOR = 2


@dataclass(frozen=True, slots=True)
class Difference:
    """How a newer image differs from an older one, element by element."""

    added: list[Element] = field(default_factory=list)
    deprecated: list[Element] = field(default_factory=list)
    recommented: list[Element] = field(default_factory=list)
    reoptioned: list[Element] = field(default_factory=list)
    relaid: bool = False

    @property
    def bump(self) -> Bump:
        """The least bump that covers the difference."""
        if self.added:
            return Bump.MINOR
        if self.recommented or self.reoptioned or self.relaid:
            return Bump.PATCH
        return Bump.NONE

    def summary(self) -> str:
        """A few words on what changed, for messages: `added field a.B.c, ... and 3 more`."""
        new_packages = sorted(e.name for e in self.added if e.kind == "package")
        parts = [
            *(f"added package {name}" for name in new_packages),
            *(
                f"added {e.kind} {e.name}"
                for e in self.added
                if e.kind not in _IMPLIED and e.package not in new_packages
            ),
            *(f"deprecated {e.kind} {e.name}" for e in self.deprecated),
            *(f"new comment on {e.kind} {e.name}" for e in self.recommented),
            *(f"new options on {e.kind} {e.name}" for e in self.reoptioned),
        ]
        if not parts and self.relaid:
            parts.append("layout only")
        if len(parts) > _SUMMARY_PARTS:
            parts[_SUMMARY_PARTS:] = [f"and {len(parts) - _SUMMARY_PARTS} more"]
        return ", ".join(parts)


# Elements that come with others and need no mention of their own in a summary.
_IMPLIED = frozenset({"package", "file"})
_SUMMARY_PARTS = 4


def compare(
    old: descriptor_pb2.FileDescriptorSet, new: descriptor_pb2.FileDescriptorSet
) -> Difference:
    """The difference from `old` to `new`, which `buf breaking` found compatible."""
    before = images.elements(old)
    relaid = old.SerializeToString(deterministic=True) != new.SerializeToString(deterministic=True)
    difference = Difference(relaid=relaid)
    for name, element in images.elements(new).items():
        previous = before.get(name)
        if previous is None:
            difference.added.append(element)
            continue
        if element.deprecated and not previous.deprecated:
            difference.deprecated.append(element)
        if element.comment != previous.comment:
            difference.recommented.append(element)
        if element.options != previous.options:
            difference.reoptioned.append(element)
    return difference
