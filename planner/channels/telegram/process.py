"""Process plumbing for the bot: logs that never show the token, one bot per database.

The token would otherwise leak through httpx, which logs every request URL (the token is
in it) at INFO. Two bots polling the same database would make Telegram answer 409 and
could send reminders twice, so a lock file held for the life of the process keeps a
second one out; the operating system drops it when the process dies, even on SIGKILL.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import sys
from pathlib import Path
from typing import IO, Any

from planner.core.errors import InputError, PlannerError

TOKEN_SHAPE = re.compile(r"[0-9]+:[A-Za-z0-9_-]{30,}")
"""What @BotFather hands out: the bot's number, a colon, then 30 or more letters, digits,
``_`` or ``-`` (35 today)."""
SHORTEST_REDACTED = 16
"""Shorter strings are never redacted: no real token is that short, and replacing a short
one (a space, a digit) would garble every log line without hiding anything."""


def check_token(token: str, source: str) -> str:
    """The token without surrounding whitespace (a pasted token often ends in a newline).

    Raises ``InputError`` naming ``source`` (where the token came from) when it cannot be a
    token, before Telegram is contacted; the token itself is never shown.
    """
    clean = token.strip()
    if not TOKEN_SHAPE.fullmatch(clean):
        raise InputError(
            f"{source}: this is not a Telegram bot token (a token looks like "
            "123456789:AAE..., digits, a colon and 35 letters, digits, _ or -; get one "
            "from @BotFather with /newbot or /token)")
    return clean


class RedactToken(logging.Filter):
    """Replaces the token in a record's message, traceback and stack (the record is changed
    in place, so every handler that sees it afterwards sees it redacted).

    A blank or short string (``SHORTEST_REDACTED``) is never redacted: it cannot be a
    token, and every occurrence of it in every line would be replaced.
    """

    def __init__(self, token: str) -> None:
        super().__init__()
        clean = token.strip()
        self.token = clean if len(clean) >= SHORTEST_REDACTED else ""

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.token:
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is logging's to report, not ours
            return True
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "<token>"), ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        for name in ("exc_text", "stack_info"):
            value = getattr(record, name, None)
            if value and self.token in value:
                setattr(record, name, value.replace(self.token, "<token>"))
        return True


def configure_logging(token: str, stream: IO[str] | None = None) -> logging.Handler:
    """Log to ``stream`` (stderr) at INFO, with the token redacted from every record.

    The redaction happens when a record is made (a record factory), not only in the
    handler returned here: a filter on one handler would leave the token in the records
    other handlers get (pytest's capture, a syslog handler added later). httpx, httpcore
    and APScheduler are quieted to WARNING (httpx logs every URL, which holds the token).
    """
    redact = RedactToken(token)
    previous = logging.getLogRecordFactory()

    def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redact.filter(record)
        return record

    logging.setLogRecordFactory(redacting_factory)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(redact)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for noisy in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler


class InstanceLock:
    """An exclusive lock on ``<database>.lock``; the OS drops it when the process dies."""

    def __init__(self, database: Path) -> None:
        self.path = Path(f"{database}.lock")
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        try:
            handle = self.path.open("a+")
        except OSError as error:
            raise PlannerError(f"cannot create the lock file {self.path}: "
                               f"{error.strerror}") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise PlannerError(
                f"another bot is already running on this database ({self.path} is locked); "
                "stop it first: two bots would answer each other's messages and could send "
                "reminders twice") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
