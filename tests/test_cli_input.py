"""Every bad input gets one ``Error:`` line naming the argument, exit status 2, no change.

Uses the standard course of ``conftest.py`` (infusions Mon 2026-11-30 to Thu 2026-12-24,
clock Fri 2026-11-27 09:00 Tokyo) and a patient or course planned in 2027 where a test
plans its own.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import PlannerCli

HUGE = "100000000000000000000"


def assert_one_line(result: Result, *needles: str) -> str:
    """Exit status 2 and exactly one line, ``Error: …``, holding every needle."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = result.output.splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: "), result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def staff_id(planner_cli: PlannerCli) -> int:
    return int(planner_cli.json("staff", "add", "佐藤 花子", "--role", "nurse")["id"])


# -- ids -------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "name"), [
    (("link", HUGE), "PATIENT_ID"),
    (("link", "--staff", HUGE), "--staff"),
    (("reschedule", HUGE, "--to", "2026-12-10"), "EVENT_ID"),
    (("missed", HUGE), "EVENT_ID"),
    (("postpone", HUGE, "--days", "7"), "COURSE_ID"),
    (("cancel", HUGE, "--reason", "admitted"), "COURSE_ID"),
    (("feed", "revoke", HUGE), "FEED_ID"),
    (("feed", "issue", "--patient", HUGE), "--patient"),
    (("show", "--course", HUGE), "--course"),
    (("show", HUGE), "PATIENT_ID"),
    (("patient", "show", HUGE), "PATIENT_ID"),
    (("plan", HUGE, "--first-infusion", "2027-06-07"), "PATIENT_ID"),
    (("export", "--course", HUGE), "--course"),
    (("reminders", "--patient", HUGE), "--patient"),
])
def test_an_id_beyond_sqlites_integers_is_refused_naming_the_argument(
        planner_cli: PlannerCli, planned_course: int, args: tuple[str, ...], name: str) -> None:
    before = planner_cli.dump()

    result = planner_cli(*args)

    assert_one_line(result, name, f"{HUGE} is not an id", "9223372036854775807")
    assert planner_cli.dump() == before


def test_course_id_0_is_refused_not_taken_for_no_course(planner_cli: PlannerCli,
                                                        planned_course: int) -> None:
    assert_one_line(planner_cli("show", "--course", "0"), "--course", "0 is not an id")


# -- dates -----------------------------------------------------------------------------


@pytest.mark.parametrize("day", ["9999-12-06", "0001-01-01", "1999-12-31", "2101-01-01"])
def test_a_first_infusion_outside_2000_to_2100_is_refused_naming_the_range(
        planner_cli: PlannerCli, patient_id: int, day: str) -> None:
    before = planner_cli.dump()

    result = planner_cli("plan", str(patient_id), "--first-infusion", day)

    assert_one_line(result, "--first-infusion", day, "outside the years 2000–2100")
    assert planner_cli.dump() == before


def test_a_reschedule_to_the_year_9999_is_refused(planner_cli: PlannerCli,
                                                  planned_course: int) -> None:
    before = planner_cli.dump()
    event_id = planner_cli.event_id("infusion", 3)

    result = planner_cli("reschedule", str(event_id), "--to", "9999-12-06T10:00")

    assert_one_line(result, "--to", "9999-12-06", "2000–2100")
    assert planner_cli.dump() == before


def test_an_agenda_from_the_year_1_is_refused(planner_cli: PlannerCli) -> None:
    assert_one_line(planner_cli("agenda", "--from", "0001-01-01"), "--from", "0001-01-01")


def test_a_dry_run_at_the_year_9999_is_refused(planner_cli: PlannerCli) -> None:
    assert_one_line(planner_cli("reminders", "--at", "9999-12-31T23:59"), "--at", "2000–2100")


def test_a_first_infusion_in_2100_is_still_accepted(planner_cli: PlannerCli,
                                                    patient_id: int) -> None:
    data = planner_cli.json("plan", str(patient_id), "--first-infusion", "2100-06-07")

    assert data["course_id"] == 1


# -- postpone bounds -------------------------------------------------------------------


