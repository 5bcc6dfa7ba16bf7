"""The model's own tokenizer and chat template, read from its GGUF file when the file is
on this computer: the file llama.cpp's server says it loaded (/props model_path), LM
Studio's model folder, or Ollama's model store. A GGUF file carries its vocabulary
(tokenizer.ggml.*) and its maker's chat template (tokenizer.chat_template): when the
vocabulary is one we ship, counting is exact offline with the template the model itself
was released with.

GGUF files are untrusted and large: only the metadata at the start is read, with bounds
on every count and length, and the token list is checked by sampling."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from desktop_app.core.providers import ProviderConfig

MAX_KEYS = 100_000
MAX_STRING = 16_000_000  # a chat template is ~20 kB; nothing in metadata is near this
MAX_ARRAY = 20_000_000
SAMPLES = 256  # tokens compared with a shipped vocabulary

_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q",
            11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9
_WANTED = ("general.name", "general.architecture", "tokenizer.ggml.model",
           "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type",
           "tokenizer.chat_template")


class GGUFError(ValueError):
    """Not a GGUF file, or one whose metadata is out of bounds."""


def read_metadata(path: Path, wanted: tuple[str, ...] = _WANTED) -> dict[str, Any]:
    """The metadata values named in `wanted` (others are skipped unread), strings
    decoded as UTF-8 with replacement."""
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise GGUFError(f"{path.name} is not a GGUF file")
        version, _tensors, n_kv = struct.unpack("<IQQ", _exact(f, 20))
        if version < 2 or n_kv > MAX_KEYS:
            raise GGUFError(f"{path.name}: GGUF version {version} with {n_kv} keys")
        out: dict[str, Any] = {}
        for _ in range(n_kv):
            key = _string(f).decode("utf-8", "replace")
            (kind,) = struct.unpack("<I", _exact(f, 4))
            out_value = _value(f, kind, keep=key in wanted)
            if key in wanted:
                out[key] = out_value
        return out


def _exact(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise GGUFError("the file ends inside its metadata")
    return data


def _string(f: BinaryIO, keep: bool = True) -> bytes:
    (length,) = struct.unpack("<Q", _exact(f, 8))
    if length > MAX_STRING:
        raise GGUFError(f"a metadata string of {length:,} bytes")
    if not keep:
        f.seek(length, 1)
        return b""
    return _exact(f, length)


def _value(f: BinaryIO, kind: int, keep: bool) -> Any:
    if kind in _SCALARS:
        fmt = "<" + _SCALARS[kind]
        (value,) = struct.unpack(fmt, _exact(f, struct.calcsize(fmt)))
        return value
    if kind == _STRING:
        raw = _string(f, keep)
        return raw.decode("utf-8", "replace") if keep else None
    if kind == _ARRAY:
        (item_kind,) = struct.unpack("<I", _exact(f, 4))
        (count,) = struct.unpack("<Q", _exact(f, 8))
        if count > MAX_ARRAY:
            raise GGUFError(f"a metadata array of {count:,} items")
        if item_kind in _SCALARS:
            size = struct.calcsize("<" + _SCALARS[item_kind])
            if not keep:
                f.seek(size * count, 1)
                return None
            return list(struct.unpack(f"<{count}{_SCALARS[item_kind]}",
                                      _exact(f, size * count)))
        if item_kind == _STRING:
            items = [_string(f, keep) for _ in range(count)]
            return items if keep else None
        raise GGUFError(f"metadata arrays of type {item_kind} are not supported")
    raise GGUFError(f"unknown metadata type {kind}")


def _byte_decoder() -> dict[str, int]:
    """GPT-2's printable stand-ins for bytes, which byte-level BPE vocabularies store."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
            *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {}, 0
    for b in range(256):
        if b in keep:
            chars[chr(b)] = b
        else:
            chars[chr(256 + extra)] = b
            extra += 1
    return chars


@dataclass(frozen=True)
class FileCounting:
    tokenizer: str | None  # the shipped tokenizer its vocabulary is, if any
    template: str | None  # its chat template
    source: str


