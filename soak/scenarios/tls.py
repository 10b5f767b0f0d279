"""5. TLS: the mutual-TLS matrix against servers using `make certs` output, and the website
talking to the service over mutual TLS.

Promises: a plaintext client of a TLS server fails; a TLS
client trusting the CA succeeds; with mutual TLS, no client certificate fails, a certificate from
another CA fails and a valid one succeeds; the plaintext health port serves health and nothing
else. The website given the CA and its client certificate shows full pages; given no client
certificate it degrades (200, counted) instead of failing.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING

import grpc
import trustme

from harness import api
from harness.metrics import difference
from harness.service import Replica, ServerTls
from harness.website import Website
from soak.scenarios.base import Outcome

if TYPE_CHECKING:
    from soak.scenarios.base import Context

TITLE = "TLS and mutual TLS"
_HOME_BOOKS = 3
_PAGES = 20


def run(context: Context) -> Outcome:
    """Run the matrix, then the website over mutual TLS."""
    outcome = Outcome("tls", TITLE)
    certs = context.certs
    ca = (certs / "ca.pem").read_bytes()
    client = (certs / "client-key.pem").read_bytes(), (certs / "client.pem").read_bytes()
    trusting, valid = (ca, None, None), (ca, *client)
    other_ca = trustme.CA()
    trusting_another_ca = (other_ca.cert_pem.bytes(), None, None)
    stranger = other_ca.issue_cert("bookshop-client")
    stranger_chain = b"".join(blob.bytes() for blob in stranger.cert_chain_pems)
    from_another_ca = (ca, stranger.private_key_pem.bytes(), stranger_chain)

    server_tls = ServerTls(certs / "server.pem", certs / "server-key.pem")
    tls_only = Replica(context.supervisor, "tls-server", context.catalog, tls=server_tls)
    mutual_tls = replace(server_tls, client_ca=certs / "ca.pem")
    mutual = Replica(context.supervisor, "mtls-server", context.catalog, tls=mutual_tls)
    tls_only.start()
    mutual.start()
    cases = [
        ("TLS server, plaintext client", tls_only, None, False),
        ("TLS server, TLS client trusting the CA", tls_only, trusting, True),
        ("TLS server, TLS client trusting another CA", tls_only, trusting_another_ca, False),
        ("mutual TLS, plaintext client", mutual, None, False),
        ("mutual TLS, no client certificate", mutual, trusting, False),
        ("mutual TLS, certificate from another CA", mutual, from_another_ca, False),
        ("mutual TLS, valid client certificate", mutual, valid, True),
    ]
    for label, server, credentials, succeeds in cases:
        if credentials is None:
            channel = grpc.insecure_channel(server.address)
        else:
            trusted, key, chain = credentials
            channel = api.secure_channel(server.address, ca=trusted, key=key, chain=chain)
        with channel:
            code = api.call_code(channel, timeout=3)
        held = code == grpc.StatusCode.OK if succeeds else code == grpc.StatusCode.UNAVAILABLE
        expected = "OK" if succeeds else "UNAVAILABLE (handshake refused)"
        outcome.promise(held, f"{label}: {expected}", code.name)

    with grpc.insecure_channel(f"127.0.0.1:{mutual.health_port}") as health_channel:
        status = api.health(health_channel)
        other = api.call_code(health_channel, timeout=3)
    outcome.promise(
        status == "SERVING" and other == grpc.StatusCode.UNIMPLEMENTED,
        "the plaintext health port serves health and nothing else",
        f"health {status}, Recommend {other.name}",
    )

    _website(context, outcome, mutual, client_certificate=True)
    _website(context, outcome, mutual, client_certificate=False)
    for server in (tls_only, mutual):
        status_code = server.terminate()
        outcome.promise(status_code == 0, f"{server.name} exited 0 on SIGTERM", status_code)
    return outcome


def _website(
    context: Context, outcome: Outcome, server: Replica, *, client_certificate: bool
) -> None:
    env = {"RECOMMENDATIONS_TLS_CA": str(context.certs / "ca.pem")}
    if client_certificate:
        env["RECOMMENDATIONS_TLS_CLIENT_CERT"] = str(context.certs / "client.pem")
        env["RECOMMENDATIONS_TLS_CLIENT_KEY"] = str(context.certs / "client-key.pem")
    target = f"ipv4:{server.address}"
    site = Website(context.supervisor, "tls-site", context.workdir, target, extra_env=env)
    site.start()
    before = site.calls()
    started = time.monotonic()
    pages = [site.get("/") for _ in range(_PAGES)]
    elapsed = time.monotonic() - started
    calls = difference(site.calls(), before)
    site.stop()
    statuses = sorted({page.status for page in pages})
    books = sorted({page.books for page in pages})
    if client_certificate:
        outcome.promise(
            statuses == [200] and books == [_HOME_BOOKS] and calls == {"OK": _PAGES},
            f"website over mutual TLS: {_PAGES} full pages",
            f"status {statuses}, books per page {books}, calls {calls}, {elapsed:.2f} s",
        )
    else:
        outcome.promise(
            statuses == [200] and books == [0] and "OK" not in calls,
            "website without a client certificate: 200, degraded, counted",
            f"status {statuses}, books per page {books}, calls {calls}",
        )
