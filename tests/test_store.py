"""The SQLite store: connection settings, migrations, the audit log, transactions, revisions.

Files live in tmp_path; the property test uses a fresh in-memory database per example.
The course is the standard one: first infusion Mon 2026-11-30, infusions Mon/Thu to
Thu 2026-12-24, follow-up Thu 2027-01-07.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlite_utils import Database

from planner.clock import FixedClock
from planner.config.settings import load_settings
from planner.core.calendar import ClinicCalendar
from planner.core.errors import InputError, PlanningError, StoreError
from planner.core.model import Clinic, PlannedEvent, Status
from planner.core.schedule import Plan, plan_course
from planner.service import Planner
from planner.store.aggregate import ChangeRecord
from planner.store.courses import Store, as_planned, open_database, prepare
from planner.store.schema import MIGRATION_SET, migrate, migrations, schema_version
from tests.conftest import PLANNED_AT, tokyo

SETTINGS = load_settings(None)
ANK = SETTINGS.protocols["ank"]
CALENDAR = ClinicCalendar(SETTINGS.clinic)
FIRST_INFUSION = date(2026, 11, 30)
ACTOR = "nurse:sato"


def standard_plan() -> Plan:
    return plan_course(ANK, CALENDAR, first_infusion=FIRST_INFUSION)


def add_course(store: Store, plan: Plan | None = None) -> int:
    patient = store.add_patient("山田 太郎", "ja", None, ACTOR, PLANNED_AT)
    return store.create_course(patient["id"], ANK, plan or standard_plan(),
                               planned_from="first_infusion", start=FIRST_INFUSION,
                               uid_domain="clinic.example.jp", actor=ACTOR, now=PLANNED_AT)


def count(store: Store, table: str) -> int:
    return int(store.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    return tmp_path / "planner.db"


@pytest.fixture
def store(db_file: Path) -> Store:
    return Store(open_database(db_file))


# -- opening and migrating ----------------------------------------------------------------


def test_open_database_puts_the_file_in_wal_mode(store: Store) -> None:
    assert store.db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_open_database_turns_foreign_keys_on(store: Store) -> None:
    assert store.db.execute("PRAGMA foreign_keys").fetchone() == (1,)


def test_foreign_keys_refuse_an_event_of_a_course_that_does_not_exist(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        store.db.execute(
            "INSERT INTO events (uid, course_id, kind, seq, start, \"end\", start_ts, status,"
            " updated_at) VALUES ('x@y', 99, 'infusion', 1, '', '', '', 'scheduled', '')")


def test_open_database_creates_every_table_at_the_latest_schema_version(store: Store) -> None:
    assert {"patients", "staff", "courses", "events", "audit"} <= set(store.db.table_names())
    assert schema_version(store.db) == len(migrations._migrations)


def test_migrations_run_twice_change_nothing(db_file: Path) -> None:
    first = open_database(db_file)
    before = list(first.conn.iterdump())

    migrate(first)
    second = open_database(db_file)

    assert list(second.conn.iterdump()) == before
    count = second.execute("SELECT COUNT(*) FROM _sqlite_migrations").fetchone()
    assert count == (len(migrations._migrations),)
    first.close()
    second.close()


def test_open_database_refuses_a_file_that_is_not_sqlite(db_file: Path) -> None:
    db_file.write_text("name,lang\n山田 太郎,ja\n", encoding="utf-8")

    with pytest.raises(StoreError, match="not an SQLite database"):
        open_database(db_file)


def test_open_database_refuses_a_schema_written_by_a_newer_version(db_file: Path) -> None:
    db = open_database(db_file)
    db.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
               " VALUES (?, 'm002_future', '2027-06-01')", [MIGRATION_SET])
    db.conn.commit()
    db.close()

    with pytest.raises(StoreError, match="newer version of the planner.*'m002_future'"):
        open_database(db_file)


# -- the audit log ------------------------------------------------------------------------


@pytest.mark.parametrize("statement", [
    "UPDATE audit SET actor = 'someone else'",
    "DELETE FROM audit",
])
def test_audit_log_is_append_only(store: Store, statement: str) -> None:
    store.add_patient("山田 太郎", "ja", None, ACTOR, PLANNED_AT)

    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.db.execute(statement)
    assert count(store, "audit") == 1


def test_add_patient_writes_an_audit_row_with_actor_action_and_time(store: Store) -> None:
    patient = store.add_patient("山田 太郎", "ja", "12345", ACTOR, PLANNED_AT)

    (row,) = store.audit_log()
    assert (row["actor"], row["action"], row["at"]) == (
        ACTOR, "patient.add", "2026-11-02T00:00:00+00:00")
    assert str(patient["id"]) in row["detail"]


def test_create_course_writes_one_audit_row_for_the_course(store: Store) -> None:
    course_id = add_course(store)

    (row,) = store.audit_log(course_id)
    assert (row["actor"], row["action"], row["course_id"]) == (ACTOR, "course.plan", course_id)


def test_every_change_through_the_planner_writes_an_audit_row(store: Store) -> None:
    def planner_at(moment: datetime) -> Planner:
        return Planner(store, SETTINGS, FixedClock(moment), actor="reception:ito")

    patient = store.add_patient("山田 太郎", "ja", None, "reception:ito", PLANNED_AT)
    store.add_staff("佐藤 花子", "nurse", "reception:ito", PLANNED_AT)
    course_id, _ = planner_at(PLANNED_AT).plan(patient["id"], first_infusion=FIRST_INFUSION)
    infusion_4 = next(e for e in store.events_of(course_id)
                      if e.kind == "infusion" and e.seq == 4)
    planner_at(tokyo(2026, 11, 27)).reschedule(infusion_4.id, date(2026, 12, 11))
    infusion_5 = next(e for e in store.events_of(course_id)
                      if e.kind == "infusion" and e.seq == 5)
    assert infusion_5.start.date() == date(2026, 12, 15)  # moved along with infusion 4
    planner_at(tokyo(2026, 12, 15, 12)).missed(infusion_5.id)
    planner_at(tokyo(2026, 12, 16, 12)).postpone(course_id, days=1, force=True)
    planner_at(tokyo(2026, 12, 17, 12)).cancel(course_id, "admitted", force=True)

    rows = store.audit_log()
    assert [(r["action"], r["actor"]) for r in rows] == [
        ("patient.add", "reception:ito"), ("staff.add", "reception:ito"),
        ("course.plan", "reception:ito"), ("event.reschedule", "reception:ito"),
        ("event.missed", "reception:ito"), ("course.postpone", "reception:ito"),
        ("course.cancel", "reception:ito")]
    assert [r["at"] for r in rows[3:]] == [
        "2026-11-27T00:00:00+00:00", "2026-12-15T03:00:00+00:00",
        "2026-12-16T03:00:00+00:00", "2026-12-17T03:00:00+00:00"]


# -- transactions -------------------------------------------------------------------------


def test_a_failure_inside_create_course_leaves_no_course_and_no_events(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    patient = store.add_patient("山田 太郎", "ja", None, ACTOR, PLANNED_AT)
    seen: list[int] = []

    def audit_fails(*args: Any, **kwargs: Any) -> None:
        seen.append(count(store, "events"))
        raise RuntimeError("disk unplugged")

    monkeypatch.setattr(store, "_audit", audit_fails)
    with pytest.raises(RuntimeError, match="disk unplugged"):
        store.create_course(patient["id"], ANK, standard_plan(), planned_from="first_infusion",
                            start=FIRST_INFUSION, uid_domain="clinic.example.jp", actor=ACTOR,
                            now=PLANNED_AT)

    assert seen == [26]  # the events were written before the audit row failed
    assert (count(store, "courses"), count(store, "events")) == (0, 0)


def write_change(store: Store, course_id: int, events: list[PlannedEvent], action: str,
                 reason: str | None = None, course_status: str | None = None) -> list[int]:
    """The store's one write of a change, as the service makes it."""
    record = ChangeRecord(action, ACTOR, PLANNED_AT, reason, course_status)
    return store.write_change(store.course_for_change(course_id), events, record,
                              settings=SETTINGS, bends=())


