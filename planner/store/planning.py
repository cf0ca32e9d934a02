"""Storing newly planned courses, one or a batch of thousands, and what planning reads
first: the chairs and collections other courses booked, and each patient's active course."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from planner.config.protocols import protocol_to_table
from planner.core.model import INFUSION, Occupancy, Protocol
from planner.store.base import _ts, _utc
from planner.store.course_records import CourseRecords
from planner.store.rows import NewCourse, PreparedCourse, prepare_course

if TYPE_CHECKING:  # the planner itself is not loaded by commands that only read
    from planner.core.schedule import Plan


class CoursePlanning(CourseRecords):
    """What a new course must respect, and storing it with its events and reminders."""

    def occupancy(self, first: date, last: date, tz: Any,
                  exclude_course: int | None = None) -> Occupancy:
        """Infusion chairs and collections booked by other courses between two days
        (the day before ``first`` and the day after ``last`` included)."""
        low = _ts(datetime.combine(first - timedelta(days=1), datetime.min.time(), tzinfo=tz))
        high = _ts(datetime.combine(last + timedelta(days=2), datetime.min.time(), tzinfo=tz))
        occupancy = Occupancy()
        rows = self.db.execute(
            "SELECT kind, start, \"end\", COUNT(*) FROM events"
            " WHERE start_ts >= ? AND start_ts < ? AND status = 'scheduled'"
            " AND kind IN ('infusion', 'collection') AND course_id != ?"
            " GROUP BY kind, start, \"end\"",
            [low, high, exclude_course or -1],
        ).fetchall()
        for kind, start_text, end_text, count in rows:
            start = datetime.fromisoformat(start_text).astimezone(tz)
            day = start.date()
            if kind == INFUSION:
                booked = occupancy.infusions.setdefault(day, {})
                interval = (start, datetime.fromisoformat(end_text).astimezone(tz))
                booked[interval] = booked.get(interval, 0) + count
            else:
                occupancy.collections[day] = occupancy.collections.get(day, 0) + count
        return occupancy

    def active_course_spans(
        self, patient_ids: set[int]
    ) -> dict[int, list[tuple[int, datetime, datetime]]]:
        """Per patient, each active course with the first and last start of its scheduled
        events: what a new course of the same patient must not overlap."""
        marks = ",".join("?" * len(patient_ids))
        rows = self.db.execute(
            "SELECT c.patient_id, c.id, MIN(e.start_ts), MAX(e.start_ts) FROM courses c"
            " JOIN events e ON e.course_id = c.id"
            f" WHERE c.status = 'active' AND e.status = 'scheduled' AND c.patient_id IN ({marks})"
            " GROUP BY c.id ORDER BY c.id", sorted(patient_ids)).fetchall()
        spans: dict[int, list[tuple[int, datetime, datetime]]] = {}
        for patient_id, course_id, first, last in rows:
            spans.setdefault(patient_id, []).append(
                (course_id, datetime.fromtimestamp(first, UTC), datetime.fromtimestamp(last, UTC)))
        return spans

    def _next_course_uid(self) -> str:
        """The next course's number then a random part: unique across clinics, and new
        UIDs sort after old ones so their index grows at its end."""
        (last,) = self.db.conn.execute("SELECT COALESCE(MAX(id), 0) FROM courses").fetchone()
        return f"{last + 1:08d}-{secrets.token_hex(6)}"

    def create_course(self, patient_id: int, protocol: Protocol, plan: Plan, *,
                      planned_from: str, start: date, uid_domain: str, actor: str,
                      now: datetime) -> int:
        """Store one planned course without reminders (see ``create_courses``)."""
        self.check_patients({patient_id})
        new = prepare_course(NewCourse(patient_id, protocol, plan, planned_from, start), None,
                             "UTC", now)
        return self.create_courses([new], uid_domain=uid_domain, actor=actor, now=now)[0]

    def create_courses(self, courses: Iterable[PreparedCourse], *, uid_domain: str,
                       actor: str, now: datetime) -> list[int]:
        """Store prepared courses with their events and reminders, one audit row each, in
        one transaction: either every course is stored or none is."""
        ids = []
        snapshots: dict[str, str] = {}
        with self.transaction():
            for new in courses:
                name = new.protocol.name
                if name not in snapshots:
                    snapshots[name] = json.dumps(protocol_to_table(new.protocol),
                                                 sort_keys=True)
                ids.append(self._create_one(new, snapshots[name], uid_domain, actor, now))
        return ids

    def _create_one(self, new: PreparedCourse, snapshot: str, uid_domain: str, actor: str,
                    now: datetime) -> int:
        stamp = _utc(now)
        course_uid = self._next_course_uid()
        cursor = self.db.conn.execute(
            "INSERT INTO courses (uid, patient_id, protocol, protocol_snapshot,"
            " planned_from, start_date, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [course_uid, new.patient_id, new.protocol.name, snapshot,
             new.planned_from, new.start.isoformat(), stamp, stamp],
        )
        course_id = int(cursor.lastrowid or 0)
        if new.exceptions:
            self.set_exceptions(course_id, new.exceptions)
        self._insert_rows(course_id, course_uid, new.events, uid_domain, stamp)
        if new.reminders:
            self._insert_reminders(course_id, new, stamp)
        self._audit(actor, "course.plan", now, course_id=course_id,
                    detail={"planned_from": new.planned_from,
                            "start": new.start.isoformat(), "protocol": new.protocol.name,
                            "events": len(new.events), "notes": list(new.notes)})
        return course_id

    def _insert_reminders(self, course_id: int, new: PreparedCourse, stamp: str) -> None:
        """Reminders of a course just stored: its events' ids follow their insertion order."""
        event_ids = [row[0] for row in self.db.conn.execute(
            "SELECT id FROM events WHERE course_id = ? ORDER BY id", [course_id])]
        self.db.conn.executemany(
            "INSERT INTO reminders (event_id, event_revision, rule, audience, due_ts,"
            " expires_ts, created_at, updated_at) VALUES (?, 0, ?, ?, ?, ?, ?, ?)",
            [(event_ids[index], rule, audience, due, expires, stamp, stamp)
             for index, rule, audience, due, expires in new.reminders])
