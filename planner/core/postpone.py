"""Postponing the rest of a course: a pause, after which the rhythm starts again.

Pure: ``now`` is an argument.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

from planner.core.calendar import ClinicCalendar
from planner.core.course import Course, is_fixed
from planner.core.errors import PlanningError
from planner.core.model import Occupancy, PlannedEvent
from planner.core.placer import Placer
from planner.core.rebuild import (
    infusion_end,
    infusion_with_steps,
    rebuild,
    reflow,
    scheduled_infusions,
)
from planner.core.schedule import MOVE_LIMIT_DAYS


def postpone(
    course: Course,
    calendar: ClinicCalendar,
    days: int,
    now: datetime,
    *,
    occupancy: Occupancy | None = None,
    away: dict[date, str] | None = None,
) -> list[PlannedEvent]:
    """Shift the rest of the course by ``days``: the next infusion moves that far (to the
    nearest open day) and the ones after it follow the rhythm from there.

    The gap to infusions already given is not checked (a pause is the point), but a
    collection already taken must still be within its culture window of the first infusion.
    """
    if days < 1:
        raise PlanningError("postpone.days", f"must be a whole number >= 1, got {days}")
    placer = Placer(course.protocol, calendar, occupancy or Occupancy(), unavailable=away or {})
    scheduled = scheduled_infusions(course)
    remaining = [e for e in scheduled if not is_fixed(e, now)]
    if not remaining:
        raise PlanningError("postpone", "no infusion of this course is still ahead")
    given = tuple(e.start.date() for e in scheduled if is_fixed(e, now))
    target = remaining[0].start.date() + timedelta(days=days)
    for day in _nearest_days(target):
        new = _resumed_on(placer, course, remaining, day, given)
        if new is not None:
            return rebuild(placer, course, new, now, keep_dated_steps=False)
    raise placer.failure.error()


def _resumed_on(
    placer: Placer,
    course: Course,
    remaining: list[PlannedEvent],
    day: date,
    given: tuple[date, ...],
) -> dict[int, list[PlannedEvent]] | None:
    """The remaining infusions with their steps, the first on ``day`` and the others in
    rhythm after it; None when ``day`` is closed, away or full, or the others do not all fit
    (``placer.failure`` then says why)."""
    if not placer.calendar.is_open(day) or day in placer.unavailable:
        return None
    first = replace(remaining[0], start=_at_same_time(remaining[0].start, day))
    first = replace(first, end=infusion_end(course, first.start))
    if placer._free_slot(day, first.seq) is None:
        return None
    try:
        head = infusion_with_steps(placer, first)
    except PlanningError:
        return None
    new = {first.seq: head}
    new.update(reflow(placer, remaining[1:], day, first.seq, given, strict=False))
    return new if len(new) == len(remaining) else None


def _at_same_time(start: datetime, day: date) -> datetime:
    return datetime.combine(day, start.timetz())


def _nearest_days(target: date) -> list[date]:
    """``target``, then the days one, two … ``MOVE_LIMIT_DAYS`` after and before it."""
    days = [target]
    for distance in range(1, MOVE_LIMIT_DAYS + 1):
        days += [target + timedelta(days=distance), target - timedelta(days=distance)]
    return days
