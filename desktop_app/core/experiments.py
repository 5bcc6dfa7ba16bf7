"""A token-efficiency experiment as plain records: every variant (a system prompt) run
on every input (a user message), each result measured, and the per-variant summary the
guide asks for (§7): tokens, cost, latency, task completion rate (passes per token),
quality per token, ranked by efficiency. Pure: the runs are made by
services/experiments.py and stored by store/experiments.py.

Tokens used by a run are what the server billed: its reported prompt + completion
tokens; our own exact count of the prompt stands in when the server reported none."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime

from desktop_app.core.metrics import quality_per_token, task_completion_rate

STATUSES = ("running", "finished", "cancelled", "failed")


@dataclass(frozen=True)
class Variant:
    name: str
    text: str  # the system prompt; "" sends none


@dataclass
class RunResult:
    """One variant on one input, once."""

    variant: int  # index into the experiment's variants
    input: int  # index into its inputs
    repeat: int = 0
    output: str = ""
    prompt_tokens: int = 0  # our count of the request
    prompt_exact: bool = False  # that count is the model's own tokenizer
    reported_prompt_tokens: int | None = None  # the server's usage
    reported_completion_tokens: int | None = None
    cached_prompt_tokens: int | None = None
    cost: float = 0.0
    latency_ms: float = 0.0
    score: float = 0.0
    passed: bool = False
    detail: str = ""
    error: str | None = None  # the request failed: no reply, no tokens, no score
    id: int | None = None

    @property
    def completion_tokens(self) -> int:
        return self.reported_completion_tokens or 0

    @property
    def tokens_used(self) -> int:
        """Prompt + completion tokens, as the server reported (our prompt count if not)."""
        if self.error is not None:
            return 0
        prompt = (self.reported_prompt_tokens if self.reported_prompt_tokens is not None
                  else self.prompt_tokens)
        return prompt + self.completion_tokens


@dataclass
class Experiment:
    model: str
    evaluator: str  # as given: "contains:Paris"
    variants: list[Variant]
    inputs: list[str]
    repeats: int = 1
    concurrency: int = 1
    provider: str | None = None
    status: str = "running"
    results: list[RunResult] = field(default_factory=list)
    created_at: datetime | None = None
    finished_at: datetime | None = None
    id: int | None = None

    @property
    def planned(self) -> int:
        return len(self.variants) * len(self.inputs) * self.repeats


@dataclass(frozen=True)
class VariantSummary:
    variant: int
    name: str
    runs: int  # results with a reply
    errors: int
    passes: int
    prompt_tokens: int  # our exact count, summed
    reported_prompt_tokens: int  # the server's, summed (0 when it never said)
    completion_tokens: int
    cost: float
    mean_latency_ms: float
    mean_score: float
    task_completion_rate: float  # passes / tokens used (guide §7.1.1)
    quality_per_token: float  # summed score / tokens used (guide §7.1.3)
    rank: int = 0  # 1 is the most efficient

    @property
    def tokens_used(self) -> int:
        return (self.reported_prompt_tokens or self.prompt_tokens) + self.completion_tokens


def summarize(experiment: Experiment) -> list[VariantSummary]:
    """Per variant, ranked best first by quality per token; ties go to the higher
    completion rate, then to fewer tokens, then to the earlier variant. A variant with no
    reply yet is ranked last, with zeros."""
    out: list[VariantSummary] = []
    for index, variant in enumerate(experiment.variants):
        mine = [r for r in experiment.results if r.variant == index]
        done = [r for r in mine if r.error is None]
        used = sum(r.tokens_used for r in done)
        passes = sum(1 for r in done if r.passed)
        score = sum(r.score for r in done)
        out.append(VariantSummary(
            variant=index,
            name=variant.name,
            runs=len(done),
            errors=len(mine) - len(done),
            passes=passes,
            prompt_tokens=sum(r.prompt_tokens for r in done),
            reported_prompt_tokens=sum(r.reported_prompt_tokens or 0 for r in done),
            completion_tokens=sum(r.completion_tokens for r in done),
            cost=sum(r.cost for r in done),
            mean_latency_ms=sum(r.latency_ms for r in done) / len(done) if done else 0.0,
            mean_score=score / len(done) if done else 0.0,
            task_completion_rate=task_completion_rate(passes, used) if used else 0.0,
            quality_per_token=quality_per_token(score, used) if used else 0.0,
        ))
    ranked = sorted(out, key=lambda s: (s.runs == 0, -s.quality_per_token,
                                        -s.task_completion_rate, s.tokens_used, s.variant))
    return [_with_rank(s, i) for i, s in enumerate(ranked, 1)]


def _with_rank(summary: VariantSummary, rank: int) -> VariantSummary:
    values = asdict(summary)
    values["rank"] = rank
    return VariantSummary(**values)


def best_variant(experiment: Experiment) -> Variant | None:
    """The most efficient variant that completed at least one task, if any did."""
    for s in summarize(experiment):
        if s.passes:
            return experiment.variants[s.variant]
    return None


# --- export ------------------------------------------------------------------------------
CSV_COLUMNS = (
    "variant", "input", "repeat", "prompt_tokens", "prompt_exact", "reported_prompt_tokens",
    "completion_tokens", "cached_prompt_tokens", "cost", "latency_ms", "score", "passed",
    "detail", "error", "output",
)


def to_csv(experiment: Experiment) -> str:
    """One row per result, variants by name and inputs by text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in sorted(experiment.results, key=lambda r: (r.variant, r.input, r.repeat)):
        writer.writerow([
            experiment.variants[r.variant].name, experiment.inputs[r.input], r.repeat,
            r.prompt_tokens, int(r.prompt_exact), _blank(r.reported_prompt_tokens),
            _blank(r.reported_completion_tokens), _blank(r.cached_prompt_tokens),
            f"{r.cost:.8f}", f"{r.latency_ms:.1f}", f"{r.score:.4f}", int(r.passed),
            r.detail, r.error or "", r.output,
        ])
    return buffer.getvalue()


def _blank(value: int | None) -> str | int:
    return "" if value is None else value


def to_json(experiment: Experiment) -> str:
    """The whole experiment: its settings, every result and the ranked summary."""
    def when(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    payload = {
        "id": experiment.id,
        "model": experiment.model,
        "provider": experiment.provider,
        "evaluator": experiment.evaluator,
        "status": experiment.status,
        "repeats": experiment.repeats,
        "concurrency": experiment.concurrency,
        "created_at": when(experiment.created_at),
        "finished_at": when(experiment.finished_at),
        "variants": [asdict(v) for v in experiment.variants],
        "inputs": list(experiment.inputs),
        "results": [{k: v for k, v in asdict(r).items() if k != "id"}
                    for r in sorted(experiment.results,
                                    key=lambda r: (r.variant, r.input, r.repeat))],
        "summary": [asdict(s) for s in summarize(experiment)],
    }
    return json.dumps(payload, indent=2, ensure_ascii=False)


def named_variants(texts: Sequence[str] | dict[str, str]) -> list[Variant]:
    """Variants from texts ("variant 1", ...) or a {name: text} mapping."""
    if isinstance(texts, dict):
        return [Variant(str(n), str(t)) for n, t in texts.items()]
    return [Variant(f"variant {i}", str(t)) for i, t in enumerate(texts, 1)]
