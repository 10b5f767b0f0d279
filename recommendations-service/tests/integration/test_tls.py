"""TLS and mutual TLS, with certificates made at test time by trustme."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import grpc
import pytest
import trustme
from recommendations.server import StartupError
from recommendations.settings import TlsFiles

from harness import api

if TYPE_CHECKING:
    from pathlib import Path

    from recommendations.server import RunningServer


@dataclass
class Pki:
    tls: TlsFiles  # the server's certificate and key, and the CA of client certificates
    clients: dict[str, grpc.ChannelCredentials | None]  # None: plaintext


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder: Path = tmp_path_factory.mktemp("pki")
    ca, other_ca = trustme.CA(), trustme.CA()
    server = ca.issue_cert("localhost", "127.0.0.1")
    server.private_key_pem.write_to_path(str(folder / "server-key.pem"))
    for blob in server.cert_chain_pems:
        blob.write_to_path(str(folder / "server.pem"), append=True)
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    ca_pem = ca.cert_pem.bytes()

    def certified(by: trustme.CA) -> grpc.ChannelCredentials:
        client = by.issue_cert("marketplace.bookshop.test")
        key, cert = client.private_key_pem.bytes(), client.cert_chain_pems[0].bytes()
        return grpc.ssl_channel_credentials(ca_pem, key, cert)

    return Pki(
        tls=TlsFiles(folder / "server.pem", folder / "server-key.pem", folder / "ca.pem"),
        clients={
            "plaintext": None,
            "trusts-the-ca": grpc.ssl_channel_credentials(ca_pem),
            "trusts-another-ca": grpc.ssl_channel_credentials(other_ca.cert_pem.bytes()),
            "certificate-of-the-ca": certified(ca),
            "certificate-of-another-ca": certified(other_ca),
        },
    )


def _start(start_server, pki: Pki, *, mutual: bool) -> RunningServer:
    return start_server(tls=pki.tls if mutual else TlsFiles(pki.tls.cert, pki.tls.key, None))


@pytest.mark.parametrize(
    ("mutual", "client", "served"),
    [
        (False, "trusts-the-ca", True),
        (False, "plaintext", False),
        (False, "trusts-another-ca", False),
        (True, "certificate-of-the-ca", True),
        (True, "trusts-the-ca", False),
        (True, "certificate-of-another-ca", False),
    ],
)
def test_only_clients_that_trust_the_server_and_that_it_trusts_are_served(
    start_server, pki: Pki, mutual: bool, client: str, served: bool
) -> None:
    target = f"127.0.0.1:{_start(start_server, pki, mutual=mutual).port}"
    credentials = pki.clients[client]
    if credentials is None:
        channel = grpc.insecure_channel(target)
    else:
        channel = grpc.secure_channel(target, credentials)
    with channel:
        if served:
            assert len(api.recommend(channel)) == 3
        else:
            assert api.call_code(channel) is grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize("mutual", [False, True], ids=["tls", "mutual-tls"])
def test_the_plaintext_health_port_serves_health_and_nothing_else(
    start_server, pki: Pki, mutual: bool
) -> None:
    running = _start(start_server, pki, mutual=mutual)
    assert running.health_port not in (None, running.port)
    with grpc.insecure_channel(f"127.0.0.1:{running.health_port}") as channel:
        for service in ("", api.SERVICE):
            assert api.health(channel, service=service) == "SERVING"
        assert api.call_code(channel) is grpc.StatusCode.UNIMPLEMENTED


def test_unusable_tls_files_stop_start_up_with_one_line(start_server, pki: Pki, tmp_path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    cases = [
        (TlsFiles(junk, pki.tls.key, None), "must be a PEM certificate chain and its private key"),
        (TlsFiles(pki.tls.cert, pki.tls.cert, None), "must be a PEM certificate chain"),
        (TlsFiles(pki.tls.cert, pki.tls.key, junk), "must hold PEM CA certificates"),
        (TlsFiles(tmp_path / "absent.pem", pki.tls.key, None), "cannot read TLS file"),
    ]
    for tls, message in cases:
        with pytest.raises(StartupError, match=message) as error:
            start_server(tls=tls)
        assert "\n" not in str(error.value)
