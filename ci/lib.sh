# Shared helpers for the scripts in ci/: source it, do not run it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
BIN="$VENV/bin"
DIST="$ROOT/dist"
export PATH="$BIN:$PATH"
cd "$ROOT"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# need_apt COMMAND PACKAGE: install a Debian package when its command is missing.
need_apt() {
  command -v "$1" >/dev/null 2>&1 && return 0
  log "installing $2 (provides $1)"
  if [ "$(id -u)" -ne 0 ]; then die "$1 is missing: run 'sudo apt-get install -y $2'"; fi
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  fi
}

# protos_version: the registry's version, the one source of truth for the wheel's version.
protos_version() { tr -d '[:space:]' < "$ROOT/proto-registry/VERSION"; }

# protos_wheel: the path of the wheel `make wheel` builds for the current registry version.
protos_wheel() { printf '%s/bookshop_protos-%s-py3-none-any.whl' "$DIST" "$(protos_version)"; }

# protos_match_release DIR WHAT: stop unless the .proto files under DIR (the protos an artifact
# WHAT was built from) build to exactly the committed release image of the registry's version.
protos_match_release() {
  local version image built status=0
  version="$(protos_version)"
  image="$ROOT/proto-registry/releases/$version.json"
  [ -f "$image" ] || die "$2: no release image for $version: run 'make release-protos', commit it, then build again"
  built="$(mktemp --suffix=.json)"
  { buf build "$1" -o "$built" && cmp -s "$built" "$image"; } || status=1
  rm -f "$built"
  [ "$status" -eq 0 ] || die "$2 was not built from the protos of release $version: run 'make clean' and build it again from the committed release"
}

# protos_npm_package: the path of the @bookshop/protos tarball that ci/build_npm.sh builds.
protos_npm_package() { printf '%s/bookshop-protos-%s.tgz' "$DIST" "$(protos_version)"; }

# npm_tools DIR: install DIR's locked npm dependencies (npm ci) unless node_modules matches the lock.
npm_tools() {
  command -v npm >/dev/null 2>&1 || die "npm is missing: install Node.js 20 and npm"
  local installed="$1/node_modules/.package-lock.json"
  [ -f "$installed" ] && [ "$installed" -nt "$1/package-lock.json" ] && return 0
  log "installing $1's npm dependencies (npm ci)"
  npm ci --prefix "$1" --no-audit --no-fund --loglevel=error >/dev/null
}
