"""What staff do, as library calls: plan, change, export. The CLI and the bot call these.

Each call reads the course from the store, asks the pure planner for the new course,
checks the culture lab's notice window, and writes the difference in one transaction.
"now" comes from the injected clock.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from planner.batch import prepared_in_order
from planner.calendars.exports import (
    PATIENT_VIEW,
    STAFF_VIEW,
    Audience,
    SnapshotProtocols,
    Wording,
    audience_of,
    entries,
)
from planner.calendars.ics import render_calendar
from planner.clock import Clock
from planner.config.settings import Settings
from planner.core.bends import find_bends
from planner.core.calendar import ClinicCalendar
from planner.core.course import Course, is_fixed, lab_notice_changes, slot_key
from planner.core.errors import InputError, NoticeWindowError, PlanningError
from planner.core.limits import MAX_POSTPONE_DAYS
from planner.core.makeup import record_missed
from planner.core.model import INFUSION, Occupancy, PlannedEvent, Status, StoredEvent
from planner.core.reschedule import cancel, move_infusion, move_step, postpone
from planner.core.schedule import Plan, plan_course
from planner.store.change_notices import tell_patient
from planner.store.courses import Store
from planner.store.links import Links
from planner.store.outbox import Outbox
from planner.store.rows import NewCourse, PreparedCourse, prepare_course
from planner.texts.calendar_words import calendar_name

OCCUPANCY_MARGIN = timedelta(days=60)
_Args = ParamSpec("_Args")
_Result = TypeVar("_Result")


def _read_and_write(method: Callable[Concatenate[Planner, _Args], _Result]
                    ) -> Callable[Concatenate[Planner, _Args], _Result]:
    """Run a method that reads courses (or the chairs booked) and writes a change in one
    immediate transaction: a second nurse's change of the same course waits and then works
    on this one's result, instead of overwriting it with what it read before."""

    @functools.wraps(method)
    def in_one_transaction(self: Planner, *args: _Args.args, **kwargs: _Args.kwargs
                           ) -> _Result:
        with self.store.transaction():
            return method(self, *args, **kwargs)

    return in_one_transaction


@dataclass(frozen=True)
class CourseRequest:
    """One course to plan: for a patient, from its first infusion or its collection."""

    patient_id: int
    first_infusion: date | None = None
    collection: date | None = None
    protocol_name: str | None = None
    collected: bool = False

    @property
    def start(self) -> date:
        start = self.first_infusion or self.collection
        assert start is not None
        return start

    @property
    def planned_from(self) -> str:
        return "first_infusion" if self.first_infusion else "collection"


@dataclass(frozen=True)
class Change:
    """What a change did: the events it touched and those flagged for the lab."""

    course_id: int
    changed: list[int]
    lab_attention: list[str]
    warning: str | None = None


