"""The reminder bot against a fake Telegram on 127.0.0.1: bursts, rate limits, lateness,
/next latency and memory, with the real python-telegram-bot stack and a SQLite file.

Run: python benchmarks/bench_bot.py [--patients 10000] [--only burst,limited,...]

Targets (issue 3, on the project's 2-core machine):

1. ``burst``: 10,000 reminders due at once, each to its own chat, all delivered exactly
   once (one sendMessage per chat at the fake, 10,000 deliveries and reminders 'sent').
2. the same run measures throughput with the fake's limits off and the bot's limiter out
   of the way (a ``RateLimiter(1e6 per second, 0 s per chat)`` put in place of the one
   built from ``[bot]``, whose ``messages_per_second`` may not exceed 30): >= 200 msg/s.
3. ``limited``: the fake enforces Telegram's flood limits (``enforce_limits``), the bot
   keeps its defaults (29 messages/s, 1 s per chat); 1,000 reminders to 1,000 chats:
   sustained >= 27 messages/s and no 429 answer.
   ``slow``: the same with the fake answering every call after a delay (``--latency``,
   0.3 s and 0.04 s by default), as a distant or busy Telegram would: the rate must still
   be set by the limits, not by the answer time (sends to different chats are in flight
   together): sustained >= 27 messages/s and no 429 answer at each latency.
4. ``lateness``: 600 reminders due at whole seconds spread uniformly over two minutes,
   sent by the bot's own ``DispatchLoop`` (PTB job queue) on the real clock; each
   message's arrival at the fake minus its due instant: p99 <= 2 s.
5. ``next``: 200 ``/next`` from one linked patient, one after the other, with 10,000
   courses in the database and the Application polling; from the update being queued at
   the fake to the reply's sendMessage arriving there: p95 <= 50 ms.
6. ``rss``: ``python bot.py --config CFG --db DB`` as a process on that database, after
   start-up and a few ``/next``: VmRSS <= 150 MB.

The clinic (30 chairs, 40 collections a day) gets one course per patient through
``Planner.plan_many``, first infusions spread over five years from two months ahead, and
one linked chat per patient (rows written straight into ``chats``, as a redeemed code
would). A scenario takes a copy of that database and makes the reminders it needs due by
moving one patient reminder per patient to the instant wanted, as the bot's process tests
do; the other 260,000 reminders stay pending, months ahead, as in a real clinic. The
Application runs inside this process's event loop as ``run_polling`` would run it
(``initialize``, ``start``, polling, ``on_start``); the fake server answers from its own
threads, so it shares the GIL with the bot. Every wait is bounded by a deadline; the
whole run takes four to five minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from planner.channels.limits import RateLimiter
from planner.channels.telegram.app import (
    build_application,
    on_start,
    on_stop,
    open_bot_database,
    stop_sending,
)
from planner.clock import SystemClock
from planner.config.settings import Settings, parse_settings
from planner.core.errors import PlanningError
from planner.core.schedule import plan_course
from planner.service import CourseRequest, Planner
from planner.store.courses import Store, open_database

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.fake_telegram import FakeTelegram  # noqa: E402

CLINIC = {"infusion_chairs": 30, "collections_per_day": 40}
FIRST_CHAT = 100_000
SCENARIOS = ("burst", "limited", "slow", "lateness", "next", "rss")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=10_000,
                        help="patients, courses and linked chats (and the burst's size)")
    parser.add_argument("--limited", type=int, default=1_000,
                        help="reminders sent under Telegram's limits")
    parser.add_argument("--latency", default="0.3,0.04",
                        help="seconds the fake waits before each answer in 'slow' (a list)")
    parser.add_argument("--late-reminders", type=int, default=600)
    parser.add_argument("--late-seconds", type=int, default=120)
    parser.add_argument("--next", type=int, default=200, help="/next requests")
    parser.add_argument("--only", default=",".join(SCENARIOS),
                        help=f"comma-separated subset of {','.join(SCENARIOS)}")
    args = parser.parse_args()
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    if unknown := set(wanted) - set(SCENARIOS):
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    os.environ.pop("PLANNER_BOT_TOKEN", None)  # it would override the fake's token
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        template = build_clinic(folder / "clinic.db", args.patients)
        if "burst" in wanted:
            asyncio.run(bench_burst(folder, template, args.patients))
        if "limited" in wanted:
            asyncio.run(bench_limited(folder, template, min(args.limited, args.patients)))
        if "slow" in wanted:
            for latency in (float(x) for x in args.latency.split(",") if x.strip()):
                asyncio.run(bench_limited(folder, template, min(args.limited, args.patients),
                                          latency))
        if "lateness" in wanted:
            asyncio.run(bench_lateness(folder, template,
                                       min(args.late_reminders, args.patients),
                                       args.late_seconds))
        if "next" in wanted:
            asyncio.run(bench_next(folder, template, args.next, args.patients))
        if "rss" in wanted:
            bench_rss(folder, template, args.patients)


# -- the clinic ------------------------------------------------------------------------


def settings_for(tg: FakeTelegram | None) -> Settings:
    """The clinic's settings; the bot's section points at the fake when there is one."""
    data: dict[str, Any] = {"clinic": CLINIC, "reminders": {"digest_roles": ["doctor"]}}
    if tg is not None:
        data["bot"] = {"token": tg.token, "base_url": tg.base_url,
                       "base_file_url": tg.base_file_url}
    return parse_settings(data, "benchmark")


def build_clinic(path: Path, count: int) -> Path:
    """``count`` patients with one course and one linked chat each (chat FIRST_CHAT + n)."""
    started = time.perf_counter()
    db = open_database(path)
    planner = Planner(Store(db), settings_for(None), SystemClock(), "benchmark")
    stamp = planner.now().isoformat()
    with db.atomic():
        db.conn.executemany(
            "INSERT INTO patients (name, lang, created_at) VALUES (?, ?, ?)",
            [(f"患者 {n}", "ja" if n % 4 else "en", stamp) for n in range(count)])
    patients = [row[0] for row in db.execute("SELECT id FROM patients ORDER BY id")]
    starts = plannable_starts(planner, len(patients))
    planner.plan_many([CourseRequest(p, first_infusion=d)
                       for p, d in zip(patients, starts, strict=True)])
    with db.atomic():
        db.conn.executemany(
            "INSERT INTO chats (chat_id, patient_id, lang, linked_at)"
            " SELECT ?, id, lang, ? FROM patients WHERE id = ?",
            [(FIRST_CHAT + n, stamp, p) for n, p in enumerate(patients)])
    (reminders,) = db.execute("SELECT COUNT(*) FROM reminders").fetchone()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()
    print(f"clinic: {count:,} patients, courses and linked chats, {reminders:,} reminders, "
          f"built in {time.perf_counter() - started:.1f} s")
    return path


def plannable_starts(planner: Planner, count: int) -> list[date]:
    """First infusions spread over five years from two months ahead, on days a course can
    start (none crosses the year-end closure); nothing falls due while the benchmark runs."""
    spread = 5 * 365
    first = planner.now().date() + timedelta(days=60)
    good = []
    for day in (first + timedelta(days=(i * 7919) % spread) for i in range(spread)):
        try:
            plan_course(planner.settings.protocol(None), planner.calendar, first_infusion=day)
        except PlanningError:
            continue
        good.append(day)
    return [good[i % len(good)] for i in range(count)]


def copy_clinic(template: Path, name: str) -> Path:
    path = template.with_name(f"{name}.db")
    shutil.copyfile(template, path)
    return path


def make_due(path: Path, due_ts: list[int]) -> dict[int, int]:
    """Make one patient reminder of each of the first ``len(due_ts)`` patients due at
    ``due_ts[n]`` (expiring an hour later); the others stay pending, months ahead.

    Returns {chat id: due instant}.
    """
    db = sqlite3.connect(path)
    with db:
        firsts = db.execute(
            "SELECT c.patient_id, MIN(r.id) FROM reminders r JOIN events e ON e.id = r.event_id"
            " JOIN courses c ON c.id = e.course_id WHERE r.audience = 'patient'"
            " GROUP BY c.patient_id ORDER BY c.patient_id LIMIT ?", [len(due_ts)]).fetchall()
        db.executemany(
            "UPDATE reminders SET state = 'pending', reason = NULL, due_ts = ?, expires_ts = ?"
            " WHERE id = ?", [(due, due + 3600, reminder)
                              for (_, reminder), due in zip(firsts, due_ts, strict=True)])
        chats = dict(db.execute("SELECT patient_id, chat_id FROM chats"))
    db.close()
    return {chats[patient]: due for (patient, _), due in zip(firsts, due_ts, strict=True)}


def counts(path: Path, table: str) -> dict[str, int]:
    db = sqlite3.connect(path)
    try:
        return dict(db.execute(f"SELECT state, COUNT(*) FROM {table} GROUP BY state"))
    finally:
        db.close()


# -- the running bot -------------------------------------------------------------------


@asynccontextmanager
async def running_bot(tg: FakeTelegram, path: Path, limiter: RateLimiter | None = None
                      ) -> AsyncIterator[Any]:
    """The Application started as ``run_polling`` starts it; yields its DispatchLoop."""
    db = open_bot_database(path)
    app = build_application(settings_for(tg), db, SystemClock())
    loop = app.bot_data["loop"]
    if limiter is not None:
        loop.dispatcher.limiter = limiter
    assert app.updater is not None
    await app.initialize()
    try:
        await app.start()
        await app.updater.start_polling(poll_interval=0.0, timeout=10)
        await on_start(app)
        try:
            yield loop
        finally:
            await app.updater.stop()
            await app.stop()
            await stop_sending(app)
    finally:
        await app.shutdown()
        await on_stop(app)
        db.conn.close()


async def until(predicate: Callable[[], bool], timeout: float, what: str,
                every: float = 0.2) -> None:
    """Poll ``predicate`` without blocking the bot's loop; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not done within {timeout:.0f} s")
        await asyncio.sleep(every)


