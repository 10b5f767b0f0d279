"""Tracing with OpenTelemetry, turned on and shaped by the standard OTEL_* variables alone.

`configure` is the one place in the service that looks at them. Tracing is on when
OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, or OTEL_TRACES_EXPORTER
is `otlp`; OTEL_TRACES_EXPORTER=none or OTEL_SDK_DISABLED=true turn it off whatever else is set.
Off, `configure` returns None and nothing is built: no exporter, no thread, and the server
composes no tracing interceptor, so a call does no tracing work at all.

On, it builds the OpenTelemetry SDK's `TracerProvider`, whose spans (the server's, made by
`interceptors.tracing`, and any a handler starts) go through the SDK's batching and OTLP
exporters, which read their own variables from the environment:

- the resource: `service.name` is `recommendations` unless OTEL_SERVICE_NAME or
  OTEL_RESOURCE_ATTRIBUTES names another; OTEL_RESOURCE_ATTRIBUTES adds attributes;
- the sampler: OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG (default `parentbased_always_on`),
  the SDK's own samplers;
- the exporter: OTLP over OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL, `grpc`
  (the default, as in the SDK's own auto-configuration) or `http/protobuf`; its endpoint, headers,
  timeout, compression and certificates from the OTEL_EXPORTER_OTLP_* variables;
- batching: a BatchSpanProcessor (one background thread) shaped by OTEL_BSP_*;
- propagation: OTEL_PROPAGATORS (default W3C `tracecontext,baggage`).

The SDK falls back to a default, with a warning, for a sampler, sampler argument or protocol it
does not know; here such a value stops the service with one line naming the variable instead, so
a typo cannot silently sample every call. The website reads the same variables the same way
(`tests/observability` checks that the two agree).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.resources import SERVICE_NAME, OTELResourceDetector, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    DEFAULT_OFF,
    DEFAULT_ON,
    ParentBasedTraceIdRatio,
    Sampler,
    TraceIdRatioBased,
)

if TYPE_CHECKING:
    from collections.abc import Mapping


DEFAULT_SERVICE_NAME = "recommendations"
"""The `service.name` of the service's spans unless OTEL_SERVICE_NAME says otherwise."""

SAMPLERS = (
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
    "always_on",
    "always_off",
    "traceidratio",
)
"""The OTEL_TRACES_SAMPLER values the SDK builds from the environment (the first is its default)."""

PROTOCOLS = ("grpc", "http/protobuf")
"""The OTEL_EXPORTER_OTLP_PROTOCOL values, the first the default."""

_ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_EXPORTERS = ("otlp", "none")


class TelemetryError(ValueError):
    """An OTEL_* variable has a value the service cannot use; the message is one line naming it."""


def configure(env: Mapping[str, str] = os.environ) -> TracerProvider | None:
    """The tracer provider the OTEL_* variables of `env` ask for, or None when they leave
    tracing off.

    The provider samples with the sampler OTEL_TRACES_SAMPLER names and batches its spans to the
    OTLP exporter, which reads its own variables from the process environment: pass `os.environ`
    (the default) outside tests. The caller installs it (`trace.set_tracer_provider`) and shuts
    it down. Raises `TelemetryError` for a value the SDK would silently replace.
    """
    if not enabled(env):
        return None
    sampler = _sampler(env)
    exporter = GrpcExporter() if _protocol(env) == "grpc" else HttpExporter()
    provider = TracerProvider(resource=_resource(), sampler=sampler)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def check_tracing(env: Mapping[str, str]) -> None:
    """Raise `TelemetryError` for an OTEL_* value `configure` would refuse, building nothing."""
    if enabled(env):
        _sampler(env)
        _protocol(env)


def enabled(env: Mapping[str, str]) -> bool:
    """Whether the variables turn tracing on (see the module's docstring)."""
    if _value(env, "OTEL_SDK_DISABLED").lower() == "true":
        return False
    exporter = _value(env, "OTEL_TRACES_EXPORTER").lower()
    if exporter and exporter not in _EXPORTERS:
        raise TelemetryError(
            f"OTEL_TRACES_EXPORTER must be {' or '.join(_EXPORTERS)}, got {exporter!r}"
        )
    if exporter:
        return exporter == "otlp"
    return any(_value(env, name) for name in _ENDPOINTS)


def _sampler(env: Mapping[str, str]) -> Sampler:
    """The sampler OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG name, as the SDK builds it."""
    name = _value(env, "OTEL_TRACES_SAMPLER").lower() or SAMPLERS[0]
    fixed = {
        "parentbased_always_on": DEFAULT_ON,
        "parentbased_always_off": DEFAULT_OFF,
        "always_on": ALWAYS_ON,
        "always_off": ALWAYS_OFF,
    }
    if name in fixed:
        return fixed[name]
    if name not in SAMPLERS:
        raise TelemetryError(
            f"OTEL_TRACES_SAMPLER must be one of {', '.join(SAMPLERS)}, got {name!r}"
        )
    raw = _value(env, "OTEL_TRACES_SAMPLER_ARG")
    try:
        ratio = float(raw)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        raise TelemetryError(
            f"OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1 for {name}, got {raw!r}"
        )
    return TraceIdRatioBased(ratio) if name == "traceidratio" else ParentBasedTraceIdRatio(ratio)


def _value(env: Mapping[str, str], name: str) -> str:
    return env.get(name, "").strip()


def _protocol(env: Mapping[str, str]) -> str:
    for name in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        protocol = _value(env, name)
        if protocol:
            if protocol not in PROTOCOLS:
                raise TelemetryError(f"{name} must be {' or '.join(PROTOCOLS)}, got {protocol!r}")
            return protocol
    return PROTOCOLS[0]


def _resource() -> Resource:
    # Resource.create reads OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME, and lets attributes
    # given here win over them: the default name is given only when they name no service.
    named = SERVICE_NAME in OTELResourceDetector().detect().attributes
    return Resource.create({} if named else {SERVICE_NAME: DEFAULT_SERVICE_NAME})
