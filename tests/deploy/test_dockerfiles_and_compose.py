"""The Dockerfiles and the compose file keep the promises hadolint, checkov and the compose schema
cannot check: a pinned, replaceable base, a non-root final stage that installs the lock's wheels
with their hashes checked, the service reachable only inside the compose network, and
certificates mounted as secrets rather than built in."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from policy import SERVICE, TLS_ENV, WEBSITE, WEBSITE_INTERNAL_PORT, WEBSITE_PORT

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {SERVICE: "recommendations-service", WEBSITE: "marketplace-django"}
DOCKERFILES = [f"{folder}/Dockerfile" for folder in FOLDERS.values()]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def _instructions(path: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / path).read_text())
    return [
        (line.split(maxsplit=1)[0].upper(), line.split(maxsplit=1)[1] if " " in line else "")
        for line in (raw.strip() for raw in text.splitlines())
        if line and not line.startswith("#")
    ]


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_base_image_is_a_pinned_build_argument(dockerfile: str) -> None:
    instructions = _instructions(dockerfile)
    assert instructions[0][0] == "ARG"
    name, _, default = instructions[0][1].partition("=")
    assert name == "BASE_IMAGE"
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", default), default
    stages = [arguments for instruction, arguments in instructions if instruction == "FROM"]
    assert len(stages) == 2, "a builder stage and a final stage"
    assert all(stage.split()[0] == "${BASE_IMAGE}" for stage in stages)


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_final_stage_installs_wheels_only_and_runs_as_non_root(dockerfile: str) -> None:
    instructions = _instructions(dockerfile)
    last_from = max(i for i, (instruction, _) in enumerate(instructions) if instruction == "FROM")
    final = instructions[last_from + 1 :]
    assert not [a for i, a in final if i in {"COPY", "ADD"}], "the final stage copies no sources"
    installs = [a for i, a in final if i == "RUN" and "pip install" in a]
    assert installs
    assert all("--no-index" in a and "from=builder" in a for a in installs)
    # The dependencies from the lock, hash-checked; the wheels built from the tree without any.
    lock = f"/requirements/{Path(dockerfile).parent.name.split('-')[0]}.txt"
    pip_installs = [c for a in installs for c in a.split("&&") if "pip install" in c]
    assert [c for c in pip_installs if "--require-hashes" in c and f"-r {lock}" in c]
    assert all("--require-hashes" in c or "--no-deps" in c for c in pip_installs)
    users = [a for i, a in final if i == "USER"]
    assert users == ["10001:10001"]
    assert final[-1][0] in {"CMD", "ENTRYPOINT"}


def test_build_context_keeps_local_state_out() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    rules = [line for line in lines if line and not line.startswith("#")]
    assert rules[0] == "*", "an allowlist: everything is excluded first"
    allowed = {line[1:].rstrip("/") for line in rules if line.startswith("!")}
    assert allowed == {
        "requirements",
        "proto-registry",
        "clients/python",
        "recommendations-service",
        "marketplace-django",
    }
    assert {"**/*.pem", "**/*.key"} <= set(rules)


def test_compose_exposes_only_the_website_and_mounts_certificates_as_secrets() -> None:
    service, website = COMPOSE["services"][SERVICE], COMPOSE["services"][WEBSITE]
    assert "ports" not in service
    assert website["ports"] == ["127.0.0.1:8000:8000"]
    # Every secret is a file that `make certs` writes (Path drops the leading "./").
    assert all(
        Path(secret["file"]).parent == Path("certs") for secret in COMPOSE["secrets"].values()
    )
    for name, container in ((SERVICE, service), (WEBSITE, website)):
        mounted = {f"/run/secrets/{secret}" for secret in container["secrets"]}
        for variable in TLS_ENV[name]:  # the TLS files the deployment policy requires
            assert container["environment"][variable] in mounted, variable
        assert container["read_only"] is True
        assert container["cap_drop"] == ["ALL"]


def _website_server_ports() -> tuple[int, int]:
    """The defaults of MARKETPLACE_PORT and MARKETPLACE_INTERNAL_PORT in the website's table of
    variables (read, not imported: the deployment checks run without the site installed)."""
    source = ROOT / "marketplace-django" / "src" / "marketplace" / "settings" / "variables.py"
    defaults = {
        node.args[0].value: node.args[1].value
        for node in ast.walk(ast.parse(source.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "Variable"
        and all(isinstance(argument, ast.Constant) for argument in node.args[:2])
    }
    return int(defaults["MARKETPLACE_PORT"]), int(defaults["MARKETPLACE_INTERNAL_PORT"])


def test_every_copy_of_the_website_ports_is_the_servers() -> None:
    port, internal = _website_server_ports()
    assert (port, internal) == (WEBSITE_PORT, WEBSITE_INTERNAL_PORT)
    exposed = [a for i, a in _instructions("marketplace-django/Dockerfile") if i == "EXPOSE"]
    assert exposed == [f"{port} {internal}"]
    assert COMPOSE["services"][WEBSITE]["ports"] == [f"127.0.0.1:{port}:{port}"]


def test_every_image_reference_carries_the_version_of_what_it_ships() -> None:
    """An image's version is the version of the distribution it ships (its pyproject.toml), not
    the API's (proto-registry/VERSION, which versions bookshop-protos, one of its dependencies).
    The tags in the manifests, the overlays and the compose file are copies of it: a release that
    bumps one without the others fails here, and so does a tag with anything after the version."""
    ours = re.compile(r"(?:.*/)?(?:bookshop[/-])(recommendations|marketplace)")
    images = [service.get("image", "") for service in COMPOSE["services"].values()]
    tags = []
    for path in (ROOT / "deploy").rglob("*.yaml"):
        for document in yaml.safe_load_all(path.read_text()):
            images += _values_of("image", document)
            overrides = (
                (document or {}).get("images", []) if path.name == "kustomization.yaml" else []
            )
            tags += [(m[1], e.get("newTag")) for e in overrides if (m := ours.fullmatch(e["name"]))]
    for image in images:
        name, _, tag = image.rpartition(":")
        if (match := ours.fullmatch(name or image)) is not None:
            tags.append((match[1], tag if name else None))
    assert len(tags) == 8, tags  # compose, base and both overlays name both images
    assert set(tags) == {
        (image, tomllib.loads((ROOT / folder / "pyproject.toml").read_text())["project"]["version"])
        for image, folder in FOLDERS.items()
    }


def _values_of(key: str, node: object) -> list[str]:
    """Every string under `key` anywhere in a parsed YAML document."""
    if isinstance(node, dict):
        found = [v for k, v in node.items() if k == key and isinstance(v, str)]
        return found + [s for v in node.values() for s in _values_of(key, v)]
    if isinstance(node, list):
        return [s for item in node for s in _values_of(key, item)]
    return []


def test_compose_traces_into_a_local_jaeger_only_when_asked() -> None:
    jaeger = COMPOSE["services"]["jaeger"]
    # Started only with `--profile tracing`; its UI on loopback, OTLP on the compose network.
    assert jaeger["profiles"] == ["tracing"]
    assert jaeger["ports"] == ["127.0.0.1:16686:16686"]
    assert sorted(jaeger["expose"]) == ["4317", "4318"]
    image, _, tag = jaeger["image"].rpartition(":")
    assert image.endswith("jaegertracing/jaeger")
    assert re.fullmatch(r"\d+\.\d+\.\d+", tag), tag
    assert jaeger["read_only"] is True
    assert jaeger["cap_drop"] == ["ALL"]
    # Both services take the endpoint from one variable: unset, tracing is off.
    for name in (SERVICE, WEBSITE):
        environment = COMPOSE["services"][name]["environment"]
        assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == "${OTEL_EXPORTER_OTLP_ENDPOINT:-}"
        assert "profiles" not in COMPOSE["services"][name]
