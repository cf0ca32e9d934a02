"""The HTML texts the Telegram bot sends, in Japanese or English (parse mode HTML).

Pure functions: visits in, text out; nothing here reads the clock, the database or the
network. Every sentence comes from the message catalogue (``[reminder]``, ``[bot]``,
``[commands]``, ``[staff]``, ``[alert]``), so a clinic edits wording there; this module only
puts the pieces together and adds the tags.

Escaping: each piece of text — catalogue texts, names, free text, the month view — goes
through :func:`html.escape` once, after its placeholders are filled, so a patient called
``<b>A&B</b>`` reads as exactly that. Tags are added by this module only, and only tags
Telegram knows (``<b>``, ``<i>``, ``<s>``, ``<code>``, ``<pre>``). Button labels from
:func:`answer_buttons` are plain text, not HTML.

Dates always carry the weekday (``12月7日(月) 10:00``, ``Mon 7 Dec, 10:00``); visits must
already be in the clinic's zone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from planner.core.model import INFUSION
from planner.texts.base import ANSWERS as ANSWERS
from planner.texts.base import CHANGE as CHANGE
from planner.texts.base import COME as COME
from planner.texts.base import PATIENT_COMMANDS as PATIENT_COMMANDS
from planner.texts.base import REASONS as REASONS
from planner.texts.base import STAFF_COMMANDS as STAFF_COMMANDS
from planner.texts.base import Visit as Visit
from planner.texts.base import Words as Words
from planner.texts.base import bold as bold
from planner.texts.base import escape as escape
from planner.texts.catalogue import (
    load_messages,
)
from planner.texts.letterhead import (
    PLAIN,
    Letterhead,
    urgent_lines,
)
from planner.texts.monthview import day_marks, render_grid
from planner.texts.reminders import answer_buttons as answer_buttons
from planner.texts.reminders import answered_text as answered_text
from planner.texts.reminders import (
    day_and_time,
    footer,
    visit_block,
)
from planner.texts.reminders import plan_line as plan_line
from planner.texts.reminders import reminder_text as reminder_text
from planner.texts.reminders import visit_time as visit_time
from planner.texts.reminders import when_words as when_words

# --- patients: commands -----------------------------------------------------------------


def next_visit_text(
    visits: Sequence[Visit], lang: str, *, override_dir: Path | None = None,
    head: Letterhead = PLAIN,
) -> str:
    """/next: the first of ``visits`` (the caller sorts and filters), or "no visits";
    then the clinic's footer."""
    words = Words(lang, override_dir)
    ending = ["", *footer(head, lang, override_dir=override_dir)]
    if not visits:
        return "\n".join([words.text("label.no_visits"), *ending])
    lines = [bold(words.text("label.next_visit"))]
    if visits[0].patient_name.strip():
        lines.append(words.text("reminder.for_patient", name=visits[0].patient_name))
    return "\n".join([*lines, *visit_block(visits[0], words), *ending])


def schedule_text(
    visits: Sequence[Visit],
    lang: str,
    closed: Callable[[date], str | None],
    *,
    override_dir: Path | None = None,
    today: date | None = None,
    head: Letterhead = PLAIN,
) -> str:
    """/schedule: one line per visit (day, arrival time, title, status if not simply
    planned; a cancelled one struck through), then the months from ``today``'s (or the
    first visit's, if later) to the last visit's in a ``<pre>`` block that fits a phone,
    its legend below it, and the clinic's footer. Cancelled visits get no calendar mark;
    ``closed`` words the closed days (see ``planner.texts.closures``)."""
    words = Words(lang, override_dir)
    if not visits:
        return "\n".join([words.text("label.no_visits"), "",
                          *footer(head, lang, override_dir=override_dir)])
    ordered = sorted(visits, key=lambda visit: visit.start)
    lines = [_schedule_line(visit, words) for visit in ordered]
    marks = day_marks(
        [visit for visit in ordered if visit.status != "cancelled"], lang,
        override_dir=override_dir,
    )
    last = ordered[-1].start.date()
    first = min(max(ordered[0].start.date(), today or date.min), last)
    grid, legend = render_grid(marks, lang=lang, closed=closed, first=first, last=last,
                               override_dir=override_dir)
    heading = bold(words.text("bot.schedule_title"))
    return "\n".join([heading, *lines, "", f"<pre>{escape(grid)}</pre>", *map(escape, legend),
                      "", *footer(head, lang, override_dir=override_dir)])