class Planner:
    """The planner's operations over one store, one configuration and one clock."""

    def __init__(self, store: Store, settings: Settings, clock: Clock, actor: str = "cli"):
        self.store = store
        self.settings = settings
        self.clock = clock
        self.actor = actor
        self.calendar = ClinicCalendar(settings.clinic)
        self.outbox = Outbox(store.db)
        self.links = Links(store.db)
        self.tz = ZoneInfo(settings.clinic.timezone)

    def now(self) -> datetime:
        return self.clock.now().astimezone(self.tz)

    def at(self, day: date, clock: time | None) -> datetime:
        return datetime.combine(day, clock or time(0), tzinfo=self.tz)

    # -- planning ----------------------------------------------------------------------

    def plan(self, patient_id: int, *, first_infusion: date | None = None,
             collection: date | None = None, protocol_name: str | None = None,
             collected: bool = False) -> tuple[int, Plan]:
        """Plan and store a course; nothing is stored when it cannot be planned.

        ``collected`` says the collection on ``collection`` already happened (kept as
        done on that day); otherwise a plan with an event before now is refused."""
        request = CourseRequest(patient_id, first_infusion, collection, protocol_name,
                                collected)
        ((course_id, prepared),) = self.plan_many([request])
        assert prepared.plan is not None  # one course is planned in this process
        return course_id, prepared.plan

    @_read_and_write
    def plan_many(self, requests: Sequence[CourseRequest]
                  ) -> list[tuple[int, PreparedCourse]]:
        """Plan and store several courses in one transaction: all of them or none.

        Each course sees the ones planned before it, so capacity holds across the batch.
        A refusal names the request (its position, patient and start) and its reason.
        """
        for request in requests:
            self._check_request(request)
        self.store.check_patients({r.patient_id for r in requests})
        if not requests:
            return []
        starts = [r.start for r in requests]
        occupancy = self.store.occupancy(min(starts) - OCCUPANCY_MARGIN,
                                         max(starts) + OCCUPANCY_MARGIN, self.tz)
        single = len(requests) == 1
        active = self.store.active_course_spans({r.patient_id for r in requests})
        away = self.store.away_days_of({r.patient_id for r in requests})

        def plan_one(index: int, request: CourseRequest, booked: Occupancy) -> Plan:
            plan = self._plan_one(request, booked, None if single else index,
                                  away.get(request.patient_id))
            _check_no_overlap(request, plan, active, None if single else index)
            return plan

        now = self.now()

        def prepare(index: int, plan: Plan, local: bool) -> PreparedCourse:
            request = requests[index]
            new = NewCourse(request.patient_id, self.settings.protocol(request.protocol_name),
                            plan, request.planned_from, request.start)
            return prepare_course(new, self.settings.reminders, self.settings.clinic.timezone,
                                  now, keep_plan=local)

        prepared: list[PreparedCourse] = []

        def courses() -> Iterator[PreparedCourse]:
            """Stored as they are planned (in a worker process for a large batch)."""
            for course in prepared_in_order(plan_one, prepare, requests, occupancy):
                prepared.append(course)
                yield course

        ids = self.store.create_courses(courses(), uid_domain=self.settings.export.uid_domain,
                                        actor=self.actor, now=now)
        return list(zip(ids, prepared, strict=True))

    def _check_request(self, request: CourseRequest) -> None:
        if (request.first_infusion is None) == (request.collection is None):
            raise InputError("give exactly one of --first-infusion and --collection")
        self.settings.protocol(request.protocol_name)
        if request.collected and request.collection is None:
            raise InputError("--collected: needs --collection DATE (the day it happened)")
        if request.collected:
            if request.start > self.now().date():
                raise InputError(f"--collected: {request.start:%Y-%m-%d} has not come yet")
        elif self.at(request.start, time(23, 59)) < self.now():
            raise InputError(f"{request.start:%Y-%m-%d} is in the past")

    def _plan_one(self, request: CourseRequest, occupancy: Occupancy,
                  index: int | None, away: dict[date, str] | None = None) -> Plan:
        try:
            return plan_course(self.settings.protocol(request.protocol_name), self.calendar,
                               first_infusion=request.first_infusion,
                               collection=request.collection, occupancy=occupancy,
                               now=self.now(), collected=request.collected,
                               away=away)
        except PlanningError as error:
            if index is None:
                raise
            raise PlanningError(
                f"course {index + 1} (patient {request.patient_id}, {request.planned_from} "
                f"{request.start:%Y-%m-%d}): {error.rule}", error.reason, error.suggestion
            ) from None

    def course(self, course_id: int) -> Course:
        """The course with its events in the clinic's zone (so weekdays and DST are right)."""
        state = self.store.course_state(course_id)
        events = tuple(
            PlannedEvent(e.kind, e.seq, e.start.astimezone(self.tz), e.end.astimezone(self.tz),
                         e.status)
            for e in state.events
        )
        return Course(state.protocol, events)

    def _occupancy_for(self, course_id: int, around: date) -> Occupancy:
        return self.store.occupancy(around - OCCUPANCY_MARGIN, around + OCCUPANCY_MARGIN,
                                    self.tz, exclude_course=course_id)

    # -- changes -----------------------------------------------------------------------

    @_read_and_write
    def reschedule(self, event_id: int, to: date | datetime, *, only: bool = False,
                   force: bool = False) -> Change:
        """Move an event; a date without a time keeps the event's time of day."""
        event = self.store.event(event_id)
        self._check_course_active(event.course_id)
        course = self.course(event.course_id)
        start = to if isinstance(to, datetime) else self.at(
            to, event.start.astimezone(self.tz).time())
        occupancy = self._occupancy_for(event.course_id, start.date())
        if event.kind == INFUSION:
            new = move_infusion(course, self.calendar, event.seq, start, self.now(), only=only,
                                occupancy=occupancy, away=self._course_away(event.course_id))
        else:
            new = move_step(course, self.calendar, event.kind, event.seq, start, self.now(),
                            occupancy=occupancy)
        return self._write(event.course_id, course, new, "event.reschedule", force=force,
                           reason=f"event {event_id} to {start.isoformat()}")

    @_read_and_write
    def missed(self, event_id: int, *, makeup: bool = True) -> Change:
        """Mark an infusion missed; never refused because a make-up does not fit (the miss
        is recorded without one and staff get an alert saying why). The lab is flagged."""
        event = self.store.event(event_id)
        if event.kind != INFUSION:
            raise InputError(f"EVENT_ID: event {event_id} is a {event.kind}; only infusions "
                             "can be marked missed")
        self._check_course_active(event.course_id)
        course = self.course(event.course_id)
        result = record_missed(
            course, self.calendar, event.seq, self.now(), makeup=makeup,
            occupancy=self._occupancy_for(event.course_id, event.start.date()),
            away=self._course_away(event.course_id))
        with self.store.transaction():  # the miss, its reminders and the alert together
            change = self._write(event.course_id, course, result.events, "event.missed",
                                 force=True, reason=f"infusion {event.seq} missed"
                                 + ("" if makeup and not result.no_makeup_reason
                                    else ", no make-up"))
            if result.no_makeup_reason is None:
                return change
            self.outbox.add_alert("lab_notice", ("nurse", "doctor", "lab"),
                                  {"changes": [result.no_makeup_reason], "action": "event.missed",
                                   "reason": result.no_makeup_reason}, self.now(),
                                  course_id=event.course_id, event_id=event_id)
        return replace(change, warning=result.no_makeup_reason)

    def visits_between(self, patient_id: int, first: date, last: date) -> list[StoredEvent]:
        """The patient's scheduled visits still ahead from ``first`` to ``last`` (included)."""
        return [e for e in self.upcoming_visits(patient_id)
                if first <= e.start.astimezone(self.tz).date() <= last]

    def _course_away(self, course_id: int) -> dict[date, str]:
        return self.away_days(self.store.course(course_id)["patient_id"])

    def away_days(self, patient_id: int) -> dict[date, str]:
        """Days the patient cannot come (see ``planner patient away``), with the reason."""
        return self.store.away_days_of({patient_id}).get(patient_id, {})

    @_read_and_write
    def postpone(self, course_id: int, *, days: int | None = None, to: date | None = None,
                 force: bool = False) -> Change:
        """Shift the rest of a course by ``days``, or so that its next infusion is on ``to``."""
        self._check_course_active(course_id)
        course = self.course(course_id)
        if to is not None:
            ahead = [e for e in course.events if e.kind == INFUSION
                     and e.status is Status.SCHEDULED and not is_fixed(e, self.now())]
            if not ahead:
                raise PlanningError("postpone", "no infusion of this course is still ahead")
            next_infusion = min(ahead, key=lambda e: e.start)
            days = (to - next_infusion.start.date()).days
            if days < 1:
                raise InputError(f"--to: {to:%Y-%m-%d} is not after the next infusion on "
                                 f"{next_infusion.start:%Y-%m-%d}")
            if days > MAX_POSTPONE_DAYS:
                raise InputError(f"--to: {to:%Y-%m-%d} is more than {MAX_POSTPONE_DAYS} days "
                                 f"after the next infusion on {next_infusion.start:%Y-%m-%d}")
        assert days is not None
        occupancy = self._occupancy_for(course_id, self.now().date() + timedelta(days=days))
        new = postpone(course, self.calendar, days, self.now(), occupancy=occupancy,
                       away=self._course_away(course_id))
        return self._write(course_id, course, new, "course.postpone", force=force,
                           reason=f"postponed by {days} days")

    @_read_and_write
    def cancel(self, course_id: int, reason: str, *, force: bool = False) -> Change:
        self._check_course_active(course_id)
        course = self.course(course_id)
        new = cancel(course, self.now())
        return self._write(course_id, course, new, "course.cancel", force=force, reason=reason,
                           course_status="cancelled")

    def _check_course_active(self, course_id: int) -> None:
        if self.store.course(course_id)["status"] == "cancelled":
            raise InputError(f"course {course_id} is cancelled; plan a new course instead")

    def _write(self, course_id: int, course: Course, new: list[PlannedEvent], action: str, *,
               force: bool, reason: str, course_status: str | None = None) -> Change:
        notice = self.settings.clinic.lab_notice_days
        inside = lab_notice_changes(course.events, new, course.protocol, self.now(), notice)
        if inside and not force:
            first = inside[0][1]
            raise NoticeWindowError(
                f"this change reaches inside the culture lab's notice window ({notice} days): "
                f"{_describe(inside[0][0], first)}"
                + (f" and {len(inside) - 1} more" if len(inside) > 1 else "")
                + "; run again with --force to make it anyway (the lab will be flagged)")
        keys = {slot_key(course.protocol, new_event) for _, new_event in inside}
        with self.store.transaction():
            changed = self.store.apply_change(course_id, new, action=action, actor=self.actor,
                                              now=self.now(), reason=reason, lab_attention=keys,
                                              course_status=course_status)
            self.store.set_exceptions(course_id,
                                      find_bends(course.protocol, self.calendar, new))
            self.outbox.sync_course(course_id, self.settings.reminders,
                                    self.settings.clinic.timezone, self.now())
            tell_patient(self.store.db, self.settings, course_id, course.protocol,
                         course.events, new, self.now())
            if inside:
                self.outbox.add_alert(
                    "lab_notice", ("lab", "nurse"),
                    {"changes": [_describe(old, new_event) for old, new_event in inside],
                     "items": [_notice_item(old, new_event) for old, new_event in inside],
                     "action": action, "reason": reason}, self.now(), course_id=course_id)
        return Change(course_id, changed, sorted(f"{k} {s}" for k, s in keys))

    # -- reading -----------------------------------------------------------------------

    def upcoming_visits(self, patient_id: int) -> list[StoredEvent]:
        """The patient's scheduled events still ahead that the patient attends, in order."""
        visits = []
        for course in self.store.courses_of(patient_id):
            protocol = self.store.course_protocol(course["id"])
            visits += [e for e in self.store.events_of(course["id"])
                       if e.status is Status.SCHEDULED and e.start > self.now()
                       and "patient" in audience_of(protocol, e.kind)]
        return sorted(visits, key=lambda e: e.start)

    def agenda(self, first: date, last: date, role: str | None = None) -> list[dict[str, Any]]:
        rows = self.store.agenda(self.at(first, None), self.at(last + timedelta(days=1), None))
        if role is None:
            return rows
        protocols = SnapshotProtocols()
        snapshots = {c: self.store.course(c)["protocol_snapshot"]
                     for c in {r["course_id"] for r in rows}}
        return [r for r in rows
                if role in audience_of(protocols.get(snapshots[r["course_id"]]), r["kind"])]

    def export(self, *, patient_id: int | None = None, course_id: int | None = None,
               role: str | None = None, since: datetime | None = None,
               until: datetime | None = None) -> bytes:
        """The .ics bytes for one patient, one course, one staff role, or the whole clinic,
        optionally only events starting in [since, until)."""
        if patient_id is not None:
            self.store.patient(patient_id)
        if course_id is not None:
            self.store.course(course_id)
        patient_view = patient_id is not None or course_id is not None
        audience = Audience(PATIENT_VIEW) if patient_view else Audience(STAFF_VIEW, role)
        rows = self.store.export_rows(patient_id=patient_id, course_id=course_id,
                                      since=since, until=until)
        selected = entries(rows, audience, Wording.of(self.settings),
                           self.settings.clinic.timezone, self.store.infusion_totals())
        return render_calendar(selected, timezone=self.settings.clinic.timezone,
                               name=self._calendar_name(patient_id, course_id, role),
                               alarm_minutes=self.settings.export.alarm_minutes)

    def _calendar_name(self, patient_id: int | None, course_id: int | None,
                       role: str | None) -> str:
        """In the patient's language for a patient's or a course's calendar."""
        clinic = self.settings.clinic.name
        if course_id is not None:
            patient_id = self.store.course(course_id)["patient_id"]
        if patient_id is not None:
            lang = self.store.patient(patient_id)["lang"]
            return calendar_name(clinic, lang, patient=True, role=None)
        return calendar_name(clinic, self.settings.export.staff_language, patient=False,
                             role=role)


