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
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard
from icalendar.parser import Contentline, Parameters
from icalendar.prop import TypesFactory, vCategory, vDatetime, vDuration, vText

EVENT_CACHE_SIZE = 16_384
"""Default number of rendered VEVENTs kept (about 1 KB each with its entry)."""

CRLF = b"\r\n"
_FOLD_AT = 75  # icalendar folds any content line of 75 octets or more
_SECOND = timedelta(seconds=1)
_CONTROL_CHARACTERS = dict.fromkeys([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_CALENDAR_PROPERTIES = {"BEGIN", "END", "VERSION", "PRODID", "CALSCALE", "METHOD",
                        "X-WR-CALNAME", "X-WR-TIMEZONE"}
_EXTRA_VALUE_TYPES = {"X-PUBLISHED-TTL": "DURATION"}  # de facto types icalendar does not know


class CacheInfo(NamedTuple):
    """How the VEVENT cache is doing: ``currsize`` never exceeds ``maxsize``."""

    hits: int
    misses: int
    maxsize: int
    currsize: int


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
    zone = _zone(timezone)
    entries = tuple(entries)
    _check_unique_uids(entries)
    if alarm_minutes is not None and alarm_minutes < 0:
        raise ValueError(f"alarm_minutes counts minutes before the start, got {alarm_minutes}")
    parts = [
        _calendar_head(prodid, name, timezone),
        *(_extra_line(prop, value) for prop, value in extra_properties),
        _vtimezone(timezone, *_year_range(entries, zone)),
        *(_cached_event(entry, timezone, alarm_minutes, _folds(entry)) for entry in entries),
        b"END:VCALENDAR\r\n",
    ]
    return b"".join(parts)


def clear_caches() -> None:
    """Forget every rendered VEVENT, VTIMEZONE and text (benchmarks measure the cold path)."""
    for cache in (_cached_event, _vtimezone, _text, _folded):
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
    _cached_event = lru_cache(maxsize=maxsize)(_render_event)


# --- calendar level -----------------------------------------------------------------------


def _zone(name: str) -> ZoneInfo:
    """The IANA zone, with an error that names the setting rather than a bare KeyError."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"timezone: unknown IANA zone {name!r}") from error


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
        _line("PRODID", _text(prodid)),
        b"CALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\n",
        _line("X-WR-CALNAME", _text(name)),
        _line("X-WR-TIMEZONE", _text(timezone)),
    ])


def _extra_line(name: str, value: str) -> bytes:
    """One caller-supplied calendar property, checked to parse before it is written."""
    line = f"{name}:{value}"
    if line.translate(_CONTROL_CHARACTERS) != line or "\n" in line or "\r" in line:
        raise ValueError(f"extra property {name!r}: control characters or line breaks")
    try:
        prop, params, raw_value = Contentline(line, strict=True).raw_parts()
        value_type = params.get("VALUE") or _EXTRA_VALUE_TYPES.get(prop.upper())
        value_class: Any = TypesFactory.instance().for_property(prop, value_type)
        value_class.from_ical(raw_value)
    except (ValueError, KeyError) as error:
        raise ValueError(f"extra property {name!r}: invalid value {value!r}") from error
    if prop.upper() in _CALENDAR_PROPERTIES:
        raise ValueError(f"extra property {name!r}: written by render_calendar itself")
    return _line(name, value)


def _year_range(entries: Sequence[CalendarEntry], zone: ZoneInfo) -> tuple[int, int]:
    """First and last local year the entries touch; icalendar's 1970-2037 when there are none."""
    if not entries:
        return (1970, 2037)
    first = min(entry.start for entry in entries).astimezone(zone)
    last = max(entry.end for entry in entries).astimezone(zone)
    return (first.year, last.year)


@lru_cache(maxsize=64)
def _vtimezone(timezone: str, first_year: int, last_year: int) -> bytes:
    """The VTIMEZONE for whole years, so feeds of one season share a cached block."""
    zone = _zone(timezone)
    component = Timezone.from_tzinfo(
        zone, first_date=date(first_year, 1, 1), last_date=date(last_year + 1, 1, 1)
    )
    for observance in component.subcomponents:
        if isinstance(observance, TimezoneStandard | TimezoneDaylight):
            _move_onsets_to_offset_from(observance, zone)
    return bytes(component.to_ical())


def _move_onsets_to_offset_from(
    observance: TimezoneStandard | TimezoneDaylight, zone: ZoneInfo
) -> None:
    """Rewrite DTSTART and RDATEs of one STANDARD/DAYLIGHT block as RFC 5545 wants them."""
    before, after = observance.TZOFFSETFROM, observance.TZOFFSETTO
    if before is None or after is None or before == after:
        return  # the block that only opens the range: no change happens there
    rdates = [start for start, _ in observance.rdates]
    observance.DTSTART = _onset(observance.DTSTART, before, after, zone)
    if rdates:
        del observance["RDATE"]
        observance.add("RDATE", [_onset(start, before, after, zone) for start in rdates])


def _onset(wall: datetime, before: timedelta, after: timedelta, zone: ZoneInfo) -> datetime:
    """The local time, in the old offset, of the change icalendar wrote as ``wall``.

    icalendar wrote the wall time either in the old or in the new offset; the one whose
    instant is where zoneinfo really changes from ``before`` to ``after`` is the change.
    """
    for offset in (before, after):
        instant = wall.replace(tzinfo=UTC) - offset
        if (instant - _SECOND).astimezone(zone).utcoffset() == before and (
            instant.astimezone(zone).utcoffset() == after
        ):
            return (instant + before).replace(tzinfo=None)
    raise ValueError(f"{zone.key}: no change from {before} to {after} at {wall}")


# --- event level --------------------------------------------------------------------------


def _folds(entry: CalendarEntry) -> tuple[int, int, int]:
    """Part of the cache key: datetimes in one zone compare equal whatever their ``fold``.

    01:30 EDT and 01:30 EST on 2026-11-01 in New York are equal entries to Python, so without
    this the second would be served the bytes of the first.
    """
    return (entry.start.fold, entry.end.fold, entry.stamp.fold)


def _render_event(
    entry: CalendarEntry, timezone: str, alarm_minutes: int | None, folds: tuple[int, int, int]
) -> bytes:
    """One VEVENT (and its VALARM) as folded CRLF lines; wrapped by the LRU cache below.

    ``folds`` only distinguishes cache keys (see ``_folds``); the datetimes carry them.
    """
    zone = _zone(timezone)
    stamp = _utc(entry.stamp)
    lines = [
        b"BEGIN:VEVENT\r\n",
        _line("UID", _escape(entry.uid)),
        _line("DTSTAMP", stamp),
        _line("LAST-MODIFIED", stamp),
        _date_time_line("DTSTART", entry.start, zone),
        _date_time_line("DTEND", entry.end, zone),
        _line("SUMMARY", _text(entry.summary)),
        _line("DESCRIPTION", _text(entry.description)),
        _line("SEQUENCE", str(entry.sequence)),
        b"STATUS:CANCELLED\r\n" if entry.cancelled else b"STATUS:CONFIRMED\r\n",
    ]
    if entry.location:
        lines.append(_line("LOCATION", _text(entry.location)))
    if entry.categories:
        categories = [category.translate(_CONTROL_CHARACTERS) for category in entry.categories]
        lines.append(_line("CATEGORIES", vCategory(categories).to_ical().decode()))
    if alarm_minutes is not None and not entry.cancelled:
        lines.append(_alarm(entry.summary, alarm_minutes))
    lines.append(b"END:VEVENT\r\n")
    return b"".join(lines)


_cached_event = lru_cache(maxsize=EVENT_CACHE_SIZE)(_render_event)


def _alarm(summary: str, minutes: int) -> bytes:
    return b"".join([
        b"BEGIN:VALARM\r\nACTION:DISPLAY\r\n",
        _line("DESCRIPTION", _text(summary)),
        _line("TRIGGER", _trigger(minutes)),
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
    local = instant.astimezone(zone)
    if local.fold:
        return _line(name, _utc(instant))
    return _line(f"{name};{_tzid_parameter(zone.key)}", _local(local))


@lru_cache(maxsize=32)
def _tzid_parameter(tzid: str) -> str:
    return str(Parameters({"TZID": tzid}).to_ical().decode())


def _local(local: datetime) -> str:
    return str(vDatetime(local.replace(tzinfo=None)).to_ical().decode())


def _utc(instant: datetime) -> str:
    return str(vDatetime(instant.astimezone(UTC)).to_ical().decode())


def _escape(value: str) -> str:
    """A TEXT value escaped by icalendar, without control characters, ``\\N`` kept literal."""
    value = value.translate(_CONTROL_CHARACTERS)
    if "\\N" not in value:
        return str(vText(value).to_ical().decode())
    return "\\\\N".join(str(vText(part).to_ical().decode()) for part in value.split("\\N"))


_text = lru_cache(maxsize=4096)(_escape)
"""``_escape`` cached: clinic texts repeat (locations, categories, instructions per kind)."""


def _line(name: str, value: str) -> bytes:
    """One content line with CRLF, folded by icalendar when it reaches 75 octets."""
    line = f"{name}:{value}"
    encoded = line.encode()
    if len(encoded) < _FOLD_AT:
        return encoded + CRLF
    return _folded(line)


@lru_cache(maxsize=4096)
def _folded(line: str) -> bytes:
    """icalendar's folding, a third of the cold time, cached for the repeated instructions."""
    return bytes(Contentline(line).to_ical()) + CRLF
