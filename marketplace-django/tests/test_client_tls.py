"""TLS and mutual TLS to the recommendations service, with certificates made at test time."""

from __future__ import annotations

import grpc
import pytest
import trustme
from storefront import recommendations
from storefront.categories import Category

from tests.servers import ScriptedServicer, start


@pytest.mark.parametrize(
    ("signed_by_the_ca", "mutual", "client_cert", "served"),
    [
        pytest.param(True, False, False, True, id="tls-with-the-service-ca"),
        pytest.param(False, False, False, False, id="tls-refuses-a-server-the-ca-did-not-sign"),
        pytest.param(True, True, True, True, id="mutual-tls-with-a-client-certificate"),
        pytest.param(True, True, False, False, id="mutual-tls-without-one-degrades"),
    ],
)
def test_tls_and_mutual_tls(tmp_path, settings, signed_by_the_ca, mutual, client_cert, served):
    ca = trustme.CA()
    client = ca.issue_cert("marketplace")
    paths = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key")}
    ca.cert_pem.write_to_path(paths["ca"])
    client.cert_chain_pems[0].write_to_path(paths["cert"])
    client.private_key_pem.write_to_path(paths["key"])
    cert = (ca if signed_by_the_ca else trustme.CA()).issue_cert("127.0.0.1", "localhost")
    credentials = grpc.ssl_server_credentials(
        [(cert.private_key_pem.bytes(), cert.cert_chain_pems[0].bytes())],
        root_certificates=ca.cert_pem.bytes() if mutual else None,
        require_client_auth=mutual,
    )
    servicer = ScriptedServicer()
    server, port = start(servicer, credentials=credentials)
    settings.RECOMMENDATIONS_TARGET = f"127.0.0.1:{port}"
    settings.RECOMMENDATIONS_TLS_CA = str(paths["ca"])
    settings.RECOMMENDATIONS_TLS_CLIENT_CERT = str(paths["cert"]) if client_cert else None
    settings.RECOMMENDATIONS_TLS_CLIENT_KEY = str(paths["key"]) if client_cert else None
    recommendations.close()
    try:
        result = recommendations.recommend(reader_id=5, category=Category.MYSTERY, page_size=2)
    finally:
        server.stop(0)
        recommendations.close()

    assert [book.id for book in result.books] == ([101, 102] if served else [])
    assert result.failure == (None if served else "UNAVAILABLE")
    assert len(servicer.requests) == (1 if served else 0)
