"""Fast at any size, the window's side: the inspector's tables are virtual models that
show the same rows and cells as the eager tables did; the composer keeps its text and
its count from the document's change signal, equal to a full recount after any edits;
the command line imports a command's module only when that command runs."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor

from desktop_app.core.assemble import AssemblyInput, assemble
from desktop_app.core.budget import builtin_profile
from desktop_app.core.catalog import lookup_model
from desktop_app.core.counting import Counting
from desktop_app.core.glossary import state_label
from desktop_app.core.history import HistoryStrategy
from desktop_app.core.records import Message
from desktop_app.core.tokens import DraftCounter, count_text
from desktop_app.ui.composer import Composer
from desktop_app.ui.gauge import format_tokens
from desktop_app.ui.inspector import (
    LEFT_OUT_COLUMNS,
    LEFT_OUT_STATES,
    ROW_CACHE,
    SENT_COLUMNS,
    ContextInspector,
    content_text,
    preview,
)
from desktop_app.ui.palette import LABELS

DISPLAY = Qt.ItemDataRole.DisplayRole


def conversation(n: int) -> list[Message]:
    return [Message("user" if i % 2 == 0 else "assistant",
                    f"Message {i + 1}: " + "the budget of every token " * (3 + i % 5),
                    id=i + 1, pinned=i == 2, excluded=i == 5,
                    token_counts={} if i == 7 else {"o200k_base": 0})
            for i in range(n)]


def request(n: int, window: int):
    model = lookup_model("gpt-4o").with_context_window(window)
    messages = conversation(n)
    for m in messages:  # counted, as the session's messages are (but one)
        if m.token_counts:
            m.token_counts["o200k_base"] = count_text(m.content, "o200k_base")
    inp = AssemblyInput("Be brief.", messages, "And now?", model, builtin_profile("default"),
                        HistoryStrategy("token_window"))
    return assemble(inp), messages, model


def expected_cells(req, messages, counting: Counting):
    """The tables as the eager inspector built them: a row per section sent, a row per
    message left out, each cell's text."""
    history = [i for i, s in enumerate(req.states) if s in ("kept", "pinned")]
    n_history = sum(1 for comp, _m, _t in req.sections if comp == "history")
    paired = iter(history if len(history) == n_history else [])
    sent = []
    for comp, chat, tokens in req.sections:
        number, state = None, ""
        if comp == "history":
            i = next(paired, None)
            if i is not None:
                number, state = i + 1, req.states[i]
        label = LABELS.get(comp, comp)
        sent.append(["" if number is None else str(number),
                     f"{label} (pinned)" if state == "pinned" else label,
                     str(chat.get("role", "")), format_tokens(tokens),
                     preview(content_text(chat))])
    left = []
    for i, (state, reason) in enumerate(zip(req.states, req.reasons, strict=True)):
        if state not in LEFT_OUT_STATES:
            continue
        m = messages[i]
        cost = counting.of_message(m)
        tokens = cost.total if cost is not None else counting.of_text(
            m.role, m.content, m.name).total
        left.append([str(i + 1), m.role, state_label(state), format_tokens(tokens), reason,
                     preview(m.content)])
    return sent, left


def cells(model) -> list[list[str]]:
    return [[model.index(r, c).data(DISPLAY) for c in range(model.columnCount())]
            for r in range(model.rowCount())]


def test_the_virtual_tables_show_the_rows_and_cells_the_eager_ones_did(qtbot):
    req, messages, model = request(60, 1_200)
    assert "dropped" in req.states and "pinned" in req.states
    inspector = ContextInspector()
    qtbot.addWidget(inspector)
    inspector.resize(700, 700)
    counting = Counting.of_model(model)
    inspector.set_counting(counting)
    inspector.set_request(req, messages, model.encoding)
    inspector.show()
    sent, left = expected_cells(req, messages, counting)
    assert [inspector.sent_model.headerData(c, Qt.Orientation.Horizontal)
            for c in range(len(SENT_COLUMNS))] == list(SENT_COLUMNS)
    assert [inspector.left_out_model.headerData(c, Qt.Orientation.Horizontal)
            for c in range(len(LEFT_OUT_COLUMNS))] == list(LEFT_OUT_COLUMNS)
    assert cells(inspector.sent_model) == sent
    assert cells(inspector.left_out_model) == left
    # a few cells spelled out: the pinned message, the one the user excluded
    assert sent[[r[0] for r in sent].index("3")][:3] == ["3", "History (pinned)", "user"]
    excluded = next(r for r in left if r[0] == "6")
    assert excluded[1:3] == ["assistant", "dropped"] and excluded[4] == "excluded by you"
    # the message counted only when shown has the same figure as the others would
    uncounted = next(r for r in left if r[0] == "8")
    m = messages[7]
    assert uncounted[3] == format_tokens(counting.of_text(m.role, m.content).total)
    assert inspector.left_out_rows() == [
        (i, s, r) for i, (s, r) in enumerate(zip(req.states, req.reasons, strict=True))
        if s in LEFT_OUT_STATES]


