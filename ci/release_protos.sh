#!/usr/bin/env bash
# Record the registry's current version as a release: a buf image that later breaking checks use.
source "$(dirname "$0")/lib.sh"

version="$(protos_version)"
image="proto-registry/releases/$version.json"
[ ! -e "$image" ] || die "release $version already exists ($image); releases are immutable: bump proto-registry/VERSION"
buf format --diff --exit-code
buf lint
buf build -o "$image"
log "released protos $version as $image: commit it, then 'make publish'"
