"""Planning new courses, one or a batch: checked, planned by the pure core against what
other courses booked, and stored together (all of them or none)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from planner.batch import prepared_in_order
from planner.core.errors import InputError, PlanningError
from planner.core.model import Occupancy
from planner.core.schedule import Plan, plan_course
from planner.service.base import PlannerBase, read_and_write
from planner.store.aggregate import OCCUPANCY_MARGIN
from planner.store.rows import NewCourse, PreparedCourse, prepare_course

ActiveSpans = dict[int, list[tuple[int, datetime, datetime]]]
PlanOne = Callable[[int, "CourseRequest", Occupancy], Plan]
Prepare = Callable[[int, Plan, bool], PreparedCourse]


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


class Planning(PlannerBase):
    """Planning and storing new courses."""

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

    @read_and_write
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
        now = self.now()
        plan_one, prepare = self._batch_steps(requests, now)
        prepared: list[PreparedCourse] = []

        def courses() -> Iterator[PreparedCourse]:
            """Stored as they are planned (in a worker process for a large batch)."""
            for course in prepared_in_order(plan_one, prepare, requests, occupancy):
                prepared.append(course)
                yield course

        ids = self.store.create_courses(courses(), uid_domain=self.settings.export.uid_domain,
                                        actor=self.actor, now=now)
        return list(zip(ids, prepared, strict=True))

    def _batch_steps(self, requests: Sequence[CourseRequest], now: datetime
                     ) -> tuple[PlanOne, Prepare]:
        """The two steps of each course of a batch: plan it against what the courses
        before it booked (refusing an overlap with the patient's active course), and turn
        the plan into the rows to store."""
        single = len(requests) == 1
        active: ActiveSpans = self.store.active_course_spans({r.patient_id for r in requests})
        away = self.store.away_days_of({r.patient_id for r in requests})

        def plan_one(index: int, request: CourseRequest, booked: Occupancy) -> Plan:
            plan = self._plan_one(request, booked, None if single else index,
                                  away.get(request.patient_id))
            _check_no_overlap(request, plan, active, None if single else index)
            return plan

        def prepare(index: int, plan: Plan, local: bool) -> PreparedCourse:
            request = requests[index]
            new = NewCourse(request.patient_id, self.settings.protocol(request.protocol_name),
                            plan, request.planned_from, request.start)
            return prepare_course(new, self.settings.reminders, self.settings.clinic.timezone,
                                  now, keep_plan=local)

        return plan_one, prepare

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


def _check_no_overlap(request: CourseRequest, plan: Plan, active: ActiveSpans,
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
