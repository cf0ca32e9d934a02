"""Placing one course's events on open days, inside hours, windows and capacity.

The search machinery behind ``planner.schedule`` and ``planner.reschedule``: a
depth-first walk over the few days each gap allows, with failed states remembered, so a
course crossing a long closure fails fast instead of trying every combination. It
remembers the failure that got furthest into the course, the most useful one to report.
Pure: no clock, no database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property, lru_cache
from typing import NamedTuple

from planner.calendar import ClinicCalendar
from planner.errors import PlanningError
from planner.model import INFUSION, Anchor, Occupancy, PlannedEvent, Protocol, Step


class Budget(NamedTuple):
    """Bends a plan may still use: in all, and of them stretched gaps over a closure."""

    total: int = 0
    gaps: int = 0

    def spend(self, bends: int, gaps: int) -> Budget | None:
        """The budget left after ``bends`` (``gaps`` of them gaps), or None if over."""
        if bends > self.total or gaps > self.gaps:
            return None
        return Budget(self.total - bends, self.gaps - gaps)


NO_BENDS = Budget()


def budgets(protocol: Protocol) -> list[Budget]:
    """Budgets to try in turn, so the first plan found bends nothing if it can, and
    otherwise as few rules as it must (iterative deepening on the number of bends)."""
    return [Budget(n, min(n, protocol.closure_gaps_per_course))
            for n in range(protocol.bends_per_course + 1)]


@dataclass
class Failure:
    """The failure that got furthest into the course: the most useful one to report."""

    depth: int = -1
    rule: str = ""
    reason: str = ""
    day: date | None = None

    def record(self, depth: int, rule: str, reason: Callable[[], str],
               day: date | None = None) -> None:
        """Keep the deepest failure; ``reason`` is only formatted when it is kept.
        ``day`` is where it failed, to name the closure that really blocks."""
        if depth > self.depth:
            self.depth, self.rule, self.reason, self.day = depth, rule, reason(), day

    def error(self, suggestion: str | None = None,
              calendar: ClinicCalendar | None = None) -> PlanningError:
        return PlanningError(self.rule or "plan", self._reason(calendar), suggestion)

    def _reason(self, calendar: ClinicCalendar | None) -> str:
        """The reason, naming the closure near the failure when the reason itself names
        only a weekly day off or a gap (the closure is what really blocks)."""
        reason = self.reason or "no plan fits"
        if calendar is None or self.day is None or _names_closure(reason):
            return reason
        near = calendar.closures_between(self.day - timedelta(days=7),
                                         self.day + timedelta(days=7))
        if not near:
            return reason
        nearest = min(near, key=lambda d: abs((d - self.day).days) if self.day else 0)
        return f"{reason}; blocked by {calendar.describe_closure([nearest])}"


def _names_closure(reason: str) -> bool:
    return any(word in reason for word in ("year-end closure", "public holiday",
                                           "extra closed date", "chairs are taken"))


def later_first(target: date, days: Iterable[date]) -> list[date]:
    """Order days by distance from ``target``; a later day wins a tie."""
    return sorted(days, key=lambda d: (abs((d - target).days), -(d.toordinal())))


def _minutes(clock: time) -> int:
    return clock.hour * 60 + clock.minute


@lru_cache(maxsize=256)
def _offsets_nearest_first(preferred: int, window: tuple[int, int]) -> tuple[int, ...]:
    """Day offsets of a window, nearest to the preferred one first (a later one on a tie)."""
    low, high = window
    return tuple(sorted(range(low, high + 1), key=lambda o: (abs(o - preferred), -o)))


def _week(day: date) -> int:
    """The number of the Monday-to-Sunday week a day is in (date 1-1-1 was a Monday)."""
    return (day.toordinal() - 1) // 7


def day_span(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


@dataclass
class Placer:
    """Places infusions and their steps on open days within capacity.

    Holds the search state of one planning call; build a new one per call.
    """

    protocol: Protocol
    calendar: ClinicCalendar
    occupancy: Occupancy = field(default_factory=Occupancy)
    failure: Failure = field(default_factory=Failure)
    collected: bool = False
    not_before: datetime | None = None
    unavailable: dict[date, str] = field(default_factory=dict)
    _dead: set[tuple[int, tuple[date, ...], Budget]] = field(default_factory=set)

    # -- single events -------------------------------------------------------------------

    def infusion_on(
        self, day: date, seq: int, same_day: bool = False
    ) -> list[PlannedEvent] | None:
        """The infusion ``seq`` on ``day`` with its per-infusion steps, or None if it won't fit.

        With ``same_day`` a step whose window is all closed may take its ``same_day_time``
        on the infusion's day (a bend the caller counts with ``same_day_bends``).
        """
        if not self._open(day, seq, f"infusion {seq}"):
            return None
        start = self._free_slot(day, seq)
        if start is None:
            return None
        infusion = PlannedEvent(
            INFUSION, seq, start, start + timedelta(minutes=self.protocol.infusion_minutes)
        )
        events = [infusion]
        for step in self.protocol.steps:
            if step.anchor is Anchor.EACH:
                placed = self.step_for(step, infusion, seq, same_day)
                if placed is None:
                    return None
                events.append(placed)
        if self.not_before is not None and min(e.start for e in events) <= self.not_before:
            self.failure.record(seq, "missed.makeup", lambda: f"infusion {seq} on "
                                f"{day:%Y-%m-%d} would need a step before now", day)
            return None
        return events

    def same_day_bends(self, events: list[PlannedEvent]) -> int:
        """How many dated steps in ``events`` sit on their infusion's own day (a bend)."""
        bending = {s.kind for s in self.protocol.steps if s.same_day_time is not None}
        if not bending:
            return 0
        days = {e.seq: e.start.date() for e in events if e.kind == INFUSION}
        return sum(1 for e in events if e.kind in bending and days.get(e.seq) == e.start.date())

    def _open(self, day: date, depth: int, what: str) -> bool:
        reason = self.calendar.closed_reason(day) or self.unavailable.get(day)
        if reason is not None:
            self.failure.record(depth, "clinic.calendar",
                                lambda: f"{what} on {day:%Y-%m-%d}: {reason}", day)
        return reason is None

    def _free_slot(self, day: date, seq: int) -> datetime | None:
        """The first infusion start on ``day`` that fits clinic hours and a free chair."""
        length = timedelta(minutes=self.protocol.infusion_minutes)
        chairs = self.calendar.clinic.infusion_chairs
        for clock in self._slot_clocks:
            start = self.calendar.at(day, clock)
            if self.not_before is not None and start <= self.not_before:
                continue
            if not self.nurse_free(day, start):
                continue
            if self.occupancy.chairs_in_use(day, start, start + length) < chairs:
                return start
        self.failure.record(
            seq,
            "clinic.capacity",
            lambda: f"infusion {seq} on {day:%Y-%m-%d}: all {chairs} infusion chairs are taken "
            f"in every slot within {self.calendar.hours_label}" + self._nurse_note(),
            day,
        )
        return None

    def _nurse_note(self) -> str:
        limit = self.calendar.clinic.infusion_starts_per_slot
        return f" (or {limit} infusions already start in that half hour)" if limit else ""

    def nurse_free(self, day: date, start: datetime) -> bool:
        """Whether another infusion may start in ``start``'s 30-minute slot
        (``clinic.infusion_starts_per_slot``; 0 means no limit)."""
        limit = self.calendar.clinic.infusion_starts_per_slot
        return limit == 0 or self.occupancy.starts_in_slot(day, start) < limit

    @cached_property
    def _slot_clocks(self) -> list[time]:
        """Infusion start times, one infusion length apart: the protocol's time first, then
        later ones, then earlier ones; only those where the infusion and its same-day steps
        fit inside opening hours."""
        length = self.protocol.infusion_minutes
        preferred = _minutes(self.protocol.infusion_time)
        opens, closes = _minutes(self.calendar.clinic.opens), _minutes(self.calendar.clinic.closes)
        later = range(preferred, closes, length)
        earlier = range(preferred - length, opens - 1, -length)
        first, last = self._same_day_span
        return [time(m // 60, m % 60) for m in [*later, *earlier]
                if opens <= m + first and m + last <= closes]

    @cached_property
    def _same_day_span(self) -> tuple[int, int]:
        """Minutes from an infusion's start to the start and end of its same-day steps."""
        steps = [s for s in self.protocol.steps if s.time is None and s.anchor is Anchor.EACH]
        first = min([0] + [s.offset_minutes for s in steps])
        last = max([self.protocol.infusion_minutes] + [s.offset_minutes + s.minutes for s in steps])
        return first, last

    def same_day_steps_fit(self, start: datetime) -> bool:
        first, last = self._same_day_span
        return self.calendar.within_hours(
            start + timedelta(minutes=first), start + timedelta(minutes=last)
        )

    def step_for(
        self, step: Step, infusion: PlannedEvent, seq: int, same_day: bool = False
    ) -> PlannedEvent | None:
        """Place ``step`` for its anchor infusion, or None (with the reason recorded).

        With ``same_day``, a step whose whole window is closed falls back to its
        ``same_day_time`` on the infusion's day when that ends before the infusion.
        """
        owner = infusion.seq
        if step.time is None:
            start = infusion.start + timedelta(minutes=step.offset_minutes)
            return PlannedEvent(step.kind, owner, start, start + timedelta(minutes=step.minutes))
        anchor_day = infusion.start.date()
        for offset in _offsets_nearest_first(step.offset_days, step.window_days):
            placed = self.step_on(step, anchor_day + timedelta(days=offset), owner)
            if placed is not None:
                return placed
        if same_day:
            placed = self._same_day_step(step, infusion)
            if placed is not None:
                return placed
        low, high = step.window_days
        self.failure.record(
            seq,
            f"steps.{step.kind}.window_days",
            lambda: f"no open day for the {step.kind.replace('_', ' ')} between "
            f"{anchor_day + timedelta(days=low):%Y-%m-%d} and "
            f"{anchor_day + timedelta(days=high):%Y-%m-%d} ({low:+d} to {high:+d} days from "
            f"infusion {infusion.seq} on {anchor_day:%Y-%m-%d})",
            anchor_day,
        )
        return None

    def _same_day_step(self, step: Step, infusion: PlannedEvent) -> PlannedEvent | None:
        """``step`` on its infusion's day at ``same_day_time``, ending before the infusion's
        first same-day step, when its window had no open day only because of a closure."""
        if step.same_day_time is None or step.anchor is not Anchor.EACH:
            return None
        day = infusion.start.date()
        low, high = step.window_days
        window = [day + timedelta(days=o) for o in range(low, high + 1)]
        if not any(self.calendar.is_closure(d) for d in window):
            return None
        start = self.calendar.at(day, step.same_day_time)
        end = start + timedelta(minutes=step.minutes)
        if end > infusion.start + timedelta(minutes=self._same_day_span[0]):
            return None
        if not self.calendar.within_hours(start, end):
            return None
        return PlannedEvent(step.kind, infusion.seq, start, end)

    @cached_property
    def _clinic_minutes(self) -> tuple[int, int]:
        return _minutes(self.calendar.clinic.opens), _minutes(self.calendar.clinic.closes)

    def step_on(self, step: Step, day: date, owner: int) -> PlannedEvent | None:
        """``step`` on exactly ``day`` at its time, or None when closed, out of hours or full."""
        assert step.time is not None
        if self.calendar.closed_reason(day) is not None:
            return None
        if day in self.unavailable and "patient" in step.audience:
            return None
        start = self.calendar.at(day, step.time)
        end = start + timedelta(minutes=step.minutes)
        if not (self._clinic_minutes[0] <= _minutes(step.time)
                and _minutes(step.time) + step.minutes <= self._clinic_minutes[1]):
            return None
        if step.kind == "collection":
            booked = self.occupancy.collections.get(day, 0)
            if booked >= self.calendar.clinic.collections_per_day:
                return None
        return PlannedEvent(step.kind, owner, start, end)

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
            placed = self.infusion_on(day, seq, same_day=budget.total > stretched)
            if placed is None:
                continue
            left = budget.spend(stretched + self.same_day_bends(placed), stretched)
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
