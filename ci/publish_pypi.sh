#!/usr/bin/env bash
# The bookshop-protos half of `make publish` (ci/publish.sh): upload dist/'s sdist and wheel to a
# package index with twine, unless the index already has them. Run alone, it publishes what dist/
# holds (after the same checks of those files); ci/publish.sh sources it for its steps.
#
# Settings (environment):
#   BOOKSHOP_INDEX_URL   upload URL of the index to publish to, which must answer; unset: this
#                        checkout's local pypiserver on 127.0.0.1:BOOKSHOP_INDEX_PORT, started when
#                        nothing listens there (store .pypi/packages/) and refused when another
#                        checkout's is listening
#   BOOKSHOP_INDEX_PORT  the local pypiserver's port (default 8080)
#   TWINE_USERNAME, TWINE_PASSWORD   credentials, read by twine itself (a local index needs none)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_apt curl curl

# pypi_index: set PYPI_URL to the index to publish to, starting this checkout's own when needed.
pypi_index() {
  if [ -n "${BOOKSHOP_INDEX_URL:-}" ]; then
    PYPI_URL="${BOOKSHOP_INDEX_URL%/}/"
    _pypi_answers || die "no package index answers at $PYPI_URL (BOOKSHOP_INDEX_URL)"
    return
  fi
  local port owner
  port="$(port_setting BOOKSHOP_INDEX_PORT 8080)"
  PYPI_URL="http://127.0.0.1:$port/"
  owner="$(local_server "$port" .pypi)"
  case "$owner" in
    ours) return ;;
    none) ;;
    "ours elsewhere") die "this checkout's local package index runs on another port (process $(cat .pypi/server.pid)): set BOOKSHOP_INDEX_PORT to its port, or stop it with kill \$(cat .pypi/server.pid)" ;;
    *) die "127.0.0.1:$port is another checkout's package index or another program ($owner): publish there on purpose with BOOKSHOP_INDEX_URL=$PYPI_URL, or start this checkout's own with BOOKSHOP_INDEX_PORT=<a free port>" ;;
  esac
  mkdir -p .pypi/packages
  # The one index consumers use: it serves the names it holds from its store and only from there,
  # and refers every other name (protobuf, grpcio, ...) to the public index pip is configured
  # with (pypiserver's own default when pip has none), so no public package can stand in for ours.
  local public fallback=()
  public="${PIP_INDEX_URL:-$(python -m pip config get global.index-url 2>/dev/null || true)}"
  [ -z "$public" ] || fallback=(--fallback-url "${public%/}/")
  log "starting the local package index on $PYPI_URL (store: .pypi/packages, log: .pypi/server.log)"
  # Open uploads are acceptable only because it listens on loopback for this machine alone.
  nohup pypi-server run -i 127.0.0.1 -p "$port" -a . -P . "${fallback[@]}" .pypi/packages \
    >.pypi/server.log 2>&1 &
  echo $! >.pypi/server.pid
  for _ in $(seq 100); do _pypi_answers && break; sleep 0.1; done
  _pypi_answers || die "the local package index did not start; see .pypi/server.log"
  log "stop it with: kill \$(cat .pypi/server.pid)"
}

_pypi_answers() { curl -fsS -o /dev/null --max-time 5 "${PYPI_URL}simple/" 2>/dev/null; }

# pypi_plan: check the sdist and wheel of VERSION in dist/ against the release and the index, and
# set PYPI_UPLOADS to those the index lacks. A file it has with the same sha256 is skipped; with
# another, the script stops: a release is immutable.
pypi_plan() {
  local version wheel sdist unpacked listing status file name published
  version="$(protos_version)"
  wheel="$(protos_wheel)"
  sdist="$DIST/bookshop_protos-$version.tar.gz"
  for file in "$sdist" "$wheel"; do [ -f "$file" ] || die "$file is missing: run 'make wheel'"; done
  unpacked="$(mktemp -d)"
  python -m zipfile -e "$wheel" "$unpacked/wheel"
  tar -xzf "$sdist" -C "$unpacked"
  protos_match_release "$unpacked/wheel" "$(basename "$wheel")"
  protos_match_release "$unpacked/bookshop_protos-$version/proto" "$(basename "$sdist")"
  rm -rf "$unpacked"

  # A project the index does not hold is a 404, or with pypiserver a 303 to the index it refers
  # other names to; any other answer leaves the question open.
  listing="$(mktemp)"
  status="$(curl -sS -o "$listing" -w '%{http_code}' --max-time 30 \
    "${PYPI_URL}simple/bookshop-protos/" 2>/dev/null || true)"
  case "$status" in
    200) ;;
    404 | 303) : >"$listing" ;;
    *) die "cannot tell whether bookshop-protos $version is on $PYPI_URL: its simple page answered '${status:-nothing}'" ;;
  esac
  PYPI_UPLOADS=()
  for file in "$sdist" "$wheel"; do
    name="$(basename "$file")"
    # The simple API links each file as .../NAME#sha256=HEX.
    published="$(grep -o "/${name//./\\.}#sha256=[0-9a-f]*" "$listing" | head -n1 | cut -d= -f2 || true)"
    if [ -z "$published" ]; then
      grep -qF "/$name" "$listing" \
        && die "cannot tell whether $name on $PYPI_URL is the same file: the index gives no sha256"
      PYPI_UPLOADS+=("$file")
    elif [ "$published" = "$(sha256sum "$file" | cut -d' ' -f1)" ]; then
      log "$name is already on $PYPI_URL, the same file: skipped"
    else
      die "bookshop-protos $version is already published at $PYPI_URL with another $name; releases are immutable: change the protos, bump proto-registry/VERSION and release again"
    fi
  done
  rm -f "$listing"
}

# pypi_upload: upload PYPI_UPLOADS (pypi_plan) with twine.
pypi_upload() {
  local version
  version="$(protos_version)"
  if [ "${#PYPI_UPLOADS[@]}" -eq 0 ]; then
    log "bookshop-protos $version is already published at $PYPI_URL: nothing to upload"
    return
  fi
  if [[ "$PYPI_URL" == http://127.0.0.1:* ]]; then
    # A loopback index accepts any credentials; twine still insists on having some.
    export TWINE_USERNAME="${TWINE_USERNAME:-bookshop}" TWINE_PASSWORD="${TWINE_PASSWORD:-bookshop}"
  fi
  twine upload --non-interactive --disable-progress-bar --repository-url "$PYPI_URL" \
    "${PYPI_UPLOADS[@]}" >&2
  log "published bookshop-protos $version to $PYPI_URL"
  log "install or upgrade it with: pip install --upgrade --index-url ${PYPI_URL}simple/ bookshop-protos"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  pypi_index
  pypi_plan
  pypi_upload
fi
