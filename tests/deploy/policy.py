"""The bookshop's deployment rules, checked on the manifests `kubectl kustomize` renders.

kubernetes-validate proves the manifests are well-formed Kubernetes, and checkov (configured in
deploy/checkov.yaml) that they follow the generic hardening rules: pinned image tags, requests and
limits, non-root, read-only root filesystem, no privilege escalation, capabilities dropped,
seccomp, no service account token in the pods. This module proves they are the deployment this
project promises: per-call balancing over a headless Service, probes on the plaintext health port
and the website's internal port, a drain shorter than the termination grace period, writable
paths on emptyDir volumes, a PDB and an HPA per Deployment, mutual TLS, reflection off and network
policies in production. Each rule is a function that yields `Violation`s; `check` runs them all.

    violations = check(yaml.safe_load_all(rendered), OVERLAYS["production"])
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

Manifest = dict[str, Any]

SERVICE = "recommendations"
WEBSITE = "marketplace"
GRPC_PORT = 50051
HEALTH_PORT = 50052
SERVICE_METRICS_PORT = 9464
WEBSITE_PORT = 8000
WEBSITE_INTERNAL_PORT = 9000
MONITORING = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
NAMESPACE = "bookshop"
PART_OF = ("app.kubernetes.io/part-of", "bookshop")
MAX_CONNECTION_AGE_ENV = "RECOMMENDATIONS_MAX_CONNECTION_AGE_SECONDS"
REFLECTION_ENV = "RECOMMENDATIONS_REFLECTION"
DEFAULT_GRACE_SECONDS = 10
MAX_DRAIN_SECONDS = 10
SERVICE_TLS_ENV = (
    "RECOMMENDATIONS_TLS_CERT",
    "RECOMMENDATIONS_TLS_KEY",
    "RECOMMENDATIONS_TLS_CLIENT_CA",
)
WEBSITE_TLS_ENV = (
    "RECOMMENDATIONS_TLS_CA",
    "RECOMMENDATIONS_TLS_CLIENT_CERT",
    "RECOMMENDATIONS_TLS_CLIENT_KEY",
)
WEBSITE_SECRET_ENV = ("DJANGO_SECRET_KEY", "DATABASE_URL")
OTLP_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"


@dataclass(frozen=True)
class Expectations:
    """What one overlay must deploy."""

    replicas: int
    tls: bool
    network_policies: bool
    exposure: str  # "LoadBalancer" (a Service) or "Ingress"
    reflection: bool  # gRPC server reflection on the service


OVERLAYS = {
    "dev": Expectations(
        replicas=1, tls=False, network_policies=False, exposure="LoadBalancer", reflection=True
    ),
    "production": Expectations(
        replicas=3, tls=True, network_policies=True, exposure="Ingress", reflection=False
    ),
}


@dataclass(frozen=True)
class Violation:
    """One broken rule: which rule, on which object, and what is wrong."""

    rule: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.where}: {self.message}"


class Rendered:
    """Index of one rendered overlay's objects by kind and name."""

    def __init__(self, manifests: Iterable[Manifest | None]) -> None:
        self.objects = [m for m in manifests if m]

    def of_kind(self, kind: str) -> list[Manifest]:
        return [m for m in self.objects if m.get("kind") == kind]

    def get(self, kind: str, name: str) -> Manifest | None:
        found = [m for m in self.of_kind(kind) if m["metadata"]["name"] == name]
        return found[0] if found else None


Rule = Callable[[Rendered, Expectations], Iterator[Violation]]
RULES: list[Rule] = []


def _rule(function: Rule) -> Rule:
    RULES.append(function)
    return function


def check(manifests: Iterable[Manifest | None], expect: Expectations) -> list[Violation]:
    """Return every violation of every rule in one rendered overlay (empty when it complies)."""
    rendered = Rendered(manifests)
    return [violation for rule in RULES for violation in rule(rendered, expect)]


def _where(manifest: Manifest, container: Manifest | None = None) -> str:
    place = f"{manifest['kind']}/{manifest['metadata']['name']}"
    return f"{place} container {container['name']}" if container else place


