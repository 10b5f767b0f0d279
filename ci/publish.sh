#!/usr/bin/env bash
# Upload the bookshop-protos sdist and wheel to a package index with twine.
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
files=("$DIST/bookshop_protos-$version.tar.gz" "$(protos_wheel)")
for file in "${files[@]}"; do [ -f "$file" ] || die "$file is missing: run 'make wheel'"; done

index_is_up() { curl -fsS -o /dev/null "${INDEX_URL}simple/" 2>/dev/null; }

if ! index_is_up; then
  [ "$INDEX_URL" = "$LOCAL_INDEX" ] || die "no package index answers at $INDEX_URL (BOOKSHOP_INDEX_URL)"
  mkdir -p .pypi/packages
  log "starting the local package index on $LOCAL_INDEX (store: .pypi/packages, log: .pypi/server.log)"
  # Open uploads are acceptable only because it listens on loopback for this machine alone.
  nohup pypi-server run -i 127.0.0.1 -p 8080 -a . -P . .pypi/packages \
    >.pypi/server.log 2>&1 &
  echo $! > .pypi/server.pid
  for _ in $(seq 50); do index_is_up && break; sleep 0.1; done
  index_is_up || die "the local package index did not start; see .pypi/server.log"
  log "stop it with: kill \$(cat .pypi/server.pid)"
fi

# Releases are immutable: refuse before uploading rather than rely on each index's own answer.
listing="$(curl -fsS "${INDEX_URL}simple/bookshop-protos/" 2>/dev/null || true)"
for file in "${files[@]}"; do
  if grep -q "$(basename "$file")" <<<"$listing"; then
    die "bookshop-protos $version is already published at $INDEX_URL; releases are immutable: bump proto-registry/VERSION and release again"
  fi
done

if [ "$INDEX_URL" = "$LOCAL_INDEX" ]; then
  # The local index accepts any credentials; twine still insists on having some.
  export TWINE_USERNAME="${TWINE_USERNAME:-bookshop}" TWINE_PASSWORD="${TWINE_PASSWORD:-bookshop}"
fi
twine upload --non-interactive --disable-progress-bar --repository-url "$INDEX_URL" "${files[@]}"
log "published bookshop-protos $version to $INDEX_URL"
log "install it with: pip install --index-url ${INDEX_URL}simple/ --extra-index-url <the public index> bookshop-protos"
