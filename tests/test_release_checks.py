"""The installers' defects of issue 17, each checked here on Linux as far as Linux can:
the window program passes its command line on (a double-clicked export opens), the
self-test opens a file and uses the keychain for real, one version normaliser feeds every
platform, the Mach-O reader and the built-app check see the minimum macOS, the Qt pin
for macOS, the Inno Setup registry/signing rules, the notarization verdict and the
release workflow's signing secrets. (.ci/packaging_checks.sh adds the networked and
lint checks; the release workflow runs the real builds.)"""

from __future__ import annotations

import json
import os
import plistlib
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.specifiers import SpecifierSet

from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
SAMPLE = PACKAGING / "fixtures" / "sample-export.tokenbudget"
SAMPLE_TITLE = "Opened from the command line"
sys.path.insert(0, str(PACKAGING))
sys.path.insert(0, str(PACKAGING / "macos"))

import bundle_config as cfg  # noqa: E402
import macho  # noqa: E402


def app_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TB_REPORT_FIRST_PAINT")}
    env.update(QT_QPA_PLATFORM="offscreen", HOME=str(home),
               TOKEN_BUDGET_DATA_DIR=str(home / "data"),
               PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
    env.update(extra)
    return env


# --- the window program's command line ------------------------------------------------


def test_the_window_program_passes_its_command_line_on(tmp_path: Path) -> None:
    """The frozen window program's launcher (what TokenBudget.exe and the .app run, and
    what the installer registers as `TokenBudget.exe "%1"`) with a file and --self-test:
    it must see both. Dropping its arguments would open a plain window instead (closed
    after its first paint here, so that a failure ends quickly)."""
    launcher = PACKAGING / "launchers" / "token_budget_gui.py"
    env = app_env(tmp_path, PYTHONPATH=str(ROOT), TB_REPORT_FIRST_PAINT="1")
    result = subprocess.run(
        [sys.executable, "-B", str(launcher), "--self-test", str(SAMPLE)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False,
    )
    out = result.stdout + result.stderr
    assert "self-test passed" in result.stdout, out
    assert re.search(r"^ok\s+open a file: .*" + SAMPLE_TITLE, result.stdout, re.M), out
    assert result.returncode == 0, out


def test_the_self_test_opens_a_file_given_on_the_command_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-B", "-m", "desktop_app", "--self-test", str(SAMPLE)],
        cwd=tmp_path, env=app_env(tmp_path, TOKEN_BUDGET_SELF_TEST_LOG=str(tmp_path / "log")),
        capture_output=True, text=True, timeout=180, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    line = next(ln for ln in result.stdout.splitlines() if "open a file" in ln)
    assert line.startswith("ok") and SAMPLE_TITLE in line, result.stdout
    # the windowed program has no console: the same lines go to the log file
    assert (tmp_path / "log").read_text(encoding="utf-8") == result.stdout
    missing = subprocess.run(
        [sys.executable, "-B", "-m", "desktop_app", "--self-test",
         str(tmp_path / "no.tokenbudget")],
        cwd=tmp_path, env=app_env(tmp_path), capture_output=True, text=True, timeout=60,
        check=False,
    )
    assert missing.returncode == 1 and "does not exist" in missing.stdout, missing.stdout


# --- the self-test's keychain -------------------------------------------------------------


def keychain_line(output: str) -> str:
    return next((ln for ln in output.splitlines() if re.match(r"^(ok|FAILED)\s+keychain", ln)), "")


def test_the_self_test_says_plainly_when_there_is_no_keychain(tmp_path: Path) -> None:
    env = app_env(tmp_path, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    result = subprocess.run([sys.executable, "-B", "-m", "desktop_app", "--self-test"],
                            cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=180, check=False)
    line = keychain_line(result.stdout)
    assert line.startswith("ok      keychain: no keychain here"), result.stdout
    assert "session only" in line


def test_the_self_test_stores_reads_and_deletes_a_secret_in_a_real_keychain(
    tmp_path: Path,
) -> None:
    """A real Secret Service (gnome-keyring in a private D-Bus session): the self-test
    must write, read back and delete a throwaway secret, not just import keyring's
    backend module."""
    tools = ("gnome-keyring-daemon", "dbus-run-session")
    if not all(shutil.which(tool) for tool in tools):
        if os.environ.get("TB_REQUIRE_KEYCHAIN_TEST"):
            pytest.fail(f"{' and '.join(tools)} are needed (.ci/run installs them)")
        pytest.skip("gnome-keyring and dbus-run-session are not installed")
    pytest.importorskip("secretstorage")
    script = tmp_path / "keychain.sh"
    script.write_text(
        "set -e\n"
        "printf 'self-test' | gnome-keyring-daemon --unlock --components=secrets >/dev/null\n"
        f'exec "{sys.executable}" -B -m desktop_app --self-test\n',
        encoding="utf-8",
    )
    env = app_env(tmp_path)
    env.pop("PYTHON_KEYRING_BACKEND")
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    result = subprocess.run(["dbus-run-session", "--", "bash", str(script)], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=180, check=False)
    line = keychain_line(result.stdout)
    assert line.startswith("ok      keychain: keyring.backends.SecretService"), (
        result.stdout + result.stderr
    )
    assert "stored, read back and deleted" in line


# --- one version normaliser -------------------------------------------------------------

CASES = {
    "0.1.0": ("0.1.0.40000", "0.1.0", "0.1.40000"),
    "1.0": ("1.0.0.40000", "1.0.0", "1.0.40000"),
    "0.2.0rc1": ("0.2.0.30001", "0.2.0", "0.2.30001"),
    "1.1.0b2": ("1.1.0.20002", "1.1.0", "1.1.20002"),
    "1.1.0a1": ("1.1.0.10001", "1.1.0", "1.1.10001"),
    "1.0.0.post1": ("1.0.0.40001", "1.0.0", "1.0.40001"),
    "2.0.0.dev3": ("2.0.0.3", "2.0.0", "2.0.3"),
}


@pytest.mark.parametrize("version", sorted(CASES))
def test_the_version_normaliser_gives_each_platform_what_it_accepts(version: str) -> None:
    from version import platform_versions

    got = platform_versions(version)
    assert (got.windows, got.macos_short, got.macos_build) == CASES[version]
    parts = [int(p) for p in got.windows.split(".")]
    assert len(parts) == 4 and all(0 <= p <= 65535 for p in parts)
    for text in (got.macos_short, got.macos_build):
        assert re.fullmatch(r"[0-9]+(\.[0-9]+){0,2}", text)


def test_the_normalised_versions_keep_pep_440_order() -> None:
    from version import platform_versions

    versions = sorted([*CASES, "1.0.0rc2", "1.0.0", "1.0.1", "1.0.1.dev1", "0.9.9.post3"],
                      key=Version)

    def as_tuple(text: str) -> tuple[int, ...]:
        return tuple(int(p) for p in text.split("."))

    assert sorted(versions, key=lambda v: as_tuple(platform_versions(v).windows)) == versions
    assert sorted(versions, key=lambda v: as_tuple(platform_versions(v).macos_build)) == versions


@pytest.mark.parametrize("bad", ["1!1.0", "1.0+local", "1.2.3.4", "1.0rc1.dev1", "x1"])
def test_the_version_normaliser_refuses_what_no_platform_can_say(bad: str) -> None:
    from version import VersionError, platform_versions

    with pytest.raises(VersionError):
        platform_versions(bad)
    result = subprocess.run([sys.executable, str(PACKAGING / "version.py"), bad, "windows"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1 and result.stderr.startswith("version.py:")


def test_every_build_takes_its_versions_from_the_normaliser() -> None:
    spec = (PACKAGING / "token_budget.spec").read_text(encoding="utf-8")
    assert "platform_versions(VERSION)" in spec and "VERSIONS.windows" in spec
    assert "VERSION.split" not in spec
    assert "VERSIONS.macos_short" in spec and "VERSIONS.macos_build" in spec
    plist = (PACKAGING / "macos" / "Info.plist").read_text(encoding="utf-8")
    assert "<string>@SHORT_VERSION@</string>" in plist
    assert "<string>@BUNDLE_VERSION@</string>" in plist
    iss = (PACKAGING / "windows" / "token_budget.iss").read_text(encoding="utf-8")
    assert re.search(r"^VersionInfoVersion=\{#WinVersion\}$", iss, re.M)
    assert re.search(r"^VersionInfoProductVersion=\{#WinVersion\}$", iss, re.M)
    ps1 = (PACKAGING / "windows" / "build.ps1").read_text(encoding="utf-8")
    assert "packaging\\version.py windows" in ps1 and "/DWinVersion=$WinVersion" in ps1
    dmg = (PACKAGING / "macos" / "build_dmg.sh").read_text(encoding="utf-8")
    assert "packaging/version.py macos-build" in dmg


# --- the minimum macOS ---------------------------------------------------------------------


def thin_macho(minos: tuple[int, int, int] | None, legacy: bool = False) -> bytes:
    """A 64-bit Mach-O header with one version load command (and a harmless LC_UUID)."""
    packed = 0 if minos is None else (minos[0] << 16) | (minos[1] << 8) | minos[2]
    uuid_cmd = struct.pack("<II16s", 0x1B, 24, b"\x00" * 16)
    if legacy:
        version_cmd = struct.pack("<IIII", macho.LC_VERSION_MIN_MACOSX, 16, packed, packed)
    else:
        version_cmd = struct.pack("<IIIIII", macho.LC_BUILD_VERSION, 24, macho.PLATFORM_MACOS,
                                  packed, packed, 0)
    commands = uuid_cmd + (version_cmd if minos else b"")
    header = struct.pack("<IiiIIIII", macho.MH_MAGIC_64, 0x0100000C, 0, 6,
                         2 if minos else 1, len(commands), 0, 0)
    return header + commands


def fat_macho(*slices: bytes) -> bytes:
    header = struct.pack(">II", macho.FAT_MAGIC, len(slices))
    offset = 4096
    table, body = b"", b""
    for data in slices:
        table += struct.pack(">iiIII", 0x0100000C, 0, offset + len(body), len(data), 12)
        body += data + b"\x00" * (-len(data) % 4096)
    return header + table + b"\x00" * (offset - 8 - len(table)) + body


def test_the_macho_reader_finds_the_minimum_of_every_slice(tmp_path: Path) -> None:
    assert macho.minimum_macos_of_bytes(thin_macho((13, 0, 0))) == (13, 0, 0)
    assert macho.minimum_macos_of_bytes(thin_macho((10, 13, 0), legacy=True)) == (10, 13, 0)
    assert macho.minimum_macos_of_bytes(thin_macho(None)) is None
    fat = fat_macho(thin_macho((12, 0, 0)), thin_macho((15, 0, 0)))
    assert macho.minimum_macos_of_bytes(fat) == (15, 0, 0)
    (tmp_path / "lib.dylib").write_bytes(fat)
    (tmp_path / "Data.class").write_bytes(struct.pack(">II", macho.FAT_MAGIC, 0x34) + b"java")
    (tmp_path / "notes.txt").write_text("not a binary", encoding="utf-8")
    assert [(Path(n).name, v) for n, v in macho.scan(tmp_path)] == [("lib.dylib", (15, 0, 0))]
    assert macho.main(["--max", "13.0", str(tmp_path)]) == 1
    assert macho.main(["--max", "15.0", str(tmp_path)]) == 0


def fake_app(folder: Path, minimum: str, binaries: dict[str, tuple[int, int, int]]) -> Path:
    from check_app import fill_template
    from version import project_version

    app = folder / "Token Budget.app"
    contents = app / "Contents"
    for relative, minos in binaries.items():
        path = contents / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(fat_macho(thin_macho(minos), thin_macho(minos)))
    (contents / "Info.plist").write_bytes(
        plistlib.dumps(fill_template(project_version(), minimum))
    )
    return app


def test_the_built_app_check_reads_the_minimum_from_its_binaries(tmp_path: Path) -> None:
    from check_app import app_problems

    good = fake_app(tmp_path / "good", "12.0", {
        "MacOS/TokenBudget": (11, 0, 0),
        "Frameworks/PySide6/Qt/lib/QtCore.framework/Versions/A/QtCore": (12, 0, 0),
    })
    assert app_problems(good) == []
    # a Qt built for macOS 15, as PySide6-Essentials 6.10+ ships it under a macOS 13 tag
    bad = fake_app(tmp_path / "bad", "15.0", {
        "MacOS/TokenBudget": (11, 0, 0),
        "Frameworks/PySide6/libpyside6.abi3.6.11.dylib": (15, 0, 0),
    })
    problems = app_problems(bad)
    assert any("libpyside6.abi3.6.11.dylib needs macOS 15.0" in p for p in problems), problems
    assert any("LSMinimumSystemVersion 15.0 is newer than macOS 13.0" in p for p in problems)
    # the Info.plist must say what the binaries need
    stale = fake_app(tmp_path / "stale", "11.0", {"MacOS/TokenBudget": (12, 0, 0)})
    assert any("newest binary needs macOS 12.0" in p for p in app_problems(stale))


def test_a_mac_installs_a_qt_that_loads_on_macos_13() -> None:
    """pyproject.toml's Qt requirement as pip reads it on a Mac must exclude the
    PySide6 releases whose binaries need macOS 15 (6.10 and newer: measured from their
    wheels by packaging/check_macos_minimum.py, which .ci/packaging_checks.sh runs)."""
    from check_macos_minimum import macos_requirements

    requirements = macos_requirements()
    assert len(requirements) == 1, requirements
    allowed = SpecifierSet(requirements[0].split("PySide6-Essentials", 1)[1])
    assert "6.9.3" in allowed
    assert not any(v in allowed for v in ("6.10.0", "6.10.3", "6.11.3")), requirements
    assert cfg.MACOS_MINIMUM == "13.0"


# --- Inno Setup: registry, association task, signing ---------------------------------------


def registry_entries() -> list[dict[str, str]]:
    iss = (PACKAGING / "windows" / "token_budget.iss").read_text(encoding="utf-8")
    body = re.search(r"^\[Registry\]\n(.*?)(?=^\[|\Z)", iss, re.M | re.S).group(1)
    defines = dict(re.findall(r'^#define (\w+) "([^"]*)"', iss, re.M))
    entries = []
    for line in body.splitlines():
        if not line.strip() or line.startswith(";"):
            continue
        fields = {}
        for part in re.findall(r'(\w+):\s*("(?:[^"]|"")*"|[^;]*)', line):
            value = part[1].strip()
            if value.startswith('"'):
                value = value[1:-1].replace('""', '"')
            fields[part[0]] = re.sub(r"\{#(\w+)\}", lambda m: defines[m.group(1)], value)
        entries.append(fields)
    return entries


def test_every_association_key_needs_the_task_and_uninstall_leaves_no_empty_key() -> None:
    entries = registry_entries()
    assert entries
    base = "Software\\Classes"
    for entry in entries:
        assert entry.get("Tasks") == "association", f"written without the task: {entry}"
    # every key the installer creates below Software\Classes, with its ancestors
    created = set()
    for entry in entries:
        parts = entry["Subkey"].split("\\")
        for depth in range(3, len(parts) + 1):
            created.add("\\".join(parts[:depth]))
    flags = {e["Subkey"]: e.get("Flags", "").split() for e in entries}

    def removed(key: str) -> bool:
        parts = key.split("\\")
        ancestors = ["\\".join(parts[:d]) for d in range(3, len(parts) + 1)]
        if any("uninsdeletekey" in flags.get(a, []) for a in ancestors):
            return True
        # removed when empty: its values are removed and it carries uninsdeletekeyifempty
        return "uninsdeletekeyifempty" in flags.get(key, [])

    shared = {f"{base}\\Applications"}  # Windows' own key, holding every app's entry
    left = sorted(key for key in created - shared if key.startswith(base) and not removed(key))
    assert not left, f"uninstall would leave these keys behind: {left}"


def test_the_uninstaller_is_signed_with_the_installer() -> None:
    iss = (PACKAGING / "windows" / "token_budget.iss").read_text(encoding="utf-8")
    block = re.search(r"^#ifdef SignTool\n(.*?)^#endif", iss, re.M | re.S)
    assert block, "no SignTool block in [Setup]"
    assert re.search(r"^SignTool=signtool$", block.group(1), re.M)
    assert re.search(r"^SignedUninstaller=yes$", block.group(1), re.M)
    ps1 = (PACKAGING / "windows" / "build.ps1").read_text(encoding="utf-8")
    assert '"/Ssigntool=' in ps1 and '"/DSignTool"' in ps1


# --- notarization --------------------------------------------------------------------------


def test_a_notarization_is_judged_by_its_status_not_the_exit_code() -> None:
    from notarize import judge

    accepted = judge(json.dumps({"id": "2efe2717-52ef-43a5-96dc-0797e4ca1041",
                                 "message": "Processing complete", "status": "Accepted"}))
    assert accepted.accepted
    rejected = judge(json.dumps({"id": "2efe2717-52ef-43a5-96dc-0797e4ca1042",
                                 "message": "Processing complete", "status": "Invalid"}))
    assert not rejected.accepted and rejected.submission_id.endswith("1042")
    assert not judge("Error: HTTP status code: 401").accepted
    assert not judge(json.dumps({"status": "In Progress"})).accepted
    dmg = (PACKAGING / "macos" / "build_dmg.sh").read_text(encoding="utf-8")
    assert "packaging/macos/notarize.py" in dmg and "notarytool submit" not in dmg
    notarize = (PACKAGING / "macos" / "notarize.py").read_text(encoding="utf-8")
    assert '"--output-format", "json"' in notarize and '"notarytool", "log"' in notarize


# --- the release workflow -----------------------------------------------------------------


def test_signing_in_the_workflow_keys_on_the_certificate_only() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    mac = workflow["jobs"]["macos"]
    assert "MACOS_SIGN_IDENTITY" not in (mac.get("env") or {})
    steps = mac["steps"]
    importer = next(s for s in steps if "security import" in s.get("run", ""))
    assert "MACOS_CERTIFICATE_P12" in importer["if"]
    assert 'MACOS_SIGN_IDENTITY=$SIGN_IDENTITY" >> "$GITHUB_ENV"' in importer["run"]
    for step in steps:
        assert "MACOS_SIGN_IDENTITY" not in (step.get("env") or {}), step
    win = workflow["jobs"]["windows"]
    win_import = next(s for s in win["steps"] if "WINDOWS_SIGN_CERT=" in s.get("run", ""))
    assert "WINDOWS_CERTIFICATE_PFX" in win_import["if"]
    assert "WINDOWS_SIGN_CERT" not in (win.get("env") or {})
    for step in win["steps"]:
        assert "WINDOWS_SIGN_CERT" not in (step.get("env") or {}), step


def test_the_workflow_starts_the_built_apps_with_a_file_to_open() -> None:
    workflow = (ROOT / ".github" / "workflows" / "release.yml").read_text(encoding="utf-8")
    assert "packaging\\windows\\check_install.ps1" in workflow
    assert "workflow_dispatch" in workflow and 'tags: ["v*"]' in workflow
    check = (PACKAGING / "windows" / "check_install.ps1").read_text(encoding="utf-8")
    assert '"--self-test", "`"$Sample`""' in check and "/TASKS=" in check
    dmg = (PACKAGING / "macos" / "build_dmg.sh").read_text(encoding="utf-8")
    assert '--args --self-test "$sample"' in dmg and "check_app.py" in dmg
    assert SAMPLE.is_file()
