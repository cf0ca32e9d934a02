"""A command loads what it uses: ``planner --help`` and ``planner show`` start without the
calendar, web-server, Telegram and QR code libraries, which take most of a start-up.

Each check runs the real entry point (``python -m planner …``) in a fresh interpreter and
reads which modules it loaded, so an import moved back to the top of a CLI module fails
here rather than only in ``benchmarks/bench_cli.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from planner.cli.main import cli
from tests.conftest import PlannerCli

EDGE_LIBRARIES = {"icalendar", "aiohttp", "telegram", "httpx", "apscheduler", "qrcode", "PIL"}
"""What only exports, the feed server, the bot and ``planner link --qr`` need."""

NOT_FOR_HELP = {"sqlite_utils", "tabulate", "holidays", "babel", "planner.service",
                "planner.store", "planner.config", "planner.calendars", "planner.channels"}
"""``--help`` reads no database, no config and prints no table."""

NOT_FOR_SHOW = {"holidays", "babel", "planner.service", "planner.calendars",
                "planner.channels"}
"""``show`` reads the store: it plans nothing and formats no date in words."""

CHILD = """\
import json, runpy, sys
report, sys.argv = sys.argv[1], ["planner", *sys.argv[2:]]
try:
    runpy.run_module("planner", run_name="__main__", alter_sys=True)
except SystemExit as end:
    status = end.code
else:
    status = 0
with open(report, "w", encoding="utf-8") as file:
    json.dump({"status": status, "modules": sorted(sys.modules)}, file)
"""

MAY_10_2027 = datetime(2027, 5, 10, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo"))


def loaded_by(tmp_path: Path, *args: str, db: Path | None = None) -> set[str]:
    """The modules ``python -m planner ARGS`` has loaded when it ends (it must succeed)."""
    report = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if k not in ("PLANNER_CONFIG", "PLANNER_DB")}
    if db is not None:
        env["PLANNER_DB"] = str(db)
    done = subprocess.run([sys.executable, "-c", CHILD, str(report), *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["status"] in (0, None), done.stdout + done.stderr
    return set(data["modules"])


def packages(modules: set[str]) -> set[str]:
    """Every package and module name, with each of its parents (``planner.store``)."""
    return {".".join(name.split(".")[:depth]) for name in modules
            for depth in range(1, len(name.split(".")) + 1)}


def test_planner_help_loads_no_library_of_the_edges(tmp_path: Path) -> None:
    loaded = packages(loaded_by(tmp_path, "--help"))

    assert loaded & (EDGE_LIBRARIES | NOT_FOR_HELP) == set()


def test_planner_help_still_lists_every_command(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "planner", "--help"], capture_output=True,
                          text=True, timeout=60, check=True)
    commands = done.stdout.split("Commands:", 1)[1]
    listed = {line.split()[0] for line in commands.splitlines() if line.strip()}

    assert listed == set(cli.commands)
    for name, command in cli.commands.items():
        assert command.get_short_help_str(limit=45)[:20] in commands, name


def test_planner_show_loads_neither_calendars_nor_telegram(planner_cli: PlannerCli,
                                                           patient_id: int,
                                                           tmp_path: Path) -> None:
    planner_cli.ok("plan", str(patient_id), "--first-infusion", "2027-06-07", at=MAY_10_2027)

    loaded = packages(loaded_by(tmp_path, "show", str(patient_id), db=planner_cli.db))

    assert "planner.store.courses" in loaded  # it did read the course
    assert loaded & (EDGE_LIBRARIES | NOT_FOR_SHOW) == set()


def test_planner_show_prints_the_course_it_reads(planner_cli: PlannerCli, patient_id: int,
                                                 tmp_path: Path) -> None:
    planner_cli.ok("plan", str(patient_id), "--first-infusion", "2027-06-07", at=MAY_10_2027)
    env = {**os.environ, "PLANNER_DB": str(planner_cli.db)}
    env.pop("PLANNER_CONFIG", None)

    done = subprocess.run([sys.executable, "-m", "planner", "show", str(patient_id)], env=env,
                          capture_output=True, text=True, timeout=60, check=True)

    assert "Course 1 — 山田 太郎 (patient 1), ank, active" in done.stdout
    assert "2027-06-07 Mon  10:00–" in done.stdout


def test_japan_answered_without_the_holidays_package_is_known_to_it() -> None:
    import holidays  # the config reads "JP" without it (see _known_holiday_country)

    assert "JP" in holidays.list_supported_countries()
