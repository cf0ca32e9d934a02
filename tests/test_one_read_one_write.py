"""A change is one read, the core, one write: the service reads the course as one aggregate
(``Store.course_for_change``) and writes it back in one call (``Store.write_change``), both
inside the change's immediate transaction.

The course: patient 1, first infusion Mon 2027-06-07, infusions Mon/Thu to infusion 8 on
Thu 2027-07-01 10:00, follow-up Thu 2027-07-15; the nurse works on Mon 2027-05-10.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from planner.clock import FixedClock
from planner.config.settings import load_settings
from planner.service import Planner
from planner.store import change_notices
from planner.store.aggregate import OCCUPANCY_MARGIN
from planner.store.courses import Store, open_database
from tests.conftest import dump_database, tokyo

MAY_10_2027 = tokyo(2027, 5, 10)
SETTINGS = load_settings(None)
READ_AND_WRITE = [("transaction", False), ("course_for_change", True), ("write_change", True)]


class RecordingStore:
    """The store, noting each method the planner calls on it and whether a transaction
    was open at that moment."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.calls: list[tuple[str, bool]] = []

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.store, name)
        if not callable(value):
            return value

        def recorded(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, self.store.db.conn.in_transaction))
            return value(*args, **kwargs)

        return recorded


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "clinic.db"
    store = Store(open_database(path))
    for name in ("山田 太郎", "佐藤 一郎"):
        store.add_patient(name, "ja", None, "nurse", MAY_10_2027)
    Planner(store, SETTINGS, FixedClock(MAY_10_2027)).plan(1, first_infusion=date(2027, 6, 7))
    return path


def recording_nurse(db_path: Path, at: datetime = MAY_10_2027) -> tuple[Planner, RecordingStore]:
    recording = RecordingStore(Store(open_database(db_path, create=False)))
    return Planner(cast(Store, recording), SETTINGS, FixedClock(at), actor="nurse"), recording


def event_id(db_path: Path, kind: str, seq: int) -> int:
    store = Store(open_database(db_path, create=False))
    return next(e.id for e in store.events_of(1) if (e.kind, e.seq) == (kind, seq))


def test_a_reschedule_reads_the_course_once_and_writes_it_once_in_its_transaction(
        db_path: Path) -> None:
    nurse, recording = recording_nurse(db_path)

    nurse.reschedule(event_id(db_path, "infusion", 8), date(2027, 7, 2))

    assert recording.calls == READ_AND_WRITE


def test_a_missed_infusion_reads_the_course_once_and_writes_it_once(db_path: Path) -> None:
    nurse, recording = recording_nurse(db_path, at=tokyo(2027, 6, 7, 12))

    nurse.missed(event_id(db_path, "infusion", 1))

    assert recording.calls == READ_AND_WRITE


def test_a_postponement_to_a_date_reads_the_course_once_and_writes_it_once(
        db_path: Path) -> None:
    nurse, recording = recording_nurse(db_path)

    nurse.postpone(1, to=date(2027, 6, 21))

    assert recording.calls == READ_AND_WRITE


def test_a_cancellation_reads_the_course_once_and_writes_it_once(db_path: Path) -> None:
    nurse, recording = recording_nurse(db_path)

    nurse.cancel(1, "admitted")

    assert recording.calls == READ_AND_WRITE


def test_bookings_read_over_a_wide_window_narrow_to_those_around_the_day_a_change_lands(
        db_path: Path) -> None:
    store = Store(open_database(db_path, create=False))
    nurse = Planner(store, SETTINGS, FixedClock(MAY_10_2027))
    nurse.plan(2, first_infusion=date(2027, 6, 8))  # Tue 06-08 to infusion 8 Fri 07-02
    landing = date(2027, 8, 30)  # 60 days either side: from Wed 06-30, so only 07-01/07-02

    course = store.course_for_change(1, near=(date(2027, 5, 11), landing), tz=nurse.tz)

    assert course.occupancy_near(landing) == store.occupancy(
        landing - OCCUPANCY_MARGIN, landing + OCCUPANCY_MARGIN, nurse.tz, exclude_course=1)
    assert course.occupancy_near(landing) != course.occupancy  # the read covered more days


def test_a_failure_at_the_end_of_write_change_leaves_the_events_and_reminders_as_they_were(
        db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nurse, _ = recording_nurse(db_path)
    before = dump_database(db_path)

    def notice_fails(*args: Any, **kwargs: Any) -> int:  # after events, bends, reminders
        raise RuntimeError("disk unplugged")

    monkeypatch.setattr(change_notices, "tell_patient", notice_fails)
    with pytest.raises(RuntimeError, match="disk unplugged"):
        nurse.reschedule(event_id(db_path, "infusion", 8), date(2027, 7, 2))

    assert dump_database(db_path) == before
