"""Shared test setup: Qt draws offscreen (no display needed) on a desktop-sized virtual
screen, each test that asks gets its own data folder so no test touches the user's real
database or settings, and a test run writes nothing into the checkout (.ci/run checks).

What would otherwise land in the checkout, and where it goes instead:
- bytecode (__pycache__/): not written, here and in the child processes tests start.
  Python has already written tests/__init__ and this file's own bytecode by the time this
  line runs, so run the tests with PYTHONDONTWRITEBYTECODE=1 (as .ci/run does) for none;
- .pytest_cache/: `-p no:cacheprovider` in pyproject.toml's addopts;
- .hypothesis/: Hypothesis's folder is a temporary one, and it keeps no example database;
- screenshots for people to look at: the `artifacts_dir` fixture below.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from hypothesis.configuration import set_hypothesis_home_dir

# Before anything of ours is imported (nothing above is).
sys.dont_write_bytecode = True
os.environ["PYTHONDONTWRITEBYTECODE"] = "1"  # inherited by the child processes of tests

# A 1920x1080 virtual screen (the offscreen default is 800x800, smaller than the window).
_SCREEN = Path(__file__).with_name("offscreen_screen.json")
# Plain "offscreen" (as CI sets it) gets the same screen; another platform (xcb on Xvfb,
# say) is the tester's choice and kept.
if os.environ.get("QT_QPA_PLATFORM", "offscreen") == "offscreen":
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={_SCREEN}"

# Hypothesis keeps its files (an example database, a cache of the constants it finds in
# the source) in ./.hypothesis unless told otherwise: here, a temporary folder removed at
# the end of the run. No example database either: a failing example is printed in full,
# and `--hypothesis-profile` can still choose another profile.
_HYPOTHESIS_HOME = Path(tempfile.mkdtemp(prefix="token-budget-hypothesis-"))
set_hypothesis_home_dir(_HYPOTHESIS_HOME)
hypothesis_settings.register_profile("token-budget", database=None)
hypothesis_settings.load_profile("token-budget")

# Where tests save images for people to look at: TOKEN_BUDGET_TEST_ARTIFACTS, or else a
# temporary folder.
ARTIFACTS_ENV = "TOKEN_BUDGET_TEST_ARTIFACTS"
_artifacts: list[Path] = []  # the folder, once a test has asked for it


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _artifacts:
        terminalreporter.write_line(f"test artifacts (screenshots): {_artifacts[0]}")


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_HYPOTHESIS_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def qapp_cls() -> type:
    """pytest-qt's application is the app's own class (the one create_application
    makes), so the tests see what a user's window sees (the files macOS asks it to open
    among them)."""
    from desktop_app.ui.application import TokenBudgetApplication

    return TokenBudgetApplication


@pytest.fixture(scope="session")
def artifacts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder for screenshots and other files a test saves for people to look at:
    $TOKEN_BUDGET_TEST_ARTIFACTS when set (created if missing), else a temporary folder."""
    chosen = os.environ.get(ARTIFACTS_ENV)
    if chosen:
        folder = Path(chosen).expanduser().resolve()
        folder.mkdir(parents=True, exist_ok=True)
    else:
        folder = tmp_path_factory.mktemp("artifacts")
    _artifacts.append(folder)
    return folder


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty data folder, also set as TOKEN_BUDGET_DATA_DIR so that code which
    falls back to the default folder lands here too."""
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("TOKEN_BUDGET_DATA_DIR", str(folder))
    # keys typed in a test stay in memory, never in the real keychain
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    return folder
