"""A month-at-a-glance text calendar, like ``cal``, with the course marked on it.

Made to fit a phone: at most 34 monospace columns (Telegram shows about 30–35 in a
``<pre>`` block). Weeks start on Monday, as Japanese clinic calendars do. Each day cell is
the day number and the day's mark, four display columns in all: Japanese characters take
two terminal columns (``unicodedata.east_asian_width`` W/F), a Latin mark takes one and
gets a space before it; cells are one space apart.

Marks come from the message catalogue (``<kind>.mark``): in Japanese 点 an infusion,
採 the collection, 血 a blood test, 培 a lab cell delivery, 診 the follow-up, 他 a step a
clinic added, 休 a closed day; in English I, C, B, L, F, +, x. The legend is separate
(:func:`legend_lines`), one entry a line, so it can stand outside a ``<pre>`` block.
"""

from __future__ import annotations

import calendar
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Protocol

from planner.core.model import INFUSION
from planner.texts.catalogue import Messages, load_messages

_TITLE_PATTERNS = {"ja": "y年M月", "en": "LLLL y"}
_DAY_WIDTH = 2
_MARK_WIDTH = 2
_CELL_WIDTH = _DAY_WIDTH + _MARK_WIDTH
_GAP = " "
MAX_WIDTH = 7 * _CELL_WIDTH + 6 * len(_GAP)  # 34
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
    """The mark of one event: its kind's catalogue mark (``点`` / ``I`` for an infusion),
    ``other.mark`` (``他`` / ``+``) for a step the catalogue does not know."""
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
    """Every whole month from ``first``'s to ``last``'s, one under another, then a blank
    line and the legend (:func:`legend_lines`).

    A day shows its mark from ``marks``; a day without one shows the closed mark when
    ``closed(day)`` gives a reason (an event on a closed day keeps its own mark, so a
    conflict stays visible). Every grid line is :data:`MAX_WIDTH` display columns or less.
    Raises ValueError when ``last`` is before ``first``.
    """
    grid, legend = render_grid(marks, lang=lang, closed=closed, first=first, last=last,
                               override_dir=override_dir)
    return grid + "\n\n" + "\n".join(legend) + "\n"


def render_grid(
    marks: Mapping[date, str],
    *,
    lang: str,
    closed: Callable[[date], str | None],
    first: date,
    last: date,
    override_dir: Path | None = None,
) -> tuple[str, list[str]]:
    """The months (as :func:`render_months`) and, apart, the legend's lines."""
    if last < first:
        raise ValueError(f"last ({last}) is before first ({first})")
    messages = load_messages(lang, override_dir)
    closed_mark = messages.get("calendar.closed_mark")
    blocks: list[str] = []
    reasons: list[str] = []
    used: set[str] = set()
    for year, month in _months(first, last):
        cells = _month_cells(year, month, marks, closed, closed_mark, reasons, used)
        blocks.append(_month_block(year, month, cells, lang))
    return "\n\n".join(blocks), legend_lines(messages, used, reasons)


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


def _month_block(year: int, month: int, weeks: list[list[tuple[int, str] | None]],
                 lang: str) -> str:
    from babel.dates import format_date, get_day_names  # only when a month view is drawn

    names = get_day_names("abbreviated", locale=lang)
    header = _GAP.join(_pad(names[weekday][:_CELL_WIDTH], _CELL_WIDTH) for weekday in range(7))
    rows = [_GAP.join(_cell(cell) for cell in week).rstrip() for week in weeks]
    title = format_date(date(year, month, 1), _TITLE_PATTERNS[lang], locale=lang)
    indent = max(0, (display_width(header) - display_width(title)) // 2)
    return "\n".join([" " * indent + title, header.rstrip(), *rows])


def _cell(cell: tuple[int, str] | None) -> str:
    """``14採``, `` 7 I``, ``30  ``: the day right-aligned, then the mark in two columns."""
    if cell is None:
        return " " * _CELL_WIDTH
    day, mark = cell
    mark = mark if display_width(mark) <= _MARK_WIDTH else mark[:1]
    return f"{day:>{_DAY_WIDTH}}" + " " * (_MARK_WIDTH - display_width(mark)) + mark


def legend_lines(messages: Messages, used: set[str], reasons: list[str]) -> list[str]:
    """``点＝ANK細胞の点滴``, ``休＝休診日（日曜日・年末年始）``: one line per mark shown.

    Only marks that appear are listed; a mark the catalogue does not explain (one the caller
    made up) is listed alone so it is at least visible.
    """
    explained = _mark_meanings(messages, reasons)
    entries = [messages.format("calendar.legend_entry", mark=mark, meaning=meaning)
               for mark, meaning in explained.items() if mark in used]
    entries += sorted(mark for mark in used if mark not in explained)
    return entries


def _mark_meanings(messages: Messages, reasons: list[str]) -> dict[str, str]:
    """Catalogue marks and what they stand for, in the order the legend lists them."""
    meanings = {
        messages.get(f"{kind}.mark"): messages.get(f"{kind}.title")
        for kind in (INFUSION, "collection", "blood_test", "cell_delivery", "follow_up",
                     "other")
    }
    meanings[messages.get("calendar.closed_mark")] = _closed_text(messages, reasons)
    return meanings


def _closed_text(messages: Messages, reasons: list[str]) -> str:
    if not reasons:
        return messages.get("calendar.closed")
    joined = messages.get("calendar.list_separator").join(reasons)
    return messages.format("calendar.closed_reasons", reasons=joined)
