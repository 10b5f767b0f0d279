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

# need_uv: uv in $VENV, installed by pip from its pin and hashes in uv.lock when missing (a venv
# is created for it if need be), so that `make lock` works even while uv.lock is stale.
need_uv() {
  [ -x "$BIN/uv" ] && return 0
  [ -x "$BIN/python" ] || python3 -m venv "$VENV"
  local pin
  pin="$(mktemp)"
  "$BIN/python" - "$ROOT/uv.lock" >"$pin" <<'PYTHON'
import sys, tomllib
uv = next(p for p in tomllib.load(open(sys.argv[1], "rb"))["package"] if p["name"] == "uv")
print(f"uv=={uv['version']}", *(f"--hash={wheel['hash']}" for wheel in uv["wheels"]))
PYTHON
  "$BIN/python" -m pip install --quiet --require-hashes --no-deps -r "$pin"
  rm -f "$pin"
}

# sync_venv: make $VENV exactly what uv.lock holds (`uv sync --locked`: the dev group and the
# services, editable), except bookshop-protos, which ci/install.sh installs from its wheel; first,
# that the locks are current.
sync_venv() {
  "$ROOT/ci/lock.sh" --check
  UV_PROJECT_ENVIRONMENT="$VENV" uv sync --quiet --locked --no-install-package bookshop-protos
}

# protos_version: the registry's version, the one source of truth for the wheel's version.
protos_version() { tr -d '[:space:]' < "$ROOT/proto-registry/VERSION"; }

# protos_wheel: the path of the wheel `make wheel` builds for the current registry version.
protos_wheel() { printf '%s/bookshop_protos-%s-py3-none-any.whl' "$DIST" "$(protos_version)"; }

# build_python: the interpreter of a venv that holds the PEP 517 front end (requirements/build.txt)
# and exactly the build-system.requires that clients/python/pyproject.toml pins: what an isolated
# build installs into a fresh environment every time, installed once under $VENV/wheel-build/ and
# made again when either changes. `"$(build_python)" -m build --no-isolation` then builds with the
# same pinned generators, without installing them again (build checks they are all present).
build_python() {
  local env="$VENV/wheel-build" requires key
  requires="$(python -c 'import sys, tomllib
print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["build-system"]["requires"]))' \
    "$ROOT/clients/python/pyproject.toml")"
  key="$(cat "$ROOT/requirements/build.txt" - <<<"$requires" | sha256sum | cut -d' ' -f1)"
  (
    # Parallel builds (the tests, the compatibility check) wait here for the one that creates it.
    flock 9
    if [ "$(cat "$env/.key" 2>/dev/null)" != "$key" ]; then
      log "creating the wheel's build environment in $env: $(tr '\n' ' ' <<<"$requires")"
      rm -rf "$env"
      uv venv --quiet --python "$BIN/python" "$env"
      uv pip install --quiet --python "$env/bin/python" --require-hashes \
        -r "$ROOT/requirements/build.txt"
      # shellcheck disable=SC2086  # one requirement a line, none with spaces
      uv pip install --quiet --python "$env/bin/python" $requires
      printf '%s\n' "$key" >"$env/.key"
    fi
  ) 9>"$VENV/.wheel-build.lock"
  printf '%s/bin/python' "$env"
}

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

# need_bench_tools: h2load and taskset, and the two CPUs the service benchmarks pin apart.
need_bench_tools() {
  need_apt h2load nghttp2-client
  need_apt taskset util-linux
  [ "$(nproc)" -ge 2 ] || die "the benchmark pins the servers and h2load to different CPUs: it needs 2"
}

# port_setting NAME DEFAULT: the TCP port in environment variable NAME (DEFAULT when unset).
port_setting() {
  local value="${!1:-$2}"
  [[ "$value" =~ ^[1-9][0-9]{0,4}$ ]] && [ "$value" -le 65535 ] \
    || die "$1 must be a TCP port, 1 to 65535 (got '$value')"
  printf '%s' "$value"
}

# local_server PORT STORE: who listens on port PORT of this machine, told apart from this
# checkout's own server, whose process id is in STORE/server.pid: prints "none", "ours", "ours
# elsewhere" (this checkout's runs, on another port), or what is known of the other listener
# ("process 123, started in /path/of/another/checkout").
local_server() {
  local listener pid ours cwd
  need_apt ss iproute2
  ours="$(cat "$2/server.pid" 2>/dev/null || true)"
  listener="$(ss -Hltnp "sport = :$1" 2>/dev/null || true)"
  if [ -z "$listener" ]; then
    if [ -n "$ours" ] && [ "$(readlink "/proc/$ours/cwd" 2>/dev/null)" = "$(cd "$ROOT" && pwd -P)" ]; then
      echo "ours elsewhere"
    else
      echo none
    fi
    return
  fi
  pid="$(grep -o 'pid=[0-9]*' <<<"$listener" | head -n1 | cut -d= -f2 || true)"
  if [ -z "$pid" ]; then echo "a process of another user"; return; fi
  if [ "$pid" = "$ours" ]; then echo ours; return; fi
  cwd="$(readlink "/proc/$pid/cwd" 2>/dev/null || true)"
  echo "process $pid${cwd:+, started in $cwd}"
}
