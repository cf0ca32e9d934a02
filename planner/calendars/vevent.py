"""One calendar entry and its VEVENT: what goes into a calendar file, and its bytes.

An entry carries everything that varies (UID, revision as SEQUENCE, DTSTAMP), so the same
entry always renders to the same bytes; ``planner.calendars.ics`` keeps the rendered events
in an LRU cache keyed by the entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar.prop import vCategory, vDuration

from planner.calendars.ics_lines import (
    CONTROL_CHARACTERS,
    escape,
    line,
    local,
    text,
    tzid_parameter,
    utc,
)
from planner.calendars.vtimezone import zone_named


@dataclass(frozen=True)
class CalendarEntry:
    """One event as it goes into a calendar file.

    ``start``, ``end`` and ``stamp`` must be timezone-aware; they are written to the second,
    and ``end`` must still be after ``start`` then. ``categories`` given as a list is stored as
    a tuple so the entry stays hashable (it is the cache key).
    """

    uid: str
    start: datetime
    end: datetime
    summary: str
    description: str
    sequence: int
    cancelled: bool
    stamp: datetime
    location: str = ""
    categories: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.uid:
            raise ValueError("CalendarEntry.uid must not be empty")
        for field_name in ("start", "end", "stamp"):
            value = getattr(self, field_name)
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"CalendarEntry.{field_name} must be timezone-aware, got {value}")
        if self.end.replace(microsecond=0) <= self.start.replace(microsecond=0):
            raise ValueError(f"CalendarEntry {self.uid}: end {self.end} is not after {self.start}")
        if self.sequence < 0:
            raise ValueError(f"CalendarEntry {self.uid}: negative sequence {self.sequence}")
        if isinstance(self.categories, str):
            raise ValueError(f"CalendarEntry {self.uid}: categories must be a tuple of strings")
        object.__setattr__(self, "categories", tuple(self.categories))
        object.__setattr__(self, "_hash", hash(_fields(self)))

    def __hash__(self) -> int:
        """Computed once: a feed looks up thousands of entries in the VEVENT cache per poll."""
        return self._hash  # type: ignore[attr-defined, no-any-return]


def _fields(entry: CalendarEntry) -> tuple[object, ...]:
    return (entry.uid, entry.start, entry.end, entry.summary, entry.description,
            entry.sequence, entry.cancelled, entry.stamp, entry.location, entry.categories)


def fold_key(entry: CalendarEntry) -> tuple[int, int, int]:
    """Part of the cache key: datetimes in one zone compare equal whatever their ``fold``.

    01:30 EDT and 01:30 EST on 2026-11-01 in New York are equal entries to Python, so without
    this the second would be served the bytes of the first.
    """
    return (entry.start.fold, entry.end.fold, entry.stamp.fold)


def render_event(
    entry: CalendarEntry, timezone: str, alarm_minutes: int | None, folds: tuple[int, int, int]
) -> bytes:
    """One VEVENT (and its VALARM) as folded CRLF lines; ``ics`` wraps it in an LRU cache.

    ``folds`` only distinguishes cache keys (see ``fold_key``); the datetimes carry them.
    """
    zone = zone_named(timezone)
    stamp = utc(entry.stamp)
    lines = [
        b"BEGIN:VEVENT\r\n",
        line("UID", escape(entry.uid)),
        line("DTSTAMP", stamp),
        line("LAST-MODIFIED", stamp),
        _date_time_line("DTSTART", entry.start, zone),
        _date_time_line("DTEND", entry.end, zone),
        line("SUMMARY", text(entry.summary)),
        line("DESCRIPTION", text(entry.description)),
        line("SEQUENCE", str(entry.sequence)),
        b"STATUS:CANCELLED\r\n" if entry.cancelled else b"STATUS:CONFIRMED\r\n",
        *_optional_lines(entry, alarm_minutes),
        b"END:VEVENT\r\n",
    ]
    return b"".join(lines)


def _optional_lines(entry: CalendarEntry, alarm_minutes: int | None) -> list[bytes]:
    """LOCATION and CATEGORIES when the entry has them, and the alarm of a live event."""
    lines = []
    if entry.location:
        lines.append(line("LOCATION", text(entry.location)))
    if entry.categories:
        categories = [category.translate(CONTROL_CHARACTERS) for category in entry.categories]
        lines.append(line("CATEGORIES", vCategory(categories).to_ical().decode()))
    if alarm_minutes is not None and not entry.cancelled:
        lines.append(_alarm(entry.summary, alarm_minutes))
    return lines


def _alarm(summary: str, minutes: int) -> bytes:
    return b"".join([
        b"BEGIN:VALARM\r\nACTION:DISPLAY\r\n",
        line("DESCRIPTION", text(summary)),
        line("TRIGGER", _trigger(minutes)),
        b"END:VALARM\r\n",
    ])


@lru_cache(maxsize=32)
def _trigger(minutes: int) -> str:
    """``-PT1H`` for 60: icalendar's vDuration normalises the minutes."""
    return str(vDuration(timedelta(minutes=-minutes)).to_ical().decode())


def _date_time_line(name: str, instant: datetime, zone: ZoneInfo) -> bytes:
    """``NAME;TZID=zone:local`` or, in the repeated hour after a DST fall-back, ``NAME:utcZ``.

    A local time in that hour would be read as its first occurrence (RFC 5545 3.3.5), an hour
    early, so the second occurrence is written in UTC instead.
    """
    wall = instant.astimezone(zone)
    if wall.fold:
        return line(name, utc(instant))
    return line(f"{name};{tzid_parameter(zone.key)}", local(wall))
