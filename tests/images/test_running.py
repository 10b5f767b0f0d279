"""Both images running on a podman network as the deployment runs them: a read-only root, /tmp on
tmpfs, no capabilities, no new privileges; once in plaintext and once over mutual TLS with the
certificates mounted as secrets readable by the containers' user alone.

Each mode's pair of containers serves every test of this module in turn; the last test stops it.
"""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass

import pytest
import trustme
from conftest import UID, phase

from harness.metrics import by_label, parse
from harness.podman import Container
from harness.probes import answers, fetch
from harness.processes import wait_until

MODES = ("plaintext", "mutual-tls")
LOCKED_DOWN = (
    "--read-only",
    "--tmpfs", "/tmp:rw,size=64m",
    "--cap-drop", "ALL",
    "--security-opt", "no-new-privileges",
)  # fmt: skip
INTERNAL_PATHS = ("/metrics", "/healthz", "/readyz")
# Run inside a container (only the pages' port is published): the status, then the body.
_FETCH = """
import sys, urllib.error, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as response:
        status, body = response.status, response.read()
except urllib.error.HTTPError as error:
    status, body = error.code, error.read()
print(status)
sys.stdout.write(body.decode())
"""
# The standard gRPC health check, inside the service's container.
_SERVING = """
import grpc, sys
from grpc_health.v1 import health_pb2 as pb, health_pb2_grpc as rpc
reply = rpc.HealthStub(grpc.insecure_channel(sys.argv[1])).Check(pb.HealthCheckRequest(), timeout=2)
sys.exit(reply.status != pb.HealthCheckResponse.SERVING)
"""


@dataclass(frozen=True)
class Pair:
    """The two containers of one mode, and where to reach them."""

    mode: str
    service: Container
    website: Container
    site: str
    health_port: int

    def serving(self) -> bool:
        """Whether the service's health service says SERVING on its plaintext health port."""
        health = self.service.exec("python3", "-c", _SERVING, f"127.0.0.1:{self.health_port}")
        return health.returncode == 0

    def internal(self, path: str) -> tuple[int, str]:
        """The status and body of `path` on the website's internal port (9000)."""
        return _inside(self.website, f"http://127.0.0.1:9000{path}")

    def ok_calls(self) -> tuple[float, float]:
        """The recommendation calls that ended OK by the website's own metrics, and the Recommend
        calls the service answered OK by its own (port 9464)."""
        site = parse(self.internal("/metrics")[1])
        service = parse(_inside(self.service, "http://127.0.0.1:9464/metrics")[1])
        calls = by_label(site, "marketplace_recommendations_calls_total", "grpc_code")
        handled = by_label(
            service, "grpc_server_handled_total", "grpc_code", grpc_method="Recommend"
        )
        return calls.get("OK", 0.0), handled.get("OK", 0.0)

    def logs(self) -> str:
        """The end of both containers' output, for failure messages."""
        return "\n".join(f"--- {c.name}:\n{c.logs()}" for c in (self.service, self.website))


def _inside(container: Container, url: str) -> tuple[int, str]:
    result = container.exec("python3", "-c", _FETCH, url)
    if result.returncode != 0:
        return 0, result.stderr
    status, _, body = result.stdout.partition("\n")
    return int(status), body


def _mutual_tls(podman, folder):
    """A CA, the service's certificate (for the name the website dials) and the website's, stored
    as podman secrets; the `podman run` options that mount them and point each side at them,
    for the service and for the website. The files in `folder` are deleted once stored."""
    ca = trustme.CA()
    ca.cert_pem.write_to_path(folder / "ca.pem")
    for name, identities in (
        ("server", ["recommendations", "localhost"]),
        ("client", ["marketplace"]),
    ):
        issued = ca.issue_cert(*identities)
        issued.private_key_pem.write_to_path(folder / f"{name}-key.pem")
        for pem in issued.cert_chain_pems:
            pem.write_to_path(folder / f"{name}.pem", append=True)

    def secret(source, target):
        """podman's form of a Secret volume: /run/secrets/TARGET, readable by the user alone."""
        stored = podman.secret(f"{folder.name}-{target}", folder / source)
        return ["--secret", f"{stored},type=mount,target={target},uid={UID},gid={UID},mode=0400"]

    service = [
        *secret("server.pem", "server.crt"),
        *secret("server-key.pem", "server.key"),
        *secret("ca.pem", "client-ca.crt"),
        "--env", "RECOMMENDATIONS_TLS_CERT=/run/secrets/server.crt",
        "--env", "RECOMMENDATIONS_TLS_KEY=/run/secrets/server.key",
        "--env", "RECOMMENDATIONS_TLS_CLIENT_CA=/run/secrets/client-ca.crt",
    ]  # fmt: skip
    website = [
        *secret("client.pem", "client.crt"),
        *secret("client-key.pem", "client.key"),
        *secret("ca.pem", "ca.crt"),
        "--env", "RECOMMENDATIONS_TLS_CA=/run/secrets/ca.crt",
        "--env", "RECOMMENDATIONS_TLS_CLIENT_CERT=/run/secrets/client.crt",
        "--env", "RECOMMENDATIONS_TLS_CLIENT_KEY=/run/secrets/client.key",
    ]  # fmt: skip
    shutil.rmtree(folder)
    return service, website


