"""The window's states and words, on real widgets (issue 11): a badge says "summarized"
only for what a stored summary covers, a failed send is set aside (not "excluded by
you"), notices clear themselves, new sessions take the defaults from Settings, Test
connection fills the model list and the picker, elastic rows add up to the window,
warnings in the warning colour, friendly names everywhere, visible check boxes in the
dark theme, and a one-turn usage chart draws a point."""

from __future__ import annotations

import re

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QPushButton

from desktop_app.core.records import Message, Session, Summary
from desktop_app.store import open_database
from desktop_app.ui.palette import blend, is_dark, ok_color, warning_color
from desktop_app.ui.prompt_lab import PromptLab
from desktop_app.ui.usage_chart import UsageChart
from tests.openai_test_server import Reply, openai_server_fixture, unauthorized  # noqa: F401
from tests.test_controller_turn import add_provider, send
from tests.ui_support import conversation, open_window, seed_session, wait_idle, whole_page


def choose(qtbot, window, picker, value: str) -> None:
    """Pick `value` (an item's data, else its text) as the user does."""
    index = picker.findData(value)
    if index < 0:
        index = picker.findText(value)
    assert index >= 0, f"{value} is not offered"
    picker.setCurrentIndex(index)
    picker.activated.emit(index)
    wait_idle(qtbot, window)


def badge(window, m: Message) -> tuple[str, str, str | None]:
    """(title, token tag, badge) as the message's card paints them."""
    view = window.conversation
    model = view.conversation
    return view.delegate.header_texts(model.index(model.row_of(m.id)))


def test_summarized_is_said_only_of_what_the_stored_summary_covers(qtbot, data_dir):
    sid = seed_session(data_dir, "Long", conversation(40, words=100), model="gpt-4",
                       strategy="rolling_summary")
    window = open_window(qtbot, data_dir)
    model = whole_page(window)
    states = [model.state_of(m)[0] for m in model.messages]
    # no summary stored: the Summary tab says so, and no card claims one
    assert window.summary_panel.summary() is None  # the tab says "No summary yet"
    assert "summarized" not in states
    folding = [m for m in model.messages if model.state_of(m)[0] == "folding"]
    assert folding and "kept" in states
    assert badge(window, folding[0])[2] == "to be folded"
    window.close()

    # a summary stored for the first six messages: those six are "summarized"; the
    # others the next request leaves out are still "to be folded"
    db = open_database(data_dir)
    try:
        ids = [m.id for m in db.messages.all_for_session(sid)]
        db.summaries.add(Summary("They spoke of words.", ids[0], ids[5], session_id=sid))
    finally:
        db.close()
    window = open_window(qtbot, data_dir)
    model = whole_page(window)
    summarized = [m.id for m in model.messages if model.state_of(m)[0] == "summarized"]
    assert summarized == ids[:6]
    assert all(badge(window, m)[2] == "summarized" for m in model.messages[:6])
    assert model.state_of(model.messages[6])[0] == "folding"
    window.close()


def test_a_failed_send_is_set_aside_not_excluded_by_you(qtbot, data_dir, openai_server):
    seed_session(data_dir, "Auth", [("user", "Hello"), ("assistant", "Hi!")])
    add_provider(data_dir, openai_server)
    openai_server.script(unauthorized())
    window = open_window(qtbot, data_dir)
    send(qtbot, window, "Are you there?")
    wait_idle(qtbot, window)
    model = window.conversation.conversation
    question, failed = model.messages[-2:]
    assert (question.content, failed.status) == ("Are you there?", "error")
    for m in (question, failed):
        state, reason = model.state_of(m)
        assert "by you" not in reason and "set aside" in reason
        title, _tag, _badge = badge(window, m)
        assert title.endswith("set aside") and "excluded" not in title
    left_out = {i: reason for i, _state, reason in window.inspector.left_out_rows()}
    assert all("by you" not in reason for reason in left_out.values())

    # the user's own choice still says so
    window.on_message_action("exclude", model.messages[0])
    wait_idle(qtbot, window)
    assert model.state_of(model.messages[0])[1] == "excluded by you"
    assert badge(window, model.messages[0])[0].endswith("excluded")
    window.close()


