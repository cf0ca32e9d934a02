"""The architecture, enforced package by package: imports run one way, and only the clock
module reads the clock.

    cli, channels            the edges: people's terminals and chats
      -> service (+ batch)   the library both edges call
        -> calendars         RFC 5545, exports, the feed server
          -> store           SQLite: schema, courses, outbox, links
            -> config        TOML -> validated settings
              -> texts       what people read, channel-neutral
                -> core      planning and reminder rules: dates in, events out

A package may import itself and anything below it, never above. The core and the texts
import none of the libraries that reach a database, a network or a terminal.
"""

import ast
from pathlib import Path

import pytest

PLANNER = Path(__file__).parent.parent / "planner"

ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "texts": {"core"},
    "config": {"core", "texts"},
    "store": {"core", "texts", "config"},
    "calendars": {"core", "texts", "config", "store", "clock"},
    "service": {"core", "texts", "config", "store", "calendars", "clock", "batch"},
    "batch": {"core"},
    "channels": {"core", "texts", "config", "store", "calendars", "clock", "service"},
    "cli": {"core", "texts", "config", "store", "calendars", "clock", "service", "channels"},
    "clock": set(),
}
"""What each top-level part of ``planner`` may import besides itself."""

EDGE_LIBRARIES = {"sqlite3", "sqlite_utils", "telegram", "aiohttp", "httpx", "click",
                  "apscheduler", "socket", "subprocess", "icalendar", "qrcode"}
PURE = ("core", "texts")
CLOCK_READS = {"now", "today", "utcnow", "time", "monotonic"}


def part_of(path: Path) -> str:
    relative = path.relative_to(PLANNER)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def modules() -> list[Path]:
    return sorted(p for p in PLANNER.rglob("*.py")
                  if p.name not in ("__init__.py", "__main__.py"))


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "planner":
                names.update(f"planner.{alias.name}" for alias in node.names)
            else:
                names.add(node.module)
    return names


def ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(PLANNER)) for p in paths]


def test_every_module_belongs_to_a_known_part() -> None:
    assert {part_of(p) for p in modules()} <= set(ALLOWED)


@pytest.mark.parametrize("path", modules(), ids=ids(modules()))
def test_imports_run_one_way(path: Path) -> None:
    part = part_of(path)
    upward = {name for name in imported_modules(path)
              if name.startswith("planner.") and name.split(".")[1] not in
              ALLOWED[part] | {part, "__version__"}}
    assert upward == set(), f"{part} may import only {sorted(ALLOWED[part])}"


PURE_MODULES = [p for p in modules() if part_of(p) in PURE]


@pytest.mark.parametrize("path", PURE_MODULES, ids=ids(PURE_MODULES))
def test_the_core_and_the_texts_use_no_library_that_reaches_out(path: Path) -> None:
    edges = {name for name in imported_modules(path) if name.split(".")[0] in EDGE_LIBRARIES}
    assert edges == set()


@pytest.mark.parametrize("path", modules(), ids=ids(modules()))
def test_only_the_clock_module_reads_the_clock(path: Path) -> None:
    if path == PLANNER / "clock.py":
        return
    tree = ast.parse(path.read_text(encoding="utf-8"))
    reads = {
        f"{node.func.value.id}.{node.func.attr}" for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in ("datetime", "date", "time")
        and node.func.attr in CLOCK_READS
    }
    assert reads == set()


CHANNEL_NEUTRAL = [p for p in modules()
                   if part_of(p) not in ("channels", "cli") or
                   (part_of(p) == "channels" and "telegram" not in p.parts)]


@pytest.mark.parametrize("path", CHANNEL_NEUTRAL, ids=ids(CHANNEL_NEUTRAL))
def test_only_the_telegram_channel_knows_telegram(path: Path) -> None:
    """A channel is a seam: the dispatcher, the outbox and the texts talk to the interface
    in ``planner.channels.channel``, so a second messenger is a new module beside
    ``channels/telegram/``, not a rewrite."""
    known = {name for name in imported_modules(path)
             if name.split(".")[0] in ("telegram", "httpx", "apscheduler")
             or name.startswith("planner.channels.telegram")}
    assert known == set()
