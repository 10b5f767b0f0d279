#!/usr/bin/env bash
# Build the bookshop-protos wheel of a committed release from its image alone (the image holds
# every descriptor, so no git history is needed), with today's pinned generators (build_python in
# ci/lib.sh).
# Usage: ci/build_release_wheel.sh VERSION OUTDIR
source "$(dirname "$0")/lib.sh"

[ "$#" -eq 2 ] || die "usage: ci/build_release_wheel.sh VERSION OUTDIR"
image="$ROOT/proto-registry/releases/$1.json"
[ -f "$image" ] || die "no release image for $1 ($image)"
outdir="$(realpath -m "$2")"
# A copy of the build files, so that building an old release never touches clients/python/src.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp clients/python/{setup.py,pyproject.toml,README.md,MANIFEST.in} "$work/"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-315532800}"
python="$(build_python)"
BOOKSHOP_PROTOS_RELEASE_IMAGE="$image" \
  "$python" -m build --no-isolation --wheel --outdir "$outdir" "$work" >"$work/build.log" 2>&1 \
  || { cat "$work/build.log" >&2; die "building release $1 failed"; }
ls -1 "$outdir/bookshop_protos-$1-py3-none-any.whl"
