#!/usr/bin/env bash
# Offline proof that the deployment is right (no cluster or container engine needed): render every
# kustomize overlay, validate it against the Kubernetes schemas, run checkov's generic hardening
# rules over the overlays and both Dockerfiles, check the project's own deployment rules, lint both
# Dockerfiles and validate the compose file against the compose specification's schema.
source "$(dirname "$0")/lib.sh"

# checkov pins libraries older than the tools in .venv/ need, so it has a venv of its own, synced
# from its own lock (requirements/checkov/uv.lock) on first use, the one step that needs the
# package index; the tests in tests/deploy run it too (CHECKOV).
CHECKOV_VENV="$VENV/checkov"
export CHECKOV="$CHECKOV_VENV/bin/checkov"
if [ ! -x "$CHECKOV" ] || [ requirements/checkov/uv.lock -nt "$CHECKOV_VENV/.installed" ]; then
  log "installing checkov into $CHECKOV_VENV (requirements/checkov/uv.lock)"
  UV_PROJECT_ENVIRONMENT="$CHECKOV_VENV" uv sync --quiet --locked --project requirements/checkov \
    --python "$BIN/python"
  touch "$CHECKOV_VENV/.installed"
fi

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

# One run per framework: given a folder and files together, checkov scans only the folder.
log "checkov: the rendered overlays (skipped checks: deploy/checkov.yaml)"
"$CHECKOV" --config-file deploy/checkov.yaml --framework kubernetes --directory "$RENDERED"
log "checkov: both Dockerfiles"
"$CHECKOV" --config-file deploy/checkov.yaml --framework dockerfile \
  --file recommendations-service/Dockerfile --file marketplace-django/Dockerfile

log "deployment policy (tests/deploy)"
pytest -q -p no:cacheprovider tests/deploy

log "hadolint: both Dockerfiles"
hadolint --no-color --failure-threshold warning \
  recommendations-service/Dockerfile marketplace-django/Dockerfile

log "compose file against the compose specification's schema"
check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yaml
