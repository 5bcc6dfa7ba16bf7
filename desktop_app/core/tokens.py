"""Token counting with no network: tiktoken encodings loaded from resources/, counts
cached per (text, encoding), chat-format counting as the API bills it, and an
incremental counter for a draft being typed."""

from __future__ import annotations

import bisect
import datetime as _dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from desktop_app.core.catalog import ModelInfo, lookup_model
from desktop_app.core.tokenizers import (  # noqa: F401 - EncodingError, get_encoding re-exported
    SPECS,
    EncodingError,
    get_encoding,
)


@lru_cache(maxsize=200_000)
def count_text(text: str, encoding: str = "o200k_base") -> int:
    """Tokens in `text` under `encoding`, as a server reading it in a prompt counts them.
    Cached per (text, encoding): no text is counted twice. OpenAI's API reads special-
    token strings in a message as ordinary text; the local servers (llama.cpp, Ollama,
    vLLM) parse them as the special tokens they name, so for the makers' tokenizers a
    "<|im_end|>" in a message is one token, as there."""
    if not text:
        return 0
    if SPECS[encoding].openai:
        return len(get_encoding(encoding).encode_ordinary(text))
    return len(get_encoding(encoding).encode(text, allowed_special="all"))


def encode(text: str, encoding: str = "o200k_base") -> list[int]:
    return get_encoding(encoding).encode_ordinary(text)


def decode(tokens: Sequence[int], encoding: str = "o200k_base") -> str:
    return get_encoding(encoding).decode(list(tokens))


@dataclass(frozen=True)
class TokenCount:
    tokens: int
    exact: bool
    encoding: str
    model: str | None = None
    warning: str | None = None

    @property
    def label(self) -> str:
        return "exact" if self.exact else "estimated"


# --- chat format ---------------------------------------------------------------------
# The roles' own tokens under the shipped encodings (a test checks them against the
# tokenizers): the framing of a request with nothing in it is known without loading a
# tokenizer, which costs ~85 MB for o200k_base (the window idles without one).
_ONE_EACH = {"system": 1, "user": 1, "assistant": 1, "tool": 1}
ROLE_TOKENS: dict[str, dict[str, int]] = {
    **{e: _ONE_EACH for e in ("o200k_base", "cl100k_base", "llama3", "llama4", "qwen2",
                              "o200k_harmony", "phi4")},
    **{e: {**_ONE_EACH, "assistant": 2} for e in ("p50k_base", "r50k_base", "tekken")},
}


@dataclass(frozen=True)
class ChatFraming:
    """Tokens the chat format adds around what a request says. The one owner of these
    numbers: everything that costs a chat message asks chat_framing(model).

    OpenAI's rule: per message (the <|start|>role<|message|>...<|end|> frame, the role's
    own tokens not included), per name (on top of the name's tokens), and once per
    request to prime the reply. A chat template's framing, measured by rendering it:
    `role_heads` (the tokens one message of each role adds besides its content, role
    included), a fixed part per request (`reply_priming`: BOS, the template's own blocks,
    the reply's header) and `no_system`, what the template adds when the request does
    not start with a system message (Qwen's default system prompt)."""

    per_message: int
    per_name: int
    reply_priming: int
    role_heads: tuple[tuple[str, int], ...] = ()
    no_system: int = 0
    names: bool = True  # does the format send a message's name?
    source: str = "OpenAI's published rule"

    def head(self, role: str, encoding: str) -> int:
        """Tokens a message in `role` adds besides its content (and name)."""
        for r, n in self.role_heads:
            if r == role:
                return n
        known = ROLE_TOKENS.get(encoding, {}).get(role)
        return self.per_message + (count_text(role, encoding) if known is None else known)

    def fixed(self, starts_with_system: bool) -> int:
        """Tokens a request adds once, besides its messages."""
        return self.reply_priming + (0 if starts_with_system else self.no_system)

    def message(self, role_tokens: int, content_tokens: int, name_tokens: int | None = None) -> int:
        """Tokens of one message from the counts of its role, content and name (None:
        no name), under OpenAI's rule."""
        total = self.per_message + role_tokens + content_tokens
        return total if name_tokens is None else total + name_tokens + self.per_name


