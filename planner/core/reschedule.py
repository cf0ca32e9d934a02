"""Change a planned course: move an infusion, mark one missed, postpone, cancel.

Each function takes the course as it is (its protocol and events with their states)
and returns the whole course as it should be; the store compares the two and writes the
difference in one transaction. Events that are over, missed or cancelled never move:
"what has happened stays". Anchored steps follow their infusion. Nothing here reads the
clock: ``now`` is an argument.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

from planner.core.calendar import ClinicCalendar
from planner.core.course import Course, effective_status, is_fixed
from planner.core.errors import PlanningError
from planner.core.model import INFUSION, Anchor, Occupancy, PlannedEvent, Protocol, Status, Step
from planner.core.placer import Placer, sort_events
from planner.core.schedule import MOVE_LIMIT_DAYS

# -- the operations -------------------------------------------------------------------


def move_infusion(
    course: Course,
    calendar: ClinicCalendar,
    seq: int,
    to: datetime,
    now: datetime,
    *,
    only: bool = False,
    occupancy: Occupancy | None = None,
    away: dict[date, str] | None = None,
) -> list[PlannedEvent]:
    """Move infusion ``seq`` to ``to``; the following ones shift to keep the rhythm.

    With ``only`` the others stay and the move must keep the gap rule on both sides.
    Refused (``PlanningError``) onto a closed day or one the patient is ``away``, outside
    hours, into a full slot, into the past, or further than the gap rule allows from the
    previous infusion. The following infusions avoid ``away`` days too.
    """
    placer = Placer(course.protocol, calendar, occupancy or Occupancy(), unavailable=away or {})
    moving = _movable_infusion(course, seq, now)
    _check_infusion_start(placer, seq, to, now)
    if to.date() in placer.unavailable:
        raise PlanningError("reschedule.to", f"{to:%Y-%m-%d}: {placer.unavailable[to.date()]}")
    scheduled = _scheduled_infusions(course)
    before = [e for e in scheduled if e.start < moving.start and e.seq != seq]
    after = [e for e in scheduled if e.start > moving.start and e.seq != seq]
    if before:
        _check_gap(course.protocol, before[-1], to.date(), seq)
    week = tuple(e.start.date() for e in before)
    if only and after:
        _check_gap(course.protocol, replace(moving, start=to), after[0].start.date(), after[0].seq)
        week += tuple(e.start.date() for e in after)
    if not placer._keeps_weekly_rhythm(to.date(), seq, week):
        raise placer.failure.error()
    moved = _infusion_with_steps(placer, replace(moving, start=to, end=_infusion_end(course, to)))
    new = {seq: moved}
    if not only and after:
        new.update(_reflow(placer, after, to.date(), seq, week))
    return _rebuild(placer, course, new, now)


def mark_missed(
    course: Course,
    calendar: ClinicCalendar,
    seq: int,
    now: datetime,
    *,
    makeup: bool = True,
    occupancy: Occupancy | None = None,
) -> list[PlannedEvent]:
    """Mark infusion ``seq`` missed, with a make-up after the last live infusion when one
    fits (see ``planner.core.makeup.record_missed``, which also says why none fitted)."""
    from planner.core.makeup import record_missed

    return record_missed(course, calendar, seq, now, makeup=makeup, occupancy=occupancy).events


def postpone(
    course: Course,
    calendar: ClinicCalendar,
    days: int,
    now: datetime,
    *,
    occupancy: Occupancy | None = None,
    away: dict[date, str] | None = None,
) -> list[PlannedEvent]:
    """Shift the rest of the course by ``days``: the next infusion moves that far (to the
    nearest open day) and the ones after it follow the rhythm from there.

    The gap to infusions already given is not checked (a pause is the point), but a
    collection already taken must still be within its culture window of the first infusion.
    """
    if days < 1:
        raise PlanningError("postpone.days", f"must be a whole number >= 1, got {days}")
    placer = Placer(course.protocol, calendar, occupancy or Occupancy(), unavailable=away or {})
    scheduled = _scheduled_infusions(course)
    remaining = [e for e in scheduled if not is_fixed(e, now)]
    if not remaining:
        raise PlanningError("postpone", "no infusion of this course is still ahead")
    given = tuple(e.start.date() for e in scheduled if is_fixed(e, now))
    target = remaining[0].start.date() + timedelta(days=days)
    for day in _nearest_days(target):
        if not calendar.is_open(day) or day in placer.unavailable:
            continue
        first = replace(remaining[0], start=_at_same_time(remaining[0].start, day))
        first = replace(first, end=_infusion_end(course, first.start))
        if placer._free_slot(day, first.seq) is None:
            continue
        try:
            head = _infusion_with_steps(placer, first)
        except PlanningError:
            continue
        new = {first.seq: head}
        new.update(_reflow(placer, remaining[1:], day, first.seq, given, strict=False))
        if len(new) == len(remaining):
            return _rebuild(placer, course, new, now, keep_dated_steps=False)
    raise placer.failure.error()


def cancel(course: Course, now: datetime) -> list[PlannedEvent]:
    """Cancel every event still ahead; what has happened stays as it was."""
    return [
        e if is_fixed(e, now) else replace(e, status=Status.CANCELLED) for e in course.events
    ]


# -- helpers --------------------------------------------------------------------------


def _each_step(protocol: Protocol, kind: str) -> bool:
    return any(s.kind == kind and s.anchor is Anchor.EACH for s in protocol.steps)


def _scheduled_infusions(course: Course) -> list[PlannedEvent]:
    return sorted(
        (e for e in course.events if e.kind == INFUSION and e.status is Status.SCHEDULED),
        key=lambda e: e.start,
    )


def _movable_infusion(course: Course, seq: int, now: datetime) -> PlannedEvent:
    event = course.infusion(seq)
    if event.status is not Status.SCHEDULED:
        raise PlanningError("reschedule", f"infusion {seq} is {event.status.value}; it cannot move")
    if event.start <= now:
        raise PlanningError(
            "reschedule",
            f"infusion {seq} took place on {event.start:%Y-%m-%d %H:%M}; it cannot move",
        )
    return event


def _infusion_end(course: Course, start: datetime) -> datetime:
    return start + timedelta(minutes=course.protocol.infusion_minutes)


def _at_same_time(start: datetime, day: date) -> datetime:
    return datetime.combine(day, start.timetz())


def _nearest_days(target: date) -> list[date]:
    days = [target]
    for distance in range(1, MOVE_LIMIT_DAYS + 1):
        days += [target + timedelta(days=distance), target - timedelta(days=distance)]
    return days


def _check_open_and_ahead(calendar: ClinicCalendar, start: datetime, now: datetime) -> date:
    """The day of ``start``, refusing a start in the past or on a closed day."""
    day = start.astimezone(calendar.tz).date()
    if start <= now:
        raise PlanningError("reschedule.to", f"{start:%Y-%m-%d %H:%M} is in the past")
    reason = calendar.closed_reason(day)
    if reason is not None:
        raise PlanningError("reschedule.to", f"{day:%Y-%m-%d} is closed: {reason}")
    return day


def _check_infusion_start(placer: Placer, seq: int, start: datetime, now: datetime) -> None:
    """Refuse a start in the past, on a closed day, outside hours or in a full slot."""
    calendar = placer.calendar
    day = _check_open_and_ahead(calendar, start, now)
    if not placer.same_day_steps_fit(start):
        raise PlanningError(
            "reschedule.to",
            f"{start:%H:%M} is outside clinic hours ({calendar.hours_label}) for an infusion "
            f"of {placer.protocol.infusion_minutes} minutes and its blood test",
        )
    end = start + timedelta(minutes=placer.protocol.infusion_minutes)
    if placer.occupancy.chairs_in_use(day, start, end) >= calendar.clinic.infusion_chairs:
        raise PlanningError(
            "clinic.capacity", f"all infusion chairs are taken at {start:%Y-%m-%d %H:%M}"
        )
    if not placer.nurse_free(day, start):
        raise PlanningError(
            "clinic.infusion_starts_per_slot",
            f"{calendar.clinic.infusion_starts_per_slot} infusions already start in the "
            f"half hour of {start:%Y-%m-%d %H:%M}")


def _check_gap(protocol: Protocol, previous: PlannedEvent, day: date, seq: int) -> None:
    low, high = protocol.gap_days
    gap = (day - previous.start.date()).days
    if not low <= gap <= high:
        raise PlanningError(
            "protocol.gap_days",
            f"infusion {seq} on {day:%Y-%m-%d} would be {gap} days after infusion "
            f"{previous.seq} on {previous.start:%Y-%m-%d}; the protocol allows {low}–{high} "
            "(use postpone to pause the course)",
        )


def _infusion_with_steps(placer: Placer, infusion: PlannedEvent) -> list[PlannedEvent]:
    events = [infusion]
    for step in placer.protocol.steps:
        if step.anchor is Anchor.EACH:
            placed = placer.step_for(step, infusion, infusion.seq)
            if placed is None:
                raise placer.failure.error()
            events.append(placed)
    return events


def _reflow(
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


def _rebuild(
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


def _rederive_single(
    placer: Placer, step: Step, events: list[PlannedEvent], now: datetime, keep: bool,
    check_done: bool = True,
) -> list[PlannedEvent]:
    """Place a step anchored to the first or last infusion again, unless it has happened
    (or, with ``keep``, it still fits its window where it is)."""
    current = next((e for e in events if e.kind == step.kind), None)
    infusions = sorted(
        (e for e in events if e.kind == INFUSION and e.status is not Status.MISSED),
        key=lambda e: e.start,
    )
    infusions = [e for e in infusions if e.status is Status.SCHEDULED] or infusions
    if not infusions:
        return events
    anchor = infusions[0] if step.anchor is Anchor.FIRST else infusions[-1]
    if current is not None and is_fixed(current, now):
        if check_done and step.anchor is Anchor.FIRST and current.status is Status.SCHEDULED:
            _check_window(step, current, anchor)
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


def _still_fits(step: Step, current: PlannedEvent, anchor: PlannedEvent) -> bool:
    """A scheduled dated step whose day is still inside its window of ``anchor``."""
    if step.time is None or current.status is not Status.SCHEDULED:
        return False
    low, high = step.window_days
    return low <= (current.start.date() - anchor.start.date()).days <= high


def _check_window(step: Step, done: PlannedEvent, anchor: PlannedEvent) -> None:
    """A step must sit inside its window of its infusion (a done collection included)."""
    low, high = step.window_days
    offset = (done.start.date() - anchor.start.date()).days
    if not low <= offset <= high:
        raise PlanningError(
            f"steps.{step.kind}.window_days",
            f"the {step.kind.replace('_', ' ')} on {done.start:%Y-%m-%d} would be "
            f"{offset:+d} days from infusion {anchor.seq} on {anchor.start:%Y-%m-%d}; "
            f"the window is {low:+d} to {high:+d} days",
        )


def move_step(
    course: Course,
    calendar: ClinicCalendar,
    kind: str,
    seq: int,
    to: datetime,
    now: datetime,
    *,
    occupancy: Occupancy | None = None,
) -> list[PlannedEvent]:
    """Move one dated step (a collection, a delivery, the follow-up) inside its window.

    Same-day steps such as the pre-infusion blood test move only with their infusion.
    """
    protocol = course.protocol
    step = next((s for s in protocol.steps if s.kind == kind), None)
    current = next((e for e in course.events if e.kind == kind and e.seq == seq), None)
    if step is None or current is None:
        raise PlanningError("reschedule", f"this course has no {kind} {seq}")
    if step.time is None:
        raise PlanningError(
            "reschedule", f"the {kind.replace('_', ' ')} moves with infusion {seq}; "
            "reschedule the infusion instead")
    if is_fixed(current, now):
        raise PlanningError("reschedule", f"the {kind.replace('_', ' ')} is "
                            f"{effective_status(current, now).value}; it cannot move")
    placer = Placer(protocol, calendar, occupancy or Occupancy())
    _check_step_start(placer, step, to, now)
    anchor = course.infusion(seq)
    moved = replace(current, start=to, end=to + timedelta(minutes=step.minutes))
    _check_window(step, moved, anchor)
    return sort_events([moved if e is current else e for e in course.events])


def _check_step_start(placer: Placer, step: Step, start: datetime, now: datetime) -> None:
    calendar = placer.calendar
    day = _check_open_and_ahead(calendar, start, now)
    if not calendar.within_hours(start, start + timedelta(minutes=step.minutes)):
        raise PlanningError(
            "reschedule.to", f"{start:%H:%M} + {step.minutes} minutes is outside clinic hours "
            f"({calendar.hours_label})")
    if placer.step_on(replace(step, time=start.timetz().replace(tzinfo=None)), day, 0) is None:
        raise PlanningError("clinic.capacity", f"no room left for another {step.kind} on {day}")
