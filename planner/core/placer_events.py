"""Placing single events of a course: an infusion with its steps, a dated step, on open
days, inside hours, windows and capacity; and the failure worth reporting.

The part of the search in ``planner.core.placer`` that looks at one day at a time: whether
the clinic is open and the patient can come, which slot has a free chair (and a free
nurse, with ``infusion_starts_per_slot``), where a step's window has an open day. Pure: no
clock, no database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property, lru_cache

from planner.core.calendar import ClinicCalendar
from planner.core.errors import PlanningError
from planner.core.model import INFUSION, Anchor, Occupancy, PlannedEvent, Protocol, Step


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
        if calendar is None or self.day is None or "Golden Week" in reason:
            return reason
        near = calendar.closures_between(self.day - timedelta(days=7),
                                         self.day + timedelta(days=7))
        if not near:
            return reason
        day = self.day
        closure = calendar.describe_closure([min(near, key=lambda d: abs((d - day).days))])
        if _names_closure(reason) and not closure.startswith("Golden Week"):
            return reason
        return f"{reason}; blocked by {closure}"


def _names_closure(reason: str) -> bool:
    return any(word in reason for word in ("year-end closure", "public holiday",
                                           "extra closed date", "chairs are taken"))


def _minutes(clock: time) -> int:
    return clock.hour * 60 + clock.minute


@lru_cache(maxsize=256)
def _offsets_nearest_first(preferred: int, window: tuple[int, int]) -> tuple[int, ...]:
    """Day offsets of a window, nearest to the preferred one first (a later one on a tie)."""
    low, high = window
    return tuple(sorted(range(low, high + 1), key=lambda o: (abs(o - preferred), -o)))


@dataclass
class EventPlacer:
    """Places one infusion with its steps, or one dated step, on a given day.

    ``not_before`` keeps every new event after it (a make-up after "now");
    ``unavailable`` holds days the patient cannot come, with why (an away period, the day
    an infusion was missed), avoided like closures for what the patient attends.
    """

    protocol: Protocol
    calendar: ClinicCalendar
    occupancy: Occupancy = field(default_factory=Occupancy)
    failure: Failure = field(default_factory=Failure)
    collected: bool = False
    not_before: datetime | None = None
    unavailable: dict[date, str] = field(default_factory=dict)

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
        bending = self._same_day_kinds
        if not bending:
            return 0
        days = {e.seq: e.start.date() for e in events if e.kind == INFUSION}
        return sum(1 for e in events if e.kind in bending and days.get(e.seq) == e.start.date())

    @cached_property
    def _same_day_kinds(self) -> frozenset[str]:
        return frozenset(s.kind for s in self.protocol.steps if s.same_day_time is not None)

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
        starts_limit = self.calendar.clinic.infusion_starts_per_slot
        for clock in self._slot_clocks:
            start = self.calendar.at(day, clock)
            if self.not_before is not None and start <= self.not_before:
                continue
            if starts_limit and not self.nurse_free(day, start):
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
        closed = (self.calendar.lab_closed_reason(day) if step.on_lab_days
                  else self.calendar.closed_reason(day))
        if closed is not None:
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
