#!/usr/bin/env bash
# `make lock`: resolve what the workspace declares (pyproject.toml at the root and in the three
# distributions) into uv.lock, keeping every locked version the declared ranges still allow
# (`ci/lock.sh --upgrade` moves each package to its newest allowed release); lock checkov's
# environment (requirements/checkov/uv.lock); then export from uv.lock, with hashes, what each
# image installs with pip --require-hashes: requirements/recommendations.txt, marketplace.txt and
# build.txt (the images' builder). Needs the package index.
#
# `ci/lock.sh --check` writes nothing and needs no network: it fails, naming the file, when a lock
# is not what the pyproject.toml files declare today or an export is not what uv.lock says.
source "$(dirname "$0")/lib.sh"

CHECKOV=requirements/checkov
need_uv

# exported NAME: requirements/NAME.txt as uv.lock makes it, on stdout. The distributions built
# from the tree are left out: the images build them, so no index can replace them.
exported() {
  case "$1" in
    recommendations | marketplace) set -- --package "bookshop-$1" --no-dev --no-emit-workspace ;;
    build) set -- --only-group build ;;
  esac
  uv export --quiet --frozen "$@"
}

if [ "${1:-}" = --check ]; then
  stale=()
  uv lock --quiet --check --offline 2>/dev/null || stale+=(uv.lock)
  uv lock --quiet --check --offline --project "$CHECKOV" 2>/dev/null || stale+=("$CHECKOV/uv.lock")
  for name in recommendations marketplace build; do
    exported "$name" | cmp -s - "requirements/$name.txt" || stale+=("requirements/$name.txt")
  done
  [ "${#stale[@]}" -eq 0 ] && exit 0
  printf -v list '%s, ' "${stale[@]}"
  die "stale: ${list%, }: run 'make lock' and commit the locks"
fi

uv lock "$@"
uv lock --project "$CHECKOV" "$@"
for name in recommendations marketplace build; do
  exported "$name" >"requirements/$name.txt"
done
