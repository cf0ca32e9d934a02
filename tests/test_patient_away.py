"""A patient's away periods: recorded, listed, removed, and avoided by planning and
changes (scenario dates spelled out; now is Mon 2027-05-03 09:00 in Tokyo)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from tests.conftest import PlannerCli
from tests.test_cli import assert_refused

TOKYO = ZoneInfo("Asia/Tokyo")
MAY_2027 = datetime(2027, 5, 3, 9, 0, tzinfo=TOKYO)


def infusion_days(planner_cli: PlannerCli) -> list[str]:
    (course,) = planner_cli.json("show", "1", at=MAY_2027)
    return [e["start"][:10] for e in course["events"]
            if e["kind"] == "infusion" and e["status"] == "scheduled"]


def with_patient(planner_cli: PlannerCli) -> None:
    planner_cli.ok("patient", "add", "山田 太郎", at=MAY_2027)


def test_an_away_period_is_listed_by_patient_show(planner_cli: PlannerCli):
    with_patient(planner_cli)
    planner_cli.ok("patient", "away", "1", "2027-06-14", "2027-06-16", "--reason",
                   "chemotherapy", at=MAY_2027)
    shown = planner_cli.json("patient", "show", "1", at=MAY_2027)
    assert [(a["first_day"], a["last_day"], a["reason"]) for a in shown["away"]] == [
        ("2027-06-14", "2027-06-16", "chemotherapy")]
    assert "away 1: 2027-06-14 to 2027-06-16 (chemotherapy)" in planner_cli.ok(
        "patient", "show", "1", at=MAY_2027).output


def test_a_course_planned_with_an_away_day_in_the_middle_avoids_it(planner_cli: PlannerCli):
    # Mon/Thu from Mon 2027-06-07; the patient has chemotherapy on Mon 06-14 (infusion 3).
    with_patient(planner_cli)
    planner_cli.ok("patient", "away", "1", "2027-06-14", "--reason", "chemotherapy",
                   at=MAY_2027)
    planner_cli.ok("plan", "1", "--first-infusion", "2027-06-07", at=MAY_2027)
    days = infusion_days(planner_cli)
    assert "2027-06-14" not in days
    assert len(days) == 8


def test_a_removed_away_period_no_longer_counts(planner_cli: PlannerCli):
    with_patient(planner_cli)
    planner_cli.ok("patient", "away", "1", "2027-06-14", "--reason", "chemotherapy",
                   at=MAY_2027)
    planner_cli.ok("patient", "away", "1", "--remove", "1", at=MAY_2027)
    planner_cli.ok("plan", "1", "--first-infusion", "2027-06-07", at=MAY_2027)
    assert "2027-06-14" in infusion_days(planner_cli)
    assert planner_cli.json("patient", "show", "1", at=MAY_2027)["away"] == []


def test_moving_an_infusion_onto_an_away_day_is_refused(planner_cli: PlannerCli):
    with_patient(planner_cli)
    planner_cli.ok("plan", "1", "--first-infusion", "2027-06-07", at=MAY_2027)
    planner_cli.ok("patient", "away", "1", "2027-06-15", "--reason", "hospital", at=MAY_2027)
    result = planner_cli("reschedule", str(planner_cli.event_id("infusion", 3)), "--to",
                         "2027-06-15", at=MAY_2027)
    assert_refused(result, "reschedule.to", "2027-06-15: patient away (hospital)")


def test_an_away_period_over_planned_visits_names_them(planner_cli: PlannerCli):
    with_patient(planner_cli)
    planner_cli.ok("plan", "1", "--first-infusion", "2027-06-07", at=MAY_2027)
    output = planner_cli.ok("patient", "away", "1", "2027-06-14", "--reason", "chemotherapy",
                            at=MAY_2027).output
    assert "Warning: infusion 3 on 2027-06-14 10:00" in output


def test_an_away_period_needs_a_reason(planner_cli: PlannerCli):
    with_patient(planner_cli)
    assert_refused(planner_cli("patient", "away", "1", "2027-06-14", at=MAY_2027), "--reason")


def test_removing_an_unknown_away_period_is_refused(planner_cli: PlannerCli):
    with_patient(planner_cli)
    result = planner_cli("patient", "away", "1", "--remove", "7", at=MAY_2027)
    assert result.exit_code == 2
    assert "no away period 7" in result.output
