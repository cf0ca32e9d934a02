"""A missed infusion and its make-up: the miss is always recorded; the make-up goes after
the last live infusion when a day keeps every rule (bending only what the protocol allows
over a closure), never on the missed day and never before "now".

When no make-up fits, the miss is recorded without one and the reason is returned, for
staff to hear (an alert naming ``--no-makeup`` and ``reschedule``). The make-up keeps the
course's planned count: it is numbered after the other infusions, and the number people
read (``live_number``) leaves the missed one out, so the patient reads "8 of 8". Pure:
``now`` is an argument.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from planner.core.bends import find_bends
from planner.core.calendar import ClinicCalendar
from planner.core.course import Course, is_fixed
from planner.core.errors import PlanningError
from planner.core.model import INFUSION, Anchor, Occupancy, PlannedEvent, Status
from planner.core.placer import Budget, Placer
from planner.core.rebuild import rebuild


@dataclass(frozen=True)
class Missed:
    """The course after a miss, and why no make-up was added (None when one was, or
    when none was asked for)."""

    events: list[PlannedEvent]
    no_makeup_reason: str | None = None


def record_missed(
    course: Course,
    calendar: ClinicCalendar,
    seq: int,
    now: datetime,
    *,
    makeup: bool = True,
    occupancy: Occupancy | None = None,
    away: dict[date, str] | None = None,
) -> Missed:
    """Mark infusion ``seq`` missed and, unless ``makeup`` is False, add a make-up.

    Refused only when the infusion is not scheduled or its day has not come yet (then
    ``reschedule`` or ``cancel`` are the tools). Steps of the missed infusion still ahead
    are cancelled (no cells to deliver, no blood test to take).
    """
    missed = course.infusion(seq)
    if missed.status is not Status.SCHEDULED:
        raise PlanningError("missed", f"infusion {seq} is already {missed.status.value}")
    if missed.start.date() > now.date():
        raise PlanningError("missed", f"infusion {seq} is on {missed.start:%Y-%m-%d} and that "
                            "day has not come yet; use reschedule or cancel to change it")
    course = _with_miss(course, missed, now)
    unavailable = {**(away or {}), missed.start.date(): f"infusion {seq} was missed that day"}
    placer = Placer(course.protocol, calendar, occupancy or Occupancy(), not_before=now,
                    unavailable=unavailable)
    # A missed first infusion leaves the done collection further from the next one than
    # its window: the miss happened all the same, so that is not checked here.
    if not makeup:
        return Missed(rebuild(placer, course, {}, now, check_done=False))
    try:
        added = _makeup(placer, course)
        return Missed(rebuild(placer, course, {added[0].seq: added}, now, check_done=False))
    except PlanningError as error:
        reason = (f"no make-up for infusion {seq} fits ({error}); the miss is recorded without "
                  "one: add it by hand with reschedule, or record misses with --no-makeup")
        return Missed(rebuild(placer, course, {}, now, check_done=False), reason)


def _with_miss(course: Course, missed: PlannedEvent, now: datetime) -> Course:
    protocol = course.protocol
    each = {s.kind for s in protocol.steps if s.anchor is Anchor.EACH}
    events = [
        replace(e, status=Status.MISSED) if e is missed
        else replace(e, status=Status.CANCELLED)
        if e.seq == missed.seq and e.kind in each and not is_fixed(e, now)
        else e
        for e in course.events
    ]
    return Course(protocol, tuple(events))


def _makeup(placer: Placer, course: Course) -> list[PlannedEvent]:
    """The make-up infusion and its steps after the last live infusion, bending nothing
    if it can, else as little as the course's remaining allowance lets it."""
    protocol = course.protocol
    live = sorted((e for e in course.events if e.kind == INFUSION
                   and e.status is Status.SCHEDULED), key=lambda e: e.start)
    if not live:
        raise PlanningError("missed", "no infusion is left to follow with a make-up session")
    last = live[-1]
    new_seq = max(e.seq for e in course.events if e.kind == INFUSION) + 1
    week = tuple(e.start.date() for e in live[:-1])
    ideal = placer.ideal_days(last.start.date(), new_seq - 1, new_seq)
    used = find_bends(protocol, placer.calendar, course.events)
    gaps_used = sum(1 for b in used if b.rule == "protocol.gap_days")
    for total in range(max(protocol.bends_per_course - len(used), 0) + 1):
        budget = Budget(total, max(min(total, protocol.closure_gaps_per_course - gaps_used), 0))
        placed = placer.series(new_seq, last.start.date(), ideal, new_seq, week, budget)
        if placed is not None:
            return placed
    raise placer.failure.error(calendar=placer.calendar)


def live_number(seq: int, missed_seqs: list[int]) -> int:
    """The number people read for infusion ``seq`` (and its steps): missed infusions
    before it do not count, so a make-up after a miss is "infusion 8 of 8"."""
    return seq - sum(1 for m in missed_seqs if m < seq)
