"""The bookshop's own deployment rules, checked on the manifests `kubectl kustomize` renders.

The generic hardening rules (pinned tags, requests and limits, non-root, read-only root, no
escalation, capabilities dropped, seccomp, no token in the pods) are checkov's (deploy/checkov.yaml,
ci/check_deploy.sh). These are the deployment this project promises: per-call balancing over a
headless Service, probes on the plaintext health port and the website's internal port, a drain
shorter than the grace period, writable paths on emptyDir volumes, a PDB and an HPA per
Deployment, mutual TLS, reflection off and network policies in production.

    violations = check(yaml.safe_load_all(rendered), OVERLAYS["production"])
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

Manifest = dict[str, Any]

SERVICE, WEBSITE, NAMESPACE = "recommendations", "marketplace", "bookshop"
GRPC_PORT, HEALTH_PORT, SERVICE_METRICS_PORT = 50051, 50052, 9464
WEBSITE_PORT, WEBSITE_INTERNAL_PORT = 8000, 9000
MONITORING = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
PART_OF = ("app.kubernetes.io/part-of", "bookshop")
MAX_CONNECTION_AGE_ENV = "RECOMMENDATIONS_MAX_CONNECTION_AGE_SECONDS"
REFLECTION_ENV = "RECOMMENDATIONS_REFLECTION"
OTLP_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
DEFAULT_GRACE_SECONDS = MAX_DRAIN_SECONDS = 10
_TLS = "RECOMMENDATIONS_TLS_"
TLS_ENV = {
    SERVICE: (f"{_TLS}CERT", f"{_TLS}KEY", f"{_TLS}CLIENT_CA"),
    WEBSITE: (f"{_TLS}CA", f"{_TLS}CLIENT_CERT", f"{_TLS}CLIENT_KEY"),
}
WEBSITE_SECRET_ENV = ("DJANGO_SECRET_KEY", "DATABASE_URL")
_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


@dataclass(frozen=True)
class Expectations:
    """What one overlay must deploy."""

    replicas: int
    tls: bool
    network_policies: bool
    exposure: str  # "LoadBalancer" (a Service) or "Ingress"
    reflection: bool  # gRPC server reflection on the service


OVERLAYS = {
    "dev": Expectations(1, False, network_policies=False, exposure="LoadBalancer", reflection=True),
    "production": Expectations(
        3, True, network_policies=True, exposure="Ingress", reflection=False
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


def _where(manifest: Manifest) -> str:
    return f"{manifest['kind']}/{manifest['metadata']['name']}"


@dataclass(frozen=True)
class Workload:
    """A Deployment, with the parts of its pod template that the rules read."""

    where: str
    spec: Manifest
    pod: Manifest
    meta: Manifest  # the template's metadata: labels and annotations
    main: Manifest  # the first container

    @classmethod
    def of(cls, deployment: Manifest) -> Workload:
        spec, template = deployment["spec"], deployment["spec"]["template"]
        pod = template["spec"]
        return cls(_where(deployment), spec, pod, template["metadata"], pod["containers"][0])

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.meta.get("labels", {}))

    @property
    def containers(self) -> list[Manifest]:
        return [*self.pod.get("initContainers", []), *self.pod["containers"]]

    def env(self, name: str, part: str = "value", container: Manifest | None = None) -> Any:
        """`part` (value, valueFrom) of the main container's (or `container`'s) variable `name`."""
        items = (container or self.main).get("env", [])
        return next((e.get(part) for e in items if e["name"] == name), None)

    def number(self, name: str, default: float | None = None) -> float | None:
        value = self.env(name)
        if value is None or not re.fullmatch(r"-?\d+(\.\d+)?", value):
            return default if value is None else None
        return float(value)

    def volume(self, path: str, container: Manifest | None = None) -> Manifest:
        """The volume mounted at `path`, or at a folder holding it ({} when none is)."""
        volumes = {v["name"]: v for v in self.pod.get("volumes", [])}
        for mount in (container or self.main).get("volumeMounts", []):
            folder = mount["mountPath"].rstrip("/")
            if path == folder or path.startswith(folder + "/"):
                return dict(volumes.get(mount["name"], {}))
        return {}

    def ports(self, number: int | None = None) -> set[Any]:
        """The declared container ports, or port `number` and its names."""
        ports = [p for c in self.containers for p in c.get("ports", [])]
        if number is None:
            return {p["containerPort"] for p in ports}
        return {number} | {p["name"] for p in ports if p["containerPort"] == number and "name" in p}


class Rendered:
    """One rendered overlay's objects, and its workloads by name."""

    def __init__(self, manifests: Iterable[Manifest | None]) -> None:
        self.objects = [m for m in manifests if m]
        deployments = self.of_kind("Deployment")
        self.workloads = {d["metadata"]["name"]: Workload.of(d) for d in deployments}

    def of_kind(self, kind: str) -> list[Manifest]:
        return [m for m in self.objects if m.get("kind") == kind]

    def get(self, kind: str, name: str) -> Manifest:
        """The object, or an empty one of that name."""
        found = [m for m in self.of_kind(kind) if m["metadata"]["name"] == name]
        return found[0] if found else {"kind": kind, "metadata": {"name": name}, "spec": {}}

    def selecting(self, kind: str, labels: dict[str, str], key: str) -> list[Manifest]:
        return [m for m in self.of_kind(kind) if _selects(m["spec"].get(key, {}), labels)]