def outbox_empty(path: Path, due: dict[int, int]) -> Callable[[], bool]:
    """True once every one of the ``due`` reminders has its message and none is pending.

    Read on a second connection, as the CLI would, with queries the indexes answer (the
    check runs in the bot's event loop: a scan of all reminders would stall the bot).
    """
    db = sqlite3.connect(path, timeout=10)
    last = max(due.values())

    def check() -> bool:
        (waiting, pending, made) = db.execute(
            "SELECT (SELECT COUNT(*) FROM reminders WHERE state = 'pending' AND due_ts <= ?),"
            " (SELECT COUNT(*) FROM deliveries WHERE state = 'pending'),"
            " (SELECT COUNT(*) FROM deliveries)", [last]).fetchone()
        return bool(waiting == 0 and pending == 0 and made >= len(due))

    return check


def sent_at_least(tg: FakeTelegram, count: int) -> Callable[[], list[Any] | None]:
    """For ``wait_for_async``: the sendMessage calls once there are ``count``."""

    def check() -> list[Any] | None:
        calls = tg.calls_for("sendMessage")
        return calls if len(calls) >= count else None

    return check


def sends(tg: FakeTelegram) -> list[Any]:
    return [c for c in tg.calls_for("sendMessage") if c.ok]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


# -- 1 and 2: a burst with no limits ---------------------------------------------------


