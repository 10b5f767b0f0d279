"""Both services as processes, traced into one OTLP receiver; helpers to read their logs."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

from harness.otlp import OtlpReceiver, ReceivedSpan
from harness.processes import Supervisor
from harness.service import Replica, build_catalog
from harness.website import Website

# Spans leave a process within 50 ms instead of the SDK's 5 s.
QUICK_EXPORT = {"OTEL_BSP_SCHEDULE_DELAY": "50"}
RESOURCE = {"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=test"}


@dataclass
class Traced:
    """A website and a recommendations replica, both tracing into `receiver`."""

    receiver: OtlpReceiver
    supervisor: Supervisor
    service: Replica
    website: Website

    def trace_of(self, path: str, *, spans: int) -> list[ReceivedSpan]:
        """Load `path` once; the spans of its trace, once `spans` of them have arrived.

        A query parameter of its own tells this page's span from any other page's (the site
        ignores it), such as the website's first page, loaded when it starts."""
        path += ("&" if "?" in path else "?") + f"probe={uuid.uuid4().hex}"
        self.receiver.clear()
        self.website.get(path)
        received = self.receiver.wait_for(lambda s: _complete(s, path, spans), timeout=20)
        (root,) = [s for s in received if s.parent_id == "" and _is_page(s, path)]
        return [s for s in received if s.trace_id == root.trace_id]

    def log_lines(self, process: str) -> list[dict[str, object]]:
        """The JSON lines a process has logged so far (other output left out)."""
        text = self.supervisor.log_of(process).read_text()
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _is_page(span: ReceivedSpan, path: str) -> bool:
    return (
        span.service == "marketplace"
        and span.kind == "SERVER"
        and (span.attributes.get("http.url", "").endswith(path))
    )


def _complete(received: list[ReceivedSpan], path: str, spans: int) -> bool:
    roots = [s for s in received if s.parent_id == "" and _is_page(s, path)]
    return len(roots) == 1 and sum(s.trace_id == roots[0].trace_id for s in received) >= spans


def start_traced(
    workdir: Path, receiver: OtlpReceiver, protocol: str, *, service_env=None, site_env=None
) -> Traced:
    """Start a replica and a website exporting to `receiver` over `protocol`."""
    endpoint = receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint
    otel = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        **QUICK_EXPORT,
        **RESOURCE,
    }
    supervisor = Supervisor(workdir / "logs")
    catalog = workdir / "catalog.sqlite3"
    build_catalog(catalog)
    service = Replica(supervisor, "recommendations", catalog, extra_env=otel | (service_env or {}))
    service.start()
    website = Website(
        supervisor,
        "website",
        workdir,
        f"ipv4:{service.address}",
        extra_env=otel | {"DJANGO_LOG_LEVEL": "INFO"} | (site_env or {}),
    )
    website.start()
    return Traced(receiver, supervisor, service, website)