def _selects(selector: Manifest, labels: dict[str, str]) -> bool:
    wanted: dict[str, str] = selector.get("matchLabels", {})
    return not selector.get("matchExpressions") and wanted.items() <= labels.items()


def _allows(policy: Manifest, port: set[Any]) -> Iterator[Manifest]:
    """Each ingress rule of `policy` that admits TCP traffic to `port` (its number and names)."""
    for rule in policy["spec"].get("ingress", []):
        if rule.get("ports") is None or any(p.get("port") in port | {None} for p in rule["ports"]):
            yield rule


def check(manifests: Iterable[Manifest | None], expect: Expectations) -> list[Violation]:
    """Return every violation of every rule in one rendered overlay (empty when it complies)."""
    rendered = Rendered(manifests)
    missing = [name for name in (SERVICE, WEBSITE) if name not in rendered.workloads]
    if missing:
        return [Violation("replicas", f"Deployment/{name}", "missing") for name in missing]
    return [v for rules in RULES for v in rules(rendered, expect)]


def _objects(rendered: Rendered, expect: Expectations) -> Iterator[Violation]:
    key, value = PART_OF
    for manifest in rendered.objects:
        if manifest["metadata"].get("labels", {}).get(key) != value:
            yield Violation("labels", _where(manifest), f"label {key}={value} missing")
        if manifest["kind"] != "Namespace" and manifest["metadata"].get("namespace") != NAMESPACE:
            yield Violation("namespace", _where(manifest), f"not in namespace {NAMESPACE}")
    # checkov (CKV_K8S_38) checks the pods; a ServiceAccount's own default is this rule's.
    for account in rendered.of_kind("ServiceAccount"):
        if account.get("automountServiceAccountToken") is not False:
            yield Violation("service-account-token", _where(account), "automount not false")
    for secret in rendered.of_kind("Secret"):
        yield Violation("secrets", _where(secret), "Secrets come from the operator, not git")


def _workloads(rendered: Rendered, expect: Expectations) -> Iterator[Violation]:
    scrape = {SERVICE: SERVICE_METRICS_PORT, WEBSITE: WEBSITE_INTERNAL_PORT}
    for name, w in rendered.workloads.items():
        if w.spec.get("replicas", 1) != expect.replicas:
            yield Violation("replicas", w.where, f"replicas is not {expect.replicas}")
        if not rendered.selecting("PodDisruptionBudget", w.labels, "selector"):
            yield Violation("pdb", w.where, "no PodDisruptionBudget selects its pods")
        target = {"kind": "Deployment", "name": name}
        scalers = [
            s for s in rendered.of_kind("HorizontalPodAutoscaler")
            if target.items() <= s["spec"]["scaleTargetRef"].items()
        ]  # fmt: skip
        if not scalers:
            yield Violation("hpa", w.where, "no HorizontalPodAutoscaler targets it")
        for s in scalers:
            low, high = s["spec"].get("minReplicas", 1), s["spec"]["maxReplicas"]
            if low != expect.replicas or high < low:
                yield Violation("hpa", _where(s), f"min/max {low}/{high}: not {expect.replicas}/>=")
        if (port := scrape.get(name)) is not None:
            wanted = {"prometheus.io/scrape": "true", "prometheus.io/port": str(port)}
            wanted["prometheus.io/path"] = "/metrics"
            if not wanted.items() <= w.meta.get("annotations", {}).items() or port not in w.ports():
                yield Violation("scrape-annotations", w.where, f"not scraped on port {port}")
        for container in w.containers:
            multiproc = w.env("PROMETHEUS_MULTIPROC_DIR", container=container)
            for path in ("/tmp", *([multiproc] if multiproc else [])):
                if "emptyDir" not in w.volume(path, container):
                    yield Violation("writable-paths", w.where, f"{path} is not an emptyDir")
            # Kubernetes expands $(NAME) only when NAME is defined earlier in the same list, and
            # kustomize patches can reorder env lists, so the rendered order is what counts.
            defined: set[str] = set()
            for item in container.get("env", []):
                for ref in set(_REFERENCE.findall(item.get("value", ""))) - defined:
                    yield Violation("env-references", w.where, f"$({ref}) used before defined")
                defined.add(item["name"])


