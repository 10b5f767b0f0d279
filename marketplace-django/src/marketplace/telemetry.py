"""Tracing with OpenTelemetry, turned on and shaped by the standard OTEL_* variables alone.

`install` is the one place in the site that acts on them: `marketplace.wsgi` calls it in every
process that serves pages, before Django loads its middleware (and `marketplace-server` checks
them with `refuse_unusable` before it starts any). Tracing is on when
OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, or OTEL_TRACES_EXPORTER
is `otlp`; OTEL_TRACES_EXPORTER=none or OTEL_SDK_DISABLED=true turn it off whatever else is set.
Off, nothing is built: no TracerProvider, no exporter, no thread, no middleware and no channel
interceptor, so a page does no tracing work at all.

On, each page is a SERVER span (opentelemetry-instrumentation-django, named `GET /route` with
`http.route`) and the call to the recommendations service a CLIENT span within it
(opentelemetry-instrumentation-grpc's client interceptor, which sends the W3C trace context in
the call's metadata, so that the service's span joins the page's trace). The OpenTelemetry SDK
reads the rest from the environment itself:

- the resource: `service.name` is `marketplace` unless OTEL_SERVICE_NAME or
  OTEL_RESOURCE_ATTRIBUTES names another; OTEL_RESOURCE_ATTRIBUTES adds attributes;
- the sampler: OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG (default `parentbased_always_on`);
- the exporter: OTLP over OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL, `grpc`
  (the default, as in the SDK's own auto-configuration) or `http/protobuf`; its endpoint, headers,
  timeout, compression and certificates from the OTEL_EXPORTER_OTLP_* variables;
- batching: a BatchSpanProcessor (one background thread per server worker) shaped by OTEL_BSP_*;
- propagation: OTEL_PROPAGATORS (default W3C `tracecontext,baggage`).

The SDK falls back to a default, with a warning, for a sampler, sampler argument or protocol it
does not know; here such a value stops the site with one line naming the variable and what it
must be (exit status 2), so a typo cannot silently sample every page. The recommendations
service reads the same variables the same way (`tests/observability` checks that the two agree).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.instrumentation.django import DjangoInstrumentor
from opentelemetry.instrumentation.grpc import client_interceptor
from opentelemetry.instrumentation.grpc.grpcext import intercept_channel
from opentelemetry.sdk.resources import SERVICE_NAME, OTELResourceDetector, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from marketplace.routes import route_of

if TYPE_CHECKING:
    from collections.abc import Mapping

    import grpc
    from django.http import HttpRequest, HttpResponse
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span

DEFAULT_SERVICE_NAME = "marketplace"
"""The `service.name` of the site's spans unless OTEL_SERVICE_NAME says otherwise."""

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

_client: Any = None


class TelemetryError(ValueError):
    """An OTEL_* variable has a value the site cannot use; the message is one line naming it."""


def refuse_unusable(env: Mapping[str, str] = os.environ) -> None:
    """Stop the process with one line and status 2 if an OTEL_* variable it would use is
    unusable (as `marketplace.settings.environment.refuse` does for the site's settings)."""
    try:
        if enabled(env):
            _check_sampler(env)
            _protocol(env)
    except TelemetryError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def install() -> TracerProvider | None:
    """Trace pages and their calls as the OTEL_* variables ask, once per process; return the
    provider, or None when they leave tracing off. A bad value stops the process (status 2)."""
    global _client  # noqa: PLW0603  (the process's channel interceptor is this module's state)
    refuse_unusable()
    provider = configure(os.environ)
    if provider is None:
        return None
    trace.set_tracer_provider(provider)
    DjangoInstrumentor().instrument(tracer_provider=provider, response_hook=_name_by_route)
    # opentelemetry-instrumentation-grpc has no type annotations.
    _client = client_interceptor(  # type: ignore[no-untyped-call]
        tracer_provider=provider, request_hook=_name_as_the_server
    )
    return provider


def instrument_channel(channel: grpc.Channel) -> grpc.Channel:
    """`channel` with a CLIENT span around each call when tracing is on; itself when it is off."""
    if _client is None:
        return channel
    traced: grpc.Channel = intercept_channel(channel, _client)  # type: ignore[no-untyped-call]
    return traced


def configure(env: Mapping[str, str]) -> TracerProvider | None:
    """The TracerProvider the OTEL_* variables of `env` ask for, or None when they leave tracing
    off; raises `TelemetryError` for a value the SDK would silently replace.

    The SDK reads its own variables from the process environment: pass `os.environ` outside
    tests."""
    if not enabled(env):
        return None
    _check_sampler(env)
    exporter = _exporter(env)
    provider = TracerProvider(resource=_resource())
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


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


def _check_sampler(env: Mapping[str, str]) -> None:
    sampler = _value(env, "OTEL_TRACES_SAMPLER").lower() or SAMPLERS[0]
    if sampler not in SAMPLERS:
        raise TelemetryError(
            f"OTEL_TRACES_SAMPLER must be one of {', '.join(SAMPLERS)}, got {sampler!r}"
        )
    if not sampler.endswith("traceidratio"):
        return
    raw = _value(env, "OTEL_TRACES_SAMPLER_ARG")
    try:
        ratio = float(raw)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        raise TelemetryError(
            f"OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1 for {sampler}, got {raw!r}"
        )


def _resource() -> Resource:
    # Resource.create reads OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME, and lets attributes
    # given here win over them: the default name is given only when they name no service.
    named = SERVICE_NAME in OTELResourceDetector().detect().attributes
    return Resource.create({} if named else {SERVICE_NAME: DEFAULT_SERVICE_NAME})


def _protocol(env: Mapping[str, str]) -> str:
    for name in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        protocol = _value(env, name)
        if protocol:
            if protocol not in PROTOCOLS:
                raise TelemetryError(f"{name} must be {' or '.join(PROTOCOLS)}, got {protocol!r}")
            return protocol
    return PROTOCOLS[0]


def _exporter(env: Mapping[str, str]) -> SpanExporter:
    if _protocol(env) == "grpc":
        return GrpcExporter()
    return HttpExporter()


def _name_as_the_server(span: Span, request: object) -> None:
    # The instrumentation names a client span by the call's path, `/package.Service/Method`; the
    # semantic conventions (and the service's own server span) say `package.Service/Method`.
    if span.is_recording() and isinstance(span, ReadableSpan):
        span.update_name(span.name.removeprefix("/"))


def _name_by_route(span: Span, request: HttpRequest, response: HttpResponse) -> None:
    # The instrumentation names a span by Django's route, which has no leading slash, and gives
    # the homepage's empty route neither a name nor `http.route`: name every page
    # `GET /route`, as the semantic conventions and the access log do.
    route = route_of(request)
    if route is not None and span.is_recording():
        span.set_attribute("http.route", route)
        span.update_name(f"{request.method} {route}")
