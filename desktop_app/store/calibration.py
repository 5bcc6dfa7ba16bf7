"""Per model: how the server's reported prompt tokens compare with our estimate, learned
one request at a time and kept across restarts."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from desktop_app.core.app_records import Calibration
from desktop_app.store.models import CalibrationRow, utc_now

if TYPE_CHECKING:
    from desktop_app.store.database import Database

log = logging.getLogger(__name__)


def to_calibration(row: CalibrationRow) -> Calibration:
    return Calibration(row.model, row.ratio, row.samples, row.m2, row.updated_at)


class CalibrationRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, model: str) -> Calibration:
        """The model's calibration; a neutral one (ratio 1, no samples) if none yet."""
        with self._db.read() as orm:
            row = orm.get(CalibrationRow, model)
            return to_calibration(row) if row else Calibration(model)

    def update(self, model: str, reported: int, estimated: int) -> Calibration:
        """Fold in one request's reported and estimated prompt tokens. Atomic: two app
        instances updating the same model never lose a sample. A sample without both
        counts (a server that reports no usage) teaches nothing and is skipped."""
        with self._db.write() as orm:
            row = orm.get(CalibrationRow, model)
            current = to_calibration(row) if row else Calibration(model)
            if not (reported and estimated and reported > 0 and estimated > 0):
                log.info("calibration for %s: skipped a sample without counts", model)
                return current
            new = current.updated(reported, estimated)
            if row is None:
                row = CalibrationRow(model=model)
                orm.add(row)
            row.ratio, row.samples, row.m2 = new.ratio, new.samples, new.m2
            row.updated_at = utc_now()
            orm.flush()
            return to_calibration(row)

    def list(self) -> list[Calibration]:
        with self._db.read() as orm:
            rows = orm.scalars(select(CalibrationRow).order_by(CalibrationRow.model))
            return [to_calibration(r) for r in rows]

    def reset(self, model: str) -> None:
        with self._db.write() as orm:
            orm.execute(delete(CalibrationRow).where(CalibrationRow.model == model))
