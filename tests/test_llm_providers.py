"""Providers: presets, base URLs, the plain-http warning, and the context window each
kind of local server really serves, read from its own endpoint on a loopback server."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import pytest

from desktop_app.core.providers import PRESETS, ProviderConfig, ProviderError
from desktop_app.llm.client import ChatClient
from desktop_app.llm.providers import (
    OLLAMA_DEFAULT_NUM_CTX,
    ContextWindow,
    discover_context_window,
    plain_http_warning,
    settle_window,
    window_warning,
)
from tests.openai_test_server import openai_server_fixture  # noqa: F401

if TYPE_CHECKING:
    from tests.openai_test_server import OpenAITestServer


def preset_config(preset: str) -> ProviderConfig:
    return ProviderConfig(preset, preset=preset)


def test_presets_point_at_the_usual_places() -> None:
    assert preset_config("openai").base_url == "https://api.openai.com/v1"
    assert preset_config("ollama").base_url == "http://localhost:11434/v1"
    assert preset_config("lmstudio").base_url == "http://localhost:1234/v1"
    assert preset_config("llamacpp").base_url == "http://localhost:8080/v1"
    assert preset_config("vllm").base_url == "http://localhost:8000/v1"
    assert set(PRESETS) == {"openai", "ollama", "lmstudio", "llamacpp", "vllm", "custom"}
    assert preset_config("openai").needs_key and not preset_config("ollama").needs_key


def test_config_normalizes() -> None:
    config = ProviderConfig(" box ", base_url=" http://192.168.1.9:8080/v1/ ", timeout=30)
    assert (config.name, config.base_url) == ("box", "http://192.168.1.9:8080/v1")
    assert config.server_root == "http://192.168.1.9:8080"
    with_version = ProviderConfig("az", base_url="https://x.example.com/v1?api-version=2024-06")
    assert with_version.base_url.endswith("api-version=2024-06")  # not a secret


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "x", "preset": "nosuch"}, "unknown provider preset 'nosuch'"),
        ({"name": "x", "preset": "custom"}, "needs a base URL"),
        ({"name": "x", "preset": "custom", "base_url": "ftp://host/v1"}, "not an http"),
        ({"name": "x", "preset": "custom", "base_url": "localhost:8080"}, "not an http"),
        ({"name": " ", "preset": "ollama"}, "needs a name"),
        ({"name": "x", "base_url": "http://me:pw@host/v1"}, "carries a credential"),
        ({"name": "x", "base_url": "http://host/v1?api_key=sk-1"}, "carries a credential"),
        ({"name": "x", "base_url": "http://host/v1?%61pi%5Fkey=sk-1"}, "carries a credential"),
        ({"name": "x", "base_url": "http://@host/v1"}, "carries a credential"),
        ({"name": "x", "base_url": "http://host:99999/v1"}, "not a valid address"),
        ({"name": "x", "base_url": "http://host/v1#top"}, "#fragment"),
        ({"name": "x", "base_url": "http://ho st/v1"}, "spaces"),
        ({"name": "x", "preset": "ollama", "timeout": 0}, "timeout must be positive"),
        ({"name": "x", "preset": "ollama", "timeout": float("nan")}, "timeout must be positive"),
        ({"name": "x", "preset": "ollama", "models": "llama3"}, "list of model names"),
        ({"name": "x", "preset": "ollama", "context_windows": {"llama3": 0}}, "positive whole"),
    ],
)
def test_bad_settings_get_a_clear_message(kwargs: dict, message: str) -> None:
    with pytest.raises(ProviderError, match=message):
        ProviderConfig(**kwargs)


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        ("http://192.168.1.5:8080/v1", True),
        ("http://gpu-box.example.com/v1", True),
        ("http://localhost:11434/v1", False),
        ("http://127.0.0.1:8000/v1", False),
        ("http://[::1]:8000/v1", False),
        (f"http://{socket.gethostname()}:8000/v1", False),
        ("https://example.com/v1", False),
    ],
)
def test_plain_http_to_another_computer_is_warned(url: str, warned: bool) -> None:
    assert (plain_http_warning(url) is not None) is warned


def test_the_warning_only_matters_with_a_key() -> None:
    config = ProviderConfig("lan", base_url="http://10.0.0.7:8000/v1")
    assert ChatClient(config, None).warnings == []
    assert "unencrypted" in ChatClient(config, "sk-some-key-123456").warnings[0]


# --- context windows ---------------------------------------------------------------------
def config_for(server: OpenAITestServer, preset: str) -> ProviderConfig:
    return ProviderConfig(preset, preset=preset, base_url=server.base_url)


LLAMA_INFO = {"general.architecture": "llama", "llama.context_length": 131072}


def test_ollama_num_ctx_parameter(openai_server: OpenAITestServer) -> None:
    openai_server.ollama_show["llama3.1:8b"] = {
        "model_info": LLAMA_INFO,
        "parameters": 'num_ctx                        8192\nstop "<|eot_id|>"',
    }
    found = discover_context_window(config_for(openai_server, "ollama"), "llama3.1:8b")
    assert (found.tokens, found.trained, found.assumed) == (8192, 131072, False)
    show = [r for r in openai_server.requests if r.path == "/api/show"][-1]
    assert show.body["model"] == "llama3.1:8b"


def test_ollama_default_is_small_and_says_so(openai_server: OpenAITestServer) -> None:
    openai_server.ollama_show["llama3.1:8b"] = {"model_info": LLAMA_INFO, "parameters": ""}
    found = discover_context_window(config_for(openai_server, "ollama"), "llama3.1:8b")
    assert found.tokens == OLLAMA_DEFAULT_NUM_CTX and found.assumed
    assert found.trained == 131072 and "OLLAMA_CONTEXT_LENGTH" in found.note
    warning = window_warning(128000, found)
    assert "128,000" in warning and f"{OLLAMA_DEFAULT_NUM_CTX:,}" in warning


def test_ollama_loaded_model_context(openai_server: OpenAITestServer) -> None:
    openai_server.ollama_ps = [
        {"name": "qwen2.5:7b", "model": "qwen2.5:7b", "context_length": 32768}
    ]
    found = discover_context_window(config_for(openai_server, "ollama"), "qwen2.5:7b")
    assert found.tokens == 32768 and "/api/ps" in found.source
    openai_server.ollama_ps = [
        {"name": "phi4:latest", "model": "phi4:latest", "context_length": 16384}
    ]
    assert discover_context_window(config_for(openai_server, "ollama"), "phi4").tokens == 16384


def test_llamacpp_props(openai_server: OpenAITestServer) -> None:
    openai_server.llamacpp_props = {"default_generation_settings": {"n_ctx": 4096}}
    found = discover_context_window(config_for(openai_server, "llamacpp"), "any")
    assert found.tokens == 4096 and "llama.cpp" in found.source


def test_lmstudio_loaded_context(openai_server: OpenAITestServer) -> None:
    openai_server.lmstudio_models = [
        {"id": "qwen2.5-7b-instruct", "max_context_length": 32768, "loaded_context_length": 8192}
    ]
    found = discover_context_window(config_for(openai_server, "lmstudio"), "qwen2.5-7b-instruct")
    assert (found.tokens, found.trained) == (8192, 32768)


def test_vllm_max_model_len(openai_server: OpenAITestServer) -> None:
    openai_server.models = [{"id": "meta-llama/Llama-3.1-8B-Instruct", "max_model_len": 16384}]
    found = discover_context_window(
        config_for(openai_server, "vllm"),
        "meta-llama/Llama-3.1-8B-Instruct",
        api_key="sk-vllm-1234",
    )
    assert found.tokens == 16384
    assert openai_server.requests[-1].authorization == "Bearer sk-vllm-1234"


def test_custom_server_is_probed_for_its_kind(openai_server: OpenAITestServer) -> None:
    openai_server.llamacpp_props = {"default_generation_settings": {"n_ctx": 2048}}
    assert discover_context_window(config_for(openai_server, "custom"), "m").tokens == 2048


def test_a_server_that_does_not_say(openai_server: OpenAITestServer) -> None:
    found = discover_context_window(config_for(openai_server, "custom"), "test-model")
    assert found.tokens is None and found.note
    assert window_warning(128000, found) is None


def test_an_unreachable_server_does_not_raise() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = ProviderConfig("gone", preset="ollama", base_url=f"http://127.0.0.1:{port}/v1")
    found = discover_context_window(config, "llama3", timeout=1)
    assert found.tokens is None and "ConnectError" in found.note


def test_window_warning_only_when_claiming_more() -> None:
    served = ContextWindow(8192, "llama.cpp /props")
    assert window_warning(8192, served) is None
    assert "your setting says 32,768" in window_warning(32768, served, "your setting")


def test_the_budget_uses_what_the_server_really_serves() -> None:
    served = ContextWindow(4096, "Ollama default num_ctx", assumed=True)
    assert settle_window(128000, None, served)[0] == 4096
    assert "the catalog says 128,000" in settle_window(128000, None, served)[1][0]
    assert settle_window(128000, 2048, served) == (2048, [])  # the user asked for less
    assert settle_window(128000, None, ContextWindow(None, "unknown")) == (128000, [])


def test_ollama_names_the_vocabulary_of_a_model_whose_name_says_nothing(
        openai_server: OpenAITestServer) -> None:
    from desktop_app.llm.server_counting import discover_counting

    openai_server.ollama_show["my-assistant:latest"] = {"model_info": {
        **LLAMA_INFO, "general.architecture": "qwen2", "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.pre": "qwen2"}, "parameters": ""}
    found = discover_counting(config_for(openai_server, "ollama"), "my-assistant:latest")
    assert found is not None and (found.tokenizer, found.template) == ("qwen2", None)
    assert "Ollama" in found.source
    # a vocabulary we do not ship: nothing is claimed
    openai_server.ollama_show["gemma-tune"] = {"model_info": {
        "general.architecture": "gemma3", "tokenizer.ggml.pre": "default"}}
    assert discover_counting(config_for(openai_server, "ollama"), "gemma-tune") is None
