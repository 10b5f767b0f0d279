#!/usr/bin/env bash
# The @bookshop/protos half of `make publish` (ci/publish.sh): publish dist/'s tarball to an npm
# registry, unless the registry already has it. Run alone, it publishes what dist/ holds (after
# the same checks of that file); ci/publish.sh sources it for its steps.
#
# Settings (environment):
#   BOOKSHOP_NPM_REGISTRY  the registry to publish to, which must answer; unset: this checkout's
#                          local verdaccio on 127.0.0.1:BOOKSHOP_NPM_PORT, started when nothing
#                          listens there (store .npm-registry/, whose one publisher account this
#                          script registers and logs in) and refused when another checkout's is
#   BOOKSHOP_NPM_PORT      the local verdaccio's port (default 4873)
#   BOOKSHOP_NPM_TOKEN     an auth token for the registry (default: the local publisher's, or
#                          what your npm configuration holds for BOOKSHOP_NPM_REGISTRY)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_apt curl curl

NPM_NAME="@bookshop/protos"
NPM_STORE="$ROOT/.npm-registry"

# npm_registry: set NPM_URL and NPM_AUTH (env assignments for npm) for the registry to publish
# to, starting this checkout's own when needed.
npm_registry() {
  local token="${BOOKSHOP_NPM_TOKEN:-}"
  if [ -n "${BOOKSHOP_NPM_REGISTRY:-}" ]; then
    NPM_URL="${BOOKSHOP_NPM_REGISTRY%/}/"
    _npm_answers || die "no npm registry answers at $NPM_URL (BOOKSHOP_NPM_REGISTRY): start it or fix the URL"
  else
    local port owner
    port="$(port_setting BOOKSHOP_NPM_PORT 4873)"
    NPM_URL="http://127.0.0.1:$port/"
    owner="$(local_server "$port" "$NPM_STORE")"
    case "$owner" in
      ours) ;;
      none) _npm_start "$port" ;;
      "ours elsewhere") die "this checkout's local npm registry runs on another port (process $(cat "$NPM_STORE/server.pid")): set BOOKSHOP_NPM_PORT to its port, or stop it with kill \$(cat .npm-registry/server.pid)" ;;
      *) die "127.0.0.1:$port is another checkout's npm registry or another program ($owner): publish there on purpose with BOOKSHOP_NPM_REGISTRY=$NPM_URL and its BOOKSHOP_NPM_TOKEN, or start this checkout's own with BOOKSHOP_NPM_PORT=<a free port>" ;;
    esac
    [ -n "$token" ] || token="$(_npm_publisher_token)"
  fi
  # npm reads a registry's credentials from npm_config_//host/path/:_authToken, a name that only
  # env can pass; without a token, npm uses whatever its configuration holds for the registry.
  NPM_AUTH=()
  [ -z "$token" ] || NPM_AUTH=("npm_config_//${NPM_URL#*://}:_authToken=$token")
}

# Any HTTP answer counts (a registry may want credentials even for its ping); `npm ping` would
# retry a refused connection for over a minute.
_npm_answers() { curl -sS -o /dev/null --max-time 5 "${NPM_URL}-/ping" 2>/dev/null; }

_npm_start() {
  npm_tools ci/npm-registry
  mkdir -p "$NPM_STORE"
  cp ci/npm-registry/config.yaml "$NPM_STORE/config.yaml"
  log "starting the local npm registry on $NPM_URL (store: .npm-registry/storage, log: .npm-registry/server.log)"
  nohup ci/npm-registry/node_modules/.bin/verdaccio --config "$NPM_STORE/config.yaml" \
    --listen "127.0.0.1:$1" >"$NPM_STORE/server.log" 2>&1 &
  echo $! >"$NPM_STORE/server.pid"
  for _ in $(seq 150); do _npm_answers && break; sleep 0.2; done
  _npm_answers || die "the local npm registry did not start; see .npm-registry/server.log"
  log "stop it with: kill \$(cat .npm-registry/server.pid)"
}

