"""A planned course as the rows the store writes: its events and their reminders.

Pure, so a large batch can prepare its rows in the planning worker (``planner.batch``)
and send the writer plain tuples, which are cheap to pass between processes; the
writer only adds ids and UIDs and inserts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from planner.core.course import once_per_course
from planner.core.model import Bend, PlannedEvent, Protocol
from planner.core.reminders import ReminderPolicy, reminders_for

if TYPE_CHECKING:  # the planner itself is not loaded by commands that only read
    from planner.core.schedule import Plan

# (kind, seq, local start ISO, local end ISO, start unix seconds, status, UID suffix)
EventRow = tuple[str, int, str, str, int, str, str]
# (index of its event in the course's rows, rule, audience, due, expires: unix seconds)
ReminderRow = tuple[int, str, str, int, int]


@dataclass(frozen=True)
class NewCourse:
    """A planned course to store."""

    patient_id: int
    protocol: Protocol
    plan: Plan
    planned_from: str
    start: date


@dataclass(frozen=True)
class PreparedCourse:
    """A course ready to insert; ``plan`` is left out when it crossed processes."""

    patient_id: int
    protocol: Protocol
    planned_from: str
    start: date
    notes: tuple[str, ...]
    events: list[EventRow]
    reminders: list[ReminderRow]
    plan: Plan | None = None
    exceptions: tuple[Bend, ...] = ()


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def unix(moment: datetime) -> int:
    return int(moment.timestamp())


def event_row(protocol: Protocol, event: PlannedEvent) -> EventRow:
    """An event's row; a step that exists once per course is named without its number,
    so its UID stays the same when it follows another infusion."""
    suffix = event.kind if event.kind in once_per_course(protocol) else f"{event.kind}-{event.seq}"
    return (event.kind, event.seq, iso(event.start), iso(event.end), unix(event.start),
            event.status.value, suffix)


def prepare_course(new: NewCourse, policy: ReminderPolicy | None, timezone: str, now: datetime,
            *, keep_plan: bool = True) -> PreparedCourse:
    """The rows of a new course; reminders already too late at ``now`` are left out."""
    events = new.plan.events
    reminders: list[ReminderRow] = []
    if policy is not None:
        moment = now.astimezone(UTC)
        for index, event in enumerate(events):
            audience = new.protocol.audience_of(event.kind)
            reminders += [(index, due.rule, due.audience, unix(due.due), unix(due.expires))
                          for due in reminders_for(event, audience, policy, timezone)
                          if due.expires > moment]
    return PreparedCourse(new.patient_id, new.protocol, new.planned_from, new.start,
                          new.plan.notes, [event_row(new.protocol, e) for e in events],
                          reminders, new.plan if keep_plan else None, new.plan.exceptions)
