"""Rebuilding a changed course: infusions re-placed in rhythm, their steps with them, and
the steps anchored to the first or last infusion derived again.

Shared by every change (move, postpone, a miss and its make-up). What has happened stays:
an event that is over, missed or cancelled is kept as it is. Pure: ``now`` is an argument.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

from planner.core.change_checks import check_window
from planner.core.course import Course, is_fixed
from planner.core.model import INFUSION, Anchor, PlannedEvent, Protocol, Status, Step
from planner.core.placer import Placer, sort_events


def scheduled_infusions(course: Course) -> list[PlannedEvent]:
    """The course's infusions still scheduled (given or ahead), in time order."""
    return sorted(
        (e for e in course.events if e.kind == INFUSION and e.status is Status.SCHEDULED),
        key=lambda e: e.start,
    )


def infusion_end(course: Course, start: datetime) -> datetime:
    """When an infusion of this course that begins at ``start`` ends."""
    return start + timedelta(minutes=course.protocol.infusion_minutes)


def infusion_with_steps(placer: Placer, infusion: PlannedEvent) -> list[PlannedEvent]:
    """The infusion and the steps each infusion has (blood test, delivery), placed for it."""
    events = [infusion]
    for step in placer.protocol.steps:
        if step.anchor is Anchor.EACH:
            placed = placer.step_for(step, infusion, infusion.seq)
            if placed is None:
                raise placer.failure.error()
            events.append(placed)
    return events


def reflow(
    placer: Placer,
    following: list[PlannedEvent],
    previous: date,
    previous_seq: int,
    week: tuple[date, ...],
    *,
    strict: bool = True,
) -> dict[int, list[PlannedEvent]]:
    """Re-place ``following`` infusions after one on ``previous``, keeping the rhythm.

    ``week`` holds the infusion days before ``previous`` (for the weekly count).

    Each keeps its number; they are placed in order even where a missed one sits between.
    """
    first_seq = following[0].seq if following else previous_seq + 1
    last_seq = first_seq + len(following) - 1
    ideal = placer.ideal_days(previous, first_seq - 1, last_seq)
    result: dict[int, list[PlannedEvent]] = {}
    placed = placer.series(first_seq, previous, ideal, last_seq, week)
    if placed is None:
        if strict:
            raise placer.failure.error()
        return result
    infusions = [e for e in placed if e.kind == INFUSION]
    for old, new in zip(following, infusions, strict=True):
        result[old.seq] = [replace(e, seq=old.seq) for e in placed if e.seq == new.seq]
    return result


def rebuild(
    placer: Placer,
    course: Course,
    new: dict[int, list[PlannedEvent]],
    now: datetime,
    *,
    keep_dated_steps: bool = True,
    check_done: bool = True,
) -> list[PlannedEvent]:
    """The course with infusions ``new`` replaced or added, and first/last steps re-derived.

    With ``keep_dated_steps`` a collection or follow-up that is still inside its window of
    the moved infusion stays where it is: the patient has been told, and an apheresis slot
    is not moved for a one-day shift. A postponement moves them with the course.
    """
    protocol = course.protocol
    kept = [
        e for e in course.events
        if not (e.seq in new and (e.kind == INFUSION or _each_step(protocol, e.kind))
                and not is_fixed(e, now))
    ]
    kept_keys = {e.key for e in kept}
    events = kept + [e for group in new.values() for e in group if e.key not in kept_keys]
    for step in protocol.steps:
        if step.anchor is not Anchor.EACH:
            events = _rederive_single(placer, step, events, now, keep_dated_steps, check_done)
    return sort_events(events)


def _each_step(protocol: Protocol, kind: str) -> bool:
    return any(s.kind == kind and s.anchor is Anchor.EACH for s in protocol.steps)


def _rederive_single(
    placer: Placer, step: Step, events: list[PlannedEvent], now: datetime, keep: bool,
    check_done: bool = True,
) -> list[PlannedEvent]:
    """Place a step anchored to the first or last infusion again, unless it has happened
    (or, with ``keep``, it still fits its window where it is)."""
    current = next((e for e in events if e.kind == step.kind), None)
    anchor = _anchor_of(step, events)
    if anchor is None:
        return events
    if current is not None and is_fixed(current, now):
        if check_done and step.anchor is Anchor.FIRST and current.status is Status.SCHEDULED:
            check_window(step, current, anchor)
        return events
    if keep and current is not None and _still_fits(step, current, anchor):
        return [replace(e, seq=anchor.seq) if e is current else e for e in events]
    placed = placer.step_for(step, anchor, anchor.seq)
    if placed is None:
        raise placer.failure.error()
    if current is not None and current.status is Status.CANCELLED:
        placed = replace(placed, status=Status.CANCELLED)
    others = [e for e in events if e.kind != step.kind]
    return others + [placed]


def _anchor_of(step: Step, events: list[PlannedEvent]) -> PlannedEvent | None:
    """The first or last infusion a step hangs on: a scheduled one when there is one, else
    the first or last not missed (a cancelled course keeps its steps' anchors)."""
    infusions = sorted(
        (e for e in events if e.kind == INFUSION and e.status is not Status.MISSED),
        key=lambda e: e.start,
    )
    infusions = [e for e in infusions if e.status is Status.SCHEDULED] or infusions
    if not infusions:
        return None
    return infusions[0] if step.anchor is Anchor.FIRST else infusions[-1]


def _still_fits(step: Step, current: PlannedEvent, anchor: PlannedEvent) -> bool:
    """A scheduled dated step whose day is still inside its window of ``anchor``."""
    if step.time is None or current.status is not Status.SCHEDULED:
        return False
    low, high = step.window_days
    return low <= (current.start.date() - anchor.start.date()).days <= high
