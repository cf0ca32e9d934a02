"""A patient reaches a person: typed messages, 「体調がすぐれない」, the evening check-in.

Everything a linked patient or family member types is answered at once (the nurses have
it; call when urgent) and forwarded to the nurses' chats as an alert naming who wrote and
about whom. The 「体調がすぐれない」 button and a worrying check-in answer (fever, please
call me) alert the nurses at once, and the patient gets the fever instruction. The alert
is stored in the same transaction as nothing else: it is the record that staff were told.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from planner.channels.telegram.context import ctx_of, reply
from planner.store.links import Chat
from planner.texts import reach as reach_texts

REACH_ROLES = ("nurse",)
MAX_FORWARDED = 2000  # characters of a typed message kept for the nurses
log = logging.getLogger("planner.channels.telegram.app")


async def typed(update: Update, context: ContextTypes.DEFAULT_TYPE, linked: Chat) -> None:
    """A linked patient's or family member's own words: answered, and sent to the nurses."""
    message = update.effective_message
    text = (message.text or message.caption or "") if message is not None else ""
    ctx = ctx_of(context)
    now = ctx.now()
    with ctx.planner.store.transaction():
        ctx.planner.outbox.add_alert(
            "patient_message", REACH_ROLES,
            {"text": text[:MAX_FORWARDED] or "…", "chat_id": linked.chat_id,
             "family_name": linked.family_name, "patients": _patients(ctx, linked)},
            now, patient_id=linked.patient_id)
    if ctx.wake is not None:
        ctx.wake()
    await reply(update, context,
                reach_texts.received_text(linked.lang, head=ctx.settings.letterhead))


async def unwell(update: Update, context: ContextTypes.DEFAULT_TYPE, linked: Chat) -> None:
    """「体調がすぐれない」 pressed under a reminder: the nurses are alerted at once."""
    ctx = ctx_of(context)
    label = reach_texts.unwell_label(linked.lang)
    _alert(ctx, "unwell", linked, label, None)
    await _acknowledge(update.callback_query, label)
    await reply(update, context, reach_texts.unwell_text(linked.lang, head=ctx.settings.letterhead))


async def check_in(update: Update, context: ContextTypes.DEFAULT_TYPE, linked: Chat,
                   event_id: int, answer: str) -> None:
    """A check-in answer: a fever or "please call me" alerts the nurses at once; the
    check-in is edited to show the answer, and its buttons go."""
    ctx = ctx_of(context)
    label = reach_texts.check_in_label(answer, linked.lang)
    if answer in reach_texts.WORRYING:
        kind = "checkin_fever" if answer == "fever" else "checkin_call"
        _alert(ctx, kind, linked, label, event_id)
    query = update.callback_query
    await _acknowledge(query, label)
    text = reach_texts.check_in_answered(answer, linked.lang, head=ctx.settings.letterhead)
    try:
        await query.edit_message_text(text, parse_mode=ParseMode.HTML)  # type: ignore[union-attr]
    except BadRequest as error:
        log.info("could not show the check-in answer: %s", error)


def _alert(ctx: Any, kind: str, linked: Chat, answer: str, event_id: int | None) -> None:
    with ctx.planner.store.transaction():
        ctx.planner.outbox.add_alert(
            kind, REACH_ROLES, {"answer": answer, "chat_id": linked.chat_id,
                                "family_name": linked.family_name,
                                "patients": [] if event_id else _patients(ctx, linked)},
            ctx.now(), patient_id=_patient_of(ctx, linked, event_id), event_id=event_id)
    if ctx.wake is not None:
        ctx.wake()


def _patients(ctx: Any, linked: Chat) -> list[int]:
    """All patients of the chat (a family caring for two): the nurses hear of each."""
    return [chat.patient_id for chat in ctx.planner.links.chats(linked.chat_id)
            if chat.patient_id is not None]


def _patient_of(ctx: Any, linked: Chat, event_id: int | None) -> int | None:
    """The check-in's patient (its event's), else the chat's first patient."""
    if event_id is None:
        return linked.patient_id
    row = ctx.planner.store.db.execute(
        "SELECT c.patient_id FROM events e JOIN courses c ON c.id = e.course_id"
        " WHERE e.id = ?", [event_id]).fetchone()
    return int(row[0]) if row else linked.patient_id


async def _acknowledge(query: Any, text: str) -> None:
    try:
        await query.answer(text)
    except BadRequest as error:
        log.info("could not answer a button press: %s", error)