def _service(rendered: Rendered, expect: Expectations) -> Iterator[Violation]:
    service, w = rendered.get("Service", SERVICE), rendered.workloads[SERVICE]
    if service["spec"].get("clusterIP") != "None":
        yield Violation("headless-service", w.where, "clusterIP must be None: per-call balancing")
    if GRPC_PORT not in {p["port"] for p in service["spec"].get("ports", [])}:
        yield Violation("headless-service", w.where, f"no port {GRPC_PORT}")
    drain = w.number("RECOMMENDATIONS_DRAIN_SECONDS")
    grace = w.number("RECOMMENDATIONS_GRACE_SECONDS", DEFAULT_GRACE_SECONDS)
    budget = w.pod.get("terminationGracePeriodSeconds", 30)
    if drain is None or not 1 <= drain <= MAX_DRAIN_SECONDS:
        yield Violation("drain", w.where, f"drain seconds must be 1..{MAX_DRAIN_SECONDS}")
    elif grace is None or budget <= drain + grace:
        yield Violation("drain", w.where, f"grace period {budget} <= {drain} + {grace}")
    if not (w.number(MAX_CONNECTION_AGE_ENV) or 0) > 0:
        yield Violation("max-connection-age", w.where, f"{MAX_CONNECTION_AGE_ENV} is not > 0")
    tls = w.env("RECOMMENDATIONS_TLS_CERT") is not None
    health = (
        ("RECOMMENDATIONS_HEALTH_PORT", HEALTH_PORT) if tls else ("RECOMMENDATIONS_PORT", GRPC_PORT)
    )
    plaintext = w.number(*health)
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        port = w.main.get(probe, {}).get("grpc", {}).get("port")
        if port is None or port != plaintext or (tls and port == GRPC_PORT):
            yield Violation("grpc-probes", w.where, f"{probe}: a gRPC probe on {plaintext}")
    # The service serves reflection unless RECOMMENDATIONS_REFLECTION says false.
    reflection = w.env(REFLECTION_ENV) or "true"
    if (reflection.lower() != "false") != expect.reflection:
        yield Violation("reflection", w.where, f"{REFLECTION_ENV}={reflection!r} here")


def _website(rendered: Rendered, expect: Expectations) -> Iterator[Violation]:
    w, namespace = rendered.workloads[WEBSITE], rendered.get("Service", SERVICE)["metadata"]
    wanted = f"dns:///{SERVICE}.{namespace.get('namespace')}.svc.cluster.local:{GRPC_PORT}"
    if w.env("RECOMMENDATIONS_TARGET") != wanted:
        yield Violation("grpc-target", w.where, f"RECOMMENDATIONS_TARGET is not {wanted!r}")
    internal = w.ports(WEBSITE_INTERNAL_PORT)
    for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"),
                        ("readinessProbe", "/readyz")):  # fmt: skip
        get = w.main.get(probe, {}).get("httpGet", {})
        if get.get("path") != path or get.get("port") not in internal:
            yield Violation("http-probes", w.where, f"{probe}: GET {path} on the internal port")
    for name in WEBSITE_SECRET_ENV:
        if "secretKeyRef" not in (w.env(name, "valueFrom") or {}):
            yield Violation("secrets", w.where, f"{name} must come from a Secret")
    # Only the pages look at Host (probes and scrapes use the internal port): a public
    # deployment names its host names, never "*".
    hosts = [h for h in (w.env("DJANGO_ALLOWED_HOSTS") or "").split(",") if h]
    if not hosts or ("*" in hosts and expect.exposure == "Ingress"):
        yield Violation("allowed-hosts", w.where, "DJANGO_ALLOWED_HOSTS unset, or * in public")
    # The site's workers share metrics through files: named, so that their folder is checked.
    if not w.env("PROMETHEUS_MULTIPROC_DIR"):
        yield Violation("writable-paths", w.where, "PROMETHEUS_MULTIPROC_DIR is not set")
    # Metrics and probes are on the website's internal port (declared: scrape-annotations): no
    # Service may lead to it, and only Prometheus's namespace may reach it (kubelet probes are
    # not subject to NetworkPolicy).
    for service in rendered.selecting("Service", w.labels, "selector"):
        ports = service["spec"].get("ports", [])
        if any(p.get("targetPort", p.get("port")) in internal for p in ports):
            yield Violation("internal-port", _where(service), "exposes the internal port")
    for policy in rendered.selecting("NetworkPolicy", w.labels, "podSelector"):
        for rule in _allows(policy, internal):
            if any(peer != MONITORING for peer in rule.get("from") or [{}]):
                yield Violation("internal-port", _where(policy), "admits more than monitoring")


