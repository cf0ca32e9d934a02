"""How the CLI shows things: tables for people, JSON for scripts.

JSON uses ISO 8601 with the clinic's offset for every instant, so scripts never guess
a time zone. ``tabulate`` and the store are imported on first use, so ``planner --help``
does not load them.
"""

from __future__ import annotations

import json
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
    from tabulate import tabulate

    click.echo(tabulate(rows, headers=list(headers), tablefmt="simple"))


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
