"""Prompt Lab and the usage chart: counts follow typing, long texts are counted off the
GUI thread without stale results, a compression suggestion applies and shows its
saving, chunks respect their budget, and the chart copes with 0 and 1,000 turns."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest
from PySide6.QtCore import QPointF, Qt

from desktop_app.core.catalog import lookup_model
from desktop_app.core.tokens import count_text
from desktop_app.ui.lab_heatmap import LONG_TEXT_CHARS, sentence_spans
from desktop_app.ui.prompt_lab import PromptLab
from desktop_app.ui.usage_chart import UsageChart

WORDY = ("You are a helpful assistant. It is important to note that you should always answer "
         "in a very friendly tone. Please make sure that you answer questions about the "
         "company's API v2.3.1 accurately. The customer's name is Jane Doe. Could you please "
         "keep answers short and in order to save tokens avoid repeating the question.")


def save_shot(widget, name: str, folder: Path) -> None:
    widget.grab().save(str(folder / name))


@pytest.fixture
def lab(qtbot):
    widget = PromptLab()
    qtbot.addWidget(widget)
    widget.resize(1100, 760)
    widget.set_models(["gpt-4o-mini", "gpt-4", "claude-3.5-sonnet"])
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_counts_follow_typing_for_every_chosen_model(qtbot, lab):
    a = lab.variants[0]
    qtbot.keyClicks(a.editor, "Answer in French.")
    text = a.text()
    assert text == "Answer in French."
    rows = {r[0]: r for r in a.table_rows()}
    assert set(rows) == {"gpt-4", "gpt-4o-mini", "claude-3.5-sonnet"}
    assert rows["gpt-4o-mini"][1] == str(count_text(text, "o200k_base"))
    assert rows["gpt-4"][1] == str(count_text(text, "cl100k_base"))
    assert rows["gpt-4"][2] == "exact" and rows["claude-3.5-sonnet"][2] == "estimated"
    mini = lookup_model("gpt-4o-mini")
    tokens = count_text(text, "o200k_base")
    expected_cost = tokens * mini.input_per_million * 1000 / 1_000_000
    assert rows["gpt-4o-mini"][3] == f"${expected_cost:.4f}"

    qtbot.keyClicks(a.editor, " Be brief.")
    rows = {r[0]: r for r in a.table_rows()}
    assert rows["gpt-4"][1] == str(count_text(a.text(), "cl100k_base"))

    # the second variant is compared with the first under the first model's encoding
    qtbot.keyClicks(lab.variants[1].editor, "Answer in French, briefly.")
    b_tokens = count_text(lab.variants[1].text(), lab.primary_encoding())
    a_tokens = count_text(a.text(), lab.primary_encoding())
    assert lab.variants[1].delta.text().startswith(
        f"{'+' if b_tokens > a_tokens else '−'}{abs(b_tokens - a_tokens)} tokens vs Variant A")
    lab.compare_page.update_compare()
    assert "Variant A → Variant B" in lab.compare_page.compare_summary.text()
    assert "briefly" in lab.compare_page.diff_view.toPlainText()


def test_long_text_is_counted_off_the_gui_thread_without_stale_results(qtbot, lab):
    a = lab.variants[0]
    first = "token budget " * (LONG_TEXT_CHARS // 10)
    a.set_text(first)
    assert a.is_long() and a.is_counting()
    assert a.tokens("o200k_base") is None  # not yet: the count runs on the pool
    second = first + "and one more sentence to count. " * 50
    a.set_text(second)  # a newer edit while the first count may be under way
    qtbot.waitUntil(lambda: not a.is_counting(), timeout=10_000)
    assert a.tokens("o200k_base") == count_text(second, "o200k_base")
    assert a.tokens("cl100k_base") == count_text(second, "cl100k_base")
    assert a.table_rows()[0][1] != "counting…"


def test_a_compression_suggestion_applies_and_shows_its_saving(qtbot, lab, artifacts_dir):
    a = lab.variants[0]
    a.set_text(WORDY)
    compress = lab.compress_page
    lab.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: len(compress.suggestions()) > 0, timeout=5_000)
    first = compress.suggestions()[0]
    assert first.level == "format" and first.saving > 0
    before = count_text(WORDY, lab.primary_encoding())
    compress.suggestion_list.setCurrentItem(compress.suggestion_list.topLevelItem(0))
    assert compress.apply_button.isEnabled()
    compress.apply_button.click()
    assert a.text() == first.text
    assert a.tokens(lab.primary_encoding()) == before - first.saving
    assert f"saved {first.saving}" in compress.compress_status.text()
    save_shot(lab, "prompt_lab_compress.png", artifacts_dir)
    a.editor.undo()  # the applied suggestion is one undo step
    assert a.text() == WORDY


def test_compress_to_target_and_chunking(qtbot, lab, artifacts_dir):
    lab.variants[0].set_text(WORDY)
    lab.tabs.setCurrentIndex(1)
    lab.compress_page.target_spin.setValue(40)
    lab.compress_page.compress_button.click()
    assert len(lab.variants) == 3
    assert count_text(lab.variants[2].text(), lab.primary_encoding()) <= 40

    lab.tabs.setCurrentIndex(2)
    chunker = lab.chunk_page
    chunker.document_edit.setPlainText(("Budgets keep long chats affordable. " * 60 + "\n\n") * 10)
    chunker.chunk_budget.setValue(300)
    chunker.chunk_overlap.setValue(30)
    chunker.chunk_button.click()
    qtbot.waitUntil(lambda: bool(chunker.chunks()), timeout=5_000)
    chunks = chunker.chunks()
    assert len(chunks) > 1 and all(c.tokens <= 300 for c in chunks)
    assert chunker.chunk_list.topLevelItemCount() == len(chunks)
    assert f"{len(chunks)} chunks of at most 300 tokens" in chunker.chunk_status.text()

    chunker.chunk_overlap.setValue(300)
    chunker.chunk_button.click()
    assert "overlap must be smaller" in chunker.chunk_status.text()
    save_shot(lab, "prompt_lab_chunk.png", artifacts_dir)


def test_heatmap_marks_sentences_and_explains_them(qtbot, lab, artifacts_dir):
    a = lab.variants[0]
    a.set_text("Plain words in a plain sentence. x7Qz!9#kL@2vR%3 ~ 0x7f3a9c2e.")
    spans = sentence_spans(a.text())
    assert len(spans) == 2
    layout = a.editor.document().firstBlock().layout()
    formats = layout.formats()
    assert formats, "the highlighter coloured the sentences"
    colours = {f.format.background().color().name() for f in formats}
    assert len(colours) == 2  # prose and the dense string get different heat
    rect = a.editor.cursorRect(a.editor.document().find("plain"))
    tip = a.sentence_tooltip(rect.center())
    assert "tokens" in tip and "tokens per word" in tip
    lab.variants[1].set_text(WORDY)
    lab.compare_page.update_compare()
    save_shot(lab, "prompt_lab.png", artifacts_dir)


# --- usage chart -----------------------------------------------------------------------

def turns(n: int) -> list[dict]:
    return [{"components": {"system_prompt": 400, "memory": min(600, 40 * i),
                            "history": min(30_000, 800 * i), "current_input": 50 + i % 200,
                            "reply": 300},
             "cost": 0.0004 + i * 1e-6, "label": f"Turn {i + 1}"} for i in range(n)]


def test_usage_chart_handles_no_turns_and_a_thousand(qtbot, artifacts_dir):
    chart = UsageChart()
    qtbot.addWidget(chart)
    chart.resize(560, 320)
    chart.set_turns([])
    chart.show()
    assert chart.bars() == [] and chart.header_text() == ""
    assert "No turns yet" in chart.accessibleDescription()
    save_shot(chart, "usage_empty.png", artifacts_dir)

    data = turns(24)
    chart.set_turns(data)
    assert len(chart.bars()) == 24
    bar = chart.bar_at(chart.bar_rect(3).center())
    assert bar is not None and bar.first == 3
    assert "Turn 4" in chart.tooltip_for(bar)
    assert chart.bars()[-1].cumulative_cost == pytest.approx(sum(t["cost"] for t in data))
    save_shot(chart, "usage_24.png", artifacts_dir)

    data = turns(1000)
    chart.set_turns(data)
    bars = chart.bars()
    assert len(bars) <= chart.width() / 4  # grouped: never thinner than 4 px
    assert bars[0].first == 0 and bars[-1].last == 999
    # averages times group sizes give back every token
    total = sum(bar.total * (bar.last - bar.first + 1) for bar in bars)
    assert total == pytest.approx(sum(sum(t["components"].values()) for t in data))
    assert "average per turn" in chart.tooltip_for(bars[1])
    assert chart.header_text().startswith("1,000 turns")
    assert chart.bar_at(QPointF(-5, -5)) is None
    save_shot(chart, "usage_1000.png", artifacts_dir)


# --- issue 11: a Lab people can work in all day ------------------------------------------

TRAVEL = ("You are a very helpful travel assistant. Please answer briefly, in bullet points. "
          "The user is planning a 5-day trip to Lisbon in May with a budget of $2,000. "
          "Suggest a day-by-day plan with one restaurant per day.")


@pytest.mark.parametrize("keys", [(Qt.Key.Key_Escape, Qt.KeyboardModifier.NoModifier),
                                  (Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)],
                         ids=["Esc", "Ctrl+W"])
def test_esc_and_ctrl_w_close_the_lab(qtbot, lab, keys):
    lab.activateWindow()
    qtbot.waitActive(lab)
    editor = lab.variants[0].editor
    editor.setFocus()
    qtbot.keyClicks(editor, "Draft")
    qtbot.keyClick(editor, *keys)
    assert not lab.isVisible()
    assert lab.variants[0].text() == "Draft"  # closed, not cleared: it opens as it was
    lab.show()
    qtbot.waitExposed(lab)
    assert lab.variants[0].text() == "Draft"


def test_compressing_past_the_instructions_warns_and_suggestions_say_what_they_keep(qtbot, lab):
    lab.variants[0].set_text(TRAVEL)
    page = lab.compress_page
    lab.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: len(page.suggestions()) > 0, timeout=5_000)
    rows = {page.suggestion_list.topLevelItem(i).text(0): page.suggestion_list.topLevelItem(i)
            for i in range(page.suggestion_list.topLevelItemCount())}
    assert page.suggestion_list.headerItem().text(2) == "Keeps"
    assert rows["Format compression"].text(2) == "100%"
    losing = [s for s in page.suggestions() if s.lost]
    for s in losing:
        item = rows[s.label]
        assert item.text(2).startswith(f"{s.retention:.0%}")
        assert "Drops:" in item.toolTip(2)

    page.target_spin.setValue(10)
    page.compress_button.click()
    new = lab.variants[-1]
    assert new.text() == "Answer briefly, in bullet points."  # the instruction, not the role
    status = page.compress_status.text()
    assert ("Warning: the target of 10 tokens forces loss: keeps 1 of 7 key items (14%) and "
            "drops 2 instructions and 4 numbers and names (hover for which)") in status
    tip = page.compress_status.toolTip()  # which ones
    assert "Lisbon" in tip and "Suggest a day-by-day plan" in tip and "Drops:" in tip

    page.target_spin.setValue(1000)
    page.compress_button.click()
    assert "Warning" not in page.compress_status.text()


def test_the_chunk_view_ranks_chunks_by_a_query(qtbot, lab):
    topics = {
        "refund": "Refunds are paid within 14 days when the refund policy applies to the order.",
        "shipping": "Shipping takes three days inside the country and a week abroad.",
        "privacy": "Personal data is kept for two years and never sold to third parties.",
    }
    document = "\n\n".join(" ".join([text] * 6) for text in topics.values())
    lab.tabs.setCurrentIndex(2)
    chunker = lab.chunk_page
    chunker.document_edit.setPlainText(document)
    chunker.chunk_budget.setValue(40)
    chunker.chunk_overlap.setValue(5)
    chunker.chunk_button.click()
    qtbot.waitUntil(lambda: bool(chunker.chunks()), timeout=5_000)
    assert chunker.relevance() is None
    assert chunker.chunk_list.topLevelItem(0).text(2) == "—"
    for c in chunker.chunks():  # never mid-word: every edge is at a space or an end
        for edge in (c.char_start, c.char_end):
            assert edge in (0, len(document)) or document[edge - 1].isspace() \
                or document[edge].isspace()

    chunker.query_edit.setFocus()
    qtbot.keyClicks(chunker.query_edit, "refund policy")
    qtbot.keyClick(chunker.query_edit, Qt.Key.Key_Return)  # Enter runs it
    qtbot.waitUntil(lambda: chunker.relevance() is not None, timeout=5_000)
    chunks, relevance, kept = chunker.chunks(), chunker.relevance(), chunker.kept()
    assert len(relevance) == len(chunks) and max(relevance) == 1.0
    assert kept and all("refund" in chunks[i].text.lower() for i in kept)
    assert all(relevance[i] == 0 for i in range(len(chunks)) if i not in kept)
    best = relevance.index(1.0)
    assert chunker.chunk_list.topLevelItem(best).text(2) == "100% · kept"
    assert "Query “refund policy”: kept" in chunker.chunk_status.text()

    chunker.keep_budget.setValue(40)  # only the most relevant that fit in 40 tokens
    chunker.chunk_button.click()
    qtbot.waitUntil(lambda: len(chunker.kept()) < len(kept), timeout=5_000)
    assert sum(chunker.chunks()[i].tokens for i in chunker.kept()) <= 40
    assert "within 40" in chunker.chunk_status.text()
