"""The packaging stays in step with the code: every package is installed, every folder
the app reads is shipped, nothing the app imports is excluded from the bundle, the
installers agree with each other, and the version is written in pyproject.toml only.
(The Windows and macOS scripts cannot run here; these checks are what can be proved on
Linux. The frozen build itself runs in packaging/build_linux.sh.)"""

from __future__ import annotations

import ast
import importlib.util
import plistlib
import re
import struct
import sys
import tomllib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "packaging"))
import bundle_config as cfg
from version import project_version

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
VERSION = PYPROJECT["project"]["version"]


def app_sources() -> list[Path]:
    return sorted(p for p in (ROOT / "desktop_app").rglob("*.py") if "__pycache__" not in p.parts)


def imported_modules() -> dict[str, Path]:
    """Every module name desktop_app imports (absolute imports), with one file using it."""
    found: dict[str, Path] = {}
    for path in app_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    found.setdefault(alias.name, path)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.setdefault(node.module, path)
                for alias in node.names:  # `from PySide6 import QtSvg` imports a module
                    found.setdefault(f"{node.module}.{alias.name}", path)
    return found


def test_every_desktop_app_package_is_listed_in_pyproject() -> None:
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    packages = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "desktop_app").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    missing = sorted(packages - listed)
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"


def test_the_bundle_ships_every_folder_the_app_reads() -> None:
    paths_source = (ROOT / "desktop_app" / "paths.py").read_text(encoding="utf-8")
    read = set(re.findall(r'_locate\("(\w+)"', paths_source))
    assert read == {"resources", "migrations"}
    assert set(cfg.SHIPPED_FOLDERS) == read
    spec = (PACKAGING / "token_budget.spec").read_text(encoding="utf-8")
    assert "for folder in cfg.SHIPPED_FOLDERS:" in spec
    for folder in cfg.SHIPPED_FOLDERS:
        assert (ROOT / folder).is_dir()


def test_every_resource_the_code_names_is_in_the_shipped_tree() -> None:
    """resource("prompts", "summarize.txt") and the like: the first constant parts of each
    call must exist under resources/, which the bundle copies whole."""
    checked = 0
    for path in app_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "resource"):
                continue
            parts = []
            for arg in node.args:
                if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                    break
                parts.append(arg.value)
            if parts:
                checked += 1
                target = ROOT / "resources" / Path(*parts)
                assert target.exists(), f"{path.relative_to(ROOT)} reads {target}, not shipped"
    assert checked >= 3


def test_nothing_the_app_imports_is_left_out_of_the_bundle() -> None:
    excluded = set(cfg.EXCLUDES)
    clashes = {
        module: str(path.relative_to(ROOT))
        for module, path in imported_modules().items()
        if any(module == ex or module.startswith(ex + ".") for ex in excluded)
        and not any((module == tool or module.startswith(tool + "."))
                    and str(path.relative_to(ROOT)) in files
                    for tool, files in cfg.LEFT_OUT_FOR_TOOLS.items())
    }
    assert not clashes, f"packaging/bundle_config.py excludes modules the app imports: {clashes}"


def test_hidden_imports_name_real_modules() -> None:
    missing = [name for name in cfg.HIDDEN_IMPORTS if importlib.util.find_spec(name) is None]
    assert not missing


def test_the_spec_and_launchers_compile() -> None:
    for path in [PACKAGING / "token_budget.spec", *(PACKAGING / "launchers").glob("*.py")]:
        compile(path.read_text(encoding="utf-8"), str(path), "exec")


def test_the_version_is_written_in_pyproject_only() -> None:
    assert project_version() == VERSION
    import desktop_app

    assert desktop_app.__version__ == VERSION
    literal = re.compile(rf"(?<![\d.]){re.escape(VERSION)}(?![\d.])")
    scanned = [
        p
        for folder in (PACKAGING, ROOT / ".github")
        for p in folder.rglob("*")
        if p.is_file() and "fixtures" not in p.parts and "__pycache__" not in p.parts
        and p.suffix in {".py", ".spec", ".iss", ".ps1", ".sh", ".plist", ".yml", ".md"}
    ]
    assert len(scanned) >= 10
    written = [str(p.relative_to(ROOT)) for p in scanned if literal.search(p.read_text("utf-8"))]
    assert not written, f"the version {VERSION} is written in {written}; read pyproject.toml"
    iss = (PACKAGING / "windows" / "token_budget.iss").read_text(encoding="utf-8")
    assert "AppVersion={#AppVersion}" in iss
    plist = (PACKAGING / "macos" / "Info.plist").read_text(encoding="utf-8")
    assert "@SHORT_VERSION@" in plist and "@BUNDLE_VERSION@" in plist


