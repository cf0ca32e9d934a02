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

from planner.calendar import ClinicCalendar
from planner.errors import PlanningError
from planner.model import INFUSION, Anchor, Occupancy, PlannedEvent, Protocol, Step


@dataclass
class Failure:
    """The failure that got furthest into the course: the most useful one to report."""

    depth: int = -1
    rule: str = ""
    reason: str = ""

    def record(self, depth: int, rule: str, reason: Callable[[], str]) -> None:
        """Keep the deepest failure; ``reason`` is only formatted when it is kept."""
        if depth > self.depth:
            self.depth, self.rule, self.reason = depth, rule, reason()

    def error(self, suggestion: str | None = None) -> PlanningError:
        return PlanningError(self.rule or "plan", self.reason or "no plan fits", suggestion)


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
    _dead: set[tuple[int, tuple[date, ...]]] = field(default_factory=set)

    # -- single events -------------------------------------------------------------------

    def infusion_on(self, day: date, seq: int) -> list[PlannedEvent] | None:
        """The infusion ``seq`` on ``day`` with its per-infusion steps, or None if it won't fit."""
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
                placed = self.step_for(step, infusion, seq)
                if placed is None:
                    return None
                events.append(placed)
        return events

    def _open(self, day: date, depth: int, what: str) -> bool:
        reason = self.calendar.closed_reason(day)
        if reason is not None:
            self.failure.record(depth, "clinic.calendar",
                                lambda: f"{what} on {day:%Y-%m-%d}: {reason}")
        return reason is None

    def _free_slot(self, day: date, seq: int) -> datetime | None:
        """The first infusion start on ``day`` that fits clinic hours and a free chair."""
        length = timedelta(minutes=self.protocol.infusion_minutes)
        chairs = self.calendar.clinic.infusion_chairs
        for clock in self._slot_clocks:
            start = self.calendar.at(day, clock)
            if self.occupancy.chairs_in_use(day, start, start + length) < chairs:
                return start
        self.failure.record(
            seq,
            "clinic.capacity",
            lambda: f"infusion {seq} on {day:%Y-%m-%d}: all {chairs} infusion chairs are taken "
            f"in every slot within {self.calendar.hours_label}",
        )
        return None

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

    def step_for(self, step: Step, infusion: PlannedEvent, seq: int) -> PlannedEvent | None:
        """Place ``step`` for its anchor infusion, or None (with the reason recorded)."""
        owner = infusion.seq
        if step.time is None:
            start = infusion.start + timedelta(minutes=step.offset_minutes)
            return PlannedEvent(step.kind, owner, start, start + timedelta(minutes=step.minutes))
        anchor_day = infusion.start.date()
        for offset in _offsets_nearest_first(step.offset_days, step.window_days):
            placed = self.step_on(step, anchor_day + timedelta(days=offset), owner)
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
        )
        return None

    @cached_property
    def _clinic_minutes(self) -> tuple[int, int]:
        return _minutes(self.calendar.clinic.opens), _minutes(self.calendar.clinic.closes)

    def step_on(self, step: Step, day: date, owner: int) -> PlannedEvent | None:
        """``step`` on exactly ``day`` at its time, or None when closed, out of hours or full."""
        assert step.time is not None
        if self.calendar.closed_reason(day) is not None:
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
        )
        return False

    def series(
        self,
        seq: int,
        previous: date,
        ideal: dict[int, date],
        last_seq: int,
        placed_days: tuple[date, ...] = (),
    ) -> list[PlannedEvent] | None:
        """Infusions ``seq``..``last_seq`` after an infusion on ``previous``, or None.

        ``placed_days`` are the infusion days of the last week, for the weekly rhythm.
        """
        if seq > last_seq:
            return []
        placed_days = tuple(d for d in (*placed_days, previous) if (previous - d).days < 7)
        state = (seq, placed_days)
        if state in self._dead:
            return None
        low, high = self.protocol.gap_days
        window = day_span(previous + timedelta(days=low), previous + timedelta(days=high))
        preferred_gap = (ideal[seq] - previous).days
        for gap in _offsets_nearest_first(preferred_gap, (low, high)):
            day = previous + timedelta(days=gap)
            if not self._keeps_weekly_rhythm(day, seq, placed_days):
                continue
            placed = self.infusion_on(day, seq)
            if placed is None:
                continue
            rest = self.series(seq + 1, day, ideal, last_seq, placed_days)
            if rest is not None:
                return placed + rest
        self._dead.add(state)
        self.failure.record(
            seq - 1,
            "protocol.gap_days",
            lambda: f"no day for infusion {seq} between {window[0]:%Y-%m-%d} and "
            f"{window[-1]:%Y-%m-%d} ({low}–{high} days after infusion {seq - 1} on "
            f"{previous:%Y-%m-%d}) keeps every rule",
        )
        return None

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
        self, first: date, fixed: dict[str, PlannedEvent] | None = None
    ) -> list[PlannedEvent] | None:
        """A whole course whose first infusion is on ``first``.

        ``fixed`` holds first-anchored steps whose date is already chosen (the collection
        when planning from it); their windows were checked by the caller.
        """
        count = self.protocol.infusions
        head = self.infusion_on(first, 1)
        if head is None:
            return None
        steps = self.first_steps(head[0], fixed or {})
        if steps is None:
            return None
        rest = self.series(2, first, self.ideal_days(first, 1, count), count)
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
