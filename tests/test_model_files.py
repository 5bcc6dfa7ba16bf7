"""The tokenizer and chat template read from a model's own GGUF file: llama.cpp's
vocab files and a tiny model written by the gguf package are the references; files are
untrusted, so the reader is fuzzed."""

from __future__ import annotations

import json
import struct
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop_app.core.model_files import (
    GGUFError,
    counting_from_file,
    ollama_model_file,
    read_metadata,
)
from desktop_app.core.providers import ProviderConfig
from desktop_app.services.connection import discover_counting
from tests.openai_test_server import openai_server_fixture  # noqa: F401
from tests.reference import llama_cpp
from tests.reference.tiny_model import write_tiny_model

if TYPE_CHECKING:
    from tests.openai_test_server import OpenAITestServer


@pytest.mark.parametrize(("vocab", "tokenizer"), [("llama-bpe", "llama3"), ("qwen2", "qwen2"),
                                                  ("gpt-2", "r50k_base")])
def test_a_vocabulary_we_ship_is_recognized_in_its_gguf_file(vocab, tokenizer):
    found = counting_from_file(llama_cpp.vocab_path(vocab))
    assert found is not None and found.tokenizer == tokenizer


@pytest.mark.parametrize("vocab", ["deepseek-llm", "qwen35", "command-r"])
def test_a_vocabulary_we_do_not_ship_is_not_claimed(vocab):
    found = counting_from_file(llama_cpp.vocab_path(vocab))
    assert found is None or found.tokenizer is None


def test_a_model_file_gives_its_makers_template(tmp_path):
    template = llama_cpp.template_path("Qwen-Qwen2.5-7B-Instruct").read_text(encoding="utf-8")
    model = write_tiny_model(llama_cpp.vocab_path("qwen2"), template, tmp_path / "m.gguf")
    found = counting_from_file(model)
    assert found is not None and (found.tokenizer, found.template) == ("qwen2", template)


def _ollama_store(root, name: str, tag: str, model_file) -> None:
    blob = root / "blobs" / "sha256-abc123"
    blob.parent.mkdir(parents=True)
    blob.write_bytes(model_file.read_bytes())
    manifest = root / "manifests" / "registry.ollama.ai" / "library" / name / tag
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"layers": [
        {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:def"},
        {"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:abc123"}]}))


def test_an_ollama_model_is_counted_from_its_file_in_the_store(
        tmp_path, monkeypatch, openai_server: OpenAITestServer):
    """Ollama has no /tokenize and its model info does not name this vocabulary's
    pre-tokenizer: the model file in its store does, and carries the template."""
    template = llama_cpp.template_path("meta-llama-Llama-3.1-8B-Instruct").read_text(
        encoding="utf-8")
    model = write_tiny_model(llama_cpp.vocab_path("llama-bpe"), template, tmp_path / "m.gguf")
    store = tmp_path / "ollama"
    _ollama_store(store, "my-llama", "latest", model)
    monkeypatch.setenv("OLLAMA_MODELS", str(store))
    assert ollama_model_file("my-llama") == store / "blobs" / "sha256-abc123"
    assert ollama_model_file("my-llama:other-tag") is None
    openai_server.ollama_show["my-llama"] = {"model_info": {"general.architecture": "llama"}}
    config = ProviderConfig("ollama", preset="ollama", base_url=openai_server.base_url)
    found = discover_counting(config, "my-llama")
    assert found is not None and found.tokenizer == "llama3" and found.template == template
    assert "model file" in found.source


def _header(n_kv: int) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", 3, 0, n_kv)


def _kv_string(key: str, value: bytes) -> bytes:
    k = key.encode()
    return struct.pack("<Q", len(k)) + k + struct.pack("<I", 8) + struct.pack(
        "<Q", len(value)) + value


def test_metadata_out_of_bounds_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "bad.gguf"
    key = b"tokenizer.chat_template"
    path.write_bytes(_header(1) + struct.pack("<Q", len(key)) + key + struct.pack("<I", 8)
                     + struct.pack("<Q", 2**40))  # a 1 TB string
    with pytest.raises(GGUFError):
        read_metadata(path)
    path.write_bytes(b"NOPE" + bytes(40))
    with pytest.raises(GGUFError):
        read_metadata(path)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400), cut=st.integers(0, 400))
def test_any_bytes_give_metadata_or_a_clean_refusal(tmp_path_factory, data, cut):
    body = _kv_string("general.name", b"tiny") + data
    path = tmp_path_factory.mktemp("fuzz") / "f.gguf"
    path.write_bytes((_header(3) + body)[:24 + cut])
    try:
        meta = read_metadata(path)
    except (GGUFError, struct.error):
        meta = None  # refused, with a message; never a hang, a crash or a huge allocation
    else:
        assert meta.get("general.name") == "tiny"  # what was read is what was written
    # the one caller never raises on a bad file, and claims nothing from one
    assert counting_from_file(path) is None or meta is not None
