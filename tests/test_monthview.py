"""The month-at-a-glance text calendar (planner/monthview.py)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner.core.model import PlannedEvent
from planner.texts.monthview import MAX_WIDTH, day_marks, display_width, mark_for, render_months

TOKYO = ZoneInfo("Asia/Tokyo")
DEC_2026 = date(2026, 12, 1)  # a Tuesday
JAN_2027_END = date(2027, 1, 31)
# A course: collection on Mon 2026-11-16, infusions Mon/Thu from 2026-12-07, follow-up later.
COURSE_MARKS = {
    date(2026, 12, 7): "点",
    date(2026, 12, 10): "点",
    date(2026, 12, 14): "点",
    date(2026, 12, 17): "点",
    date(2026, 12, 21): "点",
    date(2026, 12, 24): "点",
    date(2027, 1, 4): "点",
    date(2027, 1, 7): "点",
    date(2027, 1, 21): "診",
}


def year_end_closure(day: date) -> str | None:
    """Closed 2026-12-29 … 2027-01-03, as the clinic's default year-end closure."""
    if date(2026, 12, 29) <= day <= date(2027, 1, 3):
        return "年末年始"
    return None


def never_closed(day: date) -> str | None:
    return None


def render_ja() -> str:
    return render_months(
        COURSE_MARKS, lang="ja", closed=year_end_closure, first=DEC_2026, last=JAN_2027_END
    )


def grid_lines(text: str) -> list[str]:
    """Header and week rows of every month: each block's lines after its title."""
    months = [block for block in text.rstrip("\n").split("\n\n")
              if re.search(r"\d{4}", block.splitlines()[0])]
    return [line for block in months for line in block.splitlines()[1:]]


def legend(text: str) -> list[str]:
    last = text.rstrip("\n").split("\n\n")[-1]
    return [] if re.search(r"\d{4}", last.splitlines()[0]) else last.splitlines()


def cells(line: str) -> list[str]:
    """Split a grid line into its seven cells by display column (cells are 4 wide, gap 1)."""
    columns: list[str] = []
    current, width = "", 0
    for char in line:
        current += char
        width += display_width(char)
        if width == 5:
            columns.append(current[:-1])
            current, width = "", 0
    columns.append(current)
    return [cell.strip() for cell in columns]


def week_row_of(text: str, month_title: str, day: int) -> list[str]:
    """The cells of the week row holding ``day`` in the month titled ``month_title``."""
    block = next(block for block in text.split("\n\n") if block.strip().startswith(month_title))
    for line in block.splitlines()[2:]:
        row = cells(line)
        if any(_day(cell) == str(day) for cell in row):
            return row
    raise AssertionError(f"day {day} not in {month_title}")


def _day(cell: str) -> str:
    return "".join(char for char in cell if char.isdigit())


def column_of(text: str, month_title: str, day: int) -> int:
    row = week_row_of(text, month_title, day)
    return next(i for i, cell in enumerate(row) if _day(cell) == str(day))


def test_display_width_counts_japanese_characters_as_two_columns() -> None:
    assert display_width("休") == 2
    assert display_width("Mon") == 3
    assert display_width("ｱ") == 1  # half-width katakana


def test_month_view_of_dec_2026_to_jan_2027_fits_34_columns_in_japanese() -> None:
    assert MAX_WIDTH == 34
    assert max(display_width(line) for line in render_ja().splitlines()) <= 34


def test_month_view_fits_34_columns_in_english() -> None:
    text = render_months(
        {date(2026, 12, 7): "I"}, lang="en", closed=year_end_closure, first=DEC_2026,
        last=JAN_2027_END,
    )
    assert max(display_width(line) for line in grid_lines(text)) <= 34


def test_month_titles_in_japanese() -> None:
    titles = [block.splitlines()[0].strip() for block in render_ja().split("\n\n")[:2]]
    assert titles == ["2026年12月", "2027年1月"]


def test_month_titles_in_english() -> None:
    text = render_months({}, lang="en", closed=never_closed, first=DEC_2026, last=JAN_2027_END)
    titles = [block.splitlines()[0].strip() for block in text.split("\n\n")[:2]]
    assert titles == ["December 2026", "January 2027"]


