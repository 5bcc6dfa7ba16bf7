"""Chat templates: the Jinja program a model's maker publishes to turn a list of chat
messages into the one prompt the model reads. Rendering it the way the servers do
(llama.cpp, Ollama's Jinja path, vLLM, transformers) and counting the result is the only
way to know what the chat framing costs: it differs per family (Llama 3.1 adds a system
block with today's date, Qwen 2.5 a default system prompt when the chat has none).

Templates are untrusted text (from model files and servers as well as our own resources):
they run in Jinja's immutable sandbox, with output and loop bounds, and a template that
fails to render is reported, never run outside the sandbox."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

MAX_TEMPLATE_CHARS = 200_000  # the longest official template is ~20 kB
MAX_RENDERED_CHARS = 50_000_000  # a rendered prompt is bounded by the window anyway


class TemplateError(ValueError):
    """A chat template that cannot be compiled or rendered for these messages."""


def _raise(message: str) -> None:
    raise TemplateError(str(message))


def _tojson(value: Any, indent: int | None = None, ensure_ascii: bool = False,
            separators: Any = None, sort_keys: bool = False) -> str:
    # transformers' tojson: no HTML escaping, non-ASCII kept as is
    return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii,
                      separators=separators, sort_keys=sort_keys)


@lru_cache(maxsize=32)
def _compile(source: str):
    """The compiled template for `source`, in the sandbox, with the globals the servers
    give templates (raise_exception, strftime_now) and transformers' Jinja settings."""
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateError(f"chat template is too long ({len(source):,} characters)")
    from jinja2 import TemplateError as JinjaError
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[loopcontrols])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise
    try:
        return env.from_string(source)
    except JinjaError as exc:
        raise TemplateError(f"chat template does not compile: {exc}") from exc


@dataclass(frozen=True)
class TemplateContext:
    """What a server passes a template besides the messages."""

    bos_token: str = ""
    eos_token: str = ""
    today: _dt.date | None = None  # None: today, as the servers use

    def strftime_now(self, fmt: str) -> str:
        day = self.today or _dt.date.today()
        return _dt.datetime(day.year, day.month, day.day).strftime(str(fmt))


def render(source: str, messages: Sequence[Mapping[str, Any]], *,
           context: TemplateContext | None = None, add_generation_prompt: bool = True,
           tools: Sequence[Mapping[str, Any]] | None = None) -> str:
    """The prompt `source` makes of `messages`, as llama.cpp and transformers render it
    (the leading BOS the template writes is kept: the caller's tokenizer decides)."""
    from jinja2 import TemplateError as JinjaError

    template = _compile(source)
    ctx = context or TemplateContext()
    try:
        out = template.render(
            messages=[dict(m) for m in messages],
            add_generation_prompt=add_generation_prompt,
            bos_token=ctx.bos_token,
            eos_token=ctx.eos_token,
            tools=list(tools) if tools else None,
            strftime_now=ctx.strftime_now,
        )
    except TemplateError:
        raise
    except (JinjaError, TypeError, ValueError, KeyError, IndexError, AttributeError,
            RecursionError, OverflowError) as exc:
        raise TemplateError(f"chat template failed to render: {exc}") from exc
    if len(out) > MAX_RENDERED_CHARS:
        raise TemplateError("chat template rendered an unreasonably long prompt")
    return out


# --- where templates come from ---------------------------------------------------------
_registered: dict[str, str] = {}  # key -> source, for templates read from servers/files


def register_template(source: str) -> str:
    """A key for a template read at run time (from a model file or a server)."""
    import hashlib

    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateError(f"chat template is too long ({len(source):,} characters)")
    key = "sha256:" + hashlib.sha256(source.encode("utf-8", "replace")).hexdigest()[:16]
    _registered[key] = source
    return key


@lru_cache(maxsize=64)
def _shipped(key: str) -> str:
    from desktop_app.paths import MissingResourceError, resource

    try:
        return resource("chat_templates", f"{key}.jinja").read_text(encoding="utf-8")
    except (OSError, MissingResourceError) as exc:
        raise TemplateError(f"chat template {key!r} is missing: {exc}") from exc


def template_source(key: str) -> str:
    """The source of template `key`: a registered one or one shipped in resources/."""
    if key in _registered:
        return _registered[key]
    if not key.replace("-", "").replace(".", "").replace("_", "").isalnum():
        raise TemplateError(f"no chat template named {key!r}")
    return _shipped(key)


# --- what a template's framing costs ---------------------------------------------------
@dataclass(frozen=True)
class MeasuredFraming:
    heads: dict[str, int]  # role -> tokens a message in that role adds besides content
    fixed: int  # tokens a request that starts with a system message adds once
    no_system: int  # more tokens when it does not (a default system prompt)


# Probe contents: single ordinary words, so that their tokens are the same alone and
# in the prompt around them.
_WORDS = ("Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot")


def _pieces(prompt: str, contents: Sequence[str]) -> list[str] | None:
    """`prompt` cut at each content, in order: the text before the first, between each
    pair, and after the last; None if a content is not found in order."""
    pieces, pos = [], 0
    for c in contents:
        at = prompt.find(c, pos)
        if at < 0:
            return None
        pieces.append(prompt[pos:at])
        pos = at + len(c)
    pieces.append(prompt[pos:])
    return pieces


def measure_framing(source: str, context: TemplateContext,
                    count_prompt: Callable[[str], int],
                    count_text: Callable[[str], int]) -> MeasuredFraming:
    """Render probe chats and measure the framing: what each role's message adds (the
    text between one message's content and the next, counted as the server counts) and
    what the request adds once, so that fixed + the sum of heads and contents is the
    rendered prompt's exact count for the probes. Templates that refuse two system
    messages in a row, or any system message, are measured with what they accept."""
    roles_tried: tuple[tuple[str, ...], ...] = (
        ("system", "system", "user", "assistant", "user", "assistant"),
        ("system", "user", "assistant", "user", "assistant"),
        ("user", "assistant", "user", "assistant"),
    )
    heads: dict[str, int] = {}
    rendered: dict[bool, tuple[tuple[str, ...], str]] = {}  # leads with system? -> probe
    for roles in roles_tried:
        lead = roles[0] == "system"
        if lead in rendered:
            continue
        chat = [{"role": r, "content": w} for r, w in zip(roles, _WORDS, strict=False)]
        try:
            prompt = render(source, chat, context=context)
        except TemplateError:
            continue
        pieces = _pieces(prompt, _WORDS[:len(roles)])
        if pieces is None:
            continue
        for k in range(1, len(roles)):  # the first message's head is in the fixed part
            heads.setdefault(roles[k], count_prompt_piece(pieces[k], count_prompt))
        rendered[lead] = (roles, prompt)
    if False not in rendered:
        raise TemplateError("chat template renders no chat of user and assistant turns")
    heads.setdefault("system", heads["user"])
    fixed: dict[bool, int] = {}
    for lead, (roles, prompt) in rendered.items():
        body = sum(heads[r] + count_text(w) for r, w in zip(roles, _WORDS, strict=False))
        fixed[lead] = count_prompt(prompt) - body
    with_system = fixed.get(True, fixed[False])
    return MeasuredFraming(heads, with_system, fixed[False] - with_system)


def count_prompt_piece(piece: str, count_prompt: Callable[[str], int]) -> int:
    """Tokens of a piece of a rendered prompt (no BOS: the count of an empty prompt,
    which is just the BOS a server adds, is taken off)."""
    return count_prompt(piece) - count_prompt("")
