"""Make-ups for missed infusions: after the last live one, after now, off the missed day,
and a miss that is always recorded (scenario dates spelled out)."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.config.settings import load_settings
from planner.core.calendar import ClinicCalendar
from planner.core.course import Course
from planner.core.errors import PlanningError
from planner.core.makeup import live_number, record_missed
from planner.core.model import Status
from planner.core.schedule import plan_course

TOKYO = ZoneInfo("Asia/Tokyo")
SETTINGS = load_settings(None)
ANK = SETTINGS.protocols["ank"]
CALENDAR = ClinicCalendar(SETTINGS.clinic)


def course_from(day: date) -> Course:
    return Course(ANK, plan_course(ANK, CALENDAR, first_infusion=day).events)


def tokyo(month: int, day: int, hour: int, year: int = 2027) -> datetime:
    return datetime(year, month, day, hour, 0, tzinfo=TOKYO)


# Mon 2027-06-07: infusions Mon/Thu 06-07 … Mon 06-28 (7), Thu 07-01 10:00 (8).
JUNE = course_from(date(2027, 6, 7))


def infusion(events, seq):
    (event,) = [e for e in events if e.kind == "infusion" and e.seq == seq]
    return event


def test_a_make_up_for_the_last_infusion_missed_that_morning_is_not_in_the_missed_slot():
    result = record_missed(JUNE, CALENDAR, 8, tokyo(7, 1, 8))
    makeup = infusion(result.events, 9)
    assert infusion(result.events, 8).status is Status.MISSED
    assert makeup.start == tokyo(7, 2, 10)  # Fri 07-02, 4 days after Mon 06-28
    assert [e.start.date() for e in result.events if e.seq == 9 and e.kind != "follow_up"
            ] == [date(2027, 7, 1), date(2027, 7, 2), date(2027, 7, 2)]  # cells 07-01 16:00


def test_a_make_up_for_the_last_infusion_recorded_after_the_fact_is_still_ahead():
    now = tokyo(7, 1, 12)  # noon on the missed day, two hours after the slot
    makeup = infusion(record_missed(JUNE, CALENDAR, 8, now).events, 9)
    assert makeup.start > now
    assert makeup.status is Status.SCHEDULED


def test_a_make_up_recorded_the_next_day_keeps_the_gap_rule_from_the_last_live_infusion():
    makeup = infusion(record_missed(JUNE, CALENDAR, 8, tokyo(7, 2, 12)).events, 9)
    assert makeup.start == tokyo(7, 3, 10)  # Sat 07-03: 5 days after Mon 06-28


def test_an_infusion_whose_day_has_not_come_cannot_be_marked_missed():
    with pytest.raises(PlanningError, match="infusion 8 is on 2027-07-01 .* reschedule or cancel"):
        record_missed(JUNE, CALENDAR, 8, tokyo(6, 30, 18))


def test_missed_in_the_week_before_the_year_end_closure_is_recorded_without_a_make_up():
    # Tue/Fri from 2027-11-30: infusion 8 on Fri 12-24 is recorded missed on Mon 12-27;
    # 12-28 is 7 days after infusion 7 (Tue 12-21) and the clinic is closed 12-29 … 01-03.
    course = course_from(date(2027, 11, 30))
    result = record_missed(course, CALENDAR, 8, tokyo(12, 27, 9))
    assert infusion(result.events, 8).status is Status.MISSED
    assert [e for e in result.events if e.kind == "infusion" and e.seq == 9] == []
    assert result.no_makeup_reason is not None
    assert "--no-makeup" in result.no_makeup_reason
    assert "reschedule" in result.no_makeup_reason


def test_missed_in_the_week_before_the_closure_on_the_day_gets_a_make_up_before_it():
    course = course_from(date(2027, 11, 30))
    result = record_missed(course, CALENDAR, 8, tokyo(12, 24, 8))
    assert infusion(result.events, 9).start == tokyo(12, 25, 10)  # Sat 12-25
    assert result.no_makeup_reason is None


def test_a_make_up_avoids_the_patients_away_days():
    away = {date(2027, 7, 2): "patient away (chemotherapy)"}
    makeup = infusion(record_missed(JUNE, CALENDAR, 8, tokyo(7, 1, 8), away=away).events, 9)
    assert makeup.start == tokyo(7, 3, 10)


def test_the_make_up_after_one_miss_is_read_as_infusion_8():
    assert live_number(9, [8]) == 8
    assert live_number(8, [8]) == 8  # the missed one keeps its number
    assert live_number(9, [3]) == 8


@settings(max_examples=60, deadline=None)
@given(st.dates(min_value=date(2027, 1, 1), max_value=date(2028, 12, 31)),
       st.integers(1, 8), st.integers(0, 30))
def test_a_miss_keeps_the_live_infusion_count_or_says_why_not(start, seq, minutes_late):
    course = course_from(start)
    missed = infusion(course.events, seq)
    now = missed.start + timedelta(minutes=minutes_late)
    result = record_missed(course, CALENDAR, seq, now)
    live = [e for e in result.events if e.kind == "infusion" and e.status is Status.SCHEDULED]
    if result.no_makeup_reason is None:
        assert len(live) == ANK.infusions
        makeup = max(live, key=lambda e: e.start)
        before = sorted(live, key=lambda e: e.start)[-2]
        assert makeup.seq == ANK.infusions + 1
        assert makeup.start > now
        assert ANK.gap_days[0] <= (makeup.start.date() - before.start.date()).days <= (
            ANK.max_gap_days_over_closure)
        assert CALENDAR.is_open(makeup.start.date())
        assert makeup.start.date() != missed.start.date()
    else:
        assert len(live) == ANK.infusions - 1
    assert infusion(result.events, seq).status is Status.MISSED