def test_selecting_a_row_shows_the_message_and_names_it(qtbot):
    req, messages, model = request(60, 1_200)
    inspector = ContextInspector()
    qtbot.addWidget(inspector)
    inspector.set_request(req, messages, model.encoding)
    inspector.show()
    left = inspector.left_out_rows()
    row = next(k for k, (i, _s, _r) in enumerate(left) if i == 5)
    with qtbot.waitSignal(inspector.messageSelected) as selected:
        inspector.left_out_view.setCurrentIndex(inspector.left_out_model.index(row, 0))
    assert selected.args == [5]
    assert inspector.detail_text() == messages[5].content
    sent = inspector.sent_model
    pinned = next(r for r in range(sent.rowCount()) if sent.row(r).state == "pinned")
    with qtbot.waitSignal(inspector.messageSelected) as selected:
        inspector.sent_view.setCurrentIndex(sent.index(pinned, 0))
    assert selected.args == [2]
    assert inspector.detail_text() == messages[2].content
    assert not inspector.left_out_view.selectionModel().hasSelection()


def test_a_new_preview_paints_again_only_the_rows_it_changes(qtbot):
    """A preview follows every pause in typing: the tables are not made anew for it,
    only the rows whose cells changed are painted again, and a selected row that still
    shows the same message stays selected with its text."""
    req, messages, model = request(60, 1_200)
    inspector = ContextInspector()
    qtbot.addWidget(inspector)
    inspector.resize(700, 700)
    inspector.set_request(req, messages, model.encoding)
    inspector.show()
    qtbot.waitExposed(inspector)
    sent, left = inspector.sent_model, inspector.left_out_model
    qtbot.waitUntil(lambda: len(left._made) > 0 and len(sent._made) > 0, timeout=5_000)
    row = next(k for k, (i, _s, _r) in enumerate(inspector.left_out_rows()) if i == 5)
    inspector.left_out_view.setCurrentIndex(left.index(row, 0))
    assert inspector.detail_text() == messages[5].content
    resets: list[object] = []
    changes: list[tuple[object, int, int]] = []
    for m in (sent, left):
        m.modelReset.connect(lambda m=m: resets.append(m))
        m.dataChanged.connect(lambda a, b, _roles=None, m=m: changes.append((m, a.row(), b.row())))

    def next_preview(draft: str):
        inp = AssemblyInput("Be brief.", messages, draft, model, builtin_profile("default"),
                            HistoryStrategy("token_window"))
        out = assemble(inp)
        inspector.set_request(out, messages, model.encoding)
        fresh = ContextInspector()  # what a table made anew shows
        qtbot.addWidget(fresh)
        fresh.set_request(out, messages, model.encoding)
        assert inspector.sent_rows() == fresh.sent_rows()
        assert inspector.left_out_rows() == fresh.left_out_rows()

    next_preview("And then?")  # as many tokens as "And now?": no message moves
    typed = next(r for r in range(sent.rowCount()) if sent.row(r).component == "current_input")
    assert not resets
    assert changes == [(sent, typed, typed)]
    assert inspector.left_out_view.currentIndex().row() == row
    assert inspector.detail_text() == messages[5].content
    # the row selected changes: it is no longer selected, and its old text goes
    inspector.sent_view.setCurrentIndex(sent.index(typed, 0))
    assert inspector.detail_text() == "And then?"
    next_preview("And after?")
    assert not inspector.sent_view.selectionModel().hasSelection()
    assert inspector.detail_text() == ""