def test_postpone_by_100000_days_is_refused_naming_the_limit(planner_cli: PlannerCli,
                                                             planned_course: int) -> None:
    before = planner_cli.dump()

    result = planner_cli("postpone", str(planned_course), "--days", "100000")

    assert_one_line(result, "--days", "100000", "365")
    assert planner_cli.dump() == before


def test_postpone_to_more_than_a_year_after_the_next_infusion_is_refused(
        planner_cli: PlannerCli, planned_course: int) -> None:
    before = planner_cli.dump()  # the next infusion is Mon 2026-11-30

    result = planner_cli("postpone", str(planned_course), "--to", "2027-12-01")

    assert_one_line(result, "--to", "2027-12-01", "more than 365 days", "2026-11-30")
    assert planner_cli.dump() == before


def test_postpone_help_says_the_limit(planner_cli: PlannerCli) -> None:
    result = planner_cli.ok("postpone", "--help")

    assert "1 to 365" in result.output


# -- output files ----------------------------------------------------------------------


def test_export_into_a_missing_folder_names_the_option_and_the_folder(
        planner_cli: PlannerCli, planned_course: int, tmp_path: Path) -> None:
    target = tmp_path / "nodir" / "x.ics"

    result = planner_cli("export", "--all", "-o", str(target))

    assert_one_line(result, "--output", f"the folder {tmp_path / 'nodir'} does not exist")
    assert not target.parent.exists()


def test_export_onto_a_folder_is_refused(planner_cli: PlannerCli, planned_course: int,
                                         tmp_path: Path) -> None:
    assert_one_line(planner_cli("export", "--all", "-o", str(tmp_path)), "--output",
                    "is a folder")


def test_demo_into_a_missing_folder_is_refused_before_anything_runs(
        bare_cli: PlannerCli, tmp_path: Path) -> None:
    result = bare_cli("demo", "-o", str(tmp_path / "nodir" / "x.ics"))

    assert_one_line(result, "--output", "does not exist")
    assert not bare_cli.db.exists()


def test_backup_into_a_missing_folder_names_the_folder(planner_cli: PlannerCli,
                                                       planned_course: int,
                                                       tmp_path: Path) -> None:
    result = planner_cli("backup", str(tmp_path / "nodir" / "x.db"))

    assert_one_line(result, "FILE", "does not exist")


def test_link_qr_into_a_missing_folder_stores_no_link_code(planner_cli: PlannerCli,
                                                           patient_id: int,
                                                           tmp_path: Path) -> None:
    before = planner_cli.dump()

    result = planner_cli("link", str(patient_id), "--qr", str(tmp_path / "nodir" / "q.png"))

    assert_one_line(result, "--qr", "does not exist")
    assert planner_cli.dump() == before


def test_link_qr_that_cannot_be_written_stores_no_link_code(planner_cli: PlannerCli,
                                                            patient_id: int,
                                                            tmp_path: Path) -> None:
    before = planner_cli.dump()
    dangling = tmp_path / "q.png"  # its folder exists; writing follows the link and fails
    dangling.symlink_to(tmp_path / "gone" / "q.png")

    result = planner_cli("link", str(patient_id), "--qr", str(dangling))

    assert_one_line(result, "--qr", "cannot write")
    assert planner_cli.dump() == before


# -- serve -----------------------------------------------------------------------------


def test_serve_on_a_port_in_use_says_so_in_one_line(planner_cli: PlannerCli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = planner_cli("serve", "--host", "127.0.0.1", "--port", str(port))

    assert_one_line(result, "--port", f"port {port} on 127.0.0.1 is already in use")


def test_serve_on_port_70000_is_refused(planner_cli: PlannerCli) -> None:
    assert_one_line(planner_cli("serve", "--port", "70000"), "--port", "70000")


# -- text fields -----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "reason"), [
    ("", "must not be empty"),
    ("   \u3000 ", "must not be empty"),
    ("山田\n太郎", "U+000A"),
    ("山田\x1b[31m太郎", "U+001B"),
    ("山田\x07", "U+0007"),
    ("山田\u200b太郎", "U+200B"),
    ("山田\u202e太郎", "U+202E"),
    ("山田\udcff", "U+DCFF"),
    ("山" * 101, "longer than 100 characters (got 101)"),
    ("x" * 10000, "longer than 100 characters (got 10000)"),
])
def test_a_patient_name_breaking_a_text_rule_is_refused(planner_cli: PlannerCli, name: str,
                                                        reason: str) -> None:
    planner_cli.ok("init")
    before = planner_cli.dump()

    result = planner_cli("patient", "add", name)

    assert_one_line(result, "NAME", reason)
    assert planner_cli.dump() == before


