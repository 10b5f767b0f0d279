#!/usr/bin/env bash
# The bookshop under load, restarts, outages, bad input and mutual TLS (scenarios in soak/).
#   ci/soak.sh          full run (about 3 minutes): writes docs/reliability.md and its plot
#   ci/soak.sh --short  the same scenarios shortened (under 3 minutes), as make test-system runs it
# Everything listens on 127.0.0.1 only; every process started is stopped on exit.
source "$(dirname "$0")/lib.sh"

need_apt wrk wrk
need_apt h2load nghttp2-client
need_apt taskset util-linux

# The TLS scenario uses the development certificates as `make certs` writes them (kept if present).
ci/certs.sh

exec "$BIN/python" -m soak "$@"
