"""The architecture, enforced: the pure core imports nothing from the edges.

The core (planning, reminders, texts, calendar rendering) takes dates, rules and "now" as
arguments; only the store, the services and the edges touch SQLite, Telegram, HTTP or
the clock.
"""

import ast
from pathlib import Path

import pytest

PLANNER = Path(__file__).parent.parent / "planner"
CORE = ("model", "errors", "calendar", "placer", "placer_events", "bends", "makeup", "schedule",
        "course", "reschedule", "reminders",
        "ics", "texts", "monthview", "bot_texts", "staff_texts", "telegram_html", "letterhead",
        "reach_texts", "alert_texts", "closures", "message",
        "text_base", "reminder_texts")
EDGE_MODULES = {"store", "schema", "service", "outbox", "links", "feeds", "feed_server",
                "dispatch", "notices", "senders", "bot", "bot_handlers", "bot_process", "bot_reach",
                "bot_choices", "bot_context", "bot_buttons", "change_notices", "alerts",
                "clock", "exports", "cli", "cli_app", "database"}
EDGE_PACKAGES = {"sqlite3", "sqlite_utils", "telegram", "aiohttp", "httpx", "click",
                 "apscheduler", "socket", "subprocess"}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", CORE)
def test_the_core_imports_no_edge(module):
    imports = imported_modules(PLANNER / f"{module}.py")
    edges = {name for name in imports
             if name.split(".")[0] in EDGE_PACKAGES
             or (name.startswith("planner.") and (name.split(".")[1] in EDGE_MODULES
                                                   or name.split(".")[1].startswith("cli")))}
    assert edges == set()


@pytest.mark.parametrize("module", CORE)
def test_the_core_never_reads_the_clock(module):
    tree = ast.parse((PLANNER / f"{module}.py").read_text(encoding="utf-8"))
    clock_reads = {
        f"{node.func.value.id}.{node.func.attr}" for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in ("datetime", "date", "time")
        and node.func.attr in ("now", "today", "utcnow", "time", "monotonic")
    }
    assert clock_reads == set()
