#!/usr/bin/env bash
# The ablation: the recommendations service with each speed trick replaced in turn by the plain,
# library-based way, against the full service and a second copy of it, in alternating rounds;
# writes docs/benchmarks-ablation.md (benchmarks/README.md says how to read it).
# Usage: ci/bench_ablation.sh [benchmarks.ablation options, e.g. --rounds 21 --calls 20000]
source "$(dirname "$0")/lib.sh"
need_bench_tools
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
recommendations-server build-catalog --output "$tmp/catalog.sqlite3" >/dev/null
log "ablation (8 to 12 minutes with the defaults); keep the machine otherwise idle"
python -m benchmarks.ablation --catalog "$tmp/catalog.sqlite3" --output docs/benchmarks-ablation.md "$@"
log "wrote docs/benchmarks-ablation.md"
