"""Which reminders a plan needs and when they are due: events and rules in, instants out.

Pure: a reminder is computed from an event, the rules of its kind, the clinic's zone and
"now"; nothing here reads the clock or the database. Rules say "N days before at HH:MM"
or "M minutes before". For patients and family, a reminder due in quiet hours moves to
the end of them when it is still useful then, else to their start the evening before. A
reminder is useful until ``max_late`` after its due instant and never later than
``min_lead`` before the event: past that it is skipped, never sent late and confusing.

"N days before at HH:MM" is a wall time in the clinic's zone, so it stays 18:00 local
across a DST change; "M minutes before", ``max_late`` and ``min_lead`` are elapsed time
(two hours before 03:30 on the spring-forward night is 00:30, not 01:30).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property, lru_cache
from zoneinfo import ZoneInfo

from planner.core.model import PlannedEvent, Status

PATIENT_AUDIENCES = ("patient", "family")
CHECK_IN_SUFFIX = "/check-in"


@dataclass(frozen=True)
class ReminderRule:
    """One rule: remind ``audience`` about events of ``kind``.

    Either ``days_before`` with ``at`` (a wall time in the clinic's zone), or
    ``minutes_before`` the event's start, or ``check_in`` with ``at``: the evening of the
    event's own day, after it, the patient is asked how they feel.
    """

    kind: str
    audience: str
    days_before: int | None = None
    at: time | None = None
    minutes_before: int | None = None
    check_in: bool = False

    @cached_property
    def name(self) -> str:
        """A stable name, stored with each reminder (``infusion/patient/1d@18:00``;
        ``infusion/patient/19:00/check-in`` for a check-in)."""
        if self.check_in:
            assert self.at is not None
            return f"{self.kind}/{self.audience}/{self.at:%H:%M}{CHECK_IN_SUFFIX}"
        if self.minutes_before is not None:
            return f"{self.kind}/{self.audience}/{self.minutes_before}m"
        assert self.at is not None
        return f"{self.kind}/{self.audience}/{self.days_before}d@{self.at:%H:%M}"


@dataclass(frozen=True)
class ReminderPolicy:
    """The clinic's rules, quiet hours and how long a reminder stays useful."""

    rules: tuple[ReminderRule, ...] = ()
    quiet_start: time | None = time(21, 0)
    quiet_end: time | None = time(8, 0)
    max_late: timedelta = timedelta(hours=2)
    min_lead: timedelta = timedelta(minutes=30)
    digest_time: time = time(7, 30)
    digest_roles: tuple[str, ...] = ("doctor", "nurse", "reception", "lab")

    def rules_for(self, kind: str) -> tuple[ReminderRule, ...]:
        """The rules about events of ``kind`` (looked up once per kind)."""
        return _rules_by_kind(self.rules).get(kind, ())

    def __hash__(self) -> int:
        """Computed once: the policy is part of a cache key looked up for every event."""
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self.rules, self.quiet_start, self.quiet_end, self.max_late,
                           self.min_lead, self.digest_time, self.digest_roles))
            object.__setattr__(self, "_hash", cached)
        return int(cached)


@dataclass(frozen=True)
class DueReminder:
    """A reminder of one event for one audience: due at ``due``, useless from ``expires``."""

    kind: str
    seq: int
    rule: str
    audience: str
    due: datetime
    expires: datetime


@lru_cache(maxsize=32)
def _rules_by_kind(rules: tuple[ReminderRule, ...]) -> dict[str, tuple[ReminderRule, ...]]:
    by_kind: dict[str, list[ReminderRule]] = {}
    for rule in rules:
        by_kind.setdefault(rule.kind, []).append(rule)
    return {kind: tuple(found) for kind, found in by_kind.items()}


def reminders_for(event: PlannedEvent, audiences: tuple[str, ...], policy: ReminderPolicy,
                  timezone: str) -> list[DueReminder]:
    """The reminders ``event`` needs; ``audiences`` are who takes part in it.

    A rule for ``family`` applies wherever the patient takes part. Events that are not
    scheduled get none, and neither does a rule whose reminder could never be useful.
    """
    if event.status is not Status.SCHEDULED:
        return []
    return [DueReminder(event.kind, event.seq, rule, audience, due, expires)
            for rule, audience, due, expires
            in (*_due_times(event.kind, event.start, audiences, policy, timezone),
                *_check_in_times(event, audiences, policy, timezone))]


