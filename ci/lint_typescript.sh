#!/usr/bin/env bash
# The TypeScript written by hand, the example consumer: tsc --strict against the @bookshop/protos
# package as built, and prettier's formatting.
source "$(dirname "$0")/lib.sh"

example=clients/typescript/examples
npm_tools clients/typescript
npm_tools "$example"
ci/build_npm.sh 2>/dev/null
# Consumers install @bookshop/protos from a registry, so the example's lock leaves it out; here
# it comes from the tarball just built, without touching package.json or the lock.
npm install --prefix "$example" --no-save --no-audit --no-fund --loglevel=error \
  "$(protos_npm_package)" >/dev/null
"$example/node_modules/.bin/tsc" -p "$example" --strict --noEmit
clients/typescript/node_modules/.bin/prettier --check --log-level=warn "$example"/*.ts \
  "$example/tsconfig.json"
