#!/usr/bin/env bash
# Publish the @bookshop/protos tarball (ci/build_npm.sh) to an npm registry, after checking that it
# holds exactly the protos of the registry's release and that the version is not published yet.
#
# Settings (environment):
#   BOOKSHOP_NPM_REGISTRY  the registry's URL (default http://127.0.0.1:4873/, a local verdaccio that
#                          this script starts when nothing answers there, storing packages in
#                          .npm-registry/storage/ and logging in its one publisher account itself)
#   BOOKSHOP_NPM_TOKEN     an auth token for that registry (default: what your npm configuration
#                          holds for it)
source "$(dirname "$0")/lib.sh"

need_apt curl curl

NAME="@bookshop/protos"
LOCAL_REGISTRY="http://127.0.0.1:4873/"
STORE="$ROOT/.npm-registry"
REGISTRY="${BOOKSHOP_NPM_REGISTRY:-$LOCAL_REGISTRY}"
REGISTRY="${REGISTRY%/}/"
version="$(protos_version)"
package="$(protos_npm_package)"
[ -f "$package" ] || die "$package is missing: run 'make npm-package'"

# What is uploaded is checked, not the tree it came from: unpack the tarball and look inside.
unpacked="$(mktemp -d)"
trap 'rm -rf "$unpacked"' EXIT
tar -xzf "$package" -C "$unpacked"
shipped="$(node -p 'const m = require(process.argv[1]); `${m.name}@${m.version}`' \
  "$unpacked/package/package.json")"
[ "$shipped" = "$NAME@$version" ] \
  || die "$package holds $shipped, not $NAME@$version: run 'make clean npm-package'"
protos_match_release "$unpacked/package" "$package"

# Any HTTP answer counts (a registry may want credentials even for its ping); `npm ping` would
# retry a refused connection for over a minute.
registry_is_up() { curl -sS -o /dev/null --max-time 5 "${REGISTRY}-/ping" 2>/dev/null; }

start_local_registry() {
  npm_tools ci/npm-registry
  mkdir -p "$STORE"
  cp ci/npm-registry/config.yaml "$STORE/config.yaml"
  log "starting the local npm registry on $LOCAL_REGISTRY (store: .npm-registry/storage, log: .npm-registry/server.log)"
  nohup ci/npm-registry/node_modules/.bin/verdaccio --config "$STORE/config.yaml" \
    --listen 127.0.0.1:4873 >"$STORE/server.log" 2>&1 &
  echo $! >"$STORE/server.pid"
  for _ in $(seq 100); do registry_is_up && break; sleep 0.2; done
  registry_is_up || die "the local npm registry did not start; see .npm-registry/server.log"
  log "stop it with: kill \$(cat .npm-registry/server.pid)"
}

# local_publisher_token: log the local registry's publisher in (registering the account on first
# use, with a password kept in the store) and print the session's token.
local_publisher_token() {
  local password_file="$STORE/publisher-password" password answer
  if [ ! -s "$password_file" ]; then
    (umask 077 && python -c 'import secrets; print(secrets.token_urlsafe(24))' >"$password_file")
  fi
  password="$(cat "$password_file")"
  answer="$(curl -sS -u "publisher:$password" -X PUT -H 'content-type: application/json' \
    -d "{\"name\": \"publisher\", \"password\": \"$password\"}" \
    "${REGISTRY}-/user/org.couchdb.user:publisher")"
  python -c 'import json, sys; print(json.loads(sys.argv[1])["token"])' "$answer" 2>/dev/null \
    || die "the npm registry on $LOCAL_REGISTRY refused the publisher of .npm-registry/ (is it another checkout's?): stop it, move .npm-registry/ away and publish again"
}

if ! registry_is_up; then
  [ "$REGISTRY" = "$LOCAL_REGISTRY" ] \
    || die "no npm registry answers at $REGISTRY (BOOKSHOP_NPM_REGISTRY): start it or fix the URL"
  start_local_registry
fi
token="${BOOKSHOP_NPM_TOKEN:-}"
if [ -z "$token" ] && [ "$REGISTRY" = "$LOCAL_REGISTRY" ]; then
  token="$(local_publisher_token)"
fi
# npm reads a registry's credentials from npm_config_//host/path/:_authToken, a name that only
# env can pass; without a token, npm uses whatever its configuration holds for the registry.
auth=()
[ -z "$token" ] || auth=("npm_config_//${REGISTRY#*://}:_authToken=$token")

# Releases are immutable: refuse before uploading rather than rely on the registry's own answer.
# `npm view` prints nothing for a version the registry lacks and fails with E404 for a package it
# lacks; any other failure means the question went unanswered.
errors="$unpacked/npm-view.log"
if ! published="$(env "${auth[@]}" npm view "$NAME@$version" version --registry "$REGISTRY" 2>"$errors")"; then
  grep -q E404 "$errors" \
    || die "cannot tell whether $NAME $version is on $REGISTRY: $(grep -m1 'npm error' "$errors" || head -n1 "$errors")"
  published=""
fi
[ -z "$published" ] \
  || die "$NAME $version is already published at $REGISTRY; releases are immutable: bump proto-registry/VERSION and release again"

env "${auth[@]}" npm publish "$package" --registry "$REGISTRY" --ignore-scripts --loglevel=warn
log "published $NAME $version to $REGISTRY"
log "install it with '@bookshop:registry=$REGISTRY' in your project's .npmrc, then: npm install $NAME"
