"""Your own models: `models.json` in the data folder, laid over the shipped catalog and
the catalog `token-budget models --update` writes (yours wins, name by name). Edited by
hand, in Settings (Models) or with `token-budget models --add NAME … / --remove NAME`.

The file is a JSON list of models, or {"models": [...]}; each model is an object:

    {"name": "my-finetune",                 required; what the pickers show
     "aliases": ["ft:my-finetune"],         other names for it (optional)
     "provider": "local",                   "local" (default), "openai", "anthropic", …
     "context_window": 32768,               required: tokens, at least 16
     "max_output": 4096,                    optional: at most the window (default 4,096)
     "input_per_million": 0.5,              dollars per million tokens (optional, 0)
     "output_per_million": 1.5,
     "cached_input_per_million": 0.05,      the cache-read price (optional: unknown)
     "tokenizer": "llama3"}                 optional, one of:
                                              a shipped tokenizer (core.tokenizers.SPECS:
                                              llama3, qwen2, tekken, o200k_base, …);
                                              {"gguf": "/path/to/model.gguf"}: read from
                                              the model file; "server": ask the server;
                                              left out: guessed from the name

A file that cannot be read, or a model in it that is not right, is named in one line in
the catalog's `problems` (the window's notice, stderr on the command line); everything
else keeps working. Writing goes through a temporary file and a rename, so a crash
leaves the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from desktop_app.core.catalog import ModelInfo

USER_FILE = "models.json"
SERVER = "server"  # "ask the server": the tokenizer the serving server says it uses
GGUF_PREFIX = "gguf:"  # ModelInfo.tokenizer_choice of a model read from its GGUF file
MIN_WINDOW = 16
# the largest window a model may be given: ten times the largest any model has (10M);
# past it a figure is a typing slip, and shares of it stop being whole numbers
MAX_WINDOW = 100_000_000
DEFAULT_MAX_OUTPUT = 4096
_PRICES = ("input_per_million", "output_per_million", "cached_input_per_million")


class UserModelError(ValueError):
    """A model, or the models file, that cannot be used; the message is one line."""


@dataclass(frozen=True)
class UserModel:
    name: str
    context_window: int
    max_output: int | None = None  # None: DEFAULT_MAX_OUTPUT, within the window
    provider: str = "local"
    aliases: tuple[str, ...] = ()
    input_per_million: float = 0.0
    output_per_million: float = 0.0
    cached_input_per_million: float | None = None
    # a shipped tokenizer's name, SERVER, or GGUF_PREFIX + a path; None: from the name
    tokenizer: str | None = None

    @property
    def output_limit(self) -> int:
        limit = DEFAULT_MAX_OUTPUT if self.max_output is None else self.max_output
        return min(limit, self.context_window)

    @property
    def gguf(self) -> str | None:
        if self.tokenizer and self.tokenizer.startswith(GGUF_PREFIX):
            return self.tokenizer[len(GGUF_PREFIX):]
        return None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.aliases:
            out["aliases"] = list(self.aliases)
        out["provider"] = self.provider
        out["context_window"] = self.context_window
        if self.max_output is not None:
            out["max_output"] = self.max_output
        out["input_per_million"] = self.input_per_million
        out["output_per_million"] = self.output_per_million
        if self.cached_input_per_million is not None:
            out["cached_input_per_million"] = self.cached_input_per_million
        if self.gguf is not None:
            out["tokenizer"] = {"gguf": self.gguf}
        elif self.tokenizer:
            out["tokenizer"] = self.tokenizer
        return out

    @classmethod
    def from_json(cls, raw: Any) -> UserModel:
        """A model from its JSON object; UserModelError names what is wrong."""
        if not isinstance(raw, Mapping):
            raise UserModelError(f"expected an object, got {_kind(raw)}")
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            raise UserModelError("it has no name")
        aliases = raw.get("aliases", [])
        if isinstance(aliases, str):
            aliases = [aliases]
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise UserModelError("aliases must be a list of names")
        provider = raw.get("provider", "local")
        if not isinstance(provider, str) or not provider.strip():
            raise UserModelError("provider must be a name such as local or openai")
        window = _whole(raw.get("context_window"), "context_window")
        if not MIN_WINDOW <= window <= MAX_WINDOW:
            raise UserModelError(f"context_window must be between {MIN_WINDOW} and "
                                 f"{MAX_WINDOW:,} tokens, got {window:,}")
        max_output = None
        if raw.get("max_output") is not None:
            max_output = _whole(raw["max_output"], "max_output")
            if not 1 <= max_output <= window:
                raise UserModelError(f"max_output must be between 1 and the window "
                                     f"({window:,}), got {max_output}")
        prices: dict[str, float | None] = {}
        for key in _PRICES:
            value = raw.get(key)
            if value is None:
                prices[key] = None
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise UserModelError(f"{key} must be a price of 0 or more, got {value!r}")
            prices[key] = float(value)
        return cls(
            name=name.strip(), context_window=window, max_output=max_output,
            provider=provider.strip(), aliases=tuple(a.strip() for a in aliases if a.strip()),
            input_per_million=prices["input_per_million"] or 0.0,
            output_per_million=prices["output_per_million"] or 0.0,
            cached_input_per_million=prices["cached_input_per_million"],
            tokenizer=parse_tokenizer(raw.get("tokenizer")))


def parse_tokenizer(value: Any) -> str | None:
    """A tokenizer as the file (or the command line) gives it: a shipped tokenizer's
    name, "server", {"gguf": PATH}, "gguf:PATH" or a path ending in .gguf."""
    from desktop_app.core.tokenizers import SPECS

    if value is None or value == "":
        return None
    if isinstance(value, Mapping) and set(value) == {"gguf"}:
        value = f"{GGUF_PREFIX}{value['gguf']}" if isinstance(value["gguf"], str) else None
    if isinstance(value, str):
        text = value.strip()
        if text in SPECS or text == SERVER:
            return text
        path = text[len(GGUF_PREFIX):] if text.startswith(GGUF_PREFIX) else (
            text if text.lower().endswith(".gguf") else "")
        if path.strip():
            return GGUF_PREFIX + str(Path(path.strip()).expanduser())
        raise UserModelError(f"unknown tokenizer {text!r} (one of {', '.join(SPECS)}, "
                             f'"server", or {{"gguf": "/path/to/model.gguf"}})')
    raise UserModelError('tokenizer must be a name, "server" or {"gguf": "/path/file.gguf"}')


def tokenizer_label(tokenizer: str | None) -> str:
    """A tokenizer choice in words, for the Settings list and the command line."""
    from desktop_app.core.tokenizers import SPECS

    if not tokenizer:
        return "from the name"
    if tokenizer == SERVER:
        return "ask the server"
    if tokenizer.startswith(GGUF_PREFIX):
        return f"from {Path(tokenizer[len(GGUF_PREFIX):]).name}"
    spec = SPECS.get(tokenizer)
    return f"{tokenizer} ({spec.family})" if spec else tokenizer


def _whole(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise UserModelError(f"{key} must be a whole number of tokens, got {value!r}")
    return int(value)


def _kind(value: Any) -> str:
    kinds: dict[type, str] = {dict: "an object", list: "a list", str: "text"}
    return kinds.get(type(value), type(value).__name__)


# --- the file ---------------------------------------------------------------------------
def user_models_path(data_dir: Path | str | None = None) -> Path:
    from desktop_app.core.catalog import default_data_dir

    folder = Path(data_dir).expanduser() if data_dir else default_data_dir()
    return folder / USER_FILE


def _read_raw(path: Path) -> tuple[Any, list[Any]]:
    """The file's document and its list of model objects; UserModelError (one line)
    when it cannot be read or is not shaped as documented."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserModelError(f"your models file {path} cannot be read: "
                             f"{exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise UserModelError(f"your models file {path} is not UTF-8 text") from exc
    try:
        doc = json.loads(text) if text.strip() else []
    except json.JSONDecodeError as exc:
        raise UserModelError(f"your models file {path} is not valid JSON ({exc.msg}, "
                             f"line {exc.lineno} column {exc.colno})") from exc
    models = doc.get("models") if isinstance(doc, Mapping) else doc
    if not isinstance(models, list):
        raise UserModelError(f"your models file {path} must hold a list of models or "
                             '{"models": [...]}')
    return doc, models


