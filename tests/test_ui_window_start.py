"""How the window starts: it paints before its controller exists (the controller's
modules are imported off the GUI thread after the first paint), a draft typed in the
meantime reaches the controller, and Alembic is loaded only when there is a migration
to run."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from desktop_app.ui.app import FIRST_PAINT_ENV, IDLE_RSS_ENV, NOT_BEFORE_FIRST_PAINT, build_shell
from tests.ui_support import close_window, wait_idle


def test_a_draft_typed_before_the_controller_reaches_it(qtbot, data_dir):
    from desktop_app.controller.app_controller import AppController

    window = build_shell(data_dir, "light")
    qtbot.addWidget(window)
    assert window.controller is None and not window.panels_built
    window.show()
    # what needs the controller waits for it (a click in that moment does nothing)
    window.new_action.trigger()
    window.open_settings()
    window.open_prompt_lab()
    window.composer.set_text("typed while the controller was on its way")
    window.build_panels()
    window.attach(AppController(data_dir))
    assert window.controller.budget.draft == "typed while the controller was on its way"
    window.controller.start()
    qtbot.waitUntil(lambda: window.controller.db is not None, timeout=15_000)
    wait_idle(qtbot, window)
    assert window.inspector is window.right.inspector  # the panels are wired too
    close_window(window)


def _start_until_idle(data_dir: Path) -> str:
    """Start the window program until its controller is idle; its memory report."""
    env = {**os.environ, IDLE_RSS_ENV: "1", "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-m", "desktop_app", "--data-dir", str(data_dir)],
                         env=env, capture_output=True, text=True, timeout=120, check=False)
    lines = [line for line in out.stdout.splitlines() if line.startswith("idle_rss_mb ")]
    assert lines, out.stdout + out.stderr
    return lines[0]


def test_the_program_starts_and_loads_alembic_only_to_migrate(tmp_path):
    first = _start_until_idle(tmp_path / "data")  # creates the database: migrations run
    assert "alembic" in first.split("modules=")[1].split()[0], first
    later = _start_until_idle(tmp_path / "data")  # already at head
    assert "alembic" not in later.split("modules=")[1].split()[0], later
    # with no session open, no tokenizer is built (o200k alone holds about 80 MB)
    assert "tiktoken" not in later.split("modules=")[1].split()[0], later
    # nor the message card painter, with no message to paint
    assert "message_card" not in later.split("modules=")[1].split()[0], later
    assert later.split("encodings=")[1].split()[0] == "none", later


def test_the_first_paint_waits_for_none_of_the_counting(tmp_path):
    """What the window shows first is built without the store's and the network's
    libraries and without the counting and budget modules (with the catalog and
    tokenizers under them, about 40 ms to import here), also when the command line
    names the data folder: they are imported after the first paint, with the controller.
    The real start, as a user's launch runs it."""
    for module in NOT_BEFORE_FIRST_PAINT:
        assert importlib.util.find_spec(module) is not None, module  # no name misspelt
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", FIRST_PAINT_ENV: "1"}
    started = subprocess.run(
        [sys.executable, "-m", "desktop_app", "--data-dir", str(tmp_path / "data")],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    assert started.returncode == 0, started.stderr
    assert "first_paint_ms" in started.stdout, started.stdout
    assert "heavy_modules=none" in started.stdout, started.stdout


def test_the_revisions_read_without_alembic_are_alembics():
    from alembic.script import ScriptDirectory

    from desktop_app.store import migrate

    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    assert migrate.known_revisions() == [s.revision for s in reversed(list(
        scripts.walk_revisions()))]
    assert [migrate.head_revision()] == list(scripts.get_heads())
