"""One strict check for any calendar body the planner serves: export, feed, golden files.

None of the parsers checks CRLF, folding or VTIMEZONE presence (see NOTES-LIBS section 6),
so those are checked on the bytes here; the parsers check value types and required
properties, two of them strict (``ical`` and ``vobject`` with ``validate=True``).

Import it as ``from tests.ics_checks import check_ics`` (``tests`` is a package).
"""

from __future__ import annotations

import vobject
from ical.calendar_stream import IcsCalendarStream
from icalendar import Calendar

MAX_OCTETS = 75


def check_ics(data: bytes) -> None:
    """Assert that ``data`` is one valid, strictly parseable, well-formed VCALENDAR."""
    _check_lines(data)
    text = data.decode("utf-8")
    strict = IcsCalendarStream.calendar_from_ics(text)
    vcalendar = vobject.readOne(text, validate=True)
    calendar = _check_icalendar(data)
    counts = (len(strict.events), len(vcalendar.contents.get("vevent", [])), len(calendar.events))
    assert len(set(counts)) == 1, f"parsers disagree on the number of events: {counts}"


def _check_lines(data: bytes) -> None:
    """CRLF everywhere, at most 75 octets a line, no UTF-8 character split by a fold."""
    assert data.endswith(b"\r\n"), "the body must end with CRLF"
    assert data.count(b"\n") == data.count(b"\r\n"), "bare LF"
    assert data.count(b"\r") == data.count(b"\r\n"), "bare CR"
    for number, line in enumerate(data.split(b"\r\n")[:-1], start=1):
        assert len(line) <= MAX_OCTETS, f"line {number} has {len(line)} octets: {line!r}"
        line.decode("utf-8")  # a fold inside a multi-byte character fails here


def _check_icalendar(data: bytes) -> Calendar:
    """icalendar's tolerant parse must collect no errors; then the cross-event invariants."""
    calendar = Calendar.from_ical(data)
    errors = [(component.name, component.errors) for component in calendar.walk()
              if component.errors]
    assert not errors, f"icalendar parse errors: {errors}"
    assert calendar.get_missing_tzids() == set(), "TZID without VTIMEZONE"
    uids = [str(event["UID"]) for event in calendar.events]
    assert len(uids) == len(set(uids)), "duplicate UID"
    for event in calendar.events:
        assert event.end > event.start, f"{event['UID']}: DTEND not after DTSTART"
    return calendar