def read_user_models(path: Path) -> tuple[list[UserModel], list[str]]:
    """The models of `path` that are right, and one line for each thing that is not
    (the file as a whole, or a model in it). No file: nothing, no problem."""
    if not path.is_file():
        return [], []
    try:
        _doc, raw = _read_raw(path)
    except UserModelError as exc:
        return [], [f"{exc}; your models are left out, the shipped catalog is used"]
    models: list[UserModel] = []
    problems: list[str] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw, 1):
        label = (f"model {i} ({entry['name']!r})"
                 if isinstance(entry, Mapping) and isinstance(entry.get("name"), str)
                 else f"model {i}")
        try:
            model = UserModel.from_json(entry)
        except UserModelError as exc:
            problems.append(f"{path.name} in the data folder: {label} is left out: {exc}")
            continue
        if model.name.lower() in seen:
            problems.append(f"{path.name} in the data folder: {label} is left out: "
                            "an earlier model has the same name")
            continue
        seen.add(model.name.lower())
        models.append(model)
    return models, problems


def load_user_models(data_dir: Path | str | None = None) -> tuple[list[UserModel], list[str]]:
    return read_user_models(user_models_path(data_dir))


def save_user_model(model: UserModel, data_dir: Path | str | None = None,
                    replacing: str | None = None) -> Path:
    """Add `model` to the data folder's models file, or put it in place of the model
    named `replacing` (or of its own name). Other models in the file, right or not,
    are kept as they are; a file that cannot be read is not overwritten."""
    UserModel.from_json(model.to_json())  # what is written reads back
    path = user_models_path(data_dir)
    doc, raw = _read_raw(path) if path.is_file() else ({"models": []}, [])
    names = {model.name.lower(), (replacing or model.name).lower()}
    entries = list(raw)
    at = next((i for i, e in enumerate(entries) if _name_of(e) in names), None)
    entries = [e for e in entries if _name_of(e) not in names]
    entries.insert(len(entries) if at is None else at, model.to_json())
    _write(path, doc, entries)
    return path


