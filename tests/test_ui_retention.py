"""The window shows what the summary and memory keep of the facts in the messages left
out, as the fold after a reply measured it, and offers more room when it is too little.
The real window, real SQLite, the loopback OpenAI-compatible server (which answers the
turn; the fold runs offline, as it does when the model cannot help)."""

from __future__ import annotations

from desktop_app.core.records import Message
from desktop_app.store import open_database
from tests.openai_test_server import Reply, openai_server_fixture  # noqa: F401
from tests.reference.planted_facts import conversation
from tests.test_controller_turn import add_provider, send
from tests.ui_support import open_window, seed_session, wait_idle


def _planted(name: str) -> list[Message]:
    return [Message(m["role"], m["content"]) for m in conversation(name).messages]


def test_the_tabs_and_inspector_show_what_memory_and_summary_keep(qtbot, data_dir,
                                                                  openai_server):
    sid = seed_session(data_dir, "Trip", _planted("trip"), model="gpt-4", strategy="hybrid")
    add_provider(data_dir, openai_server, ["gpt-4"])
    window = open_window(qtbot, data_dir)
    openai_server.script(Reply(text="Noted."), Reply(text="[]"), Reply(text="Summary."))
    send(qtbot, window, "What else should we plan for the Sintra day?")
    wait_idle(qtbot, window, timeout=30_000)
    qtbot.waitUntil(lambda: window.right.memory_panel.retention.text() != "", timeout=10_000)

    db = open_database(data_dir)
    try:
        measured = db.sessions.get(sid).strategy_settings["retention"]
    finally:
        db.close()
    memory = measured["memory"]
    assert memory["total"] >= 10
    shown = window.right.memory_panel.retention.text()
    assert shown == (f"Keeps {memory['kept']} of {memory['total']} facts from the "
                     f"{memory['messages']:,} messages left out.")
    summary = measured["summary"]
    assert window.right.summary_panel.retention.text().startswith(
        f"Keeps {summary['kept']} of {summary['total']} facts")
    assert window.right.inspector.retention_text().startswith(
        f"Memory keeps {memory['kept']} of {memory['total']} facts")


def test_too_little_kept_offers_more_room_and_takes_it(qtbot, data_dir):
    sid = seed_session(data_dir, "Care", _planted("care"), model="gpt-4", strategy="kv_memory")
    db = open_database(data_dir)
    try:
        db.sessions.set_strategy_setting(sid, "retention", {
            "memory": {"kept": 3, "total": 10, "lost": ["insurance_id: BX-40-7781"],
                       "ratio": 0.3, "messages": 90}})
    finally:
        db.close()
    window = open_window(qtbot, data_dir)
    wait_idle(qtbot, window)
    line = window.right.memory_panel.retention
    qtbot.waitUntil(lambda: not line.button.isHidden(), timeout=10_000)
    assert line.text() == "Keeps 3 of 10 facts from the 90 messages left out."
    assert "BX-40-7781" in line.label.toolTip()
    assert "fewer than it should" in window.right.inspector.retention_text()

    line.button.click()
    qtbot.waitUntil(lambda: window.controller.budget.selection().profile == "default + memory",
                    timeout=10_000)
    wait_idle(qtbot, window)
    db = open_database(data_dir)
    try:
        session = db.sessions.get(sid)
        profile = {p.name: p for p in db.profiles.list()}["default + memory"]
    finally:
        db.close()
    assert session.profile == "default + memory"
    assert profile.fractions["memory"] == 0.10 and profile.fractions["history"] == 0.25


def test_a_fact_kept_by_the_offline_check_says_so(qtbot):
    from PySide6.QtCore import Qt

    from desktop_app.core.records import MemoryFact
    from desktop_app.ui.memory_panel import KEY, VALUE, MemoryPanel

    panel = MemoryPanel()
    qtbot.addWidget(panel)
    panel.set_facts([MemoryFact("booking_code", "QX7T2L", 1, origin="offline-check"),
                     MemoryFact("name", "<img src=/dev/zero>", 1, origin="model")], "o200k_base")
    model = panel.model
    first, second = model.index(0, KEY), model.index(1, KEY)
    assert "offline check" in model.data(first, Qt.ItemDataRole.ToolTipRole)
    assert model.data(first, Qt.ItemDataRole.FontRole).italic()
    assert model.data(second, Qt.ItemDataRole.FontRole) is None
    assert model.data(second, Qt.ItemDataRole.ToolTipRole) == "Found by the model"
    tip = model.data(model.index(1, VALUE), Qt.ItemDataRole.ToolTipRole)
    assert "<img" not in tip and "&lt;img" in tip  # shown, never loaded
