"""Tests for planner.ics: calendar entries -> RFC 5545 bytes.

Golden files in tests/data/ pin the exact bytes; regenerate them after an intended change with
``REGEN_GOLDEN=1 python -m pytest tests/test_ics.py`` and review the diff.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import vobject
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from ical.calendar_stream import IcsCalendarStream
from icalendar import Alarm, Calendar, Component, Event

from planner.calendars.ics import (
    EVENT_CACHE_SIZE,
    CalendarEntry,
    event_cache_info,
    render_calendar,
    set_event_cache_size,
)
from tests.ics_checks import check_ics

DATA = Path(__file__).parent / "data"
TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")
STAMP = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def entry(uid: str = "course-1-infusion-1@ank.example.jp", **changes: object) -> CalendarEntry:
    """An infusion on Monday 2026-12-07 10:00-11:00 in Tokyo, with ``changes`` applied."""
    fields: dict[str, object] = {
        "uid": uid,
        "start": datetime(2026, 12, 7, 10, 0, tzinfo=TOKYO),
        "end": datetime(2026, 12, 7, 11, 0, tzinfo=TOKYO),
        "summary": "ANK点滴 第1回",
        "description": "受付で診察券をご提示ください。",
        "sequence": 0,
        "cancelled": False,
        "stamp": STAMP,
    }
    fields.update(changes)
    return CalendarEntry(**fields)  # type: ignore[arg-type]


def render(*entries: CalendarEntry, **options: object) -> bytes:
    options.setdefault("timezone", "Asia/Tokyo")
    options.setdefault("name", "ANK 点滴スケジュール")
    return render_calendar(entries, **options)  # type: ignore[arg-type]


def parsed_events(data: bytes) -> list[Event]:
    return list(Calendar.from_ical(data).events)


def unfolded_lines(data: bytes) -> list[str]:
    return data.decode().replace("\r\n ", "").split("\r\n")


@pytest.fixture
def fresh_event_cache() -> Iterator[None]:
    """An empty VEVENT cache for the test, and an empty default-sized one afterwards."""
    set_event_cache_size(EVENT_CACHE_SIZE)
    yield
    set_event_cache_size(EVENT_CACHE_SIZE)


# --- golden files ---------------------------------------------------------------------------


def golden_patient_ja() -> bytes:
    """A patient's course in Tokyo: collection, two infusions, alarms one hour before."""
    collection = entry(
        "course-12-collection@ank.example.jp",
        start=datetime(2026, 12, 7, 9, 30, tzinfo=TOKYO),
        end=datetime(2026, 12, 7, 10, 30, tzinfo=TOKYO),
        summary="採血（リンパ球採取） 山田 太郎様",
        description="ANK療法のための採血です。\n当日は朝食をお取りください、水分も十分に。"
        "\nお薬手帳・診察券をお持ちください; ご不明な点は受付まで。",
        location="東京ANKクリニック 3階, 採血室",
        categories=("採血", "ANK"),
    )
    infusions = [
        entry(
            f"course-12-infusion-{number}@ank.example.jp",
            start=day.replace(hour=10),
            end=day.replace(hour=11),
            summary=f"ANK点滴 第{number}回 山田 太郎様",
            description="点滴は約1時間です。終了後30分ほど院内でお休みください。",
            location="東京ANKクリニック 3階, 点滴室",
            categories=("点滴",),
        )
        for number, day in enumerate(
            [datetime(2026, 12, 28, tzinfo=TOKYO), datetime(2027, 1, 7, tzinfo=TOKYO)], start=1
        )
    ]
    return render(collection, *infusions, name="山田 太郎様 ANK療法", alarm_minutes=60)