def _schedule_line(visit: Visit, words: Words) -> str:
    """``1月13日(水) 午前9時30分 ANK細胞の点滴 1回目（全8回）（採血あり）``: an infusion
    day at its arrival time, as one line."""
    when = day_and_time(visit.arrive or visit.start, words.lang)
    title = words.title(visit)
    if visit.kind == INFUSION and visit.arrive is not None:
        title = words.text("infusion.schedule_line", title=words.plain_title(visit))
    return with_status(f"{escape(when)} {title}", visit.status, words)


def with_status(line: str, status: str, words: Words) -> str:
    """``line`` as is for a planned visit, else with its status note; struck if cancelled."""
    if status == "scheduled":
        return line
    word = words.plain(f"status.{status}") if f"status.{status}" in words.messages else status
    note = words.text("bot.status_note", status=word)
    return f"<s>{line}</s> {note}" if status == "cancelled" else f"{line} {note}"


def help_text(lang: str, *, staff: bool, override_dir: Path | None = None,
              head: Letterhead = PLAIN) -> str:
    """/help: the commands this person can use, one per line, then a short note; for
    patients also whom to call when it is urgent, and the clinic's footer."""
    words = Words(lang, override_dir)
    names = (*STAFF_COMMANDS, "language", "stop", "help") if staff else PATIENT_COMMANDS
    lines = [f"/{name} — {words.text(f'commands.{name}')}" for name in names]
    come, change = answer_buttons(lang, override_dir=override_dir)
    if staff:
        return "\n".join([bold(words.text("bot.help_title")), *lines, "",
                          words.text("bot.help_staff")])
    note = words.text("bot.help_patient", come=come, change=change)
    urgent = [escape(line) for line in urgent_lines(head, lang, override_dir=override_dir)]
    return "\n".join([bold(words.text("bot.help_title")), *lines, "", note, *urgent, "",
                      *footer(head, lang, override_dir=override_dir)])


def welcome_text(
    lang: str,
    *,
    name: str,
    family_name: str | None = None,
    staff: bool = False,
    override_dir: Path | None = None,
) -> str:
    """After a successful ``/start <code>``: a patient, a family member (``family_name``,
    reminded of the patient ``name``'s visits) or a staff member (``staff``)."""
    words = Words(lang, override_dir)
    if staff:
        return words.text("bot.welcome_staff", name=name)
    if family_name:
        return words.text("bot.welcome_family", name=name, family_name=family_name)
    return words.text("bot.welcome", name=name)


def generic_text(lang: str, *, override_dir: Path | None = None,
                 head: Letterhead = PLAIN) -> str:
    """The one answer to anyone not linked, a bad or used code, or a patient trying a staff
    command: the clinic's name and numbers. It names no patient and says nothing about
    whether a code existed."""
    words = Words(lang, override_dir)
    numbers = urgent_lines(head, lang, override_dir=override_dir)[1:]
    return "\n".join([words.text("bot.generic", clinic=head.clinic), *map(escape, numbers)])


def throttled_text(lang: str, *, override_dir: Path | None = None) -> str:
    """Asked too often: please wait and try again."""
    return Words(lang, override_dir).text("bot.throttled")


def language_text(lang: str, *, override_dir: Path | None = None) -> str:
    """Confirms the switch, written in the new language ``lang``."""
    return Words(lang, override_dir).text("bot.language_set")


def stop_text(lang: str, *, override_dir: Path | None = None) -> str:
    """/stop: the chat is unlinked and gets no more reminders."""
    return Words(lang, override_dir).text("bot.stopped")


def ics_caption(lang: str, *, override_dir: Path | None = None) -> str:
    """The caption under the .ics file /ics sends (well under Telegram's 1024 characters)."""
    return Words(lang, override_dir).text("bot.ics_caption")


def feed_link_text(url: str, lang: str, *, override_dir: Path | None = None) -> str:
    """The secret calendar subscription link, in ``<code>`` so a tap copies it (a
    ``webcal://`` link would not be accepted inside ``<a href>``)."""
    words = Words(lang, override_dir)
    return f"{words.text('bot.feed_link')}\n<code>{escape(url)}</code>"


# --- the command menu -------------------------------------------------------------------


def bot_commands(
    lang: str, *, staff: bool = True, override_dir: Path | None = None
) -> list[tuple[str, str]]:
    """(command, description) pairs for setMyCommands: the patient commands, then the staff
    ones when ``staff`` is true (for a staff chat's own menu)."""
    messages = load_messages(lang, override_dir)
    names = PATIENT_COMMANDS + (STAFF_COMMANDS if staff else ())
    return [(name, messages.get(f"commands.{name}")) for name in names]



