"""A busy database is normal: commands wait for another writer, and past the busy timeout
say so in one line with exit status 3, nothing written.

Another writer is a second connection in a thread holding ``BEGIN IMMEDIATE`` (what the
bot or another nurse's command does while it writes). The course is planned on Mon
2027-05-10 09:00 Tokyo from the first infusion on Mon 2027-06-07: collection Mon 05-17,
infusions Mon/Thu 06-07 … Thu 07-01, follow-up Thu 07-15.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from planner.channels.loop import RETRY_DELAY, DispatchLoop
from planner.channels.telegram import app as bot
from planner.clock import FixedClock
from planner.config.settings import Settings, load_settings, parse_settings
from planner.core.errors import DatabaseBusyError, PlanningError
from planner.service import Planner
from planner.service import changes as service_changes
from planner.service import planning as service_planning
from planner.store.courses import Store, open_database
from tests.conftest import PlannerCli, tokyo

MAY_10_2027 = tokyo(2027, 5, 10)


class Writer:
    """Another program's write transaction on the same file, held for ``seconds``."""

    def __init__(self, path: Path, seconds: float) -> None:
        self.path = path
        self.seconds = seconds
        self.locked = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._hold, name="other-writer")

    def _hold(self) -> None:
        connection = sqlite3.connect(str(self.path))
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT INTO staff (name, role, created_at)"
                                " VALUES ('夜勤 看護師', 'nurse', '2027-05-10T00:00:00+00:00')")
            self.locked.set()
            self.release.wait(self.seconds)
            connection.commit()
        finally:
            connection.close()

    def __enter__(self) -> Writer:
        self.thread.start()
        assert self.locked.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join()


@pytest.fixture
def clinic(planner_cli: PlannerCli) -> PlannerCli:
    """clinic.db with patient 1 and the course above (course 1), and patient 2 with none."""
    planner_cli.ok("patient", "add", "山田 太郎", at=MAY_10_2027)
    planner_cli.ok("plan", "1", "--first-infusion", "2027-06-07", at=MAY_10_2027)
    planner_cli.ok("patient", "add", "鈴木 次郎", at=MAY_10_2027)
    return planner_cli


@pytest.fixture
def short_timeout(write_config: Callable[[str], Path]) -> Path:
    return write_config("[database]\nbusy_timeout = 1\n")


def staff_names(path: Path) -> list[str]:
    connection = sqlite3.connect(str(path))
    try:
        return [row[0] for row in connection.execute("SELECT name FROM staff ORDER BY id")]
    finally:
        connection.close()


def starts(path: Path, *event_ids: int) -> list[str]:
    """The start days of events, read from the file."""
    connection = sqlite3.connect(str(path))
    try:
        return [connection.execute("SELECT start FROM events WHERE id = ?",
                                   [event_id]).fetchone()[0][:10] for event_id in event_ids]
    finally:
        connection.close()


COMMANDS: dict[str, Callable[[PlannerCli], tuple[str, ...]]] = {
    "patient add": lambda c: ("patient", "add", "佐藤 一郎"),
    "plan": lambda c: ("plan", "2", "--first-infusion", "2027-06-14"),
    "reschedule": lambda c: ("reschedule", str(c.event_id("follow_up", 8)),
                             "--to", "2027-07-16"),
    "postpone": lambda c: ("postpone", "1", "--days", "7"),
    "cancel": lambda c: ("cancel", "1", "--reason", "patient moved away"),
    "missed": lambda c: ("missed", str(c.event_id("infusion", 1))),
}


@pytest.mark.parametrize("name", ["patient add", "plan", "reschedule", "postpone"])
def test_a_command_waits_for_a_writer_holding_the_database_two_seconds_and_succeeds(
        clinic: PlannerCli, name: str) -> None:
    command = COMMANDS[name](clinic)
    with Writer(clinic.db, seconds=2.0):
        started = time.monotonic()
        result = clinic(*command, at=MAY_10_2027)
        waited = time.monotonic() - started

    assert result.exit_code == 0, result.output
    assert waited >= 1.5
    assert staff_names(clinic.db) == ["夜勤 看護師"]  # the other writer's row is kept too


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_database_locked_past_the_timeout_gives_one_line_exit_3_and_changes_nothing(
        clinic: PlannerCli, short_timeout: Path, name: str) -> None:
    command = COMMANDS[name](clinic)
    at = tokyo(2027, 6, 8) if name == "missed" else MAY_10_2027
    before = clinic.dump()
    with Writer(clinic.db, seconds=30.0) as writer:
        result = clinic(*command, at=at, config=short_timeout)
        writer.release.set()
        # the other writer rolls nothing back: its row is committed, ours never was
    after = [line for line in clinic.dump() if "夜勤 看護師" not in line]

    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert result.output == (
        f"Error: {clinic.db}: the database is busy (another program kept it locked for "
        "longer than the busy timeout); nothing was changed, try again in a moment\n")
    assert after == before


def test_the_busy_timeout_is_read_from_the_config(clinic: PlannerCli,
                                                  short_timeout: Path) -> None:
    with Writer(clinic.db, seconds=30.0):
        started = time.monotonic()
        result = clinic("patient", "add", "佐藤 一郎", at=MAY_10_2027, config=short_timeout)
        waited = time.monotonic() - started

    assert result.exit_code == 3
    assert 0.9 <= waited < 5


# -- two nurses changing one course at once ------------------------------------------------