def _exposure(rendered: Rendered, expect: Expectations) -> Iterator[Violation]:
    service = rendered.get("Service", WEBSITE)
    kind, ingresses = service["spec"].get("type", "ClusterIP"), rendered.of_kind("Ingress")
    routed = any(
        path["backend"].get("service", {}).get("name") == WEBSITE
        for ingress in ingresses
        for rule in ingress["spec"].get("rules", [])
        for path in rule.get("http", {}).get("paths", [])
    )
    if expect.exposure == "LoadBalancer" and (kind != "LoadBalancer" or ingresses):
        yield Violation("exposure", _where(service), "expected a LoadBalancer, no Ingress")
    if expect.exposure == "Ingress" and (kind == "LoadBalancer" or not routed):
        yield Violation("exposure", _where(service), "expected an Ingress, no LoadBalancer")
    for other in rendered.of_kind("Service"):
        if other is not service and other["spec"].get("type") in {"LoadBalancer", "NodePort"}:
            yield Violation("exposure", _where(other), "only the website may be exposed")


def _both(rendered: Rendered, expect: Expectations) -> Iterator[Violation]:
    # Both send their traces where one setting says: the same key of the same ConfigMap, never a
    # value written into one Deployment that the other would not have.
    sources = set()
    for name in (SERVICE, WEBSITE):
        w = rendered.workloads[name]
        reference = (w.env(OTLP_ENDPOINT_ENV, "valueFrom") or {}).get("configMapKeyRef")
        config = rendered.get("ConfigMap", (reference or {}).get("name", ""))
        if reference is None or reference["key"] not in config.get("data", {}):
            yield Violation("otlp-endpoint", w.where, "not from a rendered ConfigMap key")
        else:
            sources.add((reference["name"], reference["key"]))
        for variable in TLS_ENV[name]:
            path = w.env(variable)
            if not expect.tls and path is not None:
                yield Violation("tls", w.where, f"{variable} is set in a plaintext overlay")
            elif expect.tls and (path is None or "secret" not in w.volume(path)):
                yield Violation("tls", w.where, f"{variable} must name a file from a Secret")
    if len(sources) > 1:
        yield Violation("otlp-endpoint", "Deployment/*", f"two sources: {sorted(sources)}")


def _network_policies(rendered: Rendered, expect: Expectations) -> Iterator[Violation]:
    if not expect.network_policies:
        return
    policies = rendered.of_kind("NetworkPolicy")
    policies = [p for p in policies if "Ingress" in p["spec"].get("policyTypes", [])]
    if not any(p["spec"]["podSelector"] == {} and not p["spec"].get("ingress") for p in policies):
        yield Violation("network-policies", "NetworkPolicy/*", "no default deny of ingress")
    service, website = rendered.workloads[SERVICE], rendered.workloads[WEBSITE]
    for w, port, only_from_website in ((service, GRPC_PORT, True),
            (service, SERVICE_METRICS_PORT, False), (website, WEBSITE_PORT, False),
            (website, WEBSITE_INTERNAL_PORT, False)):  # fmt: skip
        mine = [p for p in policies if _selects(p["spec"]["podSelector"], w.labels)]
        rules = [rule for policy in mine for rule in _allows(policy, w.ports(port))]
        if not rules:
            yield Violation("network-policies", w.where, f"nothing may reach port {port}")
        for peers in (rule.get("from") for rule in rules if only_from_website):
            if not peers or any(
                set(peer) != {"podSelector"}
                or not peer["podSelector"]
                or not _selects(peer["podSelector"], website.labels)
                for peer in peers
            ):
                yield Violation("network-policies", w.where, f"port {port} admits {peers!r}")


RULES = (_objects, _workloads, _service, _website, _exposure, _both, _network_policies)