async def bench_burst(folder: Path, template: Path, count: int) -> None:
    path = copy_clinic(template, "burst")
    due = make_due(path, [int(time.time())] * count)
    with FakeTelegram() as tg:
        for chat_id in due:
            tg.add_chat(chat_id, f"User {chat_id}", language_code="ja")
        async with running_bot(tg, path, RateLimiter(1e6, 0.0)) as loop:
            started = time.monotonic()
            done = outbox_empty(path, due)
            await until(lambda: loop.ticks >= 1 and loop.idle and done(), 240, "burst")
            finished = time.monotonic()
        calls = sends(tg)
        assert tg.errors == [], tg.errors
    per_chat = Counter(c.params["chat_id"] for c in calls)
    once = all(per_chat[chat_id] == 1 for chat_id in due) and len(per_chat) == len(due)
    deliveries, reminders = counts(path, "deliveries"), counts(path, "reminders")
    exact = once and deliveries == {"sent": count} and reminders.get("sent") == count
    times = sorted(c.time for c in calls)
    first, last = times[0], times[-1]
    rate = (len(times) - 1) / (last - first) if len(times) > 1 else 0.0
    print(f"1. burst: {count:,} reminders due at once -> {len(calls):,} sendMessage to "
          f"{len(per_chat):,} chats (max {max(per_chat.values())} per chat), deliveries "
          f"{deliveries}, reminders sent {reminders.get('sent', 0):,}: exactly once "
          f"{verdict(exact)}")
    print(f"2. throughput, limits off (RateLimiter(1e6/s, 0 s per chat), fake limits off): "
          f"{rate:,.0f} messages/s from the first to the last sendMessage "
          f"(target >= 200: {verdict(rate >= 200)}); first message {first - started:.1f} s "
          f"after start (queueing {count:,} reminders), all sent in {last - started:.1f} s, "
          f"{count / (last - started):,.0f} messages/s overall; idle after "
          f"{finished - started:.1f} s")