def test_notices_clear_on_send_on_another_session_and_after_a_while(qtbot, data_dir,
                                                                    openai_server):
    seed_session(data_dir, "First", [("user", "Hello")])
    seed_session(data_dir, "Second", [("user", "Hi")])
    add_provider(data_dir, openai_server)
    openai_server.script(Reply(text="Fine, thanks."))
    window = open_window(qtbot, data_dir)
    notice, controller = window.notice, window.controller

    controller.noticeRaised.emit("the rolling summary was left out to fit the window")
    assert notice.isVisible()
    other = next(i for i in window.session_list.session_ids() if i != controller.session.id)
    window.session_list.sessionActivated.emit(other)
    wait_idle(qtbot, window)
    assert not notice.isVisible() and notice.text() == ""

    controller.noticeRaised.emit("an example was left out to fit the window (40 tokens)")
    assert notice.isVisible()
    send(qtbot, window, "How are you?")
    wait_idle(qtbot, window)
    assert "an example was left out" not in notice.text()

    window.centre.notice_timer.setInterval(50)  # "after a while", shortened
    controller.noticeRaised.emit("Exported to trip.tokenbudget")
    assert notice.isVisible()
    qtbot.waitUntil(lambda: not notice.isVisible(), timeout=5000)
    window.close()


