#!/usr/bin/env bash
# Upload the bookshop-protos sdist and wheel to a package index with twine, only when the release
# is sound: `make check-protos` passes, the release image for VERSION is committed, and both files
# were built from exactly that image's protos. A version the index already has is refused before
# anything is uploaded (releases are immutable).
#
# Settings (environment):
#   BOOKSHOP_INDEX_URL   upload URL of the index (default http://127.0.0.1:8080/, a local pypiserver
#                        that this script starts, storing packages in .pypi/packages/)
#   TWINE_USERNAME, TWINE_PASSWORD   credentials, read by twine itself (the local index needs none)
source "$(dirname "$0")/lib.sh"

need_apt curl curl

LOCAL_INDEX="http://127.0.0.1:8080/"
INDEX_URL="${BOOKSHOP_INDEX_URL:-$LOCAL_INDEX}"
INDEX_URL="${INDEX_URL%/}/"
version="$(protos_version)"
wheel="$(protos_wheel)"
sdist="$DIST/bookshop_protos-$version.tar.gz"
for file in "$sdist" "$wheel"; do [ -f "$file" ] || die "$file is missing: run 'make wheel'"; done

ci/check_protos.sh || die "make check-protos fails (above): fix what it reports, then publish"
image="proto-registry/releases/$version.json"
{ git ls-files --error-unmatch "$image" && git diff --quiet HEAD -- "$image"; } >/dev/null 2>&1 \
  || die "release $version is not committed: run 'make release-protos', commit $image, then publish"
unpacked="$(mktemp -d)"
trap 'rm -rf "$unpacked"' EXIT
python -m zipfile -e "$wheel" "$unpacked/wheel"
tar -xzf "$sdist" -C "$unpacked"
protos_match_release "$unpacked/wheel" "$(basename "$wheel")"
protos_match_release "$unpacked/bookshop_protos-$version/proto" "$(basename "$sdist")"

index_is_up() { curl -fsS -o /dev/null "${INDEX_URL}simple/" 2>/dev/null; }

if ! index_is_up; then
  [ "$INDEX_URL" = "$LOCAL_INDEX" ] || die "no package index answers at $INDEX_URL (BOOKSHOP_INDEX_URL)"
  mkdir -p .pypi/packages
  # The one index consumers use: it serves the names it holds from its store and only from there,
  # and refers every other name (protobuf, grpcio, ...) to the public index pip is configured
  # with (pypiserver's own default when pip has none), so no public package can stand in for ours.
  public="${PIP_INDEX_URL:-$(python -m pip config get global.index-url 2>/dev/null || true)}"
  fallback=()
  [ -z "$public" ] || fallback=(--fallback-url "${public%/}/")
  log "starting the local package index on $LOCAL_INDEX (store: .pypi/packages, log: .pypi/server.log)"
  # Open uploads are acceptable only because it listens on loopback for this machine alone.
  nohup pypi-server run -i 127.0.0.1 -p 8080 -a . -P . "${fallback[@]}" .pypi/packages \
    >.pypi/server.log 2>&1 &
  echo $! > .pypi/server.pid
  for _ in $(seq 50); do index_is_up && break; sleep 0.1; done
  index_is_up || die "the local package index did not start; see .pypi/server.log"
  log "stop it with: kill \$(cat .pypi/server.pid)"
fi

# Releases are immutable: refuse before uploading rather than rely on each index's own answer.
listing="$(curl -fsS "${INDEX_URL}simple/bookshop-protos/" 2>/dev/null || true)"
for file in "$sdist" "$wheel"; do
  if grep -q "$(basename "$file")" <<<"$listing"; then
    die "bookshop-protos $version is already published at $INDEX_URL; releases are immutable: change the protos, bump proto-registry/VERSION and release again"
  fi
done

if [ "$INDEX_URL" = "$LOCAL_INDEX" ]; then
  # The local index accepts any credentials; twine still insists on having some.
  export TWINE_USERNAME="${TWINE_USERNAME:-bookshop}" TWINE_PASSWORD="${TWINE_PASSWORD:-bookshop}"
fi
twine upload --non-interactive --disable-progress-bar --repository-url "$INDEX_URL" "$sdist" "$wheel"
log "published bookshop-protos $version to $INDEX_URL"
log "install or upgrade it with: pip install --upgrade --index-url ${INDEX_URL}simple/ bookshop-protos"
