"""What calendars say: event titles and notes, patient labels, calendar names.

Pure: words from the message catalogue (section ``[ics]`` and the event kinds), nothing
read from the clock or the database. ``planner.calendars.exports`` decides which events go into a
calendar; this module words them.

- A patient's calendar, by default (``[privacy] discreet = true``), titles every visit
  「{clinic} ご来院」, so a lock screen or a shared screen does not name the treatment; the
  event's notes say what the visit is. An infusion day is one visit that starts when the
  patient must arrive (the blood test before the drip).
- A staff calendar names the patient as ``[export] staff_names`` says. For a name written
  in Japanese (or Chinese, Korean) script, "initials" are the family name with 様
  (「山田様」), since 「山.太.」 reads as nothing; a name without a space between family
  and given name cannot be split and shows the patient's number only. Markup in a name
  (``<b>``, ``&amp;``) never becomes part of a label.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from pathlib import Path

from planner.texts.catalogue import event_title, load_messages
from planner.texts.letterhead import format_clock

_MARKUP = re.compile(r"<[^>]*>|&#?\w+;")
_CJK_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL")


def patient_label(name: str, patient_id: int, staff_names: str, lang: str) -> str:
    """How a staff calendar names a patient: ``full``, ``initials`` or ``id``.

    ``山田 太郎`` gives ``山田 太郎 (#2)``, ``山田様 (#2)`` or ``#2``; ``Jane Smith`` gives
    ``Jane Smith (#2)``, ``J.S. (#2)`` or ``#2``. A blank name gives ``#2`` in any case.
    """
    if staff_names == "full" and name.strip():
        return f"{name.strip()} (#{patient_id})"
    if staff_names == "initials":
        short = short_name(name, lang)
        if short:
            return f"{short} (#{patient_id})"
    return f"#{patient_id}"


def short_name(name: str, lang: str) -> str:
    """The family name with 様 for a CJK name, initials (``J.S.``) otherwise; "" if neither.

    Tags and entities are removed first and only letters count, so ``<b>Jane</b> Smith``
    gives ``J.S.`` and a name of symbols gives "".
    """
    parts = [_letters(part) for part in _MARKUP.sub(" ", name).split()]
    parts = [part for part in parts if part]
    if not parts:
        return ""
    if _is_cjk(parts[0][0]):
        if len(parts) < 2:
            return ""  # 山田太郎: where the family name ends is not written
        return load_messages(lang).format("ics.family_name", family=parts[0])
    return "".join(f"{part[0].upper()}." for part in parts)


def _letters(part: str) -> str:
    return "".join(ch for ch in part if unicodedata.category(ch).startswith("L"))


def _is_cjk(character: str) -> bool:
    return unicodedata.name(character, "").startswith(_CJK_SCRIPTS)


def kind_name(kind: str, lang: str) -> str:
    """The kind of visit without its number (``ANK細胞の点滴``), e.g. as a category."""
    messages = load_messages(lang)
    if f"{kind}.title" in messages:
        return messages.get(f"{kind}.title")
    return kind.replace("_", " ")


def calendar_name(clinic: str, lang: str, *, patient: bool, role: str | None) -> str:
    """The calendar's name: ``ANK clinic ご来院の予定`` for a patient, for staff
    ``ANK clinic スタッフの予定（看護師）``, in ``lang``."""
    messages = load_messages(lang)
    if patient:
        return messages.format("ics.patient_calendar", clinic=clinic)
    who = messages.get(f"staff.role_{role}") if role else messages.get("ics.all_staff")
    return messages.format("ics.staff_calendar", clinic=clinic, role=who)


def patient_title(kind: str, seq: int, total: int, lang: str, *, clinic: str,
                  discreet: bool) -> str:
    """The title of a patient's event: 「{clinic} ご来院」 when discreet, else the visit."""
    if discreet:
        return load_messages(lang).format("ics.discreet_title", clinic=clinic)
    return event_title(kind, seq, total, lang)


def patient_notes(kind: str, seq: int, total: int, lang: str, *,
                  arrival: tuple[str, datetime, datetime, datetime] | None = None,
                  missed: bool = False, map_url: str = "", fever: list[str] | None = None,
                  override_dir: Path | None = None) -> str:
    """The event's notes: what the visit is, when to arrive, the instructions, the map.

    ``arrival`` is (the first step's kind, arrival, the infusion's start, the visit's end)
    for an infusion day that begins with a same-day step such as the blood test. ``fever``
    is the one fever instruction with the numbers to call, given after an infusion.
    """
    messages = load_messages(lang, override_dir)
    lines = [event_title(kind, seq, total, lang, override_dir=override_dir)]
    if missed:
        lines[0] += messages.get("ics.missed")
    if arrival is not None:
        first, arrive, start, end = arrival
        before = event_title(first, seq, total, lang, override_dir=override_dir)
        if lang == "en":  # a title inside a sentence: "for the blood test before the drip"
            before = before[:1].lower() + before[1:]
        lines.append(messages.format(
            "ics.arrive_by", arrive=format_clock(arrive, lang),
            start=format_clock(start, lang), end=format_clock(end, lang), before=before))
    if f"{kind}.instructions" in messages:
        lines.append(messages.get(f"{kind}.instructions"))
    lines.extend(fever or [])
    if map_url:
        lines.append(messages.format("ics.map", url=map_url))
    return "\n".join(lines)
