"""Alerts for staff chats, built from the database: about whom, what happened, what to do.

Each alert names the person it is about: the patient (as ``[export] staff_names`` says,
with the MRN), the family member and their patient, or the staff member whose chat
cannot be reached. Who pressed a button or wrote is read from the chat that did.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from planner.store.links import Links
from planner.texts import alerts as alert_texts
from planner.texts import reach as reach_texts
from planner.texts import staff as staff_texts
from planner.texts.catalogue import load_messages

if TYPE_CHECKING:
    from planner.store.notices import Notices

REACH_ALERTS = ("patient_message", "unwell", "checkin_fever", "checkin_call")


def render(notices: Notices, alert: dict[str, Any], lang: str, role: str | None = None
           ) -> str:
    """The alert's HTML text in ``lang`` for a staff member of ``role``."""
    detail = json.loads(alert["detail"] or "{}")
    kind = alert["kind"]
    if kind == "lab_notice" and "items" in detail:
        return _lab_notice(notices, alert, detail, lang, role)
    if kind == "lab_notice":  # stored before changes were kept as data
        return staff_texts.alert_lab_notice("\n".join(detail.get("changes", [])), lang)
    if kind in REACH_ALERTS:
        writer = _writer(notices, alert, detail, lang)
        if kind == "patient_message":
            return reach_texts.alert_message(writer, str(detail.get("text", "")), lang)
        return reach_texts.alert_reach(kind, writer, str(detail.get("answer", "")), lang)
    if kind == "unreachable":
        return _unreachable(notices, alert, detail, lang)
    if kind == "stopped":
        who = reach_texts.who_wrote(_writer(notices, alert, detail, lang), lang)
        return alert_texts.alert_stopped(who, lang)
    visit = notices.event_visit(alert["event_id"])
    if kind == "change_requested":
        writer = _writer(notices, alert, detail, lang)
        return staff_texts.alert_change_requested(
            visit, lang, who=reach_texts.who_wrote(writer, lang))
    if kind == "no_chat":
        return staff_texts.alert_no_chat(visit, lang)
    if kind == "no_makeup":
        return staff_texts.alert_no_makeup(visit, lang)
    return staff_texts.alert_delivery_failed(visit, reason_code(detail), lang)


def _lab_notice(notices: Notices, alert: dict[str, Any], detail: dict[str, Any], lang: str,
                role: str | None) -> str:
    row = notices.db.execute("SELECT patient_id, protocol_snapshot FROM courses WHERE id = ?",
                             [alert["course_id"]]).fetchone()
    patient = notices.staff_label(row[0] if row else None, lang)
    total = notices.protocol(row[1]).infusions if row else 0
    lines = [alert_texts.lab_change_line(item, patient, total, lang)
             for item in detail["items"]]
    return alert_texts.alert_lab_changes(lines, lang, for_lab=role == "lab")


def _writer(notices: Notices, alert: dict[str, Any], detail: dict[str, Any], lang: str
            ) -> reach_texts.Writer:
    """Who wrote or pressed: the family name stored with the alert, else the chat's."""
    family = detail.get("family_name")
    if family is None and detail.get("chat_id") is not None:
        row = notices.db.execute("SELECT family_name FROM chats WHERE chat_id = ?"
                                 " ORDER BY id DESC", [detail["chat_id"]]).fetchone()
        family = row[0] if row else None
    patients = [p for p in detail.get("patients") or [alert["patient_id"]] if p is not None]
    separator = load_messages(lang).get("calendar.list_separator")
    label = separator.join(notices.staff_label(p, lang) for p in patients or [None])
    return reach_texts.Writer(label, family)


def _unreachable(notices: Notices, alert: dict[str, Any], detail: dict[str, Any], lang: str
                 ) -> str:
    reason = reason_code(detail)
    if detail.get("staff_id") is not None:
        row = notices.db.execute("SELECT name, role FROM staff WHERE id = ?",
                                 [detail["staff_id"]]).fetchone()
        name, role = (row[0], row[1]) if row else ("", "")
        return alert_texts.alert_staff_unreachable(name, role, reason, lang)
    patient = alert["patient_id"]
    if detail.get("family_name"):
        reached = any(chat.family_name is None for chat in
                      Links(notices.db).patient_chats(int(patient)))
        return alert_texts.alert_family_unreachable(
            detail["family_name"], notices.staff_label(patient, lang), reached, reason, lang)
    row = notices.db.execute("SELECT name FROM patients WHERE id = ?", [patient]).fetchone()
    shown = staff_texts.display_name(row[0] if row else "", notices.settings.export.staff_names)
    return staff_texts.alert_unreachable(shown, int(patient or 0), reason, lang)


def reason_code(detail: dict[str, Any]) -> str:
    """A failure's reason as a code the catalogue words, or as Telegram gave it."""
    reason = str(detail.get("reason", ""))
    lowered = reason.lower()
    for needle, code in (("blocked", "blocked"), ("chat not found", "chat_not_found"),
                         ("deactivated", "deactivated"), ("too late", "too_late")):
        if needle in lowered:
            return code
    return reason
