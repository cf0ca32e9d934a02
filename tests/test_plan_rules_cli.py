"""Planning rules at the CLI: bends shown, the past explicit, one active course per patient,
misses always recorded (scenario dates spelled out; the clock is injected)."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from zoneinfo import ZoneInfo

from planner.config.settings import load_settings
from planner.store.courses import open_database
from planner.store.links import Chat
from planner.store.notices import Notices
from tests.conftest import PlannerCli
from tests.test_cli import assert_refused

TOKYO = ZoneInfo("Asia/Tokyo")
OCTOBER_2027 = datetime(2027, 10, 1, 9, 0, tzinfo=TOKYO)
MAY_2027 = datetime(2027, 5, 3, 9, 0, tzinfo=TOKYO)


def add_patient(planner_cli: PlannerCli, at: datetime = MAY_2027) -> None:
    planner_cli.ok("patient", "add", "山田 太郎", "--lang", "ja", at=at)


def test_a_december_2027_start_plans_and_shows_its_stretched_gap(planner_cli: PlannerCli):
    add_patient(planner_cli, OCTOBER_2027)
    data = planner_cli.json("plan", "1", "--first-infusion", "2027-12-06", at=OCTOBER_2027)
    (bend,) = data["exceptions"]
    assert bend["rule"] == "protocol.gap_days"
    assert bend["events"] == ["infusion 7", "infusion 8"]
    assert bend["by_days"] == 3
    assert bend["why"] == "the year-end closure (2027-12-29 to 2028-01-03)"
    (shown,) = planner_cli.json("show", "--course", "1", at=OCTOBER_2027)
    assert shown["exceptions"] == data["exceptions"]
    text = planner_cli.ok("show", "1", at=OCTOBER_2027).output
    assert "Exception: protocol.gap_days: 8 days from infusion 7 on 2027-12-28" in text


def test_a_start_on_2027_04_19_plans_over_golden_week(planner_cli: PlannerCli):
    add_patient(planner_cli, datetime(2027, 3, 1, 9, 0, tzinfo=TOKYO))
    output = planner_cli.ok("plan", "1", "--first-infusion", "2027-04-19",
                            at=datetime(2027, 3, 1, 9, 0, tzinfo=TOKYO)).output
    assert "Exception: protocol.gap_days: 7 days from infusion 4 on 2027-04-30 to " \
           "infusion 5 on 2027-05-07" in output
    assert "Golden Week (2027-05-03 to 2027-05-05)" in output


def test_a_course_starting_at_new_year_2028_takes_its_cells_on_the_first_morning(
        planner_cli: PlannerCli):
    # Tue 2028-01-04 is the first open day; Jan 2 and 3 are closed, so the cells for the
    # first infusion come that morning at 09:00.
    add_patient(planner_cli, OCTOBER_2027)
    data = planner_cli.json("plan", "1", "--first-infusion", "2028-01-04", at=OCTOBER_2027)
    delivery = next(e for e in data["events"] if e["kind"] == "cell_delivery" and e["seq"] == 1)
    assert delivery["start"] == "2028-01-04T09:00:00+09:00"
    assert [b["events"] for b in data["exceptions"]] == [["cell_delivery 1"]]


def test_a_second_course_overlapping_an_active_one_is_refused_naming_it(
        planner_cli: PlannerCli):
    add_patient(planner_cli)
    planner_cli.ok("plan", "1", "--first-infusion", "2027-06-07", at=MAY_2027)
    before = planner_cli.dump()
    result = planner_cli("plan", "1", "--first-infusion", "2027-06-21", at=MAY_2027)
    assert_refused(result, "plan.active_course", "already has course 1 from 2027-05-17",
                   "planner cancel 1")
    assert planner_cli.dump() == before


def test_a_course_after_the_active_one_ends_is_planned(planner_cli: PlannerCli):
    add_patient(planner_cli)
    planner_cli.ok("plan", "1", "--first-infusion", "2027-06-07", at=MAY_2027)
    planner_cli.ok("plan", "1", "--first-infusion", "2027-09-06", at=MAY_2027)


def test_a_csv_imported_twice_is_refused_as_a_whole(planner_cli: PlannerCli, tmp_path):
    add_patient(planner_cli)
    planner_cli.ok("patient", "add", "Patient 2", at=MAY_2027)
    path = tmp_path / "courses.csv"
    path.write_text("patient_id,first_infusion,collection,protocol\n"
                    "1,2027-06-07,,\n2,2027-06-08,,\n", encoding="utf-8")
    planner_cli.ok("plan-many", str(path), at=MAY_2027)
    before = planner_cli.dump()
    assert_refused(planner_cli("plan-many", str(path), at=MAY_2027),
                   "course 1 (patient 1", "already has course 1")
    assert planner_cli.dump() == before


def test_the_same_patient_twice_in_one_file_is_refused(planner_cli: PlannerCli, tmp_path):
    add_patient(planner_cli)
    path = tmp_path / "courses.csv"
    path.write_text("patient_id,first_infusion\n1,2027-06-07\n1,2027-06-14\n", encoding="utf-8")
    assert_refused(planner_cli("plan-many", str(path), at=MAY_2027),
                   "course 2 (patient 1", "course 1 of this file")


def test_a_collection_in_the_past_is_refused_naming_it(planner_cli: PlannerCli):
    # Now Mon 2027-05-03; a first infusion on Mon 2027-05-17 needs the collection 04-26.
    add_patient(planner_cli)
    assert_refused(planner_cli("plan", "1", "--first-infusion", "2027-05-17", at=MAY_2027),
                   "plan.past: the collection on 2027-04-26 09:00 would be in the past",
                   "--collected DATE")


def test_collected_records_the_collection_done_and_plans_the_rest_from_it(
        planner_cli: PlannerCli):
    add_patient(planner_cli)
    data = planner_cli.json("plan", "1", "--collected", "2027-04-26", at=MAY_2027)
    collection = next(e for e in data["events"] if e["kind"] == "collection")
    first = next(e for e in data["events"] if e["kind"] == "infusion" and e["seq"] == 1)
    assert (collection["start"], collection["status"]) == ("2027-04-26T09:00:00+09:00", "done")
    assert first["start"] == "2027-05-17T10:00:00+09:00"


def test_collected_on_a_day_still_to_come_is_refused(planner_cli: PlannerCli):
    add_patient(planner_cli)
    assert_refused(planner_cli("plan", "1", "--collected", "2027-05-10", at=MAY_2027),
                   "--collected", "has not come yet")


# -- missed ----------------------------------------------------------------------------
# Course from Mon 2027-06-07 (planned on 2027-05-03): infusion 8 on Thu 2027-07-01 10:00.


def planned_june(planner_cli: PlannerCli) -> None:
    add_patient(planner_cli)
    planner_cli.ok("plan", "1", "--first-infusion", "2027-06-07", at=MAY_2027)


def test_missed_on_a_day_still_to_come_is_refused_naming_its_date(planner_cli: PlannerCli):
    planned_june(planner_cli)
    before = planner_cli.dump()
    result = planner_cli("missed", str(planner_cli.event_id("infusion", 8)),
                         at=datetime(2027, 6, 8, 9, 0, tzinfo=TOKYO))
    assert_refused(result, "infusion 8 is on 2027-07-01", "reschedule or cancel")
    assert planner_cli.dump() == before


def test_a_make_up_for_the_last_infusion_reads_8_of_8(planner_cli: PlannerCli):
    planned_june(planner_cli)
    noon = datetime(2027, 7, 1, 12, 0, tzinfo=TOKYO)
    planner_cli.ok("missed", str(planner_cli.event_id("infusion", 8)), at=noon)
    calendar = planner_cli.ok("export", "--patient", "1", at=noon).output
    assert "ANK細胞の点滴 8回目（全8回）" in calendar.replace("\r\n ", "")
    assert "全9回" not in calendar.replace("\r\n ", "")
    assert "9/8" not in calendar


def test_missed_without_room_for_a_make_up_is_recorded_and_staff_are_alerted(
        planner_cli: PlannerCli):
    # Tue/Fri from 2027-11-30; infusion 8 (Fri 12-24) recorded missed on Mon 12-27.
    add_patient(planner_cli, OCTOBER_2027)
    planner_cli.ok("plan", "1", "--first-infusion", "2027-11-30", at=OCTOBER_2027)
    late = datetime(2027, 12, 27, 9, 0, tzinfo=TOKYO)
    output = planner_cli.ok("missed", str(planner_cli.event_id("infusion", 8)), at=late).output
    assert "Warning: no make-up for infusion 8 fits" in output
    assert "--no-makeup" in output
    assert "reschedule" in output
    connection = sqlite3.connect(str(planner_cli.db))
    try:
        (status,) = connection.execute(
            "SELECT status FROM events WHERE kind = 'infusion' AND seq = 8").fetchone()
        alerts = connection.execute("SELECT kind, roles, detail FROM alerts").fetchall()
    finally:
        connection.close()
    assert status == "missed"
    makeup_alerts = [detail for kind, roles, detail in alerts
                     if (kind, roles) == ("no_makeup", "nurse,doctor,lab")]
    assert len(makeup_alerts) == 1
    assert "--no-makeup" in makeup_alerts[0]


def test_the_staff_calendar_shows_the_bend_on_the_events_it_concerns(planner_cli: PlannerCli):
    add_patient(planner_cli, OCTOBER_2027)
    planner_cli.ok("plan", "1", "--first-infusion", "2027-12-06", at=OCTOBER_2027)
    calendar = planner_cli.ok("export", "--role", "doctor", at=OCTOBER_2027).output
    unfolded = calendar.replace("\r\n ", "")
    assert unfolded.count("例外: 8 days from infusion 7 on 2027-12-28") == 2  # infusions 7, 8


def test_the_morning_digest_shows_the_bend_of_the_days_infusion(planner_cli: PlannerCli):
    add_patient(planner_cli, OCTOBER_2027)
    planner_cli.ok("plan", "1", "--first-infusion", "2027-12-06", at=OCTOBER_2027)
    notices = Notices(open_database(planner_cli.db), load_settings(None))
    doctor = Chat(1, None, 1, None, "en", "doctor")
    text = notices.digest("doctor", date(2028, 1, 5), doctor,
                          datetime(2028, 1, 5, 7, 30, tzinfo=TOKYO))
    assert "Exception (#1): 8 days from infusion 7 on 2027-12-28 to infusion 8 on " \
           "2028-01-05" in text
    assert "Exception" not in notices.digest("doctor", date(2027, 12, 9), doctor,
                                             datetime(2027, 12, 9, 7, 30, tzinfo=TOKYO))
