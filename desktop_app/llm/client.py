"""Streaming chat replies from OpenAI or an OpenAI-compatible server, on the openai SDK.

The SDK is imported on first use, never at import time. The SDK's own retries are off
(max_retries=0): we retry 429 and 5xx ourselves so that every wait is reported to the
caller. The HTTP exchange runs on a helper thread and the caller's thread only reads
a queue, so cancelling returns control at once whatever the socket is doing; the helper
then shuts the socket down and closes the response, leaving no connection behind."""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from desktop_app.core.cancel import CancelToken
from desktop_app.llm.errors import (
    AuthError,
    ConnectionFailedError,
    LLMError,
    ModelNotFoundError,
    RateLimitError,
    ServerError,
    translate,
)
from desktop_app.llm.providers import plain_http_warning

if TYPE_CHECKING:
    from desktop_app.core.providers import ProviderConfig

log = logging.getLogger(__name__)

NO_KEY = "no-key"  # sent to servers that need none: the SDK insists on some key


def preload_sdk() -> None:
    """Import the openai SDK now (call it on a background thread once the window is up),
    so that the first request does not pay for it."""
    import_sdk()


_SDK_IMPORT = threading.Lock()  # a second caller waits for the first one's import


def import_sdk() -> Any:
    """The openai SDK, imported (once) with the cyclic garbage collector paused, and what
    the import made then left out of its scans: some 60,000 objects (httpx, pydantic's
    models) that live as long as the app, which full collections during and after the
    import walked while holding the GIL (30 ms, as the first reply began to stream)."""
    import gc
    import sys

    with _SDK_IMPORT:
        first = "openai" not in sys.modules
        enabled = first and gc.isenabled()
        if enabled:
            gc.disable()
        try:
            import openai  # deferred: over half a second, never before the window
        finally:
            if enabled:
                gc.enable()
        if first:
            gc.freeze()
    return openai


# --- results -------------------------------------------------------------------------
@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    base_delay: float = 1.0  # backoff for 5xx and 429 without Retry-After: base·2^n
    max_delay: float = 20.0
    max_retry_after: float = 60.0  # a 429 asking to wait longer fails at once, saying so


@dataclass(frozen=True)
class RetryNotice:
    """Told to the caller before each wait, so the user sees why nothing happens."""

    attempt: int  # 1 for the first retry
    max_retries: int
    delay: float  # seconds about to be waited
    reason: str

    def describe(self) -> str:
        return (
            f"{self.reason}; retrying in {self.delay:.1f} s "
            f"(retry {self.attempt} of {self.max_retries})"
        )


@dataclass
class StreamResult:
    text: str = ""
    finish_reason: str | None = None  # "stop", "length", ... as the server said
    prompt_tokens: int | None = None  # server-reported usage, when it came
    completion_tokens: int | None = None
    # of prompt_tokens, those the server read from its prompt cache (OpenAI and llama.cpp:
    # usage.prompt_tokens_details.cached_tokens; older llama.cpp: timings.cache_n);
    # None when it did not say
    cached_prompt_tokens: int | None = None
    interrupted: bool = False  # the reply is partial (cut off, or cancelled)
    cancelled: bool = False
    error: str | None = None  # why it was interrupted, for the user
    model: str | None = None  # the model the server says answered
    estimated_prompt_tokens: int | None = None  # our own count of what we sent
    truncated: bool = False  # the server read fewer prompt tokens than we exactly sent
    # why the reply stopped before max_tokens (prompt + reply filled the window); "" if not
    window_full: str = ""
    warnings: list[str] = field(default_factory=list)
    retries: int = 0
    elapsed_ms: float = 0.0
    first_chunk_ms: float | None = None

    @property
    def usage_reported(self) -> bool:
        return self.prompt_tokens is not None


# A server may frame the same chat with its own copy of the template: Ollama's Go
# templates leave out Llama 3.1's date block (about 25 tokens). A silent cut drops whole
# messages, far more than this.
TEMPLATE_MARGIN = 64


def truncation_warning(reported: int | None, sent: int | None, exact: bool) -> str | None:
    """A warning when the server read fewer prompt tokens than we sent: it cut the prompt
    without saying (Ollama does, past its num_ctx). Only an exact count of what was sent
    can tell: an estimate with another tokenizer is off by tens of percent either way
    (Chinese or digits on Qwen), so comparing against one raises false alarms."""
    if not exact or reported is None or not sent or reported >= sent - TEMPLATE_MARGIN:
        return None
    return (
        f"the server read only {reported:,} of the {sent:,} prompt tokens sent: it cut the "
        "prompt silently because its context window is smaller; raise the server's context "
        "length (Ollama: num_ctx) or lower this session's budget"
    )


