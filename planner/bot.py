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
import logging
import os
import sqlite3
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from sqlite_utils import Database
from telegram import BotCommand, BotCommandScopeDefault, Update
from telegram.error import InvalidToken, NetworkError, RetryAfter
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

from planner import bot_handlers as h
from planner import bot_texts
from planner.bot_process import InstanceLock, configure_logging
from planner.clock import Clock, SystemClock
from planner.config import Settings, load_settings
from planner.config_sections import TOKEN_VARIABLE
from planner.database import DEFAULT_BUSY_TIMEOUT, database_error
from planner.dispatch import Dispatcher, Sender
from planner.errors import DatabaseBusyError, PlannerError
from planner.feed_server import FeedService, start_feed_server
from planner.notices import Notices
from planner.senders import ConsoleSender, TelegramSender
from planner.service import Planner
from planner.store import Store, open_database
from planner.texts import LANGUAGES

log = logging.getLogger("planner.bot")
WATCH_SECONDS = 1.0
RETRY_DELAY = timedelta(seconds=5)
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


class DispatchLoop:
    """Runs the dispatcher at the next due instant through PTB's job queue (APScheduler).

    One job named ``dispatch`` is re-armed after every run for the instant the dispatcher
    asks for; a light job every second notices commits by other processes (the CLI) via
    ``PRAGMA data_version`` and runs the dispatcher at once. A run asked for while one is
    in progress is not lost: it follows as soon as the current one ends.
    """

    def __init__(self, dispatcher: Dispatcher, db: Database) -> None:
        self.dispatcher = dispatcher
        self.db = db
        self._running = asyncio.Lock()
        self._again = False
        self._version = self._data_version()
        self.ticks = 0
        """Completed dispatcher runs (tests wait for it to grow)."""
        self.app: Application[Any, Any, Any, Any, Any, Any] | None = None

    @property
    def idle(self) -> bool:
        """No run in progress, and none asked for during one that has not started yet."""
        return not self._running.locked() and not self._again

    def _data_version(self) -> int:
        return int(self.db.execute("PRAGMA data_version").fetchone()[0])

    def start(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        self.app = app
        assert app.job_queue is not None
        app.job_queue.run_repeating(self._watch, interval=WATCH_SECONDS, first=WATCH_SECONDS,
                                    name="watch-db",
                                    job_kwargs={"misfire_grace_time": None, "coalesce": True})
        self.arm(None)

    def arm(self, when: datetime | None) -> None:
        """Run the dispatcher at ``when`` (now when None), replacing the pending run.

        ``when`` is read on the dispatcher's clock and handed to the job queue as a delay,
        so the job queue's own clock only measures durations.
        """
        if self.app is None or self.app.job_queue is None:
            return
        queue = self.app.job_queue
        for job in queue.get_jobs_by_name("dispatch"):
            job.schedule_removal()
        delay = 0.0 if when is None else (when - self.dispatcher.now()).total_seconds()
        queue.run_once(self._run, when=max(delay, 0.0), name="dispatch",
                       job_kwargs={"misfire_grace_time": None, "coalesce": True})

    async def _run(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        if self._running.locked():
            self._again = True
            return
        self._again = False
        wake: datetime | None
        async with self._running:
            try:
                wake = (await self.dispatcher.tick()).wake
            except Exception as error:  # noqa: BLE001 - a failing tick must not stop the reminders
                if _is_busy(error):
                    log.warning("database busy (another program is writing); dispatching "
                                "again in %d s", RETRY_DELAY.total_seconds())
                else:
                    log.exception("dispatcher tick failed; trying again shortly")
                wake = self.dispatcher.now() + RETRY_DELAY
            finally:
                self.ticks += 1
        self.arm(None if self._again else wake)

    async def _watch(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        version = self._data_version()
        if version != self._version:
            self._version = version
            self.arm(None)


def build_application(settings: Settings, db: Database, clock: Clock,
                      sender_factory: Callable[[Any], Sender] | None = None, *,
                      feeds_from: Path | None = None
                      ) -> Application[Any, Any, Any, Any, Any, Any]:
    """The PTB application with every handler and the dispatcher wired in.

    With ``feeds_from`` (the database file) and ``[feed] serve_in_bot``, the calendar feed
    server runs on the bot's event loop too, started by ``on_start``.
    """
    bot = settings.bot
    app = (ApplicationBuilder().token(bot.token).base_url(bot.base_url)
           .base_file_url(bot.base_file_url).post_init(on_start).post_shutdown(on_stop)
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
    app.bot_data["loop"].start(app)
    service = app.bot_data.get("feed_service")
    if service is not None:
        feed = service.settings.feed
        app.bot_data["feed_runner"] = await start_feed_server(service, feed.host, feed.port)
        log.info("serving calendar feeds on %s:%s", feed.host, feed.port)


async def on_stop(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Stop the feed server with the bot (PTB's post_shutdown)."""
    runner = app.bot_data.pop("feed_runner", None)
    if runner is not None:
        await runner.cleanup()
    service = app.bot_data.pop("feed_service", None)
    if service is not None:
        service.close()


def _is_busy(error: BaseException) -> bool:
    """A database locked by another writer past the busy timeout: normal, retried later."""
    if isinstance(error, DatabaseBusyError):
        return True
    return (isinstance(error, sqlite3.OperationalError)
            and isinstance(database_error(error, ""), DatabaseBusyError))


async def _on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    error = context.error
    if error is not None and _is_busy(error):
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
    args = _parse(argv)
    try:
        settings = load_settings(args.config)
        path = Path(args.db) if args.db else settings.database
        if not args.console and not settings.bot.token:
            print(NO_TOKEN, file=sys.stderr)  # noqa: T201 - the bot's command line
            return 2
        db = open_bot_database(path, settings.busy_timeout)  # before a lock file is made
        lock = InstanceLock(path)
        try:
            lock.acquire()
        except PlannerError:
            db.close()
            raise
    except PlannerError as error:
        print(f"Error: {error}", file=sys.stderr)  # noqa: T201
        return 2
    configure_logging(settings.bot.token)
    try:
        if args.console:
            log.info("console mode: messages are printed, not sent")
            asyncio.run(run_console(settings, db, SystemClock(), sys.stdout))
        else:
            app = build_application(settings, db, SystemClock(), feeds_from=path)
            log.info("bot starting (polling)")
            app.run_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
    except KeyboardInterrupt:
        pass
    except InvalidToken:
        log.error("Telegram refused the bot token: check %s or [bot] token (a token looks "
                  "like 123456:ABC-..., from @BotFather)", TOKEN_VARIABLE)
        return 2
    except NetworkError as error:
        log.error("cannot reach Telegram at %s: %s", settings.bot.base_url, error)
        return 1
    finally:
        lock.release()
    return 0

