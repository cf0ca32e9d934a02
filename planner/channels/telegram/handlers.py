"""Telegram command handlers: parse, call the library, answer (buttons: ``bot_buttons``).

Everyone not linked, and anyone asking for something that is not theirs, gets the same
short generic answer, which says nothing about anybody.
"""

from __future__ import annotations

from datetime import date, timedelta

from telegram import InputFile, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from planner.calendars.feed_server import feed_url
from planner.calendars.feeds import Feeds
from planner.channels.telegram import choices as bot_choices
from planner.channels.telegram import reach as bot_reach
from planner.channels.telegram.buttons import answer as answer
from planner.channels.telegram.context import BotContext as BotContext
from planner.channels.telegram.context import (
    ctx_of,
    generic,
    linked_chat,
    patients_of,
    reply,
    set_chat_menu,
    switch_language,
    user_language,
)
from planner.store.links import Chat
from planner.texts import patient as bot_texts
from planner.texts import staff as staff_texts
from planner.texts.closures import closure_words


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """``/start <code>`` links the chat; a bad code and no code get the generic answer."""
    ctx, chat = ctx_of(context), update.effective_chat
    if chat is None:
        return
    lang = user_language(update)
    if not context.args:
        linked = ctx.planner.links.chat(chat.id)
        text = (bot_texts.help_text(linked.lang, staff=linked.staff_id is not None,
                                          head=ctx_of(context).settings.letterhead) if linked
                else bot_texts.generic_text(lang, head=ctx.settings.letterhead))
        await reply(update, context, text)
        return
    now = ctx.now()
    links = ctx.planner.links
    if links.throttled(chat.id, now):
        await reply(update, context, bot_texts.throttled_text(lang))
        return
    with ctx.planner.store.transaction():
        linked = links.redeem(context.args[0][:64], chat.id, None, now,
                              staff_lang=ctx.settings.export.staff_language)
    if linked is None:
        await reply(update, context, bot_texts.generic_text(lang, head=ctx.settings.letterhead))
        return
    await reply(update, context, bot_texts.welcome_text(linked.lang, name=linked.name,
                                                family_name=linked.family_name,
                                                staff=linked.staff_id is not None))
    await set_chat_menu(context.bot, linked)