def golden_staff_cancelled() -> bytes:
    """The staff feed: one infusion moved (SEQUENCE 2), one cancelled, feed refresh hints."""
    moved = entry(
        "course-7-infusion-3@ank.example.jp",
        start=datetime(2026, 12, 10, 14, 0, tzinfo=TOKYO),
        end=datetime(2026, 12, 10, 15, 0, tzinfo=TOKYO),
        summary="ANK点滴 第3回 (佐藤 花子様) 椅子2",
        description="担当: 看護師 鈴木\n培養ラボ: 2日前までに連絡済み",
        sequence=2,
    )
    cancelled = entry(
        "course-7-infusion-4@ank.example.jp",
        start=datetime(2026, 12, 14, 10, 0, tzinfo=TOKYO),
        end=datetime(2026, 12, 14, 11, 0, tzinfo=TOKYO),
        summary="【中止】ANK点滴 第4回 (佐藤 花子様)",
        description="患者都合により中止。培養ラボへ連絡済み。",
        sequence=1,
        cancelled=True,
    )
    return render(
        moved,
        cancelled,
        name="ANK スタッフ予定",
        alarm_minutes=30,
        extra_properties=[("REFRESH-INTERVAL;VALUE=DURATION", "PT1H"), ("X-PUBLISHED-TTL", "PT1H")],
    )


def golden_dst_new_york() -> bytes:
    """A clinic in a DST zone: one summer and one winter infusion."""
    july = entry(
        "ny-infusion-1@ank.example.com",
        start=datetime(2026, 7, 14, 10, 0, tzinfo=NEW_YORK),
        end=datetime(2026, 7, 14, 11, 0, tzinfo=NEW_YORK),
        summary="ANK infusion 1",
        description="",
    )
    december = entry(
        "ny-infusion-2@ank.example.com",
        start=datetime(2026, 12, 7, 10, 0, tzinfo=NEW_YORK),
        end=datetime(2026, 12, 7, 11, 0, tzinfo=NEW_YORK),
        summary="ANK infusion 2",
        description="",
    )
    return render(july, december, timezone="America/New_York", name="ANK New York")


GOLDEN = {
    "golden_patient_ja.ics": golden_patient_ja,
    "golden_staff_cancelled.ics": golden_staff_cancelled,
    "golden_dst_new_york.ics": golden_dst_new_york,
}


@pytest.mark.parametrize("file_name", sorted(GOLDEN))
def test_golden_file_matches_rendered_bytes(file_name: str) -> None:
    data = GOLDEN[file_name]()
    path = DATA / file_name
    if os.environ.get("REGEN_GOLDEN") == "1":
        path.write_bytes(data)
    assert data == path.read_bytes()
    check_ics(data)


# --- events -----------------------------------------------------------------------------------


def test_confirmed_event_has_status_confirmed_and_its_fields() -> None:
    [event] = parsed_events(render(entry(sequence=3)))
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["UID"]) == "course-1-infusion-1@ank.example.jp"
    assert event.start == datetime(2026, 12, 7, 10, 0, tzinfo=TOKYO)
    assert event.end == datetime(2026, 12, 7, 11, 0, tzinfo=TOKYO)
    assert event.decoded("SEQUENCE") == 3
    assert event.decoded("DTSTAMP") == STAMP
    assert event.decoded("LAST-MODIFIED") == STAMP


def test_stamp_is_written_in_utc() -> None:
    data = render(entry(stamp=datetime(2026, 11, 20, 18, 0, tzinfo=TOKYO)))
    assert b"DTSTAMP:20261120T090000Z\r\n" in data
    assert b"LAST-MODIFIED:20261120T090000Z\r\n" in data


def test_cancelled_event_has_status_cancelled_and_no_alarm() -> None:
    data = render(entry(cancelled=True), alarm_minutes=60)
    [event] = parsed_events(data)
    assert str(event["STATUS"]) == "CANCELLED"
    assert event.subcomponents == []
    check_ics(data)


def test_alarm_before_start_when_alarm_minutes_given() -> None:
    data = render(entry(), alarm_minutes=90)
    [alarm] = parsed_events(data)[0].subcomponents
    assert isinstance(alarm, Alarm)
    assert str(alarm["ACTION"]) == "DISPLAY"
    assert str(alarm["DESCRIPTION"]) == "ANK点滴 第1回"
    assert alarm.decoded("TRIGGER") == timedelta(minutes=-90)
    check_ics(data)


