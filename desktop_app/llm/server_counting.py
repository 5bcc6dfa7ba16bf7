"""Counting on the server: the servers that can say how many tokens a chat request is
(llama.cpp renders its template with /apply-template and counts with /tokenize; vLLM's
/tokenize takes the messages), and which of our shipped tokenizers a server's vocabulary
is (its /tokenize ids for a probe text equal ours), so that everything after counts
exactly offline. Never raises for a server that cannot say: answers None."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from desktop_app.core.providers import ProviderConfig

# Scripts, digits, code and whitespace: two vocabularies that split all of it alike are
# the same vocabulary for every purpose here.
PROBE = ("Token budgets, 1234567 tokens: naïve café — Größe, размер, 大小 サイズ 🙂\n"
         "def f(x):\n    return {'a': [1, 2.5e-3]}\t  \n\n```json\n{\"k\": null}\n```")


@dataclass(frozen=True)
class ServerCounting:
    """What a server can tell about counting its model."""

    tokenizer: str | None  # the shipped tokenizer its vocabulary matches, if any
    template: str | None  # its chat template's source, if it says
    counts_chats: bool  # it counts whole chat requests (count_chat_on_server works)
    source: str  # where this came from, for people


def _http():
    from desktop_app.llm.http_library import http_module

    return http_module()


def _plain(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{"role": m.get("role"), "content": m.get("content") or ""} for m in messages]


def count_chat_on_server(config: ProviderConfig, model: str,
                         messages: Sequence[Mapping[str, Any]], api_key: str | None = None,
                         timeout: float = 10.0) -> int | None:
    """The prompt tokens the server counts for `messages`, asked of the server itself,
    or None when it cannot say."""
    http = _http()
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    root = config.server_root
    try:
        with http.Client(timeout=timeout, headers=headers) as session:
            # llama.cpp: its own template rendering, then its own tokenizer, with the
            # special tokens parsed and the BOS added, as a chat completion does
            applied = session.post(f"{root}/apply-template", json={"messages": _plain(messages)})
            if applied.status_code == 200:
                prompt = applied.json()["prompt"]
                tokens = session.post(f"{root}/tokenize", json={
                    "content": prompt, "add_special": True, "parse_special": True})
                if tokens.status_code == 200:
                    return len(tokens.json()["tokens"])
            # vLLM: /tokenize renders the chat itself
            counted = session.post(f"{root}/tokenize", json={
                "model": model, "messages": _plain(messages), "add_generation_prompt": True})
            if counted.status_code == 200:
                body = counted.json()
                if isinstance(body.get("count"), int):
                    return int(body["count"])
    except (http.HTTPError, ValueError, KeyError, TypeError):
        return None
    return None


def matching_tokenizer(ids: Sequence[int], candidates: Sequence[str] | None = None) -> str | None:
    """The shipped tokenizer that splits PROBE into exactly `ids`, if one does."""
    from desktop_app.core.tokenizers import SPECS, get_encoding

    for name in candidates or [n for n, s in SPECS.items() if not s.openai] + list(
            n for n, s in SPECS.items() if s.openai):
        spec = SPECS[name]
        ours = [i + spec.id_offset for i in get_encoding(name).encode_ordinary(PROBE)]
        if ours == list(ids):
            return name
    return None


def discover_counting(config: ProviderConfig, model: str, api_key: str | None = None,
                      timeout: float = 5.0) -> ServerCounting | None:
    """Ask the server which vocabulary and chat template it serves `model` with: a
    llama.cpp-style server by tokenizing PROBE and reading /props, Ollama by its model
    file's tokenizer.ggml.pre (/api/show). None when it says neither."""
    http = _http()
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    root = config.server_root
    try:
        with http.Client(timeout=timeout, headers=headers) as session:
            tokenized = session.post(f"{root}/tokenize",
                                     json={"content": PROBE, "add_special": False})
            if tokenized.status_code != 200:
                return _ollama_counting(session, root, model)
            ids = tokenized.json().get("tokens")
            if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
                return None
            template = None
            props = session.get(f"{root}/props")
            if props.status_code == 200:
                source = props.json().get("chat_template")
                template = source if isinstance(source, str) and source.strip() else None
            applies = session.post(f"{root}/apply-template", json={
                "messages": [{"role": "user", "content": "hi"}]}).status_code == 200
    except (http.HTTPError, ValueError, KeyError, TypeError):
        return None
    tokenizer = matching_tokenizer(ids)
    said = f"the server's vocabulary is {tokenizer}" if tokenizer else (
        "the server's vocabulary is none we ship")
    return ServerCounting(tokenizer, template, applies, f"{said} (asked {root}/tokenize)")


def count_text_on_server(config: ProviderConfig, model: str, text: str,
                         api_key: str | None = None, timeout: float = 10.0) -> int | None:
    """The tokens of plain `text` by the server's tokenizer (no special tokens parsed,
    none added), or None when it cannot say."""
    http = _http()
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        with http.Client(timeout=timeout, headers=headers) as session:
            response = session.post(f"{config.server_root}/tokenize", json={
                "content": text, "add_special": False, "parse_special": False,
                "model": model, "prompt": text, "add_special_tokens": False})
            if response.status_code != 200:
                return None
            body = response.json()
            if isinstance(body.get("tokens"), list):
                return len(body["tokens"])
            return int(body["count"]) if isinstance(body.get("count"), int) else None
    except (http.HTTPError, ValueError, KeyError, TypeError):
        return None


def _ollama_counting(session: Any, root: str, model: str) -> ServerCounting | None:
    """Ollama's model info names the GGUF pre-tokenizer; its chat template is a Go
    template, not the maker's Jinja, so the framing is learned from its reports."""
    shown = session.post(f"{root}/api/show", json={"model": model, "name": model})
    if shown.status_code != 200:
        return None
    from desktop_app.core.tokenizers import PRE_TOKENIZERS

    info = shown.json().get("model_info") or {}
    tokenizer = PRE_TOKENIZERS.get(str(info.get("tokenizer.ggml.pre") or ""))
    if tokenizer is None:
        return None
    return ServerCounting(tokenizer, None, False,
                          f"Ollama's model file names the {tokenizer} vocabulary")
