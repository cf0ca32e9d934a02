"""A course as a change needs it, read in one call, and what the change writes back.

``Store.course_for_change`` reads a ``CourseForChange`` (the course's row, the protocol
snapshot it was planned with, its events, the bookings of other courses around the days the
change may move to, the patient's away days) inside the change's transaction;
``Store.write_change`` writes the new events with their reminders, notices, alerts and
audit row in that same transaction. Between the two the service asks only the pure core.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from planner.core.course import Course
from planner.core.model import Occupancy, PlannedEvent, Protocol, StoredEvent

OCCUPANCY_MARGIN = timedelta(days=60)
"""How far around a change's target day other courses' bookings are taken into account."""


@dataclass(frozen=True)
class CourseForChange:
    """One stored course with everything a change of it reads.

    ``event`` is the event the change names (a reschedule, a missed infusion), if any;
    ``occupancy`` holds other courses' bookings for the days read (empty for a change that
    places nothing, such as a cancellation).
    """

    id: int
    uid: str
    patient_id: int
    status: str
    protocol: Protocol
    events: tuple[StoredEvent, ...]
    event: StoredEvent | None
    occupancy: Occupancy
    away: dict[date, str]
    uid_domain: str

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"

    def state(self, tz: Any) -> Course:
        """The course with its events in the clinic's zone (so weekdays and DST are right)."""
        return Course(self.protocol, tuple(
            PlannedEvent(e.kind, e.seq, e.start.astimezone(tz), e.end.astimezone(tz), e.status)
            for e in self.events))

    def occupancy_near(self, day: date) -> Occupancy:
        """Other courses' bookings within ``OCCUPANCY_MARGIN`` of ``day`` (and the day
        beyond each end), exactly as ``Store.occupancy`` reads that window; the read may
        have covered more days, when the target day was only known after reading."""
        first = day - OCCUPANCY_MARGIN - timedelta(days=1)
        last = day + OCCUPANCY_MARGIN + timedelta(days=1)
        return Occupancy(
            {d: dict(booked) for d, booked in self.occupancy.infusions.items()
             if first <= d <= last},
            {d: count for d, count in self.occupancy.collections.items() if first <= d <= last})


@dataclass(frozen=True)
class ChangeRecord:
    """What the course row and the audit row say about a change."""

    action: str
    actor: str
    now: datetime
    reason: str | None = None
    course_status: str | None = None
    """A new status for the course (``cancelled``); its reason is then the course's."""


@dataclass(frozen=True)
class StaffAlert:
    """An alert for staff queued with the change: the lab flagged, a make-up that did not
    fit."""

    roles: tuple[str, ...]
    detail: dict[str, Any]
    kind: str = "lab_notice"
    event_id: int | None = None
