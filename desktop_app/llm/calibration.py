"""Calibration of approximate token counts. For a model whose tokenizer we do not have,
we count with a stand-in encoding; the server then reports the real prompt tokens. The
running ratio reported/estimated (core.app_records.Calibration: Welford's mean and
variance, persisted by the store) corrects later estimates. This module decides which
replies may teach it, and says how sure a corrected estimate is. Pure logic."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from desktop_app.core.app_records import Calibration

MIN_ESTIMATE = 16  # tiny prompts are mostly chat framing, whose cost differs per server
Z = 2.0  # the uncertainty shown is about a 95% interval


def usable_sample(reported: int | None, estimated: int | None) -> bool:
    """May this reply teach the calibration? Every reply with usage does, unless the
    prompt was tiny. No ratio is refused as implausible: a tokenizer we only approximate
    can count twice what ours does (every digit a token on Qwen), and refusing such
    turns locked the calibration at whatever it had learned first. (A prompt the server
    cut is known only for exact counts, and the turn leaves those out itself.)"""
    return bool(reported and estimated and estimated >= MIN_ESTIMATE and reported > 0)


def learn(calibration: Calibration, reported: int | None, estimated: int | None) -> Calibration:
    """The calibration with this reply folded in, or unchanged if it cannot teach."""
    if not usable_sample(reported, estimated):
        return calibration
    return calibration.updated(int(reported or 0), int(estimated or 0))


@dataclass(frozen=True)
class CorrectedEstimate:
    tokens: int  # the corrected estimate
    raw: int  # our own count before correction
    low: int | None  # the interval, when two or more samples allow one
    high: int | None
    samples: int

    @property
    def margin(self) -> int | None:
        return None if self.high is None else self.high - self.tokens

    def label(self) -> str:
        if self.samples == 0:
            return f"~{self.tokens:,} (estimated, not calibrated yet)"
        if self.margin is None:
            return f"~{self.tokens:,} (calibrated on 1 reply)"
        return f"~{self.tokens:,} ± {self.margin:,} (calibrated on {self.samples} replies)"


def corrected_estimate(calibration: Calibration, estimate: int) -> CorrectedEstimate:
    """The corrected estimate for one prompt, with an interval that covers both the
    spread of single prompts and the uncertainty of the mean: ± Z·s·sqrt(1 + 1/n)."""
    tokens = calibration.corrected(estimate)
    s = calibration.stddev
    if s is None:
        return CorrectedEstimate(tokens, estimate, None, None, calibration.samples)
    half = round(Z * s * math.sqrt(1 + 1 / calibration.samples) * estimate)
    return CorrectedEstimate(
        tokens, estimate, max(0, tokens - half), tokens + half, calibration.samples
    )
