"""Plan and store 10,000 courses, then export the clinic's calendar.

Run: python benchmarks/bench_plan.py [--courses N]

Targets (issue 2, on the project's 2-core machine): >= 2,000 courses planned and stored
per second; a 10,000-event .ics export in <= 1.5 s. Courses go through the same library
call staff use (``Planner.plan``: occupancy query, pure planning, one transaction).
The clinic is given room for this many courses (30 chairs, 40 collections a day) and the
first infusions are spread over five years, as a large clinic's would be.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from planner.calendars.ics import clear_caches
from planner.clock import FixedClock
from planner.config.settings import Settings, parse_settings
from planner.core.errors import PlanningError
from planner.core.schedule import plan_course
from planner.service import CourseRequest, Planner
from planner.store.courses import Store, open_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--courses", type=int, default=10_000)
    args = parser.parse_args()
    clinic = {"infusion_chairs": 30, "collections_per_day": 40}
    print("== with the default reminder rules (every course's reminders stored too)")
    _run(parse_settings({"clinic": clinic}, "benchmark"), args.courses, export=True)
    print("== with no reminder rules ([reminders] rule = []: events and audit only)")
    _run(parse_settings({"clinic": clinic, "reminders": {"rule": []}}, "benchmark"),
         args.courses, export=False)


def _run(settings: Settings, courses: int, *, export: bool) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        store = Store(open_database(Path(scratch) / "bench.db"))
        planner = Planner(store, settings, FixedClock(datetime(2026, 1, 1, tzinfo=UTC)),
                          "benchmark")
        patients = _add_patients(store, courses + SINGLE)
        _plan_courses(planner, patients[:courses], patients[courses:])
        reminders = store.db.execute("SELECT COUNT(*) FROM reminders").fetchone()[0]
        print(f"reminders stored: {reminders:,}")
        if export:
            _export(planner)


def _add_patients(store: Store, count: int) -> list[int]:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    with store.transaction():
        store.db.conn.executemany(
            "INSERT INTO patients (name, lang, created_at) VALUES (?, ?, ?)",
            [(f"患者 {i}", "ja" if i % 4 else "en", now.isoformat()) for i in range(count)])
    ids = [row[0] for row in store.db.execute("SELECT id FROM patients ORDER BY id")]
    print(f"patients added: {count:,} in {time.perf_counter() - started:.2f} s")
    return ids


SINGLE = 300


def _plan_courses(planner: Planner, patients: list[int], others: list[int]) -> None:
    """Plan one course per patient in one batch (``Planner.plan_many``, as
    ``planner plan-many`` does), then one course for each of a few hundred other patients
    one by one (a patient has one active course at a time)."""
    starts = _plannable_starts(planner, len(patients))
    requests = [CourseRequest(p, first_infusion=d) for p, d in zip(patients, starts, strict=True)]
    started = time.perf_counter()
    planner.plan_many(requests)
    elapsed = time.perf_counter() - started
    events = planner.store.db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    print(f"batch: {len(requests):,} courses planned and stored in {elapsed:.2f} s = "
          f"{len(requests) / elapsed:,.0f} courses/s (target >= 2,000/s); {events:,} events")
    single = [CourseRequest(p, first_infusion=r.first_infusion)
              for p, r in zip(others, requests, strict=False)]
    started = time.perf_counter()
    for request in single:
        planner.plan(request.patient_id, first_infusion=request.first_infusion)
    elapsed = time.perf_counter() - started
    print(f"one at a time (planner plan): {len(single)} courses in {elapsed:.2f} s = "
          f"{len(single) / elapsed:,.0f} courses/s into a database of {len(patients):,} courses")


def _plannable_starts(planner: Planner, count: int) -> list[date]:
    """First infusions spread over five years on days whose plan bends no rule, the same
    days as before bends existed so the figures compare across versions (a plan that
    bends over a closure costs a few times more: see ``sweep_starts.py``); checked before
    the clock starts."""
    spread = 5 * 365
    first = date(2026, 3, 2)
    candidates = [first + timedelta(days=(i * 7919) % spread) for i in range(spread)]
    good = []
    for day in candidates:
        try:
            plan = plan_course(planner.settings.protocol(None), planner.calendar,
                               first_infusion=day)
        except PlanningError:
            continue
        if not plan.exceptions:
            good.append(day)
    return [good[i % len(good)] for i in range(count)]


def _export(planner: Planner) -> None:
    timings = []
    for _ in range(3):
        clear_caches()
        started = time.perf_counter()
        data = planner.export(role=None)
        timings.append(time.perf_counter() - started)
    count = data.count(b"BEGIN:VEVENT")
    print(f"whole-clinic export: {count:,} events, {len(data) / 1e6:.1f} MB, "
          f"best {min(timings):.2f} s, median {statistics.median(timings):.2f} s (cold cache)")
    _export_10k(planner)


def _export_10k(planner: Planner) -> None:
    """A clinic export of 10,000 events: the staff view of the first weeks."""
    (last,) = planner.store.db.execute(
        "SELECT start_ts FROM events ORDER BY start_ts LIMIT 1 OFFSET 9999").fetchone()
    until = datetime.fromtimestamp(last + 1, UTC)
    timings = []
    for _ in range(5):
        clear_caches()
        started = time.perf_counter()
        data = planner.export(until=until)
        timings.append(time.perf_counter() - started)
    print(f"10,000-event export: {data.count(b'BEGIN:VEVENT'):,} events, "
          f"best {min(timings):.2f} s, median {statistics.median(timings):.2f} s "
          "(target <= 1.5 s; cold cache; database query included)")


if __name__ == "__main__":
    main()
