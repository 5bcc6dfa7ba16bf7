"""Which tokenizer and chat template a model uses, from the names people type and servers
report: `llama3.1:8b`, `qwen2.5:7b-instruct-q4_K_M`, `hf.co/bartowski/Meta-Llama-3.1-8B-
Instruct-GGUF:Q4_K_M`, `Qwen2.5-7B-Instruct-Q4_K_M.gguf`, `mistral-nemo`, `gpt-oss:20b`.

A family whose maker publishes no tokenizer we can ship stays estimated, and says so."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    name: str  # in words, for people ("Llama 3.1")
    tokenizer: str | None  # a shipped tokenizer (core.tokenizers.SPECS), None: estimated
    template: str | None  # a shipped chat template (resources/chat_templates/<name>.jinja)
    note: str = ""  # why a family is estimated, or what else to know


# Most specific first: the first pattern found anywhere in the normalized name wins.
# "\D" and lookarounds keep 3.1 from matching 3.10 and llama3 from matching llama30.
_RULES: tuple[tuple[str, Family], ...] = (
    (r"llama[-_ ]?4", Family("Llama 4", "llama4", None, "no official Llama 4 template is shipped")),
    (r"llama[-_ ]?3[._-]?3(?!\d)", Family("Llama 3.3", "llama3", "llama-3.1")),
    (r"llama[-_ ]?3[._-]?2(?!\d)", Family("Llama 3.2", "llama3", "llama-3.2")),
    (r"llama[-_ ]?3[._-]?1(?!\d)", Family("Llama 3.1", "llama3", "llama-3.1")),
    (r"llama[-_ ]?3(?![\d.])", Family("Llama 3", "llama3", "llama-3")),
    (r"qwen[-_ ]?3", Family("Qwen 3", "qwen2", "qwen-3")),
    (r"qwq", Family("QwQ", "qwen2", "qwq")),
    (r"qwen[-_ ]?2[._-]?5", Family("Qwen 2.5", "qwen2", "qwen-2.5")),
    (r"qwen[-_ ]?2(?![\d.])", Family("Qwen 2", "qwen2", "qwen-2")),
    (r"gpt[-_ ]?oss", Family("gpt-oss", "o200k_harmony", "gpt-oss")),
    (r"mistral[-_ ]?nemo", Family("Mistral NeMo", "tekken", "mistral-nemo")),
    (r"pixtral|ministral|devstral|magistral|mistral[-_ ]?small[-_ ]?(?:3|24b|2501|2503|2506)",
     Family("Mistral (Tekken)", "tekken", "mistral-small-3")),
    (r"phi[-_ ]?4[-_ ]?mini", Family("Phi-4-mini", None, None,
                                     "Phi-4-mini's o200k-based vocabulary is not shipped")),
    (r"phi[-_ ]?4(?!\d)", Family("Phi-4", "phi4", "phi-4")),
    (r"phi[-_ ]?3", Family("Phi-3", None, None,
                           "Phi-3 uses Llama 2's SentencePiece vocabulary, not shipped")),
    (r"mistral|mixtral", Family("Mistral (SentencePiece)", None, None,
                                "Mistral's SentencePiece vocabularies are not shipped")),
    (r"gemma", Family("Gemma", None, None, "Google's Gemma tokenizer is not shipped")),
    (r"deepseek", Family("DeepSeek", None, None, "DeepSeek's tokenizer is not shipped")),
)
_COMPILED = tuple((re.compile(p), f) for p, f in _RULES)


def normalize(name: str) -> str:
    """A model name reduced to what identifies its family: lower case, no hub or
    folder prefix, no file extension."""
    key = name.strip().lower().replace("\\", "/")
    key = key.removeprefix("hf.co/").removeprefix("huggingface.co/")
    return key.removesuffix(".gguf")


def family_of(name: str) -> Family | None:
    """The family of a model name, or None when nothing is known about it."""
    key = normalize(name)
    for pattern, family in _COMPILED:
        if pattern.search(key):
            return family
    return None


def template_names() -> list[str]:
    """Every chat template a family names (each is shipped in resources/chat_templates)."""
    return sorted({f.template for _p, f in _RULES if f.template})
