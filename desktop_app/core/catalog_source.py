"""The model catalog built from LiteLLM's community list of models
(`model_prices_and_context_window_backup.json` in the `litellm` package, MIT): used by
packaging/build_model_catalog.py for the shipped resources/models.json and by
`token-budget models --update FILE` for a catalog in the user's data folder. LiteLLM is
not a dependency of the app: its file is read at build time, or given by the user.

What is taken from it:
- chat models only (`"mode": "chat"`) of the providers in PROVIDERS, without the
  audio, realtime, search, image and other special-purpose entries (EXCLUDED), and
  without entries that lack a window, an output limit or an input price;
- `context_window` is LiteLLM's `max_input_tokens`: the most a prompt may be. For most
  models that is the whole window (gpt-4o: 128,000 for prompt and reply together);
  where a provider gives a separate input limit (gpt-5: 272,000 in plus 128,000 out of
  400,000) it is that limit, so a plan that keeps the reply reserve inside it never
  exceeds either limit (it may leave up to the reserve unused). `max_output` is
  `max_output_tokens` (LiteLLM's legacy `max_tokens` is not read: it means either);
- prices per token times a million: `input_cost_per_token`, `output_cost_per_token`,
  `cache_read_input_token_cost` (standard tier, the first price band);
- the encoding: for OpenAI's models the one tiktoken names for the model
  (`tiktoken.model.encoding_name_for_model`, with its prefix map), marked exact; a model
  tiktoken names none for is estimated with o200k_base. Other providers publish no
  tiktoken encoding: estimated with cl100k_base, as before.
- not the names of local models (LEFT_TO_LOCAL, and the previous catalog's local
  entries), which keep their own entries;
- one entry per model: dated snapshots and other spellings with the same window, limit,
  prices and encoding become aliases of the shortest name ("gpt-4o-2024-08-06" of
  "gpt-4o"); a snapshot whose figures differ stays its own entry ("gpt-4o-2024-05-13").
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SOURCE_FILE = "model_prices_and_context_window_backup.json"
BUILDER = "packaging/build_model_catalog.py"

# LiteLLM's provider -> ours. Google's models come from its Gemini API (AI Studio) list;
# open models served by groq, together, fireworks and the like are left to the local
# entries, which count them with their makers' tokenizers.
PROVIDERS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "google",
    "mistral": "mistral",
    "deepseek": "deepseek",
    "xai": "xai",
}
PROVIDER_ORDER = ("openai", "anthropic", "google", "mistral", "deepseek", "xai")
# Special-purpose entries: not what people chat with here, or not chat at all.
EXCLUDED = re.compile(
    r"^ft:|audio|realtime|tts|transcribe|search|computer-use|image|robotics|lyria|"
    r"deep-research|embed|moderation|gemma|learnlm|-exp-|omni|voxtral|vibe-cli|^labs-|"
    r"container"
)
# Other makers' models that a provider also hosts (Mistral serves GLM and DeepSeek).
FOREIGN = {"mistral": re.compile(r"^(zai-|glm-|deepseek-)")}
# Legacy cloud names that are also Ollama's names for open models run locally
# ("mistral-small:24b", "deepseek-coder:6.7b"): left to the local entries and families,
# which count them with the makers' tokenizers where we ship them. So are the names and
# aliases of the previous catalog's local entries (build_catalog).
LEFT_TO_LOCAL = frozenset({"mistral-small", "deepseek-coder"})

ESTIMATED_ENCODING = "cl100k_base"  # for providers that publish no tiktoken encoding
ESTIMATED_NOTE = "no public tiktoken encoding: counted with the nearest encoding"
OPENAI_FALLBACK_ENCODING = "o200k_base"  # OpenAI's models that tiktoken does not name yet
SUPPORTED_ENCODINGS = ("o200k_base", "cl100k_base", "p50k_base", "r50k_base")
# A name's remainder after its base that starts with one of these is another model
# ("gpt-5-mini" is not a snapshot of "gpt-5"), whatever its figures.
_VARIANT_WORDS = frozenset({
    "mini", "nano", "micro", "pro", "flash", "lite", "small", "medium", "large", "turbo",
    "max", "plus", "ultra", "fast", "code", "coder", "codex", "chat", "vision", "cyber",
    "instruct", "thinking",
})


class SourceError(ValueError):
    """The file is not a LiteLLM model list."""


@dataclass
class Entry:
    name: str
    provider: str
    context_window: int
    max_output: int
    encoding: str
    exact: bool
    input_per_million: float
    output_per_million: float
    cached_input_per_million: float | None
    source: str  # the LiteLLM key it was read from
    note: str | None = None
    aliases: list[str] = field(default_factory=list)

    def figures(self) -> tuple[object, ...]:
        return (self.context_window, self.max_output, self.encoding, self.exact,
                self.input_per_million, self.output_per_million,
                self.cached_input_per_million)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "name": self.name, "aliases": self.aliases, "provider": self.provider,
            "context_window": self.context_window, "max_output": self.max_output,
            "encoding": self.encoding, "input_per_million": self.input_per_million,
            "output_per_million": self.output_per_million,
            "cached_input_per_million": self.cached_input_per_million,
            "exact": self.exact,
        }
        if self.note:
            doc["note"] = self.note
        doc["source"] = f"litellm:{self.source}"
        return doc


def read_source(path: Path) -> tuple[dict[str, Any], str]:
    """The parsed LiteLLM file and its SHA-256."""
    try:
        data = path.read_bytes()
        doc = json.loads(data)
    except (OSError, ValueError) as exc:
        raise SourceError(f"cannot read {path}: {exc}") from exc
    if not isinstance(doc, dict) or not any(
            isinstance(v, dict) and "litellm_provider" in v for v in doc.values()):
        raise SourceError(f"{path} is not LiteLLM's model list (no litellm_provider entries)")
    return doc, hashlib.sha256(data).hexdigest()


def _per_million(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"a price is {value!r}")
    return round(float(value) * 1_000_000, 6)


def _count(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise TypeError(f"a token count is {value!r}")
    return int(value)


def openai_encoding(name: str) -> str | None:
    """The encoding tiktoken names for an OpenAI model, or None when it names none."""
    import tiktoken.model

    try:
        encoding = tiktoken.model.encoding_name_for_model(name)
    except KeyError:
        return None
    return encoding if encoding in SUPPORTED_ENCODINGS else None


def tiktoken_version() -> str:
    import tiktoken

    return str(getattr(tiktoken, "__version__", "unknown"))


def _entry(key: str, spec: Mapping[str, Any]) -> Entry | None:
    provider = PROVIDERS.get(str(spec.get("litellm_provider")))
    if provider is None or spec.get("mode") != "chat":
        return None
    litellm_provider = str(spec["litellm_provider"])
    name = key.removeprefix(f"{litellm_provider}/")
    foreign = FOREIGN.get(litellm_provider)
    if ("/" in name or EXCLUDED.search(name) or (foreign and foreign.match(name))
            or name.lower() in LEFT_TO_LOCAL):
        return None
    window = _count(spec.get("max_input_tokens"))
    output = _count(spec.get("max_output_tokens"))
    price_in = _per_million(spec.get("input_cost_per_token"))
    price_out = _per_million(spec.get("output_cost_per_token"))
    if window is None or output is None or price_in is None or price_out is None:
        return None
    if provider == "openai":
        named = openai_encoding(name)
        encoding, exact = named or OPENAI_FALLBACK_ENCODING, named is not None
        note = None if exact else (
            f"tiktoken {tiktoken_version()} names no encoding for this model: counted "
            f"with {OPENAI_FALLBACK_ENCODING}")
    else:
        encoding, exact, note = ESTIMATED_ENCODING, False, ESTIMATED_NOTE
    return Entry(
        name=name, provider=provider, context_window=window,
        max_output=min(output, window), encoding=encoding, exact=exact,
        input_per_million=price_in, output_per_million=price_out,
        cached_input_per_million=_per_million(spec.get("cache_read_input_token_cost")),
        source=key, note=note)


def _is_snapshot_of(name: str, base: str) -> bool:
    """Is `name` `base` with a date, a tag or a spelling after it, rather than another
    model ("gpt-4o-2024-08-06", "grok-4.20-0309-reasoning", "claude-opus-4-6@default";
    not "gpt-4o-mini", nor "claude-sonnet-5-5", a version)?"""
    if len(name) <= len(base) + 1 or not name.startswith(base) or name[len(base)] not in "-@":
        return False
    first = re.split(r"[-@._]", name[len(base) + 1:], maxsplit=1)[0].lower()
    if re.fullmatch(r"\d{1,2}", first):
        return False  # a version: claude-opus-4 -> claude-opus-4-5
    return first not in _VARIANT_WORDS


def _natural(name: str) -> list[object]:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", name.lower())]


def entries_from(doc: Mapping[str, Any]) -> list[Entry]:
    """One entry per model of the chosen providers, snapshots folded in as aliases."""
    by_name: dict[tuple[str, str], Entry] = {}
    for key, spec in doc.items():
        if key == "sample_spec" or not isinstance(spec, Mapping):
            continue
        try:
            entry = _entry(key, spec)
        except TypeError:
            continue  # a malformed figure: the entry is left out
        if entry is None:
            continue
        # the same model listed twice ("deepseek-chat", "deepseek/deepseek-chat"): first
        by_name.setdefault((entry.provider, entry.name.lower()), entry)
    kept: list[Entry] = []
    # Shortest names first, so a snapshot finds its base already kept.
    for entry in sorted(by_name.values(), key=lambda e: (len(e.name), e.name)):
        bases = [b for b in kept if b.provider == entry.provider
                 and _is_snapshot_of(entry.name, b.name) and b.figures() == entry.figures()]
        if bases:
            max(bases, key=lambda b: len(b.name)).aliases.append(entry.name)
        else:
            kept.append(entry)
    for entry in kept:
        entry.aliases.sort(key=_natural)
    return sorted(kept, key=lambda e: (PROVIDER_ORDER.index(e.provider), _natural(e.name)))


def build_catalog(
    source: Path,
    previous: Mapping[str, Any] | None = None,
    *,
    keep_missing: bool = True,
    litellm_version: str | None = None,
) -> dict[str, Any]:
    """The catalog document (models.json) built from LiteLLM's file at `source`.

    `previous` is the catalog it replaces. Its entries the source lacks (the local
    models, kept by hand, and retired cloud models) are kept as they are when
    `keep_missing`; their aliases that a new entry now claims go. The aliases of a
    previous entry whose name the source has are kept on the new entry, unless
    another entry claims them."""
    doc, sha256 = read_source(source)
    previous_models = list((previous or {}).get("models", []))
    local_keys = {k.lower() for m in previous_models if m.get("provider") == "local"
                  for k in (m["name"], *m.get("aliases", ()))}
    entries = [e for e in entries_from(doc) if e.name.lower() not in local_keys]
    for entry in entries:
        entry.aliases = [a for a in entry.aliases if a.lower() not in local_keys]
    owner: dict[str, Entry] = {}
    for entry in entries:
        for key in (entry.name, *entry.aliases):
            owner[key.lower()] = entry
    carried: list[dict[str, Any]] = []
    for old in previous_models:
        free = [a for a in old.get("aliases", []) if a.lower() not in owner]
        new = owner.get(str(old["name"]).lower())
        if new is not None:
            new.aliases.extend(a for a in free if a.lower() not in
                               {x.lower() for x in (new.name, *new.aliases)})
        elif keep_missing:
            carried.append({**old, "aliases": free, "source": old.get("source", "hand")})
    models: list[dict[str, Any]] = [e.to_json() for e in entries]
    cloud = [m for m in carried if m.get("provider") != "local"]
    local = [m for m in carried if m.get("provider") == "local"]
    models.extend(cloud)
    order = {p: i for i, p in enumerate(PROVIDER_ORDER)}
    models.sort(key=lambda m: (order.get(m["provider"], len(order)), _natural(m["name"])))
    models.extend(local)
    fallback = (previous or {}).get("fallback") or {
        "encoding": "o200k_base", "context_window": 8192, "max_output": 4096}
    return {
        "version": 1,
        "prices": "US dollars per million tokens, list prices (standard tier, first price "
                  "band); cached_input_per_million is the price of a prompt token read "
                  "from the provider's prompt cache (null: not known); local models are "
                  "free to run",
        "windows": "context_window is the most a prompt may be (LiteLLM's "
                   "max_input_tokens): the whole window for most models, the input limit "
                   "where the provider gives one (gpt-5: 272,000 of 400,000); max_output "
                   "is the most a reply may be",
        "source": {
            "name": f"LiteLLM {SOURCE_FILE}",
            "package": "litellm",
            "version": litellm_version or "unknown",
            "sha256": sha256,
            "licence": "MIT (LICENSE-litellm)",
            "providers": sorted(PROVIDERS),
            "built_by": BUILDER,
            "tiktoken": tiktoken_version(),
            "kept": "entries with source \"hand\" are not in the source (local models, "
                    "retired cloud models) and are kept from the previous catalog",
        },
        "fallback": fallback,
        "models": models,
    }


def write_catalog(doc: Mapping[str, Any], path: Path) -> None:
    """Write a catalog document as the shipped one is written (one key a line)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
