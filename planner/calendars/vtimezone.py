"""The VTIMEZONE block of a calendar, with its onsets where RFC 5545 puts them.

icalendar's ``Timezone.from_tzinfo`` builds the observances; their onsets are then rewritten
as the local time in TZOFFSETFROM (RFC 5545 section 3.6.5). icalendar writes a spring-forward
onset as the first wall time after the change (03:00 in New York), which puts the change an
hour late for a client that trusts the VTIMEZONE.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard

_SECOND = timedelta(seconds=1)


def zone_named(name: str) -> ZoneInfo:
    """The IANA zone, with an error that names the setting rather than a bare KeyError."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"timezone: unknown IANA zone {name!r}") from error


@lru_cache(maxsize=64)
def vtimezone(timezone: str, first_year: int, last_year: int) -> bytes:
    """The VTIMEZONE for whole years, so feeds of one season share a cached block."""
    zone = zone_named(timezone)
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
