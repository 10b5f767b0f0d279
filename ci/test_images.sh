#!/usr/bin/env bash
# `make test-images`: what ships. The deployment checked offline (make check-deploy: manifests,
# Dockerfiles, compose file), then both images built with podman and run the way the deployment
# runs them (tests/images): what each holds (non-root, no compiler, no private key, no build-time
# CA bundle, exactly its lock), then both on a podman network, locked down, in plaintext and over
# mutual TLS. Needs root (debootstrap and rootful podman), the Debian package mirror and the
# Python package index.
source "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || die "make test-images needs root (debootstrap and rootful podman)"
need_apt podman podman
need_apt runc runc
need_apt debootstrap debootstrap

log "deployment checks"
ci/check_deploy.sh

log "images built and run with podman"
pytest -q tests/images "$@"
