"""The tokenizers the app ships: for each, the rank file in resources/ (hash-pinned),
the pre-tokenizer pattern, the special tokens and where it came from. All are byte-level
BPE vocabularies that tiktoken runs; each is loaded once, lazily, and never downloaded.

resources/tokenizers/README.md says where every file came from and under which licence;
the OpenAI encodings live in resources/tiktoken/ as tiktoken pins them."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from desktop_app.paths import MissingResourceError, resource

ENDOFTEXT = "<|endoftext|>"
_R50K_PAT = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
_CL100K_PAT = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+"""
               r"""| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""")
_O200K_PAT = "|".join(  # noqa: FLY002 - one alternative a line reads better
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)


@dataclass(frozen=True)
class TokenizerSpec:
    """One shipped tokenizer. `name` is the key counts are stored under everywhere."""

    name: str
    family: str  # who uses it, in words ("Llama 3.x and 4")
    path: tuple[str, ...]  # the rank file, under resources/
    sha256: str  # of that file
    pattern: str  # the pre-tokenizer's split pattern
    specials: Mapping[str, int] = field(default_factory=dict)
    bos: str | None = None  # the token servers put first (add_bos_token), if any
    id_offset: int = 0  # token id = rank + id_offset (Tekken numbers its specials first)
    source: str = ""  # where the rank file comes from, in a few words

    @property
    def openai(self) -> bool:
        """One of OpenAI's own four encodings, as tiktoken defines them."""
        return self.family == "OpenAI"


def _openai(name: str, pattern: str, specials: dict[str, int], sha256: str) -> TokenizerSpec:
    # as pinned by tiktoken_ext.openai_public, copied so that tiktoken never downloads
    return TokenizerSpec(name, "OpenAI", ("tiktoken", f"{name}.tiktoken"), sha256, pattern,
                         specials, source="OpenAI, as tiktoken pins it")


SPECS: dict[str, TokenizerSpec] = {s.name: s for s in (
    _openai("o200k_base", _O200K_PAT, {ENDOFTEXT: 199999, "<|endofprompt|>": 200018},
            "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"),
    _openai("cl100k_base", _CL100K_PAT,
            {ENDOFTEXT: 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
             "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276},
            "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"),
    _openai("p50k_base", _R50K_PAT, {ENDOFTEXT: 50256},
            "94b5ca7dff4d00767bc256fdd1b27e5b17361d7b8a5f968547f9f23eb70d2069"),
    _openai("r50k_base", _R50K_PAT, {ENDOFTEXT: 50256},
            "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930"),
)}


_LLAMA3_PAT = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"""
               r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""")
# Qwen splits every digit on its own (\p{N}, not \p{N}{1,3})
_QWEN2_PAT = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"""
              r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""")
_TEKKEN_PAT = "|".join([  # noqa: FLY002 - one alternative a line reads better
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+""",
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*""",
    r"""\p{N}""",
    r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
    r"""\s*[\r\n]+""",
    r"""\s+(?!\S)""",
    r"""\s+""",
])

# Special tokens as the makers' own tokenizer code numbers them (llama_models' tokenizer.py,
# Qwen's tokenizer_config.json, mistral_common's tekken.py, tiktoken's o200k_harmony,
# Phi-4's tokenizer). Counting needs each to be one token; the ids make them comparable.
_LLAMA3_SPECIALS = {
    "<|begin_of_text|>": 128000, "<|end_of_text|>": 128001,
    "<|reserved_special_token_0|>": 128002, "<|reserved_special_token_1|>": 128003,
    "<|finetune_right_pad_id|>": 128004, "<|step_id|>": 128005,
    "<|start_header_id|>": 128006, "<|end_header_id|>": 128007, "<|eom_id|>": 128008,
    "<|eot_id|>": 128009, "<|python_tag|>": 128010, "<|image|>": 128011,
} | {f"<|reserved_special_token_{i}|>": 128010 + i for i in range(2, 246)}
_LLAMA4_SPECIALS = {
    "<|begin_of_text|>": 200000, "<|end_of_text|>": 200001, "<|fim_prefix|>": 200002,
    "<|fim_middle|>": 200003, "<|fim_suffix|>": 200004, "<|header_start|>": 200005,
    "<|header_end|>": 200006, "<|eom|>": 200007, "<|eot|>": 200008, "<|step|>": 200009,
    "<|python_start|>": 200016, "<|python_end|>": 200017, "<|finetune_right_pad|>": 200018,
    "<|image_start|>": 200080, "<|image_end|>": 200081, "<|tile_x_separator|>": 200084,
    "<|tile_y_separator|>": 200085, "<|image|>": 200090, "<|patch|>": 200092,
    "<|reasoning_thinking_start|>": 201142, "<|reasoning_thinking_end|>": 201143,
    "<|vision_reserved_special_token_6|>": 200091,
} | {f"<|text_post_train_reserved_special_token_{i}|>": 200010 + i for i in range(6)} \
  | {f"<|text_post_train_reserved_special_token_{i}|>": 200011 + i for i in range(8, 69)} \
  | {f"<|vision_reserved_special_token_{i}|>": 200082 + i for i in range(2)} \
  | {f"<|vision_reserved_special_token_{i}|>": 200084 + i for i in range(2, 6)} \
  | {f"<|vision_reserved_special_token_{i}|>": 200086 + i for i in range(7, 1048)} \
  | {f"<|reasoning_reserved_special_token_{i}|>": 201134 + i for i in range(8)} \
  | {f"<|reserved_special_token_{i}|>": 201144 + i for i in range(904)}
