"""What the bot's handlers share: the context, replies, who a chat is, its menu.

Kept apart from the command handlers (``bot_handlers``) and the button handlers
(``bot_buttons``), which both use it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from telegram import Bot, BotCommand, BotCommandScopeChat, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from planner.clock import Clock
from planner.config.settings import Settings
from planner.service import Planner
from planner.store.links import Chat
from planner.store.notices import Notices
from planner.texts import patient as bot_texts
from planner.texts.html import split_message

log = logging.getLogger("planner.channels.telegram.app")


@dataclass
class BotContext:
    """What the handlers share: the planner (store, links, outbox), texts and the clock."""

    planner: Planner
    notices: Notices
    settings: Settings
    clock: Clock
    wake: Any = None  # called after a change so the dispatcher runs at once

    def now(self) -> datetime:
        return self.clock.now().astimezone(self.planner.tz)


def ctx_of(context: ContextTypes.DEFAULT_TYPE) -> BotContext:
    return context.application.bot_data["ctx"]  # type: ignore[no-any-return]


def user_language(update: Update) -> str:
    user = update.effective_user
    code = (user.language_code or "") if user else ""
    return "en" if code.startswith("en") else "ja"


REPLY_USEFUL_FOR = timedelta(hours=1)
"""A reply not sent within this (Telegram unreachable, the bot down) is skipped."""


async def reply(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str) -> None:
    """Answer in the outbox, not straight to Telegram: a reply keeps to the same limits and
    retries as reminders (a flood wait delays it, never loses it) and goes before them;
    the dispatcher is woken to send it at once."""
    chat = update.effective_chat
    if chat is None:
        return
    ctx = ctx_of(context)
    with ctx.planner.store.transaction():
        for part in split_message(text):
            ctx.planner.outbox.queue_reply(chat.id, part, ctx.clock.now(), REPLY_USEFUL_FOR)
    if ctx.wake is not None:
        ctx.wake()


def generic(update: Update, context: ContextTypes.DEFAULT_TYPE, lang: str | None = None
             ) -> str:
    """The answer for strangers: the clinic's name and numbers, naming no patient."""
    return bot_texts.generic_text(lang or user_language(update),
                                  head=ctx_of(context).settings.letterhead)


def linked_chat(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Chat | None:
    chat = update.effective_chat
    if chat is None:
        return None
    found = ctx_of(context).planner.links.chat(chat.id)
    if found is not None and found.patient_id is None and found.staff_id is None:
        return None
    return found


async def set_chat_menu(bot: Bot, linked: Chat | None, lang: str | None = None, *,
                        chat_id: int | None = None) -> None:
    """A linked chat's own command menu, in its language: the patient commands, and the
    staff ones for staff. Without ``linked`` (after /stop) the chat's menu is removed and
    the menu for everyone applies again.

    A failure here is logged and ignored: the menu is a convenience, the link stands.
    """
    target = linked.chat_id if linked is not None else chat_id
    if target is None:
        return
    scope = BotCommandScopeChat(target)
    try:
        if linked is None:
            await bot.delete_my_commands(scope=scope)
            return
        commands = bot_texts.bot_commands(lang or linked.lang, staff=linked.staff_id is not None)
        await bot.set_my_commands([BotCommand(name, text) for name, text in commands],
                                  scope=scope)
    except TelegramError as error:
        log.warning("could not set the command menu of chat %s: %s", target, error)


async def switch_language(update: Update, context: ContextTypes.DEFAULT_TYPE, linked: Chat,
                           new: str) -> None:
    ctx = ctx_of(context)
    with ctx.planner.store.transaction():
        ctx.planner.links.set_language(linked.chat_id, new)
    await reply(update, context, bot_texts.language_text(new))
    await set_chat_menu(context.bot, linked, new)


def patients_of(ctx: BotContext, linked: Chat) -> list[int]:
    """The patients a chat is linked to: one, or several for a family caring for two."""
    return [chat.patient_id for chat in ctx.planner.links.chats(linked.chat_id)
            if chat.patient_id is not None]
