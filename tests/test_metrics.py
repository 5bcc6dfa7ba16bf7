"""Token efficiency measures on real texts and real counts: retention of key facts
through a compression, density, and ranking prompt variants by quality per token."""

from __future__ import annotations

import math

import pytest

from desktop_app.core.metrics import (
    MetricError,
    information_density,
    information_retention,
    quality_per_token,
    retention_evaluator,
    run_efficiency_experiment,
    task_completion_rate,
)
from desktop_app.core.optimize import compress, format_compress, to_key_values
from desktop_app.core.tokens import count_text

CUSTOMER = (
    "The customer's name is John Smith. He is 45 years old. He has been a customer for 5 "
    "years. His account number is AC-12345. His email is john.smith@example.com. His phone "
    "number is 555-123-4567. He has a premium subscription. His last purchase was on March "
    "15, 2023. He has spent a total of $3,450 with us. His customer satisfaction score is 4.8/5."
)
FACTS = {
    "name": "John Smith", "age": "45", "tenure": "5 years", "account": "AC-12345",
    "email": "john.smith@example.com", "phone": "555-123-4567", "tier": "premium",
    "last purchase": "March 15, 2023", "total spend": "$3,450", "CSAT": "4.8/5",
}


def test_rates_per_token():
    assert task_completion_rate(3, 1500) == pytest.approx(0.002)
    assert quality_per_token(8.5, 170) == pytest.approx(0.05)
    with pytest.raises(MetricError, match="more than 0"):
        task_completion_rate(1, 0)
    with pytest.raises(MetricError, match="negative"):
        task_completion_rate(-1, 10)
    with pytest.raises(MetricError, match="finite"):
        quality_per_token(math.nan, 10)


def test_structured_input_keeps_every_fact():
    structured = to_key_values(CUSTOMER)
    result = information_retention(FACTS, structured.text)
    assert result.ratio == 1.0 and result.lost == () and result.total == 10
    assert structured.saving > 0  # fewer tokens, nothing lost


def test_a_hard_compression_reports_which_facts_were_lost():
    squeezed = compress(CUSTOMER, 25)
    assert squeezed.fits and squeezed.tokens_after <= 25
    result = information_retention(FACTS, squeezed.text)
    assert 0 < result.ratio < 1
    assert result.ratio == len(result.retained) / 10
    assert set(result.retained) | set(result.lost) == {f"{k}: {v}" for k, v in FACTS.items()}
    for label in result.retained:
        assert label.split(": ", 1)[1] in squeezed.text
    for label in result.lost:
        value = label.split(": ", 1)[1]
        assert value not in squeezed.text


def test_plain_facts_match_words_in_order_ignoring_case_and_punctuation():
    text = "Last purchase: March 15, 2023. Deadline is FRIDAY noon."
    result = information_retention(["march 15 2023", "the deadline is friday", "15 March",
                                    "to be"], text)
    assert result.retained == ("march 15 2023", "the deadline is friday")
    assert result.lost == ("15 March", "to be")
    assert information_retention([], "anything").ratio == 1.0


def test_density_falls_with_redundancy_and_rises_with_compression():
    varied = CUSTOMER
    repetitive = "The customer is a customer of ours. " * 12
    assert information_density(varied) > 2 * information_density(repetitive)
    fluffy = ("Please note that it is important to note that, in order to really help the user, "
              "you should basically answer due to the fact that the user is very busy.")
    assert information_density(format_compress(fluffy)) > information_density(fluffy)
    assert information_density("") == 0.0


def test_experiment_ranks_variants_by_quality_per_token():
    prose = CUSTOMER
    structured = to_key_values(CUSTOMER).text
    partial = "Customer: John Smith, account AC-12345."
    results = run_efficiency_experiment(
        {"prose": prose, "structured": structured, "partial": partial},
        retention_evaluator(FACTS),
    )
    # two facts in a few tokens, then all ten in fewer tokens than the prose
    assert [r.name for r in results] == ["partial", "structured", "prose"]
    assert [r.quality for r in results] == [0.2, 1.0, 1.0]
    for r in results:
        assert r.tokens == count_text(r.text)
        assert r.efficiency == pytest.approx(r.quality / r.tokens)
    assert [r.efficiency for r in results] == sorted((r.efficiency for r in results), reverse=True)


def test_ties_go_to_the_shorter_variant_and_bad_scores_are_refused():
    results = run_efficiency_experiment(["a b c d", "a b"], lambda text: 0.0)
    assert [r.name for r in results] == ["variant 2", "variant 1"]
    with pytest.raises(MetricError, match="variant 1"):
        run_efficiency_experiment(["hello"], lambda text: math.nan)
    with pytest.raises(MetricError, match="empty"):
        run_efficiency_experiment({"blank": ""}, lambda text: 1.0)
