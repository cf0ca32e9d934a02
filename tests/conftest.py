"""Shared fixtures: a real SQLite file in tmp_path and the CLI run with an injected clock.

The standard course (fixture ``planned_course``) is planned on Mon 2026-11-02 09:00 for
patient 1, 山田 太郎, from the first infusion on Mon 2026-11-30:

- collection Mon 2026-11-09 09:00–13:00
- infusions at 10:00 (blood test 09:30, cell delivery 16:00 one or two days before):
  Mon 11-30, Thu 12-03, Mon 12-07, Thu 12-10, Mon 12-14, Thu 12-17, Mon 12-21, Thu 12-24
- follow-up Thu 2027-01-07 10:00

It ends before the year-end closure (Dec 29 – Jan 3). ``NOW`` (Fri 2026-11-27 09:00) is
after the collection and before everything else.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from planner.cli.app import App
from planner.cli.main import cli
from planner.clock import FixedClock

TOKYO = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=TOKYO)
PLANNED_AT = datetime(2026, 11, 2, 9, 0, tzinfo=TOKYO)
PATIENT_NAME = "山田 太郎"


def tokyo(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    """A wall time in Tokyo, for clocks."""
    return datetime(year, month, day, hour, minute, tzinfo=TOKYO)


def dump_database(path: Path) -> list[str]:
    """Every schema statement and row of the database at ``path``, as SQL text."""
    connection = sqlite3.connect(str(path))
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


@dataclass
class PlannerCli:
    """Runs ``planner --db DB …`` in-process with a fixed clock; knows the database file."""

    db: Path
    runner: CliRunner = field(default_factory=CliRunner)

    def __call__(self, *args: str, at: datetime = NOW, config: Path | None = None,
                 db: Path | None = None) -> Result:
        options = ["--db", str(db or self.db)]
        if config is not None:
            options += ["--config", str(config)]
        app = App(clock=FixedClock(at))
        try:
            return self.runner.invoke(cli, [*options, *args], obj=app)
        finally:
            app.close()

    def ok(self, *args: str, **options: Any) -> Result:
        """Run and insist on exit status 0."""
        result = self(*args, **options)
        assert result.exit_code == 0, result.output
        return result

    def json(self, *args: str, **options: Any) -> Any:
        """Run with ``--json`` and return the parsed standard output."""
        return json.loads(self.ok(*args, "--json", **options).stdout)

    def event_id(self, kind: str, seq: int, course_id: int = 1) -> int:
        """The id of the event ``kind`` number ``seq`` of a course, read from the file."""
        connection = sqlite3.connect(str(self.db))
        try:
            row = connection.execute(
                "SELECT id FROM events WHERE course_id = ? AND kind = ? AND seq = ?",
                [course_id, kind, seq]).fetchone()
        finally:
            connection.close()
        assert row is not None, f"no {kind} {seq} in course {course_id}"
        return int(row[0])

    def dump(self) -> list[str]:
        return dump_database(self.db)


@pytest.fixture
def bare_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PlannerCli:
    """The CLI on ``tmp_path/clinic.db``, which does not exist yet (only ``init`` creates
    it); PLANNER_DB and PLANNER_CONFIG from the shell ignored."""
    monkeypatch.delenv("PLANNER_DB", raising=False)
    monkeypatch.delenv("PLANNER_CONFIG", raising=False)
    return PlannerCli(tmp_path / "clinic.db")


@pytest.fixture
def planner_cli(bare_cli: PlannerCli) -> PlannerCli:
    """The CLI on ``tmp_path/clinic.db``, created by ``planner init`` (empty, schema 5)."""
    bare_cli.ok("init")
    return bare_cli


@pytest.fixture
def patient_id(planner_cli: PlannerCli) -> int:
    """Patient 山田 太郎 (Japanese, MRN 12345), added on ``NOW``."""
    row = planner_cli.json("patient", "add", PATIENT_NAME, "--lang", "ja", "--mrn", "12345")
    return int(row["id"])


@pytest.fixture
def planned_course(planner_cli: PlannerCli, patient_id: int) -> int:
    """The standard course (see the module docstring); returns its id."""
    data = planner_cli.json("plan", str(patient_id), "--first-infusion", "2026-11-30",
                            at=PLANNED_AT)
    return int(data["course_id"])


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Path]:
    """Write a TOML config into tmp_path and return its path."""

    def write(text: str, name: str = "clinic.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
