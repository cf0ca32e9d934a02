"""Changing a stored course: move an event, record a missed infusion, postpone, cancel.

Each change is one read, the core, one write, in one immediate transaction: the store
hands over the course as the change needs it (``Store.course_for_change``), the pure core
computes the new events, the culture lab's notice window is checked, and the store writes
the result with its reminders, notices, alerts and audit row (``Store.write_change``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from planner.core.bends import find_bends
from planner.core.course import Course, is_fixed, lab_notice_changes, slot_key
from planner.core.errors import InputError, NoticeWindowError, PlanningError
from planner.core.limits import MAX_POSTPONE_DAYS
from planner.core.makeup import record_missed
from planner.core.model import INFUSION, PlannedEvent, Status
from planner.core.reschedule import cancel, move_infusion, move_step, postpone
from planner.service.base import PlannerBase, read_and_write
from planner.store.aggregate import ChangeRecord, CourseForChange, StaffAlert

LabChanges = list[tuple[PlannedEvent | None, PlannedEvent]]


@dataclass(frozen=True)
class Change:
    """What a change did: the events it touched and those flagged for the lab."""

    course_id: int
    changed: list[int]
    lab_attention: list[str]
    warning: str | None = None


class Changes(PlannerBase):
    """The changes staff make to a planned course."""

    @read_and_write
    def reschedule(self, event_id: int, to: date | datetime, *, only: bool = False,
                   force: bool = False) -> Change:
        """Move an event; a date without a time keeps the event's time of day."""
        day = to.date() if isinstance(to, datetime) else to
        course = self.store.course_for_change(event_id=event_id, near=(day, day), tz=self.tz)
        event = course.event
        assert event is not None
        _check_active(course)
        before, now = course.state(self.tz), self.now()
        start = to if isinstance(to, datetime) else self.at(
            to, event.start.astimezone(self.tz).time())
        occupancy = course.occupancy_near(start.date())
        if event.kind == INFUSION:
            new = move_infusion(before, self.calendar, event.seq, start, now, only=only,
                                occupancy=occupancy, away=course.away)
        else:
            new = move_step(before, self.calendar, event.kind, event.seq, start, now,
                            occupancy=occupancy)
        return self._write(course, before, new, now, "event.reschedule", force=force,
                           reason=f"event {event_id} to {start.isoformat()}")

    @read_and_write
    def missed(self, event_id: int, *, makeup: bool = True) -> Change:
        """Mark an infusion missed; never refused because a make-up does not fit (the miss
        is recorded without one and staff get an alert saying why). The lab is flagged."""
        course = self.store.course_for_change(event_id=event_id, near_event=True, tz=self.tz)
        event = course.event
        assert event is not None
        if event.kind != INFUSION:
            raise InputError(f"EVENT_ID: event {event_id} is a {event.kind}; only infusions "
                             "can be marked missed")
        _check_active(course)
        before, now = course.state(self.tz), self.now()
        result = record_missed(before, self.calendar, event.seq, now, makeup=makeup,
                               occupancy=course.occupancy_near(event.start.date()),
                               away=course.away)
        why = result.no_makeup_reason
        alerts = () if why is None else (StaffAlert(
            ("nurse", "doctor", "lab"),
            {"action": "event.missed", "reason": why}, kind="no_makeup", event_id=event_id),)
        change = self._write(course, before, result.events, now, "event.missed", force=True,
                             reason=f"infusion {event.seq} missed"
                             + ("" if makeup and not why else ", no make-up"), alerts=alerts)
        return change if why is None else replace(change, warning=why)

    @read_and_write
    def postpone(self, course_id: int, *, days: int | None = None, to: date | None = None,
                 force: bool = False) -> Change:
        """Shift the rest of a course by ``days``, or so that its next infusion is on ``to``."""
        now = self.now()
        course = self.store.course_for_change(course_id, near=_postpone_days(now, days, to),
                                              tz=self.tz)
        _check_active(course)
        before = course.state(self.tz)
        if to is not None:
            days = _days_to(before, to, now)
        assert days is not None
        occupancy = course.occupancy_near(now.date() + timedelta(days=days))
        new = postpone(before, self.calendar, days, now, occupancy=occupancy, away=course.away)
        return self._write(course, before, new, now, "course.postpone", force=force,
                           reason=f"postponed by {days} days")

    @read_and_write
    def cancel(self, course_id: int, reason: str, *, force: bool = False) -> Change:
        course = self.store.course_for_change(course_id)
        _check_active(course)
        before, now = course.state(self.tz), self.now()
        new = cancel(before, now)
        return self._write(course, before, new, now, "course.cancel", force=force,
                           reason=reason, course_status="cancelled")

    def _write(self, course: CourseForChange, before: Course, new: list[PlannedEvent],
               now: datetime, action: str, *, force: bool, reason: str,
               course_status: str | None = None, alerts: Sequence[StaffAlert] = ()) -> Change:
        """Check the lab's notice window, then write the change with the lab flagged."""
        inside = self._inside_lab_notice(before, new, now, force)
        keys = {slot_key(before.protocol, new_event) for _, new_event in inside}
        lab = [StaffAlert(("lab", "nurse"), {
            "changes": [_describe(old, new_event) for old, new_event in inside],
            "items": [_notice_item(old, new_event) for old, new_event in inside],
            "action": action, "reason": reason})] if inside else []
        changed = self.store.write_change(
            course, new, ChangeRecord(action, self.actor, now, reason, course_status),
            settings=self.settings, bends=find_bends(before.protocol, self.calendar, new),
            lab_attention=keys, alerts=[*lab, *alerts])
        return Change(course.id, changed, sorted(f"{k} {s}" for k, s in keys))

    def _inside_lab_notice(self, before: Course, new: list[PlannedEvent], now: datetime,
                           force: bool) -> LabChanges:
        """The changes inside the culture lab's notice window; refused unless forced."""
        notice = self.settings.clinic.lab_notice_days
        inside = lab_notice_changes(before.events, new, before.protocol, now, notice)
        if inside and not force:
            first = inside[0][1]
            raise NoticeWindowError(
                f"this change reaches inside the culture lab's notice window ({notice} days): "
                f"{_describe(inside[0][0], first)}"
                + (f" and {len(inside) - 1} more" if len(inside) > 1 else "")
                + "; run again with --force to make it anyway (the lab will be flagged)")
        return inside


