"""The model catalog: context window, maximum output, encoding, prices and whether our
counts for a model are exact. Data lives in resources/models.json."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from desktop_app.paths import resource

if TYPE_CHECKING:
    from pathlib import Path

ENCODINGS = ("o200k_base", "cl100k_base", "p50k_base", "r50k_base")


@dataclass(frozen=True)
class ModelInfo:
    name: str
    provider: str
    context_window: int
    max_output: int
    encoding: str
    input_per_million: float = 0.0
    output_per_million: float = 0.0
    exact: bool = False  # True when `encoding` is the model's own tokenizer
    aliases: tuple[str, ...] = ()
    note: str | None = None
    known: bool = True  # False for the fallback given to names the catalog lacks
    warning: str | None = None

    def cost(self, prompt_tokens: int, completion_tokens: int = 0) -> float:
        """Dollar cost of one request at list prices."""
        return (
            prompt_tokens * self.input_per_million + completion_tokens * self.output_per_million
        ) / 1_000_000

    def with_context_window(self, tokens: int) -> ModelInfo:
        """The same model with a user's or server's window (e.g. Ollama's num_ctx)."""
        return replace(self, context_window=tokens, max_output=min(self.max_output, tokens))


class CatalogError(ValueError):
    pass


@dataclass
class Catalog:
    models: list[ModelInfo]
    fallback_encoding: str = "o200k_base"
    fallback_context_window: int = 8192
    fallback_max_output: int = 4096
    _by_name: dict[str, ModelInfo] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for model in self.models:
            for key in (model.name, *model.aliases):
                self._by_name[key.lower()] = model

    @classmethod
    def from_file(cls, path: Path) -> Catalog:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            fallback = doc.get("fallback", {})
            models = [
                ModelInfo(
                    name=m["name"],
                    provider=m["provider"],
                    context_window=int(m["context_window"]),
                    max_output=int(m["max_output"]),
                    encoding=m["encoding"],
                    input_per_million=float(m.get("input_per_million", 0)),
                    output_per_million=float(m.get("output_per_million", 0)),
                    exact=bool(m.get("exact", False)),
                    aliases=tuple(m.get("aliases", ())),
                    note=m.get("note"),
                )
                for m in doc["models"]
            ]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CatalogError(f"model catalog {path} is unreadable: {exc}") from exc
        for model in models:
            if model.encoding not in ENCODINGS:
                raise CatalogError(
                    f"model {model.name!r} names unknown encoding {model.encoding!r}"
                )
        return cls(
            models=models,
            fallback_encoding=fallback.get("encoding", "o200k_base"),
            fallback_context_window=int(fallback.get("context_window", 8192)),
            fallback_max_output=int(fallback.get("max_output", 4096)),
        )

    def find(self, name: str) -> ModelInfo | None:
        """The catalog entry for a name, alias, dated snapshot or local tag, if any."""
        key = name.strip().lower()
        if key in self._by_name:
            return self._by_name[key]
        # Provider prefixes ("openai/gpt-4o", "models/…") and Ollama/LM Studio tags.
        candidates = [key, key.rsplit("/", 1)[-1]]
        for cand in list(candidates):
            candidates.append(cand.split(":", 1)[0])
        for cand in candidates:
            if cand in self._by_name:
                return self._by_name[cand]
        # Dated or suffixed snapshots ("gpt-4o-2024-08-06", "llama3.1-8b-q4"): longest prefix.
        best: ModelInfo | None = None
        best_len = 0
        for cand in candidates:
            for known, model in self._by_name.items():
                if len(known) > best_len and re.match(re.escape(known) + r"(?:[-_.:@ ]|$)", cand):
                    best, best_len = model, len(known)
        return best

    def lookup(self, name: str) -> ModelInfo:
        """Always a usable ModelInfo: an unknown name gets an estimated fallback with a
        warning instead of an error."""
        found = self.find(name)
        if found is not None:
            return found
        return ModelInfo(
            name=name,
            provider="unknown",
            context_window=self.fallback_context_window,
            max_output=self.fallback_max_output,
            encoding=self.fallback_encoding,
            exact=False,
            known=False,
            warning=(
                f"unknown model {name!r}: counting with {self.fallback_encoding} (estimated) "
                f"and assuming a {self.fallback_context_window:,}-token window"
            ),
        )


_default: Catalog | None = None
_lock = threading.Lock()


def default_catalog() -> Catalog:
    """The shipped catalog, read once per process."""
    global _default
    with _lock:
        if _default is None:
            _default = Catalog.from_file(resource("models.json"))
        return _default


def lookup_model(name: str) -> ModelInfo:
    return default_catalog().lookup(name)
