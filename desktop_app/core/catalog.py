"""The model catalog: context window, maximum output, encoding, prices and whether our
counts for a model are exact. Data lives in resources/models.json, built from LiteLLM's
community list by packaging/build_model_catalog.py (core.catalog_source); a catalog
written by `token-budget models --update FILE` into the data folder (OVERRIDE_FILE) is
laid over it, entry by entry, and the user's own models (core.user_models: models.json in
the data folder) over both."""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from desktop_app.core.framing_fit import NONE as NO_DELTA
from desktop_app.core.framing_fit import FramingDelta
from desktop_app.paths import resource

ENCODINGS = ("o200k_base", "cl100k_base", "p50k_base", "r50k_base")
# The catalog `token-budget models --update FILE` writes into the data folder; its
# entries replace the shipped ones of the same name.
OVERRIDE_FILE = "models-litellm.json"
log = logging.getLogger(__name__)


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
    template: str | None = None  # its chat template (core.chat_template), when we have it
    family: str | None = None  # the tokenizer family, in words, when known
    # what the server's framing adds to our count, learned from its reports
    learned_framing: FramingDelta = NO_DELTA
    # the price of a prompt token read from the provider's prompt cache; None: not known
    cached_input_per_million: float | None = None
    # one of your own models (core.user_models): how you said it counts, a shipped
    # tokenizer's name, "server" or "gguf:PATH"; None: from its name, as for the others
    yours: bool = False
    tokenizer_choice: str | None = None
    counting_note: str | None = None  # where its counting comes from, when it is yours

    def cost(self, prompt_tokens: int, completion_tokens: int = 0,
             cached_tokens: int = 0) -> float:
        """Dollar cost of one request at list prices. `cached_tokens` of the prompt were
        read from the provider's cache: priced at the cache-read price when known, else
        at the input price like the rest of the prompt."""
        cached = min(max(cached_tokens, 0), max(prompt_tokens, 0))
        cache_price = (self.input_per_million if self.cached_input_per_million is None
                       else self.cached_input_per_million)
        return (
            (prompt_tokens - cached) * self.input_per_million + cached * cache_price
            + completion_tokens * self.output_per_million
        ) / 1_000_000

    @property
    def chat_exact(self) -> bool:
        """Are chat requests counted exactly: the model's own tokenizer, and its chat
        framing known (OpenAI's published rule for its models, else the template)?"""
        return self.exact and (self.template is not None or self.learned_framing.exact
                               or self.provider not in ("local", "unknown"))

    def counting_source(self) -> str:
        """Where this model's tokenizer and chat template come from, in words."""
        if self.counting_note:
            return self.counting_note
        if self.provider not in ("local", "unknown") and self.exact:
            return f"{self.encoding}, the provider's own tokenizer (shipped)"
        if not self.exact:
            why = f" ({self.family}'s tokenizer is not shipped)" if self.family else ""
            return f"estimated with {self.encoding}{why}"
        tokenizer = f"{self.family or self.encoding} tokenizer {self.encoding} (shipped)"
        if not self.template:
            return f"{tokenizer}; no chat template here: framing estimated"
        where = "from the server" if self.template.startswith("sha256:") else "shipped"
        return f"{tokenizer}; chat template {self.template} ({where})"

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
    # what went wrong reading a data-folder catalog (the shipped one is used instead)
    problems: tuple[str, ...] = ()
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
                    cached_input_per_million=(
                        None if m.get("cached_input_per_million") is None
                        else float(m["cached_input_per_million"])),
                    exact=bool(m.get("exact", False)),
                    aliases=tuple(m.get("aliases", ())),
                    note=m.get("note"),
                )
                for m in doc["models"]
            ]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CatalogError(f"model catalog {path} is unreadable: {exc}") from exc
        for model in models:
            if model.encoding not in ENCODINGS:  # the catalog names OpenAI's encodings
                raise CatalogError(
                    f"model {model.name!r} names unknown encoding {model.encoding!r}"
                )
        return cls(
            models=models,
            fallback_encoding=fallback.get("encoding", "o200k_base"),
            fallback_context_window=int(fallback.get("context_window", 8192)),
            fallback_max_output=int(fallback.get("max_output", 4096)),
        )

    def overlaid(self, other: Catalog) -> Catalog:
        """This catalog with `other`'s entries on top: an entry of `other` replaces the
        one of the same name (in its place in the list) and takes over its aliases;
        entries of ours that `other` names as an alias go; new ones come last."""
        mine = {m.name.lower() for m in self.models}
        claimed = {k.lower(): m for m in other.models for k in (m.name, *m.aliases)}
        models: list[ModelInfo] = []
        for model in self.models:
            replacement = claimed.get(model.name.lower())
            if replacement is not None:
                if replacement.name.lower() == model.name.lower():
                    models.append(replacement)
                continue
            aliases = tuple(a for a in model.aliases if a.lower() not in claimed)
            models.append(replace(model, aliases=aliases) if aliases != model.aliases
                          else model)
        models += [m for m in other.models if m.name.lower() not in mine]
        return Catalog(models=models, fallback_encoding=self.fallback_encoding,
                       fallback_context_window=self.fallback_context_window,
                       fallback_max_output=self.fallback_max_output,
                       problems=self.problems + other.problems)

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
        if found is not None and found.yours and found.tokenizer_choice:
            from desktop_app.core.user_models import as_counted

            return as_counted(found, name)
        if found is not None:
            return with_family(found, name)
        return with_family(ModelInfo(
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
        ), name)