@pytest.fixture(scope="module", params=MODES)
def pair(request, podman, built, tmp_path_factory):
    mode = request.param
    with phase(f"{mode}: containers started, service SERVING"):
        limits = ["--network", podman.network(), *LOCKED_DOWN]
        service_options = [
            "--network-alias", "recommendations",
            "--env", "RECOMMENDATIONS_DRAIN_SECONDS=1",
        ]  # fmt: skip
        website_options = [
            "--publish", "127.0.0.1::8000",
            "--env", f"DJANGO_SECRET_KEY={secrets.token_urlsafe(50)}",
            "--env", "DJANGO_ALLOWED_HOSTS=127.0.0.1,localhost",
            "--env", "DJANGO_SECURE_SSL_REDIRECT=false",
            "--env", "DATABASE_URL=sqlite:////tmp/marketplace.sqlite3",
            "--env", "RECOMMENDATIONS_HOST=recommendations",
            "--env", "WEB_CONCURRENCY=2",
        ]  # fmt: skip
        health_port = 50051
        if mode == "mutual-tls":
            # With TLS on, health is served alone on a plaintext port, as for the kubelet.
            health_port = 50052
            service_options += ["--env", f"RECOMMENDATIONS_HEALTH_PORT={health_port}"]
            # A tmpfs to hold the secret files: on a read-only root podman cannot create them.
            limits += ["--tmpfs", "/run/secrets:rw,size=1m"]
            service_tls, website_tls = _mutual_tls(podman, tmp_path_factory.mktemp("certs"))
            service_options += service_tls
            website_options += website_tls
        service_image, website_image = built("recommendations").id, built("marketplace").id
        service = podman.run(service_image, f"recommendations-{mode}", *limits, *service_options)
        website = podman.run(website_image, f"marketplace-{mode}", *limits, *website_options)
        started = Pair(mode, service, website, f"http://{website.address(8000)}", health_port)
        # The pages' port listens apart from the internal one: both must answer.
        ready = wait_until(
            lambda: (
                started.serving()
                and started.internal("/readyz")[0] == 200
                and answers(started.site + "/")
            ),
            timeout=60,
            interval=1,
        )
        assert ready, f"{mode}: service not SERVING or website not ready\n{started.logs()}"
    yield started
    podman.remove(website)
    podman.remove(service)


def test_the_homepage_shows_live_books_its_call_counted_ok_by_the_website_and_the_service(pair):
    calls, served = pair.ok_calls()

    status, page = fetch(pair.site + "/")

    assert status == 200, pair.logs()
    assert page.count("data-book-id=") > 0, pair.logs()
    assert "Recommendations are unavailable" not in page
    calls_after, served_after = pair.ok_calls()
    assert calls_after > calls, pair.logs()
    assert served_after > served, pair.logs()


@pytest.mark.parametrize("path", INTERNAL_PATHS)
def test_metrics_and_probes_are_served_on_the_internal_port_alone(pair, path):
    assert pair.internal(path)[0] == 200, pair.logs()
    assert fetch(pair.site + path)[0] == 404


def test_sigterm_stops_both_with_exit_0(pair):
    """Last: SIGTERM, drain, exit 0 (podman stop sends SIGKILL after 15 s)."""
    assert pair.website.stop(timeout=15) == 0, pair.logs()
    assert pair.service.stop(timeout=15) == 0, pair.logs()
