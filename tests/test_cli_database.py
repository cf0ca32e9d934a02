"""The database a command opens is the one the user meant.

Only ``planner init`` creates a database; any other command (and the bot) on a missing
file, an empty file, a folder or another application's SQLite file says so in one line,
exit status 2, and leaves the file as it was. ``planner demo`` keeps to its own temporary
database unless ``--db`` is given on its command line. The clock is Mon 2027-05-10 09:00
Tokyo.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from planner.channels.telegram import app as bot
from planner.cli.app import App
from planner.cli.main import cli
from planner.clock import FixedClock
from tests.conftest import PlannerCli, dump_database, tokyo

MAY_10_2027 = tokyo(2027, 5, 10)


def one_error_line(result: Result, status: int = 2) -> str:
    """The exit status, no traceback, and nothing on the output but one ``Error:`` line."""
    assert result.exit_code == status, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: "), result.output
    return lines[0]


def files_in(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


def other_application_database(path: Path) -> bytes:
    """An SQLite file of some other program: tables, but none of the planner's."""
    connection = sqlite3.connect(str(path))
    with connection:
        connection.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total INTEGER)")
        connection.execute("INSERT INTO invoices (total) VALUES (1200)")
    connection.close()
    return path.read_bytes()


# -- a missing database ------------------------------------------------------------------


def test_a_command_on_a_missing_database_names_its_absolute_path_and_how_to_create_it(
        bare_cli: PlannerCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    result = bare_cli("patient", "list", db=Path("clinc.db"), at=MAY_10_2027)

    line = one_error_line(result)
    absolute = tmp_path / "clinc.db"
    assert line == (f"Error: no database at {absolute}; to create one run: "
                    f"planner --db {absolute} init")


@pytest.mark.parametrize("command", [("patient", "list"), ("patient", "add", "山田 太郎"),
                                     ("show", "1"), ("reschedule", "1", "--to", "2027-06-08")])
def test_a_command_on_a_missing_database_creates_no_file(
        bare_cli: PlannerCli, tmp_path: Path, command: tuple[str, ...]) -> None:
    result = bare_cli(*command, at=MAY_10_2027)

    one_error_line(result)
    assert files_in(tmp_path) == []  # no database, no -wal, no -shm


def test_init_creates_the_missing_database_the_other_commands_refused(
        bare_cli: PlannerCli) -> None:
    bare_cli.ok("init", at=MAY_10_2027)

    result = bare_cli.ok("patient", "add", "山田 太郎", at=MAY_10_2027)

    assert result.output == "Patient 1 added: 山田 太郎\n"


def test_init_in_a_missing_folder_says_the_folder_is_missing(bare_cli: PlannerCli,
                                                              tmp_path: Path) -> None:
    result = bare_cli("init", db=tmp_path / "nodir" / "clinic.db", at=MAY_10_2027)

    line = one_error_line(result)
    assert line == (f"Error: cannot create {tmp_path / 'nodir' / 'clinic.db'}: the folder "
                    f"{tmp_path / 'nodir'} does not exist")


# -- files that are not the planner's database -------------------------------------------


def test_an_empty_file_is_refused_and_left_empty(bare_cli: PlannerCli, tmp_path: Path) -> None:
    bare_cli.db.write_bytes(b"")

    result = bare_cli("patient", "add", "山田 太郎", at=MAY_10_2027)

    line = one_error_line(result)
    assert line == (f"Error: {bare_cli.db} is an empty file, not a planner database; to make "
                    f"it one run: planner --db {bare_cli.db} init")
    assert bare_cli.db.read_bytes() == b""
    assert files_in(tmp_path) == ["clinic.db"]


def test_init_makes_an_empty_file_a_planner_database(bare_cli: PlannerCli) -> None:
    bare_cli.db.write_bytes(b"")

    bare_cli.ok("init", at=MAY_10_2027)

    assert bare_cli.json("patient", "list", at=MAY_10_2027) == []


@pytest.mark.parametrize("command", [("patient", "list"), ("patient", "add", "山田 太郎"),
                                     ("init",)])
def test_another_applications_sqlite_file_is_refused_and_left_byte_identical(
        bare_cli: PlannerCli, tmp_path: Path, command: tuple[str, ...]) -> None:
    before = other_application_database(bare_cli.db)

    result = bare_cli(*command, at=MAY_10_2027)

    line = one_error_line(result)
    assert line == (f"Error: {bare_cli.db} is another application's SQLite database (it has "
                    "no planner tables); the planner neither uses it nor adds its tables to it")
    assert bare_cli.db.read_bytes() == before
    assert files_in(tmp_path) == ["clinic.db"]


def test_an_sqlite_file_without_any_table_is_refused_except_by_init(
        bare_cli: PlannerCli) -> None:
    connection = sqlite3.connect(str(bare_cli.db))
    connection.execute("VACUUM")  # writes the header of an SQLite database with no tables
    connection.close()
    before = bare_cli.db.read_bytes()

    line = one_error_line(bare_cli("patient", "list", at=MAY_10_2027))

    assert "is an empty SQLite database, not a planner database" in line
    assert bare_cli.db.read_bytes() == before
    bare_cli.ok("init", at=MAY_10_2027)


def test_a_folder_given_as_the_database_is_refused(bare_cli: PlannerCli,
                                                   tmp_path: Path) -> None:
    folder = tmp_path / "clinic"
    folder.mkdir()

    for command in (("patient", "list"), ("init",)):
        line = one_error_line(bare_cli(*command, db=folder, at=MAY_10_2027))
        assert line == f"Error: {folder} is a folder, not a database file; give the file's path"
    assert files_in(folder) == []


# -- a read-only database ----------------------------------------------------------------


@pytest.fixture
def read_only_database(planner_cli: PlannerCli) -> Iterator[PlannerCli]:
    """The initialised clinic.db made unwritable: chmod 444, or for root (whom chmod does
    not stop) the immutable attribute; skipped where neither holds."""
    planner_cli.ok("patient", "add", "山田 太郎", at=MAY_10_2027)
    planner_cli.db.chmod(0o444)
    immutable = False
    if os.geteuid() == 0:
        immutable = subprocess.run(["chattr", "+i", str(planner_cli.db)],
                                   capture_output=True, check=False).returncode == 0
    try:
        try:
            with planner_cli.db.open("ab"):
                pytest.skip("cannot make a file read-only here (root without chattr)")
        except PermissionError:
            pass
        yield planner_cli
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(planner_cli.db)], check=True)
        planner_cli.db.chmod(0o644)