def _count(value: Any) -> int | None:
    """A token count as a server reported it: a whole number of at least 0, else None."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _chat_dicts(messages: Sequence[Any]) -> list[dict[str, Any]]:
    out = []
    for m in messages:
        out.append(m.to_chat() if hasattr(m, "to_chat") else dict(m))
    return out


def _socket_of(stream: Any) -> socket.socket | None:
    try:
        network = stream.response.extensions.get("network_stream")
        return network.get_extra_info("socket") if network is not None else None
    except (AttributeError, OSError):  # not an httpx response as we know it: no shortcut
        return None


def _shutdown(sock: socket.socket) -> None:
    # shutdown (not close) wakes a thread blocked reading the socket; the base-class
    # method is used so that a TLS socket is not half-torn-down from this thread
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


# --- the client ----------------------------------------------------------------------
class ChatClient:
    """One provider's endpoint. Thread-safe: the window may stream on one thread while a
    summary is made on another."""

    def __init__(
        self,
        config: ProviderConfig,
        api_key: str | None = None,
        *,
        retry: RetryPolicy | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        self.config = config
        self._api_key = api_key
        self.retry = retry or RetryPolicy()
        self.connect_timeout = connect_timeout
        self._sdk_client: Any = None
        self._lock = threading.Lock()
        self._active: set[CancelToken] = set()

    @classmethod
    def from_config(cls, config: ProviderConfig, keys: Any, **kwargs: Any) -> ChatClient:
        """A client with the provider's key from the KeyStore `keys`."""
        key = keys.get(config.name, config.preset)
        if config.needs_key and not key:
            raise AuthError(
                f"no API key for provider {config.name!r}: enter one in the provider "
                "settings, or set OPENAI_API_KEY"
            )
        return cls(config, key, **kwargs)

    def __repr__(self) -> str:
        key = "set" if self._api_key else "none"
        return f"ChatClient({self.config.name!r}, {self.config.base_url!r}, key={key})"

    @property
    def has_key(self) -> bool:
        return bool(self._api_key)

    @property
    def warnings(self) -> list[str]:
        """Standing problems with this provider's settings, for the user."""
        warning = plain_http_warning(self.config.base_url) if self._api_key else None
        return [warning] if warning else []

    def _sdk(self) -> Any:
        with self._lock:
            if self._sdk_client is None:
                openai = import_sdk()
                # key and base URL always explicit: left out, the SDK would read
                # OPENAI_API_KEY and OPENAI_BASE_URL and could send the key elsewhere
                self._sdk_client = openai.OpenAI(
                    api_key=self._api_key or NO_KEY,
                    base_url=self.config.base_url,
                    max_retries=0,  # we retry ourselves, so that every wait is shown
                    timeout=openai.Timeout(
                        self.config.timeout, connect=min(self.connect_timeout, self.config.timeout)
                    ),
                )
            return self._sdk_client

    def _translate(self, exc: BaseException, model: str) -> LLMError:
        return translate(exc, where=self.config.base_url, model=model, secrets=(self._api_key,))

    def close(self) -> None:
        self.cancel()
        with self._lock:
            if self._sdk_client is not None:
                self._sdk_client.close()
                self._sdk_client = None

    def cancel(self) -> None:
        """Cancel every stream of this client that is under way."""
        with self._lock:
            active = list(self._active)
        for token in active:
            token.cancel()

    # --- models ----------------------------------------------------------------------
    def list_models(self) -> list[str]:
        """The model ids the server offers, sorted."""
        try:
            return sorted(m.id for m in self._sdk().models.list())
        except Exception as exc:  # noqa: BLE001 - every failure becomes one clear LLMError
            err = self._translate(exc, "")
        if isinstance(err, ModelNotFoundError):  # no list there: most likely a wrong URL
            err = ModelNotFoundError(
                f"{self.config.base_url}/models does not exist (HTTP 404); check the base "
                "URL (it usually ends in /v1)",
                status=404,
            )
        raise err

    # --- streaming -------------------------------------------------------------------
    def stream_chat(
        self,
        messages: Sequence[Mapping[str, Any] | Any],
        model: str,
        max_tokens: int | None = None,
        on_chunk: Callable[[str], None] | None = None,
        cancel: CancelToken | None = None,
        on_wait: Callable[[RetryNotice], None] | None = None,
        *,
        estimated_prompt_tokens: int | None = None,
        prompt_exact: bool = False,
        temperature: float | None = None,
    ) -> StreamResult:
        """Stream one reply, calling on_chunk(text) on this thread for each piece.

        Returns the reply, marked interrupted (with the partial text kept) when the
        stream was cut off or cancelled. Raises an LLMError when no reply came at all:
        ContextTooLongError for a prompt that does not fit (compress, then retry once),
        AuthError, ModelNotFoundError, RateLimitError or ServerError after the retries,
        LLMTimeoutError, ConnectionFailedError, BadRequestError."""
        chat = _chat_dicts(messages)
        if estimated_prompt_tokens is None:
            from desktop_app.core.tokens import count_chat

            counted = count_chat(chat, model)
            estimated_prompt_tokens, prompt_exact = counted.tokens, counted.exact
        params: dict[str, Any] = {
            "model": model,
            "messages": chat,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if max_tokens is not None:
            # OpenAI's newer models refuse max_tokens; local servers know only max_tokens
            key = "max_completion_tokens" if self.config.preset == "openai" else "max_tokens"
            params[key] = max_tokens
        if temperature is not None:
            params["temperature"] = temperature

        token = cancel or CancelToken()
        with self._lock:
            self._active.add(token)
        started = time.monotonic()
        try:
            result = self._with_retries(params, model, on_chunk, on_wait, token)
        finally:
            with self._lock:
                self._active.discard(token)
        result.elapsed_ms = (time.monotonic() - started) * 1000
        result.estimated_prompt_tokens = estimated_prompt_tokens
        warning = truncation_warning(result.prompt_tokens, estimated_prompt_tokens, prompt_exact)
        if warning and not result.interrupted:
            result.truncated = True
            result.warnings.append(warning)
            log.warning("%s: %s", self.config.name, warning)
        if result.finish_reason == "length":
            completion = result.completion_tokens
            if max_tokens and completion is not None and completion < max_tokens:
                # stopped before its own limit: prompt and reply filled the server's window
                result.window_full = (
                    f"the reply stopped after {completion:,} tokens because the server's "
                    f"context window was full ({result.prompt_tokens or 0:,} prompt + "
                    f"{completion:,} reply tokens); what arrived is kept, marked as cut short")
                result.warnings.append(result.window_full)
            else:
                result.warnings.append(
                    f"the reply reached its limit of {max_tokens or 'the server default'} "
                    "tokens and was cut short")
        return result

    def _with_retries(
        self,
        params: dict[str, Any],
        model: str,
        on_chunk: Callable[[str], None] | None,
        on_wait: Callable[[RetryNotice], None] | None,
        token: CancelToken,
    ) -> StreamResult:
        attempt = 0
        while True:
            if token.cancelled:
                return StreamResult(
                    interrupted=True, cancelled=True, error="stopped by you", retries=attempt
                )
            try:
                result = self._stream_once(params, model, on_chunk, token)
                result.retries = attempt
                return result
            except LLMError as err:
                delay = self._retry_delay(err, attempt)
                if delay is None:
                    raise err.gave_up_after(attempt) from None
                attempt += 1
                notice = RetryNotice(attempt, self.retry.max_retries, delay, err.message)
                log.info("%s: %s", self.config.name, notice.describe())
                if on_wait is not None:
                    on_wait(notice)
                if token.wait(delay):
                    return StreamResult(
                        interrupted=True, cancelled=True, error="stopped by you", retries=attempt
                    )

    def _retry_delay(self, err: LLMError, attempt: int) -> float | None:
        """Seconds to wait before retrying, or None to give up."""
        if not err.retryable or attempt >= self.retry.max_retries:
            return None
        if isinstance(err, RateLimitError) and err.retry_after is not None:
            if err.retry_after > self.retry.max_retry_after:
                err.message += f"; the server asks to wait {err.retry_after:.0f} s, try later"
                err.args = (err.message,)
                return None
            return err.retry_after
        backoff = min(self.retry.max_delay, self.retry.base_delay * 2**attempt)
        return backoff * random.uniform(0.8, 1.2)  # jitter: clients do not retry in step

    def _stream_once(
        self,
        params: dict[str, Any],
        model: str,
        on_chunk: Callable[[str], None] | None,
        outer: CancelToken,
    ) -> StreamResult:
        events: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        inner = CancelToken()  # stops the helper thread, whichever way this call ends
        unlink = outer.on_cancel(inner.cancel)
        inner.on_cancel(lambda: events.put(("cancel", None)))
        helper = threading.Thread(
            target=self._pump, args=(params, events, inner), name="llm-stream", daemon=True
        )
        started = time.monotonic()
        result = StreamResult()
        parts: list[str] = []
        cache_n: int | None = None  # llama.cpp's timings, when usage did not say
        helper.start()
        try:
            while True:
                kind, value = events.get()
                if kind == "text" and outer.cancelled:  # queued before the cancel: dropped
                    kind = "cancel"
                if kind == "text":
                    if result.first_chunk_ms is None:
                        result.first_chunk_ms = (time.monotonic() - started) * 1000
                    parts.append(value)
                    if on_chunk is not None:
                        on_chunk(value)
                elif kind == "finish":
                    result.finish_reason = value
                elif kind == "usage":
                    result.prompt_tokens, result.completion_tokens, cached = value
                    if cached is not None:
                        result.cached_prompt_tokens = cached
                elif kind == "cache_n":
                    cache_n = value
                elif kind == "model":
                    result.model = value
                elif kind == "end":
                    break
                elif kind == "cancel":
                    result.interrupted = result.cancelled = True
                    result.error = "stopped by you"
                    break
                elif kind in ("error", "stream_error"):
                    err = self._translate(value, model)
                    if not parts:
                        if kind == "stream_error" and isinstance(err, ConnectionFailedError):
                            # cut before the first word: nothing lost, worth another try
                            err = ServerError(
                                f"{self.config.base_url} ended the reply before it began "
                                f"({err.message})"
                            )
                        raise err
                    result.interrupted = True
                    result.error = (
                        f"{err.message}; the reply was cut off after {len(''.join(parts)):,} "
                        "characters and the part received is kept"
                    )
                    log.warning("%s: stream cut off: %s", self.config.name, err.message)
                    break
        finally:
            unlink()
            inner.cancel()  # a no-op when the helper has finished
        result.text = "".join(parts)
        if result.cached_prompt_tokens is None and result.prompt_tokens is not None:
            result.cached_prompt_tokens = cache_n
        if result.cached_prompt_tokens is not None and result.prompt_tokens is not None:
            # a part of the prompt, never more (a server's slip must not price below zero)
            result.cached_prompt_tokens = min(result.cached_prompt_tokens, result.prompt_tokens)
        return result

    def _pump(self, params: dict[str, Any], events: queue.SimpleQueue, token: CancelToken) -> None:
        """Runs on the helper thread: the HTTP exchange, as events on the queue."""
        try:
            stream = self._sdk().chat.completions.create(**params)
        except Exception as exc:  # noqa: BLE001 - handed to the caller's thread to translate
            if not token.cancelled:
                events.put(("error", exc))
            return
        try:
            if token.cancelled:
                return
            sock = _socket_of(stream)
            unregister = token.on_cancel(lambda: _shutdown(sock)) if sock else (lambda: None)
            try:
                for chunk in stream:
                    if token.cancelled:
                        return
                    self._read_chunk(chunk, events)
            finally:
                unregister()
            events.put(("end", None))
        except Exception as exc:  # noqa: BLE001 - handed to the caller's thread to translate
            if not token.cancelled:
                events.put(("stream_error", exc))
        finally:
            with contextlib.suppress(Exception):  # closing a broken stream may complain
                stream.close()

    @staticmethod
    def _read_chunk(chunk: Any, events: queue.SimpleQueue) -> None:
        if getattr(chunk, "model", None):
            events.put(("model", chunk.model))
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            details = getattr(usage, "prompt_tokens_details", None)
            cached = _count(getattr(details, "cached_tokens", None))
            events.put(("usage", (usage.prompt_tokens, usage.completion_tokens, cached)))
        timings = getattr(chunk, "timings", None)  # llama.cpp's own field, not the SDK's
        if isinstance(timings, Mapping) and (cache_n := _count(timings.get("cache_n"))) is not None:
            events.put(("cache_n", cache_n))
        for choice in getattr(chunk, "choices", None) or []:
            delta = getattr(choice, "delta", None)
            text = getattr(delta, "content", None) if delta is not None else None
            if text:
                events.put(("text", text))
            if choice.finish_reason:
                events.put(("finish", choice.finish_reason))
