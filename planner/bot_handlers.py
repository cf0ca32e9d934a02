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

from planner import bot_choices, bot_reach, bot_texts, reach_texts, staff_texts
from planner.clock import Clock
from planner.closures import closure_words
from planner.config import Settings
from planner.feed_server import feed_url
from planner.feeds import Feeds
from planner.links import Chat
from planner.notices import Notices, parse_button_data
from planner.service import Planner
from planner.telegram_html import split_message
from planner.telegram_html import visible_text as visible_text_of

ALERT_ROLES = ("nurse", "reception")
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


async def _reply(update: Update, text: str) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    for part in split_message(text):
        await chat.send_message(part, parse_mode=ParseMode.HTML)


def _generic(update: Update, context: ContextTypes.DEFAULT_TYPE, lang: str | None = None
             ) -> str:
    """The answer for strangers: the clinic's name and numbers, naming no patient."""
    return bot_texts.generic_text(lang or _language(update),
                                  head=_ctx(context).settings.letterhead)


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
        text = (bot_texts.help_text(linked.lang, staff=linked.staff_id is not None,
                                          head=_ctx(context).settings.letterhead) if linked
                else bot_texts.generic_text(lang, head=ctx.settings.letterhead))
        await _reply(update, text)
        return
    now = ctx.now()
    links = ctx.planner.links
    if links.throttled(chat.id, now):
        await _reply(update, bot_texts.throttled_text(lang))
        return
    with ctx.planner.store.transaction():
        linked = links.redeem(context.args[0][:64], chat.id, None, now,
                              staff_lang=ctx.settings.export.staff_language)
    if linked is None:
        await _reply(update, bot_texts.generic_text(lang, head=ctx.settings.letterhead))
        return
    await _reply(update, bot_texts.welcome_text(linked.lang, name=linked.name,
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
        await _reply(update, _generic(update, context))
        return
    await _reply(update, bot_texts.help_text(linked.lang, staff=linked.staff_id is not None,
                                          head=_ctx(context).settings.letterhead))


async def _linked_as(update: Update, context: ContextTypes.DEFAULT_TYPE, *, staff: bool
                    ) -> Chat | None:
    """The chat if it is linked to a staff member (``staff``) or a patient (or family);
    anyone else gets the generic answer, which says nothing about anybody."""
    linked = _linked(update, context)
    person = None if linked is None else (linked.staff_id if staff else linked.patient_id)
    if linked is None or person is None:
        await _reply(update, _generic(update, context, linked.lang if linked else None))
        return None
    return linked


async def _patient(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Chat | None:
    return await _linked_as(update, context, staff=False)


async def next_visit(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    linked = await _patient(update, context)
    if linked is None or linked.patient_id is None:
        return
    ctx = _ctx(context)
    for patient_id in patients_of(ctx, linked):  # a family caring for two: one answer each
        visits = ctx.notices.patient_visits(patient_id, ctx.now(), upcoming=True)
        await _reply(update, bot_texts.next_visit_text(visits, linked.lang,
                                                       head=ctx.settings.letterhead))


async def schedule(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    linked = await _patient(update, context)
    if linked is None or linked.patient_id is None:
        return
    ctx = _ctx(context)
    closed = closure_words(ctx.planner.calendar, linked.lang)
    for patient_id in patients_of(ctx, linked):  # a family caring for two: one answer each
        visits = ctx.notices.patient_visits(patient_id, ctx.now(), upcoming=False)
        await _reply(update, bot_texts.schedule_text(visits, linked.lang, closed,
                                                     today=ctx.now().date(),
                                                     head=ctx.settings.letterhead))


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
        await _reply(update, bot_texts.feed_link_text(feed_url(base, secret), linked.lang))


async def language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """``/language`` offers [日本語] [English]; ``/language en`` picks one at once."""
    linked = _linked(update, context)
    if linked is None:
        await _reply(update, _generic(update, context))
        return
    wanted = (context.args[0].lower() if context.args else "")[:2]
    if wanted not in ("ja", "en"):
        await bot_choices.ask_language(update, linked.lang)  # never a switch on one tap
        return
    await _switch_language(update, context, linked, wanted)


async def _switch_language(update: Update, context: ContextTypes.DEFAULT_TYPE, linked: Chat,
                           new: str) -> None:
    ctx = _ctx(context)
    with ctx.planner.store.transaction():
        ctx.planner.links.set_language(linked.chat_id, new)
    await _reply(update, bot_texts.language_text(new))
    await set_chat_menu(context.bot, linked, new)


async def stop(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    linked = _linked(update, context)
    if linked is None:
        await _reply(update, _generic(update, context))
        return
    await bot_choices.ask_stop(update, linked)  # unlinks only after 止める


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
    await _reply(update, staff_texts.day_text(title, visits, linked.lang))


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
    await _reply(update, staff_texts.week_text(visits, linked.lang))


async def unconfirmed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    linked = await _staff(update, context)
    if linked is None:
        return
    ctx = _ctx(context)
    first = ctx.now().date()
    visits = ctx.notices.staff_visits(first, first + timedelta(days=7), None, ctx.now(),
                                      only_unconfirmed=True)
    await _reply(update, staff_texts.unconfirmed_text(visits, linked.lang))


async def unknown(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Anything else. What a linked patient or family member writes reaches the nurses
    (and is answered at once); an unknown command gets help, a stranger the generic
    answer."""
    linked = _linked(update, context)
    message = update.effective_message
    words = (message.text or message.caption or "") if message is not None else ""
    is_command = words.startswith("/")
    if linked is not None and linked.patient_id is not None and message is not None \
            and not is_command:
        await bot_reach.typed(update, context, linked)
        return
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
    if await _reach_button(update, context, linked, query.data or ""):
        return
    parsed = parse_button_data(query.data or "")
    ctx = _ctx(context)
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
    elif _event_of(_ctx(context), linked, (check_in[0], 0, "")) is None:
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
        await _switch_language(update, context, linked, lang)
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


def patients_of(ctx: BotContext, linked: Chat) -> list[int]:
    """The patients a chat is linked to: one, or several for a family caring for two."""
    return [chat.patient_id for chat in ctx.planner.links.chats(linked.chat_id)
            if chat.patient_id is not None]


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
