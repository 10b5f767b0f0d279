#!/usr/bin/env bash
# `make check`, the edit-test loop: needs no root, no browser and no podman. The proto registry's
# rules first (a second), then side by side: ruff and mypy --strict (ci/lint.sh), the registry
# tests, the wheel's tests, the service's and the website's unit and integration tests, the
# benchmark code's tests, the test harness's own and the documentation's (its
# examples run, its tables held to the Makefile). The suites spend most of their time waiting
# on servers and subprocesses, so together they take little longer than the slowest one. Each
# job's output is printed as it ends; the check fails when any job fails.
source "$(dirname "$0")/lib.sh"

log "proto registry: format, lint, breaking"
ci/check_protos.sh

outputs="$(mktemp -d)"
trap 'rm -rf "$outputs"' EXIT
declare -A names=() started=()

# job NAME COMMAND...: run COMMAND in the background, its output in a file of its own, and the
# CPU time it and its children used (bash's `times`) in another.
job() {
  local name="$1"
  shift
  (
    status=0
    "$@" || status=$?
    times >"$outputs/$name.cpu"
    exit "$status"
  ) >"$outputs/$name" 2>&1 &
  names[$!]="$name"
  started[$!]=$SECONDS
}

# cpu NAME: the CPU seconds job NAME used (user and system, its children included).
cpu() {
  awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/)
    printf "%.0f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$outputs/$1.cpu" 2>/dev/null
}

# within DIR COMMAND...: run COMMAND in DIR (each distribution's tests run from its folder).
within() { (cd "$1" && shift && exec "$@"); }

job lint ci/lint.sh
# The release rules, across two workers. The registry's procedures with real package indexes
# (publishing, the README's walk-through, the install recipe) are in make test-system: they
# took longer than the rest of this check.
job "registry tests" pytest -q -n 2 tests/registry/test_check_protos.py
job "wheel tests" within clients/python pytest -q tests
job "service tests" within recommendations-service pytest -q
job "website tests" within marketplace-django pytest -q
job "benchmark code tests" pytest -q benchmarks/tests
job "harness tests" pytest -q tests/harness
job "docs tests" pytest -q tests/docs
job "lock tests" pytest -q -p no:cacheprovider tests/locks

failed=()
while [ "${#names[@]}" -gt 0 ]; do
  status=0
  wait -n -p pid "${!names[@]}" || status=$?
  name="${names[$pid]}"
  unset "names[$pid]"
  cat "$outputs/$name"
  if [ "$status" -eq 0 ]; then
    log "$name passed in $((SECONDS - started[$pid])) s (CPU $(cpu "$name") s)"
  else
    log "$name FAILED in $((SECONDS - started[$pid])) s (CPU $(cpu "$name") s)"
    failed+=("$name")
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  printf -v list '%s, ' "${failed[@]}"
  die "failed: ${list%, }"
fi
log "make check passed in $SECONDS s"