def test_a_patient_name_is_stored_trimmed(planner_cli: PlannerCli) -> None:
    row = planner_cli.json("patient", "add", " \u3000山田 太郎  ")

    assert row["name"] == "山田 太郎"


def test_a_name_of_100_characters_with_a_kanji_variant_is_accepted(
        planner_cli: PlannerCli) -> None:
    name = "葛\U000e0100城" + "子" * 97  # an ideographic variation selector is part of it

    row = planner_cli.json("patient", "add", name)

    assert row["name"] == name


@pytest.mark.parametrize(("mrn", "reason"), [
    ("", "must not be empty"),
    ("  ", "must not be empty"),
    ("A\t7", "U+0009"),
    ("9" * 33, "longer than 32 characters"),
])
def test_a_bad_mrn_is_refused_not_stored(planner_cli: PlannerCli, mrn: str,
                                         reason: str) -> None:
    planner_cli.ok("init")
    before = planner_cli.dump()

    result = planner_cli("patient", "add", "山田 太郎", "--mrn", mrn)

    assert_one_line(result, "--mrn", reason)
    assert planner_cli.dump() == before


def test_a_staff_name_with_a_line_break_is_refused(planner_cli: PlannerCli) -> None:
    planner_cli.ok("init")
    before = planner_cli.dump()

    result = planner_cli("staff", "add", "佐藤\r\n花子", "--role", "nurse")

    assert_one_line(result, "NAME", "line breaks")
    assert planner_cli.dump() == before


def test_an_empty_family_name_is_refused_and_no_link_code_stored(planner_cli: PlannerCli,
                                                                 patient_id: int) -> None:
    before = planner_cli.dump()

    result = planner_cli("link", str(patient_id), "--family", " ")

    assert_one_line(result, "--family", "must not be empty")
    assert planner_cli.dump() == before


@pytest.mark.parametrize(("reason", "problem"), [
    ("", "must not be empty"),
    ("admitted\x1b[2J", "U+001B"),
    ("x" * 501, "longer than 500 characters"),
])
def test_a_bad_cancel_reason_is_refused(planner_cli: PlannerCli, planned_course: int,
                                        reason: str, problem: str) -> None:
    before = planner_cli.dump()

    result = planner_cli("cancel", str(planned_course), "--reason", reason, "--force")

    assert_one_line(result, "--reason", problem)
    assert planner_cli.dump() == before


def test_an_empty_protocol_is_refused_not_taken_for_the_default(planner_cli: PlannerCli,
                                                                patient_id: int) -> None:
    before = planner_cli.dump()

    result = planner_cli("plan", str(patient_id), "--first-infusion", "2027-06-07",
                         "--protocol", "")

    assert_one_line(result, "--protocol", "must not be empty")
    assert planner_cli.dump() == before


# -- click's parse errors --------------------------------------------------------------


@pytest.mark.parametrize(("args", "needle"), [
    (("plan",), "Missing argument 'PATIENT_ID'"),
    (("plan", "1", "--bogus"), "No such option '--bogus'"),
    (("staff", "add", "佐藤", "--role", "cook"), "Invalid value for '--role': 'cook'"),
    (("nosuch",), "No such command 'nosuch'"),
    (("patient", "nosuch"), "No such command 'nosuch'"),
    (("cancel", "1"), "Missing option '--reason'"),
    (("postpone", "1", "--days", "seven"), "'seven' is not a valid integer"),
    (("plan", "one"), "'one' is not an id"),
])
def test_a_parse_error_is_one_line_with_a_hint_to_help(planner_cli: PlannerCli,
                                                       args: tuple[str, ...],
                                                       needle: str) -> None:
    line = assert_one_line(planner_cli(*args), needle)

    assert line.endswith(" --help')")


