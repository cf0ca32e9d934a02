"""The staff's command line, driven in-process on a real SQLite file with a fixed clock.

Most tests use the standard course of ``conftest.py``: planned on Mon 2026-11-02 from the
first infusion on Mon 2026-11-30, infusions Mon/Thu at 10:00 up to Thu 2026-12-24, follow-up
Thu 2027-01-07. The default clock is Fri 2026-11-27 09:00 Tokyo.
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from icalendar import Calendar

from planner.cli.app import App
from planner.cli.main import cli
from planner.clock import FixedClock
from planner.store.schema import migrations
from tests.conftest import NOW, PATIENT_NAME, PLANNED_AT, PlannerCli, dump_database, tokyo
from tests.ics_checks import check_ics

MONDAYS_AND_THURSDAYS = [
    "2026-11-30", "2026-12-03", "2026-12-07", "2026-12-10",
    "2026-12-14", "2026-12-17", "2026-12-21", "2026-12-24",
]

# -- helpers ---------------------------------------------------------------------------


def assert_refused(result: Result, *needles: str) -> str:
    """Exit status 2, no traceback, and nothing but one ``Error:`` line holding every needle
    (click's parse errors too: their hint to --help is on the same line)."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    assert lines == errors, result.output
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def course_events(planner_cli: PlannerCli, course_id: int = 1, **options: Any
                  ) -> dict[tuple[str, int], dict[str, Any]]:
    """The events of one course from ``show --course ID --json``, keyed by (kind, seq)."""
    (course,) = planner_cli.json("show", "--course", str(course_id), **options)
    return {(e["kind"], e["seq"]): e for e in course["events"]}


def infusion_days(events: dict[tuple[str, int], dict[str, Any]]) -> list[str]:
    infusions = sorted((e for e in events.values() if e["kind"] == "infusion"),
                       key=lambda e: e["seq"])
    return [e["start"][:10] for e in infusions]


def ics_events(data: bytes) -> dict[str, Any]:
    """VEVENTs of a calendar keyed by UID."""
    return {str(event["UID"]): event for event in Calendar.from_ical(data).events}


def categories(data: bytes) -> set[str]:
    return {line.split(":", 1)[1] for line in data.decode().split("\r\n")
            if line.startswith("CATEGORIES:")}


# -- init ------------------------------------------------------------------------------


def test_init_creates_an_sqlite_database_and_names_it(bare_cli: PlannerCli) -> None:
    result = bare_cli.ok("init")

    assert result.output == (f"Database ready: {bare_cli.db} "
                             f"(schema {len(migrations._migrations)})\n")
    assert bare_cli.db.read_bytes()[:16] == b"SQLite format 3\x00"


def test_init_twice_leaves_the_database_as_it_was(planner_cli: PlannerCli) -> None:
    planner_cli.ok("init")
    before = planner_cli.dump()

    planner_cli.ok("init")

    assert planner_cli.dump() == before


# -- patients and staff ----------------------------------------------------------------


def test_patient_add_says_which_id_the_patient_got(planner_cli: PlannerCli) -> None:
    result = planner_cli.ok("patient", "add", PATIENT_NAME)

    assert result.output == f"Patient 1 added: {PATIENT_NAME}\n"


def test_patient_add_json_gives_the_stored_patient(planner_cli: PlannerCli) -> None:
    row = planner_cli.json("patient", "add", "Jane Smith", "--lang", "en", "--mrn", "A-7")

    assert row == {"id": 1, "name": "Jane Smith", "lang": "en", "mrn": "A-7",
                   "created_at": "2026-11-27T00:00:00+00:00"}


def test_patient_add_with_an_mrn_already_used_is_refused(planner_cli: PlannerCli,
                                                         patient_id: int) -> None:
    before = planner_cli.dump()

    result = planner_cli("patient", "add", "山田 花子", "--mrn", "12345")

    assert_refused(result, "--mrn", "already exists")
    assert planner_cli.dump() == before


def test_patient_list_json_lists_patients_in_the_order_they_were_added(
        planner_cli: PlannerCli) -> None:
    planner_cli.ok("patient", "add", PATIENT_NAME)
    planner_cli.ok("patient", "add", "Jane Smith", "--lang", "en")

    rows = planner_cli.json("patient", "list")

    assert [(r["id"], r["name"], r["lang"]) for r in rows] == [
        (1, PATIENT_NAME, "ja"), (2, "Jane Smith", "en")]


def test_patient_list_table_shows_name_language_and_mrn(planner_cli: PlannerCli,
                                                       patient_id: int) -> None:
    output = planner_cli.ok("patient", "list").output

    assert output.splitlines()[0].split() == ["id", "name", "lang", "mrn"]
    assert PATIENT_NAME in output
    assert "12345" in output


def test_patient_show_json_lists_the_patients_courses(planner_cli: PlannerCli,
                                                      planned_course: int) -> None:
    data = planner_cli.json("patient", "show", "1")

    assert (data["id"], data["name"], data["mrn"]) == (1, PATIENT_NAME, "12345")
    assert [(c["id"], c["status"], c["start_date"]) for c in data["courses"]] == [
        (1, "active", "2026-11-30")]
    assert data["next"]["start"] > "2026-11-27T09:00:00+09:00"


def test_patient_show_next_visit_is_one_the_patient_attends(planner_cli: PlannerCli,
                                                           planned_course: int) -> None:
    data = planner_cli.json("patient", "show", "1")

    assert data["next"]["kind"] != "cell_delivery"
    assert data["next"]["start"] == "2026-11-30T09:30:00+09:00"  # blood test before infusion 1


def test_patient_show_text_names_the_patient_and_the_next_event(
        planner_cli: PlannerCli, planned_course: int) -> None:
    output = planner_cli.ok("patient", "show", "1").output

    assert output.startswith(f"Patient 1: {PATIENT_NAME} (lang ja, mrn 12345)\n")
    assert "course 1: ank, active, planned from first_infusion 2026-11-30" in output
    assert "next: " in output


def test_staff_add_and_list_json(planner_cli: PlannerCli) -> None:
    added = planner_cli.json("staff", "add", "佐藤 花子", "--role", "nurse")
    planner_cli.ok("staff", "add", "鈴木 一郎", "--role", "lab")

    rows = planner_cli.json("staff", "list")

    assert (added["id"], added["name"], added["role"]) == (1, "佐藤 花子", "nurse")
    assert [(r["id"], r["name"], r["role"]) for r in rows] == [
        (1, "佐藤 花子", "nurse"), (2, "鈴木 一郎", "lab")]


def test_staff_add_text_names_the_role(planner_cli: PlannerCli) -> None:
    result = planner_cli.ok("staff", "add", "佐藤 花子", "--role", "doctor")

    assert result.output == "Staff 1 added: 佐藤 花子 (doctor)\n"


def test_staff_add_with_an_unknown_role_is_refused(planner_cli: PlannerCli) -> None:
    planner_cli.ok("init")
    before = planner_cli.dump()

    result = planner_cli("staff", "add", "佐藤 花子", "--role", "janitor")

    assert_refused(result, "--role", "janitor")
    assert planner_cli.dump() == before


# -- plan --------------------------------------------------------------------------------


def test_plan_from_first_infusion_puts_infusions_on_mondays_and_thursdays(
        planner_cli: PlannerCli, patient_id: int) -> None:
    data = planner_cli.json("plan", "1", "--first-infusion", "2026-11-30", at=PLANNED_AT)

    infusions = [e for e in data["events"] if e["kind"] == "infusion"]
    assert [e["start"][:10] for e in infusions] == MONDAYS_AND_THURSDAYS


def test_plan_json_events_carry_identity_times_status_and_revision(
        planner_cli: PlannerCli, patient_id: int) -> None:
    data = planner_cli.json("plan", "1", "--first-infusion", "2026-11-30", at=PLANNED_AT)

    first = next(e for e in data["events"] if e["kind"] == "infusion" and e["seq"] == 1)
    assert data["course_id"] == 1
    assert {"id", "uid", "course_id", "kind", "seq", "start", "end", "status",
            "revision"} <= set(first)
    assert (first["start"], first["end"]) == ("2026-11-30T10:00:00+09:00",
                                              "2026-11-30T11:00:00+09:00")
    assert (first["course_id"], first["status"], first["revision"]) == (1, "scheduled", 0)
    assert first["uid"].endswith("-infusion-1@ank-planner.invalid")


def test_plan_json_writes_every_time_in_iso_8601_with_the_tokyo_offset(
        planner_cli: PlannerCli, patient_id: int) -> None:
    data = planner_cli.json("plan", "1", "--first-infusion", "2026-11-30", at=PLANNED_AT)

    times = [e[key] for e in data["events"] for key in ("start", "end")]
    assert all(t.endswith("+09:00") and t[10] == "T" for t in times)


def test_plan_stores_collection_infusions_steps_and_follow_up(
        planner_cli: PlannerCli, planned_course: int) -> None:
    events = course_events(planner_cli)

    assert len(events) == 26  # collection, 8 × (infusion, blood test, delivery), follow-up
    assert events[("collection", 1)]["start"] == "2026-11-09T09:00:00+09:00"
    assert events[("blood_test", 3)]["start"] == "2026-12-07T09:30:00+09:00"
    assert events[("cell_delivery", 3)]["start"] == "2026-12-05T16:00:00+09:00"
    assert events[("follow_up", 8)]["start"] == "2027-01-07T10:00:00+09:00"


def test_plan_from_collection_puts_the_first_infusion_21_days_later(
        planner_cli: PlannerCli, patient_id: int) -> None:
    data = planner_cli.json("plan", "1", "--collection", "2026-11-09", at=PLANNED_AT)

    events = {(e["kind"], e["seq"]): e for e in data["events"]}
    assert events[("collection", 1)]["start"] == "2026-11-09T09:00:00+09:00"
    assert infusion_days(events) == MONDAYS_AND_THURSDAYS


def test_plan_from_collection_is_recorded_as_planned_from_the_collection(
        planner_cli: PlannerCli, patient_id: int) -> None:
    planner_cli.ok("plan", "1", "--collection", "2026-11-09", at=PLANNED_AT)

    (course,) = planner_cli.json("show", "--course", "1")
    assert (course["planned_from"], course["start_date"]) == ("collection", "2026-11-09")


def test_plan_table_starts_with_the_course_and_lists_the_events(
        planner_cli: PlannerCli, patient_id: int) -> None:
    output = planner_cli.ok("plan", "1", "--first-infusion", "2026-11-30",
                            at=PLANNED_AT).output

    assert output.startswith("Course 1 planned for patient 1.\n")
    assert "2026-12-07 Mon  10:00–11:00" in output


def test_plan_with_a_start_in_the_past_is_refused(planner_cli: PlannerCli,
                                                  patient_id: int) -> None:
    before = planner_cli.dump()

    result = planner_cli("plan", "1", "--first-infusion", "2026-11-26")

    assert_refused(result, "2026-11-26", "in the past")
    assert planner_cli.dump() == before


# -- show --------------------------------------------------------------------------------


def test_show_patient_prints_each_course_with_its_events(planner_cli: PlannerCli,
                                                         planned_course: int) -> None:
    output = planner_cli.ok("show", "1").output

    assert output.startswith(f"Course 1 — {PATIENT_NAME} (patient 1), ank, active\n")
    assert "2026-12-24 Thu  10:00–11:00" in output


def test_show_course_json_gives_the_course_and_its_26_events(planner_cli: PlannerCli,
                                                            planned_course: int) -> None:
    (course,) = planner_cli.json("show", "--course", "1")

    assert (course["id"], course["patient_id"], course["status"]) == (1, 1, "active")
    assert len(course["events"]) == 26


def test_show_reports_events_over_by_now_as_done(planner_cli: PlannerCli,
                                                 planned_course: int) -> None:
    events = course_events(planner_cli, at=NOW)

    assert events[("collection", 1)]["status"] == "done"  # Mon 2026-11-09
    assert events[("infusion", 1)]["status"] == "scheduled"


def test_show_patient_without_a_course_says_so(planner_cli: PlannerCli,
                                               patient_id: int) -> None:
    assert planner_cli.ok("show", "1").output == "No courses planned.\n"


@pytest.mark.parametrize("args", [(), ("1", "--course", "1")])
def test_show_needs_either_a_patient_or_a_course(planner_cli: PlannerCli, planned_course: int,
                                                 args: tuple[str, ...]) -> None:
    assert_refused(planner_cli("show", *args), "PATIENT_ID", "--course")


# -- agenda ------------------------------------------------------------------------------


def test_agenda_for_the_lab_shows_cell_deliveries_and_no_blood_tests(
        planner_cli: PlannerCli, planned_course: int) -> None:
    rows = planner_cli.json("agenda", "--from", "2026-12-07", "--to", "2026-12-13",
                            "--role", "lab")

    kinds = {row["kind"] for row in rows}
    assert "cell_delivery" in kinds
    assert "blood_test" not in kinds


def test_agenda_without_a_role_shows_every_event(planner_cli: PlannerCli,
                                                 planned_course: int) -> None:
    rows = planner_cli.json("agenda", "--from", "2026-12-07", "--to", "2026-12-13")

    assert [(r["kind"], r["seq"]) for r in rows] == [
        ("blood_test", 3), ("infusion", 3), ("cell_delivery", 4), ("blood_test", 4),
        ("infusion", 4), ("cell_delivery", 5)]


def test_agenda_includes_the_last_day_and_nothing_after_it(planner_cli: PlannerCli,
                                                           planned_course: int) -> None:
    rows = planner_cli.json("agenda", "--from", "2026-12-12", "--to", "2026-12-14")

    assert [r["start"][:10] for r in rows] == ["2026-12-12", "2026-12-14", "2026-12-14"]


def test_agenda_json_names_the_patient_and_uses_the_tokyo_offset(
        planner_cli: PlannerCli, planned_course: int) -> None:
    (row,) = planner_cli.json("agenda", "--from", "2026-11-30", "--to", "2026-11-30",
                              "--role", "doctor")

    assert (row["kind"], row["patient_id"], row["patient_name"]) == ("infusion", 1,
                                                                     PATIENT_NAME)
    assert row["start"] == "2026-11-30T10:00:00+09:00"


def test_agenda_with_to_before_from_is_refused(planner_cli: PlannerCli,
                                               planned_course: int) -> None:
    result = planner_cli("agenda", "--from", "2026-12-07", "--to", "2026-12-01")

    assert_refused(result, "--to", "before --from")


# -- reschedule --------------------------------------------------------------------------


def test_reschedule_infusion_shifts_the_following_infusions(planner_cli: PlannerCli,
                                                            planned_course: int) -> None:
    infusion_3 = planner_cli.event_id("infusion", 3)

    planner_cli.ok("reschedule", str(infusion_3), "--to", "2026-12-08")

    assert infusion_days(course_events(planner_cli)) == [
        "2026-11-30", "2026-12-03", "2026-12-08", "2026-12-11",
        "2026-12-15", "2026-12-18", "2026-12-22", "2026-12-25"]


def test_reschedule_to_a_date_keeps_the_time_of_day(planner_cli: PlannerCli,
                                                    planned_course: int) -> None:
    infusion_3 = planner_cli.event_id("infusion", 3)

    planner_cli.ok("reschedule", str(infusion_3), "--to", "2026-12-08")

    assert course_events(planner_cli)[("infusion", 3)]["start"] == "2026-12-08T10:00:00+09:00"


def test_reschedule_raises_the_revision_and_keeps_the_uid(planner_cli: PlannerCli,
                                                          planned_course: int) -> None:
    before = course_events(planner_cli)[("infusion", 3)]

    data = planner_cli.json("reschedule", str(before["id"]), "--to", "2026-12-08")

    after = next(e for e in data["events"] if e["id"] == before["id"])
    assert (after["uid"], after["revision"]) == (before["uid"], before["revision"] + 1)
    assert before["id"] in data["changed"]


def test_reschedule_leaves_earlier_infusions_untouched(planner_cli: PlannerCli,
                                                       planned_course: int) -> None:
    before = course_events(planner_cli)

    planner_cli.ok("reschedule", str(planner_cli.event_id("infusion", 3)), "--to", "2026-12-08")

    after = course_events(planner_cli)
    assert after[("infusion", 2)] == before[("infusion", 2)]


def test_reschedule_moves_the_cell_delivery_and_keeps_a_follow_up_still_in_its_window(
        planner_cli: PlannerCli, planned_course: int) -> None:
    planner_cli.ok("reschedule", str(planner_cli.event_id("infusion", 3)), "--to", "2026-12-08")

    events = course_events(planner_cli)
    assert events[("cell_delivery", 3)]["start"] == "2026-12-07T16:00:00+09:00"
    # The last infusion moves to Fri 12-25; Thu 2027-01-07 is 13 days later, inside 11–17.
    assert events[("follow_up", 8)]["start"] == "2027-01-07T10:00:00+09:00"


def test_reschedule_only_moves_that_infusion_alone(planner_cli: PlannerCli,
                                                   planned_course: int) -> None:
    before = course_events(planner_cli)

    planner_cli.ok("reschedule", str(before[("infusion", 3)]["id"]), "--to", "2026-12-08",
                   "--only")

    after = course_events(planner_cli)
    assert infusion_days(after) == [
        "2026-11-30", "2026-12-03", "2026-12-08", "2026-12-10",
        "2026-12-14", "2026-12-17", "2026-12-21", "2026-12-24"]
    assert after[("infusion", 4)] == before[("infusion", 4)]


def test_reschedule_to_a_date_and_time_moves_the_blood_test_with_it(
        planner_cli: PlannerCli, planned_course: int) -> None:
    planner_cli.ok("reschedule", str(planner_cli.event_id("infusion", 3)),
                   "--to", "2026-12-08T14:00", "--only")

    events = course_events(planner_cli)
    assert events[("infusion", 3)]["start"] == "2026-12-08T14:00:00+09:00"
    assert events[("blood_test", 3)]["start"] == "2026-12-08T13:30:00+09:00"


def test_reschedule_table_reports_the_changed_events(planner_cli: PlannerCli,
                                                     planned_course: int) -> None:
    output = planner_cli.ok("reschedule", str(planner_cli.event_id("infusion", 3)),
                            "--to", "2026-12-08", "--only").output

    assert output.startswith("Course 1: rescheduled; 3 event(s) changed.\n")
    assert "2026-12-08 Tue  10:00–11:00" in output


# -- missed ------------------------------------------------------------------------------

AFTER_INFUSION_5 = tokyo(2026, 12, 14, 12, 0)  # Mon, infusion 5 was 10:00–11:00


def test_missed_marks_the_infusion_missed(planner_cli: PlannerCli,
                                          planned_course: int) -> None:
    planner_cli.ok("missed", str(planner_cli.event_id("infusion", 5)), at=AFTER_INFUSION_5)

    assert course_events(planner_cli, at=AFTER_INFUSION_5)[("infusion", 5)]["status"] == "missed"


def test_missed_adds_make_up_infusion_9_after_the_last_one(planner_cli: PlannerCli,
                                                           planned_course: int) -> None:
    planner_cli.ok("missed", str(planner_cli.event_id("infusion", 5)), at=AFTER_INFUSION_5)

    makeup = course_events(planner_cli, at=AFTER_INFUSION_5)[("infusion", 9)]
    assert (makeup["start"], makeup["status"], makeup["revision"]) == (
        "2026-12-28T10:00:00+09:00", "scheduled", 0)


def test_missed_moves_the_follow_up_after_the_make_up(planner_cli: PlannerCli,
                                                      planned_course: int) -> None:
    planner_cli.ok("missed", str(planner_cli.event_id("infusion", 5)), at=AFTER_INFUSION_5)

    follow_up = next(e for e in course_events(planner_cli, at=AFTER_INFUSION_5).values()
                     if e["kind"] == "follow_up")
    # Mon 12-28 + 14 days is Mon 2027-01-11, Coming of Age Day: the next day.
    assert follow_up["start"] == "2027-01-12T10:00:00+09:00"


def test_missed_with_no_makeup_adds_no_infusion(planner_cli: PlannerCli,
                                                planned_course: int) -> None:
    planner_cli.ok("missed", str(planner_cli.event_id("infusion", 5)), "--no-makeup",
                   at=AFTER_INFUSION_5)

    events = course_events(planner_cli, at=AFTER_INFUSION_5)
    assert ("infusion", 9) not in events
    assert events[("follow_up", 8)]["start"] == "2027-01-07T10:00:00+09:00"


def test_missed_on_a_blood_test_is_refused(planner_cli: PlannerCli,
                                           planned_course: int) -> None:
    before = planner_cli.dump()

    result = planner_cli("missed", str(planner_cli.event_id("blood_test", 5)),
                         at=AFTER_INFUSION_5)

    assert_refused(result, "EVENT_ID", "only infusions")
    assert planner_cli.dump() == before


# -- postpone ----------------------------------------------------------------------------

AFTER_INFUSION_2 = tokyo(2026, 12, 3, 12, 0)  # Thu; next: cell delivery 3 on Sat 12-05 16:00


def test_postpone_days_moves_the_rest_of_the_course_that_many_days(
        planner_cli: PlannerCli, planned_course: int) -> None:
    planner_cli.ok("postpone", "1", "--days", "3", at=AFTER_INFUSION_2)

    assert infusion_days(course_events(planner_cli, at=AFTER_INFUSION_2)) == [
        "2026-11-30", "2026-12-03", "2026-12-10", "2026-12-14",
        "2026-12-17", "2026-12-21", "2026-12-24", "2026-12-28"]


def test_postpone_leaves_infusions_already_given_as_they_were(
        planner_cli: PlannerCli, planned_course: int) -> None:
    before = course_events(planner_cli, at=AFTER_INFUSION_2)

    planner_cli.ok("postpone", "1", "--days", "3", at=AFTER_INFUSION_2)

    after = course_events(planner_cli, at=AFTER_INFUSION_2)
    assert [after[("infusion", n)] for n in (1, 2)] == [before[("infusion", n)] for n in (1, 2)]


def test_postpone_to_leaves_infusions_already_given_as_they_were(
        planner_cli: PlannerCli, planned_course: int) -> None:
    before = course_events(planner_cli, at=AFTER_INFUSION_2)

    planner_cli.ok("postpone", "1", "--to", "2026-12-10", at=AFTER_INFUSION_2)

    after = course_events(planner_cli, at=AFTER_INFUSION_2)
    assert [after[("infusion", n)] for n in (1, 2)] == [before[("infusion", n)] for n in (1, 2)]
    assert after[("infusion", 3)]["start"] >= "2026-12-10"


def test_postpone_to_puts_the_next_infusion_on_that_date(planner_cli: PlannerCli,
                                                         planned_course: int) -> None:
    planner_cli.ok("postpone", "1", "--to", "2026-12-10", at=AFTER_INFUSION_2)

    events = course_events(planner_cli, at=AFTER_INFUSION_2)
    assert events[("infusion", 3)]["start"] == "2026-12-10T10:00:00+09:00"


@pytest.mark.parametrize("args", [(), ("--days", "3", "--to", "2026-12-10")])
def test_postpone_needs_exactly_one_of_days_and_to(planner_cli: PlannerCli,
                                                    planned_course: int,
                                                    args: tuple[str, ...]) -> None:
    before = planner_cli.dump()

    assert_refused(planner_cli("postpone", "1", *args, at=AFTER_INFUSION_2),
                   "--days", "--to")
    assert planner_cli.dump() == before


# -- cancel ------------------------------------------------------------------------------


def test_cancel_cancels_every_event_still_ahead(planner_cli: PlannerCli,
                                                planned_course: int) -> None:
    planner_cli.ok("cancel", "1", "--reason", "admitted to hospital", at=AFTER_INFUSION_2)

    events = course_events(planner_cli, at=AFTER_INFUSION_2).values()
    ahead = [e for e in events if e["start"] > "2026-12-03T12:00:00+09:00"]
    assert len(ahead) == 19
    assert {e["status"] for e in ahead} == {"cancelled"}


def test_cancel_leaves_what_has_happened_as_it_was(planner_cli: PlannerCli,
                                                   planned_course: int) -> None:
    planner_cli.ok("cancel", "1", "--reason", "admitted to hospital", at=AFTER_INFUSION_2)

    events = course_events(planner_cli, at=AFTER_INFUSION_2).values()
    past = [e for e in events if e["start"] < "2026-12-03T12:00:00+09:00"]
    assert [(e["kind"], e["seq"]) for e in past] == [
        ("collection", 1), ("cell_delivery", 1), ("blood_test", 1), ("infusion", 1),
        ("cell_delivery", 2), ("blood_test", 2), ("infusion", 2)]
    assert {(e["status"], e["revision"]) for e in past} == {("done", 0)}


def test_cancel_marks_the_course_cancelled_with_its_reason(planner_cli: PlannerCli,
                                                           planned_course: int) -> None:
    planner_cli.ok("cancel", "1", "--reason", "admitted to hospital", at=AFTER_INFUSION_2)

    (course,) = planner_cli.json("show", "--course", "1", at=AFTER_INFUSION_2)
    assert (course["status"], course["cancel_reason"]) == ("cancelled", "admitted to hospital")


def test_a_cancelled_course_cannot_be_rescheduled(planner_cli: PlannerCli,
                                                  planned_course: int) -> None:
    planner_cli.ok("cancel", "1", "--reason", "admitted to hospital", at=AFTER_INFUSION_2)
    before = planner_cli.dump()

    result = planner_cli("reschedule", str(planner_cli.event_id("infusion", 4)),
                         "--to", "2026-12-11", at=AFTER_INFUSION_2)

    assert_refused(result, "course 1 is cancelled")
    assert planner_cli.dump() == before


# -- the culture lab's notice window (2 days by default) ---------------------------------

DAY_BEFORE_INFUSION_4 = tokyo(2026, 12, 9, 10, 0)  # Wed; infusion 4 is Thu 12-10 10:00


def test_reschedule_inside_the_lab_notice_window_is_refused_without_force(
        planner_cli: PlannerCli, planned_course: int) -> None:
    before = planner_cli.dump()

    result = planner_cli("reschedule", str(planner_cli.event_id("infusion", 4)),
                         "--to", "2026-12-11", at=DAY_BEFORE_INFUSION_4)

    assert_refused(result, "notice window (2 days)", "--force")
    assert planner_cli.dump() == before


def test_reschedule_inside_the_lab_notice_window_with_force_flags_the_lab(
        planner_cli: PlannerCli, planned_course: int) -> None:
    infusion_4 = planner_cli.event_id("infusion", 4)

    data = planner_cli.json("reschedule", str(infusion_4), "--to", "2026-12-11", "--force",
                            at=DAY_BEFORE_INFUSION_4)

    moved = next(e for e in data["events"] if e["id"] == infusion_4)
    assert (moved["start"], moved["lab_attention"]) == ("2026-12-11T10:00:00+09:00", True)
    assert "infusion 4" in data["lab_attention"]


def test_reschedule_outside_the_lab_notice_window_does_not_flag_the_lab(
        planner_cli: PlannerCli, planned_course: int) -> None:
    data = planner_cli.json("reschedule", str(planner_cli.event_id("infusion", 4)),
                            "--to", "2026-12-11")

    assert data["lab_attention"] == []
    assert not any(e["lab_attention"] for e in data["events"])


# -- export ------------------------------------------------------------------------------


def test_export_patient_to_a_file_is_a_valid_calendar(planner_cli: PlannerCli,
                                                      planned_course: int,
                                                      tmp_path: Path) -> None:
    target = tmp_path / "yamada.ics"

    result = planner_cli.ok("export", "--patient", "1", "-o", str(target))

    check_ics(target.read_bytes())
    assert result.stdout == ""
    assert f"Wrote {target} (" in result.stderr


def test_export_course_to_standard_output_is_a_valid_calendar(planner_cli: PlannerCli,
                                                              planned_course: int) -> None:
    data = planner_cli.ok("export", "--course", "1").stdout_bytes

    check_ics(data)
    assert data.count(b"BEGIN:VEVENT") == 10  # collection, 8 infusion visits, follow-up


def test_export_role_holds_only_the_events_of_that_role(planner_cli: PlannerCli,
                                                        planned_course: int) -> None:
    data = planner_cli.ok("export", "--role", "lab").stdout_bytes

    check_ics(data)
    assert categories(data) == {"リンパ球の採取（成分採血）", "培養細胞の出荷・到着",
                                "ANK細胞の点滴"}


def test_export_all_is_a_valid_calendar_of_every_event(planner_cli: PlannerCli,
                                                       planned_course: int,
                                                       tmp_path: Path) -> None:
    target = tmp_path / "clinic.ics"

    planner_cli.ok("export", "--all", "-o", str(target))

    data = target.read_bytes()
    check_ics(data)
    assert data.count(b"BEGIN:VEVENT") == 26


def test_patient_export_has_no_cell_delivery(planner_cli: PlannerCli,
                                             planned_course: int) -> None:
    data = planner_cli.ok("export", "--patient", "1").stdout_bytes

    assert b"cell_delivery" not in data
    assert "培養細胞" not in data.decode()


def test_export_keeps_uids_and_raises_sequence_across_a_reschedule(
        planner_cli: PlannerCli, planned_course: int) -> None:
    infusion_4 = course_events(planner_cli)[("infusion", 4)]
    first = ics_events(planner_cli.ok("export", "--course", "1").stdout_bytes)

    planner_cli.ok("reschedule", str(infusion_4["id"]), "--to", "2026-12-11")
    data = planner_cli.ok("export", "--course", "1").stdout_bytes

    check_ics(data)
    second = ics_events(data)
    assert set(second) == set(first)
    uid = infusion_4["uid"]
    assert (int(first[uid]["SEQUENCE"]), int(second[uid]["SEQUENCE"])) == (0, 2)  # and its test
    assert second[uid].start.isoformat() == "2026-12-11T09:30:00+09:00"  # the blood test


def test_export_after_cancel_marks_the_cancelled_events(planner_cli: PlannerCli,
                                                        planned_course: int) -> None:
    events = course_events(planner_cli)
    planner_cli.ok("cancel", "1", "--reason", "admitted to hospital", at=AFTER_INFUSION_2)

    data = planner_cli.ok("export", "--course", "1", at=AFTER_INFUSION_2).stdout_bytes

    check_ics(data)
    exported = ics_events(data)
    assert str(exported[events[("infusion", 3)]["uid"]]["STATUS"]) == "CANCELLED"
    assert str(exported[events[("infusion", 2)]["uid"]]["STATUS"]) == "CONFIRMED"


def _staff_summaries(planner_cli: PlannerCli, config: Path) -> list[str]:
    data = planner_cli.ok("export", "--role", "nurse", config=config).stdout_bytes
    check_ics(data)
    return [str(event["SUMMARY"]) + str(event["DESCRIPTION"])
            for event in Calendar.from_ical(data).events]


def test_staff_export_with_initials_shows_no_full_name(planner_cli: PlannerCli,
                                                       planned_course: int,
                                                       write_config: Any) -> None:
    config = write_config('[export]\nstaff_names = "initials"\n')

    texts = _staff_summaries(planner_cli, config)

    assert texts
    assert not any("太郎" in text for text in texts)
    assert all("山田様 (#1)" in text for text in texts)


def test_staff_export_with_full_names_shows_the_full_name(planner_cli: PlannerCli,
                                                          planned_course: int,
                                                          write_config: Any) -> None:
    config = write_config('[export]\nstaff_names = "full"\n')

    texts = _staff_summaries(planner_cli, config)

    assert texts
    assert all(f"{PATIENT_NAME} (#1)" in text for text in texts)


@pytest.mark.parametrize("args", [(), ("--patient", "1", "--all"), ("--role", "lab", "--all")])
def test_export_needs_exactly_one_selection(planner_cli: PlannerCli, planned_course: int,
                                            args: tuple[str, ...]) -> None:
    assert_refused(planner_cli("export", *args), "exactly one of --patient")


def test_export_of_an_unknown_patient_is_refused(planner_cli: PlannerCli,
                                                 planned_course: int) -> None:
    assert_refused(planner_cli("export", "--patient", "99"), "PATIENT_ID",
                   "no patient with id 99")


# -- backup ------------------------------------------------------------------------------


def test_backup_copies_every_committed_row_while_another_connection_writes(
        planner_cli: PlannerCli, planned_course: int, tmp_path: Path) -> None:
    expected = planner_cli.dump()
    copy = tmp_path / "backup.db"
    holder = sqlite3.connect(str(planner_cli.db))
    try:
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("INSERT INTO patients (name, lang, created_at)"
                       " VALUES ('uncommitted', 'ja', '2026-11-27T00:00:00+00:00')")
        result = planner_cli("backup", str(copy))
    finally:
        holder.rollback()
        holder.close()

    assert result.exit_code == 0, result.output
    assert result.output == f"Backup written: {copy}\n"
    assert dump_database(copy) == expected


def test_backup_is_a_sound_sqlite_database(planner_cli: PlannerCli, planned_course: int,
                                           tmp_path: Path) -> None:
    copy = tmp_path / "backup.db"

    planner_cli.ok("backup", str(copy))

    connection = sqlite3.connect(str(copy))
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert connection.execute("SELECT COUNT(*) FROM events").fetchone() == (26,)
    finally:
        connection.close()


def test_backup_onto_an_existing_file_is_refused(planner_cli: PlannerCli, planned_course: int,
                                                 tmp_path: Path) -> None:
    existing = tmp_path / "old.db"
    existing.write_bytes(b"keep me")

    assert_refused(planner_cli("backup", str(existing)), "FILE", "already exists")
    assert existing.read_bytes() == b"keep me"


# -- demo --------------------------------------------------------------------------------


def test_demo_runs_with_no_database_and_no_config_and_writes_a_calendar(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLANNER_DB", raising=False)
    monkeypatch.delenv("PLANNER_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["demo", "-o", "demo.ics"], obj=App(clock=FixedClock(NOW)))

    assert result.exit_code == 0, result.output
    assert os.listdir(tmp_path) == ["demo.ics"]  # no database left behind
    data = Path(tmp_path, "demo.ics").read_bytes()
    check_ics(data)
    assert data.count(b"BEGIN:VEVENT") == 10  # collection, 8 infusion visits, follow-up
    assert "Calendar written to demo.ics" in result.output


def test_the_demos_month_view_names_closures_in_japanese(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["demo", "-o", "demo.ics"], obj=App(clock=FixedClock(NOW)))

    (legend,) = [line for line in result.output.splitlines() if line.startswith("休＝")]
    assert "日曜日" in legend
    assert not re.search(r"[A-Za-z]", legend)


# -- bad input: exit 2, one line naming the field and the reason, nothing changed ---------


def test_unknown_patient_is_refused_and_nothing_changes(planner_cli: PlannerCli,
                                                        patient_id: int) -> None:
    before = planner_cli.dump()

    result = planner_cli("plan", "99", "--first-infusion", "2026-11-30")

    assert_refused(result, "PATIENT_ID", "no patient with id 99")
    assert planner_cli.dump() == before


def test_unknown_event_is_refused_and_nothing_changes(planner_cli: PlannerCli,
                                                      planned_course: int) -> None:
    before = planner_cli.dump()

    result = planner_cli("reschedule", "999", "--to", "2026-12-08")

    assert_refused(result, "EVENT_ID", "no event with id 999")
    assert planner_cli.dump() == before


def test_a_date_that_does_not_exist_is_refused(planner_cli: PlannerCli,
                                               patient_id: int) -> None:
    before = planner_cli.dump()

    result = planner_cli("plan", "1", "--first-infusion", "2026-02-30")

    assert_refused(result, "'--first-infusion'", "'2026-02-30' is not a date",
                   "day is out of range for month")
    assert planner_cli.dump() == before


@pytest.mark.parametrize("written", ["12/07/2026", "2026-12-7"])
def test_a_date_in_the_wrong_format_is_refused(planner_cli: PlannerCli, patient_id: int,
                                               written: str) -> None:
    before = planner_cli.dump()

    result = planner_cli("plan", "1", "--first-infusion", written)

    assert_refused(result, "'--first-infusion'", f"'{written}'", "YYYY-MM-DD")
    assert planner_cli.dump() == before


@pytest.mark.parametrize("starts", [
    (),
    ("--first-infusion", "2026-11-30", "--collection", "2026-11-09"),
])
def test_plan_needs_exactly_one_of_first_infusion_and_collection(
        planner_cli: PlannerCli, patient_id: int, starts: tuple[str, ...]) -> None:
    before = planner_cli.dump()

    result = planner_cli("plan", "1", *starts, at=PLANNED_AT)

    assert_refused(result, "exactly one of --first-infusion and --collection")
    assert planner_cli.dump() == before


def test_reschedule_onto_a_closed_day_is_refused(planner_cli: PlannerCli,
                                                 planned_course: int) -> None:
    before = planner_cli.dump()

    result = planner_cli("reschedule", str(planner_cli.event_id("infusion", 8)),
                         "--to", "2026-12-31")

    assert_refused(result, "reschedule.to", "2026-12-31 is closed: year-end closure")
    assert planner_cli.dump() == before


def test_reschedule_outside_clinic_hours_is_refused(planner_cli: PlannerCli,
                                                    planned_course: int) -> None:
    before = planner_cli.dump()

    result = planner_cli("reschedule", str(planner_cli.event_id("infusion", 4)),
                         "--to", "2026-12-10T19:00")

    assert_refused(result, "reschedule.to", "19:00 is outside clinic hours (09:00–18:00)")
    assert planner_cli.dump() == before


def test_a_time_written_wrongly_is_refused(planner_cli: PlannerCli,
                                           planned_course: int) -> None:
    result = planner_cli("reschedule", str(planner_cli.event_id("infusion", 4)),
                         "--to", "2026-12-10 7pm")

    assert_refused(result, "'--to'", "YYYY-MM-DDTHH:MM")


NO_ROOM_FOR_THE_COLLECTION = """\
[clinic]
closed_dates = ["2026-11-16"]

[protocol.ank.steps.collection]
anchor = "first_infusion"
offset_days = -14
window_days = [-15, -14]
time = "09:00"
minutes = 240
audience = ["patient", "nurse", "lab"]
"""


def test_a_protocol_whose_collection_window_cannot_fit_is_refused_with_a_suggestion(
        planner_cli: PlannerCli, patient_id: int, write_config: Any) -> None:
    config = write_config(NO_ROOM_FOR_THE_COLLECTION)
    before = planner_cli.dump()

    result = planner_cli("plan", "1", "--first-infusion", "2026-11-30", config=config,
                         at=PLANNED_AT)

    assert_refused(result, "steps.collection.window_days",
                   "no open day for the collection between 2026-11-15 and 2026-11-16",
                   "the nearest first infusion that works is 2026-11-28 (Sat) before, or "
                   "2026-12-01 (Tue) after")
    assert planner_cli.dump() == before


def test_a_plan_whose_collection_would_be_past_is_refused_naming_it_and_a_later_start(
        planner_cli: PlannerCli, patient_id: int) -> None:
    # Now is Fri 2026-11-27; a first infusion on Mon 12-14 needs the collection on 11-24.
    # Earlier starts have their collection in the past too, so only a later one is offered.
    before = planner_cli.dump()

    result = planner_cli("plan", "1", "--first-infusion", "2026-12-14")

    assert_refused(result, "plan.past", "the collection on 2026-11-24 09:00 would be in the past",
                   "--collected DATE", "the nearest first infusion that works is 2026-12-18 (Fri)")
    assert planner_cli.dump() == before


def test_a_broken_config_file_is_refused(planner_cli: PlannerCli, patient_id: int,
                                         write_config: Any) -> None:
    config = write_config("[clinic\nname = 'ANK'\n")
    before = planner_cli.dump()

    result = planner_cli("patient", "add", "山田 花子", config=config)

    assert_refused(result, f"{config}: not valid TOML", "line 1")
    assert planner_cli.dump() == before


def test_a_missing_config_file_is_refused(planner_cli: PlannerCli, patient_id: int,
                                          tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    before = planner_cli.dump()

    result = planner_cli("patient", "add", "山田 花子", config=missing)

    line = assert_refused(result)
    assert line == f"Error: {missing}: config file not found"
    assert planner_cli.dump() == before


def test_a_missing_config_file_creates_no_database(bare_cli: PlannerCli,
                                                   tmp_path: Path) -> None:
    result = bare_cli("init", config=tmp_path / "nowhere.toml")

    assert_refused(result, "config file not found")
    assert not bare_cli.db.exists()


def test_a_config_value_error_names_the_file_the_key_and_the_value(
        planner_cli: PlannerCli, patient_id: int, write_config: Any) -> None:
    config = write_config('[protocol.ank]\ninfusions = "eight"\n')
    before = planner_cli.dump()

    result = planner_cli("plan", "1", "--first-infusion", "2026-11-30", config=config)

    line = assert_refused(result)
    assert line == (f"Error: {config}: protocol.ank.infusions: must be a whole number >= 1, "
                    "got 'eight'")
    assert planner_cli.dump() == before


def test_an_unknown_protocol_name_is_refused(planner_cli: PlannerCli,
                                             patient_id: int) -> None:
    before = planner_cli.dump()

    result = planner_cli("plan", "1", "--first-infusion", "2026-11-30", "--protocol", "nope")

    line = assert_refused(result)
    assert line == "Error: --protocol: unknown protocol 'nope'; known: ank, ank12, ank6"
    assert planner_cli.dump() == before


def test_a_database_file_that_is_not_sqlite_is_refused(planner_cli: PlannerCli) -> None:
    planner_cli.db.write_text("patients: 山田 太郎\n", encoding="utf-8")
    before = planner_cli.db.read_bytes()

    result = planner_cli("patient", "list")

    line = assert_refused(result)
    assert line == f"Error: {planner_cli.db}: not an SQLite database"
    assert planner_cli.db.read_bytes() == before


def test_a_database_from_a_newer_schema_is_refused(planner_cli: PlannerCli,
                                                   patient_id: int) -> None:
    connection = sqlite3.connect(str(planner_cli.db))
    with connection:
        connection.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
            " VALUES ('ank-planner', 'm999_from_the_future', '2027-06-01 00:00:00+00:00')")
    connection.close()
    before = planner_cli.dump()

    result = planner_cli("patient", "add", "山田 花子")

    assert_refused(result, str(planner_cli.db), "newer version of the planner",
                   "'m999_from_the_future'")
    assert planner_cli.dump() == before
