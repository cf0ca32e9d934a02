"""Telegram as a channel: sends and edits through python-telegram-bot's ``Bot``.

``TelegramSender`` sorts python-telegram-bot's exceptions into the channel's
``SendFailure`` kinds. Order matters: ``BadRequest`` and ``TimedOut`` are subclasses of
``NetworkError``, so they are caught first.
"""

from __future__ import annotations

import warnings
from datetime import timedelta
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.warnings import PTBDeprecationWarning

from planner.channels.channel import SendFailure
from planner.texts.html import split_message


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
        with warnings.catch_warnings():  # RetryAfter's text reads its deprecated int field
            warnings.simplefilter("ignore", PTBDeprecationWarning)
            text = str(error)
        return text.replace(self.redact, "<token>") if self.redact else text