def test_a_failure_inside_write_change_leaves_the_events_as_they_were(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    course_id = add_course(store)
    before = store.events_of(course_id)
    moved = [replace(e, start=e.start + timedelta(days=1), end=e.end + timedelta(days=1))
             for e in map(as_planned, before)]

    def audit_fails(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk unplugged")

    monkeypatch.setattr(store, "_audit", audit_fails)
    with pytest.raises(RuntimeError, match="disk unplugged"):
        write_change(store, course_id, moved, "course.postpone")

    assert store.events_of(course_id) == before


# -- revisions ----------------------------------------------------------------------------



def _with_follow_up_moved(events: list[PlannedEvent], days: int) -> list[PlannedEvent]:
    return [replace(e, start=e.start + timedelta(days=days), end=e.end + timedelta(days=days))
            if e.kind == "follow_up" else e for e in events]


def test_write_change_raises_the_revision_of_changed_events_only(store: Store) -> None:
    course_id = add_course(store)
    before = store.events_of(course_id)
    follow_up = next(e for e in before if e.kind == "follow_up")

    changed = write_change(store, course_id,
                           _with_follow_up_moved([as_planned(e) for e in before], 1),
                           "event.reschedule")

    revisions = {e.id: e.revision for e in store.events_of(course_id)}
    assert changed == [follow_up.id]
    assert revisions[follow_up.id] == 1
    assert {r for i, r in revisions.items() if i != follow_up.id} == {0}


def test_write_change_keeps_the_uid_of_a_changed_event(store: Store) -> None:
    course_id = add_course(store)
    before = {e.id: e.uid for e in store.events_of(course_id)}

    write_change(store, course_id, _with_follow_up_moved(
        [as_planned(e) for e in store.events_of(course_id)], 1), "event.reschedule")

    assert {e.id: e.uid for e in store.events_of(course_id)} == before


def test_write_change_with_nothing_different_changes_no_revision(store: Store) -> None:
    course_id = add_course(store)
    before = store.events_of(course_id)

    changed = write_change(store, course_id, [as_planned(e) for e in before],
                           "event.reschedule")

    assert changed == []
    assert store.events_of(course_id) == before


def test_write_change_adds_a_new_event_at_revision_0(store: Store) -> None:
    course_id = add_course(store)
    events = [as_planned(e) for e in store.events_of(course_id)]
    makeup = PlannedEvent("infusion", 9, tokyo(2026, 12, 28, 10), tokyo(2026, 12, 28, 11))

    changed = write_change(store, course_id, [*events, makeup], "event.missed")

    (added,) = [e for e in store.events_of(course_id) if e.seq == 9]
    assert changed == [added.id]
    assert (added.revision, added.start) == (0, makeup.start)
    assert added.uid.endswith("-infusion-9@clinic.example.jp")


def test_write_change_writes_the_new_status(store: Store) -> None:
    course_id = add_course(store)
    cancelled = [replace(as_planned(e), status=Status.CANCELLED)
                 for e in store.events_of(course_id)]

    write_change(store, course_id, cancelled, "course.cancel", reason="admitted",
                 course_status="cancelled")

    assert {e.status for e in store.events_of(course_id)} == {Status.CANCELLED}
    course = store.course(course_id)
    assert (course["status"], course["cancel_reason"]) == ("cancelled", "admitted")


# -- backup -------------------------------------------------------------------------------


def test_backup_refuses_to_overwrite_a_file(store: Store, tmp_path: Path) -> None:
    target = tmp_path / "old.db"
    target.write_bytes(b"keep me")

    with pytest.raises(InputError, match="already exists"):
        store.backup(target)
    assert target.read_bytes() == b"keep me"


# -- property: what is stored is what is read back ----------------------------------------

ZONES = ["Asia/Tokyo", "America/New_York", "Europe/London", "Australia/Sydney"]
_CALENDARS = {zone: ClinicCalendar(Clinic(timezone=zone)) for zone in ZONES}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=st.dates(min_value=date(2026, 1, 5), max_value=date(2028, 12, 31)),
       zone=st.sampled_from(ZONES))
def test_a_stored_plan_reads_back_the_same(first: date, zone: str) -> None:
    try:
        plan = plan_course(ANK, _CALENDARS[zone], first_infusion=first)
    except PlanningError:
        return  # nothing to store: the planner's own tests cover refusals
    db = Database(memory=True)
    prepare(db)
    store = Store(db)
    patient = store.add_patient("Jane Smith", "en", None, ACTOR, datetime(2026, 1, 1, tzinfo=UTC))
    course_id = store.create_course(patient["id"], ANK, plan, planned_from="first_infusion",
                                    start=first, uid_domain="clinic.example.jp", actor=ACTOR,
                                    now=datetime(2026, 1, 1, tzinfo=UTC))

    stored = sorted(store.events_of(course_id), key=lambda e: e.key)

    planned = sorted(plan.events, key=lambda e: e.key)
    assert [(e.kind, e.seq, e.start, e.end, e.status) for e in stored] == [
        (e.kind, e.seq, e.start, e.end, e.status) for e in planned]
    assert [(e.start.utcoffset(), e.end.utcoffset()) for e in stored] == [
        (e.start.utcoffset(), e.end.utcoffset()) for e in planned]
    db.close()



def test_the_same_instant_in_two_zones_is_stored_with_each_zone_offset() -> None:
    from planner.store.courses import _iso

    tokyo = datetime(2027, 1, 4, 8, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    sydney = tokyo.astimezone(ZoneInfo("Australia/Sydney"))
    assert _iso(tokyo) == "2027-01-04T08:00:00+09:00"
    assert _iso(sydney) == "2027-01-04T10:00:00+11:00"


def test_delivery_limits_migration_keeps_the_outbox_and_allows_replies(tmp_path: Path) -> None:
    db = Database(sqlite3.connect(tmp_path / "old.db"))
    db.execute("PRAGMA foreign_keys = ON")
    migrations.apply(db, stop_before="m006_delivery_limits")
    with db.conn:
        db.execute("INSERT INTO deliveries (purpose, chat_id, text, next_attempt_ts, created_at,"
                   " updated_at) VALUES ('alert', 1001, 'hello', 1, 'x', 'x')")
    migrate(db)
    assert [r["text"] for r in db.query("SELECT text FROM deliveries")] == ["hello"]
    with db.conn:
        db.execute("INSERT INTO deliveries (purpose, chat_id, text, next_attempt_ts, created_at,"
                   " updated_at) VALUES ('reply', 1001, 'hi', 1, 'x', 'x')")
    with pytest.raises(sqlite3.IntegrityError), db.conn:
        db.execute("INSERT INTO deliveries (purpose, chat_id, text, next_attempt_ts, created_at,"
                   " updated_at) VALUES ('spam', 1001, 'hi', 1, 'x', 'x')")
    assert {"flood_wait", "chat_gaps"} <= set(db.table_names())
