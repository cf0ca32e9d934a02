"""plan-many's CSV as Japanese Excel saves it: UTF-8 (BOM or not), CP932, UTF-16 with tabs.

Patients 1 and 2 plan courses from Mon 2027-06-07 and Tue 2027-06-08; the clock is the
standard Fri 2026-11-27 09:00 Tokyo.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import PlannerCli
from tests.test_cli_input import assert_one_line

ROWS = [["patient_id", "first_infusion", "collection", "protocol"],
        ["1", "2027-06-07", "", "標準"],
        ["2", "2027-06-08", "", ""]]


@pytest.fixture
def two_patients(planner_cli: PlannerCli) -> None:
    planner_cli.ok("patient", "add", "山田 太郎")
    planner_cli.ok("patient", "add", "鈴木 花子")


def write(tmp_path: Path, text: str, encoding: str, name: str = "courses.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def table(rows: list[list[str]], delimiter: str = ",") -> str:
    return "".join(delimiter.join(row) + "\r\n" for row in rows)


@pytest.mark.parametrize(("encoding", "delimiter"), [
    ("utf-8", ","), ("utf-8-sig", ","), ("cp932", ","), ("utf-16", "\t"), ("utf-16", ","),
])
def test_excels_encodings_are_read(planner_cli: PlannerCli, two_patients: None,
                                   tmp_path: Path, write_config: Callable[[str], Path],
                                   encoding: str, delimiter: str) -> None:
    config = write_config('[protocol."標準"]\n')  # a protocol named in Japanese
    path = write(tmp_path, table(ROWS, delimiter), encoding)

    rows = planner_cli.json("plan-many", str(path), config=config)

    assert [(r["line"], r["course_id"]) for r in rows] == [(2, 1), (3, 2)]
    assert [c["protocol"] for c in planner_cli.json("show", "1", config=config)] == ["標準"]


def test_a_shift_jis_file_naming_an_unknown_protocol_names_it(
        planner_cli: PlannerCli, two_patients: None, tmp_path: Path) -> None:
    path = write(tmp_path, table(ROWS), "cp932")  # the built-in config has only "ank"

    assert_one_line(planner_cli("plan-many", str(path)), "unknown protocol '標準'")


def test_a_utf16_file_without_its_bom_is_refused_naming_the_file(
        planner_cli: PlannerCli, two_patients: None, tmp_path: Path) -> None:
    path = write(tmp_path, table(ROWS, "\t"), "utf-16-le")
    before = planner_cli.dump()

    result = planner_cli("plan-many", str(path))

    assert_one_line(result, "courses.csv: not a CSV text file in UTF-8, CP932 (Shift-JIS) or "
                    "UTF-16")
    assert planner_cli.dump() == before


def test_a_picture_is_refused_naming_the_file(planner_cli: PlannerCli, two_patients: None,
                                              tmp_path: Path) -> None:
    path = tmp_path / "courses.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")

    assert_one_line(planner_cli("plan-many", str(path)), "courses.png: not a CSV text file")


def test_a_row_with_extra_cells_is_refused_naming_the_line(
        planner_cli: PlannerCli, two_patients: None, tmp_path: Path) -> None:
    note_past_the_last_column = ["2", "2027-06-08", "", "", "午前"]
    rows = [ROWS[0], ["1", "2027-06-07", "", ""], note_past_the_last_column]
    path = write(tmp_path, table(rows), "utf-8")
    before = planner_cli.dump()

    result = planner_cli("plan-many", str(path))

    assert_one_line(result, "courses.csv: line 3: 5 cells, but the header names 4 columns")
    assert planner_cli.dump() == before


def test_a_header_without_a_start_column_names_what_is_missing(
        planner_cli: PlannerCli, two_patients: None, tmp_path: Path) -> None:
    path = write(tmp_path, "patient_id,protocol\n1,ank\n", "utf-8")

    assert_one_line(planner_cli("plan-many", str(path)),
                    "courses.csv: line 1:", "missing: first_infusion or collection")


def test_an_unknown_column_is_refused_with_the_known_ones(
        planner_cli: PlannerCli, two_patients: None, tmp_path: Path) -> None:
    path = write(tmp_path, "patient_id,first_infusoin\n1,2027-06-07\n", "utf-8")

    assert_one_line(planner_cli("plan-many", str(path)), "line 1: unknown column "
                    "'first_infusoin'", "columns: patient_id, first_infusion")


@pytest.mark.parametrize(("cells", "problem"), [
    (["abc", "2027-06-08", "", ""], "line 3: patient_id: must be a whole number, got 'abc'"),
    (["1" + "0" * 20, "2027-06-08", "", ""], "line 3: patient_id: 1" + "0" * 20 +
     " is not an id"),
    (["2", "9999-06-08", "", ""], "line 3: first_infusion: 9999-06-08 is outside the years"),
    (["2", "2027-06-08", "", "a\x1bb"], "line 3: protocol: must not hold control characters"),
])
def test_a_bad_cell_names_its_line_and_column(planner_cli: PlannerCli, two_patients: None,
                                              tmp_path: Path, cells: list[str],
                                              problem: str) -> None:
    path = write(tmp_path, table([ROWS[0], ["1", "2027-06-07", "", ""], cells]), "utf-8")
    before = planner_cli.dump()

    result = planner_cli("plan-many", str(path))

    assert_one_line(result, f"courses.csv: {problem}")
    assert planner_cli.dump() == before


def test_a_missing_file_is_named(planner_cli: PlannerCli, tmp_path: Path) -> None:
    assert_one_line(planner_cli("plan-many", str(tmp_path / "nope.csv")),
                    "nope.csv: cannot read the file")
