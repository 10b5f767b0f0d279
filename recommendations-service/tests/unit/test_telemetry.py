"""Tracing's configuration: off unless the OTEL_* variables turn it on, unusable values named in
one line, the SDK's own samplers, the resource's service name."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.resources import SERVICE_NAME
from opentelemetry.sdk.trace import TracerProvider
from recommendations.telemetry import SAMPLERS, TelemetryError, configure, enabled

ENDPOINT = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317"}


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": " "}, False),
        (ENDPOINT, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", **ENDPOINT}, False),
        ({"OTEL_SDK_DISABLED": "true", **ENDPOINT}, False),
        ({"OTEL_SDK_DISABLED": "false", **ENDPOINT}, True),
        ({"OTEL_TRACES_SAMPLER": "sometimes"}, False),  # read only when tracing is on
    ],
)
def test_only_an_endpoint_or_the_exporter_turns_tracing_on(env: dict[str, str], on: bool) -> None:
    assert enabled(env) is on
    if not on:
        assert configure(env) is None  # off builds nothing


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"OTEL_TRACES_EXPORTER": "jaeger"},
            "OTEL_TRACES_EXPORTER must be otlp or none, got 'jaeger'",
        ),
        (
            {**ENDPOINT, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
            "OTEL_EXPORTER_OTLP_PROTOCOL must be grpc or http/protobuf, got 'http/json'",
        ),
        (
            {**ENDPOINT, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "udp"},
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL must be grpc or http/protobuf, got 'udp'",
        ),
        (
            {**ENDPOINT, "OTEL_TRACES_SAMPLER": "sometimes"},
            f"OTEL_TRACES_SAMPLER must be one of {', '.join(SAMPLERS)}, got 'sometimes'",
        ),
        (
            {**ENDPOINT, "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "10%"},
            "OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1 for traceidratio, got '10%'",
        ),
        (
            {**ENDPOINT, "OTEL_TRACES_SAMPLER": "parentbased_traceidratio"},
            "OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1 for parentbased_traceidratio,"
            " got ''",
        ),
    ],
)
def test_an_unusable_value_is_named_in_one_line(env: dict[str, str], message: str) -> None:
    with pytest.raises(TelemetryError) as error:
        configure(env)
    assert str(error.value) == message


# Every sampler, with each kind of argument it takes; {}: none named, the SDK's default.
SAMPLER_ENVS = [{}] + [
    {"OTEL_TRACES_SAMPLER": sampler, "OTEL_TRACES_SAMPLER_ARG": arg}
    for sampler in SAMPLERS
    for arg in (("0", "0.1", "0.5", "1") if sampler.endswith("traceidratio") else ("",))
]


@pytest.mark.parametrize("env", SAMPLER_ENVS, ids=lambda env: "-".join(env.values()) or "default")
def test_the_sampler_is_the_one_the_sdk_builds_from_the_same_variables(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    sdk = TracerProvider().sampler  # built by the SDK from the same variables
    provider = configure({**ENDPOINT, **env})
    assert provider is not None
    try:
        ours = provider.sampler
        assert type(ours) is type(sdk)
        assert ours.get_description() == sdk.get_description()
    finally:
        provider.shutdown()


def _service_name(monkeypatch: pytest.MonkeyPatch, **env: str) -> object:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    provider = configure({**ENDPOINT, **env})
    assert provider is not None
    try:
        return provider.resource.attributes[SERVICE_NAME]
    finally:
        provider.shutdown()


def test_the_service_is_named_recommendations_unless_the_variables_say(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _service_name(monkeypatch) == "recommendations"
    assert _service_name(monkeypatch, OTEL_SERVICE_NAME="recs-canary") == "recs-canary"
    assert (
        _service_name(monkeypatch, OTEL_RESOURCE_ATTRIBUTES="service.name=recs-eu,team=books")
        == "recs-eu"
    )
