"""The console as a channel: prints each message instead of sending it (a dry run of the
whole flow without a token, ``python bot.py --console``)."""

from __future__ import annotations

import html
import re
from typing import IO

_TAG = re.compile(r"<[^>]+>")


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
