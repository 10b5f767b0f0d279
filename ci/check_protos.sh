#!/usr/bin/env bash
# Guard the proto registry: formatting, lint, no breaking change against the latest release, and
# no change to the protos without a version bump (releases are immutable). Every check runs, so one
# run reports every problem.
#
# Releases are buf images committed as proto-registry/releases/<version>.json (made by
# `make release-protos`), so the breaking check needs neither git tags nor the network.
source "$(dirname "$0")/lib.sh"

RELEASES="proto-registry/releases"
failed=0
check() { "$@" || { failed=1; printf 'check failed: %s\n' "$*" >&2; }; }

version="$(protos_version)"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] \
  || die "proto-registry/VERSION is '$version'; expected MAJOR.MINOR.PATCH, e.g. 1.2.0"
latest="$(find "$RELEASES" -name '*.json' -printf '%f\n' | sed 's/\.json$//' | sort -V | tail -n 1)"
[ -n "$latest" ] || die "no release image in $RELEASES: run 'make release-protos' once"

check buf format --diff --exit-code
check buf lint
check buf breaking --against "$RELEASES/$latest.json"

newest="$(printf '%s\n%s\n' "$latest" "$version" | sort -V | tail -n 1)"
if [ "$newest" != "$version" ]; then
  failed=1
  printf 'error: proto-registry/VERSION (%s) is older than the latest release (%s)\n' \
    "$version" "$latest" >&2
elif [ "$version" = "$latest" ]; then
  current="$(mktemp --suffix=.json)"
  trap 'rm -f "$current"' EXIT
  if buf build -o "$current" && ! cmp -s "$current" "$RELEASES/$latest.json"; then
    failed=1
    printf 'error: %s\n' "the protos differ from release $latest but proto-registry/VERSION was not bumped: set it to the next version (a new field is a MINOR bump, e.g. 1.1.0)" >&2
  fi
fi

[ "$failed" -eq 0 ] || die "proto registry checks failed (version $version, latest release $latest)"
log "protos ok: version $version, checked against release $latest"
