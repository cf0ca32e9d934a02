"""Click parameter types for the CLI: strict ISO 8601 dates and date-times.

A wrong value is refused by click with exit status 2 and a message naming the option
and the reason (``'2026-02-30' is not a date: day is out of range for month``).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

import click

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


class IsoDate(click.ParamType):
    """``YYYY-MM-DD``; nothing else, so ``12/07`` or ``2026-2-3`` are refused."""

    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        text = str(value).strip()
        if not _DATE.fullmatch(text):
            self.fail(f"{value!r} is not a date written YYYY-MM-DD (e.g. 2026-12-07)", param, ctx)
        try:
            return date.fromisoformat(text)
        except ValueError as exc:
            self.fail(f"{value!r} is not a date: {exc}", param, ctx)


class IsoDateOrTime(click.ParamType):
    """``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM`` (a wall time in the clinic's zone)."""

    name = "DATE[THH:MM]"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> date | datetime:
        text = str(value).strip()
        if _DATE.fullmatch(text):
            return IsoDate().convert(text, param, ctx)
        if not _DATETIME.fullmatch(text):
            self.fail(f"{value!r} is not written YYYY-MM-DD or YYYY-MM-DDTHH:MM "
                      "(e.g. 2026-12-07T10:30)", param, ctx)
        try:
            return datetime.fromisoformat(text)
        except ValueError as exc:
            self.fail(f"{value!r} is not a date and time: {exc}", param, ctx)


ISO_DATE = IsoDate()
ISO_DATE_OR_TIME = IsoDateOrTime()