def nurse(path: Path, settings: Settings) -> Planner:
    return Planner(Store(open_database(path, create=False)), settings,
                   FixedClock(MAY_10_2027), actor="nurse")


@pytest.fixture
def pause_first_nurse_after_reading(monkeypatch: pytest.MonkeyPatch
                                    ) -> tuple[threading.Event, threading.Event]:
    """Nurse A's change stops between reading the course and writing it back, until nurse
    B's change has finished (or 1.5 s passed: B may be waiting for A's transaction)."""
    a_has_read, b_finished = threading.Event(), threading.Event()
    move_step = service_changes.move_step

    def paused(*args: Any, **kwargs: Any) -> Any:
        result = move_step(*args, **kwargs)
        if threading.current_thread().name == "nurse-a":
            a_has_read.set()
            b_finished.wait(1.5)
        return result

    monkeypatch.setattr(service_changes, "move_step", paused)
    return a_has_read, b_finished


def test_two_nurses_rescheduling_one_course_at_once_lose_neither_change(
        clinic: PlannerCli, pause_first_nurse_after_reading: tuple[threading.Event,
                                                                   threading.Event]) -> None:
    a_has_read, b_finished = pause_first_nurse_after_reading
    settings = load_settings(None)
    collection, follow_up = clinic.event_id("collection", 1), clinic.event_id("follow_up", 8)
    errors: list[BaseException] = []

    def nurse_a() -> None:  # moves the collection from Mon 05-17 to Tue 05-18
        try:
            nurse(clinic.db, settings).reschedule(collection, date(2027, 5, 18))
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    def nurse_b() -> None:  # moves the follow-up from Thu 07-15 to Fri 07-16
        a_has_read.wait(5)
        try:
            nurse(clinic.db, settings).reschedule(follow_up, date(2027, 7, 16))
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)
        finally:
            b_finished.set()

    threads = [threading.Thread(target=nurse_a, name="nurse-a"),
               threading.Thread(target=nurse_b, name="nurse-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert errors == []
    assert starts(clinic.db, collection, follow_up) == ["2027-05-18", "2027-07-16"]


def test_two_nurses_planning_into_the_last_chair_at_once_never_double_book_it(
        planner_cli: PlannerCli, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = parse_settings({"clinic": {"infusion_chairs": 1}}, "one chair")
    for name in ("山田 太郎", "佐藤 一郎"):
        planner_cli.ok("patient", "add", name, at=MAY_10_2027)
    a_has_planned, b_finished = threading.Event(), threading.Event()
    plan_course = service_planning.plan_course

    def paused(*args: Any, **kwargs: Any) -> Any:
        result = plan_course(*args, **kwargs)
        if threading.current_thread().name == "nurse-a":
            a_has_planned.set()
            b_finished.wait(1.5)
        return result

    monkeypatch.setattr(service_planning, "plan_course", paused)
    outcomes: list[str] = []

    def plan(patient_id: int) -> None:  # both from the first infusion on Mon 2027-06-07
        if patient_id == 2:
            a_has_planned.wait(5)
        try:
            nurse(planner_cli.db, settings).plan(patient_id, first_infusion=date(2027, 6, 7))
            outcomes.append("planned")
        except PlanningError as error:
            outcomes.append(f"refused: {error}")
        finally:
            b_finished.set()

    threads = [threading.Thread(target=plan, args=(1,), name="nurse-a"),
               threading.Thread(target=plan, args=(2,), name="nurse-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    connection = sqlite3.connect(str(planner_cli.db))
    shared = connection.execute(
        "SELECT start, COUNT(*) FROM events WHERE kind = 'infusion' GROUP BY start"
        " HAVING COUNT(*) > 1").fetchall()
    connection.close()
    assert len(outcomes) == 2
    assert shared == []


# -- the bot's dispatcher ------------------------------------------------------------------


class LockedDispatcher:
    """A dispatcher whose tick meets a database another program keeps locked."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def now(self) -> Any:
        return MAY_10_2027

    on_settled: Any = None
    in_flight = 0

    async def tick(self, *, wait_for_sends: bool = True) -> Any:
        connection = sqlite3.connect(str(self.path), timeout=0.1)
        try:
            connection.execute("BEGIN IMMEDIATE")
        finally:
            connection.close()
        raise AssertionError("the database was not locked")


def test_a_busy_database_in_a_dispatcher_run_logs_one_warning_and_retries_later(
        clinic: PlannerCli, caplog: pytest.LogCaptureFixture) -> None:
    db = open_database(clinic.db, create=False)
    loop = DispatchLoop(LockedDispatcher(clinic.db), db)  # type: ignore[arg-type]
    caplog.set_level(logging.WARNING, logger="planner.channels.telegram.app")

    with Writer(clinic.db, seconds=30.0):
        asyncio.run(loop._run())
    db.close()

    assert [(r.levelname, r.getMessage(), r.exc_info) for r in caplog.records] == [
        ("WARNING", f"database busy (another program is writing); dispatching again in "
                    f"{RETRY_DELAY.seconds} s", None)]
    assert loop.ticks == 1


def test_a_busy_database_while_answering_a_message_logs_one_warning_without_a_traceback(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="planner.channels.telegram.app")
    context = SimpleNamespace(error=DatabaseBusyError("clinic.db: the database is busy"))

    asyncio.run(bot._on_error(None, context))  # type: ignore[arg-type]

    assert [(r.levelname, r.exc_info) for r in caplog.records] == [("WARNING", None)]
    assert "database busy while handling an update" in caplog.records[0].getMessage()