def remove_user_model(name: str, data_dir: Path | str | None = None) -> bool:
    """Take the model `name` out of the data folder's models file; False if absent."""
    path = user_models_path(data_dir)
    if not path.is_file():
        return False
    doc, raw = _read_raw(path)
    kept = [e for e in raw if _name_of(e) != name.strip().lower()]
    if len(kept) == len(raw):
        return False
    _write(path, doc, kept)
    return True


def _name_of(entry: Any) -> str | None:
    name = entry.get("name") if isinstance(entry, Mapping) else None
    return name.strip().lower() if isinstance(name, str) else None


def _write(path: Path, doc: Any, entries: list[Any]) -> None:
    """The file with `entries` as its models, in the shape it had (a list, or an
    object whose other keys stay), written to a temporary file and renamed over it."""
    out: Any = dict(doc, models=entries) if isinstance(doc, Mapping) else entries
    text = json.dumps(out, indent=2, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".models-", suffix=".json.tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- as the catalog uses them -----------------------------------------------------------
def model_info(model: UserModel) -> ModelInfo:
    """The catalog entry for one of your models; how it counts is settled when it is
    looked up (as_counted), so a model file is read only for the models in use."""
    from desktop_app.core.catalog import ModelInfo
    from desktop_app.core.tokenizers import SPECS

    shipped = model.tokenizer in SPECS
    return ModelInfo(
        name=model.name, provider=model.provider, context_window=model.context_window,
        max_output=model.output_limit,
        encoding=model.tokenizer if shipped and model.tokenizer else "o200k_base",
        input_per_million=model.input_per_million,
        output_per_million=model.output_per_million,
        cached_input_per_million=model.cached_input_per_million,
        exact=shipped, aliases=model.aliases, note="yours (models.json in the data folder)",
        yours=True, tokenizer_choice=model.tokenizer)


def as_counted(info: ModelInfo, name: str) -> ModelInfo:
    """One of your models with the tokenizer you chose for it: a shipped one, the one
    its GGUF file has, or (until the server says) the best guess from its name."""
    from dataclasses import replace

    from desktop_app.core.families import family_of
    from desktop_app.core.tokenizers import SPECS

    choice = info.tokenizer_choice or ""
    family = family_of(name) or family_of(info.name)
    family_tokenizer = family.tokenizer if family and family.tokenizer in SPECS else None
    if choice in SPECS:
        template = family.template if family and family_tokenizer == choice else None
        note = f"{choice} tokenizer ({SPECS[choice].family}), as your models.json says"
        if template:
            note += f"; chat template {template} (shipped)"
        return replace(info, encoding=choice, exact=True, template=template,
                       family=SPECS[choice].family, counting_note=note, warning=None)
    # the guess from the name, until the server or the file says better
    if family_tokenizer and family is not None:
        guess = replace(info, encoding=family_tokenizer, exact=True, template=family.template,
                        family=family.name)
        guessed = f"the {family.name} tokenizer {family_tokenizer}"
    else:
        guess = replace(info, exact=False, family=family.name if family else None)
        guessed = f"estimated with {info.encoding}"
    if choice == SERVER:
        return replace(guess, counting_note=f"asks the server that serves it; until it "
                       f"says, {guessed}")
    path = Path(choice[len(GGUF_PREFIX):])
    found = _counting_from_file(path)
    if found is None or found.tokenizer not in SPECS or found.tokenizer is None:
        why = ("cannot be read as a GGUF model file" if found is None
               else "has a vocabulary the app does not ship")
        return replace(guess, counting_note=f"{path.name} {why}; {guessed}",
                       warning=f"your model {info.name!r}: {path} {why}; counting with "
                       f"{guessed}")
    template = family.template if family and family_tokenizer == found.tokenizer else None
    if found.template:
        from desktop_app.core.chat_template import TemplateError, register_template

        with contextlib.suppress(TemplateError):  # too long: the family's, if any
            template = register_template(found.template)
    note = f"{found.tokenizer} tokenizer read from the model file {path.name}"
    if template:
        note += "; its chat template" if template.startswith("sha256:") else (
            f"; chat template {template} (shipped)")
    return replace(info, encoding=found.tokenizer, exact=True, template=template,
                   family=SPECS[found.tokenizer].family, counting_note=note, warning=None)


_from_files: dict[tuple[str, int, int], Any] = {}


def _counting_from_file(path: Path) -> Any:
    """What a GGUF file says about counting (core.model_files, which reads only its
    metadata, bounded), once per file as it is now; None when it cannot be read."""
    try:
        stat = path.stat()
    except OSError:
        return None
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _from_files:
        from desktop_app.core.model_files import counting_from_file  # read on first use

        _from_files[key] = counting_from_file(path)
    return _from_files[key]
