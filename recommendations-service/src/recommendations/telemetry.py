"""Tracing with OpenTelemetry, turned on and shaped by the standard OTEL_* variables alone.

`configure` is the one place in the service that looks at them. Tracing is on when
OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, or OTEL_TRACES_EXPORTER
is `otlp`; OTEL_TRACES_EXPORTER=none or OTEL_SDK_DISABLED=true turn it off whatever else is set.
Off, `configure` returns None and nothing is built: no exporter, no thread, and the server
composes no tracing interceptor, so a call does no tracing work at all.

On, the spans (made by `interceptors.tracing`) go through the OpenTelemetry SDK's batching and
OTLP exporters, which read their own variables from the environment:

- the resource: `service.name` is `recommendations` unless OTEL_SERVICE_NAME or
  OTEL_RESOURCE_ATTRIBUTES names another; OTEL_RESOURCE_ATTRIBUTES adds attributes;
- the sampler: OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG (default `parentbased_always_on`),
  decided as the SDK's samplers decide (`Sampling`);
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
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.resources import SERVICE_NAME, OTELResourceDetector, Resource
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased

if TYPE_CHECKING:
    from collections.abc import Mapping

    from opentelemetry.sdk.trace import SpanProcessor

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
_LOW_64_BITS = (1 << 64) - 1


class TelemetryError(ValueError):
    """An OTEL_* variable has a value the service cannot use; the message is one line naming it."""


@dataclass(frozen=True, slots=True)
class Sampling:
    """Whether a server span is sampled, as the SDK's sampler named by OTEL_TRACES_SAMPLER decides.

    A new trace is sampled when the low 64 bits of its trace id are below `bound` (the SDK's
    TraceIdRatioBased; `always_on` is the ratio 1, `always_off` the ratio 0). With a parent-based
    sampler, a call whose caller sent its trace context follows the caller's decision (the
    sampled flag of `traceparent`) instead. The tests check every sampler against the SDK's own.
    """

    parent_based: bool
    bound: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Sampling:
        """The sampling OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG ask for; raises
        `TelemetryError` for a value the SDK would replace with its default."""
        sampler = _value(env, "OTEL_TRACES_SAMPLER").lower() or SAMPLERS[0]
        if sampler not in SAMPLERS:
            raise TelemetryError(
                f"OTEL_TRACES_SAMPLER must be one of {', '.join(SAMPLERS)}, got {sampler!r}"
            )
        root = sampler.removeprefix("parentbased_")
        if root == "traceidratio":
            raw = _value(env, "OTEL_TRACES_SAMPLER_ARG")
            try:
                ratio = float(raw)
            except ValueError:
                ratio = -1.0
            if not 0.0 <= ratio <= 1.0:
                raise TelemetryError(
                    f"OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1 for {sampler},"
                    f" got {raw!r}"
                )
        else:
            ratio = 1.0 if root == "always_on" else 0.0
        return cls(sampler != root, TraceIdRatioBased.get_bound_for_rate(ratio))

    def sampled(self, trace_id: int, caller_sampled: bool | None) -> bool:
        """Whether the span of a call on `trace_id` is sampled; `caller_sampled` is the caller's
        decision (its span is remote and valid), or None for a call that starts a trace."""
        if caller_sampled is not None and self.parent_based:
            return caller_sampled
        return trace_id & _LOW_64_BITS < self.bound


@dataclass(frozen=True, slots=True)
class Tracing:
    """What the tracing interceptor needs: the sampling, the resource its spans describe, and
    the span processor that batches them for the exporter (and owns its thread)."""

    sampling: Sampling
    resource: Resource
    processor: SpanProcessor

    def shutdown(self) -> None:
        """Export the spans still queued, then stop the exporter's thread."""
        self.processor.shutdown()


def configure(env: Mapping[str, str] = os.environ) -> Tracing | None:
    """Tracing as the OTEL_* variables of `env` ask for, or None when they leave it off.

    The SDK reads its own variables from the process environment: pass `os.environ` (the
    default) outside tests. Raises `TelemetryError` for a value the SDK would silently replace.
    """
    if not enabled(env):
        return None
    sampling = Sampling.from_env(env)
    exporter = GrpcExporter() if _protocol(env) == "grpc" else HttpExporter()
    return Tracing(sampling, _resource(), BatchSpanProcessor(exporter))


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
