#!/usr/bin/env bash
# Build the bookshop-protos sdist, then the wheel from that sdist (proving the sdist is complete),
# with the pinned generators of the cached build environment (build_python in ci/lib.sh). Both
# are reproducible: the same sources build the same bytes, which is how publishing tells a file
# already on the index from another one of the same version.
source "$(dirname "$0")/lib.sh"

version="$(protos_version)"
mkdir -p "$DIST"
rm -f "$DIST"/bookshop_protos-"$version"[.-]*
# File times come from the last commit, not from the build's clock.
SOURCE_DATE_EPOCH="$(git log -1 --format=%ct -- proto-registry clients/python 2>/dev/null || true)"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-315532800}"
python="$(build_python)"
"$python" -m build --no-isolation --outdir "$DIST" clients/python >/dev/null
# The wheel honours SOURCE_DATE_EPOCH; setuptools' sdist keeps each file's own time, its owner
# and the gzip header's clock: write it again with those fixed, the members in name order.
python - "$DIST/bookshop_protos-$version.tar.gz" "$SOURCE_DATE_EPOCH" <<'PY'
import gzip, io, sys, tarfile

path, epoch = sys.argv[1], int(sys.argv[2])
with tarfile.open(path) as sdist:
    members = [(m, sdist.extractfile(m).read() if m.isfile() else b"") for m in sdist.getmembers()]
with open(path, "wb") as raw, gzip.GzipFile("", "wb", fileobj=raw, mtime=epoch) as packed:
    with tarfile.open(fileobj=packed, mode="w", format=tarfile.PAX_FORMAT) as rewritten:
        for member, data in sorted(members, key=lambda pair: pair[0].name):
            member.mtime, member.uid, member.gid, member.uname, member.gname = epoch, 0, 0, "", ""
            member.pax_headers = {}
            rewritten.addfile(member, io.BytesIO(data) if member.isfile() else None)
PY
ls -1 "$DIST"/bookshop_protos-"$version"[.-]* >&2
