"""TLS and mutual TLS to the recommendations service, with certificates made at test time."""

from __future__ import annotations

import grpc
import pytest
import trustme
from storefront import recommendations
from storefront.categories import Category

from tests.servers import ScriptedServicer, start


@pytest.fixture
def ca():
    return trustme.CA()


@pytest.fixture
def files(tmp_path, ca):
    """Writes the CA, and a client certificate the CA issued, to PEM files."""
    client = ca.issue_cert("marketplace")
    paths = {
        "ca": tmp_path / "ca.pem",
        "cert": tmp_path / "client.pem",
        "key": tmp_path / "client-key.pem",
    }
    ca.cert_pem.write_to_path(paths["ca"])
    client.cert_chain_pems[0].write_to_path(paths["cert"])
    client.private_key_pem.write_to_path(paths["key"])
    return {name: str(path) for name, path in paths.items()}


def serve(ca, *, require_client_cert):
    servicer = ScriptedServicer()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    credentials = grpc.ssl_server_credentials(
        [(cert.private_key_pem.bytes(), cert.cert_chain_pems[0].bytes())],
        root_certificates=ca.cert_pem.bytes() if require_client_cert else None,
        require_client_auth=require_client_cert,
    )
    server, port = start(servicer, credentials=credentials)
    return servicer, server, port


@pytest.fixture
def use(settings):
    """Points the client at a target with the given TLS files, on a fresh channel."""

    def configure(port, ca=None, cert=None, key=None):
        settings.RECOMMENDATIONS_TARGET = f"127.0.0.1:{port}"
        settings.RECOMMENDATIONS_TLS_CA = ca
        settings.RECOMMENDATIONS_TLS_CLIENT_CERT = cert
        settings.RECOMMENDATIONS_TLS_CLIENT_KEY = key
        recommendations.close()

    yield configure
    recommendations.close()


def ask():
    return recommendations.recommend(reader_id=5, category=Category.MYSTERY, page_size=2)


def test_tls_with_the_service_ca(ca, files, use):
    _, server, port = serve(ca, require_client_cert=False)
    use(port, ca=files["ca"])

    assert [book.id for book in ask().books] == [101, 102]
    server.stop(0)


def test_tls_refuses_a_server_the_ca_did_not_sign(ca, files, use):
    _, server, port = serve(trustme.CA(), require_client_cert=False)
    use(port, ca=files["ca"])

    assert ask().failure == "UNAVAILABLE"
    server.stop(0)


def test_mutual_tls_with_a_client_certificate(ca, files, use):
    servicer, server, port = serve(ca, require_client_cert=True)
    use(port, ca=files["ca"], cert=files["cert"], key=files["key"])

    assert [book.id for book in ask().books] == [101, 102]
    assert len(servicer.requests) == 1
    server.stop(0)


def test_mutual_tls_without_a_client_certificate_degrades(ca, files, use):
    servicer, server, port = serve(ca, require_client_cert=True)
    use(port, ca=files["ca"])

    assert ask().failure == "UNAVAILABLE"
    assert servicer.requests == []
    server.stop(0)
