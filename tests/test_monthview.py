"""The month-at-a-glance text calendar (planner/monthview.py)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner.model import PlannedEvent
from planner.monthview import day_marks, display_width, mark_for, render_months

TOKYO = ZoneInfo("Asia/Tokyo")
DEC_2026 = date(2026, 12, 1)  # a Tuesday
JAN_2027_END = date(2027, 1, 31)
# A course: collection on Mon 2026-11-16, infusions Mon/Thu from 2026-12-07, follow-up later.
COURSE_MARKS = {
    date(2026, 12, 7): "1",
    date(2026, 12, 10): "2",
    date(2026, 12, 14): "3",
    date(2026, 12, 17): "4",
    date(2026, 12, 21): "5",
    date(2026, 12, 24): "6",
    date(2027, 1, 4): "7",
    date(2027, 1, 7): "8",
    date(2027, 1, 21): "F",
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
    *months, _legend = text.rstrip("\n").split("\n\n")
    return [line for block in months for line in block.splitlines()[1:]]


def cells(line: str) -> list[str]:
    """Split a grid line into its seven cells by display column (cells are 5 wide, gap 2)."""
    columns: list[str] = []
    current, width = "", 0
    for char in line:
        current += char
        width += display_width(char)
        if width == 7:
            columns.append(current[:-2])
            current, width = "", 0
    columns.append(current)
    return [cell.strip() for cell in columns]


def week_row_of(text: str, month_title: str, day: int) -> list[str]:
    """The cells of the week row holding ``day`` in the month titled ``month_title``."""
    block = next(block for block in text.split("\n\n") if block.strip().startswith(month_title))
    for line in block.splitlines()[2:]:
        row = cells(line)
        if any(cell.split(" ")[0] == str(day) for cell in row):
            return row
    raise AssertionError(f"day {day} not in {month_title}")


def column_of(text: str, month_title: str, day: int) -> int:
    row = week_row_of(text, month_title, day)
    return next(i for i, cell in enumerate(row) if cell.split(" ")[0] == str(day))


def test_display_width_counts_japanese_characters_as_two_columns() -> None:
    assert display_width("休") == 2
    assert display_width("Mon") == 3
    assert display_width("ｱ") == 1  # half-width katakana


def test_month_view_of_dec_2026_to_jan_2027_has_aligned_columns_in_japanese() -> None:
    widths = {display_width(line) for line in grid_lines(render_ja())}
    assert len(widths) == 1


def test_month_view_has_aligned_columns_in_english() -> None:
    text = render_months(
        COURSE_MARKS, lang="en", closed=year_end_closure, first=DEC_2026, last=JAN_2027_END
    )
    assert len({display_width(line) for line in grid_lines(text)}) == 1


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


def test_infusion_number_is_shown_next_to_its_day() -> None:
    row = week_row_of(render_ja(), "2026年12月", 7)
    assert row[0] == "7 1"  # Monday 2026-12-07, infusion 1


def test_year_end_closure_days_are_marked_closed() -> None:
    row = week_row_of(render_ja(), "2026年12月", 29)
    assert row[1:4] == ["29 休", "30 休", "31 休"]


def test_closed_days_use_x_in_english() -> None:
    text = render_months({}, lang="en", closed=year_end_closure, first=DEC_2026, last=DEC_2026)
    assert week_row_of(text, "December 2026", 29)[1] == "29 x"


def test_an_event_on_a_closed_day_keeps_its_own_mark() -> None:
    marks = {date(2026, 12, 29): "3"}
    text = render_months(marks, lang="ja", closed=year_end_closure, first=DEC_2026, last=DEC_2026)
    assert week_row_of(text, "2026年12月", 29)[1] == "29 3"


def test_legend_lists_the_marks_used_with_the_closure_reason() -> None:
    legend = render_ja().rstrip("\n").splitlines()[-1]
    assert legend == "記号: 1–8 = ANK細胞の点滴  F = 経過観察の受診  休 = 休診日（年末年始）"


def test_legend_leaves_out_marks_not_used() -> None:
    text = render_months(
        {date(2026, 12, 7): "C"}, lang="en", closed=never_closed, first=DEC_2026, last=DEC_2026
    )
    assert text.rstrip("\n").splitlines()[-1] == "Key: C = lymphocyte collection"


def test_legend_lists_an_unexplained_mark_alone() -> None:
    text = render_months(
        {date(2026, 12, 7): "?"}, lang="en", closed=never_closed, first=DEC_2026, last=DEC_2026
    )
    assert text.rstrip("\n").splitlines()[-1] == "Key: ?"


def test_last_before_first_is_refused() -> None:
    with pytest.raises(ValueError, match="before first"):
        render_months({}, lang="ja", closed=never_closed, first=DEC_2026, last=date(2026, 11, 30))


def test_mark_for_an_infusion_is_its_number() -> None:
    assert mark_for("infusion", 3, "ja") == "3"


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
    assert day_marks(events, "ja") == {date(2026, 12, 7): "1"}


@given(
    first=st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)),
    months=st.integers(min_value=0, max_value=14),
    marks=st.dictionaries(
        st.dates(min_value=date(2020, 1, 1), max_value=date(2037, 3, 1)),
        st.sampled_from(["C", "F", "1", "12", "休", "採"]),
    ),
)
def test_grid_lines_always_have_one_display_width(
    first: date, months: int, marks: dict[date, str]
) -> None:
    last = first + timedelta(days=31 * months)
    text = render_months(marks, lang="ja", closed=year_end_closure, first=first, last=last)
    assert len({display_width(line) for line in grid_lines(text)}) == 1