_QWEN_SPECIALS = {
    "<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645,
    "<|object_ref_start|>": 151646, "<|object_ref_end|>": 151647, "<|box_start|>": 151648,
    "<|box_end|>": 151649, "<|quad_start|>": 151650, "<|quad_end|>": 151651,
    "<|vision_start|>": 151652, "<|vision_end|>": 151653, "<|vision_pad|>": 151654,
    "<|image_pad|>": 151655, "<|video_pad|>": 151656, "<tool_call>": 151657,
    "</tool_call>": 151658, "<|fim_prefix|>": 151659, "<|fim_middle|>": 151660,
    "<|fim_suffix|>": 151661, "<|fim_pad|>": 151662, "<|repo_name|>": 151663,
    "<|file_sep|>": 151664, "<tool_response>": 151665, "</tool_response>": 151666,
    "<think>": 151667, "</think>": 151668,
}
_TEKKEN_SPECIALS = {
    "<unk>": 0, "<s>": 1, "</s>": 2, "[INST]": 3, "[/INST]": 4, "[AVAILABLE_TOOLS]": 5,
    "[/AVAILABLE_TOOLS]": 6, "[TOOL_RESULTS]": 7, "[/TOOL_RESULTS]": 8, "[TOOL_CALLS]": 9,
    "[IMG]": 10, "<pad>": 11, "[IMG_BREAK]": 12, "[IMG_END]": 13, "[PREFIX]": 14,
    "[MIDDLE]": 15, "[SUFFIX]": 16, "[SYSTEM_PROMPT]": 17, "[/SYSTEM_PROMPT]": 18,
    "[TOOL_CONTENT]": 19,
} | {f"<SPECIAL_{i}>": i for i in range(20, 1000)}
_HARMONY_SPECIALS = {
    "<|startoftext|>": 199998, ENDOFTEXT: 199999, "<|return|>": 200002,
    "<|constrain|>": 200003, "<|channel|>": 200005, "<|start|>": 200006, "<|end|>": 200007,
    "<|message|>": 200008, "<|call|>": 200012, "<|endofprompt|>": 200018,
} | {f"<|reserved_{i}|>": i for i in (200000, 200001, 200004, 200009, 200010, 200011)} \
  | {f"<|reserved_{i}|>": i for i in range(200013, 201088)}  # 200018 has two names
_PHI4_SPECIALS = {
    "<|dummy_0|>": 100256, ENDOFTEXT: 100257, "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259, "<|fim_suffix|>": 100260, "<|dummy_1|>": 100261,
    "<|dummy_2|>": 100262, "<|dummy_3|>": 100263, "<|im_start|>": 100264,
    "<|im_end|>": 100265, "<|im_sep|>": 100266, "<|endofprompt|>": 100276,
} | {f"<|dummy_{i - 100263}|>": i for i in range(100267, 100276)} \
  | {f"<|dummy_{i - 100264}|>": i for i in range(100277, 100352)}

