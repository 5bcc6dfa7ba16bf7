"""Calibration of approximate counts: the running ratio is the true mean and variance of
the samples, only plausible replies teach it, and a corrected estimate says how sure it
is."""

from __future__ import annotations

import statistics

from hypothesis import given
from hypothesis import strategies as st

from desktop_app.core.app_records import Calibration
from desktop_app.llm.calibration import corrected_estimate, learn, usable_sample

pairs = st.lists(
    st.tuples(st.integers(100, 50_000), st.floats(0.6, 1.8)).map(
        lambda p: (round(p[0] * p[1]), p[0])
    ),
    min_size=2,
    max_size=40,
)


@given(pairs)
def test_running_figures_match_the_batch_ones(samples: list[tuple[int, int]]) -> None:
    cal = Calibration("llama3.1")
    for reported, estimated in samples:
        cal = learn(cal, reported, estimated)
    ratios = [r / e for r, e in samples]
    assert cal.samples == len(samples)
    assert abs(cal.ratio - statistics.fmean(ratios)) < 1e-9
    assert abs(cal.variance - statistics.variance(ratios)) < 1e-9


def test_correction_and_its_uncertainty() -> None:
    cal = Calibration("mistral")
    first = corrected_estimate(cal, 1000)
    assert (first.tokens, first.margin) == (1000, None)  # nothing learned: our estimate
    assert "not calibrated" in first.label()
    cal = learn(cal, 1200, 1000)
    assert corrected_estimate(cal, 1000).tokens == 1200
    assert corrected_estimate(cal, 1000).margin is None
    for reported in (1180, 1220, 1190, 1210):
        cal = learn(cal, reported, 1000)
    corrected = corrected_estimate(cal, 2000)
    assert corrected.tokens == 2400 and corrected.raw == 2000
    assert corrected.low < 2400 < corrected.high
    assert "±" in corrected.label() and "5 replies" in corrected.label()
    more = cal
    for _ in range(50):
        more = learn(more, 1200, 1000)
    assert corrected_estimate(more, 2000).margin < corrected.margin  # more replies, surer


def test_unusable_replies_teach_nothing() -> None:
    cal = Calibration("m")
    assert not usable_sample(5, 10)  # a tiny prompt is mostly framing
    assert usable_sample(300, 1000) and usable_sample(2010, 1000)  # never refused: no lock
    assert not usable_sample(None, 1000)  # no usage reported
    assert not usable_sample(0, 1000)
    assert usable_sample(1100, 1000)
    assert learn(cal, 5, 10) is cal
