"""What every part of the store shares: the connection, the write transaction, the audit
row, and how instants and events are turned into columns and back.

The parts (``people``, ``course_records``, ``planning``, ``changes``, ``listings``) each add
the methods for what they hold; ``planner.store.courses.Store`` is all of them together.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlite_utils import Database

from planner.core.model import PlannedEvent, Status, StoredEvent
from planner.store.database import immediate
from planner.store.rows import EventRow


def _iso(moment: datetime) -> str:
    """Local ISO 8601 with offset."""
    return _cached_iso(moment, moment.tzinfo, moment.fold)


@lru_cache(maxsize=16384)
def _cached_iso(moment: datetime, _zone: object, _fold: int) -> str:
    """Courses share their time slots, so the text is cached. Aware datetimes compare equal
    by instant (and ignore ``fold`` within a zone): the zone and fold are part of the key."""
    return moment.isoformat(timespec="seconds")


def _ts(moment: datetime) -> int:
    """Unix seconds: how event starts are indexed, sorted and compared across zones."""
    return int(moment.timestamp())


def _utc(moment: datetime) -> str:
    """UTC ISO 8601, the sortable form used for ranges."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


class StoreBase:
    """One database connection, its write transaction and its audit log."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction holding the write lock from its start (see
        ``planner.store.database.immediate``): a read inside it is not overwritten by another
        writer before this one commits. Nested, a savepoint."""
        with immediate(self.db):
            yield

    def _audit(self, actor: str, action: str, now: datetime, *, course_id: int | None = None,
               event_id: int | None = None, detail: dict[str, Any] | None = None,
               reason: str | None = None) -> None:
        self.db.conn.execute(
            "INSERT INTO audit (at, actor, action, course_id, event_id, detail, reason)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [_utc(now), actor, action, course_id, event_id,
             json.dumps(detail or {}, ensure_ascii=False, sort_keys=True), reason],
        )

    def _one(self, sql: str, params: list[Any]) -> dict[str, Any] | None:
        return next(iter(self.db.query(sql, params)), None)

    def _insert_rows(self, course_id: int, course_uid: str, rows: list[EventRow],
                     uid_domain: str, stamp: str) -> None:
        """Insert a course's events; their UIDs are the course's UID, the row's suffix and
        the clinic's domain, so they stay the same in every export."""
        self.db.conn.executemany(
            "INSERT INTO events (uid, course_id, kind, seq, start, \"end\", start_ts, status,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(f"{course_uid}-{suffix}@{uid_domain}", course_id, kind, seq, start, end, ts,
              status, stamp) for kind, seq, start, end, ts, status, suffix in rows])


def _stored(row: sqlite3.Row | tuple[Any, ...]) -> StoredEvent:
    (event_id, uid, course_id, kind, seq, start, end, _start_ts, status, revision,
     lab_attention, updated_at) = row
    return StoredEvent(
        id=event_id, uid=uid, course_id=course_id, kind=kind, seq=seq,
        start=datetime.fromisoformat(start), end=datetime.fromisoformat(end),
        status=Status(status), revision=revision,
        updated_at=datetime.fromisoformat(updated_at), lab_attention=bool(lab_attention),
    )


def as_planned(event: StoredEvent) -> PlannedEvent:
    return PlannedEvent(event.kind, event.seq, event.start, event.end, event.status)


def with_timezone(event: PlannedEvent, tz: Any) -> PlannedEvent:
    return replace(event, start=event.start.astimezone(tz), end=event.end.astimezone(tz))
