"""Calendar feeds as a library (``planner.calendars.feeds``) and on the command line
(``planner feed``).

The clinic lives in ``tmp_path/clinic.db``. Two patients, both planned on Mon 2026-11-02
09:00 Tokyo:

- patient 1, 山田 太郎 (Japanese): the standard course of ``conftest.py``, collection
  Mon 2026-11-09, infusions Mon/Thu 10:00 from Mon 2026-11-30 to Thu 2026-12-24,
  follow-up Thu 2027-01-07;
- patient 2, Jane Smith (English): collection Tue 2026-11-10, infusions Tue/Fri 10:00
  from Tue 2026-12-01 to Fri 2026-12-25, follow-up Fri 2027-01-08.

Each course has 26 events (collection, 8 cell deliveries, 8 blood tests, 8 infusions,
follow-up). Staff: 1 佐藤 花子 (nurse), 2 鈴木 一郎 (lab). The clock then stands at
Fri 2026-11-27 09:00 Tokyo (``NOW``) and is moved by setting ``clinic.clock.moment``.

With the default window (7 days back, staff feeds 56 days ahead) the feeds at ``NOW``
hold everything from Fri 2026-11-20 on: both collections are already out. ``wide_clinic``
keeps 60 days back and everything ahead, for tests about other things than the window.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar, Event

from planner.calendars.feeds import Feeds
from planner.clock import FixedClock
from planner.config.settings import Settings, load_settings
from planner.core.errors import InputError, NotFoundError
from planner.service import Planner
from planner.store.courses import Store, open_database
from planner.texts.catalogue import event_title
from tests.conftest import NOW, PATIENT_NAME, PLANNED_AT, PlannerCli, dump_database, tokyo
from tests.test_cli import assert_refused

ENGLISH_PATIENT = "Jane Smith"
EVENTS_PER_COURSE = 26
LAB_KINDS = {"cell_delivery", "collection", "infusion"}  # the default protocol's audiences


@dataclass
class FeedClinic:
    """A clinic on a real SQLite file: its planner (the staff's connection) and its clock."""

    path: Path
    settings: Settings
    clock: FixedClock
    planner: Planner

    @property
    def store(self) -> Store:
        return self.planner.store

    def feeds(self, settings: Settings | None = None) -> Feeds:
        return Feeds(self.store.db, settings or self.settings)

    def issue(self, *, staff_id: int | None = None, role: str | None = None,
              patient_id: int | None = None) -> str:
        """A new feed's secret, issued on the staff's connection at the clock's time."""
        with self.store.transaction():
            _, secret = self.feeds().issue(self.clock.now(), staff_id=staff_id, role=role,
                                           patient_id=patient_id)
        return secret

    def body(self, secret: str, settings: Settings | None = None) -> bytes:
        feeds = self.feeds(settings)
        feed = feeds.find(secret)
        assert feed is not None
        return feeds.body(feed, self.clock.now()).body

    def event(self, kind: str, seq: int, course_id: int = 1) -> dict[str, Any]:
        """The stored event ``kind`` number ``seq`` of a course (its id, uid, revision …)."""
        row = next(iter(self.store.db.query(
            "SELECT * FROM events WHERE course_id = ? AND kind = ? AND seq = ?",
            [course_id, kind, seq])), None)
        assert row is not None, f"no {kind} {seq} in course {course_id}"
        return row

    def uids(self, *, kinds: set[str] | None = None, course_id: int | None = None) -> set[str]:
        """UIDs of stored events, optionally of some kinds or of one course."""
        return {row["uid"] for row in self.store.db.query("SELECT uid, kind, course_id FROM events")
                if (kinds is None or row["kind"] in kinds)
                and (course_id is None or row["course_id"] == course_id)}


def with_feed(settings: Settings, **changes: Any) -> Settings:
    return replace(settings, feed=replace(settings.feed, **changes))


def wide_settings() -> Settings:
    """Feeds that hold 60 days back and everything ahead: the whole of both courses."""
    return with_feed(load_settings(None), past_days=60, future_days=0)


def make_clinic(path: Path, settings: Settings | None = None) -> FeedClinic:
    """The clinic of the module docstring, with the clock at ``NOW``."""
    settings = settings or load_settings(None)
    clock = FixedClock(PLANNED_AT)
    planner = Planner(Store(open_database(path)), settings, clock, "test")
    store = planner.store
    store.add_patient(PATIENT_NAME, "ja", "12345", "test", clock.now())
    store.add_patient(ENGLISH_PATIENT, "en", "A-7", "test", clock.now())
    store.add_staff("佐藤 花子", "nurse", "test", clock.now())
    store.add_staff("鈴木 一郎", "lab", "test", clock.now())
    planner.plan(1, first_infusion=date(2026, 11, 30))
    planner.plan(2, first_infusion=date(2026, 12, 1))
    clock.moment = NOW
    return FeedClinic(path, settings, clock, planner)


@pytest.fixture
def clinic(tmp_path: Path) -> FeedClinic:
    return make_clinic(tmp_path / "clinic.db")


@pytest.fixture
def wide_clinic(tmp_path: Path) -> FeedClinic:
    return make_clinic(tmp_path / "clinic.db", wide_settings())


def vevents(body: bytes) -> dict[str, Event]:
    """The VEVENTs of a calendar body, keyed by UID."""
    return {str(event["UID"]): event for event in Calendar.from_ical(body).events}


def unfolded(body: bytes) -> str:
    """The body as text with folded lines joined, so a name split by a fold is found."""
    return body.decode("utf-8").replace("\r\n ", "")


def with_export(settings: Settings, **changes: Any) -> Settings:
    return replace(settings, export=replace(settings.export, **changes))


# -- what each feed holds ----------------------------------------------------------------


def test_a_whole_clinic_staff_feed_holds_every_event_of_both_courses(
        wide_clinic: FeedClinic) -> None:
    secret = wide_clinic.issue(staff_id=1)

    assert set(vevents(wide_clinic.body(secret))) == wide_clinic.uids()
    assert len(wide_clinic.uids()) == 2 * EVENTS_PER_COURSE


def test_a_staff_feed_leaves_out_what_started_before_7_days_ago(clinic: FeedClinic) -> None:
    secret = clinic.issue(staff_id=1)  # NOW Fri 2026-11-27: the window starts Fri 11-20

    collections = clinic.uids(kinds={"collection"})  # Mon 2026-11-09, Tue 2026-11-10
    assert set(vevents(clinic.body(secret))) == clinic.uids() - collections


def test_the_lab_takes_part_in_cell_delivery_collection_and_infusion(
        clinic: FeedClinic) -> None:
    protocol = clinic.settings.protocol(None)
    kinds = {row["kind"] for row in clinic.store.db.query("SELECT DISTINCT kind FROM events")}

    assert {kind for kind in kinds if "lab" in protocol.audience_of(kind)} == LAB_KINDS


def test_a_lab_feed_holds_exactly_the_events_the_lab_takes_part_in(
        wide_clinic: FeedClinic) -> None:
    secret = wide_clinic.issue(staff_id=2, role="lab")

    assert set(vevents(wide_clinic.body(secret))) == wide_clinic.uids(kinds=LAB_KINDS)


def test_a_staff_feed_names_patients_by_family_name_or_initials_by_default(
        clinic: FeedClinic) -> None:
    text = unfolded(clinic.body(clinic.issue(staff_id=1)))

    assert "山田様 (#1)" in text
    assert "J.S. (#2)" in text
    assert PATIENT_NAME not in text
    assert "太郎" not in text
    assert "山.太." not in text
    assert ENGLISH_PATIENT not in text


def test_a_staff_feed_shows_full_names_when_staff_names_is_full(clinic: FeedClinic) -> None:
    secret = clinic.issue(staff_id=1)

    text = unfolded(clinic.body(secret, with_export(clinic.settings, staff_names="full")))

    assert f"{PATIENT_NAME} (#1)" in text
    assert f"{ENGLISH_PATIENT} (#2)" in text


def test_a_staff_feed_shows_only_patient_numbers_when_staff_names_is_id(
        clinic: FeedClinic) -> None:
    secret = clinic.issue(staff_id=1)

    text = unfolded(clinic.body(secret, with_export(clinic.settings, staff_names="id")))

    assert "(#1)" not in text
    assert "#1" in text
    assert "山田" not in text


def test_a_patient_feed_holds_one_event_per_visit_of_that_patient(
        wide_clinic: FeedClinic) -> None:
    secret = wide_clinic.issue(patient_id=2)

    expected = wide_clinic.uids(kinds={"collection", "infusion", "follow_up"}, course_id=2)
    assert set(vevents(wide_clinic.body(secret))) == expected


def test_a_patient_feed_holds_no_cell_delivery(clinic: FeedClinic) -> None:
    body = clinic.body(clinic.issue(patient_id=1))

    assert not set(vevents(body)) & clinic.uids(kinds={"cell_delivery"})
    assert b"cell_delivery" not in body


def test_a_patient_feed_is_worded_in_the_patients_language(clinic: FeedClinic) -> None:
    japanese = vevents(clinic.body(clinic.issue(patient_id=1)))
    english = vevents(clinic.body(clinic.issue(patient_id=2)))

    infusion_1 = japanese[clinic.event("infusion", 1)["uid"]]
    infusion_1_en = english[clinic.event("infusion", 1, course_id=2)["uid"]]
    assert str(infusion_1["DESCRIPTION"]).startswith(event_title("infusion", 1, 8, "ja"))
    assert str(infusion_1_en["DESCRIPTION"]).startswith(event_title("infusion", 1, 8, "en"))
    assert str(infusion_1["SUMMARY"]) == "ANK clinic ご来院"
    assert str(infusion_1_en["SUMMARY"]) == "ANK clinic visit"


# -- versions: ETag, Last-Modified, the body cache -----------------------------------------


def test_the_body_is_built_once_while_nothing_changes(clinic: FeedClinic) -> None:
    feeds = clinic.feeds()
    feed = feeds.find(clinic.issue(staff_id=1))
    assert feed is not None

    first = feeds.body(feed, NOW)
    clinic.clock.moment = tokyo(2026, 11, 27, 18, 0)

    assert feeds.body(feed, clinic.clock.now()) is first


def test_the_etag_changes_when_an_event_of_the_feed_is_rescheduled(clinic: FeedClinic) -> None:
    feeds = clinic.feeds()
    feed = feeds.find(clinic.issue(staff_id=1))
    assert feed is not None
    before, _ = feeds.version(feed, NOW)

    clinic.planner.reschedule(clinic.event("infusion", 3)["id"], date(2026, 12, 8))

    assert feeds.version(feed, NOW)[0] != before


def test_a_patient_feeds_etag_ignores_another_patients_changes(clinic: FeedClinic) -> None:
    feeds = clinic.feeds()
    feed = feeds.find(clinic.issue(patient_id=2))
    assert feed is not None
    before = feeds.version(feed, NOW)

    clinic.planner.reschedule(clinic.event("infusion", 3)["id"], date(2026, 12, 8))

    assert feeds.version(feed, NOW) == before


def test_the_etag_changes_with_the_staff_names_setting(clinic: FeedClinic) -> None:
    initials = clinic.feeds()
    full = clinic.feeds(with_export(clinic.settings, staff_names="full"))
    feed = initials.find(clinic.issue(staff_id=1))
    assert feed is not None

    assert initials.version(feed, NOW)[0] != full.version(feed, NOW)[0]


def test_last_modified_is_when_the_planning_was_stored(clinic: FeedClinic) -> None:
    feeds = clinic.feeds()
    feed = feeds.find(clinic.issue(staff_id=1))
    assert feed is not None

    just_after = tokyo(2026, 11, 2, 10, 0)  # the follow-ups are not yet 56 days ahead
    assert feeds.version(feed, just_after)[1] == datetime(2026, 11, 2, 0, 0, tzinfo=UTC)


def test_last_modified_is_the_time_of_the_newest_change(clinic: FeedClinic) -> None:
    feeds = clinic.feeds()
    feed = feeds.find(clinic.issue(staff_id=1))
    assert feed is not None

    clinic.planner.reschedule(clinic.event("infusion", 3)["id"], date(2026, 12, 8))

    assert feeds.version(feed, NOW)[1] == datetime(2026, 11, 27, 0, 0, tzinfo=UTC)


def test_cancelled_events_stay_for_exactly_cancelled_days(wide_clinic: FeedClinic) -> None:
    secret = wide_clinic.issue(patient_id=1)
    wide_clinic.planner.cancel(1, "admitted to hospital", force=True)  # Fri 2026-11-27 09:00
    wide_clinic.clock.moment = tokyo(2026, 12, 27, 9, 0)  # 30 days later

    events = vevents(wide_clinic.body(secret))

    assert len(events) == 10  # collection, 8 infusion visits, follow-up
    assert {str(e["STATUS"]) for e in events.values()} == {"CONFIRMED", "CANCELLED"}


def test_cancelled_events_drop_out_a_second_after_cancelled_days(wide_clinic: FeedClinic) -> None:
    secret = wide_clinic.issue(patient_id=1)
    wide_clinic.planner.cancel(1, "admitted to hospital", force=True)  # Fri 2026-11-27 09:00
    wide_clinic.clock.moment = tokyo(2026, 12, 27, 9, 0) + timedelta(seconds=1)

    assert set(vevents(wide_clinic.body(secret))) == {wide_clinic.event("collection", 1)["uid"]}


def test_last_modified_moves_forward_when_cancelled_events_drop_out(
        wide_clinic: FeedClinic) -> None:
    feeds = wide_clinic.feeds()
    feed = feeds.find(wide_clinic.issue(patient_id=1))
    assert feed is not None
    wide_clinic.planner.cancel(1, "admitted to hospital", force=True)  # Fri 2026-11-27 09:00
    cancelled_at = feeds.version(feed, tokyo(2026, 12, 27, 9, 0))[1]

    dropped_at = feeds.version(feed, tokyo(2026, 12, 28, 9, 0))[1]

    assert cancelled_at == datetime(2026, 11, 27, 0, 0, tzinfo=UTC)
    assert dropped_at == datetime(2026, 12, 27, 0, 0, 1, tzinfo=UTC)


# -- issuing, finding and revoking ---------------------------------------------------------


def test_a_secret_is_stored_only_as_its_sha256(clinic: FeedClinic) -> None:
    secret = clinic.issue(staff_id=1)

    dump = "\n".join(dump_database(clinic.path))

    assert secret not in dump
    assert hashlib.sha256(secret.encode()).hexdigest() in dump


def test_find_gives_the_feed_of_its_secret(clinic: FeedClinic) -> None:
    secret = clinic.issue(staff_id=2, role="lab")

    feed = clinic.feeds().find(secret)

    assert feed is not None
    assert (feed.staff_id, feed.role, feed.patient_id) == (2, "lab", None)


def test_find_gives_nothing_for_an_unknown_secret(clinic: FeedClinic) -> None:
    clinic.issue(staff_id=1)

    assert clinic.feeds().find("x" * 32) is None


def test_find_gives_nothing_for_a_revoked_secret(clinic: FeedClinic) -> None:
    secret = clinic.issue(staff_id=1)
    feeds = clinic.feeds()
    feed = feeds.find(secret)
    assert feed is not None

    feeds.revoke(feed.id, NOW)

    assert feeds.find(secret) is None


def test_revoking_a_revoked_feed_is_refused(clinic: FeedClinic) -> None:
    feeds = clinic.feeds()
    clinic.issue(staff_id=1)
    feeds.revoke(1, NOW)

    with pytest.raises(NotFoundError, match="no active feed with id 1"):
        feeds.revoke(1, NOW)


@pytest.mark.parametrize(("owner", "message"), [
    ({"staff_id": 1, "patient_id": 1}, "one of them"),
    ({}, "one of them"),
    ({"patient_id": 1, "role": "lab"}, "--role"),
])
def test_issue_refuses_a_feed_without_exactly_one_owner(clinic: FeedClinic,
                                                        owner: dict[str, Any],
                                                        message: str) -> None:
    with pytest.raises(InputError, match=message):
        clinic.feeds().issue(NOW, **owner)


# -- the command line --------------------------------------------------------------------


@pytest.fixture
def feed_cli(planner_cli: PlannerCli) -> PlannerCli:
    """The CLI on a database with patient 1 (山田 太郎) and staff 1 (鈴木 一郎, lab)."""
    planner_cli.ok("patient", "add", PATIENT_NAME, "--lang", "ja")
    planner_cli.ok("staff", "add", "鈴木 一郎", "--role", "lab")
    return planner_cli


def secret_of(url: str) -> str:
    return url.rsplit("/", 1)[1].removesuffix(".ics")


def test_cli_feed_issue_json_gives_the_url_and_its_webcal_twin(feed_cli: PlannerCli) -> None:
    issued = feed_cli.json("feed", "issue", "--staff", "1", "--role", "lab")

    secret = secret_of(issued["url"])
    assert issued == {"id": 1, "url": f"http://127.0.0.1:8080/feeds/{secret}.ics",
                      "webcal_url": f"webcal://127.0.0.1:8080/feeds/{secret}.ics"}
    assert len(secret) == 32


def test_cli_feed_issue_builds_the_url_from_the_configured_base_url(
        feed_cli: PlannerCli, write_config: Any) -> None:
    config = write_config('[feed]\nbase_url = "https://calendar.clinic.example/"\n')

    issued = feed_cli.json("feed", "issue", "--patient", "1", config=config)

    assert issued["url"].startswith("https://calendar.clinic.example/feeds/")
    assert issued["webcal_url"].startswith("webcal://calendar.clinic.example/feeds/")


def test_cli_feed_issue_prints_both_urls(feed_cli: PlannerCli) -> None:
    output = feed_cli.ok("feed", "issue", "--patient", "1").output

    lines = output.splitlines()
    assert lines[0] == "Feed 1:"
    assert lines[1].startswith("  http://127.0.0.1:8080/feeds/")
    assert lines[2] == "  " + lines[1].strip().replace("http://", "webcal://")


def test_cli_feed_issue_keeps_the_secret_out_of_the_database(feed_cli: PlannerCli) -> None:
    secret = secret_of(feed_cli.json("feed", "issue", "--staff", "1")["url"])

    dump = "\n".join(feed_cli.dump())

    assert secret not in dump
    assert hashlib.sha256(secret.encode()).hexdigest() in dump


def test_cli_feed_list_json_shows_owners_but_no_secrets(feed_cli: PlannerCli) -> None:
    feed_cli.ok("feed", "issue", "--staff", "1", "--role", "lab")
    feed_cli.ok("feed", "issue", "--patient", "1")

    rows = feed_cli.json("feed", "list")

    assert rows == [
        {"id": 1, "staff_id": 1, "staff_name": "鈴木 一郎", "role": "lab", "patient_id": None,
         "patient_name": None, "created_at": "2026-11-27T00:00:00+00:00", "revoked_at": None},
        {"id": 2, "staff_id": None, "staff_name": None, "role": None, "patient_id": 1,
         "patient_name": PATIENT_NAME, "created_at": "2026-11-27T00:00:00+00:00",
         "revoked_at": None},
    ]


def test_cli_feed_revoke_records_when_the_feed_was_revoked(feed_cli: PlannerCli) -> None:
    feed_cli.ok("feed", "issue", "--staff", "1")

    result = feed_cli.ok("feed", "revoke", "1", at=tokyo(2026, 12, 1, 9, 0))

    assert result.output == "Feed 1 revoked.\n"
    (row,) = feed_cli.json("feed", "list")
    assert row["revoked_at"] == "2026-12-01T00:00:00+00:00"


def test_cli_feed_revoke_of_an_unknown_feed_exits_2(feed_cli: PlannerCli) -> None:
    assert_refused(feed_cli("feed", "revoke", "7"), "no active feed with id 7")


def test_cli_feed_revoke_twice_exits_2(feed_cli: PlannerCli) -> None:
    feed_cli.ok("feed", "issue", "--staff", "1")
    feed_cli.ok("feed", "revoke", "1")

    assert_refused(feed_cli("feed", "revoke", "1"), "no active feed with id 1")


@pytest.mark.parametrize(("args", "needle"), [
    (("--staff", "1", "--patient", "1"), "one of them"),
    ((), "one of them"),
    (("--patient", "1", "--role", "lab"), "--role"),
    (("--staff", "9"), "no staff member with id 9"),
    (("--patient", "9"), "no patient with id 9"),
    (("--staff", "1", "--role", "pharmacist"), "--role"),
])
def test_cli_feed_issue_refuses_bad_input_with_exit_2_and_stores_nothing(
        feed_cli: PlannerCli, args: tuple[str, ...], needle: str) -> None:
    before = feed_cli.dump()

    assert_refused(feed_cli("feed", "issue", *args, "--json"), needle)
    assert feed_cli.dump() == before


def test_cli_feed_issue_gives_a_new_secret_each_time(feed_cli: PlannerCli) -> None:
    first = feed_cli.json("feed", "issue", "--staff", "1")["url"]
    second = feed_cli.json("feed", "issue", "--staff", "1")["url"]

    assert first != second


def test_a_cli_issued_secret_is_found_by_the_library(feed_cli: PlannerCli) -> None:
    secret = secret_of(feed_cli.json("feed", "issue", "--patient", "1")["url"])
    db = open_database(feed_cli.db)
    try:
        feed = Feeds(db, load_settings(None)).find(secret)
    finally:
        db.close()

    assert feed is not None
    assert feed.patient_id == 1


def test_a_chats_feed_link_is_the_same_each_time_and_never_stored(tmp_path: Path) -> None:
    moment = datetime(2026, 11, 27, tzinfo=UTC)
    db = open_database(tmp_path / "clinic.db")
    patient = Store(db).add_patient(PATIENT_NAME, "ja", None, "test", moment)["id"]
    feeds = Feeds(db, load_settings(None))
    first = feeds.for_chat(patient, 1001, moment)
    assert feeds.for_chat(patient, 1001, moment) == first
    assert feeds.for_chat(patient, 2002, moment) != first
    found = feeds.find(first)
    assert found is not None
    assert found.patient_id == patient
    assert not any(first in line for line in dump_database(tmp_path / "clinic.db"))
    feeds.revoke_chat(1001, moment)
    assert feeds.find(first) is None


# -- the window, the calendar's words -------------------------------------------------------


def test_a_staff_feed_holds_only_56_days_ahead(clinic: FeedClinic) -> None:
    secret = clinic.issue(staff_id=1)
    clinic.clock.moment = tokyo(2026, 11, 2, 10, 0)  # 56 days ahead ends Mon 2026-12-28

    follow_ups = clinic.uids(kinds={"follow_up"})  # Thu 2027-01-07, Fri 2027-01-08
    assert set(vevents(clinic.body(secret))) == clinic.uids() - follow_ups


def test_a_patient_feed_holds_every_visit_ahead(clinic: FeedClinic) -> None:
    secret = clinic.issue(patient_id=1)
    clinic.clock.moment = tokyo(2026, 11, 2, 10, 0)

    assert clinic.event("follow_up", 8)["uid"] in vevents(clinic.body(secret))


def test_last_modified_moves_when_an_event_comes_into_the_window(clinic: FeedClinic) -> None:
    feeds = clinic.feeds()
    feed = feeds.find(clinic.issue(staff_id=1))
    assert feed is not None

    before = feeds.version(feed, tokyo(2026, 11, 11, 23, 59))
    after = feeds.version(feed, tokyo(2026, 11, 12, 0, 1))  # Thu 2027-01-07 is 56 days on

    assert after[0] != before[0]
    assert after[1] == datetime(2026, 11, 11, 15, 0, tzinfo=UTC)  # Thu 11-12 00:00 Tokyo


def test_last_modified_moves_when_an_event_leaves_the_window(clinic: FeedClinic) -> None:
    feeds = clinic.feeds()
    feed = feeds.find(clinic.issue(patient_id=2))
    assert feed is not None

    before = feeds.version(feed, tokyo(2026, 11, 17, 23, 59))
    after = feeds.version(feed, tokyo(2026, 11, 18, 0, 1))  # Tue 11-10 is 8 days back

    assert after[0] != before[0]
    assert after[1] == datetime(2026, 11, 17, 15, 0, tzinfo=UTC)  # Wed 11-18 00:00 Tokyo


def test_last_modified_is_at_least_since_when_the_settings_are_in_force(
        clinic: FeedClinic) -> None:
    feed = clinic.feeds().find(clinic.issue(staff_id=1))
    assert feed is not None
    restarted = tokyo(2026, 11, 27, 12, 0)
    full = Feeds(clinic.store.db, with_export(clinic.settings, staff_names="full"),
                 settings_since=restarted)

    assert full.version(feed, tokyo(2026, 11, 27, 12, 5))[1] == restarted


def test_cancelled_events_older_than_the_window_drop_out_before_cancelled_days(
        clinic: FeedClinic) -> None:
    secret = clinic.issue(patient_id=1)
    clinic.planner.cancel(1, "admitted to hospital", force=True)  # Fri 2026-11-27 09:00
    clinic.clock.moment = tokyo(2026, 12, 19, 9, 0)  # 22 days later; the window from 12-12

    kept = {clinic.event("infusion", seq)["uid"] for seq in (5, 6, 7, 8)}  # Mon 12-14 on
    assert set(vevents(clinic.body(secret))) == kept | {clinic.event("follow_up", 8)["uid"]}


def test_an_infusion_day_is_one_visit_from_the_blood_test_to_the_drips_end(
        clinic: FeedClinic) -> None:
    visit = vevents(clinic.body(clinic.issue(patient_id=1)))[clinic.event("infusion", 1)["uid"]]

    assert visit.start == tokyo(2026, 11, 30, 9, 30)  # the blood test, Mon 2026-11-30
    assert visit.end == tokyo(2026, 11, 30, 11, 0)
    assert "午前9時30分までにお越しください。" in str(visit["DESCRIPTION"])


def test_a_visits_sequence_rises_when_its_blood_test_alone_changes(clinic: FeedClinic) -> None:
    secret = clinic.issue(patient_id=1)
    uid = clinic.event("infusion", 2)["uid"]
    before = int(vevents(clinic.body(secret))[uid]["SEQUENCE"])
    blood_test = clinic.event("blood_test", 2)
    clinic.store.db.execute("UPDATE events SET revision = revision + 1 WHERE id = ?",
                            [blood_test["id"]])

    assert int(vevents(clinic.body(secret))[uid]["SEQUENCE"]) == before + 1


def test_a_patient_feed_gives_the_clinics_address_as_location(tmp_path: Path) -> None:
    settings = replace(load_settings(None), letterhead=replace(
        load_settings(None).letterhead, address="東京都中央区1-2-3", map_url="https://maps.example/x"))
    clinic = make_clinic(tmp_path / "clinic.db", settings)

    visit = vevents(clinic.body(clinic.issue(patient_id=1)))[clinic.event("infusion", 1)["uid"]]

    assert str(visit["LOCATION"]) == "東京都中央区1-2-3"
    assert str(visit["DESCRIPTION"]).endswith("地図：https://maps.example/x")


def test_a_patient_feed_names_the_visit_when_discreet_is_off(tmp_path: Path) -> None:
    settings = load_settings(None)
    settings = replace(settings, letterhead=replace(settings.letterhead, discreet=False))
    clinic = make_clinic(tmp_path / "clinic.db", settings)

    visit = vevents(clinic.body(clinic.issue(patient_id=1)))[clinic.event("infusion", 1)["uid"]]

    assert str(visit["SUMMARY"]) == event_title("infusion", 1, 8, "ja")


def test_a_japanese_patients_feed_has_a_japanese_name_and_no_categories(
        clinic: FeedClinic) -> None:
    body = unfolded(clinic.body(clinic.issue(patient_id=1)))

    assert "X-WR-CALNAME:ANK clinic ご来院の予定\r\n" in body
    assert "CATEGORIES" not in body


def test_a_nurse_feed_is_named_in_japanese_with_japanese_categories(clinic: FeedClinic) -> None:
    body = unfolded(clinic.body(clinic.issue(staff_id=1, role="nurse")))

    assert "X-WR-CALNAME:ANK clinic スタッフの予定（看護師）\r\n" in body
    assert "CATEGORIES:ANK細胞の点滴\r\n" in body
    assert "CATEGORIES:infusion" not in body


def test_cli_feed_list_warns_about_a_feed_over_the_size_limit(
        feed_cli: PlannerCli, monkeypatch: pytest.MonkeyPatch) -> None:
    feed_cli.ok("plan", "1", "--first-infusion", "2027-03-01", at=PLANNED_AT)
    feed_cli.ok("feed", "issue", "--staff", "1")
    feed_cli.ok("feed", "issue", "--patient", "1")
    # the staff feed is about 10 kB
    monkeypatch.setattr("planner.calendars.feed_bodies.LARGE_FEED_BYTES", 8_000)

    result = feed_cli.ok("feed", "list", at=datetime(2027, 2, 15, tzinfo=UTC))

    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert len(warnings) == 1
    assert warnings[0].startswith("Warning: feed 1 is ")
    assert "kB; Google Calendar stops updating a feed larger than about 1 MB" in warnings[0]
