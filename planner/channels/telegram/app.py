"""Run the Telegram bot and the reminder dispatcher in one process.

``python bot.py [--config PATH] [--db PATH] [--console]``. Polling (no webhook), so the bot
needs no public address. Updates sent while the bot was down are fetched and handled at
start. One bot per database: a lock file next to the database refuses a second one
(two pollers would make Telegram answer 409 and could send reminders twice). The token
never appears in a log line: every log record is redacted as it is made, and httpx's
request log (one line per URL) is quieted.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from sqlite_utils import Database
from telegram import Bot, BotCommand, BotCommandScopeDefault, Update
from telegram.error import InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from planner.calendars.feed_server import FeedService, start_feed_server
from planner.channels.console import ConsoleSender
from planner.channels.dispatch import Dispatcher, Sender
from planner.channels.loop import WATCH_SECONDS, DispatchLoop
from planner.channels.telegram import handlers as h
from planner.channels.telegram.process import InstanceLock, check_token, configure_logging
from planner.channels.telegram.sender import TelegramSender
from planner.clock import Clock, SystemClock
from planner.config.sections import TOKEN_VARIABLE, BotSettings
from planner.config.settings import Settings, load_settings
from planner.core.errors import PlannerError
from planner.service import Planner
from planner.store.courses import Store, open_database
from planner.store.database import DEFAULT_BUSY_TIMEOUT, is_busy
from planner.store.notices import Notices
from planner.texts import patient as bot_texts
from planner.texts.catalogue import LANGUAGES

log = logging.getLogger("planner.channels.telegram.app")
NO_TOKEN = (
    "No Telegram bot token. Create a bot with @BotFather in Telegram (/newbot), then set "
    f"{TOKEN_VARIABLE}=<token> or [bot] token in the config. To try everything without "
    "Telegram, run: python bot.py --console"
)


def open_bot_database(path: Path, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Database:
    """The bot's connection to an existing database (the bot never creates one: a wrong
    path is said at start). ``synchronous=NORMAL`` in WAL mode survives a crash of the
    process (only a power cut may lose the last commits: then a message goes out again)."""
    db = open_database(path, create=False, busy_timeout=busy_timeout)
    db.execute("PRAGMA synchronous = NORMAL")
    return db


def build_application(settings: Settings, db: Database, clock: Clock,
                      sender_factory: Callable[[Any], Sender] | None = None, *,
                      feeds_from: Path | None = None
                      ) -> Application[Any, Any, Any, Any, Any, Any]:
    """The PTB application with every handler and the dispatcher wired in.

    With ``feeds_from`` (the database file) and ``[feed] serve_in_bot``, the calendar feed
    server runs on the bot's event loop too, started by ``on_start``.
    """
    # Durations such as a flood wait's ``retry_after`` as timedeltas, PTB 23's behaviour:
    # PTB 22 warns on every read of the old int form, even inside its own exceptions.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    bot = settings.bot
    app = (ApplicationBuilder().token(bot.token).base_url(bot.base_url)
           .base_file_url(bot.base_file_url).post_init(on_start).post_stop(stop_sending)
           .post_shutdown(on_stop)
           .build())
    if feeds_from is not None and settings.feed.serve_in_bot:
        app.bot_data["feed_service"] = FeedService(feeds_from, settings, clock)
    planner = Planner(Store(db), settings, clock, actor="bot")
    sender = (sender_factory or (lambda b: TelegramSender(b, bot.token)))(app.bot)
    dispatcher = Dispatcher(db, settings, sender, clock)
    loop = DispatchLoop(dispatcher, db)
    app.bot_data["ctx"] = h.BotContext(planner, Notices(db, settings), settings, clock,
                                       wake=lambda: loop.arm(None))
    app.bot_data["loop"] = loop
    for name, handler in (("start", h.start), ("help", h.help_command), ("next", h.next_visit),
                          ("schedule", h.schedule), ("ics", h.ics), ("language", h.language),
                          ("stop", h.stop), ("today", h.today), ("tomorrow", h.tomorrow),
                          ("week", h.week), ("unconfirmed", h.unconfirmed)):
        app.add_handler(CommandHandler(name, handler))
    app.add_handler(TypeHandler(Update, h.revive), group=-1)
    app.add_handler(CallbackQueryHandler(h.answer))
    app.add_handler(MessageHandler(filters.ALL, h.unknown))
    app.add_error_handler(_on_error)
    return app


async def on_start(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Set the command menu for everyone, then arm the dispatcher (PTB's post_init).

    The menu for everyone has the patient commands only, in English by default and in
    Japanese for Japanese Telegram apps; a linked chat gets its own menu at linking (staff
    commands for staff), see ``bot_handlers.set_chat_menu``.
    """
    try:
        for lang in LANGUAGES:
            menu = [BotCommand(name, text)
                    for name, text in bot_texts.bot_commands(lang, staff=False)]
            await app.bot.set_my_commands(menu, scope=BotCommandScopeDefault(),
                                          language_code=None if lang == "en" else lang)
    except (NetworkError, RetryAfter) as error:  # the menu must not hold the reminders back
        log.warning("could not set the command menu (trying at the next start): %s", error)
    app.bot_data["loop"].start()
    service = app.bot_data.get("feed_service")
    if service is not None:
        feed = service.settings.feed
        app.bot_data["feed_runner"] = await start_feed_server(service, feed.host, feed.port)
        log.info("serving calendar feeds on %s:%s", feed.host, feed.port)


