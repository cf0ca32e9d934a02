"""Frozen records the planner works with: what a protocol and a clinic are, what an event is.

Everything here is plain data. Dates are ``datetime.date``; instants are timezone-aware
``datetime`` values in the clinic's zone. Nothing here reads the clock or the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum

INFUSION = "infusion"
TimeOfDay = time  # ``Step`` has a field named ``time``; this keeps the type reachable there


class Anchor(StrEnum):
    """Which infusion a step is anchored to."""

    FIRST = "first_infusion"
    EACH = "each_infusion"
    LAST = "last_infusion"


class Status(StrEnum):
    """Stored state of an event. ``done`` is derived: a scheduled event that has ended."""

    SCHEDULED = "scheduled"
    MISSED = "missed"
    CANCELLED = "cancelled"
    DONE = "done"


AUDIENCES = ("patient", "family", "doctor", "nurse", "reception", "lab")
STAFF_ROLES = ("doctor", "nurse", "reception", "lab")


@dataclass(frozen=True)
class Step:
    """A step anchored to infusions, e.g. the collection 21 days before the first one.

    Either ``time`` is set and the step lands ``offset_days`` from its infusion's date at that
    clock time, searching ``window_days`` (inclusive, relative to the infusion date) for an
    open day when the preferred one is closed or full; or ``time`` is None and the step starts
    ``offset_minutes`` from the infusion's start on the same day (the pre-infusion blood test).
    ``same_day_time`` (a bend, used only when a closure leaves no open day in the window)
    lets a dated step of each infusion take place on the infusion's own day at that time,
    ending before the infusion's first same-day step (cells delivered that morning).
    ``on_lab_days`` places the step on the culture lab's calendar (``Clinic.lab_*``) instead
    of the clinic's: a lab that ships on holidays can deliver the day before an infusion
    that follows a closure.
    """

    kind: str
    anchor: Anchor
    minutes: int
    audience: tuple[str, ...]
    offset_days: int = 0
    window_days: tuple[int, int] = (0, 0)
    time: time | None = None
    offset_minutes: int = 0
    same_day_time: TimeOfDay | None = None
    on_lab_days: bool = False


@dataclass(frozen=True)
class Protocol:
    """One course type: how many infusions, their rhythm and the steps around them."""

    name: str
    infusions: int = 8
    per_week: int = 2
    gap_days: tuple[int, int] = (2, 5)
    weekday_pairs: tuple[tuple[int, ...], ...] = ((0, 3), (1, 4), (2, 5))
    infusion_time: time = time(10, 0)
    infusion_minutes: int = 60
    infusion_audience: tuple[str, ...] = ("patient", "nurse", "doctor")
    steps: tuple[Step, ...] = ()
    max_gap_days_over_closure: int = 0
    closure_gaps_per_course: int = 0
    bends_per_course: int = 0

    def audience_of(self, kind: str) -> tuple[str, ...]:
        """Who takes part in events of ``kind`` (nobody for a kind this protocol lacks)."""
        if kind == INFUSION:
            return self.infusion_audience
        for step in self.steps:
            if step.kind == kind:
                return step.audience
        return ()


@dataclass(frozen=True)
class Bend:
    """One rule a plan bends over a closure, as the doctor reads it.

    ``rule`` is the protocol key (``protocol.gap_days``, ``steps.cell_delivery.window_days``),
    ``events`` the events concerned ("infusion 7"), ``by_days`` how far past the rule,
    ``detail`` what the plan does and ``why`` the closure that made it necessary.
    """

    rule: str
    events: tuple[str, ...]
    by_days: int
    detail: str
    why: str

    def as_dict(self) -> dict[str, object]:
        return {"rule": self.rule, "events": list(self.events), "by_days": self.by_days,
                "detail": self.detail, "why": self.why}

    @classmethod
    def from_dict(cls, row: dict[str, object]) -> Bend:
        events = row.get("events")
        by_days = row.get("by_days", 0)
        return cls(str(row.get("rule", "")),
                   tuple(str(e) for e in events) if isinstance(events, list) else (),
                   by_days if isinstance(by_days, int) else 0,
                   str(row.get("detail", "")), str(row.get("why", "")))

    def line(self) -> str:
        return f"{self.rule}: {self.detail} ({self.why})"


@dataclass(frozen=True)
class Clinic:
    """Where and when the clinic works. Weekdays are 0 = Monday … 6 = Sunday."""

    name: str = "ANK clinic"
    timezone: str = "Asia/Tokyo"
    open_weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4, 5})
    opens: time = time(9, 0)
    closes: time = time(18, 0)
    holiday_country: str | None = "JP"
    year_end_closure: tuple[tuple[int, int], tuple[int, int]] | None = ((12, 29), (1, 3))
    closed_dates: frozenset[date] = frozenset()
    infusion_chairs: int = 3
    collections_per_day: int = 2
    lab_notice_days: int = 2
    infusion_starts_per_slot: int = 0  # 0: no limit; else at most this many starts per 30 min
    lab_open_weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4, 5})
    lab_closed_dates: frozenset[date] = frozenset()


@dataclass(frozen=True, slots=True)
class PlannedEvent:
    """One dated event of a course as the planner places it.

    ``seq`` is the infusion number for infusions and, for an anchored step, the number of
    the infusion it belongs to (1 for the collection, the last one for the follow-up).
    """

    kind: str
    seq: int
    start: datetime
    end: datetime
    status: Status = Status.SCHEDULED

    @property
    def key(self) -> tuple[str, int]:
        return (self.kind, self.seq)


@dataclass(frozen=True)
class StoredEvent:
    """An event as kept in the store: a planned event with identity, state and revision."""

    id: int
    uid: str
    course_id: int
    kind: str
    seq: int
    start: datetime
    end: datetime
    status: Status
    revision: int
    updated_at: datetime
    lab_attention: bool = False

    @property
    def key(self) -> tuple[str, int]:
        return (self.kind, self.seq)


@dataclass(frozen=True)
class Occupancy:
    """What other courses already use, so a plan stays within capacity.

    ``infusions`` maps a date to the (start, end) intervals booked that day, each with the
    number of chairs it takes; ``collections`` maps a date to the collections booked.
    """

    infusions: dict[date, dict[tuple[datetime, datetime], int]] = field(default_factory=dict)
    collections: dict[date, int] = field(default_factory=dict)

    def chairs_in_use(self, day: date, start: datetime, end: datetime) -> int:
        """Chairs taken by infusions overlapping [start, end) on ``day``."""
        booked = self.infusions.get(day)
        if not booked:
            return 0
        return sum(n for (b_start, b_end), n in booked.items() if b_start < end and start < b_end)

    def starts_in_slot(self, day: date, start: datetime) -> int:
        """Infusions booked on ``day`` that start in the same 30-minute slot as ``start``
        (a nurse starts each drip, so a clinic may cap them)."""
        booked = self.infusions.get(day)
        if not booked:
            return 0
        slot = _half_hour(start)
        return sum(n for (b_start, _), n in booked.items() if _half_hour(b_start) == slot)


def _half_hour(moment: datetime) -> datetime:
    return moment.replace(minute=moment.minute - moment.minute % 30, second=0, microsecond=0)