def test_no_alarm_when_alarm_minutes_is_none() -> None:
    assert b"VALARM" not in render(entry())


def test_negative_alarm_minutes_are_refused() -> None:
    with pytest.raises(ValueError, match="alarm_minutes"):
        render(entry(), alarm_minutes=-5)


def test_location_and_categories_written_when_given() -> None:
    [event] = parsed_events(render(entry(location="3階 点滴室", categories=("点滴", "ANK"))))
    assert str(event["LOCATION"]) == "3階 点滴室"
    assert event.decoded("CATEGORIES") == ["点滴", "ANK"]


def test_location_and_categories_left_out_when_empty() -> None:
    data = render(entry())
    assert b"LOCATION" not in data
    assert b"CATEGORIES" not in data


def test_events_come_out_in_input_order() -> None:
    later = entry("b@ank.example.jp", start=datetime(2026, 12, 10, 10, 0, tzinfo=TOKYO),
                  end=datetime(2026, 12, 10, 11, 0, tzinfo=TOKYO))
    earlier = entry("a@ank.example.jp")
    uids = [str(event["UID"]) for event in parsed_events(render(later, earlier))]
    assert uids == ["b@ank.example.jp", "a@ank.example.jp"]


def test_entry_in_another_zone_is_written_in_the_clinic_zone_at_the_same_instant() -> None:
    start = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
    data = render(entry(start=start, end=start + timedelta(hours=1)))
    assert b"DTSTART;TZID=Asia/Tokyo:20261207T100000\r\n" in data
    assert parsed_events(data)[0].start == start


# --- text -------------------------------------------------------------------------------------


def test_long_japanese_summary_is_folded_without_splitting_characters() -> None:
    summary = "ANK療法 第1回点滴（山田 太郎様）：採血結果確認後に開始、所要時間は約一時間です" * 2
    data = render(entry(summary=summary))
    summary_lines = data.split(b"SUMMARY:")[1].split(b"\r\nDESCRIPTION")[0].split(b"\r\n")
    assert len(summary_lines) > 2
    assert all(len(line) <= 75 for line in summary_lines)
    assert all(line.startswith(b" ") for line in summary_lines[1:])
    assert str(parsed_events(data)[0]["SUMMARY"]) == summary
    check_ics(data)


def test_commas_semicolons_backslashes_and_newlines_round_trip() -> None:
    text = "点滴, 採血; 検査\\結果\n2行目\r\n3行目"
    data = render(entry(summary=text, description=text, location=text))
    assert "SUMMARY:点滴\\, 採血\\; 検査\\\\結果\\n2行目\\n3行目" in unfolded_lines(data)
    [event] = parsed_events(data)
    for name in ("SUMMARY", "DESCRIPTION", "LOCATION"):
        assert str(event[name]) == "点滴, 採血; 検査\\結果\n2行目\n3行目"
    check_ics(data)


def test_literal_backslash_capital_n_stays_literal() -> None:
    data = render(entry(description="資料: \\\\fileserver\\Notes\\ANK"))
    assert str(parsed_events(data)[0]["DESCRIPTION"]) == "資料: \\\\fileserver\\Notes\\ANK"


def test_control_characters_are_dropped_so_strict_parsers_accept_the_file() -> None:
    data = render(entry(summary="ANK\x07点滴\x00", categories=("点\x1b滴",)))
    [event] = parsed_events(data)
    assert str(event["SUMMARY"]) == "ANK点滴"
    assert event.decoded("CATEGORIES") == ["点滴"]
    check_ics(data)


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(exclude_categories=("Cs", "Cc"), include_characters="\n\t")))
def test_summary_bytes_equal_what_icalendar_writes(summary: str) -> None:
    assume("\\N" not in summary)  # the one case written differently on purpose
    reference = Event()
    reference.add("SUMMARY", summary)
    expected = reference.to_ical().split(b"BEGIN:VEVENT\r\n")[1].split(b"END:VEVENT")[0]
    assert expected in render(entry(summary=summary))