def test_a_large_request_makes_only_the_rows_shown(qtbot):
    req, messages, model = request(20_000, 4_000)
    inspector = ContextInspector()
    qtbot.addWidget(inspector)
    inspector.resize(700, 700)
    inspector.set_request(req, messages, model.encoding)
    inspector.show()
    qtbot.waitExposed(inspector)
    table = inspector.left_out_model
    assert table.rowCount() > 19_000
    qtbot.waitUntil(lambda: len(table._made) > 0, timeout=5_000)  # painted
    assert len(table._made) <= ROW_CACHE  # the rows painted, not every row
    inspector.left_out_view.scrollToBottom()
    qtbot.wait(20)
    last = table.rowCount() - 1
    assert table.index(last, 0).data(DISPLAY) == str(inspector.left_out_rows()[-1][0] + 1)
    assert len(table._made) <= ROW_CACHE


# --- the composer ------------------------------------------------------------------------

EDIT = st.one_of(
    st.tuples(st.just("insert"), st.floats(0, 1),
              st.text(alphabet=st.sampled_from(list("ab c\n\t.é中\xa0\u2028-")), max_size=12)),
    st.tuples(st.just("delete"), st.floats(0, 1), st.integers(1, 30)),
    st.tuples(st.just("undo"), st.just(0.0), st.just("")),
    st.tuples(st.just("redo"), st.just(0.0), st.just("")),
    st.tuples(st.just("set"), st.just(0.0), st.text(max_size=40)),
)


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.text(max_size=200), edits=st.lists(EDIT, max_size=25))
def test_the_incremental_count_equals_a_full_recount_after_any_edits(qtbot, start, edits):
    composer = Composer()
    qtbot.addWidget(composer)
    composer.set_text(start)
    counter = DraftCounter("o200k_base", chunk_chars=16)  # small chunks: many cuts
    hinted = []

    def follow(text, edits):
        hinted.append(edits is not None)
        if edits is None:
            counter.update(text)
        else:
            counter.apply(edits)

    composer.draftEdited.connect(follow)
    counter.update(composer.text())
    editor = composer.editor
    for kind, where, what in edits:
        doc = editor.document()
        size = doc.characterCount() - 1
        cursor = QTextCursor(doc)
        cursor.setPosition(round(where * size))
        if kind == "insert":
            cursor.insertText(what)
        elif kind == "delete":
            cursor.setPosition(min(size, cursor.position() + what),
                               QTextCursor.MoveMode.KeepAnchor)
            cursor.removeSelectedText()
        elif kind == "undo":
            editor.undo()
        elif kind == "redo":
            editor.redo()
        else:
            composer.set_text(what)
        text = editor.toPlainText()
        assert counter.text == text
        assert composer.text() == text
        assert counter.total == count_text(text, "o200k_base")
    typed = "".join(str(what) for kind, _w, what in edits if kind in ("insert", "set"))
    if any(kind == "insert" and what for kind, _w, what in edits) and all(
            ord(c) <= 0xFFFF for c in start + typed):
        # typing is counted from the edit, not by comparing texts (an emoji, two UTF-16
        # units to Qt, makes the composer read the text whole)
        assert any(hinted)


def test_typing_in_the_composer_counts_from_the_edit(qtbot):
    composer = Composer()
    qtbot.addWidget(composer)
    composer.set_text("hello world\n" * 1000)
    seen = []
    composer.draftEdited.connect(lambda text, edits: seen.append((text, edits)))
    editor = composer.editor
    cursor = editor.textCursor()
    cursor.setPosition(6)
    editor.setTextCursor(cursor)
    qtbot.keyClicks(editor, "big ")
    # each keystroke hands on what it put in, not the draft
    assert seen == [(None, [(6, 0, "b")]), (None, [(7, 0, "i")]), (None, [(8, 0, "g")]),
                    (None, [(9, 0, " ")])]
    assert composer.text() == "hello big world\n" + "hello world\n" * 999
    qtbot.keyClick(editor, Qt.Key.Key_Backspace)
    assert seen[-1] == (None, [(9, 1, "")])
    assert composer.text() == editor.toPlainText()
    # an emoji is two UTF-16 units to Qt and one character to Python: what follows it
    # is handed on at Python's positions
    editor.insertPlainText("\U0001F600")  # (QTest types only what a keyboard has)
    qtbot.keyClicks(editor, "x")
    assert seen[-2:] == [(None, [(9, 0, "\U0001F600")]), (None, [(10, 0, "x")])]
    qtbot.keyClick(editor, Qt.Key.Key_Backspace)
    qtbot.keyClick(editor, Qt.Key.Key_Backspace)
    assert seen[-2:] == [(None, [(10, 1, "")]), (None, [(9, 1, "")])]
    assert composer.text() == editor.toPlainText() == "hello bigworld\n" + "hello world\n" * 999
    # a whole text with emoji in it, then typing after them
    composer.set_text("\U0001F600 a \U0001F680\n" * 3)
    qtbot.keyClicks(editor, "!")
    assert seen[-1] == (None, [(18, 0, "!")])
    assert composer.text() == editor.toPlainText()