for _spec in (
    TokenizerSpec("llama3", "Llama 3.x", ("tokenizers", "llama3", "llama3.tiktoken.xz"),
                  "82e9d31979e92ab929cd544440f129d9ecd797b69e327f80f17e1c50d5551b55",
                  _LLAMA3_PAT, _LLAMA3_SPECIALS, bos="<|begin_of_text|>",
                  source="Meta's llama-models 0.3.0"),
    TokenizerSpec("llama4", "Llama 4", ("tokenizers", "llama4", "llama4.tiktoken.xz"),
                  "d0bdbaf59b0762c8c807617e2d8ea51420eb1b1de266df2495be755c8e0ed6ed",
                  _O200K_PAT, _LLAMA4_SPECIALS, bos="<|begin_of_text|>",
                  source="Meta's llama-models 0.3.0"),
    TokenizerSpec("qwen2", "Qwen 2, 2.5 and 3", ("tokenizers", "qwen", "qwen.tiktoken.xz"),
                  "b2b1b8dfb5cc5f024bafc373121c6aba3f66f9a5a0269e243470a1de16a33186",
                  _QWEN2_PAT, _QWEN_SPECIALS, source="Alibaba's dashscope 2.0.2"),
    TokenizerSpec("tekken", "Mistral (Tekken)", ("tokenizers", "mistral", "tekken.tiktoken.xz"),
                  "64a081edb3cbb8639a4eea9a7135ab9a0467c50676c672b217ba655f4d50e127",
                  _TEKKEN_PAT, _TEKKEN_SPECIALS, bos="<s>", id_offset=1000,
                  source="Mistral's mistral-common 1.13.1 (tekken_240718.json)"),
    TokenizerSpec("o200k_harmony", "gpt-oss", ("tiktoken", "o200k_base.tiktoken"),
                  SPECS["o200k_base"].sha256, _O200K_PAT, _HARMONY_SPECIALS,
                  source="OpenAI's o200k_base with the harmony format's tokens, as tiktoken"),
    TokenizerSpec("phi4", "Phi-4", ("tiktoken", "cl100k_base.tiktoken"),
                  SPECS["cl100k_base"].sha256, _CL100K_PAT, _PHI4_SPECIALS,
                  source="OpenAI's cl100k_base with Phi-4's chat tokens"),
):
    SPECS[_spec.name] = _spec


# llama.cpp's names for the pre-tokenizers of the vocabularies we ship, as GGUF model files
# (tokenizer.ggml.pre) and Ollama's /api/show give them: the same name means the same
# split pattern, which is as much a part of a tokenizer as its vocabulary.
PRE_TOKENIZERS = {"llama-bpe": "llama3", "llama4": "llama4", "qwen2": "qwen2",
                  "tekken": "tekken", "gpt-2": "r50k_base"}


class EncodingError(RuntimeError):
    """A shipped tokenizer is unknown, missing or does not match its pinned hash."""


_encodings: dict[str, Any] = {}
_lock = threading.Lock()


def is_loaded(name: str) -> bool:
    """Whether `name` was built already (counting under it costs no loading)."""
    return name in _encodings


def get_encoding(name: str):
    """The tiktoken Encoding `name`, built from resources/ once per process."""
    enc = _encodings.get(name)
    if enc is not None:
        return enc
    spec = SPECS.get(name)
    if spec is None:
        raise EncodingError(f"unknown tokenizer {name!r} (shipped: {', '.join(SPECS)})")
    with _lock:
        enc = _encodings.get(name)
        if enc is None:
            enc = _encodings[name] = _load(spec)
        return enc


def read_ranks(spec: TokenizerSpec) -> dict[bytes, int]:
    """The BPE ranks of `spec` as token ids, after checking the file's hash (the hash of
    the maker's file: an .xz file is checked after unpacking)."""
    # here, not at the top: the window's first paint imports this module, not these
    import base64
    import hashlib
    import lzma

    try:
        data = resource(*spec.path).read_bytes()
        if spec.path[-1].endswith(".xz"):
            data = lzma.decompress(data)
    except (OSError, MissingResourceError, EOFError) as exc:
        raise EncodingError(f"tokenizer file for {spec.name} is missing: {exc}") from exc
    except lzma.LZMAError as exc:
        raise EncodingError(f"tokenizer file {spec.path[-1]} is damaged ({exc}); "
                            "reinstall the app") from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != spec.sha256:
        raise EncodingError(
            f"tokenizer file {spec.path[-1]} is damaged (SHA-256 {actual[:12]}…, "
            f"expected {spec.sha256[:12]}…); reinstall the app")
    offset = spec.id_offset
    return {base64.b64decode(token): int(rank) + offset
            for token, rank in (line.split() for line in data.splitlines() if line)}


def _load(spec: TokenizerSpec):
    import tiktoken  # deferred: importing tiktoken is not free and not needed to start

    return tiktoken.Encoding(name=spec.name, pat_str=spec.pattern,
                             mergeable_ranks=read_ranks(spec), special_tokens=dict(spec.specials))
