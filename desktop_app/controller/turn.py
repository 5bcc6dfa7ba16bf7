"""One turn, as plain Python (no Qt): assemble the request under the session's profile
and strategy, fold evicted messages into the summary or memory when due, store the user
message, stream the reply into the store, record usage and calibration.

The window runs it on a worker thread; `token-budget chat` runs it directly. Both go
through exactly this code."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from desktop_app.core.app_records import TurnUsage
from desktop_app.core.assemble import AssembledRequest, AssemblyInput, assemble
from desktop_app.core.budget import AllocationProfile, ProfileError, builtin_profile
from desktop_app.core.catalog import ModelInfo, lookup_model
from desktop_app.core.history import (
    ExtractiveSummarizer,
    HistoryStrategy,
    RuleBasedFactExtractor,
    StrategyError,
)
from desktop_app.core.records import MemoryFact, Message, Session, Summary
from desktop_app.core.tokens import count_text

Notice = Callable[[str], None]
MEMORY_THROUGH = "memory_through_id"  # strategy setting: facts extracted up to this message
log = logging.getLogger(__name__)


class TurnError(Exception):
    """A turn that could not complete, with the message to show. `reply` holds a partial
    reply when one was stored; the user's message is stored only if `user_stored`."""

    def __init__(self, message: str, *, user_stored: bool = False,
                 reply: Message | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.user_stored = user_stored
        self.reply = reply


@dataclass
class TurnContext:
    """What a session's next request is built from."""

    session: Session
    model: ModelInfo
    profile: AllocationProfile
    strategy: HistoryStrategy
    messages: list[Message]
    memory: list[MemoryFact]
    summary: Summary | None
    warnings: list[str] = field(default_factory=list)
    uncounted: list[Message] = field(default_factory=list)  # no cached count yet

    def __post_init__(self) -> None:
        enc = self.model.encoding
        self.uncounted = [m for m in self.messages if enc not in m.token_counts]


@dataclass
class TurnResult:
    user_message: Message
    reply: Message
    request: AssembledRequest
    warnings: list[str] = field(default_factory=list)
    summary: Summary | None = None  # a summary stored during this turn
    new_facts: dict[str, str] = field(default_factory=dict)


def session_input(session: Session | None, settings: dict[str, Any], messages: list[Message],
                  draft: str, model: ModelInfo, profile: AllocationProfile,
                  strategy: HistoryStrategy, memory: list[MemoryFact],
                  summary: Summary | None) -> AssemblyInput:
    """What a session's next request is assembled from: the one mapping shared by the
    window's preview and the turn, so both always show and send the same thing.
    `settings` are the strategy settings (a session's own, or the window's before a
    session exists)."""
    return AssemblyInput(
        system_prompt=session.system_prompt if session else "",
        messages=messages,
        draft=draft,
        model=model,
        profile=profile,
        strategy=strategy,
        examples=list(session.examples) if session else [],
        memory=memory,
        summary=summary,
        elastic=bool(settings.get("elastic", False)),
        memory_through_id=settings.get(MEMORY_THROUGH),
    )


def resolve_profile(db: Any, name: str) -> AllocationProfile:
    try:
        return db.profiles.get(name)
    except Exception:  # noqa: BLE001 - a deleted profile falls back, visibly
        try:
            return builtin_profile(name)
        except ProfileError:
            return builtin_profile("default")


def resolve_strategy(session: Session) -> HistoryStrategy:
    try:
        return HistoryStrategy.from_settings(session.strategy, session.strategy_settings)
    except StrategyError:
        return HistoryStrategy()


class TurnPipeline:
    """Runs turns for sessions of one database against one chat client (or none: then
    summaries and facts come from the offline helpers and no reply can be asked for)."""

    def __init__(self, db: Any, client: Any | None = None,
                 context_window: int | None = None) -> None:
        self.db = db
        self.client = client
        self.context_window = context_window  # the provider's or user's window, if known

    # --- reading -------------------------------------------------------------------
    def model_for(self, name: str) -> ModelInfo:
        model = lookup_model(name)
        if self.context_window and self.context_window != model.context_window:
            model = model.with_context_window(self.context_window)
        return model

    def context(self, session_id: int) -> TurnContext:
        session = self.db.sessions.get(session_id)
        model = self.model_for(session.model)
        messages = [m for m in self.db.messages.all_for_session(session_id)
                    if m.status != "streaming"]
        return TurnContext(
            session=session,
            model=model,
            profile=resolve_profile(self.db, session.profile),
            strategy=resolve_strategy(session),
            messages=messages,
            memory=self.db.memory.list_for_session(session_id),
            summary=self.db.summaries.latest(session_id),
            warnings=[model.warning] if model.warning else [],
        )

    def assemble(self, ctx: TurnContext, draft: str, summarizer: Any = None,
                 extractor: Any = None, model: ModelInfo | None = None) -> AssembledRequest:
        request = assemble(
            session_input(ctx.session, ctx.session.strategy_settings, ctx.messages, draft,
                          model or ctx.model, ctx.profile, ctx.strategy, ctx.memory,
                          ctx.summary),
            summarizer=summarizer,
            extractor=extractor,
        )
        self._save_new_counts(ctx)
        return request

    def _save_new_counts(self, ctx: TurnContext) -> None:
        """Counts made during assembly are stored, so no message is counted twice."""
        enc = ctx.model.encoding
        fresh = {m.id: {enc: m.token_counts[enc]} for m in ctx.uncounted
                 if m.id is not None and enc in m.token_counts}
        ctx.uncounted = [m for m in ctx.uncounted if enc not in m.token_counts]
        if fresh:
            try:
                self.db.messages.save_token_counts_many(fresh)
            except Exception as exc:  # noqa: BLE001 - a cache write never fails a turn
                log.warning("could not store token counts: %s", exc)

    # --- summaries and memory when due ----------------------------------------------
    def _helpers(self, ctx: TurnContext, cancel: Any) -> tuple[Any, Any]:
        if self.client is None:
            return ExtractiveSummarizer(), RuleBasedFactExtractor()
        from desktop_app.llm.memory_extractor import ModelFactExtractor
        from desktop_app.llm.summarizer import ModelSummarizer

        name = ctx.session.model
        return (ModelSummarizer(self.client, name, cancel=cancel),
                ModelFactExtractor(self.client, name, cancel=cancel,
                                   encoding=ctx.model.encoding))

    def fold_due(self, ctx: TurnContext, draft: str, cancel: Any = None,
                 on_notice: Notice | None = None) -> tuple[AssembledRequest, Summary | None,
                                                           dict[str, str]]:
        """Assemble; when messages are due for the summary or memory, fold them in
        (through the model when there is one), store the results, and assemble again."""
        request = self.assemble(ctx, draft)
        if not (request.due_for_summary or request.due_for_memory):
            return request, None, {}
        summarizer, extractor = self._helpers(ctx, cancel)
        folded = self.assemble(ctx, draft, summarizer if request.due_for_summary else None,
                               extractor if request.due_for_memory else None)
        stored_summary = None
        if folded.new_summary is not None:
            label = getattr(summarizer, "last_result", None)
            summary = folded.new_summary
            summary.session_id = ctx.session.id
            if label is not None:
                summary.method, summary.model = label.method, label.model
                if label.warning and on_notice:
                    on_notice(f"summary: {label.warning}")
            else:
                summary.method = "extractive"
            summary.retention = self._retention(ctx, folded)
            stored_summary = self.db.summaries.add(summary)
            ctx.summary = stored_summary
        if request.due_for_memory and folded.due_for_memory == []:
            # remember how far facts were taken, so no message is read for facts twice
            ctx.session.strategy_settings[MEMORY_THROUGH] = request.due_for_memory[-1].id
            ctx.session = self.db.sessions.update(ctx.session)
        if folded.new_memory:
            for key, value in folded.new_memory.items():
                self.db.memory.upsert(MemoryFact(key=key, value=value,
                                                 session_id=ctx.session.id))
            ctx.memory = self.db.memory.list_for_session(ctx.session.id)
            label = getattr(extractor, "last_result", None)
            if label is not None and label.warning and on_notice:
                on_notice(f"memory: {label.warning}")
        # the stored summary and memory now cover what was evicted
        final = self.assemble(ctx, draft)
        return final, stored_summary, dict(folded.new_memory)

    @staticmethod
    def _retention(ctx: TurnContext, request: AssembledRequest) -> float | None:
        if not ctx.memory:
            return None
        from desktop_app.core.metrics import information_retention

        context = "\n".join(str(m.get("content", "")) for m in request.messages)
        return information_retention({f.key: f.value for f in ctx.memory}, context).ratio

    # --- the turn --------------------------------------------------------------------
    def run_turn(
        self,
        session_id: int,
        user_text: str,
        on_chunk: Callable[[str], None] | None = None,
        on_notice: Notice | None = None,
        cancel: threading.Event | Any | None = None,
    ) -> TurnResult:
        if not user_text.strip():
            raise TurnError("the message is empty")
        if self.client is None:
            raise TurnError("no model is set up: add a provider in Settings to send messages "
                            "(drafting, counts and budgets work without one)")
        from desktop_app.llm.client import CancelToken
        from desktop_app.llm.errors import ContextTooLongError, LLMError

        token = cancel if isinstance(cancel, CancelToken) else CancelToken()
        if isinstance(cancel, threading.Event):
            _bridge(cancel, token)
        notice = on_notice or (lambda _text: None)

        ctx = self.context(session_id)
        for w in ctx.warnings:
            notice(w)
        request, summary, facts = self.fold_due(ctx, user_text, token, notice)
        if not request.fits:
            raise TurnError(request.problem or "the request does not fit the model's window")
        for w in request.warnings:
            if w not in ctx.warnings:
                notice(w)

        # the user's message is stored before anything goes out: it survives any failure
        user_message = self.db.messages.append(session_id, Message("user", user_text))
        self.db.messages.save_token_counts(
            user_message.id, {ctx.model.encoding: count_text(user_text, ctx.model.encoding)})
        writer = self.db.messages.begin_stream(session_id)
        calibration = self._calibration(ctx.model)

        def chunk(text: str) -> None:
            writer.append(text)
            if on_chunk:
                on_chunk(text)

        def stream(req: AssembledRequest):
            return self.client.stream_chat(
                req.messages, ctx.session.model, max_tokens=req.max_tokens, on_chunk=chunk,
                cancel=token, on_wait=lambda n: notice(n.describe()),
                estimated_prompt_tokens=req.tokens,
                calibration_ratio=calibration.ratio if calibration else 1.0)

        try:
            try:
                result = stream(request)
            except ContextTooLongError as err:
                # the server's window is smaller than we thought: compress under the
                # session's strategy to what it says it takes, and retry once
                smaller = _retry_window(err, request)
                notice(f"the server refused the request as too long; compressing to "
                       f"{smaller:,} tokens and retrying once")
                request = self.assemble(ctx, user_text,
                                        model=ctx.model.with_context_window(smaller))
                if not request.fits:
                    raise TurnError(f"{err.message}. Even compressed, it does not fit: "
                                    f"{request.problem}", user_stored=True,
                                    reply=writer.fail(err.message)) from None
                try:
                    result = stream(request)
                except ContextTooLongError as again:
                    raise TurnError(
                        f"{again.message}. After compressing the history to "
                        f"{request.tokens:,} tokens it still did not fit: the server's window "
                        "is smaller than the system prompt, pinned messages and your message "
                        "need. Set the provider's context window in Settings.",
                        user_stored=True, reply=writer.fail(again.message)) from None
        except LLMError as err:
            raise TurnError(err.message, user_stored=True, reply=writer.fail(err.message)) from None
        except TurnError:
            raise
        except BaseException as exc:
            writer.interrupt()
            if isinstance(exc, Exception):
                raise TurnError(f"the reply failed: {exc}", user_stored=True) from exc
            raise

        warnings = list(result.warnings)
        for w in warnings:
            notice(w)
        if result.interrupted:
            reply = writer.interrupt()
            if result.error and not result.cancelled:
                reply.error = result.error
        else:
            cost = None
            if result.prompt_tokens is not None:
                cost = ctx.model.cost(result.prompt_tokens, result.completion_tokens or 0)
            reply = writer.finish(result.prompt_tokens, result.completion_tokens, cost)
            self._record_usage(ctx, request, reply)
            if not result.truncated:
                self._calibrate(ctx.model, result.prompt_tokens, request.tokens)
        return TurnResult(user_message, reply, request, warnings, summary, facts)

    def _record_usage(self, ctx: TurnContext, request: AssembledRequest,
                      reply: Message) -> None:
        """Keep what the turn used for the usage chart: the request split by component
        (the reply row holds only the server's totals)."""
        usage = TurnUsage(
            components=dict(request.component_tokens),
            prompt_tokens=request.tokens,
            reported_prompt_tokens=reply.prompt_tokens,
            reported_completion_tokens=reply.completion_tokens,
            cost=reply.cost,
            model=ctx.session.model,
            reply_message_id=reply.id,
        )
        try:
            self.db.usage.record(ctx.session.id, usage)
        except Exception as exc:  # noqa: BLE001 - the reply is stored; usage never fails it
            log.warning("could not record the usage of a turn: %s", exc)

    def _calibration(self, model: ModelInfo) -> Any:
        try:
            return self.db.calibration.get(model.name)
        except Exception:  # noqa: BLE001 - no calibration yet
            return None

    def _calibrate(self, model: ModelInfo, reported: int | None, estimated: int) -> None:
        """Learn how the server's count compares with ours (exact models stay at ~1.0,
        which also shows that our counting matches). Tiny prompts and implausible
        ratios teach nothing."""
        from desktop_app.llm.calibration import usable_sample

        if not usable_sample(reported, estimated):
            return
        try:
            self.db.calibration.update(model.name, reported, estimated)
        except Exception as exc:  # noqa: BLE001 - calibration never fails a turn
            log.warning("could not update the calibration of %s: %s", model.name, exc)


def _retry_window(err: Any, request: AssembledRequest) -> int:
    """The window to compress to after a server said "too long": its limit in our own
    counting (servers with another tokenizer count differently), and in any case
    clearly smaller than what was just refused."""
    sent = request.tokens + request.max_tokens
    target = err.limit or sent
    if err.limit and err.requested:
        target = int(err.limit * sent / err.requested)  # their limit, in our tokens
    return max(64, min(target, int(sent * 0.75)))


def _bridge(event: threading.Event, token: Any) -> None:
    """Cancel `token` when `event` is set (the window's Stop uses an Event)."""
    def watch() -> None:
        while not token.cancelled:
            if event.wait(0.05):
                token.cancel()
                return
    threading.Thread(target=watch, daemon=True, name="cancel-bridge").start()
