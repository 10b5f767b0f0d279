#!/usr/bin/env bash
# Benchmark the recommendations service against its baselines (bare sync grpc.server, bare
# grpc.aio, the original tutorial's server) with h2load, then the website against its own (the
# static page, the floor page, the tutorial's Flask marketplace) with wrk; writes
# docs/benchmarks.md and docs/benchmarks-web.md, and stops with a non-zero status when a target is
# missed or a contender answers anything but OK.
# Usage: ci/bench.sh [benchmarks.run options, e.g. --rounds 5 --calls 30000]
source "$(dirname "$0")/lib.sh"
need_bench_tools
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
recommendations-server build-catalog --output "$tmp/catalog.sqlite3" >/dev/null
log "benchmarking (about 8 minutes); keep the machine otherwise idle for steady figures"
python -m benchmarks.run --catalog "$tmp/catalog.sqlite3" --output docs/benchmarks.md "$@"
log "wrote docs/benchmarks.md"
need_apt wrk wrk
log "website benchmark (about 8 minutes)"
python -m benchmarks.web --output docs/benchmarks-web.md --check-targets
