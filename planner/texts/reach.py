"""Texts for a patient reaching a person, and for telling a patient what changed.

Pure: the answer to a typed message, the 「体調がすぐれない」 button and its answer, the
evening check-in after an infusion with its three answers, the alerts these raise for the
nurses (naming who wrote: the patient or which family member, and about whom), and the
change notice sent when a visit moves, is cancelled or a make-up is added. HTML for
Telegram; button labels are plain text. Every patient text ends with the clinic's footer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from planner.texts.catalogue import event_title, load_messages
from planner.texts.letterhead import (
    PLAIN,
    Letterhead,
    fever_lines,
    footer_lines,
    threshold,
    urgent_lines,
)
from planner.texts.message import (
    BLANK,
    NOTE,
    STRUCK,
    Line,
    Message,
    lines,
    to_telegram_html,
)
from planner.texts.message import PLAIN as TEXT
from planner.texts.patient import Words, day_and_time

UNWELL_DATA = "u"
CHECK_IN_ANSWERS = ("fine", "fever", "call_me")
WORRYING = ("fever", "call_me")
_CODES = {"fine": "f", "fever": "t", "call_me": "c"}


# --- a patient reaches a person ---------------------------------------------------------


def _footer(head: Letterhead, lang: str, override_dir: Path | None) -> tuple[Line, ...]:
    return lines(footer_lines(head, lang, override_dir=override_dir), NOTE)


def received_message(lang: str, *, head: Letterhead = PLAIN,
                     override_dir: Path | None = None) -> Message:
    """The answer to anything a patient or family member types: it reached the nurses,
    who read it in opening hours; call when it is urgent (numbers for day and night)."""
    messages = load_messages(lang, override_dir)
    return Message(messages.get("reach.received"), heading_style=TEXT, lines=(
        *lines(urgent_lines(head, lang, override_dir=override_dir)), BLANK,
        *_footer(head, lang, override_dir)))


def received_text(lang: str, *, head: Letterhead = PLAIN,
                  override_dir: Path | None = None) -> str:
    """:func:`received_message` as Telegram HTML."""
    return to_telegram_html(received_message(lang, head=head, override_dir=override_dir))


def unwell_label(lang: str, *, override_dir: Path | None = None) -> str:
    """The 「体調がすぐれない」 button (plain text)."""
    return load_messages(lang, override_dir).get("reach.unwell_button")


def unwell_message(lang: str, *, head: Letterhead = PLAIN,
                   override_dir: Path | None = None) -> Message:
    """The answer to 「体調がすぐれない」: the nurses know; the fever instruction."""
    messages = load_messages(lang, override_dir)
    return Message(messages.get("reach.unwell_received"), urgency="urgent", lines=(
        BLANK, *lines(fever_lines(head, lang, override_dir=override_dir)), BLANK,
        *_footer(head, lang, override_dir)))


def unwell_text(lang: str, *, head: Letterhead = PLAIN,
                override_dir: Path | None = None) -> str:
    """:func:`unwell_message` as Telegram HTML."""
    return to_telegram_html(unwell_message(lang, head=head, override_dir=override_dir))


# --- the evening check-in ---------------------------------------------------------------


def check_in_message(name: str, lang: str, *, head: Letterhead = PLAIN,
                     override_dir: Path | None = None, event_id: int = 0) -> Message:
    """The check-in the evening of an infusion: a neutral first line, whose it is, how
    do you feel, and the three buttons (:func:`check_in_buttons`)."""
    messages = load_messages(lang, override_dir)
    whose = (Line(messages.format("reminder.for_patient", name=name)),) if name.strip() else ()
    buttons = tuple((label, data) for label, data in
                    check_in_buttons(event_id, lang, override_dir=override_dir))
    return Message(messages.format("checkin.heading", clinic=head.clinic), buttons=buttons,
                   lines=(*whose, Line(messages.get("checkin.question")), BLANK,
                          *_footer(head, lang, override_dir)))


def check_in_text(name: str, lang: str, *, head: Letterhead = PLAIN,
                  override_dir: Path | None = None) -> str:
    """:func:`check_in_message` as Telegram HTML (its buttons travel apart)."""
    return to_telegram_html(check_in_message(name, lang, head=head,
                                             override_dir=override_dir))


def check_in_label(answer: str, lang: str, *, override_dir: Path | None = None) -> str:
    """A check-in button's label (plain text); the fever one carries the threshold."""
    return load_messages(lang, override_dir).format(f"checkin.{answer}",
                                                    threshold=threshold(lang))


def check_in_buttons(event_id: int, lang: str, *, override_dir: Path | None = None
                     ) -> list[list[str]]:
    """(label, callback data) per row: no fever, fever, please call me."""
    return [[check_in_label(answer, lang, override_dir=override_dir),
             f"k:{event_id}:{_CODES[answer]}"] for answer in CHECK_IN_ANSWERS]


def parse_check_in(data: str) -> tuple[int, str] | None:
    """(event id, answer) from a check-in button's data, None for anything else."""
    parts = data.split(":")
    answers = {code: answer for answer, code in _CODES.items()}
    if len(parts) != 3 or parts[0] != "k" or parts[2] not in answers or not parts[1].isdigit():
        return None
    return int(parts[1]), answers[parts[2]]


