"""Linking Telegram chats to patients and staff with one-time codes.

A code is random (192 bits, ``[A-Za-z0-9_-]``, 32 characters: fits Telegram's 64-character
deep-link payload), single use, expiring, and stored only as its SHA-256, so a copy of the
database cannot be used to link a chat. An unknown, used or expired code all give the
same answer, and a chat that keeps sending wrong codes is throttled.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from planner.core.errors import InputError

THROTTLE_WINDOW = timedelta(minutes=15)
THROTTLE_LIMIT = 5


def _ts(moment: datetime) -> int:
    return int(moment.timestamp())


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode("ascii", "replace")).hexdigest()


@dataclass(frozen=True)
class LinkCode:
    code: str
    expires_at: datetime


@dataclass(frozen=True)
class Chat:
    """A linked chat: a patient's (or their family's) or a staff member's."""

    chat_id: int
    patient_id: int | None
    staff_id: int | None
    family_name: str | None
    lang: str
    role: str | None = None
    name: str = ""


class Links:
    """Link codes and linked chats over one database connection."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create_code(self, now: datetime, valid: timedelta, *, patient_id: int | None = None,
                    staff_id: int | None = None, family_name: str | None = None) -> LinkCode:
        if (patient_id is None) == (staff_id is None):
            raise InputError("give a patient or a staff member to link")
        code = secrets.token_urlsafe(24)
        expires = now + valid
        self.db.execute(
            "INSERT INTO link_codes (code_hash, patient_id, staff_id, family_name, created_at,"
            " expires_ts) VALUES (?, ?, ?, ?, ?, ?)",
            [code_hash(code), patient_id, staff_id, family_name, _text(now), _ts(expires)])
        return LinkCode(code, expires)

    def throttled(self, chat_id: int, now: datetime) -> bool:
        (count,) = self.db.execute(
            "SELECT COUNT(*) FROM link_failures WHERE chat_id = ? AND at_ts > ?",
            [chat_id, _ts(now - THROTTLE_WINDOW)]).fetchone()
        return bool(count >= THROTTLE_LIMIT)

    def redeem(self, code: str, chat_id: int, lang: str | None, now: datetime, *,
               staff_lang: str = "ja") -> Chat | None:
        """Link ``chat_id`` with a valid code (used up here), or None for any bad code.

        The chat's language is ``lang`` when given, else the patient's own, or
        ``staff_lang`` (the clinic's staff language) for a staff member.

        Call inside a transaction. A chat already linked to someone is re-linked to the
        code's person: the newest consent wins, except that a family chat linked with
        another family code keeps its patients and gains one (a family caring for two).
        A throttled chat gets None even for a valid code, which stays unused (and that
        attempt is not counted as a failure).
        """
        if self.throttled(chat_id, now):
            return None
        rows = list(self.db.query(
            "SELECT * FROM link_codes WHERE code_hash = ? AND used_at IS NULL AND expires_ts > ?",
            [code_hash(code), _ts(now)]))
        used = bool(rows) and self.db.execute(
            "UPDATE link_codes SET used_at = ?, used_chat_id = ? WHERE id = ? AND used_at IS NULL",
            [_text(now), chat_id, rows[0]["id"]]).rowcount == 1
        if not used:  # unknown, expired, or used meanwhile by another connection
            self.db.execute("INSERT INTO link_failures (chat_id, at_ts) VALUES (?, ?)",
                            [chat_id, _ts(now)])
            return None
        link = rows[0]
        self._make_room(chat_id, link, now)
        language = lang or (self._person_language(link["patient_id"])
                            if link["patient_id"] is not None else staff_lang)
        self.db.execute(
            "INSERT INTO chats (chat_id, patient_id, staff_id, family_name, lang, linked_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [chat_id, link["patient_id"], link["staff_id"], link["family_name"], language,
             _text(now)])
        return self.chat(chat_id)

    def _make_room(self, chat_id: int, link: dict[str, Any], now: datetime) -> None:
        """Unlink what the new link replaces: everything, unless both are family links
        (then only an earlier link to the same patient)."""
        current = self.chats(chat_id)
        family = link["family_name"] is not None and current and all(
            chat.family_name is not None for chat in current)
        if not family:
            self.unlink(chat_id, now)
            return
        self.db.execute(
            "UPDATE chats SET unlinked_at = ? WHERE chat_id = ? AND patient_id = ?"
            " AND unlinked_at IS NULL", [_text(now), chat_id, link["patient_id"]])

    def chats(self, chat_id: int) -> list[Chat]:
        """Every link of a chat: one, or for a family caring for several, one per patient
        (first linked first)."""
        rows = self.db.query(
            "SELECT c.*, s.role, COALESCE(p.name, s.name) AS name FROM chats c"
            " LEFT JOIN staff s ON s.id = c.staff_id LEFT JOIN patients p ON p.id = c.patient_id"
            " WHERE c.chat_id = ? AND c.unlinked_at IS NULL ORDER BY c.id", [chat_id])
        return [_chat(row) for row in rows]

    def _person_language(self, patient_id: int) -> str:
        row = self.db.execute("SELECT lang FROM patients WHERE id = ?", [patient_id]).fetchone()
        return str(row[0]) if row else "ja"

    def unlink(self, chat_id: int, now: datetime) -> bool:
        cursor = self.db.execute(
            "UPDATE chats SET unlinked_at = ? WHERE chat_id = ? AND unlinked_at IS NULL",
            [_text(now), chat_id])
        return cursor.rowcount > 0

    def chat(self, chat_id: int) -> Chat | None:
        rows = list(self.db.query(
            "SELECT c.*, s.role, COALESCE(p.name, s.name) AS name FROM chats c"
            " LEFT JOIN staff s ON s.id = c.staff_id LEFT JOIN patients p ON p.id = c.patient_id"
            " WHERE c.chat_id = ? AND c.unlinked_at IS NULL ORDER BY c.id", [chat_id]))
        return _chat(rows[0]) if rows else None

    def set_language(self, chat_id: int, lang: str) -> None:
        self.db.execute("UPDATE chats SET lang = ? WHERE chat_id = ? AND unlinked_at IS NULL",
                        [lang, chat_id])

    def mark_unreachable(self, chat_id: int, reason: str, now: datetime) -> Chat | None:
        """Stop sending to a chat that blocked the bot or no longer exists."""
        chat = self.chat(chat_id)
        self.db.execute(
            "UPDATE chats SET unreachable_at = ?, unreachable_reason = ?"
            " WHERE chat_id = ? AND unlinked_at IS NULL", [_text(now), reason, chat_id])
        return chat

    def mark_reachable(self, chat_id: int) -> None:
        """A chat that writes to the bot again can be reached again."""
        self.db.execute(
            "UPDATE chats SET unreachable_at = NULL, unreachable_reason = NULL"
            " WHERE chat_id = ? AND unlinked_at IS NULL", [chat_id])

    def patient_chats(self, patient_id: int, *, family_only: bool = False) -> list[Chat]:
        """Reachable chats linked to a patient (the patient's own and family's)."""
        family = " AND c.family_name IS NOT NULL" if family_only else ""
        rows = self.db.query(
            "SELECT c.*, NULL AS role, p.name AS name FROM chats c"
            " JOIN patients p ON p.id = c.patient_id WHERE c.patient_id = ?"
            f" AND c.unlinked_at IS NULL AND c.unreachable_at IS NULL{family} ORDER BY c.id",
            [patient_id])
        return [_chat(row) for row in rows]

    def staff_chats(self, roles: tuple[str, ...]) -> list[Chat]:
        """Reachable chats of staff in ``roles``."""
        marks = ",".join("?" for _ in roles)
        rows = self.db.query(
            "SELECT c.*, s.role, s.name AS name FROM chats c JOIN staff s ON s.id = c.staff_id"
            f" WHERE s.role IN ({marks}) AND c.unlinked_at IS NULL AND c.unreachable_at IS NULL"
            " ORDER BY c.id", list(roles))
        return [_chat(row) for row in rows]

def _chat(row: dict[str, Any]) -> Chat:
    return Chat(chat_id=row["chat_id"], patient_id=row["patient_id"], staff_id=row["staff_id"],
                family_name=row["family_name"], lang=row["lang"], role=row.get("role"),
                name=row.get("name") or "")
