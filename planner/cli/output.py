"""How the CLI shows things: tables for people, JSON for scripts.

JSON uses ISO 8601 with the clinic's offset for every instant, so scripts never guess
a time zone. Tables are drawn here rather than by ``tabulate``, whose import alone (it reads
its own version through ``importlib.metadata``) cost every ``planner show`` about 15 ms, and
which measures Japanese names by characters, not by the columns a terminal gives them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import click

from planner.core.course import effective_status
from planner.core.model import Status, StoredEvent


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def echo_table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> None:
    rows = list(rows)
    if not rows:
        click.echo("(nothing)")
        return
    click.echo(format_table(rows, headers))


_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_GAP = "  "
_HEADER_PADDING = 2


def format_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """A plain table: a header, a line of dashes, one line a row, columns two spaces apart.

    Columns of numbers are right-aligned, the rest left-aligned; a column is as wide as its
    widest cell, and at least two wider than its header. Widths count terminal columns, so
    a Japanese name (two columns a character) keeps the columns after it aligned. Missing
    cells and None are blank; trailing blanks are cut.
    """
    from planner.texts.monthview import display_width as width

    cells = [[_text(row[i]) if i < len(row) else "" for i in range(len(headers))]
             for row in rows]
    columns = list(zip(*cells, strict=True))
    numeric = [any(column) and all(_NUMBER.fullmatch(c) for c in column if c)
               for column in columns]
    widths = [max(width(h) + _HEADER_PADDING, *(width(c) for c in column))
              for h, column in zip(headers, columns, strict=True)]

    def justify(text: str, room: int, right: bool) -> str:
        pad = " " * (room - width(text))
        return pad + text if right else text + pad

    def line(values: Sequence[str]) -> str:
        return _GAP.join(justify(v, w, right) for v, w, right
                         in zip(values, widths, numeric, strict=True)).rstrip()

    return "\n".join([line(headers), _GAP.join("-" * w for w in widths),
                      *(line(row) for row in cells)])


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def event_json(event: StoredEvent, tz: Any, now: datetime) -> dict[str, Any]:
    return {
        "id": event.id,
        "uid": event.uid,
        "course_id": event.course_id,
        "kind": event.kind,
        "seq": event.seq,
        "start": event.start.astimezone(tz).isoformat(),
        "end": event.end.astimezone(tz).isoformat(),
        "status": _status(event, now).value,
        "revision": event.revision,
        "lab_attention": event.lab_attention,
    }


EVENT_HEADERS = ("id", "kind", "#", "date", "time", "status", "rev", "lab")


def event_row(event: StoredEvent, tz: Any, now: datetime) -> tuple[Any, ...]:
    start, end = event.start.astimezone(tz), event.end.astimezone(tz)
    return (
        event.id,
        event.kind,
        event.seq,
        f"{start:%Y-%m-%d %a}",
        f"{start:%H:%M}–{end:%H:%M}",
        _status(event, now).value,
        event.revision,
        "!" if event.lab_attention else "",
    )


def _status(event: StoredEvent, now: datetime) -> Status:
    """The status a person reads: a scheduled event that has ended shows as done."""
    from planner.store.courses import as_planned

    return effective_status(as_planned(event), now)
