"""Placing one course's events on open days, inside hours, windows and capacity.

The search machinery behind ``planner.core.schedule`` and ``planner.core.reschedule``: a
depth-first walk over the few days each gap allows, with failed states remembered, so a
course crossing a long closure fails fast instead of trying every combination. It
remembers the failure that got furthest into the course, the most useful one to report.
A ``Budget`` bounds the rules the walk may bend over a closure. Single days are placed by
``planner.core.placer_events``. Pure: no clock, no database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import NamedTuple

from planner.core.model import INFUSION, Anchor, PlannedEvent, Protocol
from planner.core.placer_events import EventPlacer, Failure, _offsets_nearest_first

__all__ = ["NO_BENDS", "Budget", "Failure", "Placer", "budgets", "day_span", "later_first",
           "sort_events"]


class Budget(NamedTuple):
    """Bends a plan may still use: in all, and of them stretched gaps over a closure."""

    total: int = 0
    gaps: int = 0

    def spend(self, bends: int, gaps: int) -> Budget | None:
        """The budget left after ``bends`` (``gaps`` of them gaps), or None if over."""
        if bends == 0 and gaps == 0:
            return self
        if bends > self.total or gaps > self.gaps:
            return None
        return Budget(self.total - bends, self.gaps - gaps)


NO_BENDS = Budget()


def budgets(protocol: Protocol) -> list[Budget]:
    """Budgets to try in turn, so the first plan found bends nothing if it can, and
    otherwise as few rules as it must (iterative deepening on the number of bends)."""
    return [Budget(n, min(n, protocol.closure_gaps_per_course))
            for n in range(protocol.bends_per_course + 1)]


def later_first(target: date, days: Iterable[date]) -> list[date]:
    """Order days by distance from ``target``; a later day wins a tie."""
    return sorted(days, key=lambda d: (abs((d - target).days), -(d.toordinal())))


def _week(day: date) -> int:
    """The number of the Monday-to-Sunday week a day is in (date 1-1-1 was a Monday)."""
    return (day.toordinal() - 1) // 7


def day_span(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


@dataclass
class Placer(EventPlacer):
    """Places a series of infusions and the steps anchored to the first and last one.

    Holds the search state of one planning call; build a new one per call.
    """

    _dead: set[tuple[int, tuple[date, ...], Budget]] = field(default_factory=set)

    # -- series of infusions -------------------------------------------------------------

    def ideal_days(self, first: date, first_seq: int, last_seq: int) -> dict[int, date]:
        """The rhythm's preferred date for every infusion, from the first one's weekday."""
        weekdays = self._weekday_set(first.weekday())
        ideal = {first_seq: first}
        day = first
        for seq in range(first_seq + 1, last_seq + 1):
            if weekdays:
                day = next(
                    day + timedelta(days=i) for i in range(1, 8)
                    if (day + timedelta(days=i)).weekday() in weekdays
                )
            else:
                step = 7 // self.protocol.per_week + (1 if seq % 2 == 0 else 0)
                day = day + timedelta(days=step)
            ideal[seq] = day
        return ideal

    def _weekday_set(self, weekday: int) -> tuple[int, ...]:
        for pair in self.protocol.weekday_pairs:
            if weekday in pair:
                return pair
        return ()

    def _keeps_weekly_rhythm(self, day: date, seq: int, placed_days: tuple[date, ...]) -> bool:
        """At most ``per_week`` infusions in one calendar week (Monday to Sunday)."""
        week = _week(day)
        in_week = sum(1 for d in placed_days if _week(d) == week)
        if in_week < self.protocol.per_week:
            return True
        self.failure.record(
            seq - 1,
            "protocol.per_week",
            lambda: f"infusion {seq} on {day:%Y-%m-%d} would be infusion number {in_week + 1} in "
            f"the week of {day - timedelta(days=day.weekday()):%Y-%m-%d}; the protocol allows "
            f"{self.protocol.per_week}",
            day,
        )
        return False

    def series(
        self,
        seq: int,
        previous: date,
        ideal: dict[int, date],
        last_seq: int,
        placed_days: tuple[date, ...] = (),
        budget: Budget = NO_BENDS,
    ) -> list[PlannedEvent] | None:
        """Infusions ``seq``..``last_seq`` after an infusion on ``previous``, or None.

        ``placed_days`` are the infusion days of the last week, for the weekly rhythm.
        ``budget`` is how many rules may still bend (a gap stretched over a closure, a
        cell delivery on the infusion's morning); gaps inside the rule are tried first.
        """
        if seq > last_seq:
            return []
        placed_days = tuple(d for d in (*placed_days, previous) if (previous - d).days < 7)
        state = (seq, placed_days, budget)
        if state in self._dead:
            return None
        low, high = self.protocol.gap_days
        window = day_span(previous + timedelta(days=low), previous + timedelta(days=high))
        preferred_gap = (ideal[seq] - previous).days
        for gap in self._gaps(preferred_gap, previous, budget):
            day = previous + timedelta(days=gap)
            if not self._keeps_weekly_rhythm(day, seq, placed_days):
                continue
            stretched = 1 if gap > high else 0
            same_day = budget.total > stretched
            placed = self.infusion_on(day, seq, same_day=same_day)
            if placed is None:
                continue
            bends = stretched + (self.same_day_bends(placed) if same_day else 0)
            left = budget.spend(bends, stretched)
            if left is None:
                continue
            rest = self.series(seq + 1, day, ideal, last_seq, placed_days, left)
            if rest is not None:
                return placed + rest
        self._dead.add(state)
        self.failure.record(
            seq - 1,
            "protocol.gap_days",
            lambda: f"no day for infusion {seq} between {window[0]:%Y-%m-%d} and "
            f"{window[-1]:%Y-%m-%d} ({low}–{high} days after infusion {seq - 1} on "
            f"{previous:%Y-%m-%d}) keeps every rule",
            previous,
        )
        return None

    def _gaps(self, preferred: int, previous: date, budget: Budget) -> list[int]:
        """Gaps to try: the rule's, nearest the rhythm first; then, while the budget lasts,
        longer ones up to ``max_gap_days_over_closure`` (shortest first) whose days in
        between hold a closure."""
        low, high = self.protocol.gap_days
        gaps = list(_offsets_nearest_first(preferred, (low, high)))
        if budget.gaps > 0 and budget.total > 0:
            for gap in range(high + 1, self.protocol.max_gap_days_over_closure + 1):
                inside = (previous + timedelta(days=1), previous + timedelta(days=gap - 1))
                if self.calendar.closures_between(*inside):
                    gaps.append(gap)
        return gaps

    def last_steps(self, events: list[PlannedEvent]) -> list[PlannedEvent] | None:
        """Steps anchored to the last scheduled infusion (the follow-up)."""
        infusions = [e for e in events if e.kind == INFUSION]
        if not infusions:
            return []
        last = max(infusions, key=lambda e: e.start)
        placed = []
        for step in self.protocol.steps:
            if step.anchor is Anchor.LAST:
                event = self.step_for(step, last, last.seq)
                if event is None:
                    return None
                placed.append(event)
        return placed

    def first_steps(
        self, first: PlannedEvent, fixed: dict[str, PlannedEvent]
    ) -> list[PlannedEvent] | None:
        """Steps anchored to the first infusion; those in ``fixed`` keep their given date."""
        placed = []
        for step in self.protocol.steps:
            if step.anchor is not Anchor.FIRST:
                continue
            event = fixed.get(step.kind) or self.step_for(step, first, 0)
            if event is None:
                return None
            placed.append(event)
        return placed

    def course_from(
        self,
        first: date,
        fixed: dict[str, PlannedEvent] | None = None,
        budget: Budget = NO_BENDS,
    ) -> list[PlannedEvent] | None:
        """A whole course whose first infusion is on ``first``, bending at most ``budget``.

        ``fixed`` holds first-anchored steps whose date is already chosen (the collection
        when planning from it); their windows were checked by the caller.
        """
        count = self.protocol.infusions
        head = self.infusion_on(first, 1, same_day=budget.total > 0)
        if head is None:
            return None
        left = budget.spend(self.same_day_bends(head), 0)
        if left is None:
            return None
        steps = self.first_steps(head[0], fixed or {})
        if steps is None:
            return None
        rest = self.series(2, first, self.ideal_days(first, 1, count), count, (), left)
        if rest is None:
            return None
        events = steps + head + rest
        tail = self.last_steps(events)
        if tail is None:
            return None
        return sort_events(events + tail)


def sort_events(events: Iterable[PlannedEvent]) -> list[PlannedEvent]:
    """Time order, then kind and number, so equal instants always print the same way."""
    return sorted(events, key=lambda e: (e.start, e.end, e.kind, e.seq))
