"""Telegram button presses: the answer to a reminder, 「体調がすぐれない」, the check-in,
/stop's and /language's choices.

A press on a button that is not this chat's (forged, or another patient's event) is
acknowledged and otherwise ignored; a press on a reminder whose visit has changed since
it went out counts for nothing and marks the reminder out of date.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from planner.channels.telegram import choices as bot_choices
from planner.channels.telegram import reach as bot_reach
from planner.channels.telegram.context import (
    BotContext,
    ctx_of,
    linked_chat,
    patients_of,
    set_chat_menu,
    switch_language,
)
from planner.store.links import Chat
from planner.store.notices import parse_button_data
from planner.texts import patient as bot_texts
from planner.texts import reach as reach_texts
from planner.texts.html import visible_text as visible_text_of

ALERT_ROLES = ("nurse", "reception")
log = logging.getLogger("planner.channels.telegram.app")


async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A press on "I will come" / "I need to change": stored, shown, and told to staff.

    A press on a button that is not this chat's (forged, or another patient's event) is
    acknowledged and otherwise ignored. Pressing "I need to change" again alerts staff once.
    """
    query = update.callback_query
    if query is None or query.message is None:
        return
    linked = linked_chat(update, context)
    if await _reach_button(update, context, linked, query.data or ""):
        return
    parsed = parse_button_data(query.data or "")
    ctx = ctx_of(context)
    event = _event_of(ctx, linked, parsed)
    if linked is None or parsed is None or event is None:
        await _acknowledge(query)
        return
    event_id, revision, choice = parsed
    now = ctx.now()
    original = _sent_text(ctx, linked.chat_id, query.message.message_id)
    if revision != event["revision"]:  # the visit changed since this reminder went out
        await _outdated(query, original, linked.lang)
        return
    outbox = ctx.planner.outbox
    with ctx.planner.store.transaction():
        alert = choice == bot_texts.CHANGE and outbox.confirmation(event_id, revision) != choice
        outbox.confirm(event_id, revision, linked.chat_id, choice, now)
        if alert:
            outbox.add_alert("change_requested", ALERT_ROLES, {"chat_id": linked.chat_id}, now,
                             event_id=event_id, patient_id=event["patient_id"],
                             course_id=event["course_id"])
    if alert and ctx.wake is not None:
        ctx.wake()  # the alert goes out now, whatever happens to the answer below
    await _acknowledge(query, bot_texts.answer_buttons(linked.lang)[
        0 if choice == bot_texts.COME else 1])
    if original is not None:
        await _show_answer(query, bot_texts.answered_text(original, choice, linked.lang))


async def _reach_button(update: Update, context: ContextTypes.DEFAULT_TYPE,
                        linked: Chat | None, data: str) -> bool:
    """「体調がすぐれない」 and the check-in's answers; False for any other button."""
    if await _choice_button(update, context, linked, data):
        return True
    check_in = reach_texts.parse_check_in(data)
    if data != reach_texts.UNWELL_DATA and check_in is None:
        return False
    if linked is None or linked.patient_id is None:
        await _acknowledge(update.callback_query)
    elif check_in is None:
        await bot_reach.unwell(update, context, linked)
    elif _event_of(ctx_of(context), linked, (check_in[0], 0, "")) is None:
        await _acknowledge(update.callback_query)
    else:
        await bot_reach.check_in(update, context, linked, *check_in)
    return True


async def _choice_button(update: Update, context: ContextTypes.DEFAULT_TYPE,
                         linked: Chat | None, data: str) -> bool:
    """/stop's and /language's buttons; False for any other button."""
    lang = bot_choices.language_of(data)
    if data not in (bot_choices.STOP_YES, bot_choices.STOP_NO) and lang is None:
        return False
    if linked is None:
        await _acknowledge(update.callback_query)
    elif lang is not None:
        await _acknowledge(update.callback_query)
        await switch_language(update, context, linked, lang)
    else:
        await bot_choices.stop_answered(update, context, linked, data)
        if data == bot_choices.STOP_YES:
            await set_chat_menu(context.bot, None, chat_id=linked.chat_id)
    return True


async def _outdated(query: Any, original: str | None, lang: str) -> None:
    """A button of a reminder whose visit has changed: it counts for nothing, says so,
    and loses its buttons."""
    await _acknowledge(query, visible_text_of(reach_texts.outdated_text("", lang)))
    if original is None:
        return
    try:
        await query.edit_message_text(reach_texts.outdated_text(original, lang),
                                      parse_mode=ParseMode.HTML)
    except BadRequest as error:
        log.info("could not mark a reminder out of date: %s", error)


async def _acknowledge(query: Any, text: str | None = None) -> None:
    """Stop the button's spinner. Telegram refuses this for a press older than about 15
    minutes (the bot was down); the press still counts."""
    try:
        await query.answer(text)
    except BadRequest as error:
        log.info("could not answer a button press: %s", error)


async def _show_answer(query: Any, text: str) -> None:
    """Edit the reminder to show the answer. The buttons stay, so the patient can still
    change their mind; pressing the same button again leaves the message as it is."""
    try:
        await query.edit_message_text(text, parse_mode=ParseMode.HTML,
                                      reply_markup=query.message.reply_markup)
    except BadRequest as error:
        if "not modified" not in error.message.lower():
            raise


def _event_of(ctx: BotContext, linked: Chat | None, parsed: tuple[int, int, str] | None
              ) -> dict[str, Any] | None:
    """The event a button is about, only if it belongs to one of this chat's patients."""
    if linked is None or linked.patient_id is None or parsed is None:
        return None
    patients = patients_of(ctx, linked)
    marks = ",".join("?" for _ in patients)
    rows = list(ctx.planner.store.db.query(
        "SELECT e.id, e.course_id, e.revision, c.patient_id FROM events e JOIN courses c"
        f" ON c.id = e.course_id WHERE e.id = ? AND c.patient_id IN ({marks})",
        [parsed[0], *patients]))
    return rows[0] if rows else None


def _sent_text(ctx: BotContext, chat_id: int, message_id: int) -> str | None:
    row = ctx.planner.store.db.execute(
        "SELECT text FROM deliveries WHERE chat_id = ? AND message_id = ? ORDER BY id DESC",
        [chat_id, message_id]).fetchone()
    return str(row[0]) if row else None
