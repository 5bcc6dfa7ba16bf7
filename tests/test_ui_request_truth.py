"""What the inspector shows before Send is what the server receives: the real window,
the real openai SDK over HTTP, the loopback OpenAI-compatible server; every built-in
allocation profile under every history strategy, on conversations Hypothesis varies
(lengths that overflow the window or not, stated facts, pinned and excluded messages,
other scripts, emoji and control characters)."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import Qt

from desktop_app.core.budget import BUILTIN_PROFILES
from desktop_app.core.catalog import lookup_model
from desktop_app.core.history import STRATEGIES
from desktop_app.core.providers import ProviderConfig
from desktop_app.core.records import Message, Session
from desktop_app.core.tokens import message_tokens
from desktop_app.services.connection import DEFAULT_PROVIDER_SETTING
from desktop_app.store import open_database
from tests.openai_test_server import openai_server_fixture  # noqa: F401
from tests.test_next_request_cli import conversations, random_text
from tests.ui_support import open_window, wait_idle

MODEL = "gpt-4"  # an 8k window: a few dozen messages overflow it
COMBOS = [(profile, strategy) for profile in BUILTIN_PROFILES for strategy in STRATEGIES]


def seed(data_dir, profile: str, strategy: str, messages: list[Message]) -> int:
    db = open_database(data_dir)
    try:
        session = db.sessions.create(Session(title=f"{profile} {strategy}", model=MODEL,
                                             profile=profile, strategy=strategy,
                                             system_prompt="You plan trips. Be brief."))
        if messages:
            db.messages.append_many(session.id, messages)
        return int(session.id)
    finally:
        db.close()


def test_the_inspector_shows_exactly_what_the_server_receives(qtbot, data_dir, openai_server):
    db = open_database(data_dir)
    db.providers.save(ProviderConfig("local", base_url=openai_server.base_url, models=[MODEL]))
    db.settings.set(DEFAULT_PROVIDER_SETTING, "local")
    db.close()
    window = open_window(qtbot, data_dir)
    controller = window.controller
    controller.budget.timer.setInterval(10)  # the preview follows the draft without a pause
    model = lookup_model(MODEL)

    @settings(max_examples=2, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(data=st.data())
    def check(data):
        for profile, strategy in COMBOS:
            sid = seed(data_dir, profile, strategy, data.draw(conversations()))
            controller.sessions.open(sid)
            qtbot.waitUntil(lambda s=sid: controller.session is not None
                            and controller.session.id == s, timeout=10_000)
            wait_idle(qtbot, window)
            rng = random.Random(data.draw(st.integers(0, 2**32), label="draft seed"))
            draft = random_text(rng, data.draw(st.integers(1, 500), label="draft words"))
            if not draft.strip():
                draft = "And now?"
            window.composer.editor.setPlainText(draft)
            wait_idle(qtbot, window)
            request = controller.budget.assembly.request
            if not request.fits:  # the send button says why; nothing may go out
                continue
            shown = window.inspector.sent_rows()
            before = len(openai_server.chat_requests())
            window.composer.editor.setFocus()
            qtbot.keyClick(window.composer.editor, Qt.Key.Key_Return,
                           Qt.KeyboardModifier.ControlModifier)
            qtbot.waitUntil(lambda: controller.turns.streaming, timeout=5_000)
            wait_idle(qtbot, window, timeout=30_000)
            sent = openai_server.chat_requests()[before].body["messages"]
            where = f"{profile} × {strategy}"
            assert [(m["role"], m["content"]) for m in sent] == [
                (role, text) for _component, role, _tokens, text in shown], where
            assert [message_tokens(m, model)[0] for m in sent] == [
                tokens for _component, _role, tokens, _text in shown], where
            assert not window.error_bar.isVisible(), window.error_bar.label.text()

    check()
