"""Calendar subscription feeds: secret URLs that calendar apps poll.

A feed belongs to one person: a staff member (optionally for one role) or a patient. Its
secret is random (192 bits), kept only as a SHA-256, and a revoked or unknown secret is
indistinguishable from a wrong path. A feed holds exactly what its owner may see, worded
as ``planner export`` words it, for a rolling window of days (``planner.calendars.feed_window``);
cancelled events stay (STATUS:CANCELLED, higher SEQUENCE) for ``cancelled_days`` so
subscribed apps remove them, then drop out. Bodies are built by ``planner.calendars.feed_bodies``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from typing import Any

from planner.calendars.feed_bodies import LARGE_FEED_BYTES, Feed, FeedBody, FeedBuilder
from planner.core.errors import InputError, NotFoundError

__all__ = ["LARGE_FEED_BYTES", "Feed", "FeedBody", "Feeds", "secret_hash"]


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


class Feeds(FeedBuilder):
    """Issue, list, revoke, find and build feeds over one database connection."""

    # -- managing --------------------------------------------------------------------------

    def issue(self, now: datetime, *, staff_id: int | None = None, role: str | None = None,
              patient_id: int | None = None) -> tuple[int, str]:
        """A new feed and its secret (shown once; only its hash is kept)."""
        if (staff_id is None) == (patient_id is None):
            raise InputError("give --staff ID or --patient ID (one of them)")
        if patient_id is not None and role is not None:
            raise InputError("--role: only a staff feed can be limited to a role")
        secret = secrets.token_urlsafe(24)
        cursor = self.db.execute(
            "INSERT INTO feeds (secret_hash, staff_id, role, patient_id, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [secret_hash(secret), staff_id, role, patient_id,
             now.astimezone(UTC).isoformat(timespec="seconds")])
        return int(cursor.lastrowid or 0), secret

    def all(self) -> list[dict[str, Any]]:
        return list(self.db.query(
            "SELECT f.id, f.staff_id, s.name AS staff_name, f.role, f.patient_id,"
            " p.name AS patient_name, f.created_at, f.revoked_at FROM feeds f"
            " LEFT JOIN staff s ON s.id = f.staff_id LEFT JOIN patients p ON p.id = f.patient_id"
            " ORDER BY f.id"))

    def for_chat(self, patient_id: int, chat_id: int, now: datetime) -> str:
        """The secret of the patient feed the bot gives this chat, made on first use.

        The same link every time (derived from the feed id and the instance key, so it is
        never stored), until the chat unlinks (``revoke_chat``) or staff revoke it.
        """
        row = self.db.execute(
            "SELECT id FROM feeds WHERE patient_id = ? AND chat_id = ? AND revoked_at IS NULL",
            [patient_id, chat_id]).fetchone()
        if row is not None:
            return self._derived(int(row[0]))
        cursor = self.db.execute(
            "INSERT INTO feeds (secret_hash, patient_id, chat_id, created_at)"
            " VALUES (?, ?, ?, ?)",
            [f"pending-{secrets.token_hex(16)}", patient_id, chat_id,
             now.astimezone(UTC).isoformat(timespec="seconds")])
        feed_id = int(cursor.lastrowid or 0)
        secret = self._derived(feed_id)
        self.db.execute("UPDATE feeds SET secret_hash = ? WHERE id = ?",
                        [secret_hash(secret), feed_id])
        return secret

    def _derived(self, feed_id: int) -> str:
        (key,) = self.db.execute(
            "SELECT value FROM instance_keys WHERE name = 'feed'").fetchone()
        digest = hmac.new(bytes(key), f"chat-feed:{feed_id}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:24]).decode("ascii")

    def revoke_chat(self, chat_id: int, now: datetime) -> None:
        """A chat that unlinks loses the feeds the bot gave it."""
        self.db.execute(
            "UPDATE feeds SET revoked_at = ? WHERE chat_id = ? AND revoked_at IS NULL",
            [now.astimezone(UTC).isoformat(timespec="seconds"), chat_id])

    def revoke(self, feed_id: int, now: datetime) -> None:
        cursor = self.db.execute(
            "UPDATE feeds SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            [now.astimezone(UTC).isoformat(timespec="seconds"), feed_id])
        if cursor.rowcount == 0:
            raise NotFoundError(f"ID: no active feed with id {feed_id}")

    def find(self, secret: str) -> Feed | None:
        """The active feed for a secret.

        The index finds the row by the secret's SHA-256 (timing there reveals nothing of
        the secret); the stored and computed digests are then compared in constant time.
        """
        wanted = secret_hash(secret)
        row = self.db.execute(
            "SELECT id, staff_id, patient_id, role, secret_hash FROM feeds"
            " WHERE secret_hash = ? AND revoked_at IS NULL", [wanted]).fetchone()
        if row is None or not hmac.compare_digest(row[4], wanted):
            return None
        return Feed(row[0], row[1], row[2], row[3])
