"""Reminders, the outbox of messages, staff alerts and confirmations, in SQLite.

Reminders are derived from a course's events by ``planner.core.reminders`` and written in the
transaction that changes the course (``sync_course``): what a change makes stale is
skipped there and then, so nothing about a moved or cancelled event can go out. When a
reminder falls due, the dispatcher turns it into deliveries, one per linked chat; a
delivery is one message with its state, attempts, last error and Telegram message id.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from planner.config.protocols import parse_protocol
from planner.core.model import PlannedEvent, Status
from planner.core.reminders import ReminderPolicy, reminders_for
from planner.store.staff import StaffRecords
from planner.store.staff import utc_text as _text

SUPERSEDED = "superseded: the event changed or was cancelled"


def _ts(moment: datetime) -> int:
    return int(moment.timestamp())


def _ts_not_before(moment: datetime) -> int:
    """Whole seconds rounded up: a retry is never due before ``moment``."""
    return math.ceil(moment.timestamp())


@dataclass(frozen=True)
class Delivery:
    """One message waiting in the outbox."""

    id: int
    purpose: str
    reminder_id: int | None
    alert_id: int | None
    chat_id: int
    text: str
    buttons: list[list[str]] | None
    attempts: int
    next_attempt_ts: int
    expires_ts: int | None
    edit_message_id: int | None = None
    """The message sent earlier that this one rewrites (no new message is sent)."""


class Outbox(StaffRecords):
    """Reminder and delivery bookkeeping over one database connection (alerts, digests,
    confirmations and the staff's listings: ``StaffRecords``)."""

    # -- reminders derived from the plan -------------------------------------------------

    def sync_course(self, course_id: int, policy: ReminderPolicy, timezone: str,
                    now: datetime) -> None:
        """Make the course's reminders match its events; run inside the change's transaction.

        A reminder is kept while its event keeps the revision it was made for; others that
        have not gone out are skipped as superseded, with their queued messages. One whose
        event did not change but whose moment has passed (the bot was down) is left for
        ``skip_stale`` to skip as too late; new reminders already past their usefulness
        are not created.
        """
        course = self._rows("SELECT protocol, protocol_snapshot FROM courses WHERE id = ?",
                            [course_id])[0]
        protocol = parse_protocol(course["protocol"], json.loads(course["protocol_snapshot"]),
                                  f"course {course_id}")
        wanted: dict[tuple[int, int, str], Any] = {}
        for row in self._rows("SELECT * FROM events WHERE course_id = ?", [course_id]):
            event = PlannedEvent(row["kind"], row["seq"], datetime.fromisoformat(row["start"]),
                                 datetime.fromisoformat(row["end"]), Status(row["status"]))
            for due in reminders_for(event, protocol.audience_of(event.kind), policy, timezone):
                wanted[(row["id"], row["revision"], due.rule)] = due
        existing = self._rows(
            "SELECT r.id, r.event_id, r.event_revision, r.rule, r.state FROM reminders r"
            " JOIN events e ON e.id = r.event_id WHERE e.course_id = ?", [course_id])
        have = set()
        for row in existing:
            key = (row["event_id"], row["event_revision"], row["rule"])
            have.add(key)
            if key not in wanted and row["state"] in ("pending", "queued"):
                self._supersede(row["id"], now)
        rows = [(event_id, revision, rule, due.audience, _ts(due.due), _ts(due.expires),
                 _text(now), _text(now))
                for (event_id, revision, rule), due in wanted.items()
                if (event_id, revision, rule) not in have and due.expires > now]
        self.db.conn.executemany(
            "INSERT INTO reminders (event_id, event_revision, rule, audience, due_ts,"
            " expires_ts, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def _supersede(self, reminder_id: int, now: datetime) -> None:
        """Skip a reminder and its unsent messages; one some chat already got stays sent."""
        self.db.execute(
            "UPDATE deliveries SET state = 'skipped', last_error = ?, updated_at = ?"
            " WHERE reminder_id = ? AND state = 'pending'",
            [SUPERSEDED, _text(now), reminder_id])
        self.db.execute(
            "UPDATE reminders SET state = CASE WHEN EXISTS (SELECT 1 FROM deliveries"
            " WHERE reminder_id = reminders.id AND state = 'sent') THEN 'sent' ELSE 'skipped'"
            " END, reason = ?, updated_at = ? WHERE id = ?",
            [SUPERSEDED, _text(now), reminder_id])

    def skip_stale(self, now: datetime) -> list[Delivery]:
        """Skip pending reminders and messages that can no longer be useful.

        Returns the skipped messages that had been tried and failed: their patients did
        not get the reminder, which staff must hear about. A reminder always falls due
        before it expires (``reminders_for`` makes no other), so only those already due
        are looked at: the dispatcher calls this on every run, and a large clinic has
        hundreds of thousands of reminders pending months ahead.
        """
        reason = "too late to be useful (the bot was down or the event is too close)"
        self.db.execute(
            "UPDATE reminders SET state = 'skipped', reason = ?, updated_at = ?"
            " WHERE state = 'pending' AND due_ts <= ? AND expires_ts <= ?",
            [reason, _text(now), _ts(now), _ts(now)])
        stale = [_delivery(row) for row in self._rows(
            "SELECT * FROM deliveries WHERE state = 'pending' AND expires_ts IS NOT NULL"
            " AND expires_ts <= ?", [_ts(now)])]
        for delivery in stale:
            self.skip_delivery(delivery, reason, now)
        return [d for d in stale if d.attempts > 0]

    def skip_delivery(self, delivery: Delivery, reason: str, now: datetime) -> None:
        """Skip one waiting message with ``reason`` (after its last error, if any)."""
        self.db.execute(
            "UPDATE deliveries SET state = 'skipped', last_error = COALESCE(last_error"
            " || '; ', '') || ?, updated_at = ? WHERE id = ? AND state = 'pending'",
            [reason, _text(now), delivery.id])
        self._settle(delivery, now)

    def due_reminders(self, now: datetime, limit: int = 500) -> list[dict[str, Any]]:
        """Pending reminders due at ``now``, with their event, course and patient."""
        return self._rows(
            "SELECT r.id AS reminder_id, r.rule, r.audience, r.due_ts, r.expires_ts,"
            " e.id AS event_id, e.kind, e.seq, e.start, e.\"end\", e.status, e.revision,"
            " e.course_id, c.protocol_snapshot, p.id AS patient_id, p.name AS patient_name,"
            " p.lang AS patient_lang FROM reminders r JOIN events e ON e.id = r.event_id"
            " JOIN courses c ON c.id = e.course_id JOIN patients p ON p.id = c.patient_id"
            " WHERE r.state = 'pending' AND r.due_ts <= ? ORDER BY r.due_ts, r.id LIMIT ?",
            [_ts(now), limit])

    def claim_reminder(self, reminder_id: int, now: datetime) -> bool:
        """Take a pending reminder to queue its messages (state ``queued``).

        False when it is no longer pending: a change committed by another connection
        since ``due_reminders`` read it superseded it, and nothing may go out for it.
        """
        cursor = self.db.execute(
            "UPDATE reminders SET state = 'queued', updated_at = ? WHERE id = ?"
            " AND state = 'pending'", [_text(now), reminder_id])
        return cursor.rowcount == 1

    def queue(self, reminder_id: int | None, alert_id: int | None, purpose: str,
              messages: Sequence[tuple[int, str, list[list[str]] | None]], now: datetime,
              expires_ts: int | None) -> None:
        """Put messages (chat id, HTML text, buttons) in the outbox for sending now.

        A reminder's messages are queued after ``claim_reminder`` succeeded.
        """
        self.db.conn.executemany(
            "INSERT INTO deliveries (purpose, reminder_id, alert_id, chat_id, text, buttons,"
            " next_attempt_ts, expires_ts, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(purpose, reminder_id, alert_id, chat_id, text,
              json.dumps(buttons, ensure_ascii=False) if buttons else None, _ts(now),
              expires_ts, _text(now), _text(now)) for chat_id, text, buttons in messages])

    def queue_edit(self, chat_id: int, message_id: int, text: str, now: datetime) -> None:
        """Rewrite a message already sent (``text``, no buttons), e.g. a reminder whose
        visit changed; sent like any message, by editing instead of sending."""
        self.db.execute(
            "INSERT INTO deliveries (purpose, chat_id, text, next_attempt_ts, created_at,"
            " updated_at, edit_message_id) VALUES ('alert', ?, ?, ?, ?, ?, ?)",
            [chat_id, text, _ts(now), _text(now), _text(now), message_id])

    def fail_reminder(self, reminder_id: int, reason: str, now: datetime) -> None:
        self.db.execute(
            "UPDATE reminders SET state = 'failed', reason = ?, updated_at = ? WHERE id = ?",
            [reason, _text(now), reminder_id])

    # -- the outbox ----------------------------------------------------------------------

    def queue_reply(self, chat_id: int, text: str, now: datetime, useful: timedelta) -> None:
        """An answer to a command, sent like any message (limits, retries) while it is
        ``useful``; it goes before reminders and digests."""
        self.queue(None, None, "reply", [(chat_id, text, None)], now, _ts(now + useful))

    def due_chats(self, now: datetime, limit: int) -> list[tuple[int, int, str]]:
        """(delivery id, chat id, purpose) of the messages due at ``now``: replies and
        alerts first (someone is waiting for them), then the rest, oldest first; enough to
        apply the rate limits without reading every message's text."""
        seen: set[int] = set()
        due = []
        for where in (" AND purpose IN ('reply', 'alert')", ""):
            for delivery_id, chat_id, purpose in self.db.execute(
                    f"SELECT id, chat_id, purpose FROM deliveries WHERE state = 'pending'{where}"
                    " AND next_attempt_ts <= ? ORDER BY next_attempt_ts, id LIMIT ?",
                    [_ts(now), limit]):
                if delivery_id not in seen:
                    seen.add(delivery_id)
                    due.append((delivery_id, chat_id, purpose))
        return due[:limit]

    def waiting(self, chat_id: int) -> bool:
        """Whether any message to the chat is still waiting to be sent."""
        return self.db.execute("SELECT 1 FROM deliveries WHERE chat_id = ? AND state = 'pending'"
                               " LIMIT 1", [chat_id]).fetchone() is not None

    def pending_delivery(self, delivery_id: int) -> Delivery | None:
        """The message, if it still waits (a change may have skipped it meanwhile)."""
        rows = self._rows("SELECT * FROM deliveries WHERE id = ? AND state = 'pending'",
                          [delivery_id])
        return _delivery(rows[0]) if rows else None

    def mark_sent(self, delivery: Delivery, message_id: int, now: datetime) -> None:
        self.db.execute(
            "UPDATE deliveries SET state = 'sent', message_id = ?, attempts = attempts + 1,"
            " sent_at = ?, updated_at = ?, last_error = NULL WHERE id = ?",
            [message_id, _text(now), _text(now), delivery.id])
        self._settle(delivery, now)

    def mark_retry(self, delivery: Delivery, error: str, retry_at: datetime,
                   now: datetime, *, count: bool = True) -> None:
        """Try again at ``retry_at`` (not a fraction of a second earlier, even after a
        restart); a flood-control wait (``count=False``) is no attempt."""
        self.db.execute(
            "UPDATE deliveries SET attempts = attempts + ?, last_error = ?, next_attempt_ts = ?,"
            " updated_at = ? WHERE id = ?",
            [int(count), error, _ts_not_before(retry_at), _text(now), delivery.id])

    def mark_failed(self, delivery: Delivery, error: str, now: datetime) -> None:
        self.db.execute(
            "UPDATE deliveries SET state = 'failed', attempts = attempts + 1, last_error = ?,"
            " updated_at = ? WHERE id = ?", [error, _text(now), delivery.id])
        self._settle(delivery, now)

    def skip_chat(self, chat_id: int, reason: str, now: datetime) -> None:
        """Skip every message still waiting for a chat that cannot be reached; a reminder
        left with no message waiting is settled (see ``_settle``)."""
        waiting = [_delivery(row) for row in self._rows(
            "SELECT * FROM deliveries WHERE chat_id = ? AND state = 'pending'", [chat_id])]
        self.db.execute(
            "UPDATE deliveries SET state = 'skipped', last_error = ?, updated_at = ?"
            " WHERE chat_id = ? AND state = 'pending'", [reason, _text(now), chat_id])
        for delivery in waiting:
            self._settle(delivery, now)

    def _settle(self, delivery: Delivery, now: datetime) -> None:
        """Once none of its messages waits, a reminder is sent if one of them was sent,
        skipped if all were skipped, else failed."""
        if delivery.reminder_id is None:
            return
        states = {row["state"] for row in self._rows(
            "SELECT state FROM deliveries WHERE reminder_id = ?", [delivery.reminder_id])}
        if "pending" in states:
            return
        state = "sent" if "sent" in states else "skipped" if states == {"skipped"} else "failed"
        self.db.execute(
            "UPDATE reminders SET state = ?, updated_at = ? WHERE id = ? AND state = 'queued'",
            [state, _text(now), delivery.reminder_id])

    def next_wake(self) -> datetime | None:
        """The earliest instant something may need doing: a reminder due or a retry."""
        (reminder_ts,) = self.db.execute(
            "SELECT MIN(due_ts) FROM reminders WHERE state = 'pending'").fetchone()
        (delivery_ts,) = self.db.execute(
            "SELECT MIN(next_attempt_ts) FROM deliveries WHERE state = 'pending'").fetchone()
        candidates = [ts for ts in (reminder_ts, delivery_ts) if ts is not None]
        return datetime.fromtimestamp(min(candidates), UTC) if candidates else None


def _delivery(row: dict[str, Any]) -> Delivery:
    return Delivery(
        id=row["id"], purpose=row["purpose"], reminder_id=row["reminder_id"],
        alert_id=row["alert_id"], chat_id=row["chat_id"], text=row["text"],
        buttons=json.loads(row["buttons"]) if row["buttons"] else None,
        attempts=row["attempts"], next_attempt_ts=row["next_attempt_ts"],
        expires_ts=row["expires_ts"], edit_message_id=row.get("edit_message_id"),
    )
