#!/usr/bin/env bash
# Offline proof that the deployment is right (no cluster or container engine needed): render every
# kustomize overlay, validate it against the Kubernetes schemas, check our own deployment rules,
# lint both Dockerfiles and validate the compose file against the compose specification's schema.
source "$(dirname "$0")/lib.sh"

# The oldest Kubernetes we support and the newest whose schemas kubernetes-validate ships.
NEWEST="$(python -c 'import kubernetes_validate.utils as u; print(u.latest_version())')"
KUBERNETES_VERSIONS=(1.30.0 "$NEWEST")
OVERLAYS_DIR=deploy/kubernetes/overlays
RENDERED="$(mktemp -d)"
trap 'rm -rf "$RENDERED"' EXIT

for overlay in "$OVERLAYS_DIR"/*/; do
  name="$(basename "$overlay")"
  log "kustomize: render $overlay"
  kubectl kustomize "$overlay" > "$RENDERED/$name.yaml"
  for version in "${KUBERNETES_VERSIONS[@]}"; do
    log "kubernetes-validate --strict (Kubernetes $version): $name"
    kubernetes-validate --strict --quiet -k "$version" "$RENDERED/$name.yaml"
  done
done

log "deployment policy (tests/deploy)"
pytest -q -p no:cacheprovider tests/deploy

log "hadolint: both Dockerfiles"
hadolint --no-color --failure-threshold warning \
  recommendations-service/Dockerfile marketplace-django/Dockerfile

log "compose file against the compose specification's schema"
check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yaml
