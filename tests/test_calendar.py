"""Open days of the default clinic: Mon–Sat, Japanese holidays, the year-end closure."""

from datetime import date, time

import pytest

from planner.core.calendar import ClinicCalendar
from planner.core.errors import ConfigError
from planner.core.model import Clinic


@pytest.fixture
def calendar() -> ClinicCalendar:
    return ClinicCalendar(Clinic())


def test_an_ordinary_monday_is_open(calendar):
    assert calendar.is_open(date(2026, 12, 7))


def test_sunday_is_closed_by_default(calendar):
    assert calendar.closed_reason(date(2026, 12, 6)) == "clinic closed on Sundays"


def test_a_national_holiday_is_closed_with_its_name(calendar):
    assert "Labor Thanksgiving Day" in calendar.closed_reason(date(2026, 11, 23))


def test_a_substitute_holiday_is_closed(calendar):
    assert "Substitute Holiday" in calendar.closed_reason(date(2026, 5, 6))


@pytest.mark.parametrize("day", [date(2026, 12, 29), date(2026, 12, 31), date(2027, 1, 2),
                                 date(2027, 1, 3)])
def test_the_year_end_closure_runs_from_december_29_to_january_3(calendar, day):
    assert calendar.closed_reason(day) in ("year-end closure", "public holiday (New Year's Day)")


def test_the_day_after_the_year_end_closure_is_open(calendar):
    assert calendar.is_open(date(2027, 1, 4))


def test_extra_closed_dates_are_closed():
    calendar = ClinicCalendar(Clinic(closed_dates=frozenset({date(2026, 12, 24)})))
    assert calendar.closed_reason(date(2026, 12, 24)) == "clinic closed (extra closed date)"


def test_no_holiday_country_keeps_holidays_open():
    calendar = ClinicCalendar(Clinic(holiday_country=None))
    assert calendar.is_open(date(2026, 11, 23))


def test_an_unknown_holiday_country_is_a_config_error():
    with pytest.raises(ConfigError, match="clinic.holidays"):
        ClinicCalendar(Clinic(holiday_country="XX"))


def test_within_hours_accepts_an_infusion_ending_at_closing_time(calendar):
    start = calendar.at(date(2026, 12, 7), time(17, 0))
    end = calendar.at(date(2026, 12, 7), time(18, 0))
    assert calendar.within_hours(start, end)


def test_within_hours_refuses_a_start_before_opening(calendar):
    start = calendar.at(date(2026, 12, 7), time(8, 30))
    end = calendar.at(date(2026, 12, 7), time(9, 30))
    assert not calendar.within_hours(start, end)