async def stop_sending(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Stop the dispatcher while the bot can still send (PTB's post_stop): the messages in
    flight get their answers and are recorded."""
    await app.bot_data["loop"].stop()


async def on_stop(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Stop the feed server with the bot, and the dispatcher if ``stop_sending`` did not
    run (PTB's post_shutdown)."""
    await app.bot_data["loop"].stop()
    runner = app.bot_data.pop("feed_runner", None)
    if runner is not None:
        await runner.cleanup()
    service = app.bot_data.pop("feed_service", None)
    if service is not None:
        service.close()


async def _on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    error = context.error
    if error is not None and is_busy(error):
        log.warning("database busy while handling an update (another program is writing); "
                    "the update was not answered")
        return
    log.error("error while handling an update: %s", error,
              exc_info=(type(error), error, error.__traceback__) if error else None)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bot.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=os.environ.get("PLANNER_CONFIG"),
                        help="configuration file (TOML); also PLANNER_CONFIG")
    parser.add_argument("--db", default=os.environ.get("PLANNER_DB"),
                        help="SQLite database; also PLANNER_DB")
    parser.add_argument("--console", action="store_true",
                        help="print each message instead of sending it (no token needed)")
    return parser.parse_args(argv)


async def run_console(settings: Settings, db: Database, clock: Clock, out: IO[str],
                      stop: asyncio.Event | None = None) -> None:
    """The dispatcher alone, printing messages: try the whole flow without Telegram."""
    dispatcher = Dispatcher(db, settings, ConsoleSender(out), clock)
    stop = stop or asyncio.Event()
    while not stop.is_set():
        result = await dispatcher.tick()
        delay = WATCH_SECONDS
        if result.wake is not None:
            delay = max(0.0, min(delay, (result.wake - clock.now()).total_seconds()))
        try:
            await asyncio.wait_for(stop.wait(), timeout=delay)
        except TimeoutError:
            continue


def main(argv: list[str] | None = None) -> int:
    """Start the bot, or say in one line why not: 2 for something the user must fix (no
    token, a malformed or refused token, another bot on the database), 1 when Telegram
    cannot be reached (a supervisor may try again later), 0 after a clean stop."""
    args = _parse(argv)
    try:
        settings = load_settings(args.config)
        path = Path(args.db) if args.db else settings.database
        if not args.console:
            settings = _with_checked_token(settings)
        db = open_bot_database(path, settings.busy_timeout)  # before a lock file is made
        lock = InstanceLock(path)
        try:
            lock.acquire()
        except PlannerError:
            db.close()
            raise
    except PlannerError as error:
        print(f"Error: {error}", file=sys.stderr)  # noqa: T201 - the bot's command line
        return 2
    try:
        if not args.console and (status := _reach_telegram(settings.bot)) != 0:
            return status
        configure_logging(settings.bot.token)
        _serve(args.console, settings, db, path)
    except KeyboardInterrupt:
        pass
    finally:
        lock.release()
    return 0


def _with_checked_token(settings: Settings) -> Settings:
    """The settings with the token stripped and checked for shape (``InputError``)."""
    if not settings.bot.token.strip():
        raise PlannerError(NO_TOKEN)
    source = TOKEN_VARIABLE if os.environ.get(TOKEN_VARIABLE) else "[bot] token"
    token = check_token(settings.bot.token, source)
    return dataclasses.replace(settings, bot=dataclasses.replace(settings.bot, token=token))


def _reach_telegram(bot: BotSettings) -> int:
    """Ask Telegram who the bot is (getMe) before anything starts; 0 when it answers.

    PTB's own start-up would log a library traceback first; here a refused token is one
    line and status 2, an unreachable Telegram (refused connection, timeout) one line and
    status 1.
    """
    async def get_me() -> None:
        async with Bot(bot.token, base_url=bot.base_url, base_file_url=bot.base_file_url):
            pass

    try:
        asyncio.run(get_me())
    except InvalidToken:
        print(f"Error: Telegram refused the bot token: check {TOKEN_VARIABLE} or [bot] token "  # noqa: T201
              "(copy it again from @BotFather, /token)", file=sys.stderr)
        return 2
    except (NetworkError, TelegramError) as error:  # unreachable, 5xx, a flood wait
        reason = str(error).replace(bot.token, "<token>")
        print(f"Error: cannot reach Telegram at {bot.base_url}: {reason}",  # noqa: T201
              file=sys.stderr)
        return 1
    return 0


def _serve(console: bool, settings: Settings, db: Database, path: Path) -> None:
    if console:
        log.info("console mode: messages are printed, not sent")
        asyncio.run(run_console(settings, db, SystemClock(), sys.stdout))
        return
    app = build_application(settings, db, SystemClock(), feeds_from=path)
    log.info("bot starting (polling)")
    app.run_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
