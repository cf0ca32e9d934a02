"""planner link, planner reminders, planner alerts."""

import re
import sqlite3

from tests.conftest import PLANNED_AT, dump_database, tokyo
from tests.test_cli import assert_refused


def test_link_prints_a_one_time_deep_link(planner_cli, patient_id):
    data = planner_cli.json("link", str(patient_id))
    assert re.fullmatch(r"[A-Za-z0-9_-]{22,64}", data["code"])
    assert data["url"] == f"https://t.me/ank_clinic_bot?start={data['code']}"
    assert data["expires_at"] == "2026-12-04T09:00:00+09:00"  # seven days after NOW


def test_link_stores_only_a_hash_of_the_code(planner_cli, patient_id):
    data = planner_cli.json("link", str(patient_id))
    assert not any(data["code"] in line for line in dump_database(planner_cli.db))


def test_link_for_family_and_staff(planner_cli, patient_id):
    planner_cli.ok("staff", "add", "佐藤 花子", "--role", "nurse")
    planner_cli.json("link", str(patient_id), "--family", "山田 花子")
    planner_cli.json("link", "--staff", "1")
    rows = sqlite3.connect(str(planner_cli.db)).execute(
        "SELECT patient_id, staff_id, family_name FROM link_codes ORDER BY id").fetchall()
    assert rows == [(1, None, "山田 花子"), (None, 1, None)]


def test_link_writes_a_qr_code_png(planner_cli, patient_id, tmp_path):
    target = tmp_path / "consent.png"
    planner_cli.ok("link", str(patient_id), "--qr", str(target))
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_link_needs_exactly_one_person(planner_cli, patient_id):
    assert_refused(planner_cli("link"), "give a PATIENT_ID or --staff")
    assert_refused(planner_cli("link", "7"), "no patient with id 7")


def test_reminders_are_listed_after_planning(planner_cli, planned_course):
    rows = planner_cli.json("reminders", "--patient", "1", at=PLANNED_AT)
    kinds = {(r["kind"], r["rule"]) for r in rows}
    assert ("collection", "collection/patient/2d@10:00") in kinds
    assert ("infusion", "infusion/patient/120m") in kinds
    infusion_1 = [r for r in rows if r["kind"] == "infusion" and r["seq"] == 1]
    assert sorted(r["due"] for r in infusion_1) == [
        "2026-11-29T18:00:00+09:00", "2026-11-30T08:00:00+09:00",
        "2026-11-30T19:00:00+09:00"]  # the evening check-in
    assert {r["state"] for r in rows} == {"pending"}


def test_reminders_at_a_moment_show_what_would_go_out(planner_cli, planned_course):
    rows = planner_cli.json("reminders", "--at", "2026-11-29T18:30", at=PLANNED_AT)
    assert [(r["kind"], r["seq"], r["audience"]) for r in rows] == [("infusion", 1, "patient")]


def test_a_reschedule_supersedes_reminders_in_the_same_change(planner_cli, planned_course):
    event_id = planner_cli.event_id("infusion", 3)
    planner_cli.ok("reschedule", str(event_id), "--to", "2026-12-08", at=PLANNED_AT)
    rows = planner_cli.json("reminders", at=PLANNED_AT)
    old = [r for r in rows if r["event_id"] == event_id and r["event_revision"] == 0]
    new = [r for r in rows if r["event_id"] == event_id and r["event_revision"] == 1]
    assert {r["state"] for r in old} == {"skipped"}
    assert {r["state"] for r in new} == {"pending"}
    assert sorted(r["due"] for r in new) == [
        "2026-12-07T18:00:00+09:00", "2026-12-08T08:00:00+09:00",
        "2026-12-08T19:00:00+09:00"]


def test_a_cancelled_course_has_no_pending_reminder(planner_cli, planned_course):
    planner_cli.ok("cancel", "1", "--reason", "admitted", at=PLANNED_AT)
    assert planner_cli.json("reminders", "--state", "pending", at=PLANNED_AT) == []


def test_a_forced_change_inside_the_lab_window_raises_an_alert(planner_cli, planned_course):
    event_id = planner_cli.event_id("infusion", 1)
    planner_cli.ok("reschedule", str(event_id), "--to", "2026-12-01", "--force",
                   at=tokyo(2026, 11, 29, 12))
    (alert,) = planner_cli.json("alerts")
    assert alert["kind"] == "lab_notice"
    assert "infusion 1 moves from 2026-11-30 10:00 to 2026-12-01 10:00" in alert["detail"]


def test_reminders_refuse_an_unknown_state(planner_cli, planned_course):
    result = planner_cli("reminders", "--state", "lost")
    assert result.exit_code == 2
