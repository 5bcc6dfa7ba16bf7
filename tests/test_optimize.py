"""The optimizer as a user relies on it: compression levels that really reach a token
target (real counts), structured input with its saving, token chunks with exact
overlap, and relevance selection within a budget."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop_app.core import instructions
from desktop_app.core.catalog import ENCODINGS
from desktop_app.core.optimize import (
    LEVELS,
    TRUNCATION_LABEL,
    OptimizeError,
    bm25_scores,
    boundary_filter,
    chunk_by_tokens,
    compress,
    format_compress,
    key_points,
    rank_chunks,
    select_relevant,
    suggestions,
    summarize,
    to_key_values,
)
from desktop_app.core.tokens import count_text, encode, get_encoding

CUSTOMER = (
    "The customer's name is John Smith. He is 45 years old. He has been a customer for 5 "
    "years. His account number is AC-12345. His email is john.smith@example.com. His phone "
    "number is 555-123-4567. He has a premium subscription. His last purchase was on March "
    "15, 2023. He has spent a total of $3,450 with us. His customer satisfaction score is 4.8/5."
)
API = (
    "The API rate limit is 100 requests per minute. Authentication uses OAuth 2.0. The "
    "endpoint for user data is /api/v1/users. The data format is JSON. Responses include "
    "pagination information."
)
# A document of distinct sentences on a few topics, long enough to need real cuts.
TOPICS = {
    "budget": "The token budget divides the context window between the system prompt, "
              "the history and the reply reserve.",
    "history": "Chat history grows with every turn, so old messages are windowed or "
               "summarized when the history budget runs out.",
    "memory": "Key facts such as the user's name and deadline are kept as key-value memory "
              "lines that cost few tokens.",
    "chunks": "Large documents are split into chunks of a fixed number of tokens with an "
              "overlap so that no sentence is lost at a boundary.",
    "relevance": "A relevance filter keeps only the chunks that match the question, ranked "
                 "with BM25 over their words.",
    "metrics": "Efficiency is measured as quality per token, and retention as the share of "
               "key facts that survive a compression.",
}
DOCUMENT = "\n\n".join(
    f"{topic.title()}.\n{text} " + " ".join(
        f"In example {i}, the {topic} rule applied to case {i * 7} of the report."
        for i in range(1, 6)
    )
    for topic, text in TOPICS.items()
)


# --- level 1: format ---------------------------------------------------------------------
def test_format_compression_removes_noise_and_keeps_meaning():
    text = (
        "## Instructions\n\n\n\nPlease note that you should **always** answer in order to help "
        "the user!!!   Could you please   summarize the text below....\n\n---\n"
        "In the event that the text is very long, read it all due to the fact that details "
        "matter???"
    )
    out = format_compress(text)
    assert out == (
        "Instructions\n\nYou should always answer to help the user! Summarize the text "
        "below...\n\nIf the text is long, read it all because details matter?"
    )
    assert count_text(out) < count_text(text)


def test_format_compression_leaves_code_exactly_as_it_was():
    code = "```python\ndef f(x):    return   x  # please keep\n\n\n\n```"
    text = f"Please  run this:\n{code}\nThen call `f(  1 )` very carefully."
    out = format_compress(text)
    assert code in out and "`f(  1 )`" in out
    assert out.startswith("Run this:") and out.endswith("call `f(  1 )` carefully.")
    code_like = "Call __init__ with *args and **kwargs; 2 * 3 * 4 is big."
    assert format_compress(code_like) == code_like


# --- level 2: structured input -----------------------------------------------------------
def test_prose_facts_become_key_value_lines_with_the_saving_reported():
    result = to_key_values(CUSTOMER)
    assert result.text.splitlines() == [
        "Customer name: John Smith",
        "Age: 45",
        "Customer for: 5 years",
        "Account number: AC-12345",
        "Email: john.smith@example.com",
        "Phone number: 555-123-4567",
        "Subscription: premium",
        "Last purchase: March 15, 2023",
        "Total spend: $3,450",
        "Customer satisfaction score: 4.8/5",
    ]
    assert len(result.pairs) == 10
    assert result.tokens_before == count_text(CUSTOMER)
    assert result.tokens_after == count_text(result.text)
    assert result.saving == result.tokens_before - result.tokens_after > 10


def test_sentences_that_are_not_one_fact_stay_prose():
    result = to_key_values(API)
    lines = result.text.splitlines()
    assert "Authentication: OAuth 2.0" in lines and "Data format: JSON" in lines
    assert lines[-1] == "Responses include pagination information."
    assert to_key_values("Is it ready? I think so.").pairs == ()


# --- levels 3 and 4 and the choice of level ----------------------------------------------
def test_text_within_target_is_left_unchanged():
    result = compress(API, 1000)
    assert (result.level, result.text, result.fits) == ("none", API, True)
    assert result.tokens_before == result.tokens_after == count_text(API)


def test_lightest_level_that_reaches_the_target_is_chosen():
    fluffy = "Please note that, in order to really help, you should basically be very brief!!!"
    formatted = count_text(format_compress(fluffy))
    result = compress(fluffy, formatted)
    assert result.level == "format" and result.fits
    structured = to_key_values(CUSTOMER).tokens_after
    result = compress(CUSTOMER, structured)
    assert result.level == "restructure" and result.text == to_key_values(CUSTOMER).text
    before = count_text(DOCUMENT)
    assert compress(DOCUMENT, before * 6 // 10).level == "keypoints"
    assert compress(DOCUMENT, before // 10).level == "summarize"


def test_key_points_are_whole_sentences_in_original_order():
    target = count_text(DOCUMENT) // 2
    result = compress(DOCUMENT, target)
    assert result.level == "keypoints" and result.tokens_after <= target
    positions = []
    for line in result.text.split("\n"):
        for sentence in filter(None, (s.strip() for s in line.split(". "))):
            positions.append(DOCUMENT.index(sentence.rstrip(".")))
    assert positions == sorted(positions) and len(positions) > 5


def test_summary_reaches_a_hard_target_without_repeating_itself():
    repeated = " ".join([TOPICS["budget"]] * 4 + [TOPICS["memory"], TOPICS["chunks"]])
    text, truncated = summarize(repeated, 60)
    assert not truncated and count_text(text) <= 60
    assert text.count("window") <= 1  # the repeated sentence is kept once at most
    assert "memory" in text and "chunks" in text.lower()


def test_truncation_is_the_labelled_last_resort():
    sentence = ("The quarterly report, which covers revenue, churn, hiring and the new office "
                "in Lisbon, must reach the board before Friday noon")
    result = compress(sentence, 12)
    assert result.level == "summarize" and result.truncated and result.fits
    assert result.text.endswith(TRUNCATION_LABEL) and result.tokens_after <= 12
    # a constraint ("must") is cut, never condensed: its wording is what it asks
    assert result.text.startswith("The quarterly report, which covers")
    assert "truncated" in result.message


def test_a_target_nothing_can_reach_is_a_clear_failure():
    result = compress(CUSTOMER, 1)
    assert (result.fits, result.text) == (False, "")
    assert "cannot fit in 1 tokens" in result.message
    with pytest.raises(OptimizeError, match="positive"):
        compress(CUSTOMER, 0)
    with pytest.raises(OptimizeError, match="unknown level"):
        compress(CUSTOMER, 10, level="magic")


def test_a_chosen_level_that_misses_the_target_says_so():
    result = compress(DOCUMENT, 50, level="format")
    assert result.level == "format" and not result.fits
    assert result.tokens_after == count_text(result.text) > 50
    assert "stronger level" in result.message
    result = compress(" ".join(TOPICS.values()), 5, level="keypoints")
    assert not result.fits and result.text == "" and "no whole sentence" in result.message


def test_suggestions_show_each_level_and_its_true_saving():
    found = suggestions(DOCUMENT)
    assert [s.level for s in found] == [lvl for lvl in LEVELS if lvl in {s.level for s in found}]
    assert {"keypoints", "summarize"} <= {s.level for s in found}
    for s in found:
        assert s.tokens_before == count_text(DOCUMENT)
        assert s.tokens_after == count_text(s.text) and s.saving > 0
    assert suggestions("") == []


TRAVEL = (
    "You are a very helpful travel assistant. Please answer briefly, in bullet points. "
    "The user is planning a 5-day trip to Lisbon in May with a budget of $2,000. "
    "They like museums, food markets and walking tours. "
    "Suggest a day-by-day plan with one restaurant per day. "
    "Never recommend places that need a reservation more than a week ahead. "
    "It is important to note that the weather in May is usually mild and sunny."
)
ORDERS = ("Answer briefly, in bullet points.", "Suggest a day-by-day plan with one restaurant "
          "per day.", "Never recommend places that need a reservation more than a week ahead.")


@pytest.mark.parametrize("sentence, expected", [
    ("Answer briefly, in bullet points.", instructions.INSTRUCTION),
    ("Please keep answers under 100 words.", instructions.INSTRUCTION),
    ("- Use JSON for the output.", instructions.INSTRUCTION),
    ("2. List three options.", instructions.INSTRUCTION),
    ("Do not mention prices.", instructions.INSTRUCTION),
    ("Replies must cite a source.", instructions.INSTRUCTION),
    ("You will write in French.", instructions.INSTRUCTION),
    ("You are a helpful travel assistant.", instructions.ROLE),
    ("Act as a strict editor.", instructions.ROLE),
    ("The user is planning a trip.", instructions.OTHER),
    ("Use of force is rare.", instructions.OTHER),
    ("Answer: 42", instructions.OTHER),
    ("Can you list them?", instructions.OTHER),
])
def test_instructions_roles_and_the_rest_are_told_apart(sentence, expected):
    assert instructions.kind(sentence) == expected


def test_key_points_and_summaries_keep_the_instructions_whole():
    before = count_text(TRAVEL)
    points = compress(TRAVEL, before // 2, level="keypoints")
    assert points.fits and all(order in points.text for order in ORDERS)
    summary = compress(TRAVEL, 25, level="summarize")
    assert summary.fits and ORDERS[0] in summary.text and ORDERS[1] in summary.text
    assert "You are helpful" not in summary.text  # instructions and roles are not condensed
    tiny = compress(TRAVEL, 10)
    assert tiny.fits and tiny.text == ORDERS[0]  # the first instruction, not the role


def test_every_result_reports_what_it_kept_and_what_it_lost():
    whole = compress(TRAVEL, 1000)
    assert (whole.retention, whole.lost, whole.loss_warning) == (1.0, (), None)
    light = compress(TRAVEL, count_text(format_compress(TRAVEL)))
    assert light.level == "format" and light.retention == 1.0 and light.key_items >= 8
    tiny = compress(TRAVEL, 10)
    assert tiny.key_items == light.key_items
    assert 0 < tiny.retention < 0.5
    assert tiny.retention == (tiny.key_items - len(tiny.lost)) / tiny.key_items
    assert {"Lisbon", "2,000", ORDERS[1], ORDERS[2]} <= set(tiny.lost)
    assert tiny.lost.index(ORDERS[1]) < tiny.lost.index("Lisbon")  # instructions first
    warning = tiny.loss_warning
    assert warning.startswith("the target of 10 tokens forces loss: it keeps 1 of ")
    assert "“Suggest a day-by-day plan" in warning and "Lisbon" in warning
    for s in suggestions(TRAVEL):
        assert s.key_items == light.key_items and 0 < s.retention <= 1
        assert (s.retention == 1.0) == (not s.lost)


order_sentences = st.sampled_from(ORDERS + (
    "Always cite the source.", "Do not use emojis.", "Reply in French.",
    "Keep every answer under 50 words.", "You must ask before booking.",
))
fact_sentences = st.sampled_from([
    TOPICS["budget"], TOPICS["history"], TOPICS["memory"], TOPICS["chunks"],
    "The hotel is near the river in Porto.", "Breakfast costs 12 euros per person.",
    "The museum opens at 10 on Sundays.",
])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(orders=st.lists(order_sentences, min_size=1, max_size=4, unique=True),
       facts=st.lists(fact_sentences, min_size=1, max_size=6, unique=True),
       data=st.data(), extra=st.integers(0, 60), level=st.sampled_from(["keypoints",
                                                                        "summarize"]))
def test_instructions_are_kept_before_anything_else(orders, facts, data, extra, level):
    """When the target holds every instruction, every instruction is kept whole, however
    salient the other sentences are; and what is lost is reported."""
    sentences = data.draw(st.permutations(orders + facts))
    text = " ".join(sentences)
    target = sum(count_text(o) + 1 for o in orders) + 4 + extra
    result = compress(text, target, level=level)
    assert result.fits
    assert all(o in result.text for o in orders)
    assert not (set(orders) & set(result.lost))
    assert result.retention == pytest.approx(1 - len(result.lost) / result.key_items)


words = st.sampled_from([
    "the", "a", "budget", "token", "window", "Paris", "42", "3.14", "é", "中文", "summary",
    "memory,", "key:", "value;", "ok.", "Yes!", "why?", "(aside)", "**bold**", "please", "very",
    "—", "\n", "\n\n", "- item", "```", "a.b.c", "e.g.",
])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(words, min_size=1, max_size=120),
    target=st.integers(1, 80),
    level=st.sampled_from(("auto", *LEVELS)),
    encoding=st.sampled_from(ENCODINGS),
)
def test_compress_never_claims_a_fit_it_does_not_have(parts, target, level, encoding):
    text = " ".join(parts)
    result = compress(text, target, encoding, level)
    assert result.tokens_after == count_text(result.text, encoding)
    if result.fits:
        assert result.tokens_after <= target
        assert result.text.strip() or not text.strip()
    else:
        assert result.message


# --- progressive loading -----------------------------------------------------------------
def test_chunks_overlap_and_cover_the_document():
    chunks = chunk_by_tokens(DOCUMENT, 60, 10)
    ids = encode(DOCUMENT)
    assert chunks[0].start_token == 0 and chunks[-1].end_token == len(ids)
    for a, b in pairwise(chunks):
        assert a.end_token - 10 <= b.start_token < a.end_token  # up to 10 tokens shared
        for edge in (a.char_end, b.char_start):  # cut between words
            assert DOCUMENT[edge - 1].isspace() or DOCUMENT[edge].isspace()
        assert a.tokens <= 60
    assert all(DOCUMENT[c.char_start : c.char_end] == c.text for c in chunks)
    assert all(c.whole_words for c in chunks)


def test_chunks_end_at_sentence_ends_when_one_is_near():
    text = " ".join(f"Sentence number {i} talks about the budget of case {i * 7}."
                    for i in range(40))
    chunks = chunk_by_tokens(text, 50, 8)
    assert len(chunks) > 3
    assert all(c.text.rstrip().endswith(".") for c in chunks)  # never mid-sentence here


def test_a_word_longer_than_a_chunk_is_the_only_cut_inside_a_word():
    long_word = "Supercalifragilistic" * 6  # far more than 8 tokens, no space to cut at
    text = f"Short words first. {long_word} and then more words."
    chunks = chunk_by_tokens(text, 8, 2)
    assert all(c.tokens <= 8 for c in chunks) and all(c.clean for c in chunks)
    first, last = text.index(long_word), text.index(long_word) + len(long_word)
    cut = [c for c in chunks if not c.whole_words]  # said so, on those chunks only
    assert cut and all(c.char_start < last and c.char_end > first for c in cut)
    assert chunks[0].text == "Short words first." and chunks[-1].text.endswith("more words.")


def test_chunking_rejects_an_overlap_as_big_as_the_chunk():
    with pytest.raises(OptimizeError, match="smaller than the chunk size"):
        chunk_by_tokens(DOCUMENT, 50, 50)
    with pytest.raises(OptimizeError, match="at least 1 token"):
        chunk_by_tokens(DOCUMENT, 0)
    assert chunk_by_tokens("", 10, 2) == []


chunk_text = st.lists(
    st.sampled_from([*"abc xyz\n.,é中文🎉ü𠀀", "🎉🎉", "naïve ", "日本語", "ok "]),
    max_size=150,
).map("".join)


@settings(max_examples=80, deadline=None)
@given(text=chunk_text, size=st.integers(1, 40), data=st.data(),
       encoding=st.sampled_from(ENCODINGS))
def test_chunks_cover_the_text_with_bounded_overlap(text, size, data, encoding):
    overlap = data.draw(st.integers(0, size - 1))
    chunks = chunk_by_tokens(text, size, overlap, encoding)
    ids = encode(text, encoding)
    if not ids:
        assert chunks == []
        return
    assert chunks[0].start_token == 0 and chunks[-1].end_token == len(ids)
    for a, b in pairwise(chunks):
        assert a.start_token < b.start_token and a.end_token < b.end_token  # progress
        assert a.end_token - overlap <= b.start_token <= a.end_token  # no gap, overlap <= k
    assert all(1 <= c.tokens <= size for c in chunks)
    for c in chunks:
        if c.clean:
            assert text[c.char_start : c.char_end] == c.text
    if all(c.clean for c in chunks):  # the new part of each chunk rebuilds the text
        rebuilt = chunks[0].text + "".join(
            text[max(c.char_start, p.char_end) : c.char_end] for p, c in pairwise(chunks)
        )
        assert rebuilt == text


prose_words = st.sampled_from([
    "the", "budget", "tokenization", "naïve", "café", "Zürich", "日本語", "🎉", "42", "3.14",
    "e-mail", "don't", "(aside)", "end.", "Why?", "Yes!", "—", "x7Qz!9#kL", "über-long-word",
])
separators = st.sampled_from([" ", "  ", "\n", "\n\n", " \t"])


def word_gaps(text, encoding):
    """The most tokens between two consecutive places where a cut splits no word."""
    offsets, pos, whole = [], 0, []
    for t in encode(text, encoding):
        piece = get_encoding(encoding).decode_single_token_bytes(t)
        offsets.append(pos)
        whole.append(not 0x80 <= piece[0] <= 0xBF)  # the token starts a character
        pos += sum(1 for b in piece if not 0x80 <= b <= 0xBF)
    n = len(offsets)
    cuts = [k for k, c in enumerate([*offsets, pos])
            if k in (0, n) or (whole[k] and (text[c - 1].isspace() or text[c].isspace()))]
    return max((b - a for a, b in pairwise(cuts)), default=0)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.tuples(prose_words, separators), min_size=1, max_size=80),
       size=st.integers(1, 60), data=st.data(), encoding=st.sampled_from(ENCODINGS))
def test_chunks_never_start_or_end_inside_a_word(parts, size, data, encoding):
    """Whenever every word fits in a chunk, every cut falls between words; a chunk that
    had to cut a word says so, and only a word longer than a chunk is ever cut."""
    text = "".join(w + sep for w, sep in parts).strip()
    overlap = data.draw(st.integers(0, size - 1))
    chunks = chunk_by_tokens(text, size, overlap, encoding)
    for c in chunks:
        for edge in (c.char_start, c.char_end):
            inside = 0 < edge < len(text) and not (text[edge - 1].isspace()
                                                   or text[edge].isspace())
            assert not inside or not c.whole_words
    if word_gaps(text, encoding) <= size:
        assert all(c.whole_words for c in chunks), [c.text for c in chunks]


def test_chunks_of_ordinary_unicode_text_never_split_a_character():
    text = "Zürich 🎉 naïve café 日本語のテキスト, emoji 👩‍💻 and more. " * 30
    for size, overlap in ((7, 2), (20, 5), (64, 16)):
        chunks = chunk_by_tokens(text, size, overlap)
        assert all(c.clean and "\ufffd" not in c.text for c in chunks)


# --- relevance -----------------------------------------------------------------------------
def test_bm25_ranks_the_matching_document_first_and_weighs_rare_terms():
    docs = ["the cat sat on the mat", "dogs chase cats in the park", "the weather in Paris"]
    scores = bm25_scores("paris weather", docs)
    assert scores.index(max(scores)) == 2 and scores[0] == 0
    docs = ["budget budget window", "budget zebra", "budget history"]
    scores = bm25_scores("budget zebra", docs)
    assert scores[1] == max(scores)  # the rare word decides


def test_select_relevant_keeps_the_best_chunks_in_document_order():
    chunks = chunk_by_tokens(DOCUMENT, 40, 0)
    picked = select_relevant(chunks, "relevance filter BM25 chunks", 100)
    assert sum(s.chunk.tokens for s in picked) <= 100
    assert [s.chunk.index for s in picked] == sorted(s.chunk.index for s in picked)
    assert any("BM25" in s.chunk.text for s in picked)
    assert select_relevant(chunks, "zeppelin", 1000) == []  # nothing relevant, nothing kept


def test_boundary_filter_admits_chunks_above_the_threshold():
    chunks = chunk_by_tokens(DOCUMENT, 40, 0)
    ranked = rank_chunks(chunks, "memory key facts")
    strict = boundary_filter(chunks, "memory key facts", 0.9)
    loose = boundary_filter(chunks, "memory key facts", 0.1)
    assert 1 <= len(strict) < len(loose) <= len(chunks)
    assert all(s.relevance > 0.9 for s in strict) and max(s.relevance for s in ranked) == 1.0
    with pytest.raises(OptimizeError, match="threshold"):
        boundary_filter(chunks, "memory", 1.0)


def test_an_embedding_scorer_can_replace_bm25():
    chunks = chunk_by_tokens(DOCUMENT, 40, 0)

    def last_is_best(query, texts):  # stands where an embedding similarity would
        return [i / len(texts) for i in range(len(texts))]

    picked = select_relevant(chunks, "anything", chunks[-1].tokens, scorer=last_is_best)
    assert [s.chunk.index for s in picked] == [chunks[-1].index]
    with pytest.raises(OptimizeError, match="scores for"):
        rank_chunks(chunks, "q", scorer=lambda q, t: [1.0])


@settings(max_examples=60, deadline=None)
@given(size=st.integers(5, 80), overlap_share=st.floats(0, 0.9), budget=st.integers(0, 400),
       query=st.sampled_from(["budget window", "history summary", "chunks overlap",
                              "case 14 report", "zebra"]))
def test_select_relevant_stays_within_budget(size, overlap_share, budget, query):
    chunks = chunk_by_tokens(DOCUMENT, size, int(size * overlap_share))
    picked = select_relevant(chunks, query, budget)
    assert sum(s.chunk.tokens for s in picked) <= budget
    assert [s.chunk.index for s in picked] == sorted({s.chunk.index for s in picked})
    assert all(s.score > 0 for s in picked)


def test_key_points_alone_respect_the_target():
    for target in (5, 30, 90):
        assert count_text(key_points(DOCUMENT, target)) <= target
