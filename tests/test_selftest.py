"""`token-budget --self-test` in a source checkout: every check passes here, and in a
copy of the app with files missing it names each missing file, keeps checking the rest
and exits non-zero. (The frozen bundle runs the same self-test in
packaging/build_linux.sh.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENCODINGS = ("o200k_base", "cl100k_base", "p50k_base", "r50k_base")


def run_self_test(
    cwd: Path, home: Path, pythonpath: Path | None = None
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(
        QT_QPA_PLATFORM="offscreen",
        HOME=str(home),
        TOKEN_BUDGET_DATA_DIR=str(home / "data"),
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
    )
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [sys.executable, "-m", "desktop_app", "--self-test"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def check_lines(output: str) -> dict[str, str]:
    """{check name: the whole line} for every `ok` / `FAILED` line."""
    found = {}
    for line in output.splitlines():
        status, _, rest = line.partition(" ")
        if status in ("ok", "FAILED"):
            name = rest.strip().split(":", 1)[0]
            found[name] = line
    return found


def test_self_test_passes_in_the_checkout_and_leaves_the_user_data_alone(tmp_path: Path) -> None:
    result = run_self_test(ROOT, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = check_lines(result.stdout)
    expected = {f"encoding {name}" for name in ENCODINGS} | {
        "shipped files", "model catalog", "request assembly", "database and migrations",
        "keychain", "Qt text services", "main window",
    }
    assert expected <= set(lines), result.stdout
    assert all(line.startswith("ok") for line in lines.values()), result.stdout
    assert "self-test passed" in result.stdout
    assert not (tmp_path / "data").exists(), "the self-test wrote into the user's data folder"


def copy_app(target: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("desktop_app", "resources", "migrations"):
        shutil.copytree(ROOT / folder, target / folder, ignore=ignore)


def test_missing_files_are_named_and_the_other_checks_still_run(tmp_path: Path) -> None:
    app = tmp_path / "app"
    copy_app(app)
    missing_encoding = app / "resources" / "tiktoken" / "cl100k_base.tiktoken"
    missing_encoding.unlink()
    shutil.rmtree(app / "migrations")

    result = run_self_test(app, tmp_path, pythonpath=app)

    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    lines = check_lines(result.stdout)
    assert lines["encoding cl100k_base"].startswith("FAILED")
    assert str(missing_encoding) in lines["encoding cl100k_base"]
    assert lines["database and migrations"].startswith("FAILED")
    assert "migrations/" in lines["database and migrations"]
    assert lines["shipped files"].startswith("FAILED")
    # one missing piece does not hide the health of the others
    assert lines["encoding o200k_base"].startswith("ok")
    assert lines["request assembly"].startswith("ok")
    assert "self-test FAILED" in result.stdout
