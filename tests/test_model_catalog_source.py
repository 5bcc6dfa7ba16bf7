"""The model catalog built from LiteLLM's community list: the builder against a small
LiteLLM-format file written here (the real file is never downloaded by a test), the
shipped catalog it produced, prices with cached prompt tokens, and the catalog that
`token-budget models --update FILE` lays over the shipped one from the data folder."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from pathlib import Path

import pytest
import tiktoken.model

from desktop_app.cli import main
from desktop_app.core import catalog as catalog_module
from desktop_app.core.catalog import (
    ENCODINGS,
    Catalog,
    ModelInfo,
    default_catalog,
    load_catalog,
    lookup_model,
    override_path,
    set_data_dir,
)
from desktop_app.core.catalog_source import SourceError, build_catalog, entries_from
from desktop_app.paths import resource

M = 1e-6  # LiteLLM gives prices per token


def chat(provider, window, output, price_in, price_out, cached=None, **extra):
    spec = {"litellm_provider": provider, "mode": "chat", "max_input_tokens": window,
            "max_output_tokens": output, "max_tokens": output,
            "input_cost_per_token": price_in * M, "output_cost_per_token": price_out * M}
    if cached is not None:
        spec["cache_read_input_token_cost"] = cached * M
    spec.update(extra)
    return spec


SOURCE = {
    "sample_spec": {"litellm_provider": "one of …", "mode": "one of: chat, embedding"},
    "gpt-4o": chat("openai", 128000, 16384, 2.5, 10.0, 1.25),
    "gpt-4o-2024-08-06": chat("openai", 128000, 16384, 2.5, 10.0, 1.25),
    "gpt-4o-2024-05-13": chat("openai", 128000, 4096, 5.0, 15.0),  # other figures
    "gpt-4o-mini": chat("openai", 128000, 16384, 0.15, 0.6, 0.075),
    "gpt-4o-audio-preview": chat("openai", 128000, 16384, 2.5, 10.0),
    "ft:gpt-4o-2024-08-06": chat("openai", 128000, 16384, 3.75, 15.0, 1.875),
    "gpt-4.1": chat("openai", 1047576, 32768, 2.0, 8.0, 0.5),
    "gpt-4.1-2025-04-14": chat("openai", 1047576, 32768, 2.0, 8.0, 0.5),
    "gpt-4": chat("openai", 8192, 4096, 30.0, 60.0),
    "gpt-5": chat("openai", 272000, 128000, 1.25, 10.0, 0.125),
    "gpt-7-preview": chat("openai", 500000, 100000, 1.0, 2.0),  # tiktoken names none
    "text-embedding-3-small": {"litellm_provider": "openai", "mode": "embedding",
                               "max_input_tokens": 8191, "input_cost_per_token": 2e-8},
    "gpt-no-window": {"litellm_provider": "openai", "mode": "chat", "max_tokens": 4096,
                      "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6},
    "claude-sonnet-4-5": chat("anthropic", 200000, 64000, 3.0, 15.0, 0.3),
    "claude-sonnet-4-5-20250929": chat("anthropic", 200000, 64000, 3.0, 15.0, 0.3),
    "claude-sonnet-4-6": chat("anthropic", 1000000, 128000, 3.0, 15.0, 0.3),
    "gemini/gemini-2.5-pro": chat("gemini", 1048576, 65536, 1.25, 10.0, 0.125),
    "gemini-2.5-pro": chat("vertex_ai-language-models", 1048576, 65535, 1.25, 10.0),
    "gemini/gemma-3-27b-it": chat("gemini", 131072, 8192, 0.0, 0.0),
    "deepseek-chat": chat("deepseek", 131072, 8192, 0.28, 0.42, 0.028),
    "deepseek/deepseek-chat": chat("deepseek", 131072, 8192, 0.28, 0.42, 0.028),
    "deepseek/deepseek-r1": chat("deepseek", 65536, 8192, 0.55, 2.19, 0.14),
    "mistral/mistral-large-latest": chat("mistral", 262144, 262144, 0.5, 1.5, 0.05),
    "mistral/zai-glm-5": chat("mistral", 1048576, 131072, 1.4, 4.4, 0.14),
    "xai/grok-4.3": chat("xai", 1000000, 1000000, 1.25, 2.5, 0.2),
    "xai/grok-4.3-latest": chat("xai", 1000000, 1000000, 1.25, 2.5, 0.2),
    "groq/llama-3.3-70b-versatile": chat("groq", 128000, 32768, 0.59, 0.79),
}

PREVIOUS = {
    "version": 1,
    "fallback": {"encoding": "o200k_base", "context_window": 8192, "max_output": 4096},
    "models": [
        {"name": "gpt-4o", "aliases": ["gpt-4o-2024-05-13", "chatgpt-4o-latest"],
         "provider": "openai", "context_window": 128000, "max_output": 16384,
         "encoding": "o200k_base", "input_per_million": 2.5, "output_per_million": 10.0,
         "exact": True},
        {"name": "claude-sonnet-4", "aliases": ["claude-sonnet-4-20250514", "claude-sonnet-4-5"],
         "provider": "anthropic", "context_window": 200000, "max_output": 64000,
         "encoding": "cl100k_base", "input_per_million": 3.0, "output_per_million": 15.0,
         "exact": False, "note": "estimated"},
        {"name": "llama3.1", "aliases": ["llama3.1:8b"], "provider": "local",
         "context_window": 131072, "max_output": 8192, "encoding": "cl100k_base",
         "exact": False},
        {"name": "deepseek-r1", "aliases": ["deepseek-r1:7b"], "provider": "local",
         "context_window": 131072, "max_output": 8192, "encoding": "cl100k_base",
         "exact": False},
    ],
}

# The local models the hand-written catalog had, which the community source lacks.
LOCAL_MODELS = {
    "llama3", "llama3.1", "llama3.2", "llama3.3", "qwen2.5", "qwen2.5-coder", "qwen3",
    "mistral", "mistral-nemo", "mixtral", "gemma2", "gemma3", "phi3", "phi3.5", "phi4",
    "deepseek-r1", "deepseek-v3", "deepseek-coder-v2",
}


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "model_prices_and_context_window_backup.json"
    path.write_text(json.dumps(SOURCE), encoding="utf-8")
    return path


@pytest.fixture
def fresh_catalog():
    """The process-wide catalog read again before and after (a test's data folder)."""
    set_data_dir(None)
    yield
    set_data_dir(None)


def by_name(doc: dict) -> dict[str, dict]:
    return {m["name"]: m for m in doc["models"]}


# --- the builder ------------------------------------------------------------------
def test_entries_match_the_source(source: Path):
    doc = build_catalog(source, PREVIOUS, litellm_version="9.9.9")
    models = by_name(doc)
    gpt4o = models["gpt-4o"]
    assert (gpt4o["provider"], gpt4o["context_window"], gpt4o["max_output"]) == (
        "openai", 128000, 16384)
    assert (gpt4o["input_per_million"], gpt4o["output_per_million"],
            gpt4o["cached_input_per_million"]) == (2.5, 10.0, 1.25)
    assert gpt4o["encoding"] == "o200k_base" and gpt4o["exact"] is True
    # the dated snapshot with the same figures is an alias; the one with others is not,
    # and takes back the alias the previous catalog gave it; the other old alias stays
    assert gpt4o["aliases"] == ["gpt-4o-2024-08-06", "chatgpt-4o-latest"]
    old = models["gpt-4o-2024-05-13"]
    assert (old["max_output"], old["input_per_million"], old["cached_input_per_million"]) == (
        4096, 5.0, None)
    assert models["gpt-4.1"]["aliases"] == ["gpt-4.1-2025-04-14"]
    assert models["gpt-4.1"]["context_window"] == 1047576
    assert models["gpt-4.1"]["cached_input_per_million"] == 0.5
    assert models["gpt-4"]["encoding"] == "cl100k_base"
    # the input limit, not the 400,000 shared with the reply
    assert models["gpt-5"]["context_window"] == 272000
    assert models["gpt-4o-mini"]["aliases"] == []  # a variant, not a snapshot of gpt-4o

    sonnet = models["claude-sonnet-4-5"]
    assert sonnet["aliases"] == ["claude-sonnet-4-5-20250929"]
    assert (sonnet["provider"], sonnet["context_window"], sonnet["max_output"]) == (
        "anthropic", 200000, 64000)
    assert (sonnet["input_per_million"], sonnet["output_per_million"],
            sonnet["cached_input_per_million"]) == (3.0, 15.0, 0.3)
    assert sonnet["encoding"] == "cl100k_base" and sonnet["exact"] is False and sonnet["note"]
    assert models["claude-sonnet-4-6"]["context_window"] == 1000000

    gemini = models["gemini-2.5-pro"]  # from the Gemini API list, not Vertex's
    assert (gemini["provider"], gemini["max_output"], gemini["cached_input_per_million"]) == (
        "google", 65536, 0.125)
    assert models["deepseek-chat"]["source"] == "litellm:deepseek-chat"  # listed twice
    assert models["grok-4.3"]["aliases"] == ["grok-4.3-latest"]
    assert models["mistral-large-latest"]["provider"] == "mistral"

    left_out = {"gpt-4o-audio-preview", "ft:gpt-4o-2024-08-06", "text-embedding-3-small",
                "gpt-no-window", "gemma-3-27b-it", "zai-glm-5", "llama-3.3-70b-versatile"}
    assert not left_out & set(models)
    assert not any("/" in n for n in models)


def test_openai_models_tiktoken_does_not_name_are_estimated(source: Path):
    preview = by_name(build_catalog(source))["gpt-7-preview"]
    assert preview["exact"] is False and preview["encoding"] == "o200k_base"
    assert "names no encoding" in preview["note"]


def test_local_and_retired_entries_are_kept(source: Path):
    models = by_name(build_catalog(source, PREVIOUS))
    # a local model's name wins over the cloud entry of the same name
    assert models["deepseek-r1"]["provider"] == "local"
    assert models["deepseek-r1"]["aliases"] == ["deepseek-r1:7b"]
    assert models["llama3.1"] == {**PREVIOUS["models"][2], "source": "hand"}
    # a retired model stays, without the alias a new entry now has
    retired = models["claude-sonnet-4"]
    assert retired["source"] == "hand" and retired["aliases"] == ["claude-sonnet-4-20250514"]
    assert [m["name"] for m in build_catalog(source, PREVIOUS)["models"]][-2:] == [
        "llama3.1", "deepseek-r1"]  # local models last, in their order
    # an override (`models --update`) keeps nothing the source lacks
    only_new = by_name(build_catalog(source, PREVIOUS, keep_missing=False))
    assert "llama3.1" not in only_new and "claude-sonnet-4" not in only_new
    assert "deepseek-r1" not in only_new


def test_the_header_names_the_source(source: Path):
    doc = build_catalog(source, PREVIOUS, litellm_version="9.9.9")
    assert doc["source"]["version"] == "9.9.9" and doc["source"]["package"] == "litellm"
    assert doc["source"]["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert doc["fallback"] == PREVIOUS["fallback"]
    path = source.with_name("built.json")
    path.write_text(json.dumps(doc), encoding="utf-8")
    Catalog.from_file(path)  # what it writes, the app reads


def test_a_file_that_is_not_litellms_is_refused(tmp_path: Path):
    for text in ("{", "[1, 2]", json.dumps({"models": []})):
        path = tmp_path / "x.json"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(SourceError):
            build_catalog(path)


def test_malformed_figures_leave_the_entry_out():
    doc = {"gpt-4o": chat("openai", "lots", 16384, 2.5, 10.0),
           "gpt-4.1": chat("openai", 1047576, 32768, 2.0, 8.0)}
    assert [e.name for e in entries_from(doc)] == ["gpt-4.1"]


def test_the_packaging_script_builds_from_a_given_file(source: Path, tmp_path: Path, capsys):
    script = Path(__file__).resolve().parent.parent / "packaging" / "build_model_catalog.py"
    spec = importlib.util.spec_from_file_location("build_model_catalog", script)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "models.json"
    previous = tmp_path / "previous.json"
    previous.write_text(json.dumps(PREVIOUS), encoding="utf-8")
    assert module.main(["--source", str(source), "--litellm", "9.9.9", "--output", str(out),
                        "--previous", str(previous)]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["source"]["version"] == "9.9.9" and "llama3.1" in by_name(doc)
    assert "from litellm 9.9.9" in capsys.readouterr().out


# --- the shipped catalog ----------------------------------------------------------
def test_the_shipped_catalog_parses_and_names_its_source():
    doc = json.loads(resource("models.json").read_text(encoding="utf-8"))
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", doc["source"]["version"])
    assert re.fullmatch(r"[0-9a-f]{64}", doc["source"]["sha256"])
    licence = resource("LICENSE-litellm").read_text(encoding="utf-8")
    assert "MIT License" in licence and "Berri AI" in licence
    catalog = Catalog.from_file(resource("models.json"))
    assert all(m.encoding in ENCODINGS for m in catalog.models)
    keys = [k.lower() for m in catalog.models for k in (m.name, *m.aliases)]
    assert len(keys) == len(set(keys)), "a name or alias is given twice"
    assert all(m.max_output <= m.context_window for m in catalog.models)


def test_every_openai_model_uses_the_encoding_tiktoken_names():
    openai = [m for m in Catalog.from_file(resource("models.json")).models
              if m.provider == "openai"]
    assert len(openai) >= 20
    for model in openai:
        for name in (model.name, *model.aliases):
            try:
                named = tiktoken.model.encoding_name_for_model(name)
            except KeyError:
                named = None
            if named is None:  # tiktoken does not know it yet: an estimate, said so
                assert not model.exact and model.note, name
            else:
                assert (model.encoding, model.exact) == (named, True), name


def test_the_local_models_are_still_there():
    catalog = Catalog.from_file(resource("models.json"))
    local = {m.name for m in catalog.models if m.provider == "local"}
    assert local >= LOCAL_MODELS
    llama = lookup_model("llama3.1:8b")
    assert llama.provider == "local" and llama.exact and llama.template == "llama-3.1"
    assert lookup_model("qwen3:8b").template == "qwen-3"
    assert lookup_model("deepseek-r1:7b").provider == "local"


def test_current_models_are_known():
    for name in ("gpt-4o", "gpt-4.1", "gpt-5", "claude-sonnet-4-5", "gemini-2.5-pro",
                 "claude-3-5-sonnet-20241022"):
        assert lookup_model(name).known, name
    assert lookup_model("gpt-4o").cached_input_per_million is not None


# --- prices with cached prompt tokens ---------------------------------------------
def test_cached_prompt_tokens_are_priced_at_the_cache_read_price():
    model = ModelInfo("m", "openai", 1000, 100, "o200k_base", input_per_million=2.0,
                      output_per_million=8.0, cached_input_per_million=0.5)
    assert model.cost(1_000_000, 1_000_000) == pytest.approx(10.0)
    assert model.cost(1_000_000, 0, cached_tokens=400_000) == pytest.approx(1.2 + 0.2)
    assert model.cost(100, 0, cached_tokens=500) == pytest.approx(100 * 0.5 / 1e6)
    unknown = ModelInfo("m", "openai", 1000, 100, "o200k_base", input_per_million=2.0)
    assert unknown.cost(1_000_000, 0, cached_tokens=400_000) == pytest.approx(2.0)


# --- the data folder's catalog ----------------------------------------------------
def test_models_update_lays_a_catalog_over_the_shipped_one(
        source: Path, data_dir: Path, fresh_catalog, capsys):
    new_price = chat("openai", 128000, 16384, 3.0, 12.0, 1.5)
    changed = dict(SOURCE, **{"gpt-4o": new_price, "gpt-4o-2024-08-06": new_price,
                              "gpt-test-9": chat("openai", 64000, 8000, 1.0, 2.0, 0.1)})
    source.write_text(json.dumps(changed), encoding="utf-8")
    assert main(["models", "--update", str(source), "--data-dir", str(data_dir)]) == 0
    out, _ = capsys.readouterr()
    assert override_path(data_dir).is_file() and str(override_path(data_dir)) in out

    catalog = load_catalog(data_dir)
    assert not catalog.problems
    gpt4o = catalog.lookup("gpt-4o-2024-08-06")
    assert (gpt4o.name, gpt4o.input_per_million, gpt4o.cached_input_per_million) == (
        "gpt-4o", 3.0, 1.5)
    assert catalog.lookup("gpt-test-9").context_window == 64000
    assert catalog.lookup("llama3.1:8b").template == "llama-3.1"  # shipped entries stay
    assert catalog.lookup("deepseek-r1:7b").provider == "local"
    names = [m.name for m in catalog.models]
    assert len(names) == len(set(names)) and names.count("gpt-4o") == 1
    # the process-wide catalog reads the data folder (TOKEN_BUDGET_DATA_DIR here)
    assert lookup_model("gpt-4o").input_per_million == 3.0

    assert main(["models", "--json", "--data-dir", str(data_dir)]) == 0
    listed = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    assert listed["gpt-4o"]["cached_input_per_million"] == 1.5 and "gpt-test-9" in listed


def test_a_broken_data_folder_catalog_warns_and_the_shipped_one_works(
        data_dir: Path, fresh_catalog, capsys):
    override_path(data_dir).write_text('{"models": [{"name": "x"', encoding="utf-8")
    catalog = load_catalog(data_dir)
    assert len(catalog.problems) == 1 and "\n" not in catalog.problems[0]
    assert str(override_path(data_dir)) in catalog.problems[0]
    assert catalog.lookup("gpt-4o").known and catalog.lookup("gpt-4o").input_per_million
    assert len(catalog.models) == len(Catalog.from_file(resource("models.json")).models)
    assert default_catalog().problems == catalog.problems

    assert main(["models", "--data-dir", str(data_dir)]) == 0
    out, err = capsys.readouterr()
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "using the shipped catalog" in warnings[0]
    assert "gpt-4o" in out and "$cache/M" in out


def test_models_update_with_a_bad_file_is_one_line(tmp_path: Path, data_dir: Path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("not json", encoding="utf-8")
    assert main(["models", "--update", str(bad), "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot read" in err
    assert not override_path(data_dir).exists()


def test_the_catalog_finds_the_data_folder_as_the_store_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from desktop_app.store.database import default_data_dir

    monkeypatch.setenv("TOKEN_BUDGET_DATA_DIR", str(tmp_path))
    assert catalog_module.default_data_dir() == default_data_dir() == tmp_path
    monkeypatch.delenv("TOKEN_BUDGET_DATA_DIR")
    assert catalog_module.default_data_dir() == default_data_dir()
