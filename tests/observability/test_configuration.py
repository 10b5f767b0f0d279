"""The two services read the OTEL_* variables alike: each has its own copy of the rules (the
services never import each other), so this checks the copies agree, value for value."""

from __future__ import annotations

import pytest
from marketplace import telemetry as website
from recommendations import telemetry as service

ON = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317"}
SETTINGS = [
    {},
    ON,
    {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"},
    {"OTEL_TRACES_EXPORTER": "otlp"},
    {"OTEL_TRACES_EXPORTER": "OTLP"},
    {"OTEL_TRACES_EXPORTER": "none", **ON},
    {"OTEL_TRACES_EXPORTER": "console"},
    {"OTEL_SDK_DISABLED": "true", **ON},
    {"OTEL_SDK_DISABLED": "TRUE", **ON},
    {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", **ON},
    {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", **ON},
    {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_PROTOCOL": "x", **ON},
    *({"OTEL_TRACES_SAMPLER": name, **ON} for name in service.SAMPLERS),
    {"OTEL_TRACES_SAMPLER": "parentbased_jaeger_remote", **ON},
    {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1", **ON},
    {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.5", **ON},
    {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "", **ON},
]


def _verdict(check, env: dict[str, str]) -> str:
    try:
        check(env)
    except ValueError as error:
        return f"refused: {error}"
    except SystemExit as stop:
        return f"exit {stop.code}"
    return "accepted"


def _website(env: dict[str, str]) -> None:
    if website.enabled(env):
        website._check_sampler(env)
        website._protocol(env)


def _service(env: dict[str, str]) -> None:
    if service.enabled(env):
        service._sampler(env)
        service._protocol(env)


def test_the_same_lists() -> None:
    assert website.SAMPLERS == service.SAMPLERS
    assert website.PROTOCOLS == service.PROTOCOLS


@pytest.mark.parametrize(
    "env", SETTINGS, ids=lambda env: ",".join(f"{k}={v}" for k, v in env.items())
)
def test_both_services_accept_and_refuse_alike(env: dict[str, str]) -> None:
    assert _verdict(website.enabled, env) == _verdict(service.enabled, env)
    assert _verdict(_website, env) == _verdict(_service, env)