def test_new_sessions_take_the_defaults_from_settings(qtbot, data_dir):
    window = open_window(qtbot, data_dir)
    assert window.controller.session is None
    window.open_settings()
    dialog = window.settings_dialog
    choose(qtbot, window, dialog.default_model, "gpt-4.1")
    choose(qtbot, window, dialog.default_profile, "simple_qa")
    choose(qtbot, window, dialog.default_strategy, "last_n")
    dialog.close()

    # with no session open the pickers choose for the draft, not for Settings
    choose(qtbot, window, window.model_picker, "gpt-4o")
    assert window.controller.setup.settings_snapshot()["default_model"] == "gpt-4.1"
    qtbot.mouseClick(window.session_list.new_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    first = window.controller.session
    assert first.model == "gpt-4o"  # what the pickers showed for the draft
    choose(qtbot, window, window.profile_picker, "pyramid")  # this session's own choice
    qtbot.mouseClick(window.session_list.new_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    second = window.controller.session
    assert second.id != first.id
    assert (second.model, second.profile, second.strategy) == ("gpt-4.1", "simple_qa",
                                                               "last_n")
    window.close()


def test_test_connection_fills_the_models_the_picker_and_the_window(qtbot, data_dir,
                                                                   openai_server):
    openai_server.models = [{"id": "alpha", "max_model_len": 8_192}, {"id": "gpt-4o-mini"}]
    add_provider(data_dir, openai_server, models=("gpt-4o-mini",))
    window = open_window(qtbot, data_dir)
    assert window.model_picker.findData("alpha") < 0
    window.open_settings()
    dialog = window.settings_dialog
    dialog.provider_list.setCurrentRow(0)
    assert dialog.name_edit.text() == "local"
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.status.text().startswith("Connected"), timeout=15_000)
    wait_idle(qtbot, window)
    assert dialog.models_edit.text() == "gpt-4o-mini, alpha"
    assert window.model_picker.findData("alpha") >= 0  # the picker has it at once
    assert window.controller.state.resolver.served("local", "alpha") == 8_192
    assert "8,192" in dialog.status.text()
    dialog.close()
    window.close()
    db = open_database(data_dir)
    try:
        assert db.providers.list()[0].models == ["gpt-4o-mini", "alpha"]
    finally:
        db.close()


def test_each_kind_of_server_has_its_own_address(qtbot, data_dir):
    window = open_window(qtbot, data_dir)
    window.open_settings()
    dialog = window.settings_dialog
    add = next(b for b in dialog.findChildren(QPushButton) if b.text() == "Add provider")
    qtbot.mouseClick(add, Qt.MouseButton.LeftButton)
    assert dialog.url_edit.text() == "https://api.openai.com/v1"
    for kind, url in (("custom", ""), ("ollama", "http://localhost:11434/v1"),
                      ("lmstudio", "http://localhost:1234/v1")):
        choose(qtbot, window, dialog.preset, kind)
        assert dialog.url_edit.text() == url, kind
    assert dialog.preset.itemText(dialog.preset.findData("custom")) == (
        "Custom OpenAI-compatible server")
    choose(qtbot, window, dialog.preset, "custom")
    assert dialog.url_edit.placeholderText().startswith("http://")
    dialog.url_edit.setText("http://10.0.0.7:9000/v1")  # typed: another kind keeps it
    choose(qtbot, window, dialog.preset, "vllm")
    assert dialog.url_edit.text() == "http://10.0.0.7:9000/v1"
    dialog.close()
    window.close()


def test_elastic_rows_add_up_to_at_most_the_window(qtbot, data_dir):
    seed_session(data_dir, "Long", conversation(40, words=100), model="gpt-4")
    window = open_window(qtbot, data_dir)
    box = window.elastic_check  # clicked on its box, at the left
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
    wait_idle(qtbot, window)
    assert window.elastic_check.isChecked()
    report = window.gauge.report()
    assert report.plan.elastic and report.lent_to_history > 0

    def number(text: str) -> int:
        return int(text.replace(",", ""))

    allocated = 0
    for component, _label, numbers in window.gauge.legend_rows():
        if component == "reply_reserve":
            allocated += number(numbers.split()[0])
        elif component != "free":
            allocated += number(numbers.split("/")[1].strip())
    assert allocated <= report.window
    assert "Lends its unused" in window.gauge.tooltip_text("system_prompt")
    window.close()


def test_over_budget_warnings_are_never_green(qtbot, data_dir):
    db = open_database(data_dir)
    try:
        db.sessions.create(Session(title="Long rules", model="gpt-4", profile="default",
                                   system_prompt="Follow every rule of the house. " * 300))
    finally:
        db.close()
    window = open_window(qtbot, data_dir)
    req = window.controller.budget.assembly.request  # what the inspector shows
    assert req is not None and req.fits and any("over its share" in w for w in req.warnings)
    dark = is_dark(window.inspector)
    shown = [label for label in window.inspector.findChildren(QLabel)
             if "over its share" in label.text()]
    assert shown
    for label in shown:
        assert ok_color(dark).name() not in label.styleSheet()
        assert warning_color(dark).name() in label.styleSheet()
    assert window.inspector.status_text().startswith("Fits the")
    window.close()


def test_friendly_names_everywhere(qtbot, data_dir):
    seed_session(data_dir, "Chat", [("user", "Hello")], profile="simple_qa")
    window = open_window(qtbot, data_dir)
    picker = window.profile_picker
    texts = [picker.itemText(i) for i in range(picker.count())]
    assert "Simple Q&A" in texts and not any("_" in t for t in texts)
    assert picker.currentText() == "Simple Q&A"
    editor = window.profile_editor.profile_combo
    assert not any("_" in editor.itemText(i) for i in range(editor.count()))
    window.open_settings()
    combo = window.settings_dialog.default_profile
    assert not any("_" in combo.itemText(i) for i in range(combo.count()))
    window.settings_dialog.close()
    window.open_prompt_lab()
    lab = window.findChild(PromptLab)
    makers = [a.text() for a in lab.models_menu.actions()]
    assert "OpenAI" in makers and "DeepSeek" in makers
    assert not {"Openai", "Deepseek"} & set(makers)
    window.close()


def test_check_boxes_show_in_the_dark_theme(qtbot, data_dir):
    window = open_window(qtbot, data_dir, theme="dark")
    try:
        box = window.elastic_check
        assert not box.isChecked() and box.isVisible()
        image = box.grab().toImage()
        page = box.palette().color(box.backgroundRole()).lightnessF()
        side = min(image.height(), 20)  # the indicator sits at the left, before the words
        contrast = max(abs(QColor(image.pixel(x, y)).lightnessF() - page)
                       for x in range(side) for y in range(image.height()))
        assert contrast > 0.25
        # and a panel checked off in the View menu
        menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
        window.toggle_budget.setChecked(False)
        menu.adjustSize()
        row = menu.actionGeometry(window.toggle_budget)
        image = menu.grab().toImage()
        page = menu.palette().color(menu.backgroundRole()).lightnessF()
        contrast = max(abs(QColor(image.pixel(x, y)).lightnessF() - page)
                       for x in range(row.left(), row.left() + row.height())
                       for y in range(row.top(), row.bottom()))
        window.toggle_budget.setChecked(True)
        assert contrast > 0.25
    finally:
        window.set_theme("light")  # the application's palette, for the tests after this
        window.close()


def test_a_one_turn_usage_chart_draws_a_point_not_a_line_from_zero(qtbot):
    chart = UsageChart()
    qtbot.addWidget(chart)
    chart.resize(420, 300)
    chart.set_turns([{"components": {"history": 1_200, "reply": 300}, "cost": 0.012,
                      "label": "Turn 1"}])
    chart.show()
    qtbot.waitExposed(chart)
    slot = chart.bar_rect(0)
    points = chart.cost_points()
    assert len(points) == 1
    assert points[0].x() == slot.center().x()
    image = chart.grab().toImage()
    text = chart.palette().color(chart.foregroundRole())
    line = blend(text, chart.palette().color(chart.backgroundRole()), 0.85)

    def like_line(x: float, y: float) -> bool:
        c = QColor(image.pixel(round(x), round(y)))
        return max(abs(c.red() - line.red()), abs(c.green() - line.green()),
                   abs(c.blue() - line.blue())) < 40

    assert like_line(points[0].x(), points[0].y())  # the dot
    # nothing rises from the bottom-left corner (zero) towards it
    start = QPointF(slot.left(), slot.bottom())
    for t in (0.25, 0.5, 0.75):
        x = start.x() + (slot.right() - start.x()) * t
        y = start.y() + (points[0].y() - start.y()) * t
        assert not like_line(x, y), (t, x, y)
    assert re.match(r"1 turn ", chart.header_text())
