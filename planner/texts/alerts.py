"""Alerts about a chat that cannot be reached, naming the right person.

A staff member's chat is named as staff (never as a patient: their ids are not patient
ids); a family member's chat names the family member and the patient, and says whether the
patient's own chat still gets the messages (then nobody needs to be phoned).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from planner.core.model import INFUSION
from planner.texts.catalogue import event_title, format_when
from planner.texts.patient import Words, bold, escape
from planner.texts.staff import alert_reason_lines

ONCE_PER_COURSE = ("collection", "follow_up")


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


def lab_change_line(item: dict[str, Any], patient: str, total: int, lang: str, *,
                    override_dir: Path | None = None) -> str:
    """One change inside the lab's notice window, in ``lang`` (plain text): what, for
    whom, from when to when (``山田様（カルテ 1002）：培養細胞の出荷・到着（2回目の点滴用）が
    12月4日(金) 16:00 → 12月3日(木) 16:00 に変わりました。``). ``item`` is the change as
    the planner stores it (kind, seq, status, before, after, was_scheduled)."""
    words = Words(lang, override_dir)
    kind, seq = str(item["kind"]), int(item["seq"])
    title = event_title(kind, seq, total, lang, override_dir=override_dir)
    if kind != INFUSION and kind not in ONCE_PER_COURSE:
        title = words.plain("alert.lab_for_infusion", title=title, n=seq)
    before = _when(item.get("before"), lang)
    after = _when(item.get("after"), lang)
    if item.get("before") is None:
        return words.plain("alert.lab_added", patient=patient, title=title, after=after)
    if item.get("status") != "scheduled":
        status_key = f"status.{item['status']}"
        status = words.plain(status_key) if status_key in words.messages else item["status"]
        return words.plain("alert.lab_status", patient=patient, title=title, before=before,
                           status=status)
    return words.plain("alert.lab_moved", patient=patient, title=title, before=before,
                       after=after)


def _when(moment: object, lang: str) -> str:
    return format_when(datetime.fromisoformat(str(moment)), lang) if moment else ""


def alert_lab_changes(changes: list[str], lang: str, *, for_lab: bool,
                      override_dir: Path | None = None) -> str:
    """A change inside the culture lab's notice window: for the lab, "please check"; for
    nurses, "tell the lab now"; then one line per change (plain-text ``changes``)."""
    words = Words(lang, override_dir)
    suffix = "_lab" if for_lab else ""
    body = words.text(f"alert.lab_notice_body{suffix}")
    return "\n".join([bold(words.text(f"alert.lab_notice_title{suffix}")), body,
                      *map(escape, changes)])
