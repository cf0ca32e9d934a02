"""Large batches are planned in a worker process: same plans, same refusals, all or none."""

from datetime import UTC, date, datetime, timedelta

import pytest

from planner import batch
from planner.clock import FixedClock
from planner.config.settings import parse_settings
from planner.core.calendar import ClinicCalendar
from planner.core.errors import PlanningError
from planner.core.schedule import plan_course
from planner.service import CourseRequest, Planner
from planner.store.courses import Store, open_database

# A protocol that bends nothing, so a course across the year-end closure is refused.
SETTINGS = parse_settings({"clinic": {"infusion_chairs": 20, "collections_per_day": 10},
                           "protocol": {"ank": {"bends_per_course": 0}},
                           "reminders": {"rule": []}}, "test")
JANUARY_2026 = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))


def plannable(day):
    try:
        plan_course(SETTINGS.protocol(None), ClinicCalendar(SETTINGS.clinic), first_infusion=day)
    except PlanningError:
        return False
    return True


# Mondays, Tuesdays and Wednesdays from June 2027 that a course can start on (holidays
# left out), each asked for about seven times, so the 10:00 chairs fill and later courses
# take later slots.
STARTS = [day for day in (date(2027, 6, 7) + timedelta(weeks=w, days=d)
                          for w in range(26) for d in range(3)) if plannable(day)]


def planner_on(path, count):
    planner = Planner(Store(open_database(path)), SETTINGS, JANUARY_2026, "test")
    with planner.store.transaction():
        for number in range(count):
            planner.store.add_patient(f"Patient {number}", "ja", None, "test",
                                      JANUARY_2026.now())
    return planner


def requests(count):
    return [CourseRequest(n + 1, first_infusion=STARTS[n % len(STARTS)]) for n in range(count)]


def stored_events(planner):
    return planner.store.db.execute(
        "SELECT course_id, kind, seq, start, \"end\" FROM events ORDER BY id").fetchall()


def test_a_batch_planned_in_the_worker_equals_one_planned_here(tmp_path, monkeypatch):
    count = batch.PARALLEL_FROM + 20
    in_worker = planner_on(tmp_path / "worker.db", count)
    in_worker.plan_many(requests(count))
    monkeypatch.setattr(batch, "PARALLEL_FROM", 10**9)
    here = planner_on(tmp_path / "here.db", count)
    here.plan_many(requests(count))
    assert stored_events(in_worker) == stored_events(here)
    assert len(stored_events(here)) == count * 26
    later_slots = in_worker.store.db.execute(
        "SELECT COUNT(*) FROM events WHERE kind = 'infusion' AND start NOT LIKE '%T10:00%'"
    ).fetchone()[0]
    assert later_slots > 0  # capacity really was shared across the batch


def test_a_refusal_in_the_worker_stores_nothing_and_names_the_course(tmp_path):
    count = batch.PARALLEL_FROM + 5
    planner = planner_on(tmp_path / "clinic.db", count)
    asked = requests(count)
    asked[-1] = CourseRequest(count, first_infusion=date(2026, 12, 14))  # across the closure
    with pytest.raises(PlanningError, match=f"course {count} .*year-end closure"):
        planner.plan_many(asked)
    assert stored_events(planner) == []
