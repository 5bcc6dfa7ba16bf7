"""The rest of the desktop app around the conversation: settings with a provider and a
connection test, the window's layout remembered, the theme, export and import, a huge
paste counted off the GUI thread, and Retry after an interrupted reply."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QPalette

from desktop_app.core.tokens import chat_framing, count_text
from desktop_app.store import open_database
from desktop_app.ui.palette import is_dark
from tests.openai_test_server import Reply, openai_server_fixture  # noqa: F401
from tests.ui_support import open_window, seed_session, wait_idle


def test_settings_add_a_provider_and_test_the_connection(qtbot, data_dir, openai_server):
    window = open_window(qtbot, data_dir)
    assert window.banner.isVisible()
    qtbot.mouseClick(window.setup_button, Qt.MouseButton.LeftButton)
    dialog = window.settings_dialog
    qtbot.waitUntil(dialog.isVisible)
    assert dialog.provider_list.count() == 0 and dialog.no_providers.isVisible()

    dialog.preset.setCurrentIndex(dialog.preset.findData("custom"))
    dialog.name_edit.setText("loopback")
    dialog.url_edit.setText(openai_server.base_url)
    dialog.key_edit.setText("sk-test-1234567890")
    dialog.models_edit.setText("gpt-4o-mini")
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.status.text().startswith("Connected"), timeout=10_000)

    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.status.text() == "Saved.", timeout=5000)
    assert [dialog.provider_list.item(i).text() for i in range(dialog.provider_list.count())] \
        == ["loopback"]
    assert not dialog.no_providers.isVisible()
    assert not window.banner.isVisible() and window.composer.send_button.isEnabled()
    dialog.close()
    window.close()

    db = open_database(data_dir)
    try:
        saved = db.providers.get("loopback")
        # what Test connection found joined the models typed (issue 11)
        assert saved.base_url == openai_server.base_url
        assert saved.models == ["gpt-4o-mini", "test-model"]
        assert db.settings.get("default_provider") == "loopback"
        # the key went to the keychain (an in-memory one in tests), never the database
        assert b"sk-test-1234567890" not in (data_dir / "token_budget.sqlite3").read_bytes()
    finally:
        db.close()


def test_a_bad_base_url_is_refused_with_a_clear_message(qtbot, data_dir):
    window = open_window(qtbot, data_dir)
    window.open_settings()
    dialog = window.settings_dialog
    dialog.url_edit.setText("localhost:11434")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "http" in dialog.status.text(), timeout=5000)
    assert dialog.provider_list.count() == 0
    dialog.close()
    window.close()


def test_layout_and_theme_are_remembered(qtbot, data_dir):
    window = open_window(qtbot, data_dir, size=(1200, 760))
    window.splitter.setSizes([200, 700, 300])
    sizes = window.splitter.sizes()
    window.toggle_sessions.setChecked(False)
    window.theme_actions["dark"].trigger()
    assert is_dark(QGuiApplication.palette())
    window.close()

    window = open_window(qtbot, data_dir, theme=None, size=None)
    assert (window.width(), window.height()) == (1200, 760)
    assert not window.session_list.isVisible()
    window.toggle_sessions.setChecked(True)
    restored = window.splitter.sizes()
    assert (restored[0], restored[2]) == (sizes[0], sizes[2])  # the centre takes the rest
    assert window.theme == "dark" and window.theme_actions["dark"].isChecked()
    window.set_theme("light")
    assert QGuiApplication.palette().color(QPalette.ColorRole.Window).lightnessF() > 0.5
    window.close()


def test_export_and_import_a_session(qtbot, data_dir, tmp_path):
    sid = seed_session(data_dir, "Exported", [("user", "Keep this"), ("assistant", "Kept.")])
    window = open_window(qtbot, data_dir)
    target = tmp_path / "out.json"
    window.controller.sessions.export(sid, target)
    wait_idle(qtbot, window)
    assert target.exists() and "Keep this" in target.read_text(encoding="utf-8")

    window.controller.sessions.import_file(target)
    wait_idle(qtbot, window)
    assert window.session_list.titles().count("Exported") == 2
    assert "Imported" in window.notice.text() or "imported" in window.notice.text()

    window.controller.sessions.import_file(tmp_path / "missing.json")
    wait_idle(qtbot, window)
    assert window.error_bar.isVisible() and "missing.json" in window.error_bar.label.text()
    window.close()


def test_a_huge_paste_is_counted_off_the_gui_thread(qtbot, data_dir):
    seed_session(data_dir, "Paste", [("user", "hi")])
    window = open_window(qtbot, data_dir)
    text = "The quick brown fox jumps over the lazy dog. " * 6000  # 270 KB
    counted = []
    window.controller.draftCounted.connect(lambda tokens, *_rest: counted.append(tokens))
    window.composer.set_text(text)
    # the keystroke returned at once with "counting…"; the number follows from the pool
    assert counted[0] is None and window.composer.count_label.text() == "Counting…"
    qtbot.waitUntil(lambda: counted[-1] is not None, timeout=30_000)
    # the draft's tokens in the request: its content and the user message's framing
    head = chat_framing("gpt-4o-mini").head("user", "o200k_base")
    assert counted[-1] == count_text(text, "o200k_base") + head
    assert window.composer.count_label.text() == f"{counted[-1]:,} tokens"
    wait_idle(qtbot, window)
    window.close()


def test_retry_asks_again_after_an_interrupted_reply(qtbot, data_dir, openai_server):
    from tests.test_controller_turn import add_provider, send

    seed_session(data_dir, "Retry")
    add_provider(data_dir, openai_server)
    openai_server.script(Reply(text="cut short here", disconnect_after=1), Reply(text="Complete."))
    window = open_window(qtbot, data_dir)
    send(qtbot, window, "Question?")
    wait_idle(qtbot, window)
    failed = window.conversation.conversation.messages[-1]
    assert failed.status in ("interrupted", "error")

    window.conversation.actionTriggered.emit("retry", failed)
    wait_idle(qtbot, window)
    messages = window.conversation.conversation.messages
    assert messages[-1].content == "Complete." and messages[-1].status == "complete"
    assert [m.excluded for m in messages[-4:]] == [True, True, False, False]
    sent = openai_server.chat_requests()[-1].body["messages"]
    assert [m["content"] for m in sent if m["role"] == "user"] == ["Question?"]
    window.close()


def test_copy_puts_the_message_on_the_clipboard(qtbot, data_dir):
    seed_session(data_dir, "Copy", [("user", "copy me please")])
    window = open_window(qtbot, data_dir)
    message = window.conversation.conversation.messages[0]
    window.conversation.actionTriggered.emit("copy", message)
    assert QGuiApplication.clipboard().text() == "copy me please"
    window.close()


def test_menus_open_prompt_lab_shortcuts_and_about(qtbot, data_dir):
    window = open_window(qtbot, data_dir)
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert titles == ["File", "Edit", "View", "Help"]

    window.open_prompt_lab()
    assert window._prompt_lab.isVisible() and window._prompt_lab.isWindow()
    window.show_shortcuts()
    assert "Ctrl+Enter" in window.message_box.text()
    window.message_box.close()
    window.show_about()
    assert str(data_dir) in window.message_box.text()
    window.message_box.close()
    window.close()
    assert not window._prompt_lab.isVisible()
