"""The budget: what the next request is assembled under (model, profile, strategy and
its options), the keystroke path (no database, no network: only the draft is counted
again), and the preview of the next request, built off the GUI thread by the same
builder the turn uses."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer

from desktop_app.controller.operations import Stamp, set_aside_long_lived
from desktop_app.core.catalog import ModelInfo, default_catalog
from desktop_app.core.counting import Counting
from desktop_app.core.glossary import STRATEGY_LABELS, profile_label
from desktop_app.core.history import STRATEGIES
from desktop_app.core.tokenizers import SPECS, get_encoding, is_loaded
from desktop_app.core.tokens import Edit, apply_edits
from desktop_app.services.request import Selection
from desktop_app.services.windows import ResolvedWindow, serving_provider

if TYPE_CHECKING:
    from desktop_app.controller.app_controller import AppController
    from desktop_app.core.budget import BudgetReport
    from desktop_app.core.live import LiveBudget
    from desktop_app.services.preview import Assembly

log = logging.getLogger(__name__)
# A draft edit that changes more characters than this is counted on the pool; smaller
# edits are counted on the GUI thread, where DraftCounter recounts only what changed.
BIG_EDIT_CHARS = 200_000
ASSEMBLE_AFTER_TYPING_MS = 500  # the inspector follows the draft once typing pauses


def calibration_uncertainty(db: Any, model: ModelInfo) -> float | None:
    """Relative spread of our estimate against what the server reported (None for an
    exact count, or before any report)."""
    if model.exact or db is None:
        return None
    try:
        cal = db.calibration.get(model.name)
    except Exception as exc:  # noqa: BLE001 - a missing figure is not worth an error
        log.info("no calibration for %s: %s", model.name, exc)
        return None
    return cal.stddev / cal.ratio if cal.stddev and cal.ratio else None


# about a frame: the window paints what changed within it
FRAME_MS = 16
STAGE_MS = 1  # between the stages of a preview shown (see BudgetController._apply)


class BudgetController:
    def __init__(self, app: AppController) -> None:
        self.app = app
        self.state = app.state
        self.assembly: Assembly | None = None
        self.live: LiveBudget | None = None
        # the draft, unless the live counter alone holds it (see `draft`)
        self._draft: str | None = ""
        self._draft_busy = False
        self._uncertainty: float | None = None
        self._problem = ""  # why the next request cannot be sent, shown as a notice
        self._assembling = False
        self._again = False
        self._after: list[Callable[[], None]] = []  # run once the preview is current
        self._full = False
        self._counting: Counting | None = None  # what countingChanged last said
        self.timer = QTimer(app)
        self.timer.setSingleShot(True)
        self.timer.setInterval(ASSEMBLE_AFTER_TYPING_MS)
        self.timer.timeout.connect(self.refresh)
        # a session just opened: its preview is read a frame later (see refresh_after_paint)
        self._after_paint = QTimer(app)
        self._after_paint.setSingleShot(True)
        self._after_paint.setInterval(FRAME_MS)
        self._after_paint.timeout.connect(lambda: self.refresh(full=True))
        # what waits for the preview runs a frame after it is shown (see after_refresh)
        self._then = QTimer(app)
        self._then.setSingleShot(True)
        self._then.setInterval(FRAME_MS)
        self._then.timeout.connect(self._run_after)
        # a preview is shown in stages, each painted before the next (see _apply): a
        # timer of 0 ms would come before the paint the stage asked for
        self._stages: list[Callable[[], None]] = []
        self._stage_stamp = app.session_scope.stamp()  # the session the stages are of
        self._panels: Callable[[], None] | None = None  # a full preview's, not yet shown
        self._stage = QTimer(app)
        self._stage.setSingleShot(True)
        self._stage.setTimerType(Qt.TimerType.PreciseTimer)
        self._stage.setInterval(STAGE_MS)
        self._stage.timeout.connect(self._show_stage)

    def start(self) -> None:
        """Before the database opens: the gauge works on the defaults."""
        self.announce_choices()
        self.announce_selection()
        self.refresh()

    @property
    def busy(self) -> bool:
        return (self._assembling or self._again or self.timer.isActive()
                or self._after_paint.isActive() or self._then.isActive() or self._draft_busy
                or bool(self._stages))

    # --- what the next request is assembled under ------------------------------------------
    def selection(self) -> Selection:
        session = self.state.session
        if session is not None:
            return Selection.of(session)
        d = {**self.state.defaults, **self.state.draft_choices}
        return Selection(d["model"], d["profile"], d["strategy"],
                         dict(self.state.draft_strategy_settings))

    def model_and_window(self) -> tuple[ModelInfo, ResolvedWindow]:
        name = self.selection().model
        provider = serving_provider(self.state.providers, name, self.state.default_provider)
        return self.state.resolver.model(name, provider)

    def model(self) -> ModelInfo:
        return self.model_and_window()[0]

    def set_model(self, name: str) -> None:
        self._set_choice("model", name)

    def set_profile(self, name: str) -> None:
        if name in self.state.profiles:
            self._set_choice("profile", name)

    def set_strategy(self, kind: str) -> None:
        if kind in STRATEGIES:
            self._set_choice("strategy", kind)

    def _set_choice(self, field_name: str, value: str) -> None:
        if not value:
            return
        session = self.state.session
        if session is not None and session.id is not None:
            self.app.sessions.change(session.id, **{field_name: value})
        else:  # for the session the draft starts; the defaults are Settings' to change
            self.state.draft_choices[field_name] = value
        self.announce_selection()
        if field_name == "model":
            self.announce_counting()
            self.app.setup.learn_window(value)
        if field_name == "profile":
            self.announce_profiles()
        self.refresh(full=field_name == "model")

    def set_option(self, key: str, value: Any) -> None:
        """A setting of the history strategy: "last_n" (a count) or "elastic" (lend the
        unused shares of other components to history)."""
        session = self.state.session
        settings = session.strategy_settings if session else self.state.draft_strategy_settings
        if settings.get(key) == value:
            return
        if session is not None and session.id is not None:
            self.app.sessions.set_strategy_setting(session.id, key, value)
        else:
            settings[key] = value
        self.app.strategyOptionsChanged.emit(self._options())
        self.refresh()

    def _options(self) -> dict[str, Any]:
        """The strategy's settings as the window shows them: a stable prefix that the
        session has not chosen is on for local models."""
        from desktop_app.services.request import stable_by_default

        options = dict(self.selection().settings)
        options.setdefault("stable_prefix", stable_by_default(self.model()))
        return options

    def announce_choices(self) -> None:
        models = [(m.name, m.name) for m in default_catalog().models]
        known = {m for m, _ in models}
        for provider in self.state.providers:
            for name in provider.models:
                if name not in known:
                    models.append((name, f"{name} ({provider.name})"))
                    known.add(name)
        current = self.selection().model
        if current not in known:
            models.insert(0, (current, current))
        profiles = [(p.name, profile_label(p.name, p.builtin) + ("" if p.builtin else " (yours)"))
                    for p in self.state.profiles.values()]
        strategies = [(k, STRATEGY_LABELS[k]) for k in STRATEGIES]
        self.app.choicesChanged.emit(models, profiles, strategies)

    def announce_selection(self) -> None:
        sel = self.selection()
        self.app.selectionChanged.emit(sel.model, sel.profile, sel.strategy)
        self.app.strategyOptionsChanged.emit(self._options())

    def announce_profiles(self) -> None:
        self.app.profilesChanged.emit(list(self.state.profiles.values()),
                                      self.selection().profile)

    def announce_counting(self) -> None:
        """How messages are counted, chat framing included: every view that shows a
        message's figure takes it from here."""
        self._announce(Counting.of_model(self.model()))

    def _announce(self, counting: Counting) -> None:
        self._counting = counting
        self.app.countingChanged.emit(counting)

    # --- the keystroke path: no database, no network ---------------------------------------
    @property
    def draft(self) -> str:
        """The draft as typed. While it is typed, the live counter holds it, edited in
        place, and it is joined only when it is read whole (at a pause, for the preview):
        a keystroke in a 10 MB draft copied 20 MB when the draft was kept as one text."""
        if self._draft is not None:
            return self._draft
        assert self.live is not None
        return self.live.draft_text

    def set_draft(self, text: str | None, edits: Sequence[Edit] | None = None) -> None:
        """The draft as typed: whole (`text`), or as `edits` of the draft set last
        (position, removed, inserted text, from the editor's change signal), which are
        counted where they fall, the rest of the draft neither copied nor compared."""
        if text is None:
            edits = list(edits or ())
            live = self.live
            changed = sum(removed + len(inserted) for _at, removed, inserted in edits)
            if (self._draft is None and live is not None and not self._draft_busy
                    and changed <= BIG_EDIT_CHARS and is_loaded(live.encoding)):
                self._show_report(live.edit_draft(edits))
            else:
                self._draft = apply_edits(self.draft, edits)
                self._count_draft(changed)
        else:
            self._draft = text
            self._count_draft()
        self.timer.start()

    def _count_draft(self, changed: int | None = None) -> None:
        """Count the draft set whole (self._draft) with the live counter, which then
        holds it; `changed`: how many characters the edits that made it touched."""
        live, text = self.live, self._draft
        if live is None or self._draft_busy or text is None:
            return  # the count follows when the budget (or the running count) arrives
        # the first count under an encoding loads it (tens of MB, a few hundred ms):
        # on the pool, as a big edit is; the window idles without any loaded
        if changed is None:
            changed = abs(len(text) - live.draft_length)
        if not text or (changed <= BIG_EDIT_CHARS and is_loaded(live.encoding)):
            self._show_report(live.update_draft(text))
            self._draft = None
            return
        self._draft_busy = True
        self.app.draftCounted.emit(None, live.request.exact, False, "")

        def done(report: BudgetReport) -> None:
            self._draft_busy = False
            if live is self.live:
                self._show_report(report)
            if self.live is not None and self._draft is not None:
                if self.live.draft_text == self._draft:
                    self._draft = None  # the counter has the newest draft
                else:
                    self._count_draft()

        def failed(message: str) -> None:
            self._draft_busy = False
            self.app.fail(message)

        self.app.ops.run(lambda: live.update_draft(text), done, failed, serial=False)

    def _show_report(self, report: BudgetReport) -> None:
        live = self.live
        assert live is not None
        self.app.reportChanged.emit(report, self._uncertainty)
        current = report.components["current_input"]
        note = ""
        if current.over:
            note = f"over its share of {current.budget:,} tokens"
        if not report.fits:
            note = "too long for the model's window"
        # the draft's cost as the gauge's Current input row has it: user head + content
        self.app.draftCounted.emit(current.used, report.exact,
                                   current.over or not report.fits, note)
        self._announce_cost(report)

    def _announce_cost(self, report: BudgetReport) -> None:
        # the model the shown report was made for (no resolving on a keystroke)
        model = self.assembly.context.model if self.assembly else self.model()
        session_cost = self.assembly.session_cost if self.assembly else 0.0
        if not (model.input_per_million or model.output_per_million):
            self.app.costChanged.emit(None, session_cost or None)
            return
        reply = self.assembly.reply_estimate if self.assembly else 0
        self.app.costChanged.emit(model.cost(report.request_tokens, reply), session_cost)

    # --- the preview of the next request (on the serial worker) ----------------------------
    def refresh_soon(self) -> None:
        """Build the preview again once typing pauses (the session's system prompt or
        examples were edited: they are part of every request)."""
        self.timer.start()

    def refresh_after_paint(self) -> None:
        """Build the preview (and what the panels show) once the window has painted the
        session just opened: its read of the session's newest messages is Python on a
        worker for tens of milliseconds, and begun at once it shared the GIL with that
        paint, which then took twice as long."""
        self._after_paint.start()

    def refresh(self, full: bool = False) -> None:
        """Build the preview again; `full` also reloads what the panels show."""
        self._full = self._full or full
        if self._assembling:
            self._again = True
            return
        self._assembling = True
        full, self._full = self._full, False
        session = self.state.session
        snapshot = None if session is None else replace(session, strategy_settings=dict(
            session.strategy_settings), examples=list(session.examples))
        selection = self.selection()
        model, window = self.model_and_window()
        profiles = dict(self.state.profiles)
        draft, work, db = self.draft, self.app.sessions.work, self.state.db

        def job() -> tuple[Assembly, float | None]:
            result = work.assemble(snapshot, selection, model, window, profiles, draft, full)
            return result, calibration_uncertainty(db, model)

        stamp = self.app.session_scope.stamp()

        def done(out: tuple[Assembly, float | None]) -> None:
            self._assembling = False
            if stamp.current and not self.app.closed:  # else another session is open
                # what the server said may have changed how the model counts (its own
                # vocabulary, its template): every figure follows, now counted
                self._apply(*out, stamp, Counting.of_model(model))
            self._next()

        def failed(message: str) -> None:
            self._assembling = False
            self.app.fail(message)
            self._next()

        self.app.ops.run(job, done, failed)

    def _load_tokenizer(self, encoding: str) -> None:
        """Build the open session's tokenizer now, on the pool, not at the first
        keystroke: a session whose counts are all stored needs none to open, and
        building tiktoken's vocabulary holds the GIL for 130-230 ms, a pause better
        taken while the session is being read than while typing in it."""
        if encoding in SPECS and not is_loaded(encoding):
            self.app.ops.run(lambda: get_encoding(encoding) and None, serial=False)

    def after_refresh(self, then: Callable[[], None]) -> None:
        """Call `then` a frame after the preview under way (or asked for) is shown, or
        at once when none is: work that reads the session again (the fold after a reply)
        would otherwise share the GIL with the window painting that preview."""
        if self._assembling or self._again or self._after_paint.isActive() or self._stages:
            self._after.append(then)
        else:
            then()

    def _next(self) -> None:
        if self._again:
            self._again = False
            self.refresh()
        elif self._after:
            self._then.start()

    def _run_after(self) -> None:
        if self.app.closed:  # the database is closed: what waited is not begun
            self._after = []
            return
        if self._assembling or self._again or self._stages:  # after the preview is shown
            return
        after, self._after = self._after, []
        for then in after:
            then()

    def _apply(self, result: Assembly, uncertainty: float | None, stamp: Stamp,
               counting: Counting) -> None:
        """Show a preview: the gauge at once, then the conversation's cards, then the
        inspector's tables, then the panels, each a turn of the event loop after the
        last. Shown at once, all of them were painted in one frame: 15-20 ms at 300k
        messages, against a frame's 16; in stages, input and timers come between."""
        app = self.app
        self.assembly = result
        draft = self.draft  # read before the counter that may hold it is replaced
        self.live = result.live
        self._draft = draft
        self._uncertainty = uncertainty
        app.windowChanged.emit(result.window)
        app.prefixChanged.emit(result.prefix)
        if not self._draft_busy and result.live.draft_text != draft:
            self._count_draft()
        else:
            if not self._draft_busy:
                self._draft = None  # the new counter has counted this very draft
            self._show_report(result.live.report)
        problem = result.request.problem or ""
        if problem != self._problem:  # other notices stay until something replaces them
            self._problem = problem
            app.noticeRaised.emit(problem)

        def panels() -> None:
            if result.memory is not None:
                app.memoryChanged.emit(result.memory, result.encoding, result.session_id)
                set_aside_long_lived()  # a session opened: what it holds lives as long
                if result.session_id is not None:  # the window idles without a tokenizer
                    self._load_tokenizer(result.encoding)
            if result.usage is not None:
                app.summaryChanged.emit(result.summary, result.encoding, result.replaced)
                app.usageChanged.emit(result.usage)

        def tables() -> None:
            app.requestChanged.emit(result.request, result.messages, result.encoding)
            if counting != self._counting:
                self._announce(counting)

        # a newer preview replaces the stages of an older one not yet shown, but for the
        # panels of a full one (only a full preview carries them); another session
        # opened drops them all (its own preview follows)
        if not self._stage_stamp.current:  # what waits is another session's
            self._panels = None
        self._stage_stamp = stamp
        if result.memory is not None or result.usage is not None:
            self._panels = panels
        self._stages = [
            lambda: app.inclusionChanged.emit(result.inclusion),
            tables,
            self._show_panels,
        ]
        self._stage.start()

    def _show_panels(self) -> None:
        panels, self._panels = self._panels, None
        if panels is not None:
            panels()

    def _show_stage(self) -> None:
        if not self._stage_stamp.current or self.app.closed:
            self._stages, self._panels = [], None
        if self._stages:
            self._stages.pop(0)()
        if self._stages:
            self._stage.start()
        elif self._after and not (self._assembling or self._again):
            self._then.start()
