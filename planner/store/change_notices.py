"""Telling the patient that a visit changed, in the transaction that changes it.

When a change moves a visit the patient attends, cancels it, marks it missed or adds a
make-up, every chat linked to the patient (their own, family) gets one notice listing
each visit before → after, in the chat's language. Reminders of the changed visits that
already went out with buttons are edited to say they are out of date, without buttons
(a delivery with ``edit_message_id``: the dispatcher edits that message instead of
sending one).

Called by ``Planner._write`` inside its transaction, after the reminders were synced, so
the notice, the change and the superseded reminders commit (or roll back) together.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlite_utils import Database

from planner.config.settings import Settings
from planner.core.course import slot_key
from planner.core.model import INFUSION, PlannedEvent, Protocol, Status
from planner.store.links import Links
from planner.store.outbox import Outbox
from planner.texts import reach as reach_texts

FOLDED = "blood_test"  # told as part of its infusion day, not on its own
# The outbox's purposes are reminder, alert and digest; a notice, like an alert, is a
# message of its own that raises no alert when it fails.
NOTICE_PURPOSE = "alert"


def visit_changes(protocol: Protocol, before: Sequence[PlannedEvent],
                  after: Sequence[PlannedEvent]) -> list[reach_texts.VisitChange]:
    """What changed for the patient, in time order: visits the patient attends only; a
    blood test only when its infusion did not change with it."""
    old = {slot_key(protocol, event): event for event in before}
    given = [e.seq for e in sorted(after, key=lambda e: e.start)
             if e.kind == INFUSION and e.status not in (Status.MISSED, Status.CANCELLED)]
    found = []
    for event in after:
        if "patient" not in protocol.audience_of(event.kind):
            continue
        how = _how(old.get(slot_key(protocol, event)), event)
        if how is not None:
            previous = old.get(slot_key(protocol, event))
            number = (given.index(event.seq) + 1 if event.kind == INFUSION
                      and event.seq in given else event.seq)
            found.append(reach_texts.VisitChange(
                event.kind, number, protocol.infusions, how,
                previous.start if previous is not None else None,
                event.start if how in ("moved", "added") else None,
                makeup=event.kind == INFUSION and event.seq > protocol.infusions))
    infusions = {c.seq for c in found if c.kind == INFUSION}
    kept = [c for c in found if not (c.kind == FOLDED and c.seq in infusions)]
    return sorted(kept, key=_when)


def _when(change: reach_texts.VisitChange) -> float:
    moment = change.after or change.before
    return moment.timestamp() if moment is not None else float("inf")


def _how(previous: PlannedEvent | None, event: PlannedEvent) -> str | None:
    scheduled = event.status is Status.SCHEDULED
    if previous is None:
        return "added" if scheduled else None
    if previous.status is not Status.SCHEDULED:
        return None
    if event.status is Status.CANCELLED:
        return "cancelled"
    if event.status is Status.MISSED:
        return "missed"
    if scheduled and previous.start != event.start:
        return "moved"
    return None


def tell_patient(db: Database, settings: Settings, course_id: int, protocol: Protocol,
                 before: Sequence[PlannedEvent], after: Sequence[PlannedEvent],
                 now: datetime) -> int:
    """Queue the change notice for the patient's chats and retire the old reminders'
    buttons; returns how many notices were queued (0 when nothing the patient attends
    changed, or no chat is linked)."""
    changes = visit_changes(protocol, before, after)
    if not changes:
        return 0
    row = db.execute("SELECT p.id, p.name FROM courses c JOIN patients p ON p.id ="
                     " c.patient_id WHERE c.id = ?", [course_id]).fetchone()
    chats = Links(db).patient_chats(int(row[0]))
    outbox = Outbox(db)
    messages = [(chat.chat_id, reach_texts.change_notice_text(
        row[1], changes, chat.lang, head=settings.letterhead), None) for chat in chats]
    outbox.queue(None, None, NOTICE_PURPOSE, messages, now, None)
    _retire_buttons(db, outbox, course_id, [chat.chat_id for chat in chats],
                    {chat.chat_id: chat.lang for chat in chats}, now)
    return len(messages)


def _retire_buttons(db: Database, outbox: Outbox, course_id: int, chat_ids: list[int],
                    langs: dict[int, str], now: datetime) -> None:
    """Edit each sent reminder with buttons whose visit has changed since it was sent."""
    if not chat_ids:
        return
    marks = ",".join("?" for _ in chat_ids)
    rows = db.execute(
        "SELECT d.chat_id, d.message_id, d.text FROM deliveries d"
        " JOIN reminders r ON r.id = d.reminder_id JOIN events e ON e.id = r.event_id"
        " WHERE e.course_id = ? AND r.event_revision < e.revision AND d.state = 'sent'"
        f" AND d.buttons IS NOT NULL AND d.message_id IS NOT NULL AND d.chat_id IN ({marks})"
        " AND NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.edit_message_id IS NOT NULL"
        " AND x.chat_id = d.chat_id AND x.edit_message_id = d.message_id)",
        [course_id, *chat_ids]).fetchall()
    for chat_id, message_id, text in rows:
        outbox.queue_edit(chat_id, int(message_id),
                          reach_texts.outdated_text(text, langs[chat_id]), now)