# --- time zones -------------------------------------------------------------------------------


def test_vtimezone_for_asia_tokyo_covers_the_years_of_the_entries() -> None:
    january = entry("b@ank.example.jp", start=datetime(2027, 1, 12, 10, 0, tzinfo=TOKYO),
                    end=datetime(2027, 1, 12, 11, 0, tzinfo=TOKYO))
    data = render(entry(), january)
    [timezone] = Calendar.from_ical(data).timezones
    assert timezone.tz_name == "Asia/Tokyo"
    assert b"COMMENT:This timezone only works from 2026-01-01 to 2028-01-01." in data
    assert b"TZOFFSETTO:+0900" in data
    check_ics(data)


def test_new_york_july_and_december_events_parse_back_to_their_instants() -> None:
    july = datetime(2026, 7, 14, 10, 0, tzinfo=NEW_YORK)
    december = datetime(2026, 12, 7, 10, 0, tzinfo=NEW_YORK)
    data = render(
        entry("july@ank.example.com", start=july, end=july + timedelta(hours=1)),
        entry("december@ank.example.com", start=december, end=december + timedelta(hours=1)),
        timezone="America/New_York",
    )
    check_ics(data)
    assert [event.start for event in parsed_events(data)] == [july, december]
    strict = IcsCalendarStream.calendar_from_ics(data.decode())
    assert [event.dtstart for event in strict.events] == [july, december]
    uses_vtimezone = vobject.readOne(data.decode())
    assert [event.dtstart.value for event in uses_vtimezone.vevent_list] == [july, december]
    assert [event.dtstart.value.utcoffset() for event in uses_vtimezone.vevent_list] == [
        timedelta(hours=-4),
        timedelta(hours=-5),
    ]


@pytest.mark.parametrize(
    ("zone", "changes_utc"),
    [
        ("America/New_York", [datetime(2026, 3, 8, 7, tzinfo=UTC),
                              datetime(2026, 11, 1, 6, tzinfo=UTC)]),
        ("Europe/Berlin", [datetime(2026, 3, 29, 1, tzinfo=UTC),
                           datetime(2026, 10, 25, 1, tzinfo=UTC)]),
    ],
)
def test_vtimezone_onsets_are_local_time_in_tzoffsetfrom(
    zone: str, changes_utc: list[datetime]
) -> None:
    start = datetime(2026, 6, 1, 10, 0, tzinfo=ZoneInfo(zone))
    data = render(entry(start=start, end=start + timedelta(hours=1)), timezone=zone)
    [timezone] = Calendar.from_ical(data).timezones
    onsets_utc = sorted(
        (observance.DTSTART - observance.TZOFFSETFROM).replace(tzinfo=UTC)
        for observance in timezone.subcomponents
        if observance.TZOFFSETFROM != observance.TZOFFSETTO
    )
    assert onsets_utc == changes_utc
    assert {observance.name for observance in timezone.subcomponents} == {"STANDARD", "DAYLIGHT"}


def test_second_occurrence_of_the_repeated_hour_is_written_in_utc() -> None:
    second_half_past_one = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST, after 01:30 EDT
    data = render(
        entry(start=second_half_past_one, end=second_half_past_one + timedelta(hours=1)),
        timezone="America/New_York",
    )
    assert b"DTSTART:20261101T063000Z\r\n" in data
    assert b"DTEND;TZID=America/New_York:20261101T023000\r\n" in data
    assert parsed_events(data)[0].start == second_half_past_one


@pytest.mark.usefixtures("fresh_event_cache")
def test_entries_differing_only_in_fold_are_not_confused_by_the_cache() -> None:
    first = datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK)  # 01:30 EDT
    second = first.replace(fold=1)  # 01:30 EST, an hour later; Python says first == second
    assert render(entry(start=first, end=first + timedelta(hours=2))) != render(
        entry(start=second, end=second + timedelta(hours=2))
    )


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=2 * 366 * 24 * 60).map(
    lambda minutes: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)))
