"""Linking chats with one-time codes: format, hashing, single use, expiry, throttling.

A real SQLite file in tmp_path; "now" is passed in. Codes are made on Mon 2026-11-02
09:00 Tokyo and valid for 7 days (until Mon 2026-11-09 09:00).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlite_utils import Database

from planner.core.errors import InputError
from planner.store.courses import Store, open_database
from planner.store.links import THROTTLE_LIMIT, Links

TOKYO = ZoneInfo("Asia/Tokyo")
MADE = datetime(2026, 11, 2, 9, 0, tzinfo=TOKYO)
WEEK = timedelta(days=7)
PATIENT_CHAT, FAMILY_CHAT, STAFF_CHAT, STRANGER = 1001, 1002, 2001, 6666


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(tmp_path / "clinic.db")
    yield database
    database.conn.close()


@pytest.fixture
def links(db: Database) -> Links:
    store = Store(db)
    store.add_patient("山田 太郎", "ja", "12345", "test", MADE)   # patient 1
    store.add_patient("Jane Doe", "en", "67890", "test", MADE)    # patient 2
    store.add_staff("佐藤 看護師", "nurse", "test", MADE)            # staff 1
    return Links(db)


def redeem(links: Links, code: str, chat_id: int, now: datetime = MADE) -> object:
    with links.db.atomic():
        return links.redeem(code, chat_id, None, now)


# -- the code --------------------------------------------------------------------------------


def test_code_is_url_safe_at_most_64_characters_and_at_least_128_bits(links: Links) -> None:
    link = links.create_code(MADE, WEEK, patient_id=1)

    assert re.fullmatch(r"[A-Za-z0-9_-]+", link.code)
    assert len(link.code) <= 64
    assert len(link.code) * 6 >= 128   # each URL-safe base64 character carries 6 bits


def test_codes_differ_each_time(links: Links) -> None:
    codes = {links.create_code(MADE, WEEK, patient_id=1).code for _ in range(20)}

    assert len(codes) == 20


def test_code_expires_after_the_validity_given(links: Links) -> None:
    link = links.create_code(MADE, WEEK, patient_id=1)

    assert link.expires_at == datetime(2026, 11, 9, 9, 0, tzinfo=TOKYO)


def test_code_is_stored_hashed_only(links: Links, tmp_path: Path) -> None:
    link = links.create_code(MADE, WEEK, patient_id=1, family_name="山田 花子")
    links.db.conn.commit()

    raw = b"".join(path.read_bytes() for path in tmp_path.iterdir() if path.is_file())
    reader = sqlite3.connect(str(tmp_path / "clinic.db"))
    dump = "\n".join(reader.iterdump())
    reader.close()
    assert link.code.encode() not in raw
    assert link.code not in dump


def test_code_needs_exactly_one_person(links: Links) -> None:
    with pytest.raises(InputError):
        links.create_code(MADE, WEEK)
    with pytest.raises(InputError):
        links.create_code(MADE, WEEK, patient_id=1, staff_id=1)


# -- redeeming -------------------------------------------------------------------------------


def test_valid_code_links_the_chat_to_the_patient_in_the_patients_language(
        links: Links) -> None:
    code = links.create_code(MADE, WEEK, patient_id=2).code

    chat = redeem(links, code, PATIENT_CHAT)

    linked = links.chat(PATIENT_CHAT)
    assert chat == linked
    assert linked is not None
    assert (linked.patient_id, linked.staff_id, linked.lang, linked.name) == (
        2, None, "en", "Jane Doe")


def test_staff_code_links_a_staff_chat_with_its_role(links: Links) -> None:
    code = links.create_code(MADE, WEEK, staff_id=1).code

    redeem(links, code, STAFF_CHAT)

    assert [c.chat_id for c in links.staff_chats(("nurse",))] == [STAFF_CHAT]
    assert links.staff_chats(("lab",)) == []


def test_code_works_only_once(links: Links) -> None:
    code = links.create_code(MADE, WEEK, patient_id=1).code
    redeem(links, code, PATIENT_CHAT)

    assert redeem(links, code, STRANGER) is None
    assert links.chat(STRANGER) is None


def test_code_works_until_one_second_before_it_expires(links: Links) -> None:
    code = links.create_code(MADE, WEEK, patient_id=1).code

    assert redeem(links, code, PATIENT_CHAT, MADE + WEEK - timedelta(seconds=1)) is not None


def test_code_is_refused_at_its_expiry_instant(links: Links) -> None:
    code = links.create_code(MADE, WEEK, patient_id=1).code

    assert redeem(links, code, PATIENT_CHAT, MADE + WEEK) is None


@pytest.mark.parametrize("case", ["unknown", "used", "expired"])
def test_unknown_used_and_expired_codes_all_give_none(links: Links, case: str) -> None:
    code = links.create_code(MADE, WEEK, patient_id=1).code
    when = MADE
    if case == "unknown":
        code = code[::-1]
    elif case == "used":
        redeem(links, code, PATIENT_CHAT)
    else:
        when = MADE + timedelta(days=8)

    assert redeem(links, code, STRANGER, when) is None


def test_failed_attempt_is_counted_for_the_chat(links: Links) -> None:
    redeem(links, "not-a-code", STRANGER)

    (count,) = links.db.execute("SELECT COUNT(*) FROM link_failures WHERE chat_id = ?",
                                [STRANGER]).fetchone()
    assert count == 1


# -- throttling ------------------------------------------------------------------------------


def test_chat_is_not_throttled_after_four_wrong_codes(links: Links) -> None:
    for minute in range(THROTTLE_LIMIT - 1):
        redeem(links, "wrong", STRANGER, MADE + timedelta(minutes=minute))

    assert not links.throttled(STRANGER, MADE + timedelta(minutes=5))


def test_chat_is_throttled_after_five_wrong_codes_in_15_minutes(links: Links) -> None:
    for minute in range(THROTTLE_LIMIT):
        redeem(links, "wrong", STRANGER, MADE + timedelta(minutes=minute))

    assert links.throttled(STRANGER, MADE + timedelta(minutes=5))


def test_throttled_chat_cannot_link_even_with_a_valid_code(links: Links) -> None:
    code = links.create_code(MADE, WEEK, patient_id=1).code
    for minute in range(THROTTLE_LIMIT):
        redeem(links, "wrong", STRANGER, MADE + timedelta(minutes=minute))

    assert redeem(links, code, STRANGER, MADE + timedelta(minutes=6)) is None
    assert redeem(links, code, PATIENT_CHAT, MADE + timedelta(minutes=6)) is not None


def test_throttle_lifts_15_minutes_after_the_failures(links: Links) -> None:
    for _ in range(THROTTLE_LIMIT):
        redeem(links, "wrong", STRANGER, MADE)

    assert links.throttled(STRANGER, MADE + timedelta(minutes=14, seconds=59))
    assert not links.throttled(STRANGER, MADE + timedelta(minutes=15))


def test_throttling_is_per_chat(links: Links) -> None:
    for _ in range(THROTTLE_LIMIT):
        redeem(links, "wrong", STRANGER, MADE)

    assert not links.throttled(PATIENT_CHAT, MADE)


# -- several chats, re-linking, unlinking, unreachable ---------------------------------------


def test_patient_and_family_chats_both_belong_to_the_patient(links: Links) -> None:
    redeem(links, links.create_code(MADE, WEEK, patient_id=1).code, PATIENT_CHAT)
    redeem(links, links.create_code(MADE, WEEK, patient_id=1, family_name="山田 花子").code,
           FAMILY_CHAT)

    assert [c.chat_id for c in links.patient_chats(1)] == [PATIENT_CHAT, FAMILY_CHAT]
    assert [(c.chat_id, c.family_name) for c in links.patient_chats(1, family_only=True)] == [
        (FAMILY_CHAT, "山田 花子")]
    assert links.patient_chats(2) == []


def test_relinking_a_chat_moves_it_to_the_newest_code(links: Links) -> None:
    redeem(links, links.create_code(MADE, WEEK, patient_id=1).code, PATIENT_CHAT)

    redeem(links, links.create_code(MADE, WEEK, patient_id=2).code, PATIENT_CHAT,
           MADE + timedelta(hours=1))

    linked = links.chat(PATIENT_CHAT)
    assert linked is not None
    assert linked.patient_id == 2
    assert links.patient_chats(1) == []
    assert [c.chat_id for c in links.patient_chats(2)] == [PATIENT_CHAT]


def test_unlink_stops_the_chat_getting_the_patients_messages(links: Links) -> None:
    redeem(links, links.create_code(MADE, WEEK, patient_id=1).code, PATIENT_CHAT)

    assert links.unlink(PATIENT_CHAT, MADE + timedelta(days=1))

    assert links.chat(PATIENT_CHAT) is None
    assert links.patient_chats(1) == []


def test_unlinking_a_chat_that_is_not_linked_says_so(links: Links) -> None:
    assert not links.unlink(STRANGER, MADE)


def test_unreachable_chat_is_excluded_from_the_patients_chats(links: Links) -> None:
    redeem(links, links.create_code(MADE, WEEK, patient_id=1).code, PATIENT_CHAT)
    redeem(links, links.create_code(MADE, WEEK, patient_id=1, family_name="花子").code,
           FAMILY_CHAT)

    chat = links.mark_unreachable(PATIENT_CHAT, "Forbidden: bot was blocked by the user",
                                  MADE + timedelta(days=1))

    assert chat is not None
    assert chat.patient_id == 1
    assert [c.chat_id for c in links.patient_chats(1)] == [FAMILY_CHAT]


def test_unreachable_staff_chat_is_excluded_from_staff_chats(links: Links) -> None:
    redeem(links, links.create_code(MADE, WEEK, staff_id=1).code, STAFF_CHAT)

    links.mark_unreachable(STAFF_CHAT, "blocked", MADE)

    assert links.staff_chats(("nurse",)) == []


def test_chat_that_writes_again_is_reachable_again(links: Links) -> None:
    redeem(links, links.create_code(MADE, WEEK, patient_id=1).code, PATIENT_CHAT)
    links.mark_unreachable(PATIENT_CHAT, "blocked", MADE)

    links.mark_reachable(PATIENT_CHAT)

    assert [c.chat_id for c in links.patient_chats(1)] == [PATIENT_CHAT]


def test_a_staff_chat_starts_in_the_clinic_staff_language(links: Links) -> None:
    code = links.create_code(MADE, WEEK, staff_id=1).code
    chat = links.redeem(code, STAFF_CHAT, None, MADE, staff_lang="en")
    assert chat is not None
    assert chat.lang == "en"