# -- 3: Telegram's limits on -----------------------------------------------------------


async def bench_limited(folder: Path, template: Path, count: int, latency: float = 0.0) -> None:
    path = copy_clinic(template, f"limited-{latency}")
    due = make_due(path, [int(time.time())] * count)
    with FakeTelegram() as tg:
        tg.enforce_limits = True
        tg.latency = latency
        for chat_id in due:
            tg.add_chat(chat_id, f"User {chat_id}", language_code="ja")
        async with running_bot(tg, path) as loop:
            done = outbox_empty(path, due)
            await until(lambda: loop.ticks >= 1 and loop.idle and done(),
                        count / 2 + 60, "limited")
        calls = sends(tg)
        refused = tg.count_429
        assert tg.errors == [], tg.errors
    times = sorted(c.time for c in calls)
    rate = (len(times) - 1) / (times[-1] - times[0])
    worst = max(sum(1 for t in times[i:i + 40] if t - times[i] < 1.0)
                for i in range(len(times)))
    ok = rate >= 27 and refused == 0 and len(calls) == count
    answers = f"answers after {latency * 1000:.0f} ms" if latency else "answers at once"
    print(f"3. Telegram's limits on (fake enforce_limits, {answers}, bot 29/s and 1 s per "
          f"chat): {len(calls):,} messages to {len(set(c.params['chat_id'] for c in calls)):,} "
          f"chats at {rate:.1f} messages/s sustained, busiest second {worst}, {refused} "
          f"answers 429 (target >= 27/s and 0 x 429: {verdict(ok)})")


# -- 4: lateness on the real clock -----------------------------------------------------


