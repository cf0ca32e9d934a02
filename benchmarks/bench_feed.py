"""Serve one whole-clinic staff feed of about 10,000 events and poll it like calendar apps do.

Run: python benchmarks/bench_feed.py [--courses 385] [--seconds 30] [--clients 50]

Targets (issue 4, on the project's 2-core machine):

- first build of the feed (cold ``planner.calendars.ics`` caches, a new ``Feeds``) <= 1.5 s;
- unchanged re-poll with If-None-Match (304), p95 <= 10 ms over 200 requests;
- re-poll after one event changed (one follow-up rescheduled between polls), p95 <= 100 ms
  over 50 rounds;
- 50 clients polling at once for 30 s (If-None-Match after the first answer; an event is
  rescheduled every few seconds), no error, p99 <= 200 ms.

The clinic has 30 chairs and 40 collections a day; ~385 courses of 26 events start on the
plannable days of one year from 91 days ago (``Planner.plan_many``; the first ~135
plannable days get two courses each), so the feed's window (7 days back, 56 days ahead
by default) lies in the busiest stretch, and must stay under the 1 MB at which Google
Calendar stops updating a feed. The changes between polls move follow-ups of courses
that started in the last 30 days, which lie inside the window. The server is
``planner serve`` in its own process, so clients and server do not share a GIL; changes
go through ``Planner`` on another connection, as the CLI makes them. Clients ask for
gzip, as calendar apps do, and read the raw bytes (the time is the server's and the
transfer's, not decompression's).
All traffic goes to 127.0.0.1; every loop is bounded by a count or a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import aiohttp
import httpx

from planner.calendars.feeds import Feeds
from planner.calendars.ics import clear_caches
from planner.clock import FixedClock
from planner.config.settings import Settings, load_settings
from planner.core.errors import PlannerError, PlanningError
from planner.core.schedule import plan_course
from planner.service import CourseRequest, Planner
from planner.store.courses import Store, open_database

CONFIG = "[clinic]\ninfusion_chairs = 30\ncollections_per_day = 40\n"
TODAY = datetime.now(UTC).date()  # a benchmark is an edge: it may read the clock
FIRST_START = TODAY - timedelta(days=91)
PLANNED_AT = datetime.combine(FIRST_START - timedelta(days=60), datetime.min.time(), UTC)
NOW = datetime.now(UTC)
GZIP = {"Accept-Encoding": "gzip"}


@dataclass
class Bench:
    """The clinic's files, its staff-side planner and the feed's URL path."""

    folder: Path
    settings: Settings
    planner: Planner
    path: str = ""
    courses: list[int] = field(default_factory=list)
    changing: list[int] = field(default_factory=list)

    @property
    def db(self) -> Path:
        return self.folder / "clinic.db"

    @property
    def config(self) -> Path:
        return self.folder / "clinic.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--courses", type=int, default=385)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        bench = _clinic(Path(scratch), args.courses)
        _first_build(bench)
        server, base = _start_server(bench)
        try:
            with httpx.Client(base_url=base, trust_env=False, timeout=30.0) as client:
                etag = _first_poll(client, bench)
                etag = _unchanged_polls(client, bench, etag, 200)
                _changed_polls(client, bench, etag, 50)
            asyncio.run(_crowd(bench, base, args.clients, args.seconds))
        finally:
            server.terminate()
            server.communicate(timeout=30)


# -- the clinic ------------------------------------------------------------------------


def _clinic(folder: Path, courses: int) -> Bench:
    (folder / "clinic.toml").write_text(CONFIG, encoding="utf-8")
    settings = load_settings(folder / "clinic.toml")
    store = Store(open_database(folder / "clinic.db"))
    planner = Planner(store, settings, FixedClock(PLANNED_AT), "benchmark")
    bench = Bench(folder, settings, planner)
    with store.transaction():
        store.db.conn.executemany(
            "INSERT INTO patients (name, lang, created_at) VALUES (?, ?, ?)",
            [(f"患者 {i} 太郎", "ja" if i % 4 else "en", PLANNED_AT.isoformat())
             for i in range(courses)])
    patients = [row[0] for row in store.db.execute("SELECT id FROM patients ORDER BY id")]
    starts = _plannable_starts(planner)
    requests = [CourseRequest(p, first_infusion=starts[i % len(starts)])
                for i, p in enumerate(patients)]
    bench.courses = [course_id for course_id, _ in planner.plan_many(requests)]
    recent = {r.patient_id for r in requests
              if TODAY - timedelta(days=30) <= (r.first_infusion or TODAY) <= TODAY}
    bench.changing = [course_id for course_id, patient_id in store.db.execute(
        "SELECT id, patient_id FROM courses ORDER BY id") if patient_id in recent]
    staff = store.add_staff("佐藤 花子", "nurse", "benchmark", PLANNED_AT)
    with store.transaction():
        _, secret = Feeds(store.db, settings).issue(PLANNED_AT, staff_id=staff["id"])
    bench.path = f"/feeds/{secret}.ics"
    (events,) = store.db.execute("SELECT COUNT(*) FROM events").fetchone()
    print(f"clinic: {len(bench.courses)} courses, {events:,} events; "
          "feed: the whole clinic (staff view)")
    return bench


def _plannable_starts(planner: Planner) -> list[date]:
    """The days of one year a course can start on (not across the year-end closure)."""
    good = []
    for offset in range(365):
        day = FIRST_START + timedelta(days=offset)
        try:
            plan_course(planner.settings.protocol(None), planner.calendar, first_infusion=day)
        except PlanningError:
            continue
        good.append(day)
    return good


def _reschedule_some(planner: Planner, courses: list[int], index: int) -> int:
    """Move the follow-up of ``courses[index]``, or of the next course whose follow-up can
    move (one near the year-end closure may have no open day near it); the index moved."""
    for offset in range(len(courses)):
        try:
            _reschedule_one(planner, courses[(index + offset) % len(courses)])
            return index + offset
        except RuntimeError:
            continue
    raise RuntimeError("no follow-up of the changing courses can move")


def _reschedule_one(planner: Planner, course_id: int) -> None:
    """Move one course's follow-up a day or few (a step alone: exactly one event changes)."""
    clock = planner.clock
    assert isinstance(clock, FixedClock)
    clock.moment += timedelta(seconds=1)
    event_id, start = planner.store.db.execute(
        "SELECT id, start FROM events WHERE course_id = ? AND kind = 'follow_up'",
        [course_id]).fetchone()
    day = datetime.fromisoformat(start).date()
    for shift in (1, -1, 2, -2, 3, -3):
        try:
            planner.reschedule(event_id, day + timedelta(days=shift), force=True)
            return
        except PlannerError:
            continue
    raise RuntimeError(f"course {course_id}: no day to move the follow-up to")