def test_any_instant_in_a_dst_zone_parses_back_to_the_same_instant(start: datetime) -> None:
    data = render(entry(start=start, end=start + timedelta(minutes=90)),
                  timezone="America/New_York")
    [event] = parsed_events(data)
    # Compared in UTC: Python never calls a time in a repeated hour equal to one in another
    # zone (PEP 495), even when they are the same instant.
    assert (event.start.astimezone(UTC), event.end.astimezone(UTC)) == (
        start, start + timedelta(minutes=90))


def test_an_instant_in_the_repeated_hour_of_a_fall_back_parses_back_to_itself() -> None:
    start = datetime(2027, 11, 7, 5, 0, tzinfo=UTC)  # 01:00 EDT; it ends at 01:30 EST
    data = render(entry(start=start, end=start + timedelta(minutes=90)),
                  timezone="America/New_York")
    [event] = parsed_events(data)
    assert (event.start.astimezone(UTC), event.end.astimezone(UTC)) == (
        start, start + timedelta(minutes=90))


def test_unknown_timezone_is_refused() -> None:
    with pytest.raises(ValueError, match="Mars/Base"):
        render(entry(), timezone="Mars/Base")


# --- calendar ---------------------------------------------------------------------------------


def test_calendar_properties_come_first() -> None:
    lines = unfolded_lines(render(entry(), name="ANK 点滴スケジュール"))
    assert lines[:7] == [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//ANK planner//ANK course planner//JA",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:ANK 点滴スケジュール",
        "X-WR-TIMEZONE:Asia/Tokyo",
    ]


def test_extra_properties_appear_in_the_calendar_head() -> None:
    data = render(entry(), extra_properties=[
        ("REFRESH-INTERVAL;VALUE=DURATION", "PT1H"), ("X-PUBLISHED-TTL", "PT1H")])
    head = data.split(b"BEGIN:VTIMEZONE")[0]
    assert head.endswith(b"REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\nX-PUBLISHED-TTL:PT1H\r\n")
    calendar = Calendar.from_ical(data)
    assert calendar.decoded("REFRESH-INTERVAL") == timedelta(hours=1)
    check_ics(data)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REFRESH-INTERVAL;VALUE=DURATION", "one hour"),
        ("X-PUBLISHED-TTL", "1h"),
        ("X-WR-CALDESC", "two\nlines"),
        ("METHOD", "REQUEST"),
        ("BAD NAME", "x"),
    ],
)
def test_invalid_extra_property_is_refused(name: str, value: str) -> None:
    with pytest.raises(ValueError, match="extra property"):
        render(entry(), extra_properties=[(name, value)])


def test_empty_calendar_is_still_valid_with_the_clinic_vtimezone() -> None:
    data = render()
    check_ics(data)
    assert b"BEGIN:VTIMEZONE\r\nTZID:Asia/Tokyo\r\n" in data
    assert b"VEVENT" not in data


def test_duplicate_uids_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate UID"):
        render(entry("same@ank.example.jp"), entry("same@ank.example.jp", sequence=1))


def test_output_equals_icalendar_components_semantically() -> None:
    entries = [
        entry("a@ank.example.jp", location="3階, 点滴室", categories=("点滴", "A,B")),
        entry("b@ank.example.jp", cancelled=True, sequence=4, description="中止;連絡済み"),
    ]
    ours = Calendar.from_ical(render(*entries, alarm_minutes=45))
    reference = Calendar.from_ical(reference_calendar(entries, alarm_minutes=45))
    assert [properties(event) for event in ours.events] == [
        properties(event) for event in reference.events
    ]
    assert [[properties(alarm) for alarm in event.subcomponents] for event in ours.events] == [
        [properties(alarm) for alarm in event.subcomponents] for event in reference.events
    ]


