"""A change of a stored course: one read of the course as the change needs it, and one
write of the result with its reminders, the patient's change notice, staff alerts and the
audit row (see ``planner.store.aggregate``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from planner.config.settings import Settings
from planner.core.course import slot_key
from planner.core.model import Bend, Occupancy, PlannedEvent, StoredEvent
from planner.store.aggregate import OCCUPANCY_MARGIN, ChangeRecord, CourseForChange, StaffAlert
from planner.store.base import _iso, _ts, _utc, as_planned
from planner.store.course_records import snapshot_protocol
from planner.store.outbox import Outbox
from planner.store.planning import CoursePlanning
from planner.store.rows import event_row

DEFAULT_UID_DOMAIN = "ank-planner.invalid"


class CourseChanges(CoursePlanning):
    """Reading a course for a change and writing the change back."""

    def course_for_change(self, course_id: int | None = None, *, event_id: int | None = None,
                          near: tuple[date, date] | None = None, near_event: bool = False,
                          tz: Any = UTC) -> CourseForChange:
        """The course of ``course_id``, or of the event ``event_id``, with what a change of
        it reads: call it inside the change's transaction, so nothing moves before the
        change is written.

        Other courses' bookings are read for the days from ``near[0]`` to ``near[1]``
        (each widened by ``OCCUPANCY_MARGIN``), or around the event's own day with
        ``near_event``; without either, none are read.
        """
        event = self.event(event_id) if event_id is not None else None
        row = self.course(event.course_id if event is not None else course_id or 0)
        events = tuple(self.events_of(row["id"]))
        if near_event and event is not None:
            near = (event.start.date(), event.start.date())
        occupancy = Occupancy() if near is None else self.occupancy(
            near[0] - OCCUPANCY_MARGIN, near[1] + OCCUPANCY_MARGIN, tz, exclude_course=row["id"])
        away = self.away_days_of({row["patient_id"]}).get(row["patient_id"], {})
        return CourseForChange(
            id=row["id"], uid=row["uid"], patient_id=row["patient_id"], status=row["status"],
            protocol=snapshot_protocol(row), events=events, event=event, occupancy=occupancy,
            away=away, uid_domain=_uid_domain(events))

    def write_change(self, course: CourseForChange, new_events: list[PlannedEvent],
                     record: ChangeRecord, *, settings: Settings, bends: Iterable[Bend],
                     lab_attention: set[tuple[str, int]] | None = None,
                     alerts: Sequence[StaffAlert] = ()) -> list[int]:
        """Write a course changed from ``course`` in one transaction: its events, the bends
        it now uses, its reminders, the patient's change notice, ``alerts`` for staff and
        the audit row. Returns the ids of the events changed or added."""
        before = course.state(ZoneInfo(settings.clinic.timezone)).events
        with self.transaction():
            changed = self._write_events(course, new_events, record, lab_attention or set())
            self.set_exceptions(course.id, bends)
            outbox = Outbox(self.db)
            outbox.sync_course(course.id, settings.reminders, settings.clinic.timezone,
                               record.now)
            from planner.store.change_notices import tell_patient  # texts: only on a change

            tell_patient(self.db, settings, course.id, course.protocol, before, new_events,
                         record.now)
            for alert in alerts:
                outbox.add_alert(alert.kind, alert.roles, alert.detail, record.now,
                                 course_id=course.id, event_id=alert.event_id)
        return changed

    def _write_events(self, course: CourseForChange, new_events: list[PlannedEvent],
                      record: ChangeRecord, attention: set[tuple[str, int]]) -> list[int]:
        """Update what moved (revision + 1), add what is new, then the course and audit rows.

        Events are matched by ``slot_key``; the ids of changed or added events are returned.
        """
        current = {slot_key(course.protocol, as_planned(e)): e for e in course.events}
        changed: list[int] = []
        with self.transaction():
            added = []
            for event in new_events:
                key = slot_key(course.protocol, event)
                old = current.get(key)
                if old is None:
                    added.append(event)
                elif as_planned(old) != event or key in attention:
                    self._update_event(old, event, key in attention, record.now)
                    changed.append(old.id)
            if added:
                self._insert_rows(course.id, course.uid,
                                  [event_row(course.protocol, e) for e in added],
                                  course.uid_domain, _utc(record.now))
                changed += [self._event_id(course.id, e) for e in added]
            self._record_change(course.id, record, changed, attention)
        return changed

    def _record_change(self, course_id: int, record: ChangeRecord, changed: list[int],
                       attention: set[tuple[str, int]]) -> None:
        self.db.execute(
            "UPDATE courses SET updated_at = ?, status = COALESCE(?, status),"
            " cancel_reason = COALESCE(?, cancel_reason) WHERE id = ?",
            [_utc(record.now), record.course_status,
             record.reason if record.course_status else None, course_id],
        )
        self._audit(record.actor, record.action, record.now, course_id=course_id,
                    reason=record.reason,
                    detail={"changed_events": changed,
                            "lab_attention": sorted(f"{k}-{s}" for k, s in attention)})

    def _update_event(self, old: StoredEvent, new: PlannedEvent, attention: bool,
                      now: datetime) -> None:
        self.db.execute(
            "UPDATE events SET seq = ?, start = ?, \"end\" = ?, start_ts = ?, status = ?,"
            " revision = revision + 1, lab_attention = MAX(lab_attention, ?), updated_at = ?"
            " WHERE id = ?",
            [new.seq, _iso(new.start), _iso(new.end), _ts(new.start), new.status.value,
             int(attention), _utc(now), old.id],
        )

    def _event_id(self, course_id: int, event: PlannedEvent) -> int:
        row = self.db.execute(
            "SELECT id FROM events WHERE course_id = ? AND kind = ? AND seq = ?",
            [course_id, event.kind, event.seq]).fetchone()
        return int(row[0])


def _uid_domain(events: Sequence[StoredEvent]) -> str:
    """The domain the course's event UIDs were made with, for the events a change adds."""
    return events[0].uid.rsplit("@", 1)[1] if events else DEFAULT_UID_DOMAIN
