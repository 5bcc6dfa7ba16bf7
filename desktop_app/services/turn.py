"""One turn, as plain Python (no Qt): build the request with the one builder (exactly
what the preview showed), store the user's message, stream the reply into the store,
record usage and calibration. Summaries and memory are brought up to date afterwards
(`services.folding`), not here.

The window runs it on a worker thread; `token-budget chat` runs it directly. Both go
through exactly this code, and both get a typed outcome back."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from desktop_app.core.app_records import TurnUsage
from desktop_app.core.cancel import CancelToken
from desktop_app.core.records import Message
from desktop_app.core.tokens import count_text
from desktop_app.services.request import (
    HISTORY_FROM,
    LAST_SENT,
    ResolveModel,
    load_context,
    next_request,
)

if TYPE_CHECKING:
    from desktop_app.core.assemble import AssembledRequest
    from desktop_app.core.catalog import ModelInfo
    from desktop_app.llm.client import ChatClient
    from desktop_app.llm.errors import ContextTooLongError
    from desktop_app.store.database import Database

Notice = Callable[[str], None]
log = logging.getLogger(__name__)
NO_CLIENT = ("no model is set up: add a provider in Settings to send messages "
             "(drafting, counts and budgets work without one)")


class Outcome(StrEnum):
    COMPLETED = "completed"
    STOPPED = "stopped"  # the user pressed Stop: what arrived is kept
    INTERRUPTED = "interrupted"  # the stream broke off: what arrived is kept
    FAILED = "failed"  # no reply text at all


@dataclass(frozen=True)
class TurnOutcome:
    outcome: Outcome
    reason: str = ""  # why it did not complete, for the user
    user_message: Message | None = None  # stored: it survives any failure after this
    reply: Message | None = None  # stored reply (complete, partial or failed)
    request: AssembledRequest | None = None  # what was sent
    warnings: tuple[str, ...] = field(default_factory=tuple)
    # (messages sent, tokens the server counted beyond ours): what its framing adds,
    # for the resolver to learn (windows.WindowResolver.learn_framing); None when the
    # turn cannot tell (no usage, a cut prompt, a tokenizer we only approximate)
    framing_sample: tuple[int, int] | None = None
    # of the reply's prompt tokens, those the server read from its cache (None: not said)
    cached_prompt_tokens: int | None = None

    @property
    def user_stored(self) -> bool:
        return self.user_message is not None


def run_turn(db: Database, client: ChatClient | None, session_id: int, user_text: str,
             resolve: ResolveModel, *, on_chunk: Callable[[str], None] | None = None,
             on_notice: Notice | None = None,
             cancel: CancelToken | None = None) -> TurnOutcome:
    """Send `user_text` in the session and stream the reply. Expected failures come
    back as an outcome, never as an exception."""
    notice = on_notice or (lambda _text: None)
    if not user_text.strip():
        return TurnOutcome(Outcome.FAILED, "the message is empty")
    if client is None:
        return TurnOutcome(Outcome.FAILED, NO_CLIENT)
    from desktop_app.llm.errors import ContextTooLongError, LLMError

    token = cancel or CancelToken()
    ctx = load_context(db, session_id, user_text, resolve)
    request = next_request(ctx)
    warnings = list(request.warnings)
    for w in warnings:
        notice(w)
    if not request.fits:
        return TurnOutcome(Outcome.FAILED, request.problem or
                           "the request does not fit the model's window", request=request)

    # the user's message is stored before anything goes out: it survives any failure.
    # Both messages are stored with their content count under the model's encoding, so
    # the window shows their figure at once (the stored copies it gets carry it).
    enc = ctx.model.encoding
    user = db.messages.append(session_id, Message(
        "user", user_text, token_counts={enc: count_text(user_text, enc)}))
    assert user.id is not None  # stored
    # the reply is counted once, on its final text, whatever way it ends
    writer = db.messages.begin_stream(session_id, count=lambda text: {enc: count_text(text, enc)},
                                      on_notice=notice, prompt=user_text)
    served_name = ctx.session.model if ctx.session else ctx.model.name  # as the user named it

    def chunk(text: str) -> None:
        writer.append(text)
        if on_chunk:
            on_chunk(text)

    def stream(req: AssembledRequest) -> Any:
        return client.stream_chat(
            req.messages, served_name, max_tokens=req.max_tokens, on_chunk=chunk,
            cancel=token, on_wait=lambda n: notice(n.describe()),
            estimated_prompt_tokens=req.tokens, prompt_exact=req.exact)

    def failed(reason: str, req: AssembledRequest) -> TurnOutcome:
        reply = writer.fail(reason)
        return TurnOutcome(Outcome.FAILED, reason, user, reply, req, tuple(warnings))

    try:
        try:
            result = stream(request)
        except ContextTooLongError as err:
            # the server's window is smaller than it said: compress under the session's
            # strategy to what it takes, and retry once (the one time the request
            # differs from the preview, and the user is told why)
            smaller = retry_window(err, request)
            notice(f"the server refused the request as too long; compressing to "
                   f"{smaller:,} tokens and retrying once")
            request = next_request(replace(ctx, model=ctx.model.with_context_window(smaller)))
            if not request.fits:
                return failed(f"{err.message}. Even compressed, it does not fit: "
                              f"{request.problem}", request)
            try:
                result = stream(request)
            except ContextTooLongError as again:
                return failed(
                    f"{again.message}. After compressing the history to {request.tokens:,} "
                    "tokens it still did not fit: the server's window is smaller than the "
                    "system prompt, pinned messages and your message need. Set the "
                    "provider's context window in Settings.", request)
    except LLMError as err:
        return failed(err.message, request)
    except Exception as exc:  # any other fault: keep what arrived, say why
        log.warning("a turn failed", exc_info=True)
        reply = writer.interrupt()
        return TurnOutcome(Outcome.INTERRUPTED, f"the reply failed: {exc}", user, reply,
                           request, tuple(warnings))
    except BaseException:
        writer.interrupt()
        raise

    _remember_prefix(db, session_id, request)
    for w in result.warnings:
        notice(w)
    warnings.extend(result.warnings)
    if result.interrupted:
        reply = writer.interrupt()
        if result.error and not result.cancelled:
            reply.error = result.error
        if result.cancelled:
            return TurnOutcome(Outcome.STOPPED, "", user, reply, request, tuple(warnings))
        return TurnOutcome(Outcome.INTERRUPTED, result.error or "the reply broke off", user,
                           reply, request, tuple(warnings))
    cost = None
    cached = result.cached_prompt_tokens  # None: the server did not say
    if result.prompt_tokens is not None:
        # the prompt tokens the server read from its cache at the cache-read price
        cost = ctx.model.cost(result.prompt_tokens, result.completion_tokens or 0, cached or 0)
    sample = None
    if not result.truncated:  # a cut prompt says nothing about how the server counts
        _calibrate(db, ctx.model.name, result.prompt_tokens, request.tokens)
        sample = framing_sample(ctx.model, request, result.prompt_tokens)
    if result.window_full:
        reason = result.window_full
        reply = writer.cut_short(reason, result.prompt_tokens, result.completion_tokens, cost)
        _record_usage(db, served_name, request, reply, cached)
        return TurnOutcome(Outcome.INTERRUPTED, reason, user, reply, request, tuple(warnings),
                           sample, cached)
    reply = writer.finish(result.prompt_tokens, result.completion_tokens, cost)
    _record_usage(db, served_name, request, reply, cached)
    return TurnOutcome(Outcome.COMPLETED, "", user, reply, request, tuple(warnings), sample,
                       cached)


def _remember_prefix(db: Database, session_id: int, request: AssembledRequest) -> None:
    """What the next request is compared with: where this one's history began (a stable
    prefix keeps it there) and the record of its start (core.prefix). Kept with the
    session; a failure to write it costs only the comparison, never the reply."""
    from desktop_app.core.prefix import signature
    from desktop_app.store.errors import StoreError

    try:
        db.sessions.set_strategy_settings(session_id, {
            HISTORY_FROM: request.history_from_id, LAST_SENT: signature(request.sections)})
    except StoreError:
        log.warning("could not remember the request's prefix", exc_info=True)


def framing_sample(model: ModelInfo, request: AssembledRequest, reported: int | None
                   ) -> tuple[int, int] | None:
    """What the server's report says about its framing: (messages sent, its count minus
    ours before any learned correction). Only when we count the contents exactly (the
    model's own tokenizer): with an approximate tokenizer the difference is mostly text,
    which the ratio calibration learns instead."""
    if reported is None or not model.exact or not request.messages:
        return None
    n = len(request.messages)
    ours = request.tokens - model.learned_framing.tokens(n)
    return n, int(reported) - ours


def retry_window(err: ContextTooLongError, request: AssembledRequest) -> int:
    """The window to compress to after a server said "too long": its limit in our own
    counting (servers with another tokenizer count differently), and in any case
    clearly smaller than what was just refused."""
    sent = request.tokens + request.max_tokens
    target = err.limit or sent
    if err.limit and err.requested:
        target = int(err.limit * sent / err.requested)  # their limit, in our tokens
    return max(64, min(target, int(sent * 0.75)))


SET_ASIDE_NOTE = "its reply failed"


def set_aside(db: Database, outcome: TurnOutcome) -> None:
    """A turn that failed before any reply text: the question (kept in the composer to
    send again) and the failed reply stay visible but leave later requests, so sending
    again does not ask the same question twice. Set aside, not excluded: the window says
    the turn failed, never that the user chose to leave them out."""
    question, reply = outcome.user_message, outcome.reply
    if question is not None and question.id is not None:
        why = f"{SET_ASIDE_NOTE}: {outcome.reason}" if outcome.reason else SET_ASIDE_NOTE
        db.messages.set_aside(question.id, why)
    if reply is not None and reply.id is not None:
        db.messages.set_aside(reply.id)


def _record_usage(db: Database, model: str, request: AssembledRequest, reply: Message,
                  cached: int | None = None) -> None:
    """Keep what the turn used for the usage chart: the request split by component, and
    the prompt tokens the server read from its cache."""
    usage = TurnUsage(
        components=dict(request.component_tokens),
        prompt_tokens=request.tokens,
        reported_prompt_tokens=reply.prompt_tokens,
        reported_completion_tokens=reply.completion_tokens,
        cached_prompt_tokens=cached,
        cost=reply.cost,
        model=model,
        reply_message_id=reply.id,
    )
    try:
        assert reply.session_id is not None  # stored
        db.usage.record(reply.session_id, usage)
    except Exception as exc:  # noqa: BLE001 - the reply is stored; usage never fails it
        log.warning("could not record the usage of a turn: %s", exc)


def _calibrate(db: Database, model: str, reported: int | None, estimated: int) -> None:
    """Learn how the server's count compares with ours. Tiny prompts and implausible
    ratios teach nothing."""
    from desktop_app.llm.calibration import usable_sample

    if reported is None or not usable_sample(reported, estimated):
        return
    try:
        db.calibration.update(model, reported, estimated)
    except Exception as exc:  # noqa: BLE001 - calibration never fails a turn
        log.warning("could not update the calibration of %s: %s", model, exc)
