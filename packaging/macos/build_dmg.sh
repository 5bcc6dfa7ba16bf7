#!/usr/bin/env bash
# Build "Token Budget.app" and a compressed disk image (.dmg) of it, on macOS.
#
#   bash packaging/macos/build_dmg.sh
#
# Output: dist/Token Budget.app and dist/TokenBudget-<version>-macos-<arch>.dmg
#
# Signing and notarization run only when their credentials are in the environment:
#   MACOS_SIGN_IDENTITY   a "Developer ID Application: ..." identity in the keychain;
#                         PyInstaller signs every binary and the .app with it
#                         (hardened runtime, packaging/macos/entitlements.plist)
#   APPLE_ID, APPLE_TEAM_ID, APPLE_APP_PASSWORD
#                         an Apple ID, its team and an app-specific password: the dmg
#                         is sent to Apple's notary service (packaging/macos/notarize.py
#                         reads the verdict and prints Apple's log when it is rejected)
#                         and the ticket stapled
# Without them the build is unsigned (Gatekeeper will ask users to confirm the first
# launch with right-click > Open) and says so.
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON=${PYTHON:-python3}
if [ "$(uname -s)" != "Darwin" ]; then
  echo "build_dmg: this script runs on macOS only (it needs hdiutil and codesign)" >&2
  exit 2
fi

# pyproject.toml's version as written (file names) and as macOS takes it (Info.plist,
# filled by the spec from the same packaging/version.py).
version=$("$PYTHON" packaging/version.py)
bundle_version=$("$PYTHON" packaging/version.py macos-build)
arch=$(uname -m)
app="dist/Token Budget.app"
dmg="dist/TokenBudget-${version}-macos-${arch}.dmg"
echo "build_dmg: Token Budget $version ($arch; CFBundleVersion $bundle_version)"

"$PYTHON" -m pip install -q ".[build]"
if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
  echo "build_dmg: signing with \"$MACOS_SIGN_IDENTITY\""
else
  echo "build_dmg: MACOS_SIGN_IDENTITY is not set; building unsigned (skipping codesign and notarization)"
fi
# The spec reads MACOS_SIGN_IDENTITY itself and signs while it assembles the .app.
"$PYTHON" -m PyInstaller --noconfirm --log-level WARN \
  --distpath dist --workpath build/pyinstaller packaging/token_budget.spec

# The frozen app checks itself: every file, every encoding, the database, the window.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
app_abs="$(cd "$(dirname "$app")" && pwd)/$(basename "$app")"
sample="$PWD/packaging/fixtures/sample-export.tokenbudget"
(cd "$scratch" && QT_QPA_PLATFORM=offscreen TOKEN_BUDGET_DATA_DIR="$scratch/data" \
   "$app_abs/Contents/MacOS/token-budget" --self-test "$sample")
# The Info.plist and the minimum macOS, read from the binaries in the bundle.
"$PYTHON" packaging/macos/check_app.py "$app"
# The app as Finder starts it (Launch Services reads the Info.plist, refuses a minimum
# newer than this Mac), with a file on its command line: the window program's self-test.
log="$scratch/open-self-test.log"
open -W -n --stdout "$log" --stderr "$log" \
  --env QT_QPA_PLATFORM=offscreen --env "TOKEN_BUDGET_DATA_DIR=$scratch/open-data" \
  "$app" --args --self-test "$sample"
cat "$log"
if ! grep -q "^self-test passed" "$log"; then
  echo "build_dmg: FAILED: the app started by Launch Services did not pass its self-test" >&2
  exit 1
fi

if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
  codesign --verify --deep --strict --verbose=2 "$app"
fi

# The disk image: the app and a link to /Applications to drag it onto.
stage="$scratch/dmg"
mkdir -p "$stage"
ditto "$app" "$stage/Token Budget.app"
ln -s /Applications "$stage/Applications"
rm -f "$dmg"
hdiutil create -volname "Token Budget $version" -srcfolder "$stage" -ov -format UDZO "$dmg"

if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
  codesign --force --timestamp --sign "$MACOS_SIGN_IDENTITY" "$dmg"
  if [ -n "${APPLE_ID:-}" ] && [ -n "${APPLE_TEAM_ID:-}" ] && [ -n "${APPLE_APP_PASSWORD:-}" ]; then
    echo "build_dmg: notarizing (this waits for Apple's answer)"
    "$PYTHON" packaging/macos/notarize.py "$dmg"
    xcrun stapler staple "$dmg"
    xcrun stapler validate "$dmg"
  else
    echo "build_dmg: APPLE_ID / APPLE_TEAM_ID / APPLE_APP_PASSWORD not all set; skipping notarization"
  fi
fi

echo "build_dmg: $dmg ($(du -sh "$dmg" | cut -f1)); the app is $(du -sh "$app" | cut -f1) on disk"
