"""Calendar entries -> RFC 5545 bytes, for the CLI export and the subscribed feed.

Pure: no clock, no database, no files. Everything that varies (UID, revision, DTSTAMP) comes
in with the entries, so the same entries always give the same bytes.

Values are encoded by icalendar (``vText`` escaping, ``vDatetime``, ``vDuration``,
``vCategory``, ``Timezone.from_tzinfo``) and long lines folded by its ``Contentline``; only the
assembly of the content lines is done here. For 10,000 entries, building icalendar
components and calling ``to_ical`` took 4.5 s on the 2-core test machine, writing the lines
directly 0.45 s cold (0.9 s when no two texts are alike), 0.01 s warm. Each VEVENT is
rendered once to bytes and kept in a bounded LRU cache keyed by the whole entry and the alarm
setting, so a feed that re-serves unchanged events only joins bytes; escaped texts and folded
lines are cached too, because clinic texts repeat.

Three places where the output deliberately differs from plain icalendar 7.3:

- C0 control characters other than tab and line breaks are dropped from text: RFC 5545 TEXT
  forbids them, icalendar passes them through, and strict parsers (``ical``) reject the file.
- A literal backslash followed by ``N`` (``C:\\Notes``) stays literal: icalendar's escaping reads
  ``\\N`` as a line break before escaping.
- VTIMEZONE onsets are rewritten as the local time in TZOFFSETFROM (RFC 5545 section 3.6.5).
  icalendar writes a spring-forward onset as the first wall time after the change (03:00 in
  New York), which puts the change an hour late for a client that trusts the VTIMEZONE.

This module assembles the calendar and keeps the VEVENT cache; ``vevent`` holds the entry and
renders one event, ``vtimezone`` the VTIMEZONE block, ``ics_lines`` the escaping and folding.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from icalendar.parser import Contentline
from icalendar.prop import TypesFactory

from planner.calendars.ics_lines import CONTROL_CHARACTERS, folded, line, text
from planner.calendars.vevent import CalendarEntry, fold_key, render_event
from planner.calendars.vtimezone import vtimezone, zone_named

__all__ = ["EVENT_CACHE_SIZE", "CacheInfo", "CalendarEntry", "clear_caches", "event_cache_info",
           "render_calendar", "set_event_cache_size"]

EVENT_CACHE_SIZE = 16_384
"""Default number of rendered VEVENTs kept (about 1 KB each with its entry)."""

_CALENDAR_PROPERTIES = {"BEGIN", "END", "VERSION", "PRODID", "CALSCALE", "METHOD",
                        "X-WR-CALNAME", "X-WR-TIMEZONE"}
_EXTRA_VALUE_TYPES = {"X-PUBLISHED-TTL": "DURATION"}  # de facto types icalendar does not know

_cached_event = lru_cache(maxsize=EVENT_CACHE_SIZE)(render_event)
"""``render_event`` behind a bounded LRU cache keyed by the whole entry and the alarm."""


class CacheInfo(NamedTuple):
    """How the VEVENT cache is doing: ``currsize`` never exceeds ``maxsize``."""

    hits: int
    misses: int
    maxsize: int
    currsize: int


def render_calendar(
    entries: Iterable[CalendarEntry],
    *,
    timezone: str,
    name: str,
    alarm_minutes: int | None = None,
    prodid: str = "-//ANK planner//ANK course planner//JA",
    extra_properties: Sequence[tuple[str, str]] = (),
) -> bytes:
    """Return a whole VCALENDAR (METHOD:PUBLISH) with the entries as VEVENTs, in input order.

    Times are written in ``timezone`` (an IANA name) with one VTIMEZONE covering the years of
    the entries; an entry in another zone is converted, keeping its instant. The VTIMEZONE is
    there even with no entries, so an empty calendar still holds the one component RFC 5545
    asks for. ``alarm_minutes`` adds a display alarm that many minutes before each event that
    is not cancelled. ``extra_properties`` are (name with parameters, value) pairs written
    as given, e.g. ``("REFRESH-INTERVAL;VALUE=DURATION", "PT1H")``; a value that does not
    parse as its property's type, or a name this function writes itself, raises ValueError,
    as do duplicate UIDs.
    """
    zone = zone_named(timezone)
    entries = tuple(entries)
    _check_unique_uids(entries)
    if alarm_minutes is not None and alarm_minutes < 0:
        raise ValueError(f"alarm_minutes counts minutes before the start, got {alarm_minutes}")
    parts = [
        _calendar_head(prodid, name, timezone),
        *(_extra_line(prop, value) for prop, value in extra_properties),
        vtimezone(timezone, *_year_range(entries, zone)),
        *(_cached_event(entry, timezone, alarm_minutes, fold_key(entry)) for entry in entries),
        b"END:VCALENDAR\r\n",
    ]
    return b"".join(parts)


def clear_caches() -> None:
    """Forget every rendered VEVENT, VTIMEZONE and text (benchmarks measure the cold path)."""
    for cache in (_cached_event, vtimezone, text, folded):
        cache.cache_clear()


def event_cache_info() -> CacheInfo:
    """Hits, misses, bound and current size of the VEVENT cache."""
    info = _cached_event.cache_info()
    return CacheInfo(info.hits, info.misses, info.maxsize or 0, info.currsize)


def set_event_cache_size(maxsize: int) -> None:
    """Replace the VEVENT cache by an empty one holding at most ``maxsize`` events."""
    global _cached_event
    if maxsize < 1:
        raise ValueError(f"event cache size must be at least 1, got {maxsize}")
    _cached_event = lru_cache(maxsize=maxsize)(render_event)


# --- calendar level -----------------------------------------------------------------------


def _check_unique_uids(entries: Sequence[CalendarEntry]) -> None:
    """Refuse duplicate UIDs: clients would merge or drop the events silently."""
    seen: set[str] = set()
    for entry in entries:
        if entry.uid in seen:
            raise ValueError(f"duplicate UID {entry.uid!r} in calendar entries")
        seen.add(entry.uid)


def _calendar_head(prodid: str, name: str, timezone: str) -> bytes:
    return b"".join([
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n",
        line("PRODID", text(prodid)),
        b"CALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\n",
        line("X-WR-CALNAME", text(name)),
        line("X-WR-TIMEZONE", text(timezone)),
    ])


def _extra_line(name: str, value: str) -> bytes:
    """One caller-supplied calendar property, checked to parse before it is written."""
    content = f"{name}:{value}"
    if content.translate(CONTROL_CHARACTERS) != content or "\n" in content or "\r" in content:
        raise ValueError(f"extra property {name!r}: control characters or line breaks")
    try:
        prop, params, raw_value = Contentline(content, strict=True).raw_parts()
        value_type = params.get("VALUE") or _EXTRA_VALUE_TYPES.get(prop.upper())
        value_class: Any = TypesFactory.instance().for_property(prop, value_type)
        value_class.from_ical(raw_value)
    except (ValueError, KeyError) as error:
        raise ValueError(f"extra property {name!r}: invalid value {value!r}") from error
    if prop.upper() in _CALENDAR_PROPERTIES:
        raise ValueError(f"extra property {name!r}: written by render_calendar itself")
    return line(name, value)


def _year_range(entries: Sequence[CalendarEntry], zone: ZoneInfo) -> tuple[int, int]:
    """First and last local year the entries touch; icalendar's 1970-2037 when there are none."""
    if not entries:
        return (1970, 2037)
    first = min(entry.start for entry in entries).astimezone(zone)
    last = max(entry.end for entry in entries).astimezone(zone)
    return (first.year, last.year)
