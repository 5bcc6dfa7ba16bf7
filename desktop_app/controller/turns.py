"""Turns: Send, Stop, Resend and Retry, the streamed reply, and bringing the summary
and memory up to date in the background once the reply is in. The turn itself is
`services.turn.run_turn`, the same code `token-budget chat` runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from desktop_app.controller.chunk_batcher import ChunkBatcher
from desktop_app.controller.sessions import NEW_TITLE, title_for
from desktop_app.controller.state import NO_PROVIDER
from desktop_app.core.cancel import CancelToken
from desktop_app.core.records import Message
from desktop_app.services.turn import Outcome, TurnOutcome

if TYPE_CHECKING:
    from desktop_app.controller.app_controller import AppController
    from desktop_app.controller.operations import Stamp
    from desktop_app.services.folding import FoldResult
    from desktop_app.store.database import Database


@dataclass
class _Turn:
    """The turn under way: its question, and whether the window shows it yet."""

    text: str
    session_id: int
    stamp: Stamp
    user_shown: bool = False
    provisional: Message | None = None


class _Relay(QObject):
    """Carries a worker's notices to the GUI thread."""

    notice = Signal(str)


class TurnController:
    def __init__(self, app: AppController) -> None:
        self.app = app
        self.state = app.state
        self.streaming = False
        self._cancel: CancelToken | None = None
        self._turn: _Turn | None = None
        self.batcher = ChunkBatcher(30, app)
        self.batcher.flushed.connect(app.streamText)
        self.batcher.flushed.connect(self._on_stream_text)
        self._relay = _Relay(app)
        self._relay.notice.connect(app.noticeRaised)

    def send(self, text: str) -> None:
        app, state = self.app, self.state
        if self.streaming or not text.strip():
            return
        if not state.can_send:
            app.errorRaised.emit(NO_PROVIDER)
            return
        if state.db is None:
            app.errorRaised.emit("The database is not open yet; your message is kept here.")
            return
        session = state.session
        if session is None or session.id is None:
            app.sessions.new(then=lambda: self._start(text), title=title_for(text))
            return
        if session.title == NEW_TITLE:
            app.sessions.rename(session.id, title_for(text))
        self._start(text)

    def resend(self, message_id: int | None) -> None:
        """Send a message's text again (read from the store off the GUI thread: the
        message may be one the preview did not read, or read without its text)."""
        db = self.state.db
        if db is None or message_id is None:
            return
        self.app.ops.run(lambda: db.messages.get(message_id).content, self.send,
                         self.app.fail, stamp=self.app.session_scope.stamp())

    def retry(self, message_id: int | None) -> None:
        """Ask again for a reply that failed or was interrupted: the failed pair stays
        visible but is set aside from later requests, and the question is sent again."""
        db, work = self.state.db, self.app.sessions.work
        if self.streaming or db is None or message_id is None:
            return

        def job() -> tuple[str, list[Message]]:
            reply = db.messages.get(message_id)
            question = _question_before(db, reply)
            if question is None:
                raise ValueError("there is no question before this reply to ask again")
            changed = []
            for m, why in ((question, "asked again (Retry)"), (reply, None)):
                db.messages.set_aside(m.id, why)  # the turn failed: not the user's choice
                changed.append(db.messages.get(m.id))
            work.invalidate()
            return question.content, changed

        def done(out: tuple[str, list[Message]]) -> None:
            text, changed = out
            for m in changed:
                self.app.messageChanged.emit(m)
            self._start(text)

        self.app.ops.run(job, done, self.app.fail, stamp=self.app.session_scope.stamp())

    def stop(self) -> None:
        if self._cancel is not None:
            self._cancel.cancel()

    # --- the turn ------------------------------------------------------------------------
    def _start(self, text: str) -> None:
        app, state = self.app, self.state
        session = state.session
        if session is None or session.id is None or state.db is None:
            return
        app.budget.timer.stop()
        sid, model_name = session.id, session.model
        self._cancel = cancel = CancelToken()
        self.streaming = True
        self._turn = _Turn(text, sid, app.session_scope.stamp())
        self.batcher.reset()
        app.streamStarted.emit("Assistant is replying…")
        job = app.setup.turn_job(sid, model_name, text, on_chunk=self.batcher.add,
                                 on_notice=self._relay.notice.emit, cancel=cancel)
        app.ops.run(job, self._done,
                    lambda message: self._done(TurnOutcome(Outcome.FAILED, message)),
                    serial=False)

    def _on_stream_text(self, _text: str) -> None:
        """The first words of the reply: the question is stored by now."""
        turn = self._turn
        if turn is not None and not turn.user_shown:
            self._show_user_message(turn, None)

    def _show_user_message(self, turn: _Turn, stored: Message | None) -> None:
        """The question is stored: the composer clears and the question joins the list
        (shown at once; swapped for the stored copy when the turn ends)."""
        first = not turn.user_shown
        turn.user_shown = True
        live = self.app.budget.live
        if stored is None:
            turn.provisional = Message("user", turn.text, session_id=turn.session_id)
            if live is not None and live.draft_text == turn.text:
                turn.provisional.token_counts[live.encoding] = live.draft_tokens
        if first:
            self.app.draftAccepted.emit()
        if not turn.stamp.current:
            return
        if stored is None:
            self.app.messageAdded.emit(turn.provisional)
        elif turn.provisional is not None:
            self.app.messageReplaced.emit(turn.provisional, stored)
        else:
            self.app.messageAdded.emit(stored)

    def _done(self, outcome: TurnOutcome) -> None:
        app = self.app
        turn, self._turn = self._turn, None
        self.batcher.flush()
        self.batcher.reset()
        self.streaming = False
        self._cancel = None
        app.streamFinished.emit()
        app.sessions.invalidate_messages(tail=True)
        here = turn is not None and turn.stamp.current
        replied = outcome.reply is not None and bool(outcome.reply.content)
        if outcome.outcome in (Outcome.COMPLETED, Outcome.STOPPED) or replied:
            if turn is not None and outcome.user_message is not None:
                self._show_user_message(turn, outcome.user_message)
            if here and outcome.reply is not None:
                app.messageAdded.emit(outcome.reply)
            if outcome.reason:
                app.errorRaised.emit(outcome.reason)
        else:
            # Before any reply text the question stays in the composer to send again
            # (its stored copy was set aside); the failed pair shows in the conversation.
            app.errorRaised.emit(outcome.reason)
            if outcome.user_stored and here and self.state.session is not None:
                app.sessions.open(self.state.session.id)
                return
        app.sessions.refresh()
        if here:
            app.sessions.reload()
            app.budget.refresh(full=True)
        if outcome.user_stored and turn is not None:
            # the fold reads the session back and assembles it again: started once the
            # new preview is shown, so that the two do not share the GIL with the
            # window as the reply lands
            session_id = turn.session_id
            app.budget.after_refresh(lambda: self._fold(session_id))

    def _fold(self, session_id: int) -> None:
        """Bring the stored summary and memory up to date; the next preview shows them."""
        app = self.app
        job: Callable[[], FoldResult] = app.setup.fold_job(session_id)
        stamp = app.session_scope.stamp()

        def done(result: FoldResult) -> None:
            for text in result.notices:
                app.noticeRaised.emit(text)
            if result.changed and stamp.current:
                app.sessions.invalidate_messages()
                app.sessions.reload()
                app.budget.refresh(full=True)

        app.ops.run(job, done, app.fail, serial=False)


def _question_before(db: Database, reply: Message) -> Message | None:
    """The user's message the reply answered: the nearest before it (read a page at a
    time from the reply back, not the whole session)."""
    before = reply.position
    while before is not None and reply.session_id is not None:
        page = db.messages.page(reply.session_id, before, QUESTION_PAGE)
        question = next((m for m in reversed(page) if m.role == "user"), None)
        if question is not None or len(page) < QUESTION_PAGE:
            return question
        before = page[0].position
    return None


QUESTION_PAGE = 50
