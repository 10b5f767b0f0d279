#!/usr/bin/env bash
# Everything CI checks, in dependency order: registry, wheel, services, website, deployment,
# soak, and the container images built and run for real.
source "$(dirname "$0")/lib.sh"

log "proto registry: format, lint, breaking"
ci/check_protos.sh

log "lint: ruff and mypy --strict"
ci/lint.sh

log "registry and wheel tests"
ci/test_registry.sh
ci/test_typescript.sh

log "recommendations service tests"
(cd recommendations-service && pytest -q)

log "benchmark code: ratios, targets, status checks, the ablation's variants"
python -m pytest -q benchmarks/tests

log "marketplace tests"
(cd marketplace-django && pytest -q)

log "compatibility: released clients and runtimes against today's server, and back"
ci/check_compat.sh

log "end-to-end tests"
ci/e2e.sh

log "hostile input: slow clients against the website's server, signals against make run"
pytest -q tests/hostile

log "observability: one trace across both services, received over OTLP (gRPC and HTTP)"
pytest -q tests/observability

log "deployment checks"
ci/check_deploy.sh

log "soak (short)"
ci/soak.sh --short

log "images built and run with podman"
ci/check_images.sh
