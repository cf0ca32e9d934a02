"""Click parameter types for the CLI: ids, strict ISO 8601 dates, texts, output files.

A wrong value is refused by click with exit status 2 and a message naming the option
and the reason (``'2026-02-30' is not a date: day is out of range for month``). The
limits themselves live in ``planner.core.limits``.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from planner.core.limits import (
    MAX_ID,
    MRN_LIMIT,
    NAME_LIMIT,
    PROTOCOL_LIMIT,
    REASON_LIMIT,
    date_range_problem,
    text_problem,
)

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
            day = date.fromisoformat(text)
        except ValueError as exc:
            self.fail(f"{value!r} is not a date: {exc}", param, ctx)
        problem = date_range_problem(day)
        if problem:
            self.fail(problem, param, ctx)
        return day


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
            moment = datetime.fromisoformat(text)
        except ValueError as exc:
            self.fail(f"{value!r} is not a date and time: {exc}", param, ctx)
        problem = date_range_problem(moment.date())
        if problem:
            self.fail(problem, param, ctx)
        return moment


class RowId(click.ParamType):
    """A patient, staff, course, event or feed id: a whole number SQLite can hold.

    Checked here so ``100000000000000000000`` is refused naming the argument instead of
    overflowing inside SQLite, and ``0`` is not mistaken for "not given".
    """

    name = "ID"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            try:
                number = int(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not an id (a whole number)", param, ctx)
        if not 1 <= number <= MAX_ID:
            self.fail(f"{value} is not an id (ids are whole numbers from 1 to {MAX_ID})",
                      param, ctx)
        return number


class TextField(click.ParamType):
    """Free text (a name, an MRN, a reason): trimmed, not empty, no control characters,
    at most ``limit`` characters (the rules of ``planner.core.limits``)."""

    name = "TEXT"

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        text = str(value).strip()
        problem = text_problem(text, self.limit)
        if problem:
            self.fail(problem, param, ctx)
        return text


class OutputFile(click.ParamType):
    """A file to write: its folder must exist, and it must not be a folder itself.

    Checked before anything is stored, so a typo in the folder changes nothing.
    """

    name = "FILE"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Path:
        path = value if isinstance(value, Path) else Path(str(value))
        try:
            if str(value) == "" or path.is_dir():
                self.fail(f"{str(value)!r} is a folder, not a file name", param, ctx)
            folder = path.parent
            if not folder.is_dir():
                what = "is not a folder" if folder.exists() else "does not exist"
                self.fail(f"cannot write {path}: the folder {folder} {what}", param, ctx)
        except OSError as error:  # a name too long for the file system, …
            self.fail(f"cannot write {path} ({error.strerror})", param, ctx)
        return path


ISO_DATE = IsoDate()
ISO_DATE_OR_TIME = IsoDateOrTime()
ROW_ID = RowId()
OUTPUT_FILE = OutputFile()
NAME = TextField(NAME_LIMIT)
MRN = TextField(MRN_LIMIT)
REASON = TextField(REASON_LIMIT)
PROTOCOL = TextField(PROTOCOL_LIMIT)
