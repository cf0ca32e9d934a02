"""A course as it stands: which event is which across changes, what can still move, and
which changes the culture lab must hear about.

Pure: "now" is an argument. Used by the planner's change operations, the store (to match
events by identity) and the edges (to show "done").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from planner.core.errors import PlanningError
from planner.core.model import INFUSION, Anchor, PlannedEvent, Protocol, Status


@dataclass(frozen=True)
class Course:
    """A course as it stands: its protocol snapshot and every event with its state."""

    protocol: Protocol
    events: tuple[PlannedEvent, ...]

    def infusion(self, seq: int) -> PlannedEvent:
        for event in self.events:
            if event.kind == INFUSION and event.seq == seq:
                return event
        raise PlanningError("infusion", f"this course has no infusion number {seq}")


def is_fixed(event: PlannedEvent, now: datetime) -> bool:
    """An event that has started, was missed or was cancelled can no longer move."""
    return event.status is not Status.SCHEDULED or event.start <= now


def slot_key(protocol: Protocol, event: PlannedEvent) -> tuple[str, int]:
    """What identifies an event across changes of its course.

    Infusions and per-infusion steps are identified by kind and number; a step anchored to
    the first or last infusion exists once per course, so its number may change (the
    follow-up follows an appended make-up infusion) while it stays the same event.
    """
    if event.kind in once_per_course(protocol):
        return (event.kind, 0)
    return (event.kind, event.seq)


@lru_cache(maxsize=64)
def once_per_course(protocol: Protocol) -> frozenset[str]:
    """Kinds of the steps anchored to the first or last infusion."""
    return frozenset(s.kind for s in protocol.steps if s.anchor is not Anchor.EACH)


def effective_status(event: PlannedEvent, now: datetime) -> Status:
    """The status people see: a scheduled event that has ended is done."""
    if event.status is Status.SCHEDULED and event.end <= now:
        return Status.DONE
    return event.status


def lab_notice_changes(
    old: Iterable[PlannedEvent],
    new: Iterable[PlannedEvent],
    protocol: Protocol,
    now: datetime,
    notice_days: int,
) -> list[tuple[PlannedEvent | None, PlannedEvent]]:
    """Changes the culture lab must hear about because they fall inside its notice window.

    An infusion or a step the lab attends counts when it moves, is cancelled or missed,
    or is added, and either its old or its new start is sooner than ``notice_days`` ahead.
    """
    limit = now + timedelta(days=notice_days)
    before = {slot_key(protocol, e): e for e in old}
    changes: list[tuple[PlannedEvent | None, PlannedEvent]] = []
    for event in new:
        if not _lab_concerned(protocol, event.kind):
            continue
        previous = before.get(slot_key(protocol, event))
        if previous == event:
            continue
        starts = [event.start] + ([previous.start] if previous else [])
        if min(starts) < limit:
            changes.append((previous, event))
    return changes


def _lab_concerned(protocol: Protocol, kind: str) -> bool:
    if kind == INFUSION:
        return True
    return any(s.kind == kind and "lab" in s.audience for s in protocol.steps)
