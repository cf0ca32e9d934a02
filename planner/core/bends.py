"""Which rules a course bends over a closure, read off its events.

A protocol may let a gap between infusions stretch past ``gap_days`` when a closure (a
public holiday, the year-end closure, a closed date) lies inside it, and a dated step of
each infusion (the cell delivery) take its ``same_day_time`` on the infusion's morning
when its window is closed. ``find_bends`` lists every such bend of a course, from the
events alone, so a plan and a changed course are described the same way. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from planner.core.calendar import ClinicCalendar
from planner.core.model import INFUSION, Anchor, Bend, PlannedEvent, Protocol, Status

_LIVE = (Status.SCHEDULED, Status.DONE)


def find_bends(
    protocol: Protocol, calendar: ClinicCalendar, events: Iterable[PlannedEvent]
) -> tuple[Bend, ...]:
    """Every bend in ``events``: stretched gaps, then steps outside their window.

    A gap next to a missed infusion is not a bend: the plan did not choose it."""
    events = list(events)
    live = [e for e in events if e.status in _LIVE]
    given = [e for e in events if e.status is not Status.CANCELLED]
    return (*_gap_bends(protocol, calendar, given), *_step_bends(protocol, calendar, live))


def _gap_bends(
    protocol: Protocol, calendar: ClinicCalendar, events: list[PlannedEvent]
) -> list[Bend]:
    low, high = protocol.gap_days
    infusions = sorted((e for e in events if e.kind == INFUSION), key=lambda e: e.start)
    bends = []
    for before, after in zip(infusions, infusions[1:], strict=False):
        if Status.MISSED in (before.status, after.status):
            continue  # a gap opened by a miss is the miss, not a bend of the plan
        first, last = before.start.date(), after.start.date()
        gap = (last - first).days
        if gap <= high:
            continue
        closure = calendar.closures_between(first + timedelta(days=1), last - timedelta(days=1))
        bends.append(Bend(
            "protocol.gap_days", (f"infusion {before.seq}", f"infusion {after.seq}"), gap - high,
            f"{gap} days from infusion {before.seq} on {first:%Y-%m-%d} to infusion "
            f"{after.seq} on {last:%Y-%m-%d}; the rule is {low}–{high} days",
            calendar.describe_closure(closure),
        ))
    return bends


def _step_bends(
    protocol: Protocol, calendar: ClinicCalendar, events: list[PlannedEvent]
) -> list[Bend]:
    days = {e.seq: e.start.date() for e in events if e.kind == INFUSION}
    bends = []
    for step in protocol.steps:
        if step.anchor is not Anchor.EACH or step.time is None:
            continue
        low, high = step.window_days
        for event in (e for e in events if e.kind == step.kind and e.seq in days):
            anchor = days[event.seq]
            offset = (event.start.date() - anchor).days
            if low <= offset <= high:
                continue
            by = offset - high if offset > high else low - offset
            bends.append(Bend(
                f"steps.{step.kind}.window_days", (f"{step.kind} {event.seq}",), by,
                f"{step.kind.replace('_', ' ')} {event.seq} at {event.start:%Y-%m-%d %H:%M}, "
                f"{offset:+d} days from infusion {event.seq}; the window is "
                f"{low:+d} to {high:+d} days",
                calendar.describe_closure(_window_closures(calendar, anchor, low, high)),
            ))
    return bends


def _window_closures(calendar: ClinicCalendar, anchor: date, low: int, high: int) -> list[date]:
    return calendar.closures_between(anchor + timedelta(days=low), anchor + timedelta(days=high))
