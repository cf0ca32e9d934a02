"""Alerts about a chat that cannot be reached, naming the right person.

A staff member's chat is named as staff (never as a patient: their ids are not patient
ids); a family member's chat names the family member and the patient, and says whether the
patient's own chat still gets the messages (then nobody needs to be phoned).
"""

from __future__ import annotations

from pathlib import Path

from planner.bot_texts import Words, bold
from planner.staff_texts import alert_reason_lines


def alert_staff_unreachable(name: str, role: str, reason: str, lang: str, *,
                            override_dir: Path | None = None) -> str:
    """Messages no longer reach a staff member's chat."""
    words = Words(lang, override_dir)
    role_key = f"staff.role_{role}"
    role_word = words.plain(role_key) if role_key in words.messages else role
    return "\n".join([bold(words.text("alert.staff_unreachable_title")),
                      words.text("alert.staff_unreachable_body", name=name, role=role_word),
                      *alert_reason_lines(reason, lang, override_dir=override_dir)])


def alert_family_unreachable(family_name: str, patient: str, patient_reached: bool,
                             reason: str, lang: str, *,
                             override_dir: Path | None = None) -> str:
    """Messages no longer reach a family member's chat; ``patient`` is the patient as
    staff chats name them; ``patient_reached`` whether the patient's own chat works."""
    words = Words(lang, override_dir)
    state = "reached" if patient_reached else "not_reached"
    return "\n".join([bold(words.text("alert.family_unreachable_title")),
                      words.text("alert.family_who", family_name=family_name, patient=patient),
                      words.text(f"alert.family_patient_{state}"),
                      *alert_reason_lines(reason, lang, override_dir=override_dir)])


def alert_stopped(who: str, lang: str, *, override_dir: Path | None = None) -> str:
    """A patient's or family member's chat stopped its reminders (/stop, confirmed);
    ``who`` is plain text (see ``reach_texts.who_wrote``)."""
    words = Words(lang, override_dir)
    return "\n".join([bold(words.text("alert.stopped_title")),
                      words.text("alert.stopped_body", who=who)])