def check_in_answered(answer: str, lang: str, *, head: Letterhead = PLAIN,
                      override_dir: Path | None = None) -> str:
    """The check-in after a press: the answer given and what happens now; for a fever,
    the fever instruction with the numbers to call (Telegram HTML)."""
    messages = load_messages(lang, override_dir)
    given = check_in_label(answer, lang, override_dir=override_dir)
    body = [Line(messages.get(f"checkin.thanks_{answer}"))]
    if answer == "fever":
        body += [BLANK, *lines(fever_lines(head, lang, override_dir=override_dir))]
    message = Message(f"✓ {given}", urgency="urgent" if answer in WORRYING else "normal",
                      lines=(*body, BLANK, *_footer(head, lang, override_dir)))
    return to_telegram_html(message)


# --- alerts for the nurses --------------------------------------------------------------


@dataclass(frozen=True)
class Writer:
    """Who wrote or pressed: the patient (``family_name`` None) or a family member."""

    patient_name: str
    family_name: str | None = None


def who_wrote(writer: Writer, lang: str, *, override_dir: Path | None = None) -> str:
    """``鈴木 花子様（ご本人）`` / ``鈴木 一郎様（鈴木 花子様のご家族）`` (plain text)."""
    messages = load_messages(lang, override_dir)
    if writer.family_name:
        return messages.format("alert.from_family", family_name=writer.family_name,
                               name=writer.patient_name)
    return messages.format("alert.from_patient", name=writer.patient_name)


def alert_message(writer: Writer, text: str, lang: str, *,
                  override_dir: Path | None = None) -> str:
    """A typed message, forwarded to the nurses: who wrote it, then the text as written."""
    messages = load_messages(lang, override_dir)
    who = who_wrote(writer, lang, override_dir=override_dir)
    return to_telegram_html(Message(
        messages.get("alert.message_title"), audience="staff", lines=(
            Line(messages.format("alert.message_body", who=who)), Line(text), BLANK,
            Line(messages.get("alert.reply_back")))))


def alert_reach(kind: str, writer: Writer, answer: str, lang: str, *,
                override_dir: Path | None = None) -> str:
    """「体調がすぐれない」 (``kind`` ``unwell``) or a worrying check-in answer
    (``checkin_fever``, ``checkin_call``): who, what they pressed, call them now."""
    messages = load_messages(lang, override_dir)
    who = who_wrote(writer, lang, override_dir=override_dir)
    return to_telegram_html(Message(
        messages.get(f"alert.{kind}_title"), audience="staff", urgency="urgent", lines=(
            Line(messages.format("alert.reach_body", who=who, answer=answer)),
            Line(messages.get("alert.call_back")))))


# --- change notices ---------------------------------------------------------------------


@dataclass(frozen=True)
class VisitChange:
    """One visit of a change: ``before``/``after`` its start (None when added / gone);
    ``how`` is ``moved``, ``cancelled``, ``missed`` or ``added``."""

    kind: str
    seq: int
    total: int
    how: str
    before: datetime | None
    after: datetime | None
    makeup: bool = False


def _moment(moment: datetime | None, lang: str) -> str:
    return "" if moment is None else day_and_time(moment, lang)


def change_notice_message(name: str, changes: Sequence[VisitChange], lang: str, *,
                          head: Letterhead = PLAIN, override_dir: Path | None = None
                          ) -> Message:
    """The notice to the patient's chats: a title (moved, or cancelled when nothing else
    changed), whose visits, one line per visit (before → after), whom to call."""
    words = Words(lang, override_dir)
    only_cancelled = all(change.how in ("cancelled", "missed") for change in changes)
    title = words.plain("change.cancelled_title" if only_cancelled else "change.moved_title")
    body: list[Line] = []
    if name.strip():
        body.append(Line(words.plain("change.intro", name=name)))
    for change in changes:
        what = (words.plain("infusion.numbered_makeup", n=change.seq, total=change.total)
                if change.makeup else
                event_title(change.kind, change.seq, change.total, lang,
                            override_dir=override_dir))
        body.append(Line(words.plain(f"change.{change.how}", title=what,
                                     before=_moment(change.before, lang),
                                     after=_moment(change.after, lang))))
    return Message(title, lines=(
        *body, BLANK, Line(words.plain("change.questions")),
        *lines(urgent_lines(head, lang, override_dir=override_dir)[1:]), BLANK,
        *_footer(head, lang, override_dir)))


def change_notice_text(name: str, changes: Sequence[VisitChange], lang: str, *,
                       head: Letterhead = PLAIN, override_dir: Path | None = None) -> str:
    """:func:`change_notice_message` as Telegram HTML."""
    return to_telegram_html(change_notice_message(name, changes, lang, head=head,
                                                  override_dir=override_dir))


def outdated_text(original_html: str, lang: str, *, override_dir: Path | None = None) -> str:
    """An earlier reminder whose visit changed: a bold line saying so above its text,
    struck through (Telegram HTML; ``original_html`` is kept as sent)."""
    messages = load_messages(lang, override_dir)
    return to_telegram_html(Message(messages.get("reminder.outdated"), lines=(
        BLANK, Line(original_html, STRUCK, markup=True))))
