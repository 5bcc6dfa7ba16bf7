"""What can go wrong when talking to a model, as our own exceptions with messages fit to
show the user, and the translation from the openai SDK's (and its HTTP library's).

The SDK's exceptions are never chained onto ours (`from None`): they hold the request,
headers and all, and a traceback printer would walk into them. Server text we pass on is
scrubbed of anything that looks like a key."""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.utils import parsedate_to_datetime
from typing import Any

_KEYLIKE = re.compile(r"\b(?:sk|pk|rk)[-_][A-Za-z0-9_\-*.]{6,}|Bearer\s+\S+", re.IGNORECASE)
MAX_DETAIL = 300


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` without the given secrets or anything shaped like an API key, shortened."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[key]")
    text = _KEYLIKE.sub("[key]", text)
    text = " ".join(text.split())
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"


class LLMError(Exception):
    """A failure talking to a model; str() is a message for the user."""

    retryable = False

    def __init__(self, message: str, *, status: int | None = None, detail: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status  # the HTTP status, when there was one
        self.detail = detail  # the server's own words, scrubbed
        self.retries = 0  # how many times it was retried before giving up

    def __str__(self) -> str:
        return self.message

    def gave_up_after(self, retries: int) -> LLMError:
        self.retries = retries
        if retries:
            self.message += f" (gave up after {retries} {'retry' if retries == 1 else 'retries'})"
            self.args = (self.message,)
        return self


class AuthError(LLMError):
    """401 or 403: the key is missing, wrong or not allowed to use the model."""


class ModelNotFoundError(LLMError):
    """404: the server does not have the model (or the base URL is wrong)."""


class RateLimitError(LLMError):
    """429: too many requests; `retry_after` is the wait the server asked for."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class QuotaError(LLMError):
    """429 insufficient_quota: waiting will not help; billing will."""


class ServerError(LLMError):
    """5xx, or a server that hung up before replying: worth retrying."""

    retryable = True


class LLMTimeoutError(LLMError):
    """The server took longer than the timeout to answer or to send the next bytes."""


class ConnectionFailedError(LLMError):
    """The server could not be reached (refused, unknown host, TLS failure)."""


class BadRequestError(LLMError):
    """A 4xx the server explained and that retrying will not fix."""


class ContextTooLongError(LLMError):
    """The prompt does not fit the model's window. The caller compresses the history under
    the session's strategy and retries once."""

    def __init__(
        self,
        message: str,
        *,
        limit: int | None = None,
        requested: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(message, **kwargs)
        self.limit = limit  # the window the server named, if it did
        self.requested = requested  # the tokens it said we asked for, if it did


# --- context too long, in each server's words ---------------------------------------
CONTEXT_PHRASES = (
    "context_length_exceeded",  # OpenAI's error code
    "maximum context length",  # OpenAI's and vLLM's message
    "exceeds the available context size",  # llama.cpp server
    "the request exceeds",  # llama.cpp server, shorter wording
    "input prompt is too big",  # older llama.cpp
    "greater than the context length",  # LM Studio
    "context length of only",  # LM Studio
    "prompt is too long",
)
_CONTEXT_WORDS = re.compile("|".join(map(re.escape, CONTEXT_PHRASES)), re.IGNORECASE)
_LIMIT = re.compile(
    r"maximum context length is (\d+)|context (?:length|size) of (?:only )?(\d+)|n_ctx\W+(\d+)",
    re.IGNORECASE,
)
_REQUESTED = re.compile(
    r"resulted in (\d+)|you requested (\d+)|request has (\d+)|n_prompt_tokens\W+(\d+)",
    re.IGNORECASE,
)


def is_context_too_long(code: str | None, message: str) -> bool:
    return code == "context_length_exceeded" or bool(_CONTEXT_WORDS.search(message))


def _first_number(pattern: re.Pattern[str], text: str) -> int | None:
    match = pattern.search(text)
    if not match:
        return None
    return int(next(g for g in match.groups() if g))


def context_too_long(
    detail: str, body: Any = None, status: int | None = None
) -> ContextTooLongError:
    limit = requested = None
    if isinstance(body, dict):  # llama.cpp puts the figures in the error body
        limit = body.get("n_ctx") if isinstance(body.get("n_ctx"), int) else None
        requested = (
            body.get("n_prompt_tokens") if isinstance(body.get("n_prompt_tokens"), int) else None
        )
    limit = limit or _first_number(_LIMIT, detail)
    requested = requested or _first_number(_REQUESTED, detail)
    message = "the conversation is too long for the model's context window"
    if limit and requested:
        message += f" ({requested:,} tokens requested, {limit:,} allowed)"
    elif limit:
        message += f" ({limit:,} tokens allowed)"
    return ContextTooLongError(
        message, limit=limit, requested=requested, status=status, detail=detail
    )


# --- translation from the SDK --------------------------------------------------------
def retry_after_seconds(headers: Any) -> float | None:
    """The wait a 429 or 503 asks for: retry-after-ms, or retry-after in seconds or as
    an HTTP date."""
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from datetime import UTC, datetime

        when = parsedate_to_datetime(value)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError, IndexError):
        return None


def _body_message(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("message", "error", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return value["message"]
    return "" if body is None else str(body)


def _cause_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def translate(
    exc: BaseException, *, where: str, model: str, secrets: Iterable[str | None] = ()
) -> LLMError:
    """Our LLMError for any exception raised while talking to the server at `where`."""
    if isinstance(exc, LLMError):
        return exc
    import openai

    secrets = tuple(secrets)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        body = exc.body
        detail = scrub(_body_message(body), secrets)
        code = getattr(exc, "code", None)
        if status != 429 and is_context_too_long(code, detail):
            return context_too_long(detail, body, status)
        if status in (401, 403):
            what = "rejected the API key" if status == 401 else "refused access"
            return AuthError(
                f"{where} {what} (HTTP {status}); check the key for this provider"
                + (f": {detail}" if status == 403 and detail else ""),
                status=status,
                detail=detail,
            )
        if status == 404:
            return ModelNotFoundError(
                f"{where} has no model {model!r} (HTTP 404); pick one it lists, or check the "
                "base URL",
                status=status,
                detail=detail,
            )
        if status == 429:
            if code == "insufficient_quota" or "quota" in detail.lower():
                return QuotaError(
                    f"{where} says the account is out of quota; check its billing",
                    status=status,
                    detail=detail,
                )
            wait = retry_after_seconds(exc.response.headers)
            return RateLimitError(
                f"{where} is rate limiting requests (HTTP 429)",
                retry_after=wait,
                status=status,
                detail=detail,
            )
        if status == 408:
            return ServerError(f"{where} timed out the request (HTTP 408)", status=status)
        if status >= 500:
            return ServerError(
                f"{where} had an internal error (HTTP {status})"
                + (f": {detail}" if detail else ""),
                status=status,
                detail=detail,
            )
        return BadRequestError(
            f"{where} refused the request (HTTP {status})" + (f": {detail}" if detail else ""),
            status=status,
            detail=detail,
        )
    if isinstance(exc, openai.APITimeoutError):
        return LLMTimeoutError(f"{where} did not answer in time; try again or raise the timeout")
    if isinstance(exc, openai.APIConnectionError):
        chain = _cause_chain(exc)
        if any(isinstance(e, ConnectionRefusedError) for e in chain) or any(
            "refused" in str(e).lower() for e in chain
        ):
            return ConnectionFailedError(
                f"cannot reach {where}: connection refused; is the server running?"
            )
        if any("Timeout" in type(e).__name__ for e in chain):
            return LLMTimeoutError(f"{where} stopped sending for longer than the timeout")
        reason = type(chain[-1]).__name__ if len(chain) > 1 else "connection error"
        return ConnectionFailedError(f"lost the connection to {where} ({reason})")
    if isinstance(exc, openai.APIError):  # an error event inside the stream
        detail = scrub(_body_message(exc.body) or exc.message, secrets)
        if is_context_too_long(getattr(exc, "code", None), detail):
            return context_too_long(detail, exc.body)
        return ServerError(f"{where} reported an error mid-reply: {detail}", detail=detail)
    name = type(exc).__name__
    module = type(exc).__module__
    if module.startswith(("httpx", "httpcore")):  # older SDKs let these out of the stream
        if "Timeout" in name:
            return LLMTimeoutError(f"{where} stopped sending for longer than the timeout")
        return ConnectionFailedError(f"lost the connection to {where} ({name})")
    return LLMError(f"unexpected error talking to {where}: {name}: {scrub(str(exc), secrets)}")
