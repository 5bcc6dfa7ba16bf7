"""`token-budget compress` and `token-budget chunk` as a person uses them, and their
one-line errors for bad input."""

from __future__ import annotations

import io
import json
from itertools import pairwise

import pytest

from desktop_app.cli import main
from desktop_app.core.tokens import count_text

DOC = " ".join(
    f"Section {i} explains how the {topic} works and why it matters for case {i * 3}."
    for i, topic in enumerate(
        ["token budget", "history window", "rolling summary", "memory store", "chunker",
         "relevance filter", "gauge", "reply reserve"] * 3, 1)
)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def doc_file(tmp_path):
    path = tmp_path / "doc.txt"
    path.write_text(DOC, encoding="utf-8")
    return str(path)


def test_compress_prints_text_within_the_target(doc_file, capsys):
    code, out, err = run(capsys, "compress", doc_file, "--target", "80", "--model", "gpt-4o")
    text = out.rstrip("\n")
    assert code == 0 and 0 < count_text(text) <= 80
    assert f"{count_text(DOC)} -> {count_text(text)} tokens (target 80)" in err


def test_compress_json_and_a_chosen_level(doc_file, capsys):
    code, out, _ = run(capsys, "compress", doc_file, "-t", "200", "--level", "keypoints", "--json")
    result = json.loads(out)
    assert code == 0 and result["level"] == "keypoints" and result["fits"]
    assert result["tokens_after"] == count_text(result["text"]) <= 200
    assert result["tokens_before"] == count_text(DOC) and result["encoding"] == "o200k_base"


def test_compress_reads_standard_input(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(DOC.encode("utf-8"))))
    code, out, _ = run(capsys, "compress", "-", "--target", "60")
    assert code == 0 and count_text(out.rstrip("\n")) <= 60


PROMPT = ("You are a very helpful travel assistant. Please answer briefly, in bullet points. "
          "The user is planning a 5-day trip to Lisbon in May with a budget of $2,000. "
          "Suggest a day-by-day plan with one restaurant per day.")


def test_a_target_that_forces_loss_warns_and_keeps_the_instructions(tmp_path, capsys):
    path = tmp_path / "prompt.txt"
    path.write_text(PROMPT, encoding="utf-8")
    code, out, err = run(capsys, "compress", str(path), "--target", "10")
    assert code == 0 and out.strip() == "Answer briefly, in bullet points."
    warning = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warning) == 1 and "the target of 10 tokens forces loss" in warning[0]
    assert "“Suggest a day-by-day plan" in warning[0] and "Lisbon" in warning[0]
    assert "50 -> 7 tokens (target 10), keeps 14% of 7 key items" in err
    code, out, err = run(capsys, "compress", str(path), "--target", "10", "--json")
    result = json.loads(out)
    assert result["fits"] and 0 < result["retention"] < 0.5 and "Lisbon" in result["lost"]
    assert result["warning"].startswith("the target of 10 tokens forces loss")
    code, out, err = run(capsys, "compress", str(path), "--target", "1000")
    assert code == 0 and "warning" not in err and out.rstrip("\n") == PROMPT


def test_a_word_longer_than_a_chunk_is_noted(tmp_path, doc_file, capsys):
    path = tmp_path / "long.txt"
    path.write_text("Short words first. " + "Supercalifragilistic" * 6 + " and more words.",
                    encoding="utf-8")
    code, out, err = run(capsys, "chunk", str(path), "--tokens", "8")
    assert code == 0 and "note: a word longer than 8 tokens had to be cut inside" in err
    code, out, err = run(capsys, "chunk", doc_file, "--tokens", "30")
    assert code == 0 and "note:" not in err


def test_compress_that_cannot_fit_says_so_and_exits_1(doc_file, capsys):
    code, out, err = run(capsys, "compress", doc_file, "--target", "20", "--level", "format")
    assert code == 1 and out.strip()  # the attempt is still shown
    assert "does not fit" in err and "Traceback" not in err


def test_unknown_model_warns_and_uses_the_fallback_encoding(doc_file, capsys):
    code, out, err = run(capsys, "compress", doc_file, "-t", "50", "-m", "no-such-model", "--json")
    assert code == 0 and "warning" in err and "no-such-model" in err
    assert json.loads(out)["encoding"] == "o200k_base" and not json.loads(out)["exact"]


def test_chunk_lists_overlapping_chunks(doc_file, capsys):
    code, out, err = run(capsys, "chunk", doc_file, "--tokens", "50", "--overlap", "10", "--json")
    result = json.loads(out)
    chunks = result["chunks"]
    assert code == 0 and result["tokens"] == count_text(DOC) and len(chunks) == result["count"]
    assert all(c["tokens"] <= 50 for c in chunks)
    assert all(a["end_token"] - 10 <= b["start_token"] < a["end_token"]
               for a, b in pairwise(chunks))  # up to 10 tokens shared
    assert all(c["whole_words"] and c["text"][:1] in " " and c["text"][-1:] in ".s"
               for c in chunks[1:-1])  # cut between words, ideally after a sentence
    assert chunks[-1]["end_token"] == result["tokens"]
    code, out, err = run(capsys, "chunk", doc_file, "-n", "50", "-k", "10")
    assert out.count("--- chunk ") == len(chunks) and f"{len(chunks)} chunks" in err


def test_chunk_with_a_query_keeps_relevant_chunks_within_the_budget(doc_file, capsys):
    code, out, _ = run(capsys, "chunk", doc_file, "-n", "30", "--query", "memory store",
                         "--budget", "70", "--json")
    result = json.loads(out)
    assert code == 0 and 0 < len(result["chunks"]) < result["count"]
    assert result["selected_tokens"] == sum(c["tokens"] for c in result["chunks"]) <= 70
    assert all("memory" in c["text"] for c in result["chunks"])
    assert [c["index"] for c in result["chunks"]] == sorted(c["index"] for c in result["chunks"])


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    (b"\x00\x01\x02binary", "binary"),
    (b"\xff\xfe\xfa not utf8", "not UTF-8"),
    (b"", "empty input"),
    (b"  \n\t ", "empty input"),
])
@pytest.mark.parametrize("command", [["compress", "--target", "10"], ["chunk", "--tokens", "10"]])
def test_bad_input_is_one_clear_line(tmp_path, capsys, content, message, command):
    path = tmp_path / "input.txt"
    if content is not None:
        path.write_bytes(content)
    code, out, err = run(capsys, command[0], str(path), *command[1:])
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("argv, message", [
    (["compress", "--target", "0"], "--target must be a positive number"),
    (["compress", "--target", "-5"], "--target must be a positive number"),
    (["chunk", "--tokens", "0"], "--tokens must be a positive number"),
    (["chunk", "--tokens", "10", "--overlap", "10"], "smaller than the chunk size"),
    (["chunk", "--tokens", "10", "--overlap", "-1"], "cannot be negative"),
    (["chunk", "--tokens", "10", "--budget", "50"], "--budget needs --query"),
    (["chunk", "--tokens", "10", "--query", "x", "--threshold", "1.5"], "threshold"),
])
def test_bad_options_are_one_clear_line(doc_file, capsys, argv, message):
    code, out, err = run(capsys, argv[0], doc_file, *argv[1:])
    assert code == 2 and out == "" and message in err and "Traceback" not in err
