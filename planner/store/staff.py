"""What the outbox keeps for staff beside the messages: alerts, the morning digests
claimed, patients' answers to reminder buttons, and the listings ``planner reminders`` and
``planner alerts`` show."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


class StaffRecords:
    """Alerts, digests, confirmations and listings over one database connection."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _rows(self, sql: str, params: list[Any] | tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        return list(self.db.query(sql, params))

    # -- alerts for staff ----------------------------------------------------------------

    def add_alert(self, kind: str, roles: tuple[str, ...], detail: dict[str, Any],
                  now: datetime, *, course_id: int | None = None, event_id: int | None = None,
                  patient_id: int | None = None) -> int:
        cursor = self.db.execute(
            "INSERT INTO alerts (created_at, kind, roles, detail, course_id, event_id,"
            " patient_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [utc_text(now), kind, ",".join(roles), json.dumps(detail, ensure_ascii=False),
             course_id, event_id, patient_id])
        return int(cursor.lastrowid or 0)

    def pending_alerts(self) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM alerts WHERE state = 'pending' ORDER BY id")

    def close_alert(self, alert_id: int, delivered: bool) -> None:
        self.db.execute("UPDATE alerts SET state = ? WHERE id = ?",
                        ["delivered" if delivered else "undeliverable", alert_id])

    def alerts(self, limit: int = 100) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM alerts ORDER BY id DESC LIMIT ?", [limit])

    # -- digests and confirmations -------------------------------------------------------

    def claim_digest(self, day: str, role: str, now: datetime) -> bool:
        """True the first time a (day, role) digest is claimed; it goes out once."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO digests (day, role, created_at) VALUES (?, ?, ?)",
            [day, role, utc_text(now)])
        return cursor.rowcount == 1

    def confirm(self, event_id: int, revision: int, chat_id: int, answer: str,
                now: datetime) -> None:
        self.db.execute(
            "INSERT INTO confirmations (event_id, event_revision, chat_id, answer, at)"
            " VALUES (?, ?, ?, ?, ?)", [event_id, revision, chat_id, answer, utc_text(now)])

    def confirmation(self, event_id: int, revision: int) -> str | None:
        """The latest answer given for this revision of the event."""
        rows = self._rows(
            "SELECT answer FROM confirmations WHERE event_id = ? AND event_revision = ?"
            " ORDER BY id DESC LIMIT 1", [event_id, revision])
        return rows[0]["answer"] if rows else None

    def delivery(self, delivery_id: int) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM deliveries WHERE id = ?", [delivery_id])
        return rows[0] if rows else None

    # -- listing for staff ---------------------------------------------------------------

    def reminders(self, *, patient_id: int | None = None, state: str | None = None,
                  limit: int = 1000) -> list[dict[str, Any]]:
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        if patient_id is not None:
            where.append("c.patient_id = ?")
            params.append(patient_id)
        if state is not None:
            where.append("r.state = ?")
            params.append(state)
        return self._rows(
            "SELECT r.*, e.kind, e.seq, e.start, e.course_id, c.patient_id,"
            " (SELECT COUNT(*) FROM deliveries d WHERE d.reminder_id = r.id) AS messages,"
            " (SELECT MAX(d.attempts) FROM deliveries d WHERE d.reminder_id = r.id) AS attempts,"
            " (SELECT d.last_error FROM deliveries d WHERE d.reminder_id = r.id"
            "  AND d.last_error IS NOT NULL ORDER BY d.id DESC LIMIT 1) AS last_error,"
            " (SELECT d.message_id FROM deliveries d WHERE d.reminder_id = r.id"
            "  AND d.message_id IS NOT NULL ORDER BY d.id LIMIT 1) AS message_id"
            " FROM reminders r JOIN events e ON e.id = r.event_id"
            " JOIN courses c ON c.id = e.course_id"
            f" WHERE {' AND '.join(where)} ORDER BY r.due_ts, r.id LIMIT ?",
            [*params, limit])
