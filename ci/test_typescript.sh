#!/usr/bin/env bash
# The @bookshop/protos npm package: build it, then publish it to a throwaway verdaccio, install it
# into a fresh folder as docs/packages.md says, compile the example with `tsc --strict` and run it
# against a real recommendations-server (clients/typescript/tests).
source "$(dirname "$0")/lib.sh"

log "npm package: build, publish, install as docs/packages.md says, the example against the service"

npm_tools ci/npm-registry
ci/build_npm.sh
pytest -q -p no:cacheprovider clients/typescript/tests "$@"
