"""A course as stored: its row, the protocol snapshot it was planned with, its events, and
the bends it uses over closures."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from planner.config.protocols import parse_protocol
from planner.core.course import Course
from planner.core.errors import NotFoundError
from planner.core.model import Bend, Protocol, StoredEvent
from planner.store.base import _stored, as_planned
from planner.store.people import PeopleRecords


class CourseRecords(PeopleRecords):
    """Reading one course and its events; recording the bends it uses."""

    def course(self, course_id: int) -> dict[str, Any]:
        row = self._one("SELECT * FROM courses WHERE id = ?", [course_id])
        if row is None:
            raise NotFoundError(f"COURSE_ID: no course with id {course_id}")
        return row

    def courses_of(self, patient_id: int) -> list[dict[str, Any]]:
        self.patient(patient_id)
        return list(self.db.query(
            "SELECT * FROM courses WHERE patient_id = ? ORDER BY id", [patient_id]))

    def course_protocol(self, course_id: int) -> Protocol:
        return snapshot_protocol(self.course(course_id))

    def course_state(self, course_id: int) -> Course:
        protocol = self.course_protocol(course_id)
        events = tuple(as_planned(e) for e in self.events_of(course_id))
        return Course(protocol, events)

    def events_of(self, course_id: int) -> list[StoredEvent]:
        rows = self.db.execute(
            "SELECT * FROM events WHERE course_id = ? ORDER BY start_ts, kind, seq", [course_id]
        ).fetchall()
        return [_stored(row) for row in rows]

    def event(self, event_id: int) -> StoredEvent:
        row = self.db.execute("SELECT * FROM events WHERE id = ?", [event_id]).fetchone()
        if row is None:
            raise NotFoundError(f"EVENT_ID: no event with id {event_id}")
        return _stored(row)

    def set_exceptions(self, course_id: int, bends: Iterable[Bend]) -> None:
        """Record the bends a course now uses (replacing those it used before)."""
        self.db.execute("UPDATE courses SET exceptions = ? WHERE id = ?",
                        [json.dumps([b.as_dict() for b in bends], ensure_ascii=False),
                         course_id])

    def exceptions_of(self, course_id: int) -> list[Bend]:
        """The bends a course uses over closures, as recorded when it was planned or changed."""
        row = self.db.execute("SELECT exceptions FROM courses WHERE id = ?",
                              [course_id]).fetchone()
        if row is None:
            raise NotFoundError(f"COURSE_ID: no course with id {course_id}")
        return [Bend.from_dict(item) for item in json.loads(row[0] or "[]")]


def snapshot_protocol(course: dict[str, Any]) -> Protocol:
    """The protocol a course row was planned with (its snapshot, not today's config)."""
    table = json.loads(course["protocol_snapshot"])
    return parse_protocol(course["protocol"], table, f"course {course['id']} snapshot")
