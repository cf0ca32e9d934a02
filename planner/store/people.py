"""Patients, staff and the days a patient cannot come, each change with its audit row."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from planner.core.errors import InputError, NotFoundError
from planner.store.base import StoreBase, _utc


class PeopleRecords(StoreBase):
    """Who the clinic plans for and who it reminds."""

    def add_patient(self, name: str, lang: str, mrn: str | None, actor: str,
                    now: datetime) -> dict[str, Any]:
        with self.transaction():
            if mrn is not None and self._one("SELECT id FROM patients WHERE mrn = ?", [mrn]):
                raise InputError(f"--mrn: a patient with MRN {mrn!r} already exists")
            cursor = self.db.execute(
                "INSERT INTO patients (name, lang, mrn, created_at) VALUES (?, ?, ?, ?)",
                [name, lang, mrn, _utc(now)],
            )
            patient_id = int(cursor.lastrowid or 0)
            self._audit(actor, "patient.add", now, detail={"patient_id": patient_id})
        return self.patient(patient_id)

    def patient(self, patient_id: int) -> dict[str, Any]:
        row = self._one("SELECT * FROM patients WHERE id = ?", [patient_id])
        if row is None:
            raise NotFoundError(f"PATIENT_ID: no patient with id {patient_id}")
        return row

    def patients(self) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM patients ORDER BY id"))

    def check_patients(self, patient_ids: set[int]) -> None:
        """Raise NotFoundError naming the first id that is not a patient."""
        known = {row[0] for row in self.db.execute("SELECT id FROM patients")}
        for patient_id in sorted(patient_ids - known):
            raise NotFoundError(f"PATIENT_ID: no patient with id {patient_id}")

    def add_staff(self, name: str, role: str, actor: str, now: datetime) -> dict[str, Any]:
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO staff (name, role, created_at) VALUES (?, ?, ?)",
                [name, role, _utc(now)],
            )
            staff_id = int(cursor.lastrowid or 0)
            self._audit(actor, "staff.add", now, detail={"staff_id": staff_id, "role": role})
        return self.staff_member(staff_id)

    def staff_member(self, staff_id: int) -> dict[str, Any]:
        row = self._one("SELECT * FROM staff WHERE id = ?", [staff_id])
        if row is None:
            raise NotFoundError(f"STAFF_ID: no staff member with id {staff_id}")
        return row

    def staff(self) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM staff ORDER BY id"))

    # -- away periods: days a patient cannot come ------------------------------------

    def add_away(self, patient_id: int, first: date, last: date, reason: str, actor: str,
                 now: datetime) -> int:
        """Record days the patient cannot come (a chemotherapy day, a hospital stay)."""
        self.patient(patient_id)
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO patient_away (patient_id, first_day, last_day, reason, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [patient_id, first.isoformat(), last.isoformat(), reason, _utc(now)])
            away_id = int(cursor.lastrowid or 0)
            self._audit(actor, "patient.away", now, detail={
                "patient_id": patient_id, "away_id": away_id, "from": first.isoformat(),
                "to": last.isoformat(), "reason": reason})
        return away_id

    def away_periods(self, patient_id: int) -> list[dict[str, Any]]:
        """The patient's away periods still in force, in date order."""
        return list(self.db.query(
            "SELECT id, first_day, last_day, reason FROM patient_away WHERE patient_id = ?"
            " AND removed_at IS NULL ORDER BY first_day, id", [patient_id]))

    def away_days_of(self, patient_ids: set[int]) -> dict[int, dict[date, str]]:
        """Per patient, every day of their away periods with why: one query for a batch."""
        marks = ",".join("?" * len(patient_ids))
        days: dict[int, dict[date, str]] = {}
        for patient_id, first, last, reason in self.db.execute(
                "SELECT patient_id, first_day, last_day, reason FROM patient_away"
                f" WHERE removed_at IS NULL AND patient_id IN ({marks})",
                sorted(patient_ids)).fetchall():
            day, end = date.fromisoformat(first), date.fromisoformat(last)
            while day <= end:
                days.setdefault(patient_id, {})[day] = f"patient away ({reason})"
                day += timedelta(days=1)
        return days

    def remove_away(self, patient_id: int, away_id: int, actor: str, now: datetime) -> None:
        """Remove one away period (kept in the table as removed, and in the audit log)."""
        with self.transaction():
            cursor = self.db.execute(
                "UPDATE patient_away SET removed_at = ? WHERE id = ? AND patient_id = ?"
                " AND removed_at IS NULL", [_utc(now), away_id, patient_id])
            if cursor.rowcount == 0:
                raise NotFoundError(f"--remove: patient {patient_id} has no away period "
                                    f"{away_id}")
            self._audit(actor, "patient.back", now,
                        detail={"patient_id": patient_id, "away_id": away_id})