def _check_no_overlap(request: CourseRequest, plan: Plan,
                      active: dict[int, list[tuple[int, datetime, datetime]]],
                      index: int | None) -> None:
    """One active course per patient at a time: refuse a plan that overlaps one (an
    active course stored, or one planned earlier in the same batch), naming it."""
    first, last = plan.events[0].start, plan.events[-1].start
    courses = active.setdefault(request.patient_id, [])
    for course_id, begins, ends in courses:
        if begins <= last and first <= ends:
            what = f"course {course_id}" if course_id > 0 else f"course {-course_id} of this file"
            rule = "plan.active_course" if index is None else (
                f"course {index + 1} (patient {request.patient_id}, {request.planned_from} "
                f"{request.start:%Y-%m-%d}): plan.active_course")
            raise PlanningError(
                rule,
                f"patient {request.patient_id} already has {what} from "
                f"{begins.astimezone(first.tzinfo):%Y-%m-%d} to "
                f"{ends.astimezone(first.tzinfo):%Y-%m-%d}, which this course would overlap; "
                + (f"end it first (planner cancel {course_id} --reason TEXT) or plan after "
                   "its last event" if course_id > 0 else
                   "keep one line per patient and course"))
    courses.append((-(index + 1) if index is not None else 0, first, last))


def _describe(old: PlannedEvent | None, new: PlannedEvent) -> str:
    what = f"{new.kind.replace('_', ' ')} {new.seq}"
    if old is None:
        return f"{what} added on {new.start:%Y-%m-%d %H:%M}"
    if new.status is not Status.SCHEDULED:
        return f"{what} on {old.start:%Y-%m-%d %H:%M} becomes {new.status.value}"
    return f"{what} moves from {old.start:%Y-%m-%d %H:%M} to {new.start:%Y-%m-%d %H:%M}"



def _notice_item(old: PlannedEvent | None, new: PlannedEvent) -> dict[str, Any]:
    """One change for the lab as data, so each reader gets it in their own language."""
    return {"kind": new.kind, "seq": new.seq, "status": new.status.value,
            "before": old.start.isoformat() if old is not None else None,
            "after": new.start.isoformat(),
            "was_scheduled": old is None or old.status is Status.SCHEDULED}
