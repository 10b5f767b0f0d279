"""TLS and mutual TLS, with certificates made at test time by trustme."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import grpc
import pytest
import trustme
from bookshop.recommendations.v1.recommendations_pb2 import BOOK_CATEGORY_MYSTERY, RecommendRequest
from bookshop.recommendations.v1.recommendations_pb2_grpc import RecommendationsServiceStub
from grpc_health.v1 import health_pb2, health_pb2_grpc
from recommendations.server import StartupError
from recommendations.settings import TlsFiles

if TYPE_CHECKING:
    from pathlib import Path


@dataclass
class Pki:
    ca_pem: bytes
    tls: TlsFiles
    client_cert: bytes
    client_key: bytes
    stranger_cert: bytes
    stranger_key: bytes


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder: Path = tmp_path_factory.mktemp("pki")
    ca, other_ca = trustme.CA(), trustme.CA()
    server = ca.issue_cert("localhost", "127.0.0.1")
    client = ca.issue_cert("marketplace.bookshop.test")
    stranger = other_ca.issue_cert("marketplace.bookshop.test")
    server.private_key_pem.write_to_path(str(folder / "server-key.pem"))
    for blob in server.cert_chain_pems:
        blob.write_to_path(str(folder / "server.pem"), append=True)
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    return Pki(
        ca_pem=ca.cert_pem.bytes(),
        tls=TlsFiles(folder / "server.pem", folder / "server-key.pem", folder / "ca.pem"),
        client_cert=client.cert_chain_pems[0].bytes(),
        client_key=client.private_key_pem.bytes(),
        stranger_cert=stranger.cert_chain_pems[0].bytes(),
        stranger_key=stranger.private_key_pem.bytes(),
    )


def _recommend(channel: grpc.Channel) -> int:
    stub = RecommendationsServiceStub(channel)
    response = stub.Recommend(
        RecommendRequest(user_id=1, category=BOOK_CATEGORY_MYSTERY), timeout=5
    )
    return len(response.recommendations)


def _fails_unavailable(channel: grpc.Channel) -> None:
    with pytest.raises(grpc.RpcError) as error:
        _recommend(channel)
    assert error.value.code() is grpc.StatusCode.UNAVAILABLE


def _secure(port: int, credentials: grpc.ChannelCredentials) -> grpc.Channel:
    return grpc.secure_channel(f"127.0.0.1:{port}", credentials)


class TestTls:
    @pytest.fixture
    def running(self, start_server, pki: Pki):
        return start_server(tls=TlsFiles(pki.tls.cert, pki.tls.key, None))

    def test_a_client_trusting_the_ca_is_served(self, running, pki: Pki) -> None:
        with _secure(running.port, grpc.ssl_channel_credentials(pki.ca_pem)) as channel:
            assert _recommend(channel) == 3

    def test_a_plaintext_client_fails(self, running) -> None:
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            _fails_unavailable(channel)

    def test_a_client_trusting_another_ca_fails(self, running) -> None:
        stranger_ca = trustme.CA().cert_pem.bytes()
        with _secure(running.port, grpc.ssl_channel_credentials(stranger_ca)) as channel:
            _fails_unavailable(channel)

    def test_the_plaintext_health_port_serves_health_and_nothing_else(self, running) -> None:
        assert running.health_port not in (None, running.port)
        with grpc.insecure_channel(f"127.0.0.1:{running.health_port}") as channel:
            for service in ("", "bookshop.recommendations.v1.RecommendationsService"):
                response = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=service), timeout=5
                )
                assert response.status == health_pb2.HealthCheckResponse.SERVING
            with pytest.raises(grpc.RpcError) as error:
                _recommend(channel)
            assert error.value.code() is grpc.StatusCode.UNIMPLEMENTED


class TestMutualTls:
    @pytest.fixture
    def running(self, start_server, pki: Pki):
        return start_server(tls=pki.tls)

    def test_a_client_certificate_from_the_ca_is_served(self, running, pki: Pki) -> None:
        credentials = grpc.ssl_channel_credentials(pki.ca_pem, pki.client_key, pki.client_cert)
        with _secure(running.port, credentials) as channel:
            assert _recommend(channel) == 3

    def test_no_client_certificate_fails(self, running, pki: Pki) -> None:
        with _secure(running.port, grpc.ssl_channel_credentials(pki.ca_pem)) as channel:
            _fails_unavailable(channel)

    def test_a_client_certificate_from_another_ca_fails(self, running, pki: Pki) -> None:
        credentials = grpc.ssl_channel_credentials(pki.ca_pem, pki.stranger_key, pki.stranger_cert)
        with _secure(running.port, credentials) as channel:
            _fails_unavailable(channel)

    def test_the_health_port_stays_plaintext(self, running) -> None:
        with grpc.insecure_channel(f"127.0.0.1:{running.health_port}") as channel:
            response = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=5
            )
            assert response.status == health_pb2.HealthCheckResponse.SERVING


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
