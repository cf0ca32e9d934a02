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

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from planner.letterhead import (
    PLAIN,
    Letterhead,
    fever_lines,
    footer_lines,
    format_clock,
    urgent_lines,
)
from planner.model import INFUSION
from planner.monthview import day_marks, render_grid
from planner.telegram_html import visible_text
from planner.texts import (
    Messages,
    event_title,
    format_day,
    format_when,
    load_messages,
)

COME = "come"
CHANGE = "change"
ANSWERS = (COME, CHANGE)
PATIENT_COMMANDS = ("next", "schedule", "ics", "language", "stop", "help")
STAFF_COMMANDS = ("today", "tomorrow", "week", "unconfirmed")
# Why a message did not reach a chat, as alerts word them (other reasons are shown as given).
REASONS = ("blocked", "chat_not_found", "deactivated", "too_late")


@dataclass(frozen=True)
class Visit:
    """One event as a patient or staff member sees it.

    ``kind`` is ``collection``, ``infusion``, ``blood_test``, ``cell_delivery``,
    ``follow_up`` or a step a clinic added; ``seq`` the infusion number (or the infusion a
    step belongs to) of ``total``; ``start``/``end`` aware, in the clinic's zone; ``status``
    ``scheduled``/``done``/``missed``/``cancelled``; ``confirmed`` the patient's answer to
    the reminder: None, ``"come"`` or ``"change"``.
    """

    kind: str
    seq: int
    total: int
    start: datetime
    end: datetime
    status: str
    patient_name: str = ""
    patient_id: int = 0
    confirmed: str | None = None
    makeup: bool = False
    """An infusion added to make up for a missed one."""
    arrive: datetime | None = None
    """For an infusion day: when the patient must be there (the blood test before it)."""
    mrn: str | None = None
    infusion_start: datetime | None = None
    """For a step serving an infusion (the cell delivery): that infusion's start."""


def escape(text: str) -> str:
    return html.escape(text, quote=False)


def bold(text: str) -> str:
    return f"<b>{text}</b>"


@dataclass(frozen=True)
class Words:
    """One language's catalogue; every text it hands out is already HTML-escaped."""

    lang: str
    override_dir: Path | None = None

    @property
    def messages(self) -> Messages:
        return load_messages(self.lang, self.override_dir)

    def plain(self, key: str, **values: object) -> str:
        return self.messages.format(key, **values)

    def text(self, key: str, **values: object) -> str:
        return escape(self.plain(key, **values))

    def optional(self, key: str) -> str | None:
        return escape(self.messages.get(key)) if key in self.messages else None

    def title(self, visit: Visit) -> str:
        return escape(self.plain_title(visit))

    def plain_title(self, visit: Visit) -> str:
        if visit.makeup:
            return self.plain("infusion.numbered_makeup", n=visit.seq, total=visit.total)
        return event_title(
            visit.kind, visit.seq, visit.total, self.lang, override_dir=self.override_dir
        )


# --- patients: reminders ----------------------------------------------------------------


def when_words(when_label: str, lang: str, *, override_dir: Path | None = None) -> str:
    """How far away a visit is, in words (plain text): ``明日`` / ``tomorrow``.

    ``when_label`` is ``"today"``, ``"tomorrow"``, ``"days:N"`` (N calendar days ahead in
    the clinic's zone: 0 is today, 1 tomorrow, 2 ``2日後`` / ``in 2 days``), ``"hours:N"``
    or ``"minutes:N"`` (N ≥ 1; 1 has its own singular text). Anything else is a ValueError
    naming the label.
    """
    messages = load_messages(lang, override_dir)
    unit, _, number = when_label.partition(":")
    if when_label in ("today", "tomorrow"):
        return messages.get(f"reminder.{when_label}")
    if unit not in ("days", "hours", "minutes") or not number.isdigit():
        raise ValueError(
            f"when_label must be today, tomorrow, days:N, hours:N or minutes:N, got {when_label!r}"
        )
    n = int(number)
    if unit == "days":
        if n < 2:
            return messages.get("reminder.today" if n == 0 else "reminder.tomorrow")
        return messages.format("reminder.in_days", n=n)
    if n == 0:
        raise ValueError(f"when_label {when_label!r}: {unit} must be at least 1")
    if n == 1:
        return messages.get(f"reminder.in_one_{unit.removesuffix('s')}")
    return messages.format(f"reminder.in_{unit}", n=n)


