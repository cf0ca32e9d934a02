"""Staff alerts that do not flood: the same problem about the same person once a day.

A patient without a chat used to raise an alert for every reminder (8 in a minute, about
19 a course, to every nurse and receptionist). Now an alert about a problem that lasts (no
chat, a chat that cannot be reached, a reminder that could not be sent) goes out once per
clinic day for the same person; later ones that day are recorded as repeats and not sent,
and the morning digest lists the patients still to be phoned (「要電話」). When the digest
reaches the alert's readers, a patient without a chat is alerted once, not every day:
the digest lists them each morning until a chat is linked. What people say
(typed messages, 「体調がすぐれない」, check-in answers, change requests) and lab notices
are never held back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from planner.store.links import Links

LASTING = ("no_chat", "unreachable", "delivery_failed")


def subject(alert: dict[str, Any]) -> tuple[Any, ...]:
    """Who an alert is about: the patient, and for a chat that cannot be reached which
    chat (the patient's own, a family member's, or a staff member's)."""
    detail = json.loads(alert.get("detail") or "{}")
    if alert["kind"] == "unreachable":
        return (alert["kind"], alert["patient_id"], detail.get("staff_id"),
                detail.get("family_name"))
    return (alert["kind"], alert["patient_id"])


def _day_bounds(created_at: str, tz: ZoneInfo) -> tuple[str, str]:
    local = datetime.fromisoformat(created_at).astimezone(tz)
    start = datetime.combine(local.date(), datetime.min.time(), tzinfo=tz)
    end = start + timedelta(days=1)
    return (start.astimezone(UTC).isoformat(timespec="seconds"),
            end.astimezone(UTC).isoformat(timespec="seconds"))


def earlier_today(db: Database, alert: dict[str, Any], tz: ZoneInfo) -> int | None:
    """The id of an alert about the same lasting problem and person already handled the
    same clinic day, or None (then this one goes out)."""
    if alert["kind"] not in LASTING:
        return None
    low, high = _day_bounds(alert["created_at"], tz)
    rows = db.query(
        "SELECT * FROM alerts WHERE kind = ? AND id < ? AND state != 'pending'"
        " AND created_at >= ? AND created_at < ? AND patient_id IS ? ORDER BY id",
        [alert["kind"], alert["id"], low, high, alert["patient_id"]])
    wanted = subject(alert)
    for row in rows:
        if subject(row) == wanted:
            return int(row["id"])
    return None


def told_before(db: Database, alert: dict[str, Any]) -> int | None:
    """The id of an earlier alert that a patient no chat reaches has no chat, if it came
    after the patient's chats were last linked and no chat reaches them still: from then
    on the morning digest lists them under 「要電話」 every day, and alerts need not."""
    if alert["kind"] != "no_chat" or alert["patient_id"] is None:
        return None
    if to_phone(db, [int(alert["patient_id"])]) == []:
        return None
    (linked,) = db.execute("SELECT MAX(linked_at) FROM chats WHERE patient_id = ?",
                           [alert["patient_id"]]).fetchone()
    row = db.execute(
        "SELECT id FROM alerts WHERE kind = 'no_chat' AND patient_id = ? AND id < ?"
        " AND state != 'pending' AND created_at >= ? ORDER BY id LIMIT 1",
        [alert["patient_id"], alert["id"], linked or ""]).fetchone()
    return int(row[0]) if row else None


def close_as_repeat(db: Database, alert_id: int, first_id: int) -> None:
    """Record that staff were already told today (by alert ``first_id``); nothing is sent."""
    db.execute("UPDATE alerts SET state = 'delivered', detail = json_set(detail,"
               " '$.repeat_of', ?) WHERE id = ?", [first_id, alert_id])


def to_phone(db: Database, patient_ids: Iterable[int]) -> list[int]:
    """Of these patients, those no chat reaches (none linked, or all unreachable): the
    digest's 「要電話」, in id order."""
    links = Links(db)
    return sorted(p for p in set(patient_ids) if not links.patient_chats(p))
