#!/usr/bin/env bash
# Build the bookshop-protos sdist, then the wheel from that sdist (proving the sdist is complete).
source "$(dirname "$0")/lib.sh"

mkdir -p "$DIST"
rm -f "$DIST"/bookshop_protos-"$(protos_version)"[.-]*
python -m build --outdir "$DIST" clients/python >/dev/null
ls -1 "$DIST"/bookshop_protos-"$(protos_version)"[.-]* >&2