def filled_info_plist() -> dict:
    template = (PACKAGING / "macos" / "Info.plist").read_text(encoding="utf-8")
    from version import platform_versions

    versions = platform_versions(VERSION)
    filled = (
        template.replace("@SHORT_VERSION@", versions.macos_short)
        .replace("@BUNDLE_VERSION@", versions.macos_build)
        .replace("@BUNDLE_ID@", cfg.BUNDLE_ID)
        .replace("@EXPORT_EXTENSION@", cfg.EXPORT_EXTENSION)
        .replace("@MIN_MACOS@", "12.0")
    )
    assert "@" not in re.sub(r"<!--.*?-->", "", filled, flags=re.DOTALL), "an unfilled placeholder"
    return plistlib.loads(filled.encode("utf-8"))


def test_the_macos_info_plist_declares_identity_dark_mode_and_the_export_type() -> None:
    info = filled_info_plist()
    assert info["CFBundleIdentifier"] == cfg.BUNDLE_ID
    assert info["CFBundleShortVersionString"] == VERSION
    assert info["CFBundleExecutable"] == cfg.GUI_EXE
    assert (ROOT / "resources" / "icons" / info["CFBundleIconFile"]).is_file()
    assert info["NSRequiresAquaSystemAppearance"] is False  # follows dark mode
    assert info["NSHighResolutionCapable"] is True
    assert info["LSBackgroundOnly"] is False
    [exported] = info["UTExportedTypeDeclarations"]
    [document] = info["CFBundleDocumentTypes"]
    assert document["LSItemContentTypes"] == [exported["UTTypeIdentifier"]]
    extensions = exported["UTTypeTagSpecification"]["public.filename-extension"]
    assert extensions == [cfg.EXPORT_EXTENSION]
    entitlements = plistlib.loads((PACKAGING / "macos" / "entitlements.plist").read_bytes())
    assert all(value is True for value in entitlements.values())


def iss_setting(iss: str, key: str) -> str:
    match = re.search(rf"^{key}=(.*)$", iss, re.MULTILINE)
    assert match, f"token_budget.iss has no {key}="
    return match.group(1).strip()


def test_the_inno_setup_script_installs_per_user_and_keeps_the_data_folder() -> None:
    iss = (PACKAGING / "windows" / "token_budget.iss").read_text(encoding="utf-8")
    app_id = iss_setting(iss, "AppId")
    assert re.fullmatch(r"\{\{[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}\}", app_id)
    assert iss_setting(iss, "PrivilegesRequired") == "lowest"
    assert iss_setting(iss, "PrivilegesRequiredOverridesAllowed") == "dialog"
    assert iss_setting(iss, "DefaultDirName").startswith("{autopf}")
    assert f'#define AppExe "{cfg.GUI_EXE}.exe"' in iss
    assert f'#define ExportExt ".{cfg.EXPORT_EXTENSION}"' in iss
    icon = PACKAGING / "windows" / iss_setting(iss, "SetupIconFile").replace("\\", "/")
    assert icon.resolve().is_file()
    # upgrades and uninstalls touch {app} only: nothing deletes the user's data folder
    for section in ("InstallDelete", "UninstallDelete"):
        body = re.search(rf"^\[{section}\]\n(.*?)(?=^\[|\Z)", iss, re.MULTILINE | re.DOTALL)
        if body:
            lines = [ln for ln in body.group(1).splitlines() if ln and not ln.startswith(";")]
            assert all('Name: "{app}' in ln for ln in lines), lines
    assert "{localappdata}" not in iss.lower().replace("%localappdata%", "")


def test_the_release_workflow_copy_is_identical_and_builds_every_platform() -> None:
    master = (PACKAGING / "github" / "release.yml").read_text(encoding="utf-8")
    assert (ROOT / ".github" / "workflows" / "release.yml").read_text(encoding="utf-8") == master
    for script in ("packaging/version.py", "packaging/build_linux.sh",
                   "packaging\\windows\\build.ps1", "packaging/macos/build_dmg.sh"):
        assert script in master
        assert (ROOT / script.replace("\\", "/")).is_file()


def test_the_icons_hold_every_size_the_platforms_ask_for() -> None:
    icons = ROOT / "resources" / "icons"
    ico = (icons / "app.ico").read_bytes()
    reserved, kind, count = struct.unpack_from("<HHH", ico, 0)
    assert (reserved, kind) == (0, 1)
    sizes = {struct.unpack_from("<B", ico, 6 + 16 * i)[0] or 256 for i in range(count)}
    assert {16, 32, 48, 256} <= sizes
    icns = (icons / "app.icns").read_bytes()
    assert icns[:4] == b"icns" and struct.unpack_from(">I", icns, 4)[0] == len(icns)
    kinds, offset = set(), 8
    while offset < len(icns):
        kinds.add(icns[offset : offset + 4].decode("ascii"))
        offset += struct.unpack_from(">I", icns, offset + 4)[0]
    assert {"ic07", "ic08", "ic09", "ic10"} <= kinds  # 128 to 1024 px
    assert (icons / "app.png").is_file()


@pytest.mark.parametrize("script", ["build_linux.sh", "macos/build_dmg.sh"])
def test_shell_scripts_stop_on_the_first_error(script: str) -> None:
    text = (PACKAGING / script).read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash")
    assert "set -euo pipefail" in text