# -- measurements ----------------------------------------------------------------------


def _first_build(bench: Bench) -> None:
    store = bench.planner.store
    feeds = Feeds(store.db, bench.settings)
    feed = feeds.find(bench.path.removeprefix("/feeds/").removesuffix(".ics"))
    assert feed is not None
    timings = []
    for _ in range(3):
        clear_caches()
        fresh = Feeds(store.db, bench.settings)
        started = time.perf_counter()
        body = fresh.body(feed, NOW)
        timings.append(time.perf_counter() - started)
    print(f"first build (in process, cold caches): {body.body.count(b'BEGIN:VEVENT'):,} "
          f"events, {len(body.body):,} bytes, best {min(timings):.2f} s, median "
          f"{statistics.median(timings):.2f} s (target <= 1.5 s; under 1,000,000 bytes)")
    ahead = replace(bench.settings, feed=replace(bench.settings.feed, future_days=0))
    whole = Feeds(store.db, ahead).body(feed, NOW).body
    print(f"the same feed with everything ahead ([feed] future_days = 0): "
          f"{whole.count(b'BEGIN:VEVENT'):,} events, {len(whole):,} bytes")


def _start_server(bench: Bench) -> tuple[subprocess.Popen[str], str]:
    """``planner serve`` on a free port of 127.0.0.1, in its own process."""
    env = {k: v for k, v in os.environ.items() if k not in ("PLANNER_DB", "PLANNER_CONFIG")}
    server = subprocess.Popen(
        [sys.executable, "-m", "planner", "--config", str(bench.config), "--db", str(bench.db),
         "serve", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert server.stdout is not None
    line = server.stdout.readline()  # "Serving feeds on http://127.0.0.1:PORT/feeds/ …"
    if " on http://127.0.0.1:" not in line:
        server.kill()
        raise RuntimeError(f"planner serve did not start: {line!r} {server.communicate()[1]}")
    return server, line.split(" on ", 1)[1].split("/feeds/", 1)[0]


def _get(client: httpx.Client, path: str, etag: str | None) -> tuple[httpx.Response, int]:
    """One poll: the response and the size of its raw (gzipped) body."""
    headers = dict(GZIP, **({"If-None-Match": etag} if etag else {}))
    with client.stream("GET", path, headers=headers) as response:
        size = sum(len(chunk) for chunk in response.iter_raw())
    return response, size


def _first_poll(client: httpx.Client, bench: Bench) -> str:
    started = time.perf_counter()
    response, size = _get(client, bench.path, None)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.status_code
    print(f"first poll of the new server process (its first build, gzip): {elapsed:.2f} s, "
          f"{size / 1e3:,.0f} kB gzipped (target <= 1.5 s)")
    return response.headers["ETag"]


def _unchanged_polls(client: httpx.Client, bench: Bench, etag: str, rounds: int) -> str:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        response, _ = _get(client, bench.path, etag)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 304, response.status_code
    print(f"unchanged re-poll (304), {rounds} requests: {_figures(timings)} "
          "(target p95 <= 10 ms)")
    return etag


def _changed_polls(client: httpx.Client, bench: Bench, etag: str, rounds: int) -> None:
    timings = []
    index = 0
    for _ in range(rounds):
        index = _reschedule_some(bench.planner, bench.changing, index) + 1
        started = time.perf_counter()
        response, _ = _get(client, bench.path, etag)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
        assert response.headers["ETag"] != etag
        etag = response.headers["ETag"]
    print(f"re-poll after one event changed, {rounds} rounds: {_figures(timings)} "
          "(target p95 <= 100 ms)")


@dataclass
class Crowd:
    """What the polling clients saw."""

    timings: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    changes: int = 0


async def _crowd(bench: Bench, base: str, clients: int, seconds: float) -> None:
    """``clients`` pollers on one aiohttp session (httpx's async pool spends about 5 ms of
    client CPU per request at 50 connections, which would measure the client instead)."""
    crowd = Crowd()
    stop = threading.Event()
    changer = threading.Thread(target=_keep_changing, args=(bench, stop, crowd))
    deadline = time.perf_counter() + seconds
    changer.start()
    try:
        connector = aiohttp.TCPConnector(limit=clients)
        async with aiohttp.ClientSession(base, connector=connector,
                                         timeout=aiohttp.ClientTimeout(total=30)) as session:
            await asyncio.gather(*(_poll_until(session, bench.path, deadline, crowd)
                                   for _ in range(clients)))
    finally:
        stop.set()
        changer.join()
    statuses = ", ".join(f"{count:,} x {status}" for status, count in
                         sorted(crowd.statuses.items()))
    print(f"{clients} clients polling for {seconds:.0f} s with {crowd.changes} changes: "
          f"{len(crowd.timings):,} requests ({statuses}), {len(crowd.errors)} errors; "
          f"{_figures(crowd.timings, p99=True)} (target: no error, p99 <= 200 ms)")
    for error in crowd.errors[:5]:
        print(f"  error: {error}")


async def _poll_until(session: aiohttp.ClientSession, path: str, deadline: float,
                      crowd: Crowd) -> None:
    etag: str | None = None
    while time.perf_counter() < deadline:
        headers = dict(GZIP, **({"If-None-Match": etag} if etag else {}))
        started = time.perf_counter()
        try:
            async with session.get(path, headers=headers, auto_decompress=False) as response:
                await response.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            crowd.errors.append(repr(error))
            continue
        crowd.timings.append(time.perf_counter() - started)
        crowd.statuses[response.status] = crowd.statuses.get(response.status, 0) + 1
        if response.status == 200:
            etag = response.headers["ETag"]
        elif response.status != 304:
            crowd.errors.append(f"status {response.status}")


def _keep_changing(bench: Bench, stop: threading.Event, crowd: Crowd) -> None:
    """Reschedule one follow-up every 3 s, on this thread's own connection (as the CLI)."""
    store = Store(open_database(bench.db))
    planner = Planner(store, bench.settings, FixedClock(PLANNED_AT + timedelta(hours=1)),
                      "benchmark")
    try:
        index = len(bench.changing) // 2
        while not stop.wait(3.0):
            index = _reschedule_some(planner, bench.changing, index) + 1
            crowd.changes += 1
    finally:
        store.db.close()


def _figures(timings: list[float], *, p99: bool = False) -> str:
    cuts = statistics.quantiles(timings, n=100, method="inclusive")
    text = (f"p50 {cuts[49] * 1000:.1f} ms, p95 {cuts[94] * 1000:.1f} ms, "
            + (f"p99 {cuts[98] * 1000:.1f} ms, " if p99 else "")
            + f"max {max(timings) * 1000:.1f} ms")
    return text


if __name__ == "__main__":
    main()
