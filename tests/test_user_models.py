"""Your own models (models.json in the data folder): added with `token-budget models
--add` or in Settings, they are listed, counted with the tokenizer you chose, budgeted
with their window, offered by every model picker, and still there after a restart. A
broken file, or a model in it that is not right, is named in one line; the shipped
catalog keeps working."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from desktop_app.cli import main
from desktop_app.core.catalog import load_catalog, lookup_model, set_data_dir
from desktop_app.core.tokens import count_text
from desktop_app.core.user_models import (
    UserModel,
    UserModelError,
    read_user_models,
    remove_user_model,
    save_user_model,
    user_models_path,
)
from tests.ui_support import open_window, seed_session, wait_idle

TEXT = "Ünïcödé 12345 and some words: the quick brown fox, 2026-11-30."


@pytest.fixture(autouse=True)
def fresh_catalog():
    """The process-wide catalog read again before and after (a test's data folder)."""
    set_data_dir(None)
    yield
    set_data_dir(None)


def write_models(data_dir: Path, doc) -> Path:
    path = user_models_path(data_dir)
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


# --- the command line -----------------------------------------------------------------
def test_a_model_added_on_the_command_line_is_listed_counted_and_budgeted(
        data_dir: Path, tmp_path: Path, capsys):
    assert main(["models", "--add", "my-finetune", "--window", "6000", "--max-output", "1000",
                 "--input-price", "0.5", "--output-price", "1.5", "--cache-price", "0.05",
                 "--tokenizer", "qwen2", "--data-dir", str(data_dir)]) == 0
    assert "my-finetune" in capsys.readouterr().out
    assert json.loads(user_models_path(data_dir).read_text())["models"][0]["tokenizer"] == "qwen2"

    assert main(["models", "--data-dir", str(data_dir)]) == 0
    out, err = capsys.readouterr()
    row = next(line for line in out.splitlines() if line.startswith("my-finetune "))
    assert "6,000" in row and "1,000" in row and "qwen2" in row and "0.050" in row
    assert "warning" not in err
    assert main(["models", "--json", "--data-dir", str(data_dir)]) == 0
    listed = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    mine = listed["my-finetune"]
    assert (mine["context_window"], mine["max_output"], mine["encoding"], mine["exact"]) == (
        6000, 1000, "qwen2", True)
    assert (mine["input_per_million"], mine["output_per_million"],
            mine["cached_input_per_million"]) == (0.5, 1.5, 0.05)
    assert "gpt-4o" in listed  # the catalog is all still there

    # count: its tokenizer, not the fallback (Qwen splits every digit on its own)
    text_file = tmp_path / "text.txt"
    text_file.write_text(TEXT, encoding="utf-8")
    assert main(["--data-dir", str(data_dir), "count", str(text_file), "--model",
                 "my-finetune", "--json"]) == 0
    counted = json.loads(capsys.readouterr().out)
    assert counted["encoding"] == "qwen2" and counted["exact"]
    assert counted["tokens"] == count_text(TEXT, "qwen2") != count_text(TEXT, "o200k_base")
    assert counted["context_window"] == 6000

    # assemble: its window, and its output limit as the reply reserve's cap
    messages = tmp_path / "chat.json"
    messages.write_text(json.dumps([{"role": "user", "content": "hello " * 50}]))
    assert main(["assemble", "--model", "my-finetune", "--messages", str(messages),
                 "--data-dir", str(data_dir)]) == 0
    request = json.loads(capsys.readouterr().out)
    assert request["model"] == "my-finetune" and request["report"]["window"] == 6000
    assert request["report"]["components"]["reply_reserve"]["budget"] <= 1000

    # TOKEN_BUDGET_DATA_DIR (the data_dir fixture sets it) reaches the catalog too
    set_data_dir(None)
    assert main(["count", str(text_file), "--model", "my-finetune", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["encoding"] == "qwen2"

    assert main(["models", "--remove", "my-finetune", "--data-dir", str(data_dir)]) == 0
    capsys.readouterr()
    assert not load_catalog(data_dir).find("my-finetune")
    assert main(["models", "--remove", "my-finetune", "--data-dir", str(data_dir)]) == 2
    assert "is not one of your models" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "words"), [
    (["--window", "-5"], "context_window must be between 16 and 100,000,000"),
    (["--window", "9" * 30], "context_window must be between 16 and 100,000,000"),
    (["--window", "4000", "--tokenizer", "nonesuch"], "unknown tokenizer 'nonesuch'"),
    (["--window", "4000", "--max-output", "9000"], "max_output must be between 1"),
    ([], "--add needs --window"),
])
def test_a_model_the_command_line_refuses_is_one_line(data_dir: Path, capsys, args, words):
    assert main(["models", "--add", "bad", *args, "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err
    assert not user_models_path(data_dir).exists()


def test_a_user_model_replaces_the_catalogs_entry_of_its_name(data_dir: Path):
    save_user_model(UserModel("gpt-4o", 50_000, provider="openai", input_per_million=1.0,
                              tokenizer="o200k_base"), data_dir)
    catalog = load_catalog(data_dir)
    gpt4o = catalog.lookup("gpt-4o-2024-08-06")  # its aliases follow it
    assert (gpt4o.context_window, gpt4o.input_per_million, gpt4o.yours) == (50_000, 1.0, True)
    assert [m.name for m in catalog.models].count("gpt-4o") == 1
    assert not catalog.problems


# --- a broken file, a bad entry ---------------------------------------------------------
def test_a_broken_models_file_is_one_line_and_the_shipped_catalog_works(
        data_dir: Path, capsys):
    path = write_models(data_dir, '{"models": [{"name": "x", "context_window": 4')
    catalog = load_catalog(data_dir)
    assert len(catalog.problems) == 1 and "\n" not in catalog.problems[0]
    assert str(path) in catalog.problems[0] and "not valid JSON" in catalog.problems[0]
    gpt4o = catalog.lookup("gpt-4o")
    assert gpt4o.known and gpt4o.context_window == 128_000 and gpt4o.encoding == "o200k_base"

    assert main(["models", "--data-dir", str(data_dir)]) == 0
    out, err = capsys.readouterr()
    assert [line for line in err.splitlines()] == [f"warning: {catalog.problems[0]}"]
    assert "gpt-4o" in out
    text_file = path.with_name("text.txt")
    text_file.write_text(TEXT, encoding="utf-8")
    assert main(["count", str(text_file), "--model", "gpt-4o", "--data-dir",
                 str(data_dir)]) == 0
    out, err = capsys.readouterr()
    assert f"warning: {catalog.problems[0]}" in err.splitlines()
    assert int(out.strip()) == count_text(TEXT, "o200k_base")
    # it is not overwritten by an edit: the hand-written file is the user's to fix
    with pytest.raises(UserModelError, match="not valid JSON"):
        save_user_model(UserModel("new", 4000), data_dir)
    assert main(["models", "--add", "new", "--window", "4000", "--data-dir",
                 str(data_dir)]) == 2
    assert path.read_text().startswith('{"models": [{"name": "x"')


def test_each_bad_entry_is_named_and_the_others_load(data_dir: Path):
    write_models(data_dir, [
        {"name": "good-one", "context_window": 10_000, "tokenizer": "llama3"},
        {"name": "negative", "context_window": -4096},
        {"name": "strange", "context_window": 8192, "tokenizer": "klingon"},
        {"context_window": 8192},
        {"name": "pricey", "context_window": 8192, "input_per_million": "a lot"},
        {"name": "good-two", "context_window": 20_000, "max_output": 500},
        {"name": "GOOD-ONE", "context_window": 30_000},
    ])
    catalog = load_catalog(data_dir)
    problems = catalog.problems
    assert len(problems) == 5 and all("\n" not in p for p in problems)
    assert "'negative'" in problems[0] and "context_window" in problems[0]
    assert "'strange'" in problems[1] and "unknown tokenizer 'klingon'" in problems[1]
    assert "model 4" in problems[2] and "no name" in problems[2]
    assert "'pricey'" in problems[3] and "input_per_million" in problems[3]
    assert "'GOOD-ONE'" in problems[4] and "same name" in problems[4]
    assert catalog.lookup("good-one").encoding == "llama3"
    assert catalog.lookup("good-one").context_window == 10_000
    assert catalog.lookup("good-two").max_output == 500
    assert not catalog.lookup("negative").known and not catalog.lookup("strange").known
    assert catalog.lookup("gpt-4o").known


# --- the file ---------------------------------------------------------------------------
def test_edits_keep_the_other_entries_and_the_files_shape(data_dir: Path):
    path = write_models(data_dir, [{"name": "hand-made", "context_window": 4096,
                                    "comment": "mine"},
                                   {"name": "broken", "context_window": "big"}])
    save_user_model(UserModel("added", 8192, tokenizer="server"), data_dir)
    save_user_model(UserModel("renamed", 9000), data_dir, replacing="hand-made")
    doc = json.loads(path.read_text())
    assert isinstance(doc, list)  # a list stays a list
    assert [e["name"] for e in doc] == ["renamed", "broken", "added"]
    assert doc[1] == {"name": "broken", "context_window": "big"}  # left as it was
    assert remove_user_model("ADDED", data_dir) and not remove_user_model("nobody", data_dir)
    models, problems = read_user_models(path)
    assert [m.name for m in models] == ["renamed"] and len(problems) == 1
    assert not list(path.parent.glob(".models-*"))  # no temporary file left behind


def test_a_model_file_gives_its_tokenizer_and_template(data_dir: Path, tmp_path: Path):
    from tests.reference import llama_cpp
    from tests.reference.tiny_model import write_tiny_model

    template = llama_cpp.template_path("Qwen-Qwen2.5-7B-Instruct").read_text(encoding="utf-8")
    gguf = write_tiny_model(llama_cpp.vocab_path("qwen2"), template, tmp_path / "m.gguf")
    save_user_model(UserModel("tiny-finetune", 8192, tokenizer=f"gguf:{gguf}"), data_dir)
    save_user_model(UserModel("lost-file", 8192, tokenizer=f"gguf:{tmp_path / 'no.gguf'}"),
                    data_dir)
    entry = json.loads(user_models_path(data_dir).read_text())["models"][0]
    assert entry["tokenizer"] == {"gguf": str(gguf)}
    catalog = load_catalog(data_dir)
    tiny = catalog.lookup("tiny-finetune")
    assert (tiny.encoding, tiny.exact) == ("qwen2", True)
    assert tiny.template and tiny.template.startswith("sha256:")
    assert "m.gguf" in tiny.counting_source() and tiny.warning is None
    lost = catalog.lookup("lost-file")
    assert not lost.exact and lost.warning and "no.gguf" in lost.warning


def test_ask_the_server_counts_as_the_server_said(data_dir: Path):
    from desktop_app.core.providers import ProviderConfig
    from desktop_app.services.windows import WindowResolver

    save_user_model(UserModel("house-model", 12_000, tokenizer="server"), data_dir)
    set_data_dir(data_dir)
    before = lookup_model("house-model")
    assert not before.exact and "asks the server" in before.counting_source()
    resolver = WindowResolver()
    provider = ProviderConfig("box", base_url="http://127.0.0.1:9/v1", preset="llamacpp")
    assert resolver.learn_counting("box", "house-model", "llama3", None)
    info, window = resolver.model("house-model", provider)
    assert (info.encoding, info.exact, window.tokens) == ("llama3", True, 12_000)
    assert "asks the server" not in info.counting_source()


# --- Settings, the window and a restart ---------------------------------------------------
def test_a_model_added_in_settings_is_in_the_pickers_the_gauge_and_after_a_restart(
        qtbot, data_dir: Path):
    from desktop_app.ui.settings_dialog import SettingsDialog

    window = open_window(qtbot, data_dir)
    dialog = SettingsDialog(window.controller, window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.tabs.setCurrentIndex(1)
    assert dialog.tabs.tabText(1) == "Models" and dialog.user_model_list.count() == 0

    dialog.model_name.setText("my-llama-ft")
    dialog.model_window.setValue(7_000)
    dialog.model_output.setValue(900)
    dialog.price_in.setValue(0.25)
    dialog.price_out.setValue(0.75)
    dialog.model_tokenizer.setCurrentIndex(dialog.model_tokenizer.findData("llama3"))
    qtbot.mouseClick(dialog.save_model_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.model_status.text() == "Saved.", timeout=15_000)
    wait_idle(qtbot, window)
    assert dialog.user_model_list.count() == 1
    assert dialog.user_model_list.currentItem().text() == "my-llama-ft"
    assert dialog.default_model.findText("my-llama-ft") >= 0

    picker = window.model_picker
    index = picker.findData("my-llama-ft")
    assert index >= 0, "the session's model picker offers it"
    picker.setCurrentIndex(index)
    picker.activated.emit(index)
    wait_idle(qtbot, window)
    gauge = window.gauge
    assert gauge.report().window == 7_000
    assert gauge.window_text() == "Window: 7,000 tokens, from the model catalog"
    assert window.controller.budget.model().encoding == "llama3"
    assert window.controller.budget.model().max_output == 900

    # an edit: a larger window, and the gauge follows
    dialog.model_window.setValue(9_000)
    qtbot.mouseClick(dialog.save_model_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: gauge.report().window == 9_000, timeout=15_000)
    assert dialog.user_model_list.count() == 1
    dialog.close()
    window.close()

    # a restart: the file is read again, and a session on the model opens with it
    set_data_dir(None)
    assert load_catalog(data_dir).lookup("my-llama-ft").context_window == 9_000
    seed_session(data_dir, "On my model", [("user", "Hello"), ("assistant", "Hi")],
                 model="my-llama-ft")
    again = open_window(qtbot, data_dir)
    assert again.controller.session.model == "my-llama-ft"
    assert again.model_picker.findData("my-llama-ft") >= 0
    assert again.gauge.report().window == 9_000
    dialog = SettingsDialog(again.controller, again)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.user_model_list.count() == 1, timeout=15_000)
    dialog.user_model_list.setCurrentRow(0)
    assert (dialog.model_name.text(), dialog.model_window.value(),
            dialog.model_output.value()) == ("my-llama-ft", 9_000, 900)
    assert dialog.model_tokenizer.currentData() == "llama3"
    # removed: gone from the pickers
    qtbot.mouseClick(dialog.remove_model_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.user_model_list.count() == 0, timeout=15_000)
    wait_idle(qtbot, again)
    assert again.controller.budget.model().name == "my-llama-ft"  # the session keeps its name
    assert not lookup_model("my-llama-ft").known
    dialog.close()
    again.close()


def test_a_bad_models_file_is_named_when_the_window_opens(qtbot, data_dir: Path):
    write_models(data_dir, [{"name": "ok-model", "context_window": 5000},
                            {"name": "minus", "context_window": -1}])
    window = open_window(qtbot, data_dir)
    notice = window.centre.notice
    assert notice.isVisible() and "'minus'" in notice.text()
    assert notice.text().count("\n") == 0
    assert window.model_picker.findData("ok-model") >= 0
    window.close()


def test_a_server_that_does_not_say_its_window_is_not_asked_at_every_open(monkeypatch):
    """Asking is a few requests and some 100 ms of Python beside the window: a server
    asked this run is asked again only when it did not say its window, and not before
    ASK_AGAIN_S have passed (it may have been started, or loaded the model, since)."""
    from desktop_app.services import windows
    from desktop_app.services.windows import WindowResolver

    now = [1_000.0]
    monkeypatch.setattr(windows.time, "monotonic", lambda: now[0])
    resolver = WindowResolver()
    assert resolver.should_ask("local", "m")  # never asked this run
    resolver.asked("local", "m")  # the server answered nothing about its window
    assert not resolver.should_ask("local", "m")
    now[0] += windows.ASK_AGAIN_S - 1
    assert not resolver.should_ask("local", "m")
    now[0] += 1
    assert resolver.should_ask("local", "m")
    resolver.asked("local", "m")
    resolver.learn("local", "m", 8_192)  # now it says
    now[0] += 10 * windows.ASK_AGAIN_S
    assert not resolver.should_ask("local", "m")  # a window said is not asked again
    assert resolver.should_ask("local", "other")