async def bench_lateness(folder: Path, template: Path, count: int, seconds: int) -> None:
    path = copy_clinic(template, "lateness")
    begin = int(time.time()) + 5
    due = make_due(path, [begin + (n * seconds) // count for n in range(count)])
    with FakeTelegram() as tg:
        for chat_id in due:
            tg.add_chat(chat_id, f"User {chat_id}", language_code="ja")
        offset = time.time() - time.monotonic()
        async with running_bot(tg, path) as loop:
            done = outbox_empty(path, due)
            await until(lambda: time.time() > begin + seconds and loop.idle and done(),
                        seconds + 60, "lateness", every=0.5)
        calls = sends(tg)
        assert tg.errors == [], tg.errors
    late = [c.time + offset - due[c.params["chat_id"]] for c in calls]
    p50, p99 = percentile(late, 0.50), percentile(late, 0.99)
    ok = p99 <= 2.0 and len(calls) == count
    print(f"4. lateness: {len(calls):,} of {count:,} reminders due over {seconds} s, sent by "
          f"the DispatchLoop on the real clock: arrival - due p50 {p50 * 1000:.0f} ms, "
          f"p99 {p99 * 1000:.0f} ms, max {max(late) * 1000:.0f} ms, min "
          f"{min(late) * 1000:.0f} ms; due instants are whole seconds, so the "
          f"~{count / seconds:.0f} due on one second go 1/29 s apart "
          f"(target p99 <= 2 s: {verdict(ok)})")


# -- 5: /next with 10,000 courses ------------------------------------------------------


async def bench_next(folder: Path, template: Path, requests: int, patients: int) -> None:
    path = copy_clinic(template, "next")
    chat_id = FIRST_CHAT + patients // 2
    with FakeTelegram() as tg:
        tg.add_chat(chat_id, "Hana", language_code="ja")
        async with running_bot(tg, path) as loop:
            await until(lambda: loop.ticks >= 1 and loop.idle, 30, "start")
            timings = []
            began = time.monotonic()
            for count in range(1, requests + 1):
                queued = time.monotonic()
                tg.send_text(chat_id, "/next")
                replies = await tg.wait_for_async(sent_at_least(tg, count), 10)
                timings.append(replies[-1].time - queued)
            offered = requests / (time.monotonic() - began)
        assert tg.errors == [], tg.errors
    p50, p95 = percentile(timings, 0.50), percentile(timings, 0.95)
    print(f"5. /next with {patients:,} courses: {len(timings)} requests one after another, "
          f"update queued -> reply sendMessage at the fake: p50 {p50 * 1000:.1f} ms, "
          f"p95 {p95 * 1000:.1f} ms, max {max(timings) * 1000:.1f} ms "
          f"(target p95 <= 50 ms: {verdict(p95 <= 0.050)}); requests came at {offered:.0f}/s, "
          f"and answers keep to Telegram's 30 in any second: "
          f"{sum(t > 0.030 for t in timings)} took over 30 ms")


# -- 6: the bot process's memory -------------------------------------------------------


def bench_rss(folder: Path, template: Path, patients: int) -> None:
    path = copy_clinic(template, "rss")
    chat_id = FIRST_CHAT + patients // 2
    with FakeTelegram() as tg:
        tg.add_chat(chat_id, "Hana", language_code="ja")
        config = folder / "clinic.toml"
        config.write_text(
            "[clinic]\n" + "".join(f"{k} = {v}\n" for k, v in CLINIC.items())
            + f'[bot]\nbase_url = "{tg.base_url}"\nbase_file_url = "{tg.base_file_url}"\n'
            + '[reminders]\ndigest_roles = ["doctor"]\n', encoding="utf-8")
        env = {**os.environ, "PLANNER_BOT_TOKEN": tg.token, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            [sys.executable, "bot.py", "--config", str(config), "--db", str(path)], cwd=ROOT,
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        try:
            tg.wait_for(lambda: tg.active_polls > 0 and tg.calls_for("setMyCommands"), 60)
            for n in range(5):
                tg.send_text(chat_id, "/next")
                tg.wait_for(lambda n=n: len(tg.messages(chat_id)) > n, 30)
            time.sleep(2.0)  # a couple of the dispatcher's watch runs
            status = Path(f"/proc/{process.pid}/status").read_text()
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        assert tg.errors == [], tg.errors
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    rss, peak = (int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))
    print(f"6. bot process with {patients:,} courses after start and 5 /next: VmRSS "
          f"{rss:.0f} MB, peak {peak:.0f} MB (target <= 150 MB: {verdict(rss <= 150)}); "
          f"exit status {process.returncode}")


if __name__ == "__main__":
    main()