def reference_calendar(entries: list[CalendarEntry], alarm_minutes: int) -> bytes:
    """The same entries built the slow, obvious way with icalendar components."""
    calendar = Calendar()
    for item in entries:
        event = Event()
        for name, value in [("UID", item.uid), ("DTSTAMP", item.stamp),
                            ("LAST-MODIFIED", item.stamp), ("DTSTART", item.start),
                            ("DTEND", item.end), ("SUMMARY", item.summary),
                            ("DESCRIPTION", item.description), ("SEQUENCE", item.sequence),
                            ("STATUS", "CANCELLED" if item.cancelled else "CONFIRMED")]:
            event.add(name, value)
        if item.location:
            event.add("LOCATION", item.location)
        if item.categories:
            event.add("CATEGORIES", list(item.categories))
        if not item.cancelled:
            alarm = Alarm()
            alarm.add("ACTION", "DISPLAY")
            alarm.add("DESCRIPTION", item.summary)
            alarm.add("TRIGGER", timedelta(minutes=-alarm_minutes))
            event.add_component(alarm)
        calendar.add_component(event)
    return bytes(calendar.to_ical())


def properties(component: Component) -> dict[str, object]:
    return {name: component.decoded(name) for name in component}


# --- entries and the cache ----------------------------------------------------------------------


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        entry(start=datetime(2026, 12, 7, 10, 0, tzinfo=TOKYO).replace(tzinfo=None))


def test_end_not_after_start_is_refused() -> None:
    with pytest.raises(ValueError, match="not after"):
        entry(end=datetime(2026, 12, 7, 10, 0, 0, 500_000, tzinfo=TOKYO))


def test_categories_given_as_a_list_become_a_tuple() -> None:
    assert entry(categories=["点滴"]).categories == ("点滴",)


@pytest.mark.usefixtures("fresh_event_cache")
def test_cache_returns_identical_bytes_for_unchanged_entries() -> None:
    entries = [entry(f"{number}@ank.example.jp") for number in range(3)]
    first = render(*entries, alarm_minutes=60)
    second = render(*entries, alarm_minutes=60)
    assert first == second
    assert event_cache_info().hits == 3
    assert event_cache_info().misses == 3


@pytest.mark.usefixtures("fresh_event_cache")
def test_changed_entry_or_alarm_setting_is_rendered_again() -> None:
    render(entry(), alarm_minutes=60)
    assert b"SEQUENCE:1\r\n" in render(entry(sequence=1), alarm_minutes=60)
    assert b"VALARM" not in render(entry(sequence=1))
    assert event_cache_info().misses == 3


@pytest.mark.usefixtures("fresh_event_cache")
def test_cache_does_not_grow_past_its_bound() -> None:
    set_event_cache_size(4)
    render(*(entry(f"{number}@ank.example.jp") for number in range(10)))
    assert event_cache_info().maxsize == 4
    assert event_cache_info().currsize == 4


# --- the shared checker -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (lambda data: data.replace(b"\r\n", b"\n", 1), "bare LF"),
        (lambda data: data.replace(b"SUMMARY:", b"SUMMARY:" + b"x" * 80, 1), "octets"),
        (lambda data: data.replace(b"\r\n ", b"", 1), "octets"),
        (lambda data: data.replace(b"TZID:Asia/Tokyo", b"TZID:Asia/Seoul"), "TZID"),
        (lambda data: data.replace(b"UID:b@", b"UID:a@"), "duplicate UID"),
        (lambda data: data.replace(b"DTEND;TZID=Asia/Tokyo:20261207T110000",
                                   b"DTEND;TZID=Asia/Tokyo:20261207T090000", 1), "DTEND"),
    ],
    ids=["bare-lf", "long-line", "unfolded", "missing-vtimezone", "duplicate-uid", "end-first"],
)
def test_check_ics_catches_what_the_parsers_let_through(
    broken: Callable[[bytes], bytes], message: str
) -> None:
    long_summary = "ANK点滴 第1回 " * 8
    data = render(entry("a@ank.example.jp", summary=long_summary), entry("b@ank.example.jp"))
    check_ics(data)
    with pytest.raises(AssertionError, match=message):
        check_ics(broken(data))
