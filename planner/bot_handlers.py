"""Telegram command and button handlers: parse, call the library, answer.

Everyone not linked, and anyone asking for something that is not theirs, gets the same
short generic answer, which says nothing about anybody.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from telegram import Bot, BotCommand, BotCommandScopeChat, InputFile, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from planner import bot_texts, staff_texts
from planner.clock import Clock
from planner.config import Settings
from planner.feed_server import feed_url
from planner.feeds import Feeds
from planner.links import Chat
from planner.notices import Notices, parse_button_data
from planner.service import Planner

ALERT_ROLES = ("nurse", "reception")
REPLY_USEFUL_FOR = timedelta(hours=1)
"""A reply not sent within this (Telegram unreachable, the bot down) is skipped."""
log = logging.getLogger("planner.bot")


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


def _ctx(context: ContextTypes.DEFAULT_TYPE) -> BotContext:
    return context.application.bot_data["ctx"]  # type: ignore[no-any-return]


def _language(update: Update) -> str:
    user = update.effective_user
    code = (user.language_code or "") if user else ""
    return "en" if code.startswith("en") else "ja"


async def _reply(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str) -> None:
    """Answer in the outbox, not straight to Telegram: a reply keeps to the same limits and
    retries as reminders (a flood wait delays it, never loses it) and goes before them;
    the dispatcher is woken to send it at once."""
    chat = update.effective_chat
    if chat is None:
        return
    ctx = _ctx(context)
    with ctx.planner.store.transaction():
        ctx.planner.outbox.queue_reply(chat.id, text, ctx.clock.now(), REPLY_USEFUL_FOR)
    if ctx.wake is not None:
        ctx.wake()


def _linked(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Chat | None:
    chat = update.effective_chat
    if chat is None:
        return None
    found = _ctx(context).planner.links.chat(chat.id)
    if found is not None and found.patient_id is None and found.staff_id is None:
        return None
    return found


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """``/start <code>`` links the chat; a bad code and no code get the generic answer."""
    ctx, chat = _ctx(context), update.effective_chat
    if chat is None:
        return
    lang = _language(update)
    if not context.args:
        linked = ctx.planner.links.chat(chat.id)
        text = (bot_texts.help_text(linked.lang, staff=linked.staff_id is not None) if linked
                else bot_texts.generic_text(lang))
        await _reply(update, context, text)
        return
    now = ctx.now()
    links = ctx.planner.links
    if links.throttled(chat.id, now):
        await _reply(update, context, bot_texts.throttled_text(lang))
        return
    with ctx.planner.store.transaction():
        linked = links.redeem(context.args[0][:64], chat.id, None, now,
                              staff_lang=ctx.settings.export.staff_language)
    if linked is None:
        await _reply(update, context, bot_texts.generic_text(lang))
        return
    await _reply(update, context, bot_texts.welcome_text(linked.lang, name=linked.name,
                                                         family_name=linked.family_name,
                                                         staff=linked.staff_id is not None))
    await set_chat_menu(context.bot, linked)


async def revive(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Runs before every handler: a chat marked unreachable (the user had blocked the bot)
    that writes or presses a button again can be reached again, as on Telegram."""
    chat = update.effective_chat
    if chat is None or (update.message is None and update.callback_query is None):
        return  # e.g. my_chat_member: the user blocking the bot is no sign of life
    ctx = _ctx(context)
    row = ctx.planner.store.db.execute(
        "SELECT 1 FROM chats WHERE chat_id = ? AND unlinked_at IS NULL"
        " AND unreachable_at IS NOT NULL", [chat.id]).fetchone()
    if row is not None:
        with ctx.planner.store.transaction():
            ctx.planner.links.mark_reachable(chat.id)


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


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    linked = _linked(update, context)
    if linked is None:
        await _reply(update, context, bot_texts.generic_text(_language(update)))
        return
    await _reply(update, context,
                 bot_texts.help_text(linked.lang, staff=linked.staff_id is not None))


async def _linked_as(update: Update, context: ContextTypes.DEFAULT_TYPE, *, staff: bool
                    ) -> Chat | None:
    """The chat if it is linked to a staff member (``staff``) or a patient (or family);
    anyone else gets the generic answer, which says nothing about anybody."""
    linked = _linked(update, context)
    person = None if linked is None else (linked.staff_id if staff else linked.patient_id)
    if linked is None or person is None:
        await _reply(update, context,
                     bot_texts.generic_text(linked.lang if linked else _language(update)))
        return None
    return linked


