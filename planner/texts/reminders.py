"""The reminder a patient (or family member) reads, and the same after a button press.

Pure: a visit in, HTML out. The first line does not name the treatment while the clinic
is discreet; the patient is named; the day is written in full with the arrival time; an
infusion day is one visit (arrive by the blood test, the drip at its time, when it ends);
after an infusion comes the fever instruction; the clinic's footer closes it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from planner.core.model import INFUSION
from planner.texts.base import ANSWERS, Visit, Words, bold, escape
from planner.texts.catalogue import (
    format_day,
    format_when,
    load_messages,
)
from planner.texts.html import visible_text
from planner.texts.letterhead import (
    PLAIN,
    Letterhead,
    fever_lines,
    footer_lines,
    format_clock,
)
from planner.texts.message import (
    BLANK,
    NOTE,
    STRONG,
    Line,
    Message,
    line_html,
    lines,
    to_telegram_html,
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


def reminder_message(
    visit: Visit,
    lang: str,
    *,
    when_label: str,
    override_dir: Path | None = None,
    head: Letterhead = PLAIN,
    buttons: bool = True,
    same_day: bool = False,
) -> Message:
    """The reminder for one visit: a first line that does not name the treatment (unless
    ``head.discreet`` is off), whose visit it is, when to arrive (the day in full, so it
    holds when read the next morning), what happens and until when, the instructions,
    the fever instruction after an infusion, what to do (tap a button, or call when there
    are no ``buttons``; on the visit's ``same_day``, call at once if you cannot come), and
    the clinic's footer. The buttons themselves are the caller's (they carry ids)."""
    words = Words(lang, override_dir)
    body: list[Line] = []
    if visit.patient_name.strip():
        body.append(Line(words.plain("reminder.for_patient", name=visit.patient_name)))
    arrive = visit.arrive or visit.start
    when = words.plain("reminder.when", when=when_words(when_label, lang,
                                                        override_dir=override_dir),
                       day=format_day(arrive.date(), lang), time=format_clock(arrive, lang))
    body += [Line(when, STRONG), *_what(visit, words)]
    if visit.kind == INFUSION:
        body += [BLANK, *lines(fever_lines(head, lang, override_dir=override_dir))]
    ask = "reminder.ask" if buttons else "reminder.same_day" if same_day else "reminder.no_buttons"
    body += [BLANK, Line(words.plain(ask)), BLANK,
             *lines(footer_lines(head, lang, override_dir=override_dir), NOTE)]
    return Message(_heading(visit, words, head), tuple(body))


def reminder_text(visit: Visit, lang: str, *, when_label: str,
                  override_dir: Path | None = None, head: Letterhead = PLAIN,
                  buttons: bool = True, same_day: bool = False) -> str:
    """:func:`reminder_message` as Telegram HTML."""
    return to_telegram_html(reminder_message(
        visit, lang, when_label=when_label, override_dir=override_dir, head=head,
        buttons=buttons, same_day=same_day))


def _heading(visit: Visit, words: Words, head: Letterhead) -> str:
    if head.discreet:
        return words.plain("reminder.heading", clinic=head.clinic)
    return words.plain("reminder.heading_named", clinic=head.clinic,
                       title=words.plain_title(visit))


def footer(head: Letterhead, lang: str, *, override_dir: Path | None = None) -> list[str]:
    """The clinic's name and numbers at the foot of a patient message, in italics (HTML)."""
    return [line_html(line) for line in
            lines(footer_lines(head, lang, override_dir=override_dir), NOTE)]


def plan_text(visit: Visit, words: Words) -> str:
    """What happens when (plain text): an infusion day as one visit (arrive by the blood
    test, the drip at its time, when it ends), any other visit from its start to its end."""
    lang = words.lang
    start, end = format_clock(visit.start, lang), format_clock(visit.end, lang)
    if visit.kind == INFUSION and visit.arrive is not None:
        return words.plain("infusion.plan", arrive=format_clock(visit.arrive, lang),
                           start=start, end=end)
    if visit.kind == INFUSION:
        return words.plain("infusion.plan_no_test", start=start, end=end)
    return words.plain("reminder.plan", start=start, end=end)


def plan_line(visit: Visit, words: Words) -> str:
    """:func:`plan_text` as HTML."""
    return escape(plan_text(visit, words))


def _what(visit: Visit, words: Words) -> list[Line]:
    """The visit's title, what happens when, then its instructions if any."""
    found = [Line(words.plain_title(visit)), Line(plan_text(visit, words))]
    key = f"{visit.kind}.instructions"
    if key in words.messages:
        found += [BLANK, Line(words.plain(key))]
    return found


def visit_block(visit: Visit, words: Words) -> list[str]:
    """The visit's day and arrival time in bold, then what happens and its instructions
    (HTML lines)."""
    when = Line(day_and_time(visit.arrive or visit.start, words.lang), STRONG)
    return [line_html(line) for line in (when, *_what(visit, words))]


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


