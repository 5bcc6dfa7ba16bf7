"""The tabs beside the gauge: the context inspector shows exactly the assembled request,
memory edits become the right signals, the summary saves what was typed, and the
profile editor never lets the shares pass 100% and saves a valid profile."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import random
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit

from desktop_app.core.assemble import SUMMARY_HEADER, AssemblyInput, assemble
from desktop_app.core.budget import (
    BUILTIN_PROFILES,
    COMPONENTS,
    AllocationProfile,
    builtin_profile,
    validate_fractions,
)
from desktop_app.core.catalog import lookup_model
from desktop_app.core.counting import MessageRun
from desktop_app.core.history import HistoryStrategy
from desktop_app.core.records import MemoryFact, Message, Summary
from desktop_app.core.tokens import chat_framing, count_text
from desktop_app.ui.inspector import ContextInspector, content_text
from desktop_app.ui.memory_panel import PINNED, MemoryPanel
from desktop_app.ui.profile_editor import ProfileEditor
from desktop_app.ui.summary_panel import SummaryPanel


def save_shot(widget, name: str, folder: Path) -> None:
    widget.grab().save(str(folder / name))


def conversation(n: int = 30) -> list[Message]:
    return [
        Message("user" if i % 2 == 0 else "assistant",
                f"Message {i + 1}: " + "we weigh the budget of every token here " * (4 + i % 6),
                id=i + 1, pinned=i == 1, excluded=i == 3)
        for i in range(n)
    ]


def assembled(window: int = 1_500, draft: str = "What did we decide about the budget?"):
    model = lookup_model("gpt-4o").with_context_window(window)
    messages = conversation()
    inp = AssemblyInput("You are a careful assistant. Answer briefly.", messages, draft, model,
                        builtin_profile("default"), HistoryStrategy("token_window"),
                        memory=[MemoryFact("user_name", "Ada", pinned=True)])
    return assemble(inp), messages, model


# --- context inspector ---------------------------------------------------------------

def test_inspector_rows_match_the_assembled_request(qtbot, artifacts_dir):
    req, messages, model = assembled()
    assert req.fits and "dropped" in req.states  # the window is small enough to drop some
    inspector = ContextInspector()
    qtbot.addWidget(inspector)
    inspector.resize(640, 640)
    inspector.set_request(req, messages, model.encoding)
    inspector.show()

    sent = inspector.sent_rows()
    assert sent == [(comp, chat["role"], tokens, content_text(chat))
                    for comp, chat, tokens in req.sections]
    assert sent[0][0] == "system_prompt" and sent[-1][0] == "current_input"

    left = inspector.left_out_rows()
    expected = [(i, s, r) for i, (s, r) in enumerate(zip(req.states, req.reasons, strict=True))
                if s in ("dropped", "summarized")]
    assert left == expected
    assert (3, "dropped", "excluded by you") in left  # the message the user excluded
    # its figure is what it would cost in the request: content and chat framing
    row = next(i for i, (idx, _s, _r) in enumerate(left) if idx == 3)
    tokens_text = inspector.left_out_model.index(row, 3).data()
    head = chat_framing(model).head(messages[3].role, model.encoding)
    assert tokens_text == f"{count_text(messages[3].content, model.encoding) + head:,}"

    assert f"{req.tokens:,}" in inspector.totals_text()
    assert "exact" in inspector.totals_text()
    assert inspector.status_text().startswith("Fits the 1,500-token window")

    # the pinned message is in the sent list, marked as pinned
    sent_model = inspector.sent_model
    labels = [sent_model.index(r, 1).data() for r in range(sent_model.rowCount())]
    assert "History (pinned)" in labels
    # selecting a row shows its full text
    with qtbot.waitSignal(inspector.messageSelected) as selected:
        inspector.sent_view.setCurrentIndex(sent_model.index(labels.index("History (pinned)"), 0))
    assert selected.args == [1]
    assert inspector.detail_text() == messages[1].content
    save_shot(inspector, "inspector.png", artifacts_dir)


def test_inspector_shows_the_problem_when_nothing_fits(qtbot):
    req, messages, model = assembled(window=300, draft="please " * 400)
    assert not req.fits
    inspector = ContextInspector()
    qtbot.addWidget(inspector)
    inspector.set_request(req, messages, model.encoding)
    assert inspector.status_text().startswith(req.problem)
    assert inspector.sent_rows() == []
    inspector.set_request(None, [])
    assert inspector.totals_text() == "Nothing assembled yet."


# --- memory --------------------------------------------------------------------------

@pytest.fixture
def memory(qtbot):
    panel = MemoryPanel()
    qtbot.addWidget(panel)
    panel.resize(520, 340)
    panel.set_facts([MemoryFact("user_name", "Ada Lovelace", session_id=7, pinned=True),
                     MemoryFact("project", "Analytical Engine notes", session_id=None),
                     MemoryFact("deadline", "Friday 5 pm", session_id=7)],
                    "o200k_base", session_id=7)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def test_memory_shows_token_costs_and_edits_inline(qtbot, memory):
    model = memory.model
    assert model.index(0, 4).data() == f"{count_text('user_name: Ada Lovelace' + chr(10)):,}"
    assert model.index(1, 3).data() == "global" and model.index(0, 3).data() == "session"

    # a user double-clicks the value, types, and presses Enter
    index = model.index(2, 1)
    memory.view.setCurrentIndex(index)
    memory.view.edit(index)
    editor = memory.view.findChild(QLineEdit)
    assert editor is not None
    editor.selectAll()
    with qtbot.waitSignal(memory.factEdited) as edited:
        qtbot.keyClicks(editor, "Monday 9 am")
        qtbot.keyClick(editor, Qt.Key.Key_Return)
    old_key, fact = edited.args
    assert old_key == "deadline" and fact.key == "deadline" and fact.value == "Monday 9 am"
    assert fact.session_id == 7
    assert model.index(2, 4).data() == f"{count_text('deadline: Monday 9 am' + chr(10)):,}"

    # renaming a key to one that exists is refused with a message, and nothing is emitted
    with qtbot.assertNotEmitted(memory.factEdited):
        assert not model.setData(model.index(2, 0), "project")
    assert "already exists" in memory.message()
    with qtbot.waitSignal(memory.factEdited) as renamed:
        assert model.setData(model.index(2, 0), "due")
    assert renamed.args[0] == "deadline" and renamed.args[1].key == "due"


def test_memory_pin_add_and_delete_emit_the_right_signals(qtbot, memory, artifacts_dir):
    model = memory.model
    with qtbot.waitSignal(memory.factPinned) as pinned:
        model.setData(model.index(1, PINNED), Qt.CheckState.Checked.value,
                      Qt.ItemDataRole.CheckStateRole)
    assert pinned.args == ["project", True]

    memory.key_edit.setText("  ")
    with qtbot.assertNotEmitted(memory.factAdded):
        memory.add_button.click()
    assert memory.message() == "A fact needs a key."

    qtbot.keyClicks(memory.key_edit, "city")
    qtbot.keyClicks(memory.value_edit, "Paris")
    memory.global_check.setChecked(True)
    with qtbot.waitSignal(memory.factAdded) as added:
        memory.add_button.click()
    assert added.args == ["city", "Paris", True]
    assert [f.key for f in memory.facts()][-1] == "city"
    assert memory.facts()[-1].session_id is None

    qtbot.keyClicks(memory.key_edit, "city")
    qtbot.keyClicks(memory.value_edit, "Rome")
    with qtbot.assertNotEmitted(memory.factAdded):
        memory.add_button.click()
    assert "already exists" in memory.message()

    memory.view.selectRow(0)
    assert memory.delete_button.isEnabled()
    with qtbot.waitSignal(memory.factDeleted) as deleted:
        memory.delete_button.click()
    assert deleted.args == ["user_name"]
    assert "user_name" not in [f.key for f in memory.facts()]
    save_shot(memory, "memory_panel.png", artifacts_dir)


# --- summary -------------------------------------------------------------------------

def test_summary_panel_saves_the_edited_text(qtbot, artifacts_dir):
    panel = SummaryPanel()
    qtbot.addWidget(panel)
    panel.resize(460, 360)
    replaced = conversation(12)
    summary = Summary("The user plans a trip to Rome in May and prefers trains.",
                      first_message_id=1, last_message_id=12, method="model",
                      model="gpt-4o-mini", retention=0.82)
    panel.set_summary(summary, "o200k_base", MessageRun.of(replaced, "o200k_base"))
    panel.show()
    assert panel.retention_text() == "82% of the key information kept"
    # the summary message as sent: header, summary and the system message's framing
    tokens = (count_text(SUMMARY_HEADER + summary.text, "o200k_base")
              + chat_framing("gpt-4o-mini").head("system", "o200k_base"))
    assert panel.token_text().startswith(f"{tokens} in the request, in place of")
    assert not panel.save_button.isEnabled()

    panel.editor.moveCursor(panel.editor.textCursor().MoveOperation.End)
    qtbot.keyClicks(panel.editor, " Budget: 2,000 EUR.")
    assert panel.save_button.isEnabled()
    with qtbot.waitSignal(panel.summaryEdited) as saved:
        panel.save_button.click()
    assert saved.args == [summary.text + " Budget: 2,000 EUR."]
    assert not panel.is_dirty()
    save_shot(panel, "summary_panel.png", artifacts_dir)

    panel.editor.setPlainText("   ")
    with qtbot.assertNotEmitted(panel.summaryEdited):
        panel.save()
    panel.set_summary(None)
    assert panel.editor.isHidden()


# --- profile editor ------------------------------------------------------------------

@pytest.fixture
def editor(qtbot):
    e = ProfileEditor()
    qtbot.addWidget(e)
    e.resize(560, 520)
    mine = AllocationProfile("mine", {"system_prompt": 0.1, "history": 0.5,
                                      "reply_reserve": 0.2})
    e.set_profiles([*BUILTIN_PROFILES.values(), mine], "mine")
    e.set_window(128_000)
    e.show()
    return e


def test_profile_editor_never_lets_the_total_pass_100_percent(qtbot, editor):
    assert editor.total_percent() == pytest.approx(80.0)
    editor.spins["history"].setValue(100.0)  # asks for 100%: only 70% is left
    assert editor.total_percent() == pytest.approx(100.0)
    assert editor.spins["history"].value() == pytest.approx(70.0)
    assert editor.sliders["history"].value() == 700
    assert "History is held at 70%" in editor.hint()

    rng = random.Random(5)
    for _ in range(60):
        comp = rng.choice(COMPONENTS)
        if rng.random() < 0.5:
            editor.sliders[comp].setValue(rng.randint(0, 1000))
        else:
            editor.spins[comp].setValue(rng.uniform(0, 100))
        assert editor.total_percent() <= 100.0 + 1e-9
        assert sum(editor.fractions().values()) <= 1.0 + 1e-9


def test_profile_editor_saves_a_valid_profile_and_guards_builtins(qtbot, editor):
    editor.load_profile("default")
    assert not editor.delete_button.isEnabled()  # built in
    assert not editor.save_button.isEnabled()  # no name yet
    assert "name" in editor.message()
    editor.name_edit.setText("default")
    assert "built-in profile" in editor.message()
    assert not editor.save_button.isEnabled()

    editor.spins["reply_reserve"].setValue(0.0)
    editor.name_edit.setText("tight")
    assert "reply reserve must be above 0" in editor.message().lower()
    assert not editor.save_button.isEnabled()
    editor.spins["reply_reserve"].setValue(5.0)
    assert editor.save_button.isEnabled()

    with qtbot.waitSignal(editor.profileSaved) as saved:
        editor.save_button.click()
    profile = saved.args[0]
    assert isinstance(profile, AllocationProfile) and profile.name == "tight"
    validate_fractions(profile.fractions, profile.name)
    assert profile.fractions["reply_reserve"] == pytest.approx(0.05)
    assert profile.total <= 1.0
    assert editor.current_name() == "tight" and editor.delete_button.isEnabled()

    with qtbot.waitSignal(editor.profileDeleted) as deleted:
        editor.delete_button.click()
    assert deleted.args == ["tight"]


def test_profile_editor_selection_emits_and_screenshots(qtbot, editor, artifacts_dir):
    with qtbot.waitSignal(editor.profileSelected) as selected:
        editor.profile_combo.activated.emit(editor.profile_combo.findData("pyramid"))
    assert selected.args == ["pyramid"]
    assert editor.fractions() == pytest.approx(dict(BUILTIN_PROFILES["pyramid"].fractions))
    editor.load_profile("mine")
    editor.spins["history"].setValue(90.0)
    QApplication.processEvents()
    save_shot(editor, "profile_editor.png", artifacts_dir)
