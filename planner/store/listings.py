"""What people read across courses: the day and week agenda, the rows a calendar export
renders, infusion counts for "3/8" in titles, and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from planner.store.base import StoreBase, _ts

# The number people read for an event's infusion: missed infusions before it do not count
# (``planner.core.makeup.live_number``), so a make-up after one miss reads "8 of 8".
LIVE_NUMBER = ("e.seq - (SELECT COUNT(*) FROM events m WHERE m.course_id = e.course_id"
               " AND m.kind = 'infusion' AND m.status = 'missed' AND m.seq < e.seq) AS number")


class Listings(StoreBase):
    """Queries over many courses, for views and exports."""

    def agenda(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Events between two instants with their patient, for the day and week views."""
        return list(self.db.query(
            "SELECT e.*, c.patient_id, p.name AS patient_name, p.lang AS patient_lang,"
            " c.protocol FROM events e JOIN courses c ON c.id = e.course_id"
            " JOIN patients p ON p.id = c.patient_id"
            " WHERE e.start_ts >= ? AND e.start_ts < ? ORDER BY e.start_ts, e.kind, e.seq",
            [_ts(start), _ts(end)],
        ))

    def export_rows(self, *, patient_id: int | None = None, course_id: int | None = None,
                    since: datetime | None = None, until: datetime | None = None
                    ) -> list[dict[str, Any]]:
        """Events with their patient and course, for calendar export; ``since`` and
        ``until`` bound the start instant (``until`` excluded)."""
        where: list[str] = []
        params: list[Any] = []
        for condition, value in (("e.start_ts >= ?", since and _ts(since)),
                                 ("e.start_ts < ?", until and _ts(until)),
                                 ("c.patient_id = ?", patient_id),
                                 ("e.course_id = ?", course_id)):
            if value is not None:
                where.append(condition)
                params.append(value)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        rows = list(self.db.query(
            "SELECT e.*, c.patient_id, c.protocol_snapshot, p.name AS patient_name,"
            " p.lang AS patient_lang, p.mrn AS patient_mrn,"
            " c.exceptions AS course_exceptions FROM events e"
            " JOIN courses c ON c.id = e.course_id JOIN patients p ON p.id = c.patient_id "
            f"{clause} ORDER BY e.start_ts, e.kind, e.seq",
            params,
        ))
        return self._with_live_numbers(rows)

    def _with_live_numbers(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Give rows of courses with a missed infusion the ``number`` people read (see
        ``LIVE_NUMBER``); one small query, as misses are few."""
        missed: dict[int, list[int]] = {}
        for course_id, seq in self.db.execute(
                "SELECT course_id, seq FROM events WHERE kind = 'infusion'"
                " AND status = 'missed'").fetchall():
            missed.setdefault(course_id, []).append(seq)
        if missed:
            for row in rows:
                before = missed.get(row["course_id"])
                if before:
                    row["number"] = row["seq"] - sum(1 for m in before if m < row["seq"])
        return rows

    def infusion_totals(self) -> dict[int, int]:
        """Infusions per course as planned, for "3/8" in titles: a missed one is left out
        (its make-up takes its place), so the patient reads "8 of 8"."""
        rows = self.db.execute(
            "SELECT course_id, COUNT(*) FROM events WHERE kind = 'infusion'"
            " AND status != 'missed' GROUP BY course_id"
        ).fetchall()
        return {course_id: count for course_id, count in rows}

    def audit_log(self, course_id: int | None = None) -> list[dict[str, Any]]:
        if course_id is None:
            return list(self.db.query("SELECT * FROM audit ORDER BY id"))
        return list(self.db.query(
            "SELECT * FROM audit WHERE course_id = ? ORDER BY id", [course_id]))
