#!/usr/bin/env bash
# Build the Linux one-folder bundle (dist/TokenBudget/) and prove it carries everything
# it needs: its own `token-budget --self-test` runs with no network at all. Prints the
# bundle's size; exits non-zero if the build or the self-test fails, or if the bundle
# grows past TB_BUNDLE_LIMIT_MB (a guard against pulling in, say, QtWebEngine by mistake).
#
#   bash packaging/build_linux.sh            # from anywhere; run by .ci/run
#
# Needs: Python 3.11+ with the project installed (pip install ".[build]"), binutils and
# a C compiler (to trim Qt's ICU data; without them the full library is kept).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
DIST=${DIST:-dist}
WORK=${WORK:-build/pyinstaller}
LIMIT_MB=${TB_BUNDLE_LIMIT_MB:-150}
started=$(date +%s)

if ! "$PYTHON" -m PyInstaller --version >/dev/null 2>&1; then
  echo "build_linux: installing PyInstaller"
  "$PYTHON" -m pip install -q "pyinstaller>=6.5"
fi
if ! "$PYTHON" -c 'import importlib.metadata as m; m.version("token-budget")' 2>/dev/null; then
  echo "build_linux: installing the project (its metadata goes into the bundle)"
  "$PYTHON" -m pip install -q -e .
fi

version=$("$PYTHON" packaging/version.py)
echo "build_linux: building Token Budget $version with PyInstaller $("$PYTHON" -m PyInstaller --version)"
"$PYTHON" -m PyInstaller --noconfirm --log-level WARN \
  --distpath "$DIST" --workpath "$WORK" packaging/token_budget.spec
bundle="$DIST/TokenBudget"

# The self-test runs from outside the checkout, on the offscreen Qt platform, in a
# network namespace with no interfaces: any attempt to reach the network fails at once.
if unshare -rn true 2>/dev/null; then
  offline=(unshare -rn)
  how="with no network (unshare -rn: an empty network namespace)"
else
  # Fallback where user namespaces are disabled: every proxy variable points at an
  # unroutable address, so HTTP clients that honour them cannot get out. Weaker than a
  # namespace (a client ignoring proxies could still connect); said so in the log.
  dead="http://10.255.255.1:9"
  offline=(env "http_proxy=$dead" "https_proxy=$dead" "HTTP_PROXY=$dead" "HTTPS_PROXY=$dead"
           "ALL_PROXY=$dead" "all_proxy=$dead" "no_proxy=" "NO_PROXY=" "OPENAI_BASE_URL=$dead")
  how="with proxies pointed at an unroutable address (unshare -rn is not available here)"
fi
echo "build_linux: running the frozen self-test $how"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
bundle_abs=$(cd "$bundle" && pwd)
# The window program's name (a link to token-budget here) with an export on its command
# line, as a double-click starts it: the self-test also opens that file in the window.
sample="$PWD/packaging/fixtures/sample-export.tokenbudget"
(cd "$scratch" && env -u PYTHONPATH QT_QPA_PLATFORM=offscreen HOME="$scratch" \
   TOKEN_BUDGET_DATA_DIR="$scratch/data" "${offline[@]}" "$bundle_abs/TokenBudget" \
   --self-test "$sample")

# The upgrade path, in the frozen app: each earlier release's database (packaging/fixtures)
# opens, is migrated after a backup, and still lists its session.
db_file=$("$PYTHON" -c 'from desktop_app.store.database import DB_FILE; print(DB_FILE)')
for fixture in packaging/fixtures/token_budget-*.sqlite3; do
  [ -e "$fixture" ] || { echo "build_linux: FAILED: no upgrade fixtures in packaging/fixtures" >&2; exit 1; }
  name=$(basename "$fixture" .sqlite3)
  data="$scratch/upgrade-$name"
  mkdir -p "$data"
  cp "$fixture" "$data/$db_file"
  title=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["session"]["title"])' \
            "${fixture%.sqlite3}.json")
  listing=$(cd "$scratch" && env -u PYTHONPATH HOME="$scratch" "${offline[@]}" \
              "$bundle_abs/token-budget" --data-dir "$data" sessions --json)
  if ! grep -qF "$title" <<<"$listing"; then
    echo "build_linux: FAILED: the frozen app lost the session of $name:" >&2
    echo "$listing" >&2
    exit 1
  fi
  if ! compgen -G "$data/backups/*.sqlite3" >/dev/null; then
    echo "build_linux: FAILED: opening $name made no backup" >&2
    exit 1
  fi
  echo "build_linux: upgrade from $name: opened by the frozen app, backup made, session kept"
done

size_mb=$(du -sm "$bundle" | cut -f1)
elapsed=$(( $(date +%s) - started ))
echo "build_linux: $bundle is ${size_mb} MB on disk (target under 130 MB); built and tested in ${elapsed} s"
if [ "$size_mb" -gt "$LIMIT_MB" ]; then
  echo "build_linux: FAILED: the bundle is larger than the ${LIMIT_MB} MB limit" >&2
  exit 1
fi
