#!/usr/bin/env bash
# Build the @bookshop/protos npm package into dist/bookshop-protos-<version>.tgz.
#
# buf generate (buf.gen.yaml) runs protoc-gen-es, pinned in clients/typescript/package-lock.json,
# over every package in proto-registry/ into clients/typescript/gen/. The package holds that code
# (ES modules and .d.ts), the .proto sources it came from, and clients/typescript/package.json
# with the registry's version and without the generator (a build-time dependency).
source "$(dirname "$0")/lib.sh"

version="$(protos_version)"
package="$(protos_npm_package)"
npm_tools clients/typescript
buf generate

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp clients/typescript/package.json clients/typescript/README.md "$stage/"
cp -R clients/typescript/gen/. "$stage/"
(cd proto-registry && find . -name '*.proto' -exec cp --parents {} "$stage/" \;)
(cd "$stage" && npm pkg set version="$version" && npm pkg delete devDependencies)

mkdir -p "$DIST"
rm -f "$package"
npm pack "$stage" --pack-destination "$DIST" --loglevel=error >/dev/null
[ -f "$package" ] || die "npm pack did not write $package"
ls -1 "$package" >&2
