"""Plan a course from either end: dates in, events out.

``plan_course`` places the infusions on the protocol's preferred weekday pair (Mon/Thu,
Tue/Fri, Wed/Sat), keeps every gap between consecutive infusions inside the protocol's
range, and hangs the anchored steps (collection, blood tests, cell deliveries, follow-up)
on them. When a preferred day is closed or full, the nearest day that keeps every rule
wins (a later day wins a tie). When nothing fits, ``PlanningError`` names the rule, the
date and the reason and suggests the nearest start that would work.

The search itself lives in ``planner.placer``. Same inputs, same plan: there is no
randomness and candidates are always tried in the same order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial

from planner.calendar import ClinicCalendar
from planner.errors import PlanningError
from planner.model import INFUSION, Anchor, Occupancy, PlannedEvent, Protocol, Step
from planner.placer import Failure, Placer, day_span, later_first

MOVE_LIMIT_DAYS = 3
SUGGEST_LIMIT_DAYS = 120


@dataclass(frozen=True)
class Plan:
    """The events of one course, in time order, and notes on what had to move."""

    events: tuple[PlannedEvent, ...]
    notes: tuple[str, ...] = ()

    def infusions(self) -> list[PlannedEvent]:
        return [e for e in self.events if e.kind == INFUSION]


def _collection_step(protocol: Protocol) -> Step:
    for step in protocol.steps:
        if step.kind == "collection" and step.anchor is Anchor.FIRST and step.time is not None:
            return step
    raise PlanningError(
        f"protocol.{protocol.name}.steps.collection",
        "this protocol has no collection step anchored to the first infusion, "
        "so it cannot be planned from a collection date",
    )


def _closed_text(what: str, day: date, reason: str) -> str:
    return f"{what} on {day:%Y-%m-%d}: {reason}"


def _moved_note(what: str, wanted: date, got: date, calendar: ClinicCalendar) -> str:
    reason = calendar.closed_reason(wanted) or "no room that day"
    return f"{what} moved from {wanted:%Y-%m-%d} ({reason}) to {got:%Y-%m-%d}"


_Attempt = tuple[list[PlannedEvent] | None, list[str], Failure]


def _plan_first(placer: Placer, first: date) -> _Attempt:
    calendar = placer.calendar
    reach = timedelta(days=MOVE_LIMIT_DAYS)
    window = day_span(first - reach, first + reach)
    if calendar.is_open(first):
        window = [first]
    for day in later_first(first, window):
        events = placer.course_from(day)
        if events is not None:
            notes = [] if day == first else [_moved_note("first infusion", first, day, calendar)]
            return events, notes, placer.failure
    return None, [], placer.failure


def _plan_collection(placer: Placer, collection: date) -> _Attempt:
    calendar = placer.calendar
    step = _collection_step(placer.protocol)
    days = [collection]
    if not calendar.is_open(collection):
        days = later_first(
            collection,
            day_span(collection - timedelta(days=MOVE_LIMIT_DAYS),
                  collection + timedelta(days=MOVE_LIMIT_DAYS)),
        )
    for day in days:
        placed = placer.step_on(step, day, 1)
        if placed is None:
            reason = calendar.closed_reason(day) or "no room left for another collection"
            placer.failure.record(0, "clinic.calendar",
                                  partial(_closed_text, "collection", day, reason))
            continue
        low, high = step.window_days
        firsts = day_span(day - timedelta(days=high), day - timedelta(days=low))
        for first in later_first(day - timedelta(days=step.offset_days), firsts):
            events = placer.course_from(first, fixed={step.kind: placed})
            if events is not None:
                notes = [] if day == collection else [
                    _moved_note("collection", collection, day, calendar)
                ]
                return events, notes, placer.failure
    return None, [], placer.failure


def plan_course(
    protocol: Protocol,
    calendar: ClinicCalendar,
    *,
    first_infusion: date | None = None,
    collection: date | None = None,
    occupancy: Occupancy | None = None,
) -> Plan:
    """Plan a whole course from its first infusion or from its collection date.

    Exactly one of ``first_infusion`` and ``collection`` is given. A start on a closed
    day moves to the nearest open day within three days (noted in ``Plan.notes``); a start
    that cannot be kept raises ``PlanningError`` with the nearest start that would work.
    """
    if (first_infusion is None) == (collection is None):
        raise PlanningError("plan", "give exactly one of the first infusion or the collection date")
    occupancy = occupancy or Occupancy()
    start = first_infusion if first_infusion is not None else collection
    assert start is not None
    attempt = _plan_first if first_infusion is not None else _plan_collection
    placer = Placer(protocol, calendar, occupancy)
    events, notes, failure = attempt(placer, start)
    if events is not None:
        return Plan(tuple(events), tuple(notes))
    what = "first infusion" if first_infusion is not None else "collection"
    raise failure.error(_suggest(attempt, placer, start, what))


def _suggest(
    attempt: Callable[[Placer, date], _Attempt], placer: Placer, start: date, what: str
) -> str | None:
    """The nearest start (a later one wins a tie) from which the whole course fits.

    The placer is shared between attempts: a dead end found once (an infusion that cannot
    follow a given week) is a dead end for every start, so the search stays fast.
    """
    placer.failure = Failure()
    for distance in range(1, SUGGEST_LIMIT_DAYS + 1):
        for day in (start + timedelta(days=distance), start - timedelta(days=distance)):
            if not placer.calendar.is_open(day):
                continue
            events, _, _ = attempt(placer, day)
            if events is not None:
                return f"the nearest {what} that works is {day:%Y-%m-%d} ({day:%a})"
    return None
