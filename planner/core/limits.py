"""What the planner accepts from people, in one place: ids, dates, postponements, texts.

The CLI's parameter types, the CSV reader and the service all check against these, so a
value is refused the same way wherever it comes from, with a message naming the field,
the reason and the limit (``NAME: longer than 100 characters (got 10000)``).

Texts are trimmed (surrounding spaces, also the ideographic space U+3000) and refused when
empty, longer than their limit, or holding a character of Unicode categories Cc, Cf, Cs,
Zl or Zp: line breaks, tabs, ESC, BEL, zero-width and direction marks (ZWJ included) and
bytes that are not text. They would break the one-line tables, the .ics files and the
messages staff read. Combining marks and ideographic variation selectors (Mn) stay
allowed, so a kanji variant of a family name can be written exactly.
"""

from __future__ import annotations

import unicodedata
from datetime import date

from planner.core.errors import InputError

MAX_ID = 2**63 - 1
"""SQLite's largest integer: ids are whole numbers from 1 to this."""

FIRST_YEAR, LAST_YEAR = 2000, 2100
"""Dates given to the planner lie in these years (both included)."""

MAX_POSTPONE_DAYS = 365
"""A course is postponed by at most this many days (``--days`` or ``--to``)."""

NAME_LIMIT = 100
"""Patient, staff and family names, in characters."""
MRN_LIMIT = 32
"""The clinic's medical record number."""
REASON_LIMIT = 500
"""A cancellation's reason, kept in the audit log."""
PROTOCOL_LIMIT = 64
"""A protocol's name."""

_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_CONTROL_NAMES = {"\n": "line break", "\r": "line break", "\t": "tab", "\x1b": "ESC",
                  "\x07": "BEL", "\x00": "NUL"}


def check_id(value: int, field: str) -> int:
    """``value`` when it can be a row id (1 to ``MAX_ID``), else ``InputError`` naming ``field``."""
    if not 1 <= value <= MAX_ID:
        raise InputError(f"{field}: {value} is not an id (ids are whole numbers from 1 to "
                         f"{MAX_ID})")
    return value


def date_range_problem(day: date) -> str | None:
    """Why ``day`` is refused, or None when it lies in ``FIRST_YEAR``–``LAST_YEAR``."""
    if FIRST_YEAR <= day.year <= LAST_YEAR:
        return None
    return f"{day.isoformat()} is outside the years {FIRST_YEAR}–{LAST_YEAR} the planner accepts"


def text_problem(value: str, limit: int) -> str | None:
    """Why the trimmed ``value`` is refused, or None when it is a usable text field."""
    if not value:
        return "must not be empty"
    for char in value:
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            return (f"must not hold control characters or line breaks (found U+{ord(char):04X}"
                    f"{_describe(char)})")
    if len(value) > limit:
        return f"longer than {limit} characters (got {len(value)})"
    return None


def _describe(char: str) -> str:
    """A name staff may recognise: control characters have none in Unicode's table."""
    name = _CONTROL_NAMES.get(char) or unicodedata.name(char, "")
    return f" {name}" if name else ""


def clean_text(value: str, field: str, limit: int) -> str:
    """``value`` trimmed; ``InputError`` naming ``field`` when it breaks a rule above."""
    trimmed = value.strip()
    problem = text_problem(trimmed, limit)
    if problem is not None:
        raise InputError(f"{field}: {problem}")
    return trimmed
