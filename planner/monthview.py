"""A month-at-a-glance text calendar, like ``cal``, with the course marked on it.

Weeks start on Monday, as Japanese clinic calendars do. Each day cell is the day number, a
space and the day's mark, padded to a fixed *display* width: Japanese characters take two
terminal columns (``unicodedata.east_asian_width`` W/F), so columns stay aligned in ``ja``.

Marks: ``C`` collection, ``1``…``8`` the infusion number, ``B`` blood test, ``L`` lab cell
delivery, ``F`` follow-up, ``+`` a step a clinic added; ``休``/``x`` a closed day. The
letters are in the message catalogue (``<kind>.mark``), so a clinic can change them.
"""

from __future__ import annotations

import calendar
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Protocol

from babel.dates import format_date, get_day_names

from planner.model import INFUSION
from planner.texts import Messages, load_messages

_TITLE_PATTERNS = {"ja": "y年M月", "en": "LLLL y"}
_DAY_WIDTH = 2
_MIN_MARK_WIDTH = 2
# Two spaces between columns keep "14 3" (day 14, infusion 3) apart from the next day.
_GAP = "  "
# When several events share a day, the one a patient most needs to see wins the cell.
_PRIORITY = (INFUSION, "collection", "follow_up", "blood_test", "cell_delivery")


class DatedEvent(Protocol):
    """Anything with a kind, a sequence number and a start, e.g. ``PlannedEvent``."""

    @property
    def kind(self) -> str: ...

    @property
    def seq(self) -> int: ...

    @property
    def start(self) -> date: ...


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes: wide and full-width characters count two."""
    return sum(_char_width(char) for char in text)


def _char_width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _pad(text: str, width: int) -> str:
    """Left-align ``text`` in ``width`` display columns."""
    return text + " " * (width - display_width(text))


def mark_for(kind: str, seq: int, lang: str, *, override_dir: Path | None = None) -> str:
    """The mark of one event: the infusion number, else the kind's catalogue mark (``+``)."""
    if kind == INFUSION:
        return str(seq)
    messages = load_messages(lang, override_dir)
    key = f"{kind}.mark" if f"{kind}.mark" in messages else "other.mark"
    return messages.get(key)


def day_marks(
    events: Iterable[DatedEvent], lang: str, *, override_dir: Path | None = None
) -> dict[date, str]:
    """One mark per day for ``events``; where several share a day, infusions win, then the
    collection, the follow-up, the blood test, the lab delivery and added steps last.

    The caller chooses the events (e.g. leaves out cancelled ones or lab-only steps).
    """
    chosen: dict[date, DatedEvent] = {}
    for event in events:
        day = _day_of(event.start)
        if day not in chosen or _rank(event.kind) < _rank(chosen[day].kind):
            chosen[day] = event
    return {
        day: mark_for(event.kind, event.seq, lang, override_dir=override_dir)
        for day, event in sorted(chosen.items())
    }


def _day_of(start: date) -> date:
    return start.date() if isinstance(start, datetime) else start


def _rank(kind: str) -> int:
    return _PRIORITY.index(kind) if kind in _PRIORITY else len(_PRIORITY)


def render_months(
    marks: Mapping[date, str],
    *,
    lang: str,
    closed: Callable[[date], str | None],
    first: date,
    last: date,
    override_dir: Path | None = None,
) -> str:
    """Every whole month from ``first``'s to ``last``'s, one under another, then a legend.

    A day shows its mark from ``marks``; a day without one shows the closed mark when
    ``closed(day)`` gives a reason (an event on a closed day keeps its own mark, so a
    conflict stays visible). Every grid line of the result has the same display width.
    Raises ValueError when ``last`` is before ``first``.
    """
    if last < first:
        raise ValueError(f"last ({last}) is before first ({first})")
    messages = load_messages(lang, override_dir)
    closed_mark = messages.get("calendar.closed_mark")
    widths = [display_width(mark) for mark in (closed_mark, *marks.values())]
    mark_width = max(_MIN_MARK_WIDTH, *widths)
    blocks: list[str] = []
    reasons: list[str] = []
    used: set[str] = set()
    for year, month in _months(first, last):
        cells = _month_cells(year, month, marks, closed, closed_mark, reasons, used)
        blocks.append(_month_block(year, month, cells, lang, mark_width))
    blocks.append(_legend(messages, used, reasons))
    return "\n\n".join(blocks) + "\n"