# -- the sweep -------------------------------------------------------------------------

BAD_INVOCATIONS = [
    ("plan",), ("plan", "1"), ("plan", "1", "--first-infusion", "2027-02-30"),
    ("plan", "1", "--first-infusion", "07/06/2027"), ("plan", "1", "--first-infusion", ""),
    ("plan", "1", "--first-infusion", "2027-06-07", "--collection", "2027-05-17"),
    ("plan", "1", "--first-infusion", "2027-06-07", "--protocol", "nosuch"),
    ("plan", "-1", "--first-infusion", "2027-06-07"), ("plan", "1.5"),
    ("plan", "7", "--first-infusion", "2027-06-07"),
    ("show",), ("show", "1", "--course", "1"), ("show", "--course", "-3"),
    ("agenda", "--from", "2027-06-07", "--to", "2027-06-01"), ("agenda", "--role", "cook"),
    ("agenda", "--to", "99999-01-01"),
    ("reschedule", "1"), ("reschedule", "1", "--to", "tomorrow"),
    ("reschedule", "1", "--to", "2026-12-10T25:00"), ("reschedule", "999", "--to", "2026-12-10"),
    ("missed",), ("missed", "0"), ("missed", "1"),
    ("postpone", "1"), ("postpone", "1", "--days", "0"), ("postpone", "1", "--days", "-5"),
    ("postpone", "1", "--days", "7", "--to", "2026-12-21"), ("postpone", "1", "--days", HUGE),
    ("postpone", "1", "--to", "2026-11-01"),
    ("cancel", "1"), ("cancel", "1", "--reason", "\n"), ("cancel", "99", "--reason", "x"),
    ("patient", "add"), ("patient", "add", "x", "--lang", "fr"), ("patient", "add", "a\x00b"),
    ("patient", "add", "x", "--mrn", "12345"), ("patient", "show", "abc"),
    ("patient", "show", "42"), ("staff", "add", "x"), ("staff", "add", "", "--role", "lab"),
    ("link",), ("link", "1", "--staff", "1"), ("link", "--staff", "1", "--family", "x"),
    ("link", "1", "--family", "a\u2028b"), ("link", "1", "--qr", "x" * 300 + ".png"),
    ("link", "99"), ("reminders", "--state", "lost"), ("reminders", "--at", "noon"),
    ("feed", "issue", "--role", "cook"), ("feed", "issue", "--staff", "99"),
    ("feed", "revoke", "99"), ("feed", "revoke", "-1"), ("feed", "nosuch"),
    ("export",), ("export", "--all", "--role", "lab"), ("export", "--patient", "99"),
    ("export", "--all", "--from", "2027-06-07", "--to", "2027-06-01"),
    ("export", "--all", "-o", ""), ("export", "--all", "--from", "2027-13-01"),
    ("backup",), ("backup", "nodir/x.db"), ("demo", "-o", "nodir/x.ics"),
    ("plan-many",), ("plan-many", "missing.csv"), ("plan-many", "."),
    ("serve", "--port", "-1"), ("serve", "--port", "http"),
    ("--nosuch", "init"), ("nosuch",), ("patient", "nosuch"), ("init", "extra"),
]


@pytest.mark.parametrize("args", BAD_INVOCATIONS, ids=" ".join)
def test_no_bad_invocation_gives_more_than_one_line(planner_cli: PlannerCli,
                                                    planned_course: int, staff_id: int,
                                                    args: tuple[str, ...]) -> None:
    before = planner_cli.dump()

    result = planner_cli(*args)

    assert_one_line(result)
    assert planner_cli.dump() == before


def test_export_that_cannot_be_written_says_why_in_one_line(planner_cli: PlannerCli,
                                                            planned_course: int,
                                                            tmp_path: Path) -> None:
    dangling = tmp_path / "x.ics"  # its folder exists; writing follows the link and fails
    dangling.symlink_to(tmp_path / "gone" / "x.ics")

    result = planner_cli("export", "--all", "-o", str(dangling))

    assert_one_line(result, "--output: cannot write", "No such file or directory")