def test_a_read_only_database_can_still_be_read(read_only_database: PlannerCli) -> None:
    rows = read_only_database.json("patient", "list", at=MAY_10_2027)

    assert [row["name"] for row in rows] == ["山田 太郎"]


def test_a_change_to_a_read_only_database_is_refused_in_one_line(
        read_only_database: PlannerCli) -> None:
    before = read_only_database.db.read_bytes()

    result = read_only_database("patient", "add", "佐藤 一郎", at=MAY_10_2027)

    line = one_error_line(result)
    assert line == (f"Error: {read_only_database.db}: the database is read-only (check the "
                    "file's and its folder's permissions); nothing was changed")
    assert read_only_database.db.read_bytes() == before


# -- the demo ----------------------------------------------------------------------------


def run_demo(*args: str) -> Result:
    return CliRunner().invoke(cli, [*args], obj=App(clock=FixedClock(MAY_10_2027)))


def test_demo_leaves_the_database_named_by_planner_db_byte_identical(
        bare_cli: PlannerCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bare_cli.ok("init", at=MAY_10_2027)
    bare_cli.ok("patient", "add", "佐藤 一郎", at=MAY_10_2027)
    before = bare_cli.db.read_bytes()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PLANNER_DB", "clinic.db")

    result = run_demo("demo", "-o", "demo.ics")

    assert result.exit_code == 0, result.output
    assert bare_cli.db.read_bytes() == before
    assert files_in(tmp_path) == ["clinic.db", "demo.ics"]
    assert result.output.endswith("The demo's database was temporary and has been removed; "
                                  "no other database was opened. Your own start: "
                                  "`planner --db clinic.db init`.\n")


def test_demo_leaves_the_database_of_the_config_byte_identical(
        bare_cli: PlannerCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bare_cli.ok("init", at=MAY_10_2027)
    before = bare_cli.db.read_bytes()
    config = tmp_path / "clinic.toml"
    config.write_text(f'[database]\npath = "{bare_cli.db}"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    result = run_demo("--config", str(config), "demo", "-o", "demo.ics")

    assert result.exit_code == 0, result.output
    assert bare_cli.db.read_bytes() == before


def test_demo_with_db_on_its_command_line_adds_the_sample_to_that_database(
        bare_cli: PlannerCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bare_cli.ok("init", at=MAY_10_2027)
    monkeypatch.chdir(tmp_path)

    result = run_demo("--db", str(bare_cli.db), "demo", "-o", "demo.ics")

    assert result.exit_code == 0, result.output
    assert f"The sample patient, nurse and course are in {bare_cli.db}." in result.output
    assert [row["name"] for row in bare_cli.json("patient", "list", at=MAY_10_2027)] == [
        "山田 太郎"]


# -- the bot -----------------------------------------------------------------------------


def test_the_bot_on_a_missing_database_says_so_in_one_line_and_creates_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLANNER_CONFIG", raising=False)
    missing = tmp_path / "clinic.db"

    status = bot.main(["--db", str(missing), "--console"])

    captured = capsys.readouterr()
    assert status == 2
    assert captured.err == (f"Error: no database at {missing}; to create one run: "
                            f"planner --db {missing} init\n")
    assert files_in(tmp_path) == []  # no database and no lock file


def test_the_bot_refuses_another_applications_sqlite_file_untouched(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLANNER_CONFIG", raising=False)
    other = tmp_path / "clinic.db"
    before = other_application_database(other)

    status = bot.main(["--db", str(other), "--console"])

    assert status == 2
    assert "another application's SQLite database" in capsys.readouterr().err
    assert other.read_bytes() == before
    assert dump_database(other)[1:3] == [
        "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total INTEGER);",
        "INSERT INTO \"invoices\" VALUES(1,1200);"]
