"""Plan a course from either end: dates in, events out.

``plan_course`` places the infusions on the protocol's preferred weekday pair (Mon/Thu,
Tue/Fri, Wed/Sat), keeps every gap between consecutive infusions inside the protocol's
range, and hangs the anchored steps (collection, blood tests, cell deliveries, follow-up)
on them. When a preferred day is closed or full, the nearest day that keeps every rule
wins (a later day wins a tie). When nothing fits, ``PlanningError`` names the rule, the
date and the reason and suggests the nearest start that would work.

The search itself lives in ``planner.core.placer``. Same inputs, same plan: there is no
randomness and candidates are always tried in the same order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial

from planner.core.bends import find_bends
from planner.core.calendar import ClinicCalendar
from planner.core.errors import PlanningError
from planner.core.model import INFUSION, Anchor, Bend, Occupancy, PlannedEvent, Protocol, Step
from planner.core.placer import Budget, Failure, Placer, budgets, day_span, later_first

MOVE_LIMIT_DAYS = 3
SUGGEST_LIMIT_DAYS = 120


@dataclass(frozen=True)
class Plan:
    """The events of one course, in time order, and notes on what had to move."""

    events: tuple[PlannedEvent, ...]
    notes: tuple[str, ...] = ()
    exceptions: tuple[Bend, ...] = ()

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
    """The course from ``first`` (or the nearest open day within three days when it is
    closed), bending nothing if any of those days allows it, else as little as it must."""
    for budget in budgets(placer.protocol):
        attempt = _plan_first_within(placer, first, budget)
        if attempt[0] is not None:
            return attempt
    return None, [], placer.failure


def _plan_first_within(placer: Placer, first: date, budget: Budget) -> _Attempt:
    calendar = placer.calendar
    reach = timedelta(days=MOVE_LIMIT_DAYS)
    window = day_span(first - reach, first + reach)
    if calendar.is_open(first):
        window = [first]
    for day in later_first(first, window):
        events = placer.course_from(day, budget=budget)
        if events is not None:
            notes = [] if day == first else [_moved_note("first infusion", first, day, calendar)]
            return events, notes, placer.failure
    return None, [], placer.failure


def _plan_collection(placer: Placer, collection: date) -> _Attempt:
    """The course from the collection on ``collection``, bending as little as it must."""
    for budget in budgets(placer.protocol):
        attempt = _plan_collection_within(placer, collection, budget)
        if attempt[0] is not None:
            return attempt
    return None, [], placer.failure


def _plan_collection_within(placer: Placer, collection: date, budget: Budget) -> _Attempt:
    calendar = placer.calendar
    step = _collection_step(placer.protocol)
    days = [collection]
    if not calendar.is_open(collection) and not placer.collected:
        days = later_first(
            collection,
            day_span(collection - timedelta(days=MOVE_LIMIT_DAYS),
                  collection + timedelta(days=MOVE_LIMIT_DAYS)),
        )
    for day in days:
        placed = _done_collection(placer, step, day) if placer.collected else placer.step_on(
            step, day, 1)
        if placed is None:
            reason = calendar.closed_reason(day) or "no room left for another collection"
            placer.failure.record(0, "clinic.calendar",
                                  partial(_closed_text, "collection", day, reason))
            continue
        low, high = step.window_days
        firsts = day_span(day - timedelta(days=high), day - timedelta(days=low))
        for first in later_first(day - timedelta(days=step.offset_days), firsts):
            events = placer.course_from(first, fixed={step.kind: placed}, budget=budget)
            if events is not None:
                notes = [] if day == collection else [
                    _moved_note("collection", collection, day, calendar)
                ]
                return events, notes, placer.failure
    return None, [], placer.failure


def _done_collection(placer: Placer, step: Step, day: date) -> PlannedEvent:
    """The collection that already happened on ``day``, at the protocol's time: it is
    kept as it was, whatever the calendar or capacity say now."""
    assert step.time is not None
    start = placer.calendar.at(day, step.time)
    return PlannedEvent(step.kind, 1, start, start + timedelta(minutes=step.minutes))


def plan_course(
    protocol: Protocol,
    calendar: ClinicCalendar,
    *,
    first_infusion: date | None = None,
    collection: date | None = None,
    occupancy: Occupancy | None = None,
    now: datetime | None = None,
    collected: bool = False,
    away: dict[date, str] | None = None,
) -> Plan:
    """Plan a whole course from its first infusion or from its collection date.

    Exactly one of ``first_infusion`` and ``collection`` is given. A start on a closed
    day moves to the nearest open day within three days (noted in ``Plan.notes``); a start
    that cannot be kept raises ``PlanningError`` with the nearest start that works in each
    direction (only later ones when planning from the collection).

    With ``now``, a plan with an event before it is refused naming that event, unless
    ``collected`` says the collection on ``collection`` already happened: it is then kept
    on exactly that day and the rest is planned from it. ``away`` holds days the patient
    cannot come (with why): avoided like closures by everything the patient attends.
    """
    if (first_infusion is None) == (collection is None):
        raise PlanningError("plan", "give exactly one of the first infusion or the collection date")
    if collected and collection is None:
        raise PlanningError("plan", "--collected needs the collection date")
    start = first_infusion if first_infusion is not None else collection
    assert start is not None
    attempt = _plan_first if first_infusion is not None else _plan_collection
    placer = Placer(protocol, calendar, occupancy or Occupancy(), collected=collected,
                    unavailable=away or {})
    events, notes, failure = attempt(placer, start)
    what = "first infusion" if first_infusion is not None else "collection"
    if events is not None:
        past = _first_in_past(events, now, collected)
        if past is None:
            return Plan(tuple(events), tuple(notes), find_bends(protocol, calendar, events))
        failure = _past_failure(past, now)
    raise failure.error(_suggest(attempt, placer, start, what, now, collected), calendar)


def _first_in_past(
    events: list[PlannedEvent], now: datetime | None, collected: bool
) -> PlannedEvent | None:
    """The first event that would start before ``now`` (a collection already done aside)."""
    if now is None:
        return None
    for event in events:
        if event.start < now and not (collected and event.kind == "collection"):
            return event
    return None


def _past_failure(event: PlannedEvent, now: datetime | None) -> Failure:
    assert now is not None
    failure = Failure()
    what = "infusion" if event.kind == INFUSION else event.kind.replace("_", " ")
    number = f" {event.seq}" if event.kind in (INFUSION, "blood_test", "cell_delivery") else ""
    hint = (" (if the collection already happened, give --collected DATE)"
            if event.kind == "collection" else "")
    failure.record(0, "plan.past", lambda: f"the {what}{number} on {event.start:%Y-%m-%d %H:%M} "
                   f"would be in the past (now {now:%Y-%m-%d %H:%M}){hint}")
    return failure


def _suggest(
    attempt: Callable[[Placer, date], _Attempt], placer: Placer, start: date, what: str,
    now: datetime | None = None, collected: bool = False,
) -> str | None:
    """The nearest start from which the whole course fits, in each direction.

    Planning from the collection looks only later (the cells are not ready sooner), and
    a start with an event before ``now`` is never offered. The placer is shared between
    attempts: a dead end found once is a dead end for every start, so the search is fast.
    """
    placer.failure = Failure()
    found: dict[str, date] = {}
    directions = {"later": 1} if what == "collection" else {"later": 1, "earlier": -1}
    for distance in range(1, SUGGEST_LIMIT_DAYS + 1):
        for name, sign in directions.items():
            day = start + timedelta(days=sign * distance)
            if name in found or not placer.calendar.is_open(day):
                continue
            events, _, _ = attempt(placer, day)
            if events is not None and _first_in_past(events, now, collected) is None:
                found[name] = day
        if len(found) == len(directions):
            break
    return _suggestion_text(what, found)


def _suggestion_text(what: str, found: dict[str, date]) -> str | None:
    if not found:
        return None
    order = sorted(found.values(), key=lambda d: d)
    if len(order) == 1:
        return f"the nearest {what} that works is {order[0]:%Y-%m-%d} ({order[0]:%a})"
    earlier, later = order
    return (f"the nearest {what} that works is {earlier:%Y-%m-%d} ({earlier:%a}) before, "
            f"or {later:%Y-%m-%d} ({later:%a}) after")
