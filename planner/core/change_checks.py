"""The refusals of a change to a course, checked before anything moves.

Each check raises ``PlanningError`` naming the setting or argument that refused the change
(``reschedule.to``, ``protocol.gap_days``, ``clinic.capacity`` …) and says why in the clinic's
words. Pure: ``now`` is an argument.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

from planner.core.calendar import ClinicCalendar
from planner.core.course import Course
from planner.core.errors import PlanningError
from planner.core.model import PlannedEvent, Protocol, Status, Step
from planner.core.placer import Placer


def movable_infusion(course: Course, seq: int, now: datetime) -> PlannedEvent:
    """Infusion ``seq``, refused when it was missed or cancelled or has already begun."""
    event = course.infusion(seq)
    if event.status is not Status.SCHEDULED:
        raise PlanningError("reschedule", f"infusion {seq} is {event.status.value}; it cannot move")
    if event.start <= now:
        raise PlanningError(
            "reschedule",
            f"infusion {seq} took place on {event.start:%Y-%m-%d %H:%M}; it cannot move",
        )
    return event


def _check_open_and_ahead(calendar: ClinicCalendar, start: datetime, now: datetime) -> date:
    """The day of ``start``, refusing a start in the past or on a closed day."""
    day = start.astimezone(calendar.tz).date()
    if start <= now:
        raise PlanningError("reschedule.to", f"{start:%Y-%m-%d %H:%M} is in the past")
    reason = calendar.closed_reason(day)
    if reason is not None:
        raise PlanningError("reschedule.to", f"{day:%Y-%m-%d} is closed: {reason}")
    return day


def check_infusion_start(placer: Placer, seq: int, start: datetime, now: datetime) -> None:
    """Refuse a start in the past, on a closed day, outside hours or in a full slot."""
    calendar = placer.calendar
    day = _check_open_and_ahead(calendar, start, now)
    if not placer.same_day_steps_fit(start):
        raise PlanningError(
            "reschedule.to",
            f"{start:%H:%M} is outside clinic hours ({calendar.hours_label}) for an infusion "
            f"of {placer.protocol.infusion_minutes} minutes and its blood test",
        )
    end = start + timedelta(minutes=placer.protocol.infusion_minutes)
    if placer.occupancy.chairs_in_use(day, start, end) >= calendar.clinic.infusion_chairs:
        raise PlanningError(
            "clinic.capacity", f"all infusion chairs are taken at {start:%Y-%m-%d %H:%M}"
        )
    if not placer.nurse_free(day, start):
        raise PlanningError(
            "clinic.infusion_starts_per_slot",
            f"{calendar.clinic.infusion_starts_per_slot} infusions already start in the "
            f"half hour of {start:%Y-%m-%d %H:%M}")


def check_gap(protocol: Protocol, previous: PlannedEvent, day: date, seq: int) -> None:
    """Refuse infusion ``seq`` on ``day`` outside the protocol's gap after ``previous``."""
    low, high = protocol.gap_days
    gap = (day - previous.start.date()).days
    if not low <= gap <= high:
        raise PlanningError(
            "protocol.gap_days",
            f"infusion {seq} on {day:%Y-%m-%d} would be {gap} days after infusion "
            f"{previous.seq} on {previous.start:%Y-%m-%d}; the protocol allows {low}–{high} "
            "(use postpone to pause the course)",
        )


def check_window(step: Step, done: PlannedEvent, anchor: PlannedEvent) -> None:
    """A step must sit inside its window of its infusion (a done collection included)."""
    low, high = step.window_days
    offset = (done.start.date() - anchor.start.date()).days
    if not low <= offset <= high:
        raise PlanningError(
            f"steps.{step.kind}.window_days",
            f"the {step.kind.replace('_', ' ')} on {done.start:%Y-%m-%d} would be "
            f"{offset:+d} days from infusion {anchor.seq} on {anchor.start:%Y-%m-%d}; "
            f"the window is {low:+d} to {high:+d} days",
        )


def check_step_start(placer: Placer, step: Step, start: datetime, now: datetime) -> None:
    """Refuse a dated step in the past, on a closed day, outside hours or with no room."""
    calendar = placer.calendar
    day = _check_open_and_ahead(calendar, start, now)
    if not calendar.within_hours(start, start + timedelta(minutes=step.minutes)):
        raise PlanningError(
            "reschedule.to", f"{start:%H:%M} + {step.minutes} minutes is outside clinic hours "
            f"({calendar.hours_label})")
    if placer.step_on(replace(step, time=start.timetz().replace(tzinfo=None)), day, 0) is None:
        raise PlanningError("clinic.capacity", f"no room left for another {step.kind} on {day}")