async def revive(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Runs before every handler: a chat marked unreachable (the user had blocked the bot)
    that writes or presses a button again can be reached again, as on Telegram."""
    chat = update.effective_chat
    if chat is None or (update.message is None and update.callback_query is None):
        return  # e.g. my_chat_member: the user blocking the bot is no sign of life
    ctx = ctx_of(context)
    row = ctx.planner.store.db.execute(
        "SELECT 1 FROM chats WHERE chat_id = ? AND unlinked_at IS NULL"
        " AND unreachable_at IS NOT NULL", [chat.id]).fetchone()
    if row is not None:
        with ctx.planner.store.transaction():
            ctx.planner.links.mark_reachable(chat.id)


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    linked = linked_chat(update, context)
    if linked is None:
        await reply(update, context, generic(update, context))
        return
    await reply(update, context, bot_texts.help_text(linked.lang, staff=linked.staff_id is not None,
                                          head=ctx_of(context).settings.letterhead))


async def _linked_as(update: Update, context: ContextTypes.DEFAULT_TYPE, *, staff: bool
                    ) -> Chat | None:
    """The chat if it is linked to a staff member (``staff``) or a patient (or family);
    anyone else gets the generic answer, which says nothing about anybody."""
    linked = linked_chat(update, context)
    person = None if linked is None else (linked.staff_id if staff else linked.patient_id)
    if linked is None or person is None:
        await reply(update, context, generic(update, context, linked.lang if linked else None))
        return None
    return linked


async def _patient(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Chat | None:
    return await _linked_as(update, context, staff=False)


async def next_visit(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    linked = await _patient(update, context)
    if linked is None or linked.patient_id is None:
        return
    ctx = ctx_of(context)
    for patient_id in patients_of(ctx, linked):  # a family caring for two: one answer each
        visits = ctx.notices.patient_visits(patient_id, ctx.now(), upcoming=True)
        await reply(update, context, bot_texts.next_visit_text(visits, linked.lang,
                                                       head=ctx.settings.letterhead))


async def schedule(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    linked = await _patient(update, context)
    if linked is None or linked.patient_id is None:
        return
    ctx = ctx_of(context)
    closed = closure_words(ctx.planner.calendar, linked.lang)
    for patient_id in patients_of(ctx, linked):  # a family caring for two: one answer each
        visits = ctx.notices.patient_visits(patient_id, ctx.now(), upcoming=False)
        await reply(update, context, bot_texts.schedule_text(visits, linked.lang, closed,
                                                     today=ctx.now().date(),
                                                     head=ctx.settings.letterhead))


async def ics(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Sends the patient's own calendar file (.ics) to add to a calendar app, and, when the
    feeds are published over HTTPS (``[feed] base_url``), the chat's own subscription link,
    which keeps the phone's calendar up to date."""
    linked = await _patient(update, context)
    if linked is None or linked.patient_id is None or update.effective_chat is None:
        return
    ctx = ctx_of(context)
    data = ctx.planner.export(patient_id=linked.patient_id)
    await update.effective_chat.send_document(
        InputFile(data, filename="ank-schedule.ics"), caption=bot_texts.ics_caption(linked.lang),
        parse_mode=ParseMode.HTML)
    base = ctx.settings.feed.base_url
    if base.startswith("https://"):
        with ctx.planner.store.transaction():
            secret = Feeds(ctx.planner.store.db, ctx.settings).for_chat(
                linked.patient_id, linked.chat_id, ctx.now())
        await reply(update, context, bot_texts.feed_link_text(feed_url(base, secret), linked.lang))


async def language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """``/language`` offers [日本語] [English]; ``/language en`` picks one at once."""
    linked = linked_chat(update, context)
    if linked is None:
        await reply(update, context, generic(update, context))
        return
    wanted = (context.args[0].lower() if context.args else "")[:2]
    if wanted not in ("ja", "en"):
        await bot_choices.ask_language(update, linked.lang)  # never a switch on one tap
        return
    await switch_language(update, context, linked, wanted)


async def stop(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    linked = linked_chat(update, context)
    if linked is None:
        await reply(update, context, generic(update, context))
        return
    await bot_choices.ask_stop(update, linked)  # unlinks only after 止める


async def _staff(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Chat | None:
    return await _linked_as(update, context, staff=True)


async def _staff_day(update: Update, context: ContextTypes.DEFAULT_TYPE, offset: int,
                     relative: str) -> None:
    linked = await _staff(update, context)
    if linked is None:
        return
    ctx = ctx_of(context)
    day: date = ctx.now().date() + timedelta(days=offset)
    visits = ctx.notices.staff_visits(day, day, linked.role, ctx.now())
    title = staff_texts.day_title(day, linked.lang, relative=relative)
    await reply(update, context, staff_texts.day_text(title, visits, linked.lang))


async def today(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _staff_day(update, context, 0, "today")


async def tomorrow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _staff_day(update, context, 1, "tomorrow")


async def week(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    linked = await _staff(update, context)
    if linked is None:
        return
    ctx = ctx_of(context)
    first = ctx.now().date()
    visits = ctx.notices.staff_visits(first, first + timedelta(days=6), linked.role, ctx.now())
    await reply(update, context, staff_texts.week_text(visits, linked.lang))


async def unconfirmed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    linked = await _staff(update, context)
    if linked is None:
        return
    ctx = ctx_of(context)
    first = ctx.now().date()
    visits = ctx.notices.staff_visits(first, first + timedelta(days=7), None, ctx.now(),
                                      only_unconfirmed=True)
    await reply(update, context, staff_texts.unconfirmed_text(visits, linked.lang))


async def unknown(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Anything else. What a linked patient or family member writes reaches the nurses
    (and is answered at once); an unknown command gets help, a stranger the generic
    answer."""
    linked = linked_chat(update, context)
    message = update.effective_message
    words = (message.text or message.caption or "") if message is not None else ""
    is_command = words.startswith("/")
    if linked is not None and linked.patient_id is not None and message is not None \
            and not is_command:
        await bot_reach.typed(update, context, linked)
        return
    await help_command(update, context)