def _pod(deployment: Manifest) -> Manifest:
    spec: Manifest = deployment["spec"]["template"]["spec"]
    return spec


def _containers(deployment: Manifest) -> list[Manifest]:
    pod = _pod(deployment)
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def _main_container(deployment: Manifest) -> Manifest:
    container: Manifest = _pod(deployment)["containers"][0]
    return container


def _env(container: Manifest) -> dict[str, Manifest]:
    return {item["name"]: item for item in container.get("env", [])}


def _env_value(container: Manifest, name: str) -> str | None:
    item = _env(container).get(name)
    return None if item is None else item.get("value")


def _number_env(container: Manifest, name: str, default: float | None = None) -> float | None:
    value = _env_value(container, name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        return None


def _mount_volume(deployment: Manifest, container: Manifest, path: str) -> Manifest | None:
    """The volume mounted at `path`, or at a folder holding it, in `container`."""
    volumes = {v["name"]: v for v in _pod(deployment).get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        folder = mount["mountPath"].rstrip("/")
        if path == folder or path.startswith(folder + "/"):
            volume: Manifest | None = volumes.get(mount["name"])
            return volume
    return None


def _selects(selector: Manifest, labels: dict[str, str]) -> bool:
    if selector.get("matchExpressions"):
        return False
    wanted: dict[str, str] = selector.get("matchLabels", {})
    return all(labels.get(key) == value for key, value in wanted.items())


def _declared_ports(deployment: Manifest) -> set[int]:
    return {p["containerPort"] for c in _containers(deployment) for p in c.get("ports", [])}


def _pod_labels(deployment: Manifest) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"].get("labels", {})
    return labels


@_rule
def _part_of_label(rendered: Rendered, expect: Expectations) -> Iterator[Violation]:
    key, value = PART_OF
    for manifest in rendered.objects:
        if manifest["metadata"].get("labels", {}).get(key) != value:
            yield Violation("labels", _where(manifest), f"label {key}={value} missing")


@_rule
def _namespace(rendered: Rendered, expect: Expectations) -> Iterator[Violation]:
    for manifest in rendered.objects:
        if manifest["kind"] == "Namespace":
            continue
        if manifest["metadata"].get("namespace") != NAMESPACE:
            yield Violation("namespace", _where(manifest), f"not in namespace {NAMESPACE}")


@_rule
def _service_account_token(rendered: Rendered, expect: Expectations) -> Iterator[Violation]:
    # checkov (CKV_K8S_38) checks the pods; a ServiceAccount's own default is this rule's.
    for account in rendered.of_kind("ServiceAccount"):
        if account.get("automountServiceAccountToken") is not False:
            yield Violation(
                "service-account-token", _where(account), "automountServiceAccountToken not false"
            )


@_rule
def _writable_paths(rendered: Rendered, expect: Expectations) -> Iterator[Violation]:
    for deployment in rendered.of_kind("Deployment"):
        for container in _containers(deployment):
            where = _where(deployment, container)
            volume = _mount_volume(deployment, container, "/tmp")
            if volume is None or "emptyDir" not in volume:
                yield Violation("writable-paths", where, "/tmp is not an emptyDir")
            multiproc = _env_value(container, "PROMETHEUS_MULTIPROC_DIR")
            if multiproc is not None:
                volume = _mount_volume(deployment, container, multiproc)
                if volume is None or "emptyDir" not in volume:
                    yield Violation("writable-paths", where, f"{multiproc} is not an emptyDir")
    website = rendered.get("Deployment", WEBSITE)
    if (
        website is not None
        and _env_value(_main_container(website), "PROMETHEUS_MULTIPROC_DIR") is None
    ):
        yield Violation("writable-paths", _where(website), "PROMETHEUS_MULTIPROC_DIR is not set")


@_rule
def _replicas(rendered: Rendered, expect: Expectations) -> Iterator[Violation]:
    for name in (SERVICE, WEBSITE):
        deployment = rendered.get("Deployment", name)
        if deployment is None:
            yield Violation("replicas", f"Deployment/{name}", "missing")
        elif deployment["spec"].get("replicas", 1) != expect.replicas:
            yield Violation("replicas", _where(deployment), f"replicas is not {expect.replicas}")


@_rule
def _disruption_budgets(rendered: Rendered, expect: Expectations) -> Iterator[Violation]:
    budgets = rendered.of_kind("PodDisruptionBudget")
    for deployment in rendered.of_kind("Deployment"):
        labels = _pod_labels(deployment)
        if not any(_selects(b["spec"].get("selector", {}), labels) for b in budgets):
            yield Violation("pdb", _where(deployment), "no PodDisruptionBudget selects its pods")


@_rule
def _autoscalers(rendered: Rendered, expect: Expectations) -> Iterator[Violation]:
    scalers = rendered.of_kind("HorizontalPodAutoscaler")
    for deployment in rendered.of_kind("Deployment"):
        name = deployment["metadata"]["name"]
        mine = [
            s
            for s in scalers
            if s["spec"]["scaleTargetRef"].get("kind") == "Deployment"
            and s["spec"]["scaleTargetRef"].get("name") == name
        ]
        if not mine:
            yield Violation("hpa", _where(deployment), "no HorizontalPodAutoscaler targets it")
        for scaler in mine:
            low, high = scaler["spec"].get("minReplicas", 1), scaler["spec"]["maxReplicas"]
            if low != expect.replicas or high < low:
                yield Violation(
                    "hpa",
                    _where(scaler),
                    f"minReplicas {low} / maxReplicas {high}: expected {expect.replicas}..>= it",
                )


@_rule
def _scrape_annotations(rendered: Rendered, expect: Expectations) -> Iterator[Violation]:
    for name, port in ((SERVICE, SERVICE_METRICS_PORT), (WEBSITE, WEBSITE_INTERNAL_PORT)):
        deployment = rendered.get("Deployment", name)
        if deployment is None:
            continue
        annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
        declared = _declared_ports(deployment)
        if (
            annotations.get("prometheus.io/scrape") != "true"
            or annotations.get("prometheus.io/port") != str(port)
            or annotations.get("prometheus.io/path") != "/metrics"
            or port not in declared
        ):
            yield Violation(
                "scrape-annotations",
                _where(deployment),
                f"pods must be annotated for scraping /metrics on declared port {port}",
            )


@_rule
def _headless_service(rendered: Rendered, expect: Expectations) -> Iterator[Violation]:
    service = rendered.get("Service", SERVICE)
    if service is None:
        yield Violation("headless-service", f"Service/{SERVICE}", "missing")
        return
    if service["spec"].get("clusterIP") != "None":
        yield Violation(
            "headless-service", _where(service), "clusterIP must be None for per-call balancing"
        )
    if GRPC_PORT not in {p["port"] for p in service["spec"].get("ports", [])}:
        yield Violation("headless-service", _where(service), f"no port {GRPC_PORT}")


@_rule
def _grpc_target(rendered: Rendered, expect: Expectations) -> Iterator[Violation]:
    service = rendered.get("Service", SERVICE)
    website = rendered.get("Deployment", WEBSITE)
    if service is None or website is None:
        return
    namespace = service["metadata"].get("namespace", "default")
    wanted = f"dns:///{SERVICE}.{namespace}.svc.cluster.local:{GRPC_PORT}"
    actual = _env_value(_main_container(website), "RECOMMENDATIONS_TARGET")
    if actual != wanted:
        yield Violation(
            "grpc-target", _where(website), f"RECOMMENDATIONS_TARGET is {actual!r}, not {wanted!r}"
        )


@_rule
def _shutdown(rendered: Rendered, expect: Expectations) -> Iterator[Violation]:
    deployment = rendered.get("Deployment", SERVICE)
    if deployment is None:
        return
    container = _main_container(deployment)
    where = _where(deployment, container)
    drain = _number_env(container, "RECOMMENDATIONS_DRAIN_SECONDS")
    grace = _number_env(container, "RECOMMENDATIONS_GRACE_SECONDS", DEFAULT_GRACE_SECONDS)
    budget = _pod(deployment).get("terminationGracePeriodSeconds", 30)
    if drain is None or not 1 <= drain <= MAX_DRAIN_SECONDS:
        yield Violation(
            "drain", where, f"RECOMMENDATIONS_DRAIN_SECONDS must be 1..{MAX_DRAIN_SECONDS}"
        )
    elif grace is None or budget <= drain + grace:
        yield Violation(
            "drain",
            where,
            f"terminationGracePeriodSeconds {budget} must exceed drain {drain} + grace {grace}",
        )
    age = _number_env(container, MAX_CONNECTION_AGE_ENV)
    if age is None or age <= 0:
        yield Violation("max-connection-age", where, f"{MAX_CONNECTION_AGE_ENV} is not set > 0")


@_rule
def _grpc_probes(rendered: Rendered, expect: Expectations) -> Iterator[Violation]:
    deployment = rendered.get("Deployment", SERVICE)
    if deployment is None:
        return
    container = _main_container(deployment)
    tls_on = _env_value(container, "RECOMMENDATIONS_TLS_CERT") is not None
    plaintext = (
        _number_env(container, "RECOMMENDATIONS_HEALTH_PORT", HEALTH_PORT)
        if tls_on
        else _number_env(container, "RECOMMENDATIONS_PORT", GRPC_PORT)
    )
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        port = container.get(probe, {}).get("grpc", {}).get("port")
        if port is None or port != plaintext or (tls_on and port == GRPC_PORT):
            yield Violation(
                "grpc-probes",
                _where(deployment, container),
                f"{probe} must be a native gRPC probe on plaintext port {plaintext}, not {port}",
            )


@_rule
def _http_probes(rendered: Rendered, expect: Expectations) -> Iterator[Violation]:
    deployment = rendered.get("Deployment", WEBSITE)
    if deployment is None:
        return
    container = _main_container(deployment)
    internal = {WEBSITE_INTERNAL_PORT, *_port_names(deployment, WEBSITE_INTERNAL_PORT)}
    for probe, path in (
        ("startupProbe", "/healthz"),
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
    ):
        get = container.get(probe, {}).get("httpGet", {})
        if get.get("path") != path or get.get("port") not in internal:
            yield Violation(
                "http-probes",
                _where(deployment, container),
                f"{probe} must GET {path} on the internal port {WEBSITE_INTERNAL_PORT}",
            )


@_rule
def _internal_port(rendered: Rendered, expect: Expectations) -> Iterator[Violation]:
    # Metrics and probes are on the website's internal port: no Service may lead to it, and only
    # Prometheus's namespace may reach it (kubelet probes are not subject to NetworkPolicy).
    deployment = rendered.get("Deployment", WEBSITE)
    if deployment is None:
        return
    internal = {WEBSITE_INTERNAL_PORT, *_port_names(deployment, WEBSITE_INTERNAL_PORT)}
    if WEBSITE_INTERNAL_PORT not in _declared_ports(deployment):
        yield Violation(
            "internal-port", _where(deployment), f"port {WEBSITE_INTERNAL_PORT} is not declared"
        )
    labels = _pod_labels(deployment)
    for service in rendered.of_kind("Service"):
        if not _selects(service["spec"].get("selector", {}), labels):
            continue
        for port in service["spec"].get("ports", []):
            if port.get("targetPort", port.get("port")) in internal:
                yield Violation(
                    "internal-port", _where(service), "exposes the website's internal port"
                )
    for policy in rendered.of_kind("NetworkPolicy"):
        if not _selects(policy["spec"]["podSelector"], labels):
            continue
        for rule in _allows(policy, WEBSITE_INTERNAL_PORT, internal - {WEBSITE_INTERNAL_PORT}):
            if any(peer != MONITORING for peer in rule.get("from") or [{}]):
                yield Violation(
                    "internal-port",
                    _where(policy),
                    f"port {WEBSITE_INTERNAL_PORT} must admit Prometheus's namespace only",
                )


@_rule
def _secrets(rendered: Rendered, expect: Expectations) -> Iterator[Violation]:
    deployment = rendered.get("Deployment", WEBSITE)
    if deployment is None:
        return
    env = _env(_main_container(deployment))
    for name in WEBSITE_SECRET_ENV:
        if "secretKeyRef" not in env.get(name, {}).get("valueFrom", {}):
            yield Violation("secrets", _where(deployment), f"{name} must come from a Secret")
    for secret in rendered.of_kind("Secret"):
        yield Violation(
            "secrets", _where(secret), "Secrets are created by the operator, not kept in git"
        )


@_rule
def _reflection(rendered: Rendered, expect: Expectations) -> Iterator[Violation]:
    # The service serves reflection unless RECOMMENDATIONS_REFLECTION says false.
    deployment = rendered.get("Deployment", SERVICE)
    if deployment is None:
        return
    value = _env_value(_main_container(deployment), REFLECTION_ENV) or "true"
    if (value.lower() != "false") != expect.reflection:
        wanted = "on" if expect.reflection else "off"
        yield Violation(
            "reflection",
            _where(deployment),
            f"gRPC reflection must be {wanted} here ({REFLECTION_ENV}={value!r})",
        )


@_rule
def _otlp_endpoint(rendered: Rendered, expect: Expectations) -> Iterator[Violation]:
    # Both workloads send their traces where one setting says: the same key of the same
    # ConfigMap, never a value written into one Deployment that the other would not have.
    sources: dict[str, tuple[str, str]] = {}
    for name in (SERVICE, WEBSITE):
        deployment = rendered.get("Deployment", name)
        if deployment is None:
            continue
        item = _env(_main_container(deployment)).get(OTLP_ENDPOINT_ENV, {})
        reference = item.get("valueFrom", {}).get("configMapKeyRef")
        if reference is None:
            yield Violation(
                "otlp-endpoint",
                _where(deployment),
                f"{OTLP_ENDPOINT_ENV} must come from the telemetry ConfigMap",
            )
            continue
        config = rendered.get("ConfigMap", reference["name"])
        if config is None or reference["key"] not in config.get("data", {}):
            yield Violation(
                "otlp-endpoint",
                _where(deployment),
                f"{OTLP_ENDPOINT_ENV} refers to {reference['name']}/{reference['key']}, "
                "which is not rendered",
            )
        sources[name] = (reference["name"], reference["key"])
    if len(set(sources.values())) > 1:
        yield Violation(
            "otlp-endpoint", "Deployment/*", f"{OTLP_ENDPOINT_ENV} has two sources: {sources}"
        )


_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


@_rule
def _env_references(rendered: Rendered, expect: Expectations) -> Iterator[Violation]:
    # Kubernetes expands $(NAME) only when NAME is defined earlier in the same list; otherwise the
    # text stays literal. kustomize patches can reorder env lists, so check the rendered order.
    for deployment in rendered.of_kind("Deployment"):
        for container in _containers(deployment):
            defined: set[str] = set()
            for item in container.get("env", []):
                for name in _REFERENCE.findall(item.get("value", "")):
                    if name not in defined:
                        yield Violation(
                            "env-references",
                            _where(deployment, container),
                            f"{item['name']} refers to $({name}) before it is defined",
                        )
                defined.add(item["name"])


@_rule
def _allowed_hosts(rendered: Rendered, expect: Expectations) -> Iterator[Violation]:
    # Only the pages look at Host (probes and scrapes use the internal port): a public
    # deployment names its host names, never "*".
    deployment = rendered.get("Deployment", WEBSITE)
    if deployment is None:
        return
    container = _main_container(deployment)
    hosts = [h for h in (_env_value(container, "DJANGO_ALLOWED_HOSTS") or "").split(",") if h]
    where = _where(deployment, container)
    if not hosts:
        yield Violation("allowed-hosts", where, "DJANGO_ALLOWED_HOSTS is not set")
    elif "*" in hosts and expect.exposure == "Ingress":
        yield Violation("allowed-hosts", where, "a public deployment must not allow any Host")


@_rule
def _exposure(rendered: Rendered, expect: Expectations) -> Iterator[Violation]:
    service = rendered.get("Service", WEBSITE)
    if service is None:
        yield Violation("exposure", f"Service/{WEBSITE}", "missing")
        return
    kind = service["spec"].get("type", "ClusterIP")
    ingresses = rendered.of_kind("Ingress")
    routed = any(
        path["backend"].get("service", {}).get("name") == WEBSITE
        for ingress in ingresses
        for rule in ingress["spec"].get("rules", [])
        for path in rule.get("http", {}).get("paths", [])
    )
    if expect.exposure == "LoadBalancer" and (kind != "LoadBalancer" or ingresses):
        yield Violation("exposure", _where(service), "expected a LoadBalancer Service, no Ingress")
    if expect.exposure == "Ingress" and (kind == "LoadBalancer" or not routed):
        yield Violation(
            "exposure", _where(service), "expected an Ingress to this Service, no LoadBalancer"
        )
    for other in rendered.of_kind("Service"):
        if other is not service and other["spec"].get("type") in {"LoadBalancer", "NodePort"}:
            yield Violation("exposure", _where(other), "only the website may be exposed")


def _tls_mounts(
    rendered: Rendered, name: str, variables: tuple[str, ...], expect: Expectations
) -> Iterator[Violation]:
    deployment = rendered.get("Deployment", name)
    if deployment is None:
        return
    container = _main_container(deployment)
    where = _where(deployment, container)
    for variable in variables:
        path = _env_value(container, variable)
        if not expect.tls:
            if path is not None:
                yield Violation("tls", where, f"{variable} is set in a plaintext overlay")
            continue
        volume = None if path is None else _mount_volume(deployment, container, path)
        if volume is None or "secret" not in volume:
            yield Violation("tls", where, f"{variable} must name a file mounted from a Secret")


@_rule
def _tls(rendered: Rendered, expect: Expectations) -> Iterator[Violation]:
    yield from _tls_mounts(rendered, SERVICE, SERVICE_TLS_ENV, expect)
    yield from _tls_mounts(rendered, WEBSITE, WEBSITE_TLS_ENV, expect)


def _allows(policy: Manifest, port: int, port_names: set[str]) -> Iterator[Manifest]:
    """Yield each ingress rule of `policy` that admits TCP traffic to `port`."""
    for rule in policy["spec"].get("ingress", []):
        ports = rule.get("ports")
        if ports is None or any(
            p.get("port") in (None, port) or p.get("port") in port_names for p in ports
        ):
            yield rule


def _port_names(deployment: Manifest, port: int) -> set[str]:
    return {
        p["name"]
        for c in _containers(deployment)
        for p in c.get("ports", [])
        if p["containerPort"] == port and "name" in p
    }


@_rule
def _network_policies(rendered: Rendered, expect: Expectations) -> Iterator[Violation]:
    if not expect.network_policies:
        return
    policies = [
        p
        for p in rendered.of_kind("NetworkPolicy")
        if "Ingress" in p["spec"].get("policyTypes", [])
    ]
    if not any(p["spec"]["podSelector"] == {} and not p["spec"].get("ingress") for p in policies):
        yield Violation("network-policies", "NetworkPolicy/*", "no default deny of ingress")
    service = rendered.get("Deployment", SERVICE)
    website = rendered.get("Deployment", WEBSITE)
    if service is None or website is None:
        return
    website_labels = _pod_labels(website)
    for deployment, port, only_from_website in (
        (service, GRPC_PORT, True),
        (service, SERVICE_METRICS_PORT, False),
        (website, WEBSITE_PORT, False),
        (website, WEBSITE_INTERNAL_PORT, False),
    ):
        labels = _pod_labels(deployment)
        rules = [
            rule
            for policy in policies
            if _selects(policy["spec"]["podSelector"], labels)
            for rule in _allows(policy, port, _port_names(deployment, port))
        ]
        if not rules:
            yield Violation(
                "network-policies", _where(deployment), f"nothing may reach port {port}"
            )
        if not only_from_website:
            continue
        for rule in rules:
            peers = rule.get("from")
            if not peers or any(
                set(peer) != {"podSelector"}
                or not _selects(peer["podSelector"], website_labels)
                or not peer["podSelector"]
                for peer in peers
            ):
                yield Violation(
                    "network-policies",
                    _where(deployment),
                    f"port {port} must admit the marketplace's pods only, not {peers!r}",
                )
