"""RFC 5545 content lines: TEXT escaping, date-time values, folding at 75 octets.

Values are encoded by icalendar (``vText``, ``vDatetime``, ``Parameters``) and long lines
folded by its ``Contentline``. Escaped texts and folded lines are cached, because clinic
texts repeat (locations, categories, the instructions of each kind of visit).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from icalendar.parser import Contentline, Parameters
from icalendar.prop import vDatetime, vText

CRLF = b"\r\n"
FOLD_AT = 75  # icalendar folds any content line of 75 octets or more
CONTROL_CHARACTERS = dict.fromkeys([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
"""C0 controls other than tab and line breaks, and DEL: RFC 5545 TEXT forbids them."""


def escape(value: str) -> str:
    """A TEXT value escaped by icalendar, without control characters, ``\\N`` kept literal.

    icalendar's escaping reads a literal backslash followed by ``N`` (``C:\\Notes``) as a
    line break; here it stays a backslash and an N.
    """
    value = value.translate(CONTROL_CHARACTERS)
    if "\\N" not in value:
        return str(vText(value).to_ical().decode())
    return "\\\\N".join(str(vText(part).to_ical().decode()) for part in value.split("\\N"))


text = lru_cache(maxsize=4096)(escape)
"""``escape`` cached: clinic texts repeat (locations, categories, instructions per kind)."""


def line(name: str, value: str) -> bytes:
    """One content line with CRLF, folded by icalendar when it reaches 75 octets."""
    content = f"{name}:{value}"
    encoded = content.encode()
    if len(encoded) < FOLD_AT:
        return encoded + CRLF
    return folded(content)


@lru_cache(maxsize=4096)
def folded(content: str) -> bytes:
    """icalendar's folding, a third of the cold time, cached for the repeated instructions."""
    return bytes(Contentline(content).to_ical()) + CRLF


@lru_cache(maxsize=32)
def tzid_parameter(tzid: str) -> str:
    """``TZID=Asia/Tokyo``, quoted by icalendar where a zone name needs it."""
    return str(Parameters({"TZID": tzid}).to_ical().decode())


def local(wall: datetime) -> str:
    """A floating DATE-TIME value (``20271207T100000``) of a local wall time."""
    return str(vDatetime(wall.replace(tzinfo=None)).to_ical().decode())


def utc(instant: datetime) -> str:
    """A UTC DATE-TIME value (``20271207T010000Z``) of an aware instant."""
    return str(vDatetime(instant.astimezone(UTC)).to_ical().decode())