async def _patient(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Chat | None:
    return await _linked_as(update, context, staff=False)


async def next_visit(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    linked = await _patient(update, context)
    if linked is None or linked.patient_id is None:
        return
    ctx = _ctx(context)
    visits = ctx.notices.patient_visits(linked.patient_id, ctx.now(), upcoming=True)
    await _reply(update, context, bot_texts.next_visit_text(visits, linked.lang))


async def schedule(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    linked = await _patient(update, context)
    if linked is None or linked.patient_id is None:
        return
    ctx = _ctx(context)
    visits = ctx.notices.patient_visits(linked.patient_id, ctx.now(), upcoming=False)
    await _reply(update, context, bot_texts.schedule_text(visits, linked.lang,
                                                          ctx.planner.calendar.closed_reason))


async def ics(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Sends the patient's own calendar file (.ics) to add to a calendar app, and, when the
    feeds are published over HTTPS (``[feed] base_url``), the chat's own subscription link,
    which keeps the phone's calendar up to date."""
    linked = await _patient(update, context)
    if linked is None or linked.patient_id is None or update.effective_chat is None:
        return
    ctx = _ctx(context)
    data = ctx.planner.export(patient_id=linked.patient_id)
    await update.effective_chat.send_document(
        InputFile(data, filename="ank-schedule.ics"), caption=bot_texts.ics_caption(linked.lang),
        parse_mode=ParseMode.HTML)
    base = ctx.settings.feed.base_url
    if base.startswith("https://"):
        with ctx.planner.store.transaction():
            secret = Feeds(ctx.planner.store.db, ctx.settings).for_chat(
                linked.patient_id, linked.chat_id, ctx.now())
        await _reply(update, context, bot_texts.feed_link_text(feed_url(base, secret), linked.lang))


async def language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """``/language`` switches between Japanese and English; ``/language en`` picks one."""
    linked = _linked(update, context)
    if linked is None:
        await _reply(update, context, bot_texts.generic_text(_language(update)))
        return
    wanted = (context.args[0].lower() if context.args else "")[:2]
    new = wanted if wanted in ("ja", "en") else ("en" if linked.lang == "ja" else "ja")
    ctx = _ctx(context)
    with ctx.planner.store.transaction():
        ctx.planner.links.set_language(linked.chat_id, new)
    await _reply(update, context, bot_texts.language_text(new))
    await set_chat_menu(context.bot, linked, new)


async def stop(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    linked = _linked(update, context)
    if linked is None:
        await _reply(update, context, bot_texts.generic_text(_language(update)))
        return
    ctx = _ctx(context)
    with ctx.planner.store.transaction():
        ctx.planner.links.unlink(linked.chat_id, ctx.now())
        Feeds(ctx.planner.store.db, ctx.settings).revoke_chat(linked.chat_id, ctx.now())
    await _reply(update, context, bot_texts.stop_text(linked.lang))
    await set_chat_menu(context.bot, None, chat_id=linked.chat_id)


async def _staff(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Chat | None:
    return await _linked_as(update, context, staff=True)


async def _staff_day(update: Update, context: ContextTypes.DEFAULT_TYPE, offset: int,
                     relative: str) -> None:
    linked = await _staff(update, context)
    if linked is None:
        return
    ctx = _ctx(context)
    day: date = ctx.now().date() + timedelta(days=offset)
    visits = ctx.notices.staff_visits(day, day, linked.role, ctx.now())
    title = staff_texts.day_title(day, linked.lang, relative=relative)
    await _reply(update, context, staff_texts.day_text(title, visits, linked.lang))


async def today(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _staff_day(update, context, 0, "today")


async def tomorrow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _staff_day(update, context, 1, "tomorrow")


async def week(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    linked = await _staff(update, context)
    if linked is None:
        return
    ctx = _ctx(context)
    first = ctx.now().date()
    visits = ctx.notices.staff_visits(first, first + timedelta(days=6), linked.role, ctx.now())
    await _reply(update, context, staff_texts.week_text(visits, linked.lang))


async def unconfirmed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    linked = await _staff(update, context)
    if linked is None:
        return
    ctx = _ctx(context)
    first = ctx.now().date()
    visits = ctx.notices.staff_visits(first, first + timedelta(days=7), None, ctx.now(),
                                      only_unconfirmed=True)
    await _reply(update, context, staff_texts.unconfirmed_text(visits, linked.lang))


async def unknown(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any other text or command: help for linked chats, the generic answer for others."""
    await help_command(update, context)


async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A press on "I will come" / "I need to change": stored, shown, and told to staff.

    A press on a button that is not this chat's (forged, or another patient's event) is
    acknowledged and otherwise ignored. Pressing "I need to change" again alerts staff once.
    """
    query = update.callback_query
    if query is None or query.message is None:
        return
    linked = _linked(update, context)
    parsed = parse_button_data(query.data or "")
    ctx = _ctx(context)
    event = _event_of(ctx, linked, parsed)
    if linked is None or parsed is None or event is None:
        await _acknowledge(query)
        return
    event_id, revision, choice = parsed
    now = ctx.now()
    original = _sent_text(ctx, linked.chat_id, query.message.message_id)
    outbox = ctx.planner.outbox
    with ctx.planner.store.transaction():
        alert = choice == bot_texts.CHANGE and outbox.confirmation(event_id, revision) != choice
        outbox.confirm(event_id, revision, linked.chat_id, choice, now)
        if alert:
            outbox.add_alert("change_requested", ALERT_ROLES, {"chat_id": linked.chat_id}, now,
                             event_id=event_id, patient_id=linked.patient_id,
                             course_id=event["course_id"])
    if alert and ctx.wake is not None:
        ctx.wake()  # the alert goes out now, whatever happens to the answer below
    await _acknowledge(query, bot_texts.answer_buttons(linked.lang)[
        0 if choice == bot_texts.COME else 1])
    if original is not None:
        await _show_answer(query, bot_texts.answered_text(original, choice, linked.lang))


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
    """The event a button is about, only if it belongs to this chat's patient."""
    if linked is None or linked.patient_id is None or parsed is None:
        return None
    rows = list(ctx.planner.store.db.query(
        "SELECT e.id, e.course_id FROM events e JOIN courses c ON c.id = e.course_id"
        " WHERE e.id = ? AND c.patient_id = ?", [parsed[0], linked.patient_id]))
    return rows[0] if rows else None


def _sent_text(ctx: BotContext, chat_id: int, message_id: int) -> str | None:
    row = ctx.planner.store.db.execute(
        "SELECT text FROM deliveries WHERE chat_id = ? AND message_id = ? ORDER BY id DESC",
        [chat_id, message_id]).fetchone()
    return str(row[0]) if row else None