# OpenAI's published rule for its chat models; gpt-3.5-turbo-0301 framed a message with
# 4 tokens and a name with -1.
OPENAI_FRAMING = ChatFraming(per_message=3, per_name=1, reply_priming=3)
_OPENAI_0301_FRAMING = ChatFraming(per_message=4, per_name=-1, reply_priming=3)
TOKENS_PER_MESSAGE = OPENAI_FRAMING.per_message
TOKENS_PER_NAME = OPENAI_FRAMING.per_name
REPLY_PRIMING = OPENAI_FRAMING.reply_priming
IMAGE_ESTIMATE = 85  # a low-detail image; high detail depends on tiles we do not see


def chat_framing(model: ModelInfo | str) -> ChatFraming:
    """The chat framing `model` is billed with (a ModelInfo or a model name): its chat
    template's, measured, when we have the template and the tokenizer; else OpenAI's."""
    info = lookup_model(model) if isinstance(model, str) else model
    framing = OPENAI_FRAMING
    if info.template and info.exact:
        framing = template_framing(info.template, info.encoding, _dt.date.today()) or framing
    name = model if isinstance(model, str) else model.name
    if framing is OPENAI_FRAMING and name.lower().startswith("gpt-3.5-turbo-0301"):
        framing = _OPENAI_0301_FRAMING
    return _with_learned(framing, info)


def _with_learned(framing: ChatFraming, info: ModelInfo) -> ChatFraming:
    """`framing` plus what the server was seen to add (core.framing_fit)."""
    delta = info.learned_framing
    if not (delta.fixed or delta.per_message):
        return framing
    from dataclasses import replace

    return replace(
        framing, reply_priming=framing.reply_priming + delta.fixed,
        per_message=framing.per_message + delta.per_message,
        role_heads=tuple((r, n + delta.per_message) for r, n in framing.role_heads),
        source=f"{framing.source}, corrected by what the server reported "
               f"({delta.samples} turn{'s' if delta.samples != 1 else ''})")


def count_prompt(text: str, encoding: str) -> int:
    """Tokens of a rendered prompt as a server tokenizes it: the special tokens the
    template writes are special tokens, and the BOS the server adds is counted once.
    BPE never crosses a special token, so the text between them is counted piece by
    piece through count_text's cache: a prompt that differs from the last one only at
    its end costs only its new pieces."""
    spec = SPECS[encoding]
    if spec.bos and text.startswith(spec.bos):
        text = text[len(spec.bos):]  # the server strips it and adds its own
    pieces = _special_splitter(encoding).split(text)
    # split() with one capturing group: ordinary text at even indexes, specials at odd
    total = (len(pieces) - 1) // 2 + bool(spec.bos)
    for piece in pieces[::2]:
        if piece:
            total += count_text(piece, encoding)
    return total


@lru_cache(maxsize=16)
def _special_splitter(encoding: str):
    import re

    names = sorted(SPECS[encoding].specials, key=len, reverse=True)  # longest first
    return re.compile("(" + "|".join(map(re.escape, names)) + ")")


def _template_context(encoding: str):
    from desktop_app.core.chat_template import TemplateContext

    spec = SPECS[encoding]
    return TemplateContext(bos_token=spec.bos or "", eos_token="")


@lru_cache(maxsize=64)
def template_framing(template: str, encoding: str, day: _dt.date) -> ChatFraming | None:
    """The framing of chat template `template` under `encoding`, measured by rendering
    probe chats (None when the template cannot render them). Cached per pair and `day`
    (a template may write today's date, which the server renders as its today)."""
    from desktop_app.core.chat_template import TemplateError, measure_framing, template_source

    try:
        m = measure_framing(template_source(template), _template_context(encoding),
                            lambda t: count_prompt(t, encoding),
                            lambda t: count_text(t, encoding))
    except TemplateError:
        return None
    return ChatFraming(per_message=0, per_name=0, reply_priming=m.fixed,
                       role_heads=tuple(sorted(m.heads.items())), no_system=m.no_system,
                       names=False, source=f"the {template} chat template")


