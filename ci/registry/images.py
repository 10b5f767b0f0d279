"""Release images (`buf build -o X.json`) as the API elements they declare.

`buf breaking` says whether a change breaks clients. What it does not say is what a compatible
change added, deprecated or re-documented, which the version bump and the changelog need:
`elements` flattens an image into one `Element` per fully qualified name, with its leading comment
(the element's contract) and its options.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from google.protobuf import descriptor_pb2, json_format

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from google.protobuf.message import Message

# The repeated fields of descriptor.proto that declare elements, and the kind each declares. Their
# field numbers make up the source-code-info paths that locate the comments.
_KINDS = {
    "message_type": "message",
    "nested_type": "message",
    "oneof_decl": "oneof",
    "field": "field",
    "enum_type": "enum",
    "value": "enum value",
    "service": "service",
    "method": "rpc",
}


@dataclass(frozen=True, slots=True)
class Element:
    """One declared element of the API; `options` are its serialized options."""

    kind: str
    name: str
    package: str
    comment: str
    options: bytes
    deprecated: bool


def load(path: Path) -> descriptor_pb2.FileDescriptorSet:
    """Read a buf image in JSON form (buf's own extensions are ignored)."""
    return json_format.Parse(
        path.read_text(encoding="utf-8"),
        descriptor_pb2.FileDescriptorSet(),
        ignore_unknown_fields=True,
    )


def elements(image: descriptor_pb2.FileDescriptorSet) -> dict[str, Element]:
    """Every element of the image by its fully qualified name (files by their path)."""
    found: dict[str, Element] = {}
    for file in image.file:
        comments = {
            tuple(location.path): _clean(location.leading_comments)
            for location in file.source_code_info.location
            if location.leading_comments
        }
        found[file.package] = Element("package", file.package, file.package, "", b"", False)
        # A file's imports change with what it declares; on their own they are not its shape.
        imports = "\n".join(file.dependency).encode()
        found[file.name] = _element(
            "file", file.name, file, file.package, comments.get((), ""), extra=imports
        )
        for element in _walk(file, (), file.package, file.package, comments):
            found[element.name] = element
    return found


def _walk(
    parent: Message,
    path: tuple[int, ...],
    scope: str,
    package: str,
    comments: dict[tuple[int, ...], str],
) -> Iterator[Element]:
    """The elements declared inside `parent`, depth first; enum values named under their enum."""
    for field, children in parent.ListFields():
        kind = _KINDS.get(field.name)
        if kind is None:
            continue
        for i, child in enumerate(children):
            child_path, name = (*path, field.number, i), f"{scope}.{child.name}"
            yield _element(kind, name, child, package, comments.get(child_path, ""))
            yield from _walk(child, child_path, name, package, comments)


def _element(
    kind: str, name: str, descriptor: Message, package: str, comment: str, *, extra: bytes = b""
) -> Element:
    options = getattr(descriptor, "options", None)
    serialized = options.SerializeToString(deterministic=True) if options is not None else b""
    deprecated = bool(getattr(options, "deprecated", False))
    return Element(kind, name, package, comment, serialized + extra, deprecated)


def _clean(comment: str) -> str:
    """A comment's text without the space that follows each `//`."""
    return "\n".join(line.removeprefix(" ") for line in comment.strip("\n").splitlines()).strip()
