"""Choices that must not happen on one tap: /stop asks first, /language offers buttons.

``/stop`` answers with [止める] [止めない]; only 止める unlinks the chat (and revokes its
calendar link), and staff hear that a patient's or family member's chat stopped, so
nobody is left without reminders unnoticed. ``/language`` without a word offers
[日本語] [English], each named in its own language.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from planner.calendars.feeds import Feeds
from planner.channels.telegram.context import ctx_of
from planner.store.links import Chat
from planner.texts import patient as bot_texts
from planner.texts.catalogue import LANGUAGES, load_messages

STOP_YES, STOP_NO = "s:y", "s:n"
LANGUAGE_NAMES = {"ja": "日本語", "en": "English"}
STOP_ROLES = ("nurse", "reception")
log = logging.getLogger("planner.channels.telegram.app")


def _markup(rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data)]
                                 for label, data in rows])


async def ask_stop(update: Update, linked: Chat) -> None:
    """/stop: ask first, with the two buttons."""
    messages = load_messages(linked.lang)
    markup = _markup([(messages.get("bot.stop_yes"), STOP_YES),
                      (messages.get("bot.stop_no"), STOP_NO)])
    if update.effective_chat is not None:
        await update.effective_chat.send_message(
            bot_texts.escape(messages.get("bot.stop_confirm")), parse_mode=ParseMode.HTML,
            reply_markup=markup)


async def ask_language(update: Update, lang: str) -> None:
    """/language without a word: one button per language (the question in ``lang``)."""
    chat = update.effective_chat
    if chat is None:
        return
    markup = _markup([(LANGUAGE_NAMES[lang], f"l:{lang}") for lang in LANGUAGES])
    text = load_messages(lang).get("bot.language_choose")
    await chat.send_message(bot_texts.escape(text), parse_mode=ParseMode.HTML,
                            reply_markup=markup)


def language_of(data: str) -> str | None:
    """The language a language button picks, None for other buttons."""
    lang = data.removeprefix("l:")
    return lang if data.startswith("l:") and lang in LANGUAGES else None


async def stop_answered(update: Update, context: ContextTypes.DEFAULT_TYPE, linked: Chat,
                        data: str) -> None:
    """The answer to /stop's question: stop (unlink, revoke, tell staff) or keep."""
    ctx = ctx_of(context)
    query = update.callback_query
    messages = load_messages(linked.lang)
    if data == STOP_NO:
        await _settle(query, bot_texts.escape(messages.get("bot.stop_kept")))
        return
    now = ctx.now()
    with ctx.planner.store.transaction():
        ctx.planner.links.unlink(linked.chat_id, now)
        Feeds(ctx.planner.store.db, ctx.settings).revoke_chat(linked.chat_id, now)
        if linked.patient_id is not None:
            ctx.planner.outbox.add_alert(
                "stopped", STOP_ROLES, {"chat_id": linked.chat_id,
                                        "family_name": linked.family_name},
                now, patient_id=linked.patient_id)
    if ctx.wake is not None:
        ctx.wake()
    await _settle(query, bot_texts.stop_text(linked.lang))


async def _settle(query: Any, text: str) -> None:
    """Acknowledge the press and replace the question (and its buttons) with ``text``."""
    try:
        await query.answer()
        await query.edit_message_text(text, parse_mode=ParseMode.HTML)
    except BadRequest as error:
        log.info("could not settle a choice: %s", error)
