"""The README's examples work as written: followed in order on a new database, as a new
user would, every ``planner`` line succeeds (the clock is 2026-12-01, the day they were
last checked; ``planner missed`` runs on the day of its infusion, as its text says)."""

from __future__ import annotations

import re
import shlex
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli.app import App
from planner.cli.main import cli
from planner.clock import FixedClock
from tests.conftest import TOKYO

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
TODAY = datetime(2026, 12, 1, 9, 0, tzinfo=TOKYO)
DAY_OF_INFUSION_13 = datetime(2027, 6, 18, 15, 0, tzinfo=TOKYO)
LONG_RUNNING = ("planner serve",)


def readme_commands() -> list[str]:
    """Every ``planner …`` line of the README's ``sh`` blocks, in order."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    return [line.strip() for block in blocks for line in block.splitlines()
            if line.startswith("planner ") and not line.startswith(LONG_RUNNING)]


def readme_csv() -> str:
    """The ``courses.csv`` the README shows beside ``planner plan-many``."""
    found = re.search(r"```text\n(patient_id,first_infusion.*?)```",
                      README.read_text(encoding="utf-8"), re.S)
    assert found, "the README shows the courses.csv of its plan-many example"
    return found.group(1)


def arguments(line: str) -> list[str]:
    """The line's arguments without its comment and without a shell redirection."""
    words = shlex.split(line, comments=True)[1:]
    if ">" in words:
        words = words[:words.index(">")]
    return words


def snapshot(folder: Path) -> dict[str, bytes]:
    """The database's files (with its write-ahead log) between two commands."""
    return {p.name: p.read_bytes() for p in folder.glob("clinic.db*")}


def restore(folder: Path, files: dict[str, bytes]) -> None:
    for path in folder.glob("clinic.db*"):
        path.unlink()
    for name, data in files.items():
        (folder / name).write_bytes(data)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    shutil.copy(ROOT / "config.example.toml", tmp_path / "clinic.toml")
    (tmp_path / "backups").mkdir()
    (tmp_path / "courses.csv").write_text(readme_csv(), encoding="utf-8")
    monkeypatch.setenv("PLANNER_CONFIG", "clinic.toml")
    monkeypatch.setenv("PLANNER_DB", "clinic.db")
    return tmp_path


def test_the_readme_shows_planner_examples() -> None:
    assert len(readme_commands()) > 30


def test_every_readme_example_works_in_order_on_a_new_database(folder: Path) -> None:
    runner = CliRunner()
    failures = []
    for line in readme_commands():
        missed = line.startswith("planner missed")
        before = snapshot(folder) if missed else {}
        at = DAY_OF_INFUSION_13 if missed else TODAY
        result = runner.invoke(cli, arguments(line), obj=App(clock=FixedClock(at)))
        if result.exit_code != 0:
            failures.append(f"{line}\n    -> {result.output.strip()}")
        if missed:  # the two missed examples are alternatives: each on the same course
            restore(folder, before)
    assert failures == []
