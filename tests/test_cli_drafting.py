"""The offline drafting commands as a person uses them: count, plan, models, assemble,
bench, and their one-line errors for bad input."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop_app.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write_json(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_count_text_file_prints_the_number_last(tmp_path, capsys):
    f = tmp_path / "draft.txt"
    f.write_text("hello world", encoding="utf-8")
    code, out, err = run(capsys, "count", "--model", "gpt-4o", str(f))
    assert code == 0 and out.strip().splitlines()[-1] == "2"
    assert "exact" in err


def test_count_messages_and_tools_as_the_api_bills(tmp_path, capsys):
    messages = write_json(tmp_path, "m.json", [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is the weather in Paris?"}])
    code, out, _ = run(capsys, "count", "--model", "gpt-4o", "--messages", messages, "--json")
    plain = json.loads(out)
    assert code == 0 and plain["exact"] and plain["encoding"] == "o200k_base"
    # 3 priming + 2 x (3 framing + 1 role) + the two contents
    from desktop_app.core.tokens import count_text
    assert plain["tokens"] == 3 + 8 + count_text("You are a helpful assistant.") + count_text(
        "What is the weather in Paris?")
    tools = write_json(tmp_path, "t.json", [{"type": "function", "function": {
        "name": "weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}])
    code, out, _ = run(capsys, "count", "--model", "gpt-4o", "--messages", messages,
                       "--tools", tools, "--json")
    with_tools = json.loads(out)
    assert with_tools["tokens"] > plain["tokens"] and not with_tools["exact"]


@pytest.mark.parametrize("content, message", [
    (b"\x00\x01\x02binary", "binary"),
    (b"\xff\xfe\xfa not utf8", "not UTF-8"),
])
def test_bad_text_input_is_one_clear_line(tmp_path, capsys, content, message):
    f = tmp_path / "bad.bin"
    f.write_bytes(content)
    code, _, err = run(capsys, "count", str(f))
    assert code == 2 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_bad_messages_files(tmp_path, capsys):
    code, _, err = run(capsys, "count", "--messages", str(tmp_path / "missing.json"))
    assert code == 2 and "no such file" in err
    broken = tmp_path / "broken.json"
    broken.write_text('[{"role": "user", "content": "hi"', encoding="utf-8")
    code, _, err = run(capsys, "count", "--messages", str(broken))
    assert code == 2 and "invalid JSON at line 1" in err
    no_content = write_json(tmp_path, "nc.json", [{"role": "user"}])
    code, _, err = run(capsys, "count", "--messages", no_content)
    assert code == 2 and "message 0 (user) has no content" in err


def test_unknown_model_warns_and_still_counts(tmp_path, capsys):
    f = tmp_path / "d.txt"
    f.write_text("hello world", encoding="utf-8")
    code, out, err = run(capsys, "count", "--model", "brand-new-model-x", str(f))
    assert code == 0 and out.strip() == "2"
    assert "warning: unknown model 'brand-new-model-x'" in err


def test_plan_table_and_custom_fractions(capsys):
    code, out, _ = run(capsys, "plan", "--model", "gpt-3.5-turbo", "--profile", "40-40-20")
    assert code == 0 and "16,385-token window" in out and "Reply reserve" in out
    code, out, _ = run(capsys, "plan", "--model", "gpt-4o", "--profile", "mine", "--fractions",
                       '{"history": 0.6, "reply_reserve": 0.2}', "--json")
    assert code == 0 and json.loads(out)["budgets"]["history"] == 76_800
    code, _, err = run(capsys, "plan", "--profile", "mine", "--fractions",
                       '{"history": 0.9, "reply_reserve": 0.2}')
    assert code == 2 and "more than 100%" in err
    code, _, err = run(capsys, "plan", "--profile", "nope")
    assert code == 2 and "unknown profile" in err


def test_models_lists_the_catalog(capsys):
    code, out, _ = run(capsys, "models", "--json")
    names = {m["name"] for m in json.loads(out)}
    assert code == 0 and {"gpt-4o", "gpt-5", "llama3.1", "claude-sonnet-4", "o3"} <= names


def test_assemble_prints_the_exact_request(tmp_path, capsys):
    history = [{"role": "system", "content": "Be brief."}]
    for i in range(60):
        history.append({"role": "user" if i % 2 == 0 else "assistant",
                        "content": f"Message {i} about the budget of the trip to Rome. " * 5})
    history[5]["pinned"] = True
    messages = write_json(tmp_path, "h.json", history)
    code, out, err = run(capsys, "assemble", "--model", "gpt-4o", "--window", "2000",
                         "--profile", "default", "--strategy", "rolling_summary",
                         "--messages", messages, "--input", "And now?")
    assert code == 0, err
    result = json.loads(out)
    assert result["messages"][0] == {"role": "system", "content": "Be brief."}
    assert result["messages"][-1] == {"role": "user", "content": "And now?"}
    assert result["tokens"] + result["max_tokens"] <= 2000
    states = {e["state"] for e in result["inclusion"]}
    assert {"kept", "folding", "pinned"} <= states  # folded by this request: no stored summary
    assert result["inclusion"][4]["state"] == "pinned"  # index 4: history[5] after system
    assert result["summary"]["text"]


def test_assemble_that_cannot_fit_says_why(tmp_path, capsys):
    messages = write_json(tmp_path, "h.json", [{"role": "system", "content": "rule " * 500}])
    code, out, err = run(capsys, "assemble", "--model", "gpt-4o", "--window", "300",
                         "--messages", messages, "--input", "hi")
    assert code == 1 and "Does not fit" in err and json.loads(out)["fits"] is False


def test_bench_names_each_figure_over_its_target_with_its_unit():
    from desktop_app.commands.bench import missed_targets

    figures = {"startup_ratio_to_bare_qt": 2.33, "idle_rss_mb": 131.2, "search_1gb_ms": 7.3,
               "import_300k_ms": 12723.0, "gui_block_max_ms_300k": 24.0,
               "gui_block_floor_ms": 23.8}
    missed = {line.split(" = ")[0]: line for line in missed_targets(figures)}
    assert missed.keys() == {"startup_ratio_to_bare_qt", "idle_rss_mb", "import_300k_ms",
                             "gui_block_max_ms_300k"}
    assert missed["import_300k_ms"] == "import_300k_ms = 12723.0 ms, target under 10000.0 ms"
    assert missed["idle_rss_mb"] == "idle_rss_mb = 131.2 MB, target under 130.0 MB"
    assert missed["startup_ratio_to_bare_qt"] == (
        "startup_ratio_to_bare_qt = 2.33×, target under 2.0×")
    # the longest block is shown beside what the machine itself blocks for
    assert missed["gui_block_max_ms_300k"].startswith("gui_block_max_ms_300k = 24.0 ms, "
                                                      "target under 16.0 ms (")
    assert "up to 23.8 ms here" in missed["gui_block_max_ms_300k"]
    assert missed_targets({**figures, "startup_ratio_to_bare_qt": 1.9, "idle_rss_mb": 129.4,
                           "import_300k_ms": 9400.0, "gui_block_max_ms_300k": 12.0}) == []


def test_bench_core_prints_json_figures(capsys):
    code, out, _ = run(capsys, "bench", "--json", "--only", "core")
    figures = json.loads(out)
    assert code == 0
    for key in ("cold_count_ms", "assemble_cached_ms", "keystroke_update_ms", "full_recount_ms"):
        assert figures[key] > 0
    assert figures["session_messages"] == 10_000


def test_data_dir_is_accepted_before_or_after_the_command(tmp_path, capsys):
    data = str(tmp_path / "data")
    for argv in (["--data-dir", data, "sessions"], ["sessions", "--data-dir", data]):
        code, _out, err = run(capsys, *argv)
        assert code == 0, err
    assert (tmp_path / "data").is_dir()


def test_hostile_message_files_get_one_line_errors(tmp_path, capsys):
    bad_name = tmp_path / "name.json"
    bad_name.write_text(json.dumps([{"role": "user", "content": "hi", "name": 5}]))
    assert main(["assemble", "--messages", str(bad_name)]) == 2
    err = capsys.readouterr().err
    assert "name must be text" in err and "Traceback" not in err and err.count("\n") == 1
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    for command in (["count", "--messages", str(deep)], ["assemble", "--messages", str(deep)]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "nested too deeply" in err and "Traceback" not in err


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["role", "content", "name", "tool_calls", "x"]) | st.text(max_size=5),
        inner, max_size=4),
    max_leaves=20)


near_valid = st.lists(st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "system", "tool", ""]),
     "content": json_values}, optional={"name": json_values, "tool_calls": json_values}),
    max_size=5)


@settings(max_examples=150, deadline=None)
@given(doc=json_values | near_valid)
def test_any_json_as_messages_gives_a_request_or_a_one_line_error(tmp_path_factory, doc):
    import contextlib
    import io

    path = tmp_path_factory.mktemp("fuzz") / "m.json"
    path.write_text(json.dumps(doc))
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["assemble", "--messages", str(path), "--json"])
    assert code in (0, 2), err.getvalue()
    assert "Traceback" not in err.getvalue()


@pytest.mark.parametrize("window", ["0", "8", "-5", "100000001", "9" * 30])
@pytest.mark.parametrize("command", ["plan", "assemble"])
def test_a_window_out_of_range_is_refused_in_one_line(capsys, tmp_path, command, window):
    """--window 0 used to plan with the model's own window, as if not given; a window
    past any model's made shares too big to be whole numbers."""
    chat = ["--messages", str(write_json(tmp_path, "chat.json", [
        {"role": "user", "content": "Hello"}]))] if command == "assemble" else []
    code, out, err = run(capsys, command, "--model", "gpt-4o", "--window", window, *chat)
    assert code == 2 and not out
    assert err.count("\n") == 1 and "--window must be between 16 and 100,000,000" in err
