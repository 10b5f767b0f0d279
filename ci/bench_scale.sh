#!/usr/bin/env bash
# The recommendations service at catalog sizes of 196 to 1,000,000 generated books: start to
# SERVING, memory, a new reader's first call, CPU per call against 196 books, memory after many
# distinct readers, and N processes against one; writes docs/benchmarks-scale.md and stops with a
# non-zero status when a target is missed.
# Usage: ci/bench_scale.sh [benchmarks.scale options, e.g. --sizes 196,100000 --calls 5000]
source "$(dirname "$0")/lib.sh"
need_bench_tools
log "scale benchmark (about 15 minutes with the defaults); keep the machine otherwise idle"
python -m benchmarks.scale --output docs/benchmarks-scale.md "$@"
log "wrote docs/benchmarks-scale.md"