def shipped_vocabulary(meta: dict[str, Any]) -> str | None:
    """The shipped tokenizer this file's vocabulary is: its pre-tokenizer is one we ship
    (tokenizer.ggml.pre) and its ordinary tokens, sampled across the whole list, are
    the same bytes at the same ids as ours."""
    from desktop_app.core.tokenizers import PRE_TOKENIZERS, SPECS, get_encoding

    tokens = meta.get("tokenizer.ggml.tokens")
    name = PRE_TOKENIZERS.get(str(meta.get("tokenizer.ggml.pre") or ""))
    if (name is None or meta.get("tokenizer.ggml.model") != "gpt2"
            or not isinstance(tokens, list) or not tokens):
        return None
    enc, offset = get_encoding(name), SPECS[name].id_offset
    if abs(enc.n_vocab - len(tokens)) > 1024:  # padded vocabularies differ a little
        return None
    types = meta.get("tokenizer.ggml.token_type") or []
    decoder = _byte_decoder()
    step = max(1, len(tokens) // SAMPLES)
    for i in range(offset, min(len(tokens), enc.n_vocab), step):
        if i < len(types) and types[i] != 1:  # only ordinary tokens (type 1, NORMAL)
            continue
        try:
            theirs = bytes(decoder[c] for c in tokens[i].decode("utf-8"))
            ours = enc.decode_single_token_bytes(i)
        except (KeyError, UnicodeDecodeError):
            return None
        if theirs != ours:
            return None
    return name


def counting_from_file(path: Path) -> FileCounting | None:
    """What a GGUF model file says about counting it, or None when it cannot be read."""
    try:
        meta = read_metadata(path)
    except (OSError, GGUFError, struct.error) as exc:
        del exc  # not a readable model file: nothing to learn from it
        return None
    template = meta.get("tokenizer.chat_template")
    tokenizer = shipped_vocabulary(meta)
    if tokenizer is None and not template:
        return None
    return FileCounting(tokenizer, template if isinstance(template, str) else None,
                        f"read from the model file {path.name}")


# --- where model files are ------------------------------------------------------------
def ollama_model_file(model: str, home: Path | None = None) -> Path | None:
    """The GGUF blob of an Ollama model ("qwen2.5:7b", "user/name:tag") in the local
    store (~/.ollama/models, or OLLAMA_MODELS)."""
    import os

    store = Path(os.environ.get("OLLAMA_MODELS") or (home or Path.home()) / ".ollama" / "models")
    name, _, tag = model.partition(":")
    parts = name.split("/")
    if len(parts) == 1:
        parts = ["registry.ollama.ai", "library", *parts]
    elif len(parts) == 2:
        parts = ["registry.ollama.ai", *parts]
    manifest = store.joinpath("manifests", *parts, tag or "latest")
    try:
        layers = json.loads(manifest.read_text(encoding="utf-8")).get("layers") or []
    except (OSError, ValueError):
        return None
    for layer in layers:
        if layer.get("mediaType") == "application/vnd.ollama.image.model":
            digest = str(layer.get("digest", "")).replace(":", "-")
            blob = store / "blobs" / digest
            return blob if blob.is_file() else None
    return None


def lmstudio_model_file(model: str, home: Path | None = None) -> Path | None:
    """The GGUF file of an LM Studio model id ("publisher/repo/file.gguf" or a file or
    folder name) under ~/.lmstudio/models (or the older ~/.cache/lm-studio/models)."""
    base = home or Path.home()
    for root in (base / ".lmstudio" / "models", base / ".cache" / "lm-studio" / "models"):
        if not root.is_dir():
            continue
        direct = root / model
        if direct.is_file():
            return direct
        wanted = model.rsplit("/", 1)[-1].lower()
        for path in sorted(root.glob("*/*/*.gguf")):
            if wanted in (path.name.lower(), path.parent.name.lower(), path.stem.lower()):
                return path
    return None


def local_model_file(config: ProviderConfig, model: str) -> Path | None:
    """The model file a server on this computer serves `model` from, where its kind of
    server keeps files we can find (Ollama's store, LM Studio's folder)."""
    from urllib.parse import urlsplit

    from desktop_app.llm.providers import is_this_computer

    if not is_this_computer(urlsplit(config.base_url).hostname or ""):
        return None
    if config.preset in ("ollama", "custom"):
        found = ollama_model_file(model)
        if found is not None:
            return found
    if config.preset in ("lmstudio", "custom"):
        return lmstudio_model_file(model)
    return None
