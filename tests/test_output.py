"""The CLI's tables (planner/cli/output.py): laid out as ``tabulate``'s "simple" format
staff already know, but measured in terminal columns so Japanese names stay aligned."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from tabulate import tabulate  # installed with sqlite-utils; the reference here only

from planner.cli.output import format_table

WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_:–", min_size=1, max_size=12)
NUMBER = st.integers(min_value=0, max_value=10**6)


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[object]]]:
    """Tables like the CLI's: each column all numbers or all words, some cells blank."""
    kinds = draw(st.lists(st.sampled_from(["number", "word"]), min_size=1, max_size=6))
    headers = draw(st.lists(WORD, min_size=len(kinds), max_size=len(kinds)))
    cell = {"number": st.one_of(NUMBER, st.none()), "word": st.one_of(WORD, st.just(""))}
    rows = draw(st.lists(st.tuples(*(cell[k] for k in kinds)).map(list),
                         min_size=1, max_size=8))
    return headers, rows


@settings(max_examples=200)
@given(tables())
def test_an_ascii_table_reads_as_tabulate_would_print_it(
        table: tuple[list[str], list[list[object]]]) -> None:
    headers, rows = table
    assert format_table(rows, headers) == tabulate(rows, headers=headers, tablefmt="simple")


def test_the_column_after_a_japanese_name_stays_aligned() -> None:
    text = format_table([["山田 太郎", 1], ["Anna Smith", 12]], ["name", "course"])

    assert text.splitlines() == [
        "name          course",
        "----------  --------",
        "山田 太郎          1",
        "Anna Smith        12",
    ]


def test_a_row_shorter_than_the_header_leaves_its_last_cells_blank() -> None:
    assert format_table([[1]], ["id", "kind"]).splitlines() == ["  id  kind", "----  ------",
                                                                 "   1"]
