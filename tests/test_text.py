"""The shared text units (sentences, words, stopwords) and the one token formatter."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from desktop_app.core.text import (
    FUNCTION_WORDS,
    STOPWORDS,
    content_words,
    fact_terms,
    format_token_tag,
    format_tokens,
    format_tokens_short,
    reveal_controls,
    sentence_spans,
    split_sentences,
    words,
)

# text rich in what a splitter has to get right: ends, abbreviations, numbers, quotes,
# brackets, line breaks, full-width ends, and any other character now and then
_PIECES = ["Dr.", "e.g.", "J.", "Smith", "3.14", "4.1.", "ok", "Yes!", "why?", "end.",
           '"Quote."', "(aside).", "中文。", "句子！", "a", "\n", "\n\n", " ", "\t", "...", "?!"]
texts = st.one_of(
    st.lists(st.sampled_from(_PIECES), max_size=40).map(" ".join),
    st.lists(st.one_of(st.sampled_from(_PIECES), st.text(max_size=4)), max_size=30).map("".join),
    st.text(),
)


def _squeeze(text: str) -> str:
    return "".join(text.split())


@settings(max_examples=400, deadline=None)
@given(texts)
def test_sentences_give_back_the_text_and_none_is_empty(text):
    sentences = split_sentences(text)
    assert _squeeze("".join(sentences)) == _squeeze(text)
    assert all(s and s == s.strip() for s in sentences)
    spans = sentence_spans(text)
    assert [text[a:b] for a, b in spans] == sentences
    assert all(a < b for a, b in spans)
    assert all(b1 <= a2 for (_, b1), (a2, _) in zip(spans, spans[1:], strict=False))
    assert all(not text[b1:a2].strip() for (_, b1), (a2, _) in zip(spans, spans[1:], strict=False))


def test_sentence_ends_that_are_not_ends():
    assert split_sentences("Dr. Smith met J. Doe at 3.14 today. Then he left!") == [
        "Dr. Smith met J. Doe at 3.14 today.", "Then he left!"]
    assert split_sentences("4.1. Entropy is measured in bits. See e.g. the guide.") == [
        "4.1. Entropy is measured in bits.", "See e.g. the guide."]
    assert split_sentences('He said "stop." Then (quietly) she went.') == [
        'He said "stop."', "Then (quietly) she went."]
    assert split_sentences("one\ntwo\n\n  three") == ["one", "two", "three"]
    assert split_sentences("Is it A? Yes. Plan B! Done") == ["Is it A?", "Yes.", "Plan B!", "Done"]
    assert split_sentences("今天很好。我们走吧！好") == ["今天很好。", "我们走吧！", "好"]
    assert split_sentences("") == [] and split_sentences(" \n\t ") == []


def test_one_stopword_list_and_a_stricter_set_for_facts():
    assert FUNCTION_WORDS < STOPWORDS
    # negations and modals change a fact: never ignored when matching one
    assert {"not", "no", "can", "will"} <= STOPWORDS and not {"not", "no"} & FUNCTION_WORDS
    assert content_words("The deadline is NOT Friday, please!") == ["deadline", "friday"]
    assert fact_terms("The deadline is not Friday") == ["deadline", "not", "friday"]
    assert words("Last purchase: March 15, 2023") == ["last", "purchase", "march", "15", "2023"]


def test_token_formats():
    assert format_tokens(0) == "0"
    assert format_tokens(12_345) == "12,345"
    assert format_tokens(1234.6) == "1,235"
    assert format_tokens(-5_000) == "-5,000"
    assert [format_tokens_short(n) for n in (999, 1000, 12_345, 1_000_000, 1_234_567)] == [
        "999", "1k", "12.3k", "1M", "1.23M"]
    assert format_token_tag(7) == "7 tok"
    assert format_token_tag(99_999) == "99,999 tok"
    assert format_token_tag(123_456) == "123k tok"
    assert format_token_tag(2_500_000) == "2,500k tok"


def test_controls_that_reorder_or_hide_text_are_revealed_and_joiners_are_not():
    assert reveal_controls("Budget \u202egnp.exe") == "Budget ⟨U+202E⟩gnp.exe"
    assert reveal_controls("a\u200bb\u2066c\u2069\ufeff") == \
        "a⟨U+200B⟩b⟨U+2066⟩c⟨U+2069⟩⟨U+FEFF⟩"
    # Persian writes some words with a zero-width non-joiner, emoji families with a joiner
    for text in ("می\u200cخواهم", "👨\u200d👩\u200d👧", "plain text"):
        assert reveal_controls(text) == text


@given(st.text(max_size=200))
def test_revealing_leaves_no_control_that_reorders_text(text):
    shown = reveal_controls(text)
    assert not any(c in shown for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067"
                   "\u2068\u2069\u200e\u200f")
