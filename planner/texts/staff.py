"""What staff read in the bot: day and week lists, the morning digest, alerts.

Built on ``planner.texts.patient`` (visits, words, escaping); every piece of user data is
escaped, so a patient named ``<b>A&B</b>`` shows as written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from itertools import groupby
from pathlib import Path

from planner.core.model import INFUSION
from planner.texts.catalogue import (
    format_day,
    format_time_range,
    format_when,
    initials,
    load_messages,
    staff_description,
)
from planner.texts.patient import (
    ANSWERS,
    REASONS,
    Visit,
    Words,
    answer_buttons,
    bold,
    escape,
    visit_time,
    with_status,
)

CONFIRMED_KINDS = (INFUSION, "collection")


def day_title(
    day: date, lang: str, *, relative: str | None = None, override_dir: Path | None = None
) -> str:
    """A plain-text title for :func:`day_text`: ``本日 12月7日(月)の予定`` when ``relative`` is
    ``"today"``, ``明日 …`` for ``"tomorrow"``, the bare day for None; else ValueError."""
    keys = {"today": "day_today", "tomorrow": "day_tomorrow", None: "day_other"}
    if relative not in keys:
        raise ValueError(f"relative must be 'today', 'tomorrow' or None, got {relative!r}")
    messages = load_messages(lang, override_dir)
    return messages.format(f"staff.{keys[relative]}", day=format_day(day, lang))


def patient_label(name: str, patient_id: int, lang: str, *, mrn: str | None = None,
                  override_dir: Path | None = None) -> str:
    """``山田 太郎様（カルテ 1002）`` with the record number when known, else
    ``山田 太郎様（#12）`` (plain text); ``#12`` when the name is blank (``staff_names =
    "id"``)."""
    messages = load_messages(lang, override_dir)
    if not name.strip():
        return messages.format("staff.patient_no_name", id=patient_id)
    label = messages.format("staff.patient_named", name=name)
    if mrn:
        return messages.format("staff.with_mrn", label=label, mrn=mrn)
    return messages.format("staff.with_id", label=label, id=patient_id)


def display_name(name: str, staff_names: str) -> str:
    """The patient's name as staff chats show it (``[export] staff_names``): ``full`` as
    is; ``initials`` as ``Y.T.`` for a Latin name and the family name alone for a
    Japanese one (``山田``: initials of kanji mean nothing); ``id`` not at all ("")."""
    if staff_names == "full" or not name.strip():
        return name
    if staff_names == "id":
        return ""
    if name.isascii():
        return initials(name)
    return name.split()[0]


def _staff_line(visit: Visit, words: Words, *, with_day: bool) -> str:
    """``10:00–11:00 ○ title — name (#id)``; with the day when the list spans days. Only
    visits the patient is asked to confirm (infusions, collections) carry an answer mark;
    the others get a blank of the same width, so the titles stay aligned."""
    when = (visit_time(visit, words.lang) if with_day
            else format_time_range(visit.start, visit.end, words.lang))
    answer = visit.confirmed if visit.confirmed in ANSWERS else "none"
    mark = words.text(f"staff.mark_{answer}")
    if visit.kind not in CONFIRMED_KINDS:
        mark = "\u3000" if words.lang == "ja" else " "
    label = patient_label(visit.patient_name, visit.patient_id, words.lang, mrn=visit.mrn,
                          override_dir=words.override_dir)
    line = f"{escape(when)} {mark} {words.title(visit)} — {escape(label)}"
    return with_status(line, visit.status, words)


def _staff_list(visits: Iterable[Visit], words: Words, *, with_day: bool) -> list[str]:
    ordered = sorted(visits, key=lambda visit: visit.start)
    return [_staff_line(visit, words, with_day=with_day) for visit in ordered]


def _legend(words: Words) -> str:
    marks = {name: words.plain(f"staff.mark_{name}") for name in ("come", "change", "none")}
    return f"<i>{words.text('staff.marks_legend', **marks)}</i>"


def day_text(
    title: str, visits: Sequence[Visit], lang: str, *, override_dir: Path | None = None
) -> str:
    """/today, /tomorrow: ``title`` (plain text, e.g. from :func:`day_title`), then one line
    per visit by start time with the answer mark, and the marks' legend."""
    words = Words(lang, override_dir)
    lines = _staff_list(visits, words, with_day=False)
    body = [*lines, "", _legend(words)] if lines else [words.text("staff.nothing_planned")]
    return "\n".join([bold(escape(title)), *body])


def week_text(visits: Sequence[Visit], lang: str, *, override_dir: Path | None = None) -> str:
    """/week: the visits grouped under a bold day heading each, days in order."""
    words = Words(lang, override_dir)
    lines = [bold(words.text("staff.week_title"))]
    if not visits:
        return "\n".join([*lines, words.text("staff.nothing_planned")])
    ordered = sorted(visits, key=lambda visit: visit.start)
    for day, group in groupby(ordered, key=lambda visit: visit.start.date()):
        lines += ["", bold(escape(format_day(day, lang)))]
        lines += _staff_list(group, words, with_day=False)
    return "\n".join([*lines, "", _legend(words)])


def unconfirmed_text(
    visits: Sequence[Visit], lang: str, *, override_dir: Path | None = None
) -> str:
    """/unconfirmed: the visits the caller found without an answer, with day and time."""
    words = Words(lang, override_dir)
    lines = _staff_list(visits, words, with_day=True) or [words.text("staff.all_answered")]
    return "\n".join([bold(words.text("staff.unconfirmed_title")), *lines])


def digest_text(
    role: str,
    day: date,
    visits: Sequence[Visit],
    unconfirmed: Sequence[Visit],
    lang: str,
    *,
    override_dir: Path | None = None,
    to_phone: Sequence[str] = (),
) -> str:
    """The morning digest for a staff ``role``: ``day``'s visits for that role, then
    ``unconfirmed`` (e.g. the next day's infusions the patient has not answered yet), each
    with its day, then 「要電話」: the patients (``to_phone``, plain-text labels) no chat
    reaches. A role the catalogue has no word for is shown as given."""
    words = Words(lang, override_dir)
    role_key = f"staff.role_{role}"
    role_word = words.plain(role_key) if role_key in words.messages else role
    title = words.text("staff.digest_title", day=format_day(day, lang), role=role_word)
    today = _staff_list(visits, words, with_day=False) or [words.text("staff.nothing_planned")]
    waiting = (_staff_list(unconfirmed, words, with_day=True)
               or [words.text("staff.all_answered")])
    heading = bold(words.text("staff.digest_unconfirmed"))
    lines = [bold(title), *today, "", heading, *waiting]
    if to_phone:
        lines += ["", bold(words.text("staff.digest_to_phone")), *map(escape, to_phone)]
    return "\n".join(lines)


# --- staff alerts -----------------------------------------------------------------------


def _alert(words: Words, name: str, *lines: str) -> str:
    return "\n".join([bold(words.text(f"alert.{name}_title")), *lines])


def _about(visit: Visit, words: Words) -> list[str]:
    """Who and what an alert is about: the patient label, the visit and its time."""
    label = patient_label(visit.patient_name, visit.patient_id, words.lang, mrn=visit.mrn,
                          override_dir=words.override_dir)
    return [escape(label), f"{escape(visit_time(visit, words.lang))} {words.title(visit)}"]


def _reason(reason: str, words: Words) -> list[str]:
    """The reason line (none for a blank reason): a known code in words, else as given."""
    if not reason.strip():
        return []
    if reason in REASONS:
        word = words.plain(f"alert.reason_{reason}")
    else:  # the chat service's own words, in English: kept for English readers only
        word = reason if words.lang == "en" else words.plain("alert.reason_other")
    return [words.text("alert.reason", reason=word)]


def alert_reason_lines(reason: str, lang: str, *, override_dir: Path | None = None
                       ) -> list[str]:
    """The reason line of an alert (HTML), as :func:`alert_unreachable` words it."""
    return _reason(reason, Words(lang, override_dir))


def alert_change_requested(
    visit: Visit, lang: str, *, who: str | None = None, override_dir: Path | None = None
) -> str:
    """Someone pressed "I need to change" under this visit's reminder: ``who`` (plain
    text: the patient or which family member), by default the patient."""
    words = Words(lang, override_dir)
    button = answer_buttons(lang, override_dir=override_dir)[1]
    if who is None:
        label = patient_label(visit.patient_name, visit.patient_id, lang, mrn=visit.mrn,
                              override_dir=override_dir)
        who = words.plain("alert.from_patient", name=label)
    body = words.text("alert.change_body", answer=button, who=who)
    return _alert(words, "change", *_about(visit, words), body)


def alert_unreachable(
    patient_name: str,
    patient_id: int,
    reason: str,
    lang: str,
    *,
    override_dir: Path | None = None,
) -> str:
    """Messages no longer reach a patient. ``reason`` is ``blocked``, ``chat_not_found``,
    ``deactivated`` (worded from the catalogue) or any text (shown as given)."""
    words = Words(lang, override_dir)
    label = patient_label(patient_name, patient_id, lang, override_dir=override_dir)
    return _alert(words, "unreachable", escape(label), words.text("alert.unreachable_body"),
                  *_reason(reason, words))


def alert_delivery_failed(
    visit: Visit, reason: str, lang: str, *, override_dir: Path | None = None
) -> str:
    """A reminder for ``visit`` could not be delivered; ``reason`` as for
    :func:`alert_unreachable`."""
    words = Words(lang, override_dir)
    return _alert(words, "delivery_failed", *_about(visit, words), *_reason(reason, words),
                  words.text("alert.delivery_failed_body"))


def alert_lab_notice(description: str, lang: str, *, override_dir: Path | None = None) -> str:
    """A change inside the culture lab's notice window; ``description`` says what moved."""
    words = Words(lang, override_dir)
    return _alert(words, "lab_notice", words.text("alert.lab_notice_body"), escape(description))


def alert_no_chat(visit: Visit, lang: str, *, override_dir: Path | None = None) -> str:
    """A reminder for ``visit`` was due but the patient has no linked chat."""
    words = Words(lang, override_dir)
    return _alert(words, "no_chat", *_about(visit, words), words.text("alert.no_chat_body"))


def alert_no_makeup(visit: Visit, lang: str, *, override_dir: Path | None = None) -> str:
    """An infusion was marked missed and no make-up fits (a closure, a full clinic): the
    miss is stored without one, and someone must choose the day."""
    words = Words(lang, override_dir)
    return _alert(words, "no_makeup", *_about(visit, words), words.text("alert.no_makeup_body"))


# --- staff reminders --------------------------------------------------------------------


def staff_reminder_text(
    visit: Visit, role: str, lang: str, *, when: str, override_dir: Path | None = None
) -> str:
    """A reminder for a staff role: the role, when (``2日後 1月12日(火) 16:00``), then who
    and what (``山田様（カルテ 1002）：1回目の点滴用の培養細胞を届けます。``), with the
    infusion the step serves and its time (``（点滴 1月13日(水) 10:00）``). ``when`` is the
    plain-text distance, e.g. from :func:`planner.texts.patient.when_words`. A staff reminder
    never reuses the patient's text: staff must know whom it is about."""
    words = Words(lang, override_dir)
    role_key = f"staff.role_{role}"
    role_word = words.plain(role_key) if role_key in words.messages else role
    heading = words.text("staff.reminder_heading", role=role_word, when=when,
                         day=format_day(visit.start.date(), lang),
                         time=format_time_range(visit.start, visit.end, lang))
    label = patient_label(visit.patient_name, visit.patient_id, lang, mrn=visit.mrn,
                          override_dir=override_dir)
    note = staff_description(visit.kind, visit.seq, visit.total, lang, label,
                             override_dir=override_dir)
    key = f"{visit.kind}.for_infusion"
    if visit.infusion_start is not None and key in words.messages:
        note += words.plain(key, infusion=format_when(visit.infusion_start, lang))
    return "\n".join([bold(heading), escape(note)])
