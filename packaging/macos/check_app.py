"""Check a built "Token Budget.app" (or, with --template, the Info.plist template filled
the way the spec fills it): the Info.plist keys Finder and Launch Services read, the
versions packaging/version.py derives, and the minimum macOS.

The minimum is read from the binaries inside the bundle (packaging/macho.py), not from
wheel tags: LSMinimumSystemVersion must equal the newest of them and be no newer than
bundle_config.MACOS_MINIMUM (13.0), or Macs the app promises to run on refuse it.

    python packaging/macos/check_app.py "dist/Token Budget.app"
    python packaging/macos/check_app.py --template          # CI on Linux: keys only
"""

from __future__ import annotations

import argparse
import plistlib
import re
import sys
from pathlib import Path

PACKAGING = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PACKAGING))

import bundle_config as cfg  # noqa: E402
import macho  # noqa: E402
from version import platform_versions, project_version  # noqa: E402

REQUIRED_KEYS = (
    "CFBundleName", "CFBundleDisplayName", "CFBundleIdentifier", "CFBundleExecutable",
    "CFBundleIconFile", "CFBundlePackageType", "CFBundleShortVersionString",
    "CFBundleVersion", "LSMinimumSystemVersion", "NSHighResolutionCapable",
    "NSPrincipalClass", "CFBundleDocumentTypes", "UTExportedTypeDeclarations",
)
# Apple: one to three period-separated non-negative integers
APPLE_VERSION = re.compile(r"^[0-9]+(\.[0-9]+){0,2}$")


def fill_template(version: str, minimum: str) -> dict:
    """The template as the spec fills it (packaging/token_budget.spec)."""
    versions = platform_versions(version)
    text = (PACKAGING / "macos" / "Info.plist").read_text(encoding="utf-8")
    text = (text.replace("@SHORT_VERSION@", versions.macos_short)
            .replace("@BUNDLE_VERSION@", versions.macos_build)
            .replace("@BUNDLE_ID@", cfg.BUNDLE_ID)
            .replace("@EXPORT_EXTENSION@", cfg.EXPORT_EXTENSION)
            .replace("@MIN_MACOS@", minimum))
    return plistlib.loads(text.encode("utf-8"))


def plist_problems(info: dict, version: str) -> list[str]:
    problems = [f"{key} is missing" for key in REQUIRED_KEYS if key not in info]
    left = [k for k, v in info.items() if isinstance(v, str) and "@" in v and v.endswith("@")]
    problems += [f"{key} still holds a placeholder ({info[key]})" for key in left]
    versions = platform_versions(version)
    for key, want in (("CFBundleShortVersionString", versions.macos_short),
                      ("CFBundleVersion", versions.macos_build)):
        got = str(info.get(key, ""))
        if not APPLE_VERSION.match(got):
            problems.append(f"{key} {got!r} is not one to three integers")
        elif got != want:
            problems.append(f"{key} is {got!r}, packaging/version.py says {want!r}")
    if info.get("CFBundleIdentifier") != cfg.BUNDLE_ID:
        problems.append(f"CFBundleIdentifier is {info.get('CFBundleIdentifier')!r}")
    if info.get("CFBundleExecutable") != cfg.GUI_EXE:
        problems.append(f"CFBundleExecutable is {info.get('CFBundleExecutable')!r}")
    if info.get("LSBackgroundOnly") not in (None, False):
        problems.append("LSBackgroundOnly would hide the app from the Dock")
    minimum = str(info.get("LSMinimumSystemVersion", "99"))
    if not re.match(r"^[0-9]+\.[0-9]+(\.[0-9]+)?$", minimum):
        problems.append(f"LSMinimumSystemVersion {minimum!r} is not a version")
    elif macho.parse_version(minimum) > macho.parse_version(cfg.MACOS_MINIMUM):
        problems.append(f"LSMinimumSystemVersion {minimum} is newer than macOS {cfg.MACOS_MINIMUM}")
    exts = [ext for decl in info.get("UTExportedTypeDeclarations", [])
            for ext in decl.get("UTTypeTagSpecification", {}).get("public.filename-extension", [])]
    if cfg.EXPORT_EXTENSION not in exts:
        problems.append(f"no exported type for .{cfg.EXPORT_EXTENSION}")
    doc_types = [t for d in info.get("CFBundleDocumentTypes", [])
                 for t in d.get("LSItemContentTypes", [])]
    if f"{cfg.BUNDLE_ID}.export" not in doc_types:
        problems.append("the export type is not among CFBundleDocumentTypes")
    return problems


def app_problems(app: Path) -> list[str]:
    contents = app / "Contents"
    info = plistlib.loads((contents / "Info.plist").read_bytes())
    problems = plist_problems(info, project_version())
    if not (contents / "MacOS" / str(info.get("CFBundleExecutable"))).is_file():
        problems.append("CFBundleExecutable names no file in Contents/MacOS")
    found = list(macho.scan(contents))
    if not found:
        return [*problems, "no Mach-O binaries in the bundle"]
    newest = max(version for _name, version in found)
    declared = macho.parse_version(str(info.get("LSMinimumSystemVersion", "0")))
    if declared[:2] != newest[:2] and newest > macho.parse_version(cfg.MACOS_MINIMUM_FLOOR):
        problems.append(f"LSMinimumSystemVersion is {info.get('LSMinimumSystemVersion')} but the"
                        f" newest binary needs macOS {macho.dotted(newest)}")
    limit = macho.parse_version(cfg.MACOS_MINIMUM)
    too_new = sorted((v, n) for n, v in found if v > limit)
    problems += [f"{Path(n).relative_to(contents)} needs macOS {macho.dotted(v)}"
                 for v, n in too_new[:20]]
    print(f"check_app: {len(found)} Mach-O binaries, the newest needs macOS {macho.dotted(newest)}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("app", nargs="?", type=Path)
    parser.add_argument("--template", action="store_true",
                        help="check the Info.plist template filled for this version")
    parser.add_argument("--version", help="with --template: the version to fill in")
    args = parser.parse_args(argv)
    if args.template:
        version = args.version or project_version()
        problems = plist_problems(fill_template(version, cfg.MACOS_MINIMUM), version)
        what = f"the Info.plist template filled for {version}"
    elif args.app:
        problems = app_problems(args.app)
        what = str(args.app)
    else:
        parser.error("name the .app, or --template")
    for problem in problems:
        print(f"check_app: FAILED: {problem}")
    if not problems:
        print(f"check_app: {what}: Info.plist keys, versions and the minimum macOS are right")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
