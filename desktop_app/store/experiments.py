"""Token-efficiency experiments and their results (migration 0006). An experiment is
created before its first request and each result is added as it comes back, so a run
that is cancelled, fails or is killed keeps every result it had."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from desktop_app.core.experiments import STATUSES, Experiment, RunResult, Variant
from desktop_app.store.errors import NotFoundError
from desktop_app.store.models import ExperimentResultRow, ExperimentRow, utc_now

if TYPE_CHECKING:
    from desktop_app.store.database import Database


def _result(row: ExperimentResultRow) -> RunResult:
    return RunResult(
        variant=row.variant, input=row.input, repeat=row.repeat, output=row.output,
        prompt_tokens=row.prompt_tokens, prompt_exact=bool(row.prompt_exact),
        reported_prompt_tokens=row.reported_prompt_tokens,
        reported_completion_tokens=row.reported_completion_tokens,
        cached_prompt_tokens=row.cached_prompt_tokens, cost=row.cost,
        latency_ms=row.latency_ms, score=row.score, passed=bool(row.passed),
        detail=row.detail, error=row.error, id=row.id,
    )


def _experiment(row: ExperimentRow, results: list[RunResult]) -> Experiment:
    variants = [Variant(str(v.get("name", "")), str(v.get("text", "")))
                for v in row.variants if isinstance(v, dict)]
    return Experiment(
        model=row.model, evaluator=row.evaluator, variants=variants,
        inputs=[str(i) for i in row.inputs], repeats=row.repeats,
        concurrency=row.concurrency, provider=row.provider, status=row.status,
        results=results, created_at=row.created_at, finished_at=row.finished_at, id=row.id,
    )


class ExperimentRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, experiment: Experiment) -> Experiment:
        """Store a new experiment (its results, if any, too); returns it with its id."""
        with self._db.write() as orm:
            row = ExperimentRow(
                created_at=experiment.created_at or utc_now(), finished_at=None,
                model=experiment.model, provider=experiment.provider,
                evaluator=experiment.evaluator, status="running",
                repeats=experiment.repeats, concurrency=experiment.concurrency,
                variants=[{"name": v.name, "text": v.text} for v in experiment.variants],
                inputs=list(experiment.inputs),
            )
            orm.add(row)
            orm.flush()
            for result in experiment.results:
                orm.add(self._new_row(row.id, result))
            orm.flush()
            experiment_id = row.id
        return self.get(experiment_id)

    @staticmethod
    def _new_row(experiment_id: int, r: RunResult) -> ExperimentResultRow:
        return ExperimentResultRow(
            experiment_id=experiment_id, variant=r.variant, input=r.input, repeat=r.repeat,
            output=r.output, prompt_tokens=r.prompt_tokens, prompt_exact=r.prompt_exact,
            reported_prompt_tokens=r.reported_prompt_tokens,
            reported_completion_tokens=r.reported_completion_tokens,
            cached_prompt_tokens=r.cached_prompt_tokens, cost=r.cost,
            latency_ms=r.latency_ms, score=r.score, passed=r.passed, detail=r.detail,
            error=r.error, created_at=utc_now(),
        )

    def add_result(self, experiment_id: int, result: RunResult) -> RunResult:
        with self._db.write() as orm:
            if orm.get(ExperimentRow, experiment_id) is None:
                raise NotFoundError(f"there is no experiment {experiment_id}")
            row = self._new_row(experiment_id, result)
            orm.add(row)
            orm.flush()
            return _result(row)

    def finish(self, experiment_id: int, status: str) -> None:
        if status not in STATUSES or status == "running":
            raise ValueError(f"an experiment ends finished, cancelled or failed, not {status!r}")
        with self._db.write() as orm:
            row = orm.get(ExperimentRow, experiment_id)
            if row is None:
                raise NotFoundError(f"there is no experiment {experiment_id}")
            row.status = status
            row.finished_at = utc_now()

    def reopen(self, experiment_id: int) -> Experiment:
        """Make a stopped experiment "running" again to resume it: the results that
        failed are dropped (they are run again), those with a reply kept."""
        with self._db.write() as orm:
            row = orm.get(ExperimentRow, experiment_id)
            if row is None:
                raise NotFoundError(f"there is no experiment {experiment_id}")
            row.status, row.finished_at = "running", None
            orm.execute(delete(ExperimentResultRow).where(
                ExperimentResultRow.experiment_id == experiment_id,
                ExperimentResultRow.error.is_not(None)))
        return self.get(experiment_id)

    def get(self, experiment_id: int) -> Experiment:
        with self._db.read() as orm:
            row = orm.get(ExperimentRow, experiment_id)
            if row is None:
                raise NotFoundError(f"there is no experiment {experiment_id}")
            rows = orm.scalars(
                select(ExperimentResultRow)
                .where(ExperimentResultRow.experiment_id == experiment_id)
                .order_by(ExperimentResultRow.id))
            return _experiment(row, [_result(r) for r in rows])

    def list(self, limit: int = 100) -> list[Experiment]:
        """The newest experiments first, without their results."""
        with self._db.read() as orm:
            rows = orm.scalars(select(ExperimentRow)
                               .order_by(ExperimentRow.id.desc()).limit(limit))
            return [_experiment(r, []) for r in rows]

    def delete(self, experiment_id: int) -> None:
        with self._db.write() as orm:
            orm.execute(delete(ExperimentResultRow)
                        .where(ExperimentResultRow.experiment_id == experiment_id))
            orm.execute(delete(ExperimentRow).where(ExperimentRow.id == experiment_id))
