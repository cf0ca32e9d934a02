"""Calendars as ``planner export`` writes them (``planner.calendars.exports``), pinned by
golden files.

One clinic on a real SQLite file with its address and map link in the config; the clock
stands at Mon 2027-02-01 09:00 Tokyo. Patient 1 山田 太郎 (Japanese) has a course from
Mon 2027-03-01 (infusions Mon/Thu 10:00, blood test 09:30), patient 2 Jane Smith
(English) from Tue 2027-03-02. Event UIDs get a fixed middle part so the bytes repeat.

Regenerate the golden files after an intended change with
``REGEN_GOLDEN=1 python -m pytest tests/test_exports.py`` and review the diff.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from planner.clock import FixedClock
from planner.config.settings import load_settings
from planner.service import Planner
from planner.store.courses import Store, open_database
from tests.ics_checks import check_ics

DATA = Path(__file__).parent / "data"
TOKYO = ZoneInfo("Asia/Tokyo")
NOW = datetime(2027, 2, 1, 9, 0, tzinfo=TOKYO)
ADDRESS = "東京都中央区銀座1-2-3 ANKビル3階"
MAP_URL = "https://maps.example.jp/ank-clinic"


@pytest.fixture
def planner(tmp_path: Path) -> Planner:
    settings = load_settings(None)
    settings = replace(settings, letterhead=replace(settings.letterhead, address=ADDRESS,
                                                    map_url=MAP_URL))
    planner = Planner(Store(open_database(tmp_path / "clinic.db")), settings,
                      FixedClock(NOW), "test")
    planner.store.add_patient("山田 太郎", "ja", "1001", "test", NOW)
    planner.store.add_patient("Jane Smith", "en", "A-7", "test", NOW)
    planner.plan(1, first_infusion=date(2027, 3, 1))
    planner.plan(2, first_infusion=date(2027, 3, 2))
    db = planner.store.db
    for course_id, uid in db.execute("SELECT id, uid FROM courses").fetchall():
        db.execute("UPDATE events SET uid = replace(uid, ?, ?) WHERE course_id = ?",
                   [uid, f"course-{course_id}", course_id])
    return planner


GOLDEN = {
    "export_patient_ja.ics": {"patient_id": 1},
    "export_patient_en.ics": {"patient_id": 2},
    "export_staff_nurse.ics": {"role": "nurse"},
}


@pytest.mark.parametrize("file_name", sorted(GOLDEN))
def test_golden_export_matches_the_written_bytes(planner: Planner, file_name: str) -> None:
    data = planner.export(**GOLDEN[file_name])  # type: ignore[arg-type]
    path = DATA / file_name
    if os.environ.get("REGEN_GOLDEN") == "1":
        path.write_bytes(data)
    assert data == path.read_bytes()
    check_ics(data)


def test_a_patients_export_is_named_in_the_patients_language(planner: Planner) -> None:
    japanese = Calendar.from_ical(planner.export(patient_id=1))
    english = Calendar.from_ical(planner.export(patient_id=2))

    assert str(japanese["X-WR-CALNAME"]) == "ANK clinic ご来院の予定"
    assert str(english["X-WR-CALNAME"]) == "ANK clinic: your visits"


def test_a_patients_export_has_no_separate_blood_test(planner: Planner) -> None:
    data = planner.export(patient_id=1)

    assert b"blood_test" not in data
    assert "点滴前の採血のあと、午前10時から点滴です" in data.decode().replace("\r\n ", "")


def test_a_patients_export_gives_the_address_and_keeps_the_treatment_out_of_titles(
        planner: Planner) -> None:
    events = Calendar.from_ical(planner.export(patient_id=1)).events

    assert {str(event["LOCATION"]) for event in events} == {ADDRESS}
    assert {str(event["SUMMARY"]) for event in events} == {"ANK clinic ご来院"}


def test_a_staff_export_keeps_the_blood_tests(planner: Planner) -> None:
    data = planner.export(role="nurse")

    assert data.count(b"-blood_test-") == 16