def _months(first: date, last: date) -> list[tuple[int, int]]:
    """(year, month) pairs from ``first``'s month to ``last``'s, across year ends."""
    start = first.year * 12 + first.month - 1
    end = last.year * 12 + last.month - 1
    return [(index // 12, index % 12 + 1) for index in range(start, end + 1)]


def _month_cells(
    year: int,
    month: int,
    marks: Mapping[date, str],
    closed: Callable[[date], str | None],
    closed_mark: str,
    reasons: list[str],
    used: set[str],
) -> list[list[tuple[int, str] | None]]:
    """Weeks of (day number, mark) cells, None outside the month; collects what the legend
    needs: the marks shown and the closing reasons, in order of first appearance."""
    weeks: list[list[tuple[int, str] | None]] = []
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(year, month):
        row: list[tuple[int, str] | None] = []
        for day in week:
            if day.month != month:
                row.append(None)
                continue
            mark = marks.get(day, "")
            reason = None if mark else closed(day)
            if reason is not None:
                mark = closed_mark
                if reason and reason not in reasons:
                    reasons.append(reason)
            if mark:
                used.add(mark)
            row.append((day.day, mark))
        weeks.append(row)
    return weeks


def _month_block(
    year: int,
    month: int,
    weeks: list[list[tuple[int, str] | None]],
    lang: str,
    mark_width: int,
) -> str:
    cell_width = _DAY_WIDTH + 1 + mark_width
    names = get_day_names("abbreviated", locale=lang)
    header = _GAP.join(_pad(names[weekday], cell_width) for weekday in range(7))
    rows = [_GAP.join(_cell(cell, cell_width, mark_width) for cell in week) for week in weeks]
    title = format_date(date(year, month, 1), _TITLE_PATTERNS[lang], locale=lang)
    indent = max(0, (display_width(header) - display_width(title)) // 2)
    return "\n".join([" " * indent + title, header, *rows])


def _cell(cell: tuple[int, str] | None, cell_width: int, mark_width: int) -> str:
    if cell is None:
        return " " * cell_width
    day, mark = cell
    return f"{day:>{_DAY_WIDTH}} {_pad(mark, mark_width)}"


def _legend(messages: Messages, used: set[str], reasons: list[str]) -> str:
    """``Key: 1–8 = cell infusion (drip)  C = lymphocyte collection  x = clinic closed``.

    Only marks that appear are listed; a mark the catalogue does not explain (one the caller
    made up) is listed alone so it is at least visible.
    """
    explained = _mark_meanings(messages, reasons)
    entries: list[str] = []
    numbers = sorted(int(mark) for mark in used if mark.isdigit())
    if numbers:
        span = str(numbers[0]) if len(numbers) == 1 else f"{numbers[0]}–{numbers[-1]}"
        entries.append(f"{span} = {messages.get('infusion.title')}")
    entries += [f"{mark} = {meaning}" for mark, meaning in explained.items() if mark in used]
    entries += sorted(mark for mark in used if not mark.isdigit() and mark not in explained)
    return f"{messages.get('calendar.legend')}: " + "  ".join(entries)


def _mark_meanings(messages: Messages, reasons: list[str]) -> dict[str, str]:
    """Catalogue marks and what they stand for, in the order the legend lists them."""
    meanings = {
        messages.get(f"{kind}.mark"): messages.get(f"{kind}.title")
        for kind in ("collection", "blood_test", "cell_delivery", "follow_up", "other")
    }
    meanings[messages.get("calendar.closed_mark")] = _closed_text(messages, reasons)
    return meanings


def _closed_text(messages: Messages, reasons: list[str]) -> str:
    if not reasons:
        return messages.get("calendar.closed")
    joined = messages.get("calendar.list_separator").join(reasons)
    return messages.format("calendar.closed_reasons", reasons=joined)