def _content_tokens(content: Any, encoding: str) -> tuple[int, bool]:
    """Tokens of a message's content and whether that count is exact."""
    if content is None:
        return 0, True
    if isinstance(content, str):
        return count_text(content, encoding), True
    if isinstance(content, list):  # content parts: text and images
        total, exact = 0, True
        for part in content:
            if isinstance(part, Mapping) and part.get("type") == "text":
                total += count_text(str(part.get("text", "")), encoding)
            elif isinstance(part, str):
                total += count_text(part, encoding)
            else:
                total += IMAGE_ESTIMATE
                exact = False
        return total, exact
    return count_text(str(content), encoding), True


def message_tokens(
    message: Mapping[str, Any], model: ModelInfo, framing: ChatFraming | None = None
) -> tuple[int, bool]:
    """Tokens one chat message adds to a prompt (framing included), and exactness.
    `framing` defaults to chat_framing(model); callers costing many messages pass it."""
    framing = framing or chat_framing(model)
    enc = model.encoding
    total, exact = framing.head(str(message.get("role") or ""), enc), True
    for key, value in message.items():
        if key == "content":
            n, ok = _content_tokens(value, enc)
            total += n
            exact = exact and ok
        elif key == "name" and value and framing.names:
            total += count_text(str(value), enc) + framing.per_name
        elif key == "tool_calls" and value:
            import json

            total += count_text(json.dumps(value, separators=(",", ":")), enc)
            exact = False
        elif key == "tool_call_id" and value:
            total += count_text(str(value), enc)
    return total, exact


def tools_tokens(tools: Iterable[Mapping[str, Any]], model: ModelInfo) -> int:
    """Tokens that tool definitions add, by the rule in OpenAI's cookbook (the exact
    rendering is undocumented, so callers mark such counts estimated)."""
    tools = list(tools)
    if not tools:
        return 0
    enc = model.encoding
    if enc == "o200k_base":
        func_init, prop_init, prop_key, enum_init, enum_item, func_end = 7, 3, 3, -3, 3, 12
    else:
        func_init, prop_init, prop_key, enum_init, enum_item, func_end = 10, 3, 3, -3, 3, 12
    total = 0
    for tool in tools:
        function = tool.get("function", tool)
        total += func_init
        desc = str(function.get("description", "")).removesuffix(".")
        total += count_text(f"{function.get('name', '')}:{desc}", enc)
        properties = (function.get("parameters") or {}).get("properties") or {}
        if properties:
            total += prop_init
            for key, prop in properties.items():
                total += prop_key
                if "enum" in prop:
                    total += enum_init
                    for item in prop["enum"]:
                        total += enum_item + count_text(str(item), enc)
                p_desc = str(prop.get("description", "")).removesuffix(".")
                total += count_text(f"{key}:{prop.get('type', '')}:{p_desc}", enc)
    return total + func_end


def count_chat(
    messages: Sequence[Mapping[str, Any]],
    model: ModelInfo | str,
    tools: Sequence[Mapping[str, Any]] | None = None,
) -> TokenCount:
    """Prompt tokens the server counts for `messages` (and `tools`) sent to `model`:
    the rendered chat template counted whole when we have it, else the sum of the
    messages' framing and content."""
    info = lookup_model(model) if isinstance(model, str) else model
    exact_prompt = rendered_prompt_tokens(messages, info) if not tools else None
    if exact_prompt is not None:
        exact_prompt += info.learned_framing.tokens(len(messages))
        return TokenCount(exact_prompt, True, info.encoding, info.name, info.warning)
    framing = chat_framing(info)
    starts_with_system = bool(messages) and messages[0].get("role") == "system"
    total, exact = framing.fixed(starts_with_system), info.chat_exact
    for message in messages:
        n, ok = message_tokens(message, info, framing)
        total += n
        exact = exact and ok
    if tools:
        total += tools_tokens(tools, info)
        exact = False
    return TokenCount(total, exact, info.encoding, info.name, info.warning)


def rendered_prompt_tokens(messages: Sequence[Mapping[str, Any]], model: ModelInfo
                           ) -> int | None:
    """The exact prompt tokens of `messages` under the model's chat template and
    tokenizer, or None when the model has no template here, a message is not plain
    text, or the template refuses the messages."""
    if not (model.template and model.exact) or not all(
            isinstance(m.get("content"), str | None) for m in messages):
        return None
    from desktop_app.core.chat_template import TemplateError, render, template_source

    try:
        prompt = render(template_source(model.template),
                        [{"role": m.get("role"), "content": m.get("content") or ""}
                         for m in messages],
                        context=_template_context(model.encoding))
    except TemplateError:
        return None
    return count_prompt(prompt, model.encoding)


