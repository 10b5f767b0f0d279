"""Release images (`buf build -o X.json`) as the API elements they declare.

An image is a `FileDescriptorSet` with source information: every package, file, service, rpc,
message, field, oneof, enum and enum value, with its leading comment. `elements` flattens it into
one `Element` per fully qualified name, which is what version bumps and the changelog compare.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from google.protobuf import descriptor_pb2, json_format

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from google.protobuf.message import Message

# Field numbers of descriptor.proto, which source-code-info paths are made of.
_FILE_MESSAGE, _FILE_ENUM, _FILE_SERVICE = 4, 5, 6
_MESSAGE_FIELD, _MESSAGE_NESTED, _MESSAGE_ENUM, _MESSAGE_ONEOF = 2, 3, 4, 8
_ENUM_VALUE, _SERVICE_METHOD = 2, 2


@dataclass(frozen=True, slots=True)
class Element:
    """One declared element of the API.

    `shape` is what clients depend on (numbers, types, cardinality, streaming): a change to it is
    breaking. `options` are the element's serialized options, `deprecated` among them.
    """

    kind: str
    name: str
    package: str
    comment: str
    shape: tuple[object, ...]
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
        for element in _FileWalker(file.package, _comments(file)).file(file):
            found[element.name] = element
    return found


def _comments(file: descriptor_pb2.FileDescriptorProto) -> dict[tuple[int, ...], str]:
    return {
        tuple(location.path): _clean(location.leading_comments)
        for location in file.source_code_info.location
        if location.leading_comments
    }


def _clean(comment: str) -> str:
    """A comment's text without the space that follows each `//`."""
    return "\n".join(line.removeprefix(" ") for line in comment.strip("\n").splitlines()).strip()


@dataclass(frozen=True, slots=True)
class _FileWalker:
    """Turns one file's descriptors into elements, with the comments found at their paths."""

    package: str
    comments: dict[tuple[int, ...], str]

    def element(
        self,
        kind: str,
        name: str,
        descriptor: Message,
        path: tuple[int, ...],
        shape: tuple[object, ...] = (),
        *,
        imports: tuple[str, ...] = (),
    ) -> Element:
        options = getattr(descriptor, "options", None)
        serialized = options.SerializeToString(deterministic=True) if options is not None else b""
        return Element(
            kind=kind,
            name=name,
            package=self.package,
            comment=self.comments.get(path, ""),
            shape=shape,
            # A file's imports change with what it declares; on their own they are not its shape.
            options=serialized + "\n".join(imports).encode(),
            deprecated=bool(getattr(options, "deprecated", False)),
        )

    def file(self, file: descriptor_pb2.FileDescriptorProto) -> Iterator[Element]:
        yield Element("package", self.package, self.package, "", (), b"", False)
        imports = tuple(file.dependency)
        yield self.element("file", file.name, file, (), (file.syntax,), imports=imports)
        for i, message in enumerate(file.message_type):
            yield from self.message(message, self.package, (_FILE_MESSAGE, i))
        for i, enum in enumerate(file.enum_type):
            yield from self.enum(enum, self.package, (_FILE_ENUM, i))
        for i, service in enumerate(file.service):
            name, path = f"{self.package}.{service.name}", (_FILE_SERVICE, i)
            yield self.element("service", name, service, path)
            for j, method in enumerate(service.method):
                shape = (
                    method.input_type,
                    method.output_type,
                    method.client_streaming,
                    method.server_streaming,
                )
                method_path = (*path, _SERVICE_METHOD, j)
                yield self.element("rpc", f"{name}.{method.name}", method, method_path, shape)

    def message(
        self, message: descriptor_pb2.DescriptorProto, scope: str, path: tuple[int, ...]
    ) -> Iterator[Element]:
        name = f"{scope}.{message.name}"
        yield self.element("message", name, message, path)
        oneofs = [oneof.name for oneof in message.oneof_decl]
        for i, oneof in enumerate(message.oneof_decl):
            yield self.element("oneof", f"{name}.{oneof.name}", oneof, (*path, _MESSAGE_ONEOF, i))
        for i, field in enumerate(message.field):
            shape = (
                field.number,
                field.label,
                field.type,
                field.type_name,
                field.json_name,
                field.proto3_optional,
                oneofs[field.oneof_index] if field.HasField("oneof_index") else "",
            )
            field_path = (*path, _MESSAGE_FIELD, i)
            yield self.element("field", f"{name}.{field.name}", field, field_path, shape)
        for i, nested in enumerate(message.nested_type):
            yield from self.message(nested, name, (*path, _MESSAGE_NESTED, i))
        for i, enum in enumerate(message.enum_type):
            yield from self.enum(enum, name, (*path, _MESSAGE_ENUM, i))

    def enum(
        self, enum: descriptor_pb2.EnumDescriptorProto, scope: str, path: tuple[int, ...]
    ) -> Iterator[Element]:
        name = f"{scope}.{enum.name}"
        yield self.element("enum", name, enum, path)
        for i, value in enumerate(enum.value):
            # Named under their enum (protobuf scopes them beside it) so that the changelog
            # says which enum gained a value.
            value_path = (*path, _ENUM_VALUE, i)
            yield self.element(
                "enum value", f"{name}.{value.name}", value, value_path, (value.number,)
            )
