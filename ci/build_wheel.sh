#!/usr/bin/env bash
# Build the bookshop-protos sdist, then the wheel from that sdist (proving the sdist is complete),
# with the pinned generators of the cached build environment (build_python in ci/lib.sh).
source "$(dirname "$0")/lib.sh"

mkdir -p "$DIST"
rm -f "$DIST"/bookshop_protos-"$(protos_version)"[.-]*
# Reproducible archives: file times come from the last commit, not from the build's clock.
SOURCE_DATE_EPOCH="$(git log -1 --format=%ct -- proto-registry clients/python 2>/dev/null || true)"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-315532800}"
python="$(build_python)"
"$python" -m build --no-isolation --outdir "$DIST" clients/python >/dev/null
ls -1 "$DIST"/bookshop_protos-"$(protos_version)"[.-]* >&2