def _check_active(course: CourseForChange) -> None:
    if course.cancelled:
        raise InputError(f"course {course.id} is cancelled; plan a new course instead")


def _postpone_days(now: datetime, days: int | None, to: date | None) -> tuple[date, date]:
    """The days a postponement can centre on, before the course is read: ``days`` after
    today, or (to a date) from tomorrow to that date, since the next infusion is ahead."""
    today = now.date()
    if to is None:
        return (today + timedelta(days=days or 0),) * 2
    tomorrow = today + timedelta(days=1)
    return tomorrow, max(tomorrow, to)


def _days_to(course: Course, to: date, now: datetime) -> int:
    """How many days a postponement moves the next infusion so that it falls on ``to``."""
    ahead = [e for e in course.events if e.kind == INFUSION
             and e.status is Status.SCHEDULED and not is_fixed(e, now)]
    if not ahead:
        raise PlanningError("postpone", "no infusion of this course is still ahead")
    next_infusion = min(ahead, key=lambda e: e.start)
    days = (to - next_infusion.start.date()).days
    if days < 1:
        raise InputError(f"--to: {to:%Y-%m-%d} is not after the next infusion on "
                         f"{next_infusion.start:%Y-%m-%d}")
    if days > MAX_POSTPONE_DAYS:
        raise InputError(f"--to: {to:%Y-%m-%d} is more than {MAX_POSTPONE_DAYS} days "
                         f"after the next infusion on {next_infusion.start:%Y-%m-%d}")
    return days


def _describe(old: PlannedEvent | None, new: PlannedEvent) -> str:
    what = f"{new.kind.replace('_', ' ')} {new.seq}"
    if old is None:
        return f"{what} added on {new.start:%Y-%m-%d %H:%M}"
    if new.status is not Status.SCHEDULED:
        return f"{what} on {old.start:%Y-%m-%d %H:%M} becomes {new.status.value}"
    return f"{what} moves from {old.start:%Y-%m-%d %H:%M} to {new.start:%Y-%m-%d %H:%M}"


def _notice_item(old: PlannedEvent | None, new: PlannedEvent) -> dict[str, Any]:
    """One change for the lab as data, so each reader gets it in their own language."""
    return {"kind": new.kind, "seq": new.seq, "status": new.status.value,
            "before": old.start.isoformat() if old is not None else None,
            "after": new.start.isoformat(),
            "was_scheduled": old is None or old.status is Status.SCHEDULED}
