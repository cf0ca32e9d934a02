"""Telegram's limits as the bot keeps them (planner/send_limits.py): the limiter on instants
given by the test, and the stored waits a restarted bot loads. Instants are on Sun
2027-11-28 18:00 Tokyo."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from planner.channels.limits import RateLimiter, StoredLimits
from planner.store.schema import migrate

START = datetime(2027, 11, 28, 18, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
SECOND = timedelta(seconds=1)


def busiest_second(times: list[datetime]) -> int:
    return max(sum(1 for t in times if start <= t < start + SECOND) for start in times)


def test_no_second_holds_more_than_28_messages_at_29_a_second_when_some_go_late() -> None:
    limiter = RateLimiter(29, 1.0)
    times = []
    for chat_id in range(300):
        late = limiter.catch_up if chat_id % 30 == 0 else timedelta(0)  # woken a bit late
        moment = max(limiter.ready_at(chat_id), START) + late
        limiter.record(chat_id, moment)
        times.append(moment)
    assert busiest_second(times) == 28
    assert (len(times) - 1) / (times[-1] - times[0]).total_seconds() >= 27.5


def test_one_chat_waits_its_gap_from_when_its_message_went() -> None:
    limiter = RateLimiter(29, 1.0)
    limiter.record(1001, START)
    assert limiter.ready_at(1001) == START + SECOND
    assert limiter.ready_at(1002) == START + limiter.spacing


def stored(tmp_path: Path) -> StoredLimits:
    db = Database(sqlite3.connect(tmp_path / "clinic.db"))
    migrate(db)
    return StoredLimits(db)


def test_a_stored_flood_wait_holds_a_new_limiter_back(tmp_path: Path) -> None:
    limits = stored(tmp_path)
    with limits.db.atomic():
        limits.save_pause(START + timedelta(seconds=10))
    limiter = RateLimiter(29, 1.0)
    limits.load(limiter, START + SECOND)
    assert limiter.ready_at(1001) == START + timedelta(seconds=10)


def test_a_stored_chat_gap_is_never_taken_as_longer_than_one_gap(tmp_path: Path) -> None:
    limits = stored(tmp_path)
    with limits.db.atomic():
        limits.save_chat(1001, START + timedelta(hours=1))  # written before the clock went back
        limits.save_chat(1002, START + timedelta(seconds=0.5))
    limiter = RateLimiter(29, 1.0)
    limits.load(limiter, START)
    assert limiter.ready_at(1001) == START + SECOND
    assert limiter.ready_at(1002) == START + timedelta(seconds=0.5)