def test_weekday_header_starts_on_monday_in_japanese() -> None:
    assert cells(grid_lines(render_ja())[0]) == ["月", "火", "水", "木", "金", "土", "日"]


def test_weekday_header_starts_on_monday_in_english() -> None:
    text = render_months({}, lang="en", closed=never_closed, first=DEC_2026, last=DEC_2026)
    assert cells(grid_lines(text)[0]) == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def test_1_dec_2026_sits_in_the_tuesday_column() -> None:
    assert column_of(render_ja(), "2026年12月", 1) == 1


def test_1_jan_2027_sits_in_the_friday_column() -> None:
    assert column_of(render_ja(), "2027年1月", 1) == 4


def test_an_infusion_is_marked_next_to_its_day() -> None:
    row = week_row_of(render_ja(), "2026年12月", 7)
    assert row[0] == "7点"  # Monday 2026-12-07, an infusion


def test_year_end_closure_days_are_marked_closed() -> None:
    row = week_row_of(render_ja(), "2026年12月", 29)
    assert row[1:4] == ["29休", "30休", "31休"]


def test_closed_days_use_x_in_english() -> None:
    text = render_months({}, lang="en", closed=year_end_closure, first=DEC_2026, last=DEC_2026)
    assert week_row_of(text, "December 2026", 29)[1] == "29 x"


def test_an_event_on_a_closed_day_keeps_its_own_mark() -> None:
    marks = {date(2026, 12, 29): "点"}
    text = render_months(marks, lang="ja", closed=year_end_closure, first=DEC_2026, last=DEC_2026)
    assert week_row_of(text, "2026年12月", 29)[1] == "29点"


def test_legend_lists_the_marks_used_one_a_line_with_the_closure_reason() -> None:
    assert legend(render_ja()) == [
        "点＝ANK細胞の点滴", "診＝経過観察の受診", "休＝休診日（年末年始）"]


def test_legend_leaves_out_marks_not_used() -> None:
    text = render_months(
        {date(2026, 12, 7): "C"}, lang="en", closed=never_closed, first=DEC_2026, last=DEC_2026
    )
    assert legend(text) == ["C = Lymphocyte collection"]


def test_legend_lists_an_unexplained_mark_alone() -> None:
    text = render_months(
        {date(2026, 12, 7): "?"}, lang="en", closed=never_closed, first=DEC_2026, last=DEC_2026
    )
    assert legend(text) == ["?"]


def test_last_before_first_is_refused() -> None:
    with pytest.raises(ValueError, match="before first"):
        render_months({}, lang="ja", closed=never_closed, first=DEC_2026, last=date(2026, 11, 30))


def test_mark_for_an_infusion_is_a_japanese_mark_not_a_letter() -> None:
    assert mark_for("infusion", 3, "ja") == "点"


def test_mark_for_a_collection_is_c() -> None:
    assert mark_for("collection", 0, "en") == "C"


def test_mark_for_a_step_the_clinic_added_is_plus() -> None:
    assert mark_for("skin_test", 1, "en") == "+"


def _event(kind: str, seq: int, day: date, hour: int) -> PlannedEvent:
    start = datetime(day.year, day.month, day.day, hour, tzinfo=TOKYO)
    return PlannedEvent(kind, seq, start, start + timedelta(hours=1))


def test_day_marks_show_the_infusion_over_its_blood_test_the_same_day() -> None:
    events = [
        _event("blood_test", 1, date(2026, 12, 7), 9),
        _event("infusion", 1, date(2026, 12, 7), 10),
    ]
    assert day_marks(events, "ja") == {date(2026, 12, 7): "点"}


@given(
    first=st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)),
    months=st.integers(min_value=0, max_value=14),
    marks=st.dictionaries(
        st.dates(min_value=date(2020, 1, 1), max_value=date(2037, 3, 1)),
        st.sampled_from(["C", "F", "1", "12", "休", "採"]),
    ),
)
def test_grid_lines_always_fit_34_columns(
    first: date, months: int, marks: dict[date, str]
) -> None:
    last = first + timedelta(days=31 * months)
    text = render_months(marks, lang="ja", closed=year_end_closure, first=first, last=last)
    assert max(display_width(line) for line in grid_lines(text)) <= MAX_WIDTH