# --- the command line ----------------------------------------------------------------

def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "desktop_app", *args], capture_output=True,
                          text=True, timeout=60)


def test_version_and_help_work_without_importing_any_command():
    from desktop_app import __version__

    out = _run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"token-budget {__version__}"
    out = _run("--help")
    assert out.returncode == 0
    for name in ("count", "sessions", "import", "bench", "restore-backup"):
        assert name in out.stdout
    probe = ("import sys\nfrom desktop_app.cli import main\n"
             "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in sys.modules if m.startswith('desktop_app.commands.')"
             " or m in ('tiktoken', 'sqlalchemy', 'openai', 'PySide6')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.splitlines()[-1] == "[]", out.stdout + out.stderr


def test_a_command_imports_only_its_module_and_still_runs():
    out = _run("count", "--help")
    assert out.returncode == 0 and "--model" in out.stdout
    probe = ("import sys\nfrom desktop_app.cli import build_parser, command_in\n"
             "build_parser(command_in(['count', '--model', 'gpt-4o']))\n"
             "print(sorted(m for m in sys.modules if m.startswith('desktop_app.commands.')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60)
    loaded = set(eval(out.stdout.strip()))  # noqa: S307 - our own probe's list
    assert "desktop_app.commands.drafting" in loaded, out.stderr
    others = {f"desktop_app.commands.{m}" for m in ("data", "chat", "compact", "bench",
                                                   "compression")}
    assert not loaded & others


def test_the_command_table_matches_what_the_modules_register():
    from desktop_app.cli import ALL, COMMANDS, build_parser

    parser = build_parser(ALL)
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    helps = {a.dest: a.help for a in sub._choices_actions}
    registered = {name: (p._defaults["func"].__module__.rsplit(".", 1)[1], helps[name])
                  for name, p in sub.choices.items()}
    assert registered == COMMANDS


def test_the_role_token_table_matches_the_tokenizers():
    from desktop_app.core.tokens import ROLE_TOKENS

    for encoding, roles in ROLE_TOKENS.items():
        for role, n in roles.items():
            assert count_text(role, encoding) == n, (encoding, role)


def test_after_a_turn_only_the_newest_page_is_read_again(tmp_path):
    from desktop_app.core.records import NOT_READ, Session
    from desktop_app.services.preview import TAIL, SessionWork
    from desktop_app.services.request import Selection
    from desktop_app.services.windows import ResolvedWindow, WindowSource
    from desktop_app.store import open_database

    db = open_database(tmp_path)
    try:
        session = db.sessions.create(Session(title="Long", model="gpt-4o-mini"))
        db.messages.append_many(session.id, conversation(TAIL * 3))
        model = lookup_model("gpt-4o-mini")
        window = ResolvedWindow(model.context_window, WindowSource.CATALOG)
        profiles = {p.name: p for p in db.profiles.list()}
        work = SessionWork(db)

        def preview():
            return work.assemble(session, Selection.of(session), model, window, profiles,
                                 "", False)

        preview()
        first = work.messages[0]
        db.messages.append(session.id, Message("user", "And the budget?"))
        db.messages.append(session.id, Message("assistant", "It holds."))
        work.invalidate_tail()
        shown = preview()
        stored = db.messages.all_for_session(session.id)
        assert [m.id for m in work.messages] == [m.id for m in stored]
        # the texts the preview read are the stored ones (the rest it read without)
        assert all(m.content is NOT_READ or m.content == s.content
                   for m, s in zip(work.messages, stored, strict=True))
        work.read_texts(work.messages)
        assert [m.content for m in work.messages] == [m.content for m in stored]
        assert work.messages[0] is first  # the older part was kept, not read again
        assert all("o200k_base" in m.token_counts for m in work.messages)
        assert shown.request.message_ids[-1] == stored[-1].id
        work.invalidate()  # anything else: all are read again
        preview()
        assert work.messages[0] is not first
    finally:
        db.close()


def test_a_new_preview_paints_again_only_the_cards_whose_state_changed(qtbot):
    from desktop_app.ui.conversation_model import ConversationModel

    model = ConversationModel()
    messages = conversation(6)
    model.reset(messages, False)
    states = {m.id: ("kept", "") for m in messages}
    model.set_inclusion(dict(states))
    changes: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b, _roles=None: changes.append((a.row(), b.row())))
    model.set_inclusion(dict(states))  # the same states again: nothing to paint
    assert changes == []
    states[messages[1].id] = ("dropped", "outside the history budget")
    states[messages[3].id] = ("pinned", "")
    model.set_inclusion(dict(states))
    assert changes == [(1, 3)]
    assert model.state_of(messages[1]) == ("dropped", "outside the history budget")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_cards_painted_from_their_pictures_are_the_cards_painted_directly(
        qtbot, data_dir, monkeypatch, theme):
    """The visible cards are painted from pictures kept while nothing they show changes:
    pixel for pixel what painting them directly gives, and never stale (a new state, a
    selected card)."""
    from PySide6.QtGui import QPixmapCache

    from desktop_app.ui import message_card
    from tests.ui_support import conversation as chat
    from tests.ui_support import open_window, seed_session, wait_idle

    seed_session(data_dir, "Cards", chat(12, words=30), model="gpt-4")
    window = open_window(qtbot, data_dir, theme=theme)
    try:
        wait_idle(qtbot, window)
        view = window.conversation
        model = view.conversation
        viewport = view.viewport()

        def direct():
            with monkeypatch.context() as m:
                m.setattr(message_card, "CACHED_CARD_MAX_HEIGHT", -1)
                return viewport.grab().toImage()

        def cached():
            viewport.grab()  # pictures made
            return viewport.grab().toImage()  # and painted from

        assert cached() == direct()
        # the newest card is selected and its state changes: painted anew, not as before
        newest = model.messages[-1]
        before = cached()
        view.setCurrentIndex(model.index(model.rowCount() - 1))
        states = {m.id: model.state_of(m) for m in model.messages}
        states[newest.id] = ("dropped", "outside the history budget")
        model.set_inclusion(states)
        after = cached()
        assert after != before and after == direct()
        QPixmapCache.clear()
        assert cached() == after
    finally:
        if theme == "dark":
            window.set_theme("light")  # the application's palette, for the tests after this
        window.close()


def test_a_preview_shows_the_gauge_first_and_the_tables_after_it_is_painted(
        qtbot, data_dir):
    """A preview is shown in stages, each painted before the next: the gauge at once,
    then the conversation's cards, then the inspector's tables. Painted in one frame,
    they held the window for longer than a frame at 300k messages."""
    from PySide6.QtCore import QEvent, QObject

    from tests.ui_support import conversation as chat
    from tests.ui_support import open_window, seed_session, wait_idle

    seed_session(data_dir, "Stages", chat(40, words=30), model="gpt-4o")
    window = open_window(qtbot, data_dir)
    try:
        wait_idle(qtbot, window)
        c = window.controller
        seen: list[str] = []

        class Paints(QObject):
            def eventFilter(self, obj, event):
                if event.type() == QEvent.Type.Paint:
                    seen.append("gauge painted")
                return False

        paints = Paints()
        window.gauge.installEventFilter(paints)
        c.prefixChanged.connect(lambda *_: seen.append("gauge"))
        c.inclusionChanged.connect(lambda *_: seen.append("cards"))
        c.requestChanged.connect(lambda *_: seen.append("tables"))
        window.composer.editor.setFocus()
        qtbot.keyClicks(window.composer.editor, "How long is the window?")
        qtbot.waitUntil(lambda: "tables" in seen, timeout=10_000)
        wait_idle(qtbot, window)
        stages = [s for s in seen if s != "gauge painted"]
        assert stages == ["gauge", "cards", "tables"]
        after = seen[seen.index("gauge"):]
        assert after.index("gauge painted") < after.index("cards")
        # and what is shown in the end is the preview of the draft typed
        assert window.inspector._request is c.budget.assembly.request
        assert c.budget.assembly.live.draft_text == "How long is the window?"
    finally:
        window.close()


def test_a_painted_cell_shows_what_the_table_says_of_it(qtbot):
    """A cell is painted from its roles fetched in one call (multiData): its text, its
    chip, its alignment and its colour are those data() gives."""
    from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

    req, messages, model = request(60, 1_200)
    inspector = ContextInspector()
    qtbot.addWidget(inspector)
    inspector.set_request(req, messages, model.encoding)
    delegate = QStyledItemDelegate()
    checked = 0
    for table in (inspector.sent_model, inspector.left_out_model):
        assert table.rowCount() > 0
        for r in range(table.rowCount()):
            for c in range(table.columnCount()):
                index = table.index(r, c)
                option = QStyleOptionViewItem()
                delegate.initStyleOption(option, index)
                assert option.text == (table.data(index, DISPLAY) or "")
                chip = table.data(index, Qt.ItemDataRole.DecorationRole)
                assert option.icon.isNull() == (chip is None)
                alignment = table.data(index, Qt.ItemDataRole.TextAlignmentRole)
                if alignment is not None:
                    assert option.displayAlignment == alignment
                colour = table.data(index, Qt.ItemDataRole.ForegroundRole)
                if colour is not None:
                    assert option.palette.color(option.palette.ColorRole.Text) == colour
                checked += 1
    assert checked > 100


def _left_and_opened(qtbot, data_dir, left: int, opened: int):
    """A window with two sessions, "Left" open and idle: (the window, the other's id)."""
    from tests.ui_support import conversation as chat
    from tests.ui_support import open_window, seed_session, wait_idle

    a = seed_session(data_dir, "Left", chat(left, words=20), model="gpt-4o")
    b = seed_session(data_dir, "Opened", chat(opened, words=20), model="gpt-4o")
    window = open_window(qtbot, data_dir)
    window.controller.sessions.open(a)
    wait_idle(qtbot, window)
    return window, b


def test_a_preview_not_yet_shown_is_dropped_when_another_session_opens(qtbot, data_dir):
    """The stages of a preview still to be shown when another session opens are never
    shown: the tables and the cards show the session opened, not the one left."""
    from tests.ui_support import wait_idle

    window, b = _left_and_opened(qtbot, data_dir, left=8, opened=4)
    try:
        c = window.controller
        left = {m.id for m in window.conversation.conversation.messages}
        opened: list[bool] = []
        shown: list[set[int | None]] = []  # the messages of each request shown since

        def open_the_other(*_) -> None:
            if not opened:
                opened.append(True)
                c.sessions.open(b)  # between the gauge and the stages after it

        c.prefixChanged.connect(open_the_other)
        c.requestChanged.connect(
            lambda _r, messages, _e: opened and shown.append({m.id for m in messages}))
        c.budget.refresh()
        qtbot.waitUntil(lambda: bool(opened), timeout=10_000)
        wait_idle(qtbot, window)
        assert shown and not any(ids & left for ids in shown)
        assert not {m.id for m in window.conversation.conversation.messages} & left
        assert window.inspector._request is c.budget.assembly.request
        assert c.budget.assembly.session_id == b
    finally:
        window.close()


def test_the_panels_follow_an_open_even_when_a_quick_preview_comes_first(qtbot, data_dir):
    """Only a session's full preview carries its memory, summary and usage; one asked for
    while it is read (a pin, an option) follows at once, and it must not take the
    panels' turn away: they show the session opened."""
    from tests.ui_support import wait_idle

    window, b = _left_and_opened(qtbot, data_dir, left=30, opened=30)
    try:
        c = window.controller
        shown: list[object] = []
        c.memoryChanged.connect(lambda _f, _e, sid: shown.append(sid))
        c.usageChanged.connect(lambda _u: shown.append("usage"))
        c.summaryChanged.connect(lambda *_: shown.append("summary"))
        asked: list[bool] = []

        def ask_while_read() -> None:  # runs after the timer's own slot began the read
            asked.append(c.budget._assembling)
            c.budget.refresh()  # asked while the full preview is read

        c.budget._after_paint.timeout.connect(ask_while_read)
        c.sessions.open(b)
        qtbot.waitUntil(lambda: bool(asked), timeout=10_000)
        wait_idle(qtbot, window)
        assert asked == [True]
        assert shown == [b, "summary", "usage"]
    finally:
        window.close()
