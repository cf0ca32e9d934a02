"""Calendar subscription feeds: secret URLs that calendar apps poll.

A feed belongs to one person: a staff member (optionally for one role) or a patient. Its
secret is random (192 bits), kept only as a SHA-256, and a revoked or unknown secret is
indistinguishable from a wrong path. A feed holds exactly what its owner may see, worded
as ``planner export`` words it; cancelled events stay (STATUS:CANCELLED, higher SEQUENCE)
for ``cancelled_days`` so subscribed apps remove them, then drop out.

Feeds are polled often, so nothing is rebuilt that did not change: the feed's version is
one aggregate query (count, newest change, sum of revisions); its body is kept per
version, and each event's VEVENT is kept per revision by ``planner.ics``.
"""

from __future__ import annotations

import gzip
import hashlib
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from planner.config import Settings
from planner.errors import InputError, NotFoundError
from planner.exports import PATIENT_VIEW, STAFF_VIEW, Audience, SnapshotProtocols, entry, sees
from planner.ics import CalendarEntry, render_calendar

BODY_CACHE_SIZE = 64
ENTRY_CACHE_SIZE = 200_000


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class Feed:
    id: int
    staff_id: int | None
    patient_id: int | None
    role: str | None


@dataclass(frozen=True)
class FeedBody:
    """One version of a feed, ready to serve."""

    etag: str
    last_modified: datetime
    body: bytes
    _gzipped: list[bytes]

    def gzipped(self) -> bytes:
        if not self._gzipped:
            self._gzipped.append(gzip.compress(self.body, compresslevel=5, mtime=0))
        return self._gzipped[0]


class Feeds:
    """Issue, list, revoke and build feeds over one database connection."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._bodies: OrderedDict[tuple[int, str], FeedBody] = OrderedDict()
        self._entry_cache: OrderedDict[tuple[Any, ...], CalendarEntry] = OrderedDict()
        self._protocols = SnapshotProtocols()
        self._tz = ZoneInfo(settings.clinic.timezone)

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

    def revoke(self, feed_id: int, now: datetime) -> None:
        cursor = self.db.execute(
            "UPDATE feeds SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            [now.astimezone(UTC).isoformat(timespec="seconds"), feed_id])
        if cursor.rowcount == 0:
            raise NotFoundError(f"ID: no active feed with id {feed_id}")

    def find(self, secret: str) -> Feed | None:
        """The active feed for a secret; the hash lookup itself is the comparison."""
        row = self.db.execute(
            "SELECT id, staff_id, patient_id, role FROM feeds"
            " WHERE secret_hash = ? AND revoked_at IS NULL", [secret_hash(secret)]).fetchone()
        return Feed(row[0], row[1], row[2], row[3]) if row else None

    # -- building --------------------------------------------------------------------------

    def _where(self, feed: Feed, now: datetime) -> tuple[str, list[Any]]:
        keep = now - timedelta(days=self.settings.feed.cancelled_days)
        clause = "(e.status = 'scheduled' OR e.updated_at >= ?)"
        params: list[Any] = [keep.astimezone(UTC).isoformat(timespec="seconds")]
        if feed.patient_id is not None:
            clause += " AND c.patient_id = ?"
            params.append(feed.patient_id)
        return clause, params

    def version(self, feed: Feed, now: datetime) -> tuple[str, datetime]:
        """The feed's ETag and Last-Modified, from one aggregate query."""
        clause, params = self._where(feed, now)
        count, newest, revisions = self.db.execute(
            "SELECT COUNT(*), MAX(e.updated_at), TOTAL(e.revision) FROM events e"
            f" JOIN courses c ON c.id = e.course_id WHERE {clause}", params).fetchone()
        stamp = datetime.fromisoformat(newest) if newest else datetime(2000, 1, 1, tzinfo=UTC)
        key = f"{feed.id}:{feed.role}:{count}:{newest}:{revisions}"
        return f'"{hashlib.sha256(key.encode()).hexdigest()[:32]}"', stamp

    def body(self, feed: Feed, now: datetime) -> FeedBody:
        """The feed's current body, built only when its version changed."""
        etag, last_modified = self.version(feed, now)
        cached = self._bodies.get((feed.id, etag))
        if cached is not None:
            self._bodies.move_to_end((feed.id, etag))
            return cached
        built = FeedBody(etag, last_modified, self._render(feed, now), [])
        self._bodies[(feed.id, etag)] = built
        while len(self._bodies) > BODY_CACHE_SIZE:
            self._bodies.popitem(last=False)
        return built

    def _entries(self, rows: list[dict[str, Any]], audience: Audience,
                 totals: dict[int, int]) -> list[CalendarEntry]:
        """Calendar entries, each built once per event revision and view."""
        result = []
        for row in rows:
            if not sees(audience, self._protocols.get(row["protocol_snapshot"]), row):
                continue
            total = totals.get(row["course_id"], 0)
            key = (row["id"], row["revision"], row["status"], row["updated_at"], audience.view,
                   row["patient_name"], row["patient_lang"], total)
            cached = self._entry_cache.get(key)
            if cached is None:
                cached = entry(row, audience, self.settings.export, self._tz, total)
                self._entry_cache[key] = cached
                if len(self._entry_cache) > ENTRY_CACHE_SIZE:
                    self._entry_cache.popitem(last=False)
            result.append(cached)
        return result

    def _render(self, feed: Feed, now: datetime) -> bytes:
        clause, params = self._where(feed, now)
        rows = list(self.db.query(
            "SELECT e.*, c.patient_id, c.protocol_snapshot, p.name AS patient_name,"
            " p.lang AS patient_lang, p.mrn AS patient_mrn FROM events e"
            " JOIN courses c ON c.id = e.course_id JOIN patients p ON p.id = c.patient_id"
            f" WHERE {clause} ORDER BY e.start_ts, e.kind, e.seq", params))
        totals = {course: count for course, count in self.db.execute(
            "SELECT course_id, COUNT(*) FROM events WHERE kind = 'infusion' GROUP BY course_id")}
        audience = (Audience(PATIENT_VIEW) if feed.patient_id is not None
                    else Audience(STAFF_VIEW, feed.role))
        clinic = self.settings.clinic
        refresh = f"PT{self.settings.feed.refresh_minutes}M"
        return render_calendar(
            self._entries(rows, audience, totals),
            timezone=clinic.timezone,
            name=f"{clinic.name} — " + ("ANK" if feed.patient_id is not None
                                        else feed.role or "all"),
            alarm_minutes=self.settings.export.alarm_minutes,
            extra_properties=(("REFRESH-INTERVAL;VALUE=DURATION", refresh),
                              ("X-PUBLISHED-TTL", refresh)))
