"""The example consumer, installed from the registry as docs/packages.md says, against real peers.

The example is compiled by `tsc --strict` against the installed package's .d.ts files, then run
with node against a real recommendations-server, in plaintext and with mutual TLS.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import subprocess
from base64 import b64encode
from pathlib import Path

import pytest
from bookshop.recommendations.v2 import recommendations_pb2
from conftest import connections, run
from recommendations.catalog import default_csv, read_csv

ROOT = Path(__file__).resolve().parents[3]

# The example's spelling of each category the proto defines: BOOK_CATEGORY_SELF_HELP is self-help.
CATEGORIES = [
    value.name.removeprefix("BOOK_CATEGORY_").lower().replace("_", "-")
    for value in recommendations_pb2.BookCategory.DESCRIPTOR.values
    if value.number != recommendations_pb2.BOOK_CATEGORY_UNSPECIFIED
]


def _recommend(
    consumer: Path, env: dict[str, str], port: int, *options: str, category: str = "mystery"
) -> subprocess.CompletedProcess[str]:
    """Run the built example against 127.0.0.1:`port`."""
    target = ["--target", f"127.0.0.1:{port}", "--category", category]
    return run(["node", "dist/recommend.js", *target, *options], env, cwd=consumer)


def _books(output: str) -> list[tuple[int, str]]:
    return [
        (int(book_id), title) for book_id, title in (x.split("\t") for x in output.splitlines())
    ]


def _compile(
    consumer: Path, env: dict[str, str], name: str, source: str, *flags: str
) -> subprocess.CompletedProcess[str]:
    """`tsc --strict` over `source`, written to `name`.ts beside the example, with its tsconfig."""
    (consumer / f"{name}.ts").write_text(source)
    config = consumer / f"tsconfig.{name}.json"
    config.write_text(json.dumps({"extends": "./tsconfig.json", "files": [f"{name}.ts"]}))
    return run(["npx", "tsc", "--strict", *flags, "-p", config.name], env, cwd=consumer)


def test_the_installed_package_is_the_published_tarball(
    consumer: Path, npm_package: Path, version: str
) -> None:
    lock = json.loads((consumer / "package-lock.json").read_text())
    installed = lock["packages"]["node_modules/@bookshop/protos"]
    assert installed["version"] == version
    # npm's Subresource Integrity of the tarball (sha512).
    digest = hashlib.sha512(npm_package.read_bytes()).digest()
    assert installed["integrity"] == "sha512-" + b64encode(digest).decode()


@pytest.mark.parametrize("category", CATEGORIES)
def test_prints_books_of_each_category(
    consumer: Path, npm_env: dict[str, str], service: int, category: str
) -> None:
    result = _recommend(consumer, npm_env, service, category=category)

    assert result.returncode == 0, result.stderr
    books = _books(result.stdout)
    of_category = {(b.id, b.title) for b in read_csv(default_csv()) if b.category.value == category}
    assert len(books) == 10  # page_size 0: the service's default
    assert len(set(books)) == 10
    assert set(books) <= of_category


def test_an_unspecified_category_is_invalid_argument_naming_the_field(
    consumer: Path, npm_env: dict[str, str], service: int
) -> None:
    result = _recommend(consumer, npm_env, service, category="unspecified")

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: InvalidArgument: category ")


def test_the_deadline_ends_a_call_to_a_peer_that_never_answers(
    consumer: Path, npm_env: dict[str, str], silent_peer: socket.socket
) -> None:
    port = silent_peer.getsockname()[1]
    result = _recommend(consumer, npm_env, port, "--timeout-ms", "300")

    assert connections(silent_peer) == 1  # the call reached the peer: no refusal ended it
    assert result.returncode == 1
    assert result.stderr.startswith("error: DeadlineExceeded: ")


def test_mutual_tls_with_the_client_certificate_is_served(
    consumer: Path, npm_env: dict[str, str], mtls_service: int, pki: Path
) -> None:
    client = ["--cert", str(pki / "client.pem"), "--key", str(pki / "client-key.pem")]
    result = _recommend(consumer, npm_env, mtls_service, "--ca", str(pki / "ca.pem"), *client)

    assert result.returncode == 0, result.stderr
    assert len(_books(result.stdout)) == 10


def test_mutual_tls_without_a_client_certificate_is_refused(
    consumer: Path, npm_env: dict[str, str], mtls_service: int, pki: Path
) -> None:
    result = _recommend(consumer, npm_env, mtls_service, "--ca", str(pki / "ca.pem"))

    assert result.returncode == 1
    assert result.stdout == ""
    # TLS 1.3 finishes the client's side of the handshake before the server checks for a
    # certificate, so the refusal reaches the client as the stream being cancelled.
    assert result.stderr.split(":")[:1] == ["error"]
    assert result.stderr.split(": ")[1] in {"Canceled", "Unavailable"}


def test_a_bad_option_is_named(consumer: Path, npm_env: dict[str, str]) -> None:
    result = run(["node", "dist/recommend.js", "--category", "poetry"], npm_env, cwd=consumer)

    assert result.returncode == 2
    assert result.stderr.startswith(
        "error: --category is 'poetry'; expected one of unspecified, "
        + ", ".join(CATEGORIES)
        + "\n"
    )


def test_tsc_strict_rejects_a_misspelled_field(consumer: Path, npm_env: dict[str, str]) -> None:
    # The package's .d.ts types reach consumer code: a wrong field name does not compile.
    source = (
        'import { createClient } from "@connectrpc/connect";\n'
        'import { createGrpcTransport } from "@connectrpc/connect-node";\n'
        'import { RecommendationsService } from "@bookshop/protos/bookshop/recommendations/v2/'
        'recommendations_pb.js";\n'
        "\n"
        'const transport = createGrpcTransport({ baseUrl: "http://127.0.0.1:50051" });\n'
        'await createClient(RecommendationsService, transport).recommend({ readerIdd: "r" });\n'
    )
    result = _compile(consumer, npm_env, "misspelled", source, "--noEmit")

    assert result.returncode != 0
    assert "misspelled.ts" in result.stdout
    assert "'readerIdd' does not exist" in result.stdout


def test_the_packages_pages_call_compiles_and_prints_books(
    consumer: Path, npm_env: dict[str, str], service: int
) -> None:
    page = (ROOT / "docs" / "packages.md").read_text()
    call = re.search(r"^## TypeScript.*?^```ts\n(.*?)^```$", page, flags=re.DOTALL | re.MULTILINE)
    assert call is not None
    assert "127.0.0.1:50051" in call[1]
    snippet = call[1].replace("127.0.0.1:50051", f"127.0.0.1:{service}")
    compiled = _compile(consumer, npm_env, "readme", snippet)
    assert compiled.returncode == 0, compiled.stdout

    result = run(["node", "dist/readme.js"], npm_env, cwd=consumer)

    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 3
