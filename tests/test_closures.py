"""Closure reasons in the reader's language (planner/closures.py)."""

from __future__ import annotations

from datetime import date

from planner.core.calendar import ClinicCalendar
from planner.core.model import Clinic
from planner.texts.closures import closure_words

CALENDAR = ClinicCalendar(Clinic(closed_dates=frozenset({date(2027, 2, 3)})))


def test_a_holiday_is_named_in_japanese_from_the_holidays_package() -> None:
    assert closure_words(CALENDAR, "ja")(date(2027, 1, 11)) == "成人の日"


def test_a_holiday_is_named_in_english_for_english_readers() -> None:
    assert closure_words(CALENDAR, "en")(date(2027, 1, 11)) == "Coming of Age Day"


def test_a_weekly_closure_is_the_weekdays_name() -> None:
    words = closure_words(CALENDAR, "ja")
    assert words(date(2027, 1, 17)) == "日曜日"
    assert closure_words(CALENDAR, "en")(date(2027, 1, 17)) == "Sundays"


def test_the_year_end_and_an_extra_closed_day_have_their_own_words() -> None:
    words = closure_words(CALENDAR, "ja")
    assert (words(date(2026, 12, 30)), words(date(2027, 2, 3))) == ("年末年始", "臨時休診日")


def test_an_open_day_has_no_reason() -> None:
    assert closure_words(CALENDAR, "ja")(date(2027, 1, 12)) is None
