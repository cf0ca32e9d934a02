"""The two ways messages leave the dispatcher: Telegram, or the console for a dry run.

``TelegramSender`` sorts python-telegram-bot's exceptions into the dispatcher's
``SendFailure`` kinds. Order matters: ``BadRequest`` and ``TimedOut`` are subclasses of
``NetworkError``, so they are caught first.
"""

from __future__ import annotations

import html
import re
import warnings
from datetime import timedelta
from typing import IO, Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.warnings import PTBDeprecationWarning

from planner.channels.dispatch import SendFailure
from planner.texts.html import split_message

_TAG = re.compile(r"<[^>]+>")


def keyboard(buttons: list[list[str]] | None) -> InlineKeyboardMarkup | None:
    """One big button per row: easier to press for elderly patients."""
    if not buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data)]
                                 for label, data in buttons])


def _retry_after(error: RetryAfter) -> float:
    """Seconds to wait, whether PTB gives an int (deprecated) or a timedelta (PTB_TIMEDELTA)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramSender:
    """Sends through a python-telegram-bot ``Bot`` (the bot's own, with its base URL).

    ``read_timeout`` (seconds) is how long to wait for Telegram's answer before the send
    counts as timed out (PTB's default, 5 s, when None); a timed-out message may still have
    been delivered, and is retried: a rare duplicate rather than a missed reminder.
    """

    def __init__(self, bot: Bot, redact: str = "", read_timeout: float | None = None) -> None:
        self.bot = bot
        self.redact = redact
        # Passed only when given: PTB reads an explicit None as "wait forever".
        self._options: dict[str, Any] = ({} if read_timeout is None
                                         else {"read_timeout": read_timeout})

    async def send(self, chat_id: int, text: str, buttons: list[list[str]] | None) -> int:
        parts = split_message(text)
        message_id = 0
        for index, part in enumerate(parts):
            markup = keyboard(buttons) if index == len(parts) - 1 else None
            message_id = await self._send_part(chat_id, part, markup)
        return message_id

    async def _send_part(self, chat_id: int, text: str,
                         markup: InlineKeyboardMarkup | None) -> int:
        try:
            message = await self.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML,
                                                  reply_markup=markup, **self._options)
        except RetryAfter as error:
            raise SendFailure("retry_after", self._clean(error), _retry_after(error)) from None
        except Forbidden as error:
            raise SendFailure("blocked", self._clean(error)) from None
        except BadRequest as error:
            kind = "blocked" if "chat not found" in error.message.lower() else "rejected"
            raise SendFailure(kind, self._clean(error)) from None
        except ChatMigrated as error:
            raise SendFailure("rejected", self._clean(error)) from None
        except TimedOut as error:
            raise SendFailure("transient", f"timed out: {self._clean(error)}") from None
        except NetworkError as error:
            raise SendFailure("transient", self._clean(error)) from None
        return int(message.message_id)

    async def edit(self, chat_id: int, message_id: int, text: str) -> int:
        """Rewrite a message sent earlier and remove its buttons. A message Telegram can
        no longer edit (deleted, too old, unchanged) is left as it is: not a failure."""
        try:
            await self.bot.edit_message_text(text, chat_id=chat_id, message_id=message_id,
                                             parse_mode=ParseMode.HTML, reply_markup=None,
                                             **self._options)
        except BadRequest as error:
            if "chat not found" in error.message.lower():
                raise SendFailure("blocked", self._clean(error)) from None
            return message_id
        except Forbidden as error:
            raise SendFailure("blocked", self._clean(error)) from None
        except RetryAfter as error:
            raise SendFailure("retry_after", self._clean(error), _retry_after(error)) from None
        except NetworkError as error:
            raise SendFailure("transient", self._clean(error)) from None
        return message_id

    def _clean(self, error: Exception) -> str:
        text = str(error)
        return text.replace(self.redact, "<token>") if self.redact else text


class ConsoleSender:
    """Prints each message instead of sending it: the whole flow without a token."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.count = 0

    async def send(self, chat_id: int, text: str, buttons: list[list[str]] | None) -> int:
        self.count += 1
        plain = html.unescape(_TAG.sub("", text))
        self.out.write(f"--- message {self.count} to chat {chat_id} ---\n{plain}\n")
        for label, _ in buttons or []:
            self.out.write(f"  [{label}]\n")
        self.out.flush()
        return self.count

    async def edit(self, chat_id: int, message_id: int, text: str) -> int:
        """Prints the new text of a message sent earlier (its buttons are gone)."""
        plain = html.unescape(_TAG.sub("", text))
        self.out.write(f"--- message {message_id} to chat {chat_id} is now ---\n{plain}\n")
        self.out.flush()
        return message_id