# _npm_publisher_token: log the local registry's publisher in (registering the account on first
# use, with a password kept in the store) and print the session's token.
_npm_publisher_token() {
  local password_file="$NPM_STORE/publisher-password" password answer
  if [ ! -s "$password_file" ]; then
    (umask 077 && python -c 'import secrets; print(secrets.token_urlsafe(24))' >"$password_file")
  fi
  password="$(cat "$password_file")"
  answer="$(curl -sS -u "publisher:$password" -X PUT -H 'content-type: application/json' \
    -d "{\"name\": \"publisher\", \"password\": \"$password\"}" \
    "${NPM_URL}-/user/org.couchdb.user:publisher")"
  python -c 'import json, sys; print(json.loads(sys.argv[1])["token"])' "$answer" 2>/dev/null \
    || die "the local npm registry on $NPM_URL refused the publisher in .npm-registry/publisher-password: stop it (kill \$(cat .npm-registry/server.pid)), move .npm-registry/ away and publish again"
}

# npm_plan: check the tarball of VERSION in dist/ against the release and the registry, and set
# NPM_UPLOAD unless the registry has it: with the same integrity it is skipped; with another,
# the script stops: a release is immutable.
npm_plan() {
  local version package unpacked shipped errors published
  version="$(protos_version)"
  package="$(protos_npm_package)"
  [ -f "$package" ] || die "$package is missing: run 'make npm-package'"
  # What is uploaded is checked, not the tree it came from: unpack the tarball and look inside.
  unpacked="$(mktemp -d)"
  tar -xzf "$package" -C "$unpacked"
  shipped="$(node -p 'const m = require(process.argv[1]); `${m.name}@${m.version}`' \
    "$unpacked/package/package.json")"
  [ "$shipped" = "$NPM_NAME@$version" ] \
    || die "$package holds $shipped, not $NPM_NAME@$version: run 'make clean npm-package'"
  protos_match_release "$unpacked/package" "$package"

  # `npm view` prints nothing for a version the registry lacks and fails with E404 for a package
  # it lacks; any other failure means the question went unanswered.
  errors="$unpacked/npm-view.log"
  if ! published="$(env "${NPM_AUTH[@]}" npm view "$NPM_NAME@$version" dist.integrity \
    --registry "$NPM_URL" 2>"$errors")"; then
    grep -q E404 "$errors" \
      || die "cannot tell whether $NPM_NAME $version is on $NPM_URL: $(grep -m1 'npm error' "$errors" || head -n1 "$errors")"
    published=""
  fi
  rm -rf "$unpacked"
  NPM_UPLOAD="$package"
  [ -n "$published" ] || return 0
  [ "$published" = "$(_npm_integrity "$package")" ] \
    || die "$NPM_NAME $version is already published at $NPM_URL with another tarball; releases are immutable: change the protos, bump proto-registry/VERSION and release again"
  log "$(basename "$package") is already on $NPM_URL, the same tarball: skipped"
  NPM_UPLOAD=""
}

# _npm_integrity FILE: the `dist.integrity` a registry records for a tarball (sha512, base64).
_npm_integrity() {
  python -c 'import base64, hashlib, sys
print("sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$1"
}

# npm_upload: publish NPM_UPLOAD (npm_plan), if any.
npm_upload() {
  local version
  version="$(protos_version)"
  if [ -z "$NPM_UPLOAD" ]; then
    log "$NPM_NAME $version is already published at $NPM_URL: nothing to upload"
    return
  fi
  env "${NPM_AUTH[@]}" npm publish "$NPM_UPLOAD" --registry "$NPM_URL" --ignore-scripts \
    --loglevel=warn >&2
  log "published $NPM_NAME $version to $NPM_URL"
  log "install it with '@bookshop:registry=$NPM_URL' in your project's .npmrc, then: npm install $NPM_NAME"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  npm_registry
  npm_plan
  npm_upload
fi