def encode_prompt(text: str, encoding: str) -> list[int]:
    """The token ids of a rendered prompt as a server reads it (see count_prompt): its
    special tokens as themselves, the BOS once. len() of it is count_prompt's figure."""
    spec = SPECS[encoding]
    if spec.bos and text.startswith(spec.bos):
        text = text[len(spec.bos):]
    ids = [spec.specials[spec.bos]] if spec.bos else []
    pieces = _special_splitter(encoding).split(text)
    for k, piece in enumerate(pieces):
        if k % 2:
            ids.append(spec.specials[piece])
        elif piece:
            ids.extend(encode(piece, encoding))
    return ids


# --- incremental counting of a draft -------------------------------------------------
# tiktoken splits text with a regex before BPE, and BPE never crosses those pieces. A
# space after a non-space character, or a newline after a letter or digit, when a letter
# or digit follows, always starts a new piece in all four encodings, so text cut there
# counts the same in parts as whole (tests/test_tokens.py checks this with hypothesis).
# A keystroke then recounts only the chunk it touched.
_CHUNK_CHARS = 512  # target chunk length; small enough that one recount is cheap


def _is_split_point(text: str, i: int) -> bool:
    """May text be cut just before index i without changing its token count?"""
    if not 0 < i < len(text) - 1 or not text[i + 1].isalnum():
        return False
    if text[i] == " ":
        return not text[i - 1].isspace()
    # punctuation pulls the newlines after it into its own piece ("?\n")
    return text[i] == "\n" and text[i - 1].isalnum()


def split_for_counting(text: str, target: int = _CHUNK_CHARS) -> list[str]:
    """Cut text into chunks of about `target` characters at safe split points."""
    chunks: list[str] = []
    start = 0
    n = len(text)
    while n - start > target * 2:
        cut = start + target
        # search forward (then backward) for a safe point near the target
        limit = min(n - 1, start + target * 4)
        while cut < limit and not _is_split_point(text, cut):
            cut += 1
        if cut >= limit:
            break  # no safe point nearby (one huge word): keep the rest whole
        chunks.append(text[start:cut])
        start = cut
    chunks.append(text[start:])
    return chunks


def _common_prefix(a: str, b: str) -> int:
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:  # binary search with C-speed slice compares
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: str, b: str, limit: int) -> int:
    lo, hi = 0, min(len(a), len(b)) - limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid :] == b[len(b) - mid :]:
            lo = mid
        else:
            hi = mid - 1
    return lo


Edit = tuple[int, int, str]  # (position, characters removed there, the text put in)


def _check_edit(position: int, removed: int, length: int) -> None:
    if not (position >= 0 and removed >= 0 and position + removed <= length):
        raise ValueError(f"edit ({position}, {removed}) outside a text of {length} characters")


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """`text` after `edits`, each made to the text as the one before it left it."""
    for position, removed, inserted in edits:
        _check_edit(position, removed, len(text))
        text = text[:position] + inserted + text[position + removed:]
    return text