def _check_in_times(event: PlannedEvent, audiences: tuple[str, ...], policy: ReminderPolicy,
                    timezone: str) -> list[tuple[str, str, datetime, datetime]]:
    """(rule, audience, due, expires) of the evening check-ins after ``event``.

    Due at the rule's time on the event's own day (or when quiet hours begin, if earlier),
    useful for ``max_late``; none when that moment is not after the event has ended.
    """
    tz = ZoneInfo(timezone)
    result = []
    for rule in policy.rules_for(event.kind):
        if not rule.check_in or not _concerns(rule.audience, audiences):
            continue
        assert rule.at is not None
        due = datetime.combine(event.start.astimezone(tz).date(), rule.at, tzinfo=tz)
        if policy.quiet_start is not None and policy.quiet_end is not None and \
                _in_quiet_hours(rule.at, policy.quiet_start, policy.quiet_end):
            due = min(due, datetime.combine(due.date(), policy.quiet_start, tzinfo=tz))
        if due > event.end:
            result.append((rule.name, rule.audience, due, _plus(due, policy.max_late)
                           .astimezone(tz)))
    return result


@lru_cache(maxsize=65_536)
def _due_times(kind: str, start: datetime, audiences: tuple[str, ...], policy: ReminderPolicy,
               timezone: str) -> tuple[tuple[str, str, datetime, datetime], ...]:
    """(rule, audience, due, expires) for an event of ``kind`` at ``start``.

    Cached: courses share their time slots, so the same start recurs across a clinic. The
    result depends on the instant only (every step converts it), so equal instants written
    in different zones may share an entry.
    """
    tz = ZoneInfo(timezone)
    result = []
    for rule in policy.rules_for(kind):
        if rule.check_in or not _concerns(rule.audience, audiences):
            continue
        due = _due(rule, start, tz)
        if rule.audience in PATIENT_AUDIENCES:
            due = _outside_quiet_hours(due, start, policy, tz)
        expires = min(_plus(due, policy.max_late), _plus(start, -policy.min_lead))
        if due < expires:
            result.append((rule.name, rule.audience, due.astimezone(tz), expires.astimezone(tz)))
    return tuple(result)


def _plus(moment: datetime, delta: timedelta) -> datetime:
    """``moment + delta`` in elapsed time (aware arithmetic in one zone is wall-clock)."""
    return moment.astimezone(UTC) + delta


def _concerns(audience: str, audiences: tuple[str, ...]) -> bool:
    if audience == "family":
        return "patient" in audiences
    return audience in audiences


def _due(rule: ReminderRule, start: datetime, tz: ZoneInfo) -> datetime:
    if rule.minutes_before is not None:
        return _plus(start, -timedelta(minutes=rule.minutes_before))
    assert rule.at is not None
    assert rule.days_before is not None
    day = start.astimezone(tz).date() - timedelta(days=rule.days_before)
    return datetime.combine(day, rule.at, tzinfo=tz)


def _outside_quiet_hours(due: datetime, event_start: datetime, policy: ReminderPolicy,
                         tz: ZoneInfo) -> datetime:
    """Move a reminder out of quiet hours: to their end if still useful, else their start."""
    if policy.quiet_start is None or policy.quiet_end is None:
        return due
    local = due.astimezone(tz)
    if not _in_quiet_hours(local.time(), policy.quiet_start, policy.quiet_end):
        return due
    quiet = _quiet_period_around(local, policy.quiet_start, policy.quiet_end, tz)
    if quiet is None:
        return due
    begins, ends = quiet
    if ends <= _plus(event_start, -policy.min_lead):
        return ends
    return begins


def _in_quiet_hours(clock: time, start: time, end: time) -> bool:
    """Whether a wall time falls in quiet hours (which may run over midnight)."""
    if start <= end:
        return start <= clock < end
    return clock >= start or clock < end


def _quiet_period_around(moment: datetime, start: time, end: time, tz: ZoneInfo
                         ) -> tuple[datetime, datetime] | None:
    """The quiet period (begin, end) that contains ``moment``, if any."""
    for day in (moment.date() - timedelta(days=1), moment.date()):
        begins = datetime.combine(day, start, tzinfo=tz)
        end_day = day + timedelta(days=1) if end <= start else day
        ends = datetime.combine(end_day, end, tzinfo=tz)
        if begins <= moment < ends:
            return begins, ends
    return None


def digest_instant(day: date, policy: ReminderPolicy, timezone: str) -> datetime:
    """When the staff's morning digest for ``day`` goes out."""
    return datetime.combine(day, policy.digest_time, tzinfo=ZoneInfo(timezone))