def with_family(info: ModelInfo, name: str) -> ModelInfo:
    """`info` counted with its family's own tokenizer and chat template when we ship
    them. OpenAI's models keep tiktoken and OpenAI's framing rule: that is what their
    API bills. The name asked for is tried first ("llama3.1:8b" before "llama3")."""
    from desktop_app.core.families import family_of
    from desktop_app.core.tokenizers import SPECS

    if info.provider not in ("local", "unknown"):
        return info
    family = family_of(name) or family_of(info.name)
    if family is None:
        return info
    if family.tokenizer is None or family.tokenizer not in SPECS:
        return replace(info, family=family.name)
    warning = None if info.known else (
        f"unknown model {name!r}: counted with the {family.name} tokenizer; assuming a "
        f"{info.context_window:,}-token window until the server says")
    return replace(info, encoding=family.tokenizer, exact=True, template=family.template,
                   family=family.name, warning=warning)


_default: Catalog | None = None
_data_dir: Path | None = None
_lock = threading.Lock()


def default_data_dir() -> Path:
    """The data folder, as store.database.default_data_dir finds it (not imported from
    there: the store's imports would slow every count on the command line)."""
    override = os.environ.get("TOKEN_BUDGET_DATA_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("TokenBudget", appauthor=False))


def override_path(data_dir: Path | str | None = None) -> Path:
    """Where `token-budget models --update` writes its catalog for a data folder."""
    folder = Path(data_dir).expanduser() if data_dir else default_data_dir()
    return folder / OVERRIDE_FILE


def load_catalog(data_dir: Path | str | None = None) -> Catalog:
    """The shipped catalog with the data folder's catalog (if any) laid over it, and
    your own models (core.user_models) over both. A data folder's file that cannot be
    read, or a model of yours that is not right, is left out with a one-line warning
    (in `problems`, and logged): the shipped catalog keeps working."""
    from desktop_app.core.user_models import load_user_models, model_info

    catalog = Catalog.from_file(resource("models.json"))
    path = override_path(data_dir)
    if path.is_file():
        try:
            catalog = catalog.overlaid(Catalog.from_file(path))
        except CatalogError as exc:
            problem = f"{str(exc).splitlines()[0]}; using the shipped catalog"
            log.warning(problem)
            catalog = replace(catalog, problems=(problem,), _by_name={})
    yours, problems = load_user_models(data_dir)
    for problem in problems:
        log.warning(problem)
    if yours or problems:
        catalog = catalog.overlaid(Catalog(models=[model_info(m) for m in yours],
                                           problems=tuple(problems)))
    return catalog


def set_data_dir(data_dir: Path | str | None) -> None:
    """Read the data-folder catalog from `data_dir` from now on (None: the default
    folder); the next lookup reads the catalogs again."""
    global _default, _data_dir
    with _lock:
        _data_dir = Path(data_dir).expanduser() if data_dir else None
        _default = None
    lookup_model.cache_clear()


def default_catalog() -> Catalog:
    """The shipped catalog and the data folder's, read once per process."""
    global _default
    with _lock:
        if _default is None:
            _default = load_catalog(_data_dir)
        return _default


@lru_cache(maxsize=512)
def lookup_model(name: str) -> ModelInfo:
    """The shipped catalog's entry for `name` (cached: names repeat on every preview)."""
    return default_catalog().lookup(name)