class DraftCounter:
    """Counts a draft as it is edited, recounting only the chunks an edit touched.
    The total always equals count_text(text, encoding). The chunks are the draft: an
    edit given with its text (apply) changes the chunks it touched and copies nothing
    else; the whole text is joined only when `text` is read."""

    def __init__(self, encoding: str = "o200k_base", text: str = "",
                 chunk_chars: int = _CHUNK_CHARS) -> None:
        self.encoding = encoding
        self.chunk_chars = chunk_chars
        self._text: str | None = ""  # the chunks joined, while no edit has changed them
        self._length = 0
        self._chunks: list[str] = [""]
        self._counts: list[int] = [0]
        self._starts: list[int] = [0]
        self.total = 0
        if text:
            self.update(text)

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = "".join(self._chunks)
        return self._text

    def __len__(self) -> int:
        return self._length

    def set_encoding(self, encoding: str) -> int:
        if encoding != self.encoding:
            self.encoding = encoding
            text, self._text, self._length = self.text, "", 0
            self._chunks, self._counts, self._starts, self.total = [""], [0], [0], 0
            self.update(text)
        return self.total

    def _unchanged_ends(self, text: str) -> tuple[int, int]:
        """Lengths of the common prefix and suffix of the old text and `text`. Whole
        chunks are compared in place first (no copies: a 10 MB draft stays cheap), then
        the one chunk where they differ is searched."""
        old, chunks = self.text, self._chunks
        pos, i = 0, 0
        while i < len(chunks) and text.startswith(chunks[i], pos):
            pos += len(chunks[i])
            i += 1
        if i < len(chunks):
            end = min(len(chunks[i]), len(text) - pos)
            pos += _common_prefix(chunks[i][:end], text[pos:pos + end])
        prefix = min(pos, len(old), len(text))
        limit = min(len(old), len(text)) - prefix  # the suffix may not overlap the prefix
        back, j = 0, len(chunks) - 1
        while j >= 0 and back + len(chunks[j]) <= limit and text.endswith(
                chunks[j], 0, len(text) - back):
            back += len(chunks[j])
            j -= 1
        if j >= 0 and back < limit:
            span = min(len(chunks[j]), limit - back)
            back += _common_suffix(old[len(old) - back - span:len(old) - back],
                                   text[len(text) - back - span:len(text) - back], 0)
        return prefix, back

    def update(self, text: str) -> int:
        """Count `text`, the draft as it is now: where it differs from the draft counted
        is found by comparing them (chunk by chunk, in place), and only the chunks
        there are counted again. An edit known with its text is cheaper: apply()."""
        old = self._length
        if self._text is not None and (text is self._text or text == self._text):
            return self.total
        prefix, suffix = self._unchanged_ends(text)
        if prefix == old == len(text):
            self._text = text  # the same draft: kept, so that it is not joined again
            return self.total
        first, last, region_start, region_end = self._region(prefix, old - suffix)
        delta = len(text) - old
        self._recount(first, last, text[region_start:region_end + delta], delta)
        self._text = text
        return self.total

    def apply(self, edits: Sequence[Edit]) -> int:
        """Count the draft after `edits` (position, removed, inserted text), each made to
        the text as the one before it left it: the chunks around each edit are counted
        again, and the rest of the draft is neither copied nor compared. Edits that do
        not fit the draft raise ValueError before any is made."""
        length = self._length
        for position, removed, inserted in edits:
            _check_edit(position, removed, length)
            length += len(inserted) - removed
        for position, removed, inserted in edits:
            first, last, region_start, region_end = self._region(position, position + removed)
            region = "".join(self._chunks[first:last + 1])
            at = position - region_start
            self._recount(first, last, region[:at] + inserted + region[at + removed:],
                          len(inserted) - removed)
            self._text = None
        return self.total

    def _region(self, prefix: int, old_end: int) -> tuple[int, int, int, int]:
        """The chunks an edit of the old text between `prefix` and `old_end` touched,
        widened by one on each side (a chunk boundary depends on the characters around
        it, which the edit may have changed): first, last, and where they begin and end."""
        first = max(0, bisect.bisect_right(self._starts, prefix) - 2)
        last = min(len(self._chunks) - 1, bisect.bisect_right(self._starts, old_end) + 1)
        return first, last, self._starts[first], self._starts[last] + len(self._chunks[last])

    def _recount(self, first: int, last: int, region: str, delta: int) -> None:
        """Put `region` in place of chunks first..last, counted; `delta`: how much
        longer the draft became."""
        new_chunks = split_for_counting(region, self.chunk_chars) if region else [""]
        new_counts = [count_text(c, self.encoding) for c in new_chunks]
        self.total += sum(new_counts) - sum(self._counts[first : last + 1])
        starts, pos = [], self._starts[first]
        for c in new_chunks:
            starts.append(pos)
            pos += len(c)
        tail_starts = [s + delta for s in self._starts[last + 1 :]]
        self._chunks[first : last + 1] = new_chunks
        self._counts[first : last + 1] = new_counts
        self._starts = self._starts[:first] + starts + tail_starts
        self._length += delta
