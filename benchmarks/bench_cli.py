"""How long staff wait for a command: whole `planner` processes, timed from outside.

Run: python benchmarks/bench_cli.py [--runs N] [--courses N]

Each command runs as its own process (``python -m planner …``), as a nurse's terminal runs
it, so imports, config and database opening are all counted. CPU time (user + system of the
child, from ``getrusage``) is what the targets name because it does not depend on what else
the machine is doing; wall time is printed beside it. ``python -c pass`` is the floor.

Python's compiled bytecode is kept (in a scratch ``PYTHONPYCACHEPREFIX``, even when
``PYTHONDONTWRITEBYTECODE`` is set) and each command runs once untimed first, as on an
installed planner whose modules were compiled at install: otherwise every run would time
compiling the planner's sources again.

Targets (issue 8, on the project's 2-core machine): ``planner --help`` <= 0.10 s CPU and
``planner show ID`` on a 10,000-course database <= 0.15 s CPU (medians).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from planner.clock import FixedClock
from planner.config.settings import parse_settings
from planner.core.errors import PlanningError
from planner.core.schedule import plan_course
from planner.service import CourseRequest, Planner
from planner.store.courses import Store, open_database

CLINIC_TOML = """\
[clinic]
infusion_chairs = 30
collections_per_day = 40
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--courses", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / "clinic.toml").write_text(CLINIC_TOML, encoding="utf-8")
        patient, fresh = _build_database(folder, args.courses, args.runs)
        env = {**os.environ, "PLANNER_CONFIG": str(folder / "clinic.toml"),
               "PLANNER_DB": str(folder / "clinic.db"),
               "PYTHONPYCACHEPREFIX": str(folder / "pycache")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        planner = [sys.executable, "-m", "planner"]
        warm_up, *fresh = fresh
        for command in ([sys.executable, "-c", "pass"], [*planner, "--help"],
                        [*planner, "show", str(patient)],
                        [*planner, "plan", str(warm_up[0]), "--first-infusion",
                         warm_up[1].isoformat()]):
            subprocess.run(command, env=env, capture_output=True, check=True)
        floor = _measure("python -c pass", [[sys.executable, "-c", "pass"]] * args.runs, env)
        _measure("planner --help", [[*planner, "--help"]] * args.runs, env, floor, 0.10)
        _measure(f"planner show {patient}", [[*planner, "show", str(patient)]] * args.runs,
                 env, floor, 0.15)
        plans = [[*planner, "plan", str(p), "--first-infusion", day.isoformat()]
                 for p, day in fresh]
        _measure("planner plan", plans, env, floor)


def _build_database(folder: Path, courses: int, runs: int) -> tuple[int, list[tuple[int, date]]]:
    """A clinic of ``courses`` courses (one per patient) and ``runs`` + 1 patients with none yet.

    Returns a patient to show and (patient, first infusion) pairs for the ``plan`` runs
    (one more than ``runs``: the first warms up), whose first infusions lie ahead of
    today's clock so the plans are accepted.
    """
    settings = parse_settings({"clinic": {"infusion_chairs": 30, "collections_per_day": 40}},
                              "benchmark")
    store = Store(open_database(folder / "clinic.db"))
    planner = Planner(store, settings, FixedClock(datetime(2026, 1, 1, tzinfo=UTC)), "bench")
    now = datetime(2026, 1, 1, tzinfo=UTC).isoformat()
    with store.transaction():
        store.db.conn.executemany(
            "INSERT INTO patients (name, lang, created_at) VALUES (?, ?, ?)",
            [(f"患者 {i}", "ja", now) for i in range(courses + runs + 1)])
    ids = [row[0] for row in store.db.execute("SELECT id FROM patients ORDER BY id")]
    starts = _plannable(planner, date(2026, 3, 2), 5 * 365, courses)
    started = time.perf_counter()
    planner.plan_many([CourseRequest(p, first_infusion=d)
                       for p, d in zip(ids[:courses], starts, strict=True)])
    print(f"database: {courses:,} courses planned in {time.perf_counter() - started:.1f} s")
    today = datetime.now(UTC).date()  # the plan runs use the real clock, as staff do
    ahead = _plannable(planner, today + timedelta(days=60), 365, runs + 1)
    store.db.conn.close()
    return ids[courses // 2], list(zip(ids[courses:], ahead, strict=True))


def _plannable(planner: Planner, first: date, spread: int, count: int) -> list[date]:
    """``count`` first-infusion days from ``first`` on, spread over ``spread`` days, each one
    a day a course can start on (so every timed run measures a plan, not a refusal)."""
    good = []
    for offset in range(spread):
        day = first + timedelta(days=(offset * 7919) % spread)
        try:
            plan_course(planner.settings.protocol(None), planner.calendar, first_infusion=day)
        except PlanningError:
            continue
        good.append(day)
    return [good[i % len(good)] for i in range(count)]


def _measure(label: str, commands: list[list[str]], env: dict[str, str],
             floor: float | None = None, target: float | None = None) -> float:
    """Run each command once; print the median CPU and wall time. Returns the median CPU."""
    cpu, wall = [], []
    for command in commands:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, check=False)
        wall.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise SystemExit(f"{label}: exit {done.returncode}: {done.stderr.decode()[-500:]}")
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    median = statistics.median(cpu)
    line = (f"{label:<22} CPU median {median:.3f} s (min {min(cpu):.3f}, max {max(cpu):.3f}), "
            f"wall median {statistics.median(wall):.3f} s, {len(cpu)} runs")
    if floor is not None:
        line += f"; {median / floor:.1f}x python -c pass"
    if target is not None:
        line += f"; target <= {target:.2f} s: {'met' if median <= target else 'MISSED'}"
    print(line)
    return median


if __name__ == "__main__":
    main()