def reminder_text(
    visit: Visit,
    lang: str,
    *,
    when_label: str,
    override_dir: Path | None = None,
    head: Letterhead = PLAIN,
    buttons: bool = True,
) -> str:
    """The reminder for one visit: a first line that does not name the treatment (unless
    ``head.discreet`` is off), whose visit it is, when to arrive (the day in full, so it
    holds when read the next morning), what happens and until when, the instructions,
    the fever instruction after an infusion, what to do (tap a button, or call when there
    are no ``buttons``), and the clinic's footer."""
    words = Words(lang, override_dir)
    lines = [bold(_heading(visit, words, head))]
    if visit.patient_name.strip():
        lines.append(words.text("reminder.for_patient", name=visit.patient_name))
    arrive = visit.arrive or visit.start
    when = words.text("reminder.when", when=when_words(when_label, lang,
                                                       override_dir=override_dir),
                      day=format_day(arrive.date(), lang), time=format_clock(arrive, lang))
    lines += [bold(when), *_what(visit, words)]
    if visit.kind == INFUSION:
        lines += ["", *map(escape, fever_lines(head, lang, override_dir=override_dir))]
    lines += ["", words.text("reminder.ask" if buttons else "reminder.no_buttons")]
    return "\n".join([*lines, "", *footer(head, lang, override_dir=override_dir)])


def _heading(visit: Visit, words: Words, head: Letterhead) -> str:
    if head.discreet:
        return words.text("reminder.heading", clinic=head.clinic)
    title = event_title(visit.kind, visit.seq, visit.total, words.lang,
                        override_dir=words.override_dir)
    return words.text("reminder.heading_named", clinic=head.clinic, title=title)


def footer(head: Letterhead, lang: str, *, override_dir: Path | None = None) -> list[str]:
    """The clinic's name and numbers at the foot of a patient message, in italics."""
    return [f"<i>{escape(line)}</i>" for line in footer_lines(head, lang,
                                                               override_dir=override_dir)]


def plan_line(visit: Visit, words: Words) -> str:
    """What happens when (HTML): an infusion day as one visit (arrive by the blood test,
    the drip at its time, when it ends), any other visit from its start to its end."""
    lang = words.lang
    start, end = format_clock(visit.start, lang), format_clock(visit.end, lang)
    if visit.kind == INFUSION and visit.arrive is not None:
        return words.text("infusion.plan", arrive=format_clock(visit.arrive, lang),
                          start=start, end=end)
    if visit.kind == INFUSION:
        return words.text("infusion.plan_no_test", start=start, end=end)
    return words.text("reminder.plan", start=start, end=end)


def _what(visit: Visit, words: Words) -> list[str]:
    """The visit's title, what happens when, then its instructions if any."""
    lines = [words.title(visit), plan_line(visit, words)]
    instructions = words.optional(f"{visit.kind}.instructions")
    return [*lines, "", instructions] if instructions else lines


def _visit_block(visit: Visit, words: Words) -> list[str]:
    """The visit's day and arrival time in bold, then what happens and its instructions."""
    return [bold(escape(day_and_time(visit.arrive or visit.start, words.lang))),
            *_what(visit, words)]


def day_and_time(moment: datetime, lang: str) -> str:
    """``12月7日(月) 午前9時30分`` / ``Mon 7 Dec, 9:30 am`` (plain text)."""
    separator = ", " if lang == "en" else " "
    return f"{format_day(moment.date(), lang)}{separator}{format_clock(moment, lang)}"


def visit_time(visit: Visit, lang: str) -> str:
    """``12月7日(月) 10:00–11:00`` / ``Mon 7 Dec, 10:00–11:00`` (plain text); a visit that
    ends on another day shows the end's day too."""
    start = format_when(visit.start, lang)
    if visit.end.date() != visit.start.date():
        return f"{start}–{format_when(visit.end, lang)}"
    return f"{start}–{visit.end:%H:%M}"


def answer_buttons(lang: str, *, override_dir: Path | None = None) -> tuple[str, str]:
    """The two button labels as plain text: (will come, need to change)."""
    messages = load_messages(lang, override_dir)
    return messages.get("answer.will_come"), messages.get("answer.need_change")


def answered_text(
    original_html: str, answer: str, lang: str, *, override_dir: Path | None = None
) -> str:
    """The reminder after a button press, to edit the message with: its request to tap a
    button (or an earlier answer, if the patient answers again) is replaced by the
    patient's answer; without either, the answer is added at the end. ``answer`` is
    ``"come"`` or ``"change"``, else ValueError.
    ``original_html`` is our own reminder (or Telegram's HTML of it): it is kept as is."""
    if answer not in ANSWERS:
        raise ValueError(f"answer must be one of {', '.join(ANSWERS)}, got {answer!r}")
    words = Words(lang, override_dir)
    buttons = dict(zip(ANSWERS, answer_buttons(lang, override_dir=override_dir), strict=True))
    endings = {words.plain("reminder.ask")} | {
        words.plain(f"reminder.answered_{name}", answer=button) for name, button in buttons.items()
    }
    lines = original_html.rstrip().split("\n")
    answered = bold(words.text(f"reminder.answered_{answer}", answer=buttons[answer]))
    asks = [i for i, line in enumerate(lines) if visible_text(line).strip() in endings]
    if not asks:
        return "\n".join([*lines, "", answered])
    lines[asks[-1]] = answered  # in the request's place, above the clinic's footer
    return "\n".join(lines)


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
    return "\n".join([*lines, *_visit_block(visits[0], words), *ending])


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
    ``closed`` words the closed days (see ``planner.closures``)."""
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


