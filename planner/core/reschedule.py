"""Change a planned course: move an infusion or a dated step, mark one missed, postpone,
cancel.

Each function takes the course as it is (its protocol and events with their states)
and returns the whole course as it should be; the store compares the two and writes the
difference in one transaction. Events that are over, missed or cancelled never move:
"what has happened stays". Anchored steps follow their infusion. Nothing here reads the
clock: ``now`` is an argument.

The refusals live in ``change_checks``, the re-placing of a changed course in ``rebuild``,
the pause of a course in ``postpone`` (importable from here as before).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

from planner.core.calendar import ClinicCalendar
from planner.core.change_checks import (
    check_gap,
    check_infusion_start,
    check_step_start,
    check_window,
    movable_infusion,
)
from planner.core.course import Course, effective_status, is_fixed
from planner.core.errors import PlanningError
from planner.core.makeup import record_missed
from planner.core.model import Occupancy, PlannedEvent, Status, Step
from planner.core.placer import Placer, sort_events
from planner.core.postpone import postpone
from planner.core.rebuild import (
    infusion_end,
    infusion_with_steps,
    rebuild,
    reflow,
    scheduled_infusions,
)

__all__ = ["cancel", "mark_missed", "move_infusion", "move_step", "postpone"]


def move_infusion(
    course: Course,
    calendar: ClinicCalendar,
    seq: int,
    to: datetime,
    now: datetime,
    *,
    only: bool = False,
    occupancy: Occupancy | None = None,
    away: dict[date, str] | None = None,
) -> list[PlannedEvent]:
    """Move infusion ``seq`` to ``to``; the following ones shift to keep the rhythm.

    With ``only`` the others stay and the move must keep the gap rule on both sides.
    Refused (``PlanningError``) onto a closed day or one the patient is ``away``, outside
    hours, into a full slot, into the past, or further than the gap rule allows from the
    previous infusion. The following infusions avoid ``away`` days too.
    """
    placer = Placer(course.protocol, calendar, occupancy or Occupancy(), unavailable=away or {})
    moving = movable_infusion(course, seq, now)
    check_infusion_start(placer, seq, to, now)
    if to.date() in placer.unavailable:
        raise PlanningError("reschedule.to", f"{to:%Y-%m-%d}: {placer.unavailable[to.date()]}")
    scheduled = scheduled_infusions(course)
    before = [e for e in scheduled if e.start < moving.start and e.seq != seq]
    after = [e for e in scheduled if e.start > moving.start and e.seq != seq]
    week = _checked_week(placer, moving, to, before, after if only else [])
    moved = infusion_with_steps(placer, replace(moving, start=to, end=infusion_end(course, to)))
    new = {seq: moved}
    if not only and after:
        new.update(reflow(placer, after, to.date(), seq, week))
    return rebuild(placer, course, new, now)


def _checked_week(
    placer: Placer,
    moving: PlannedEvent,
    to: datetime,
    before: list[PlannedEvent],
    staying_after: list[PlannedEvent],
) -> tuple[date, ...]:
    """The infusion days around the moved one (for the weekly count), refusing a move that
    breaks the gap to the infusion before it, to the one after it that stays (a move with
    ``only``), or the weekly rhythm."""
    protocol = placer.protocol
    if before:
        check_gap(protocol, before[-1], to.date(), moving.seq)
    week = tuple(e.start.date() for e in before)
    if staying_after:
        following = staying_after[0]
        check_gap(protocol, replace(moving, start=to), following.start.date(), following.seq)
        week += tuple(e.start.date() for e in staying_after)
    if not placer._keeps_weekly_rhythm(to.date(), moving.seq, week):
        raise placer.failure.error()
    return week


def mark_missed(
    course: Course,
    calendar: ClinicCalendar,
    seq: int,
    now: datetime,
    *,
    makeup: bool = True,
    occupancy: Occupancy | None = None,
) -> list[PlannedEvent]:
    """Mark infusion ``seq`` missed, with a make-up after the last live infusion when one
    fits (see ``planner.core.makeup.record_missed``, which also says why none fitted)."""
    return record_missed(course, calendar, seq, now, makeup=makeup, occupancy=occupancy).events


def cancel(course: Course, now: datetime) -> list[PlannedEvent]:
    """Cancel every event still ahead; what has happened stays as it was."""
    return [
        e if is_fixed(e, now) else replace(e, status=Status.CANCELLED) for e in course.events
    ]


def move_step(
    course: Course,
    calendar: ClinicCalendar,
    kind: str,
    seq: int,
    to: datetime,
    now: datetime,
    *,
    occupancy: Occupancy | None = None,
) -> list[PlannedEvent]:
    """Move one dated step (a collection, a delivery, the follow-up) inside its window.

    Same-day steps such as the pre-infusion blood test move only with their infusion.
    """
    step, current = _movable_step(course, kind, seq, now)
    placer = Placer(course.protocol, calendar, occupancy or Occupancy())
    check_step_start(placer, step, to, now)
    anchor = course.infusion(seq)
    moved = replace(current, start=to, end=to + timedelta(minutes=step.minutes))
    check_window(step, moved, anchor)
    return sort_events([moved if e is current else e for e in course.events])


def _movable_step(
    course: Course, kind: str, seq: int, now: datetime
) -> tuple[Step, PlannedEvent]:
    """The step ``kind`` of infusion ``seq`` and its event, refused when the course has none,
    when it moves only with its infusion, or when it is over, missed or cancelled."""
    step = next((s for s in course.protocol.steps if s.kind == kind), None)
    current = next((e for e in course.events if e.kind == kind and e.seq == seq), None)
    if step is None or current is None:
        raise PlanningError("reschedule", f"this course has no {kind} {seq}")
    if step.time is None:
        raise PlanningError(
            "reschedule", f"the {kind.replace('_', ' ')} moves with infusion {seq}; "
            "reschedule the infusion instead")
    if is_fixed(current, now):
        raise PlanningError("reschedule", f"the {kind.replace('_', ' ')} is "
                            f"{effective_status(current, now).value}; it cannot move")
    return step, current
