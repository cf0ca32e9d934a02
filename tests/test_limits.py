"""The input limits: ids SQLite can hold, dates in 2000–2100, texts on one line."""

from datetime import date

import pytest

from planner.core.errors import InputError
from planner.core.limits import MAX_ID, check_id, clean_text, date_range_problem


@pytest.mark.parametrize("value", [1, MAX_ID])
def test_ids_from_1_to_sqlites_largest_integer_are_accepted(value):
    assert check_id(value, "EVENT_ID") == value


@pytest.mark.parametrize("value", [0, -1, MAX_ID + 1])
def test_ids_outside_sqlites_range_are_refused_naming_the_field(value):
    with pytest.raises(InputError, match=f"^EVENT_ID: {value} is not an id"):
        check_id(value, "EVENT_ID")


@pytest.mark.parametrize("day", [date(2000, 1, 1), date(2100, 12, 31)])
def test_the_first_and_last_day_of_the_range_are_accepted(day):
    assert date_range_problem(day) is None


@pytest.mark.parametrize("day", [date(1999, 12, 31), date(2101, 1, 1), date(1, 1, 1)])
def test_a_day_outside_2000_to_2100_is_refused_written_in_full(day):
    assert date_range_problem(day) == (f"{day.isoformat()} is outside the years 2000–2100 the "
                                       "planner accepts")


def test_a_text_is_trimmed_of_ideographic_spaces_too():
    assert clean_text("\u3000山田 太郎 ", "NAME", 100) == "山田 太郎"


def test_a_text_with_a_line_separator_is_refused():
    with pytest.raises(InputError, match="^NAME: must not hold control characters or line "
                                         r"breaks \(found U\+2028 LINE SEPARATOR\)$"):
        clean_text("山田\u2028太郎", "NAME", 100)


def test_a_text_of_exactly_the_limit_is_accepted():
    assert clean_text("x" * 32, "--mrn", 32) == "x" * 32
