"""The seam between the dispatcher and a messenger: what a channel must do.

The dispatcher, the outbox and the texts know nothing of Telegram. A channel (Telegram,
the console for a dry run; later LINE) is a module of its own that implements
:class:`Channel` and sorts its library's errors into the :class:`SendFailure` kinds, which
tell the dispatcher what to do: wait, retry, stop sending to the chat (it cannot be
reached: the person blocked the bot or the chat is gone), or give up on this message.
Pressing a button under a message is the channel's own business: it arrives as an update
in that channel's handlers, which record the answer through the service.
"""

from __future__ import annotations

from typing import Protocol

RETRY_AFTER = "retry_after"
"""The messenger asked for silence for ``retry_after`` seconds (flood control)."""
TRANSIENT = "transient"
"""Timeouts, server errors, a lost connection: try again later, with backoff."""
BLOCKED = "blocked"
"""The chat cannot be reached (blocked, deleted): stop sending to it and tell staff."""
REJECTED = "rejected"
"""The messenger refused this one message: record it and tell staff, never retry."""


class SendFailure(Exception):
    """Why a message did not go out, sorted into what to do about it (``kind`` is one of
    RETRY_AFTER, TRANSIENT, BLOCKED, REJECTED)."""

    def __init__(self, kind: str, reason: str, retry_after: float = 0.0) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.retry_after = retry_after


class Channel(Protocol):
    """A messenger as the dispatcher sees it. Texts arrive as the catalogue renders them
    (Telegram HTML today: a channel without markup strips the tags); ``buttons`` are
    (label, data) pairs, one per row."""

    async def send(self, chat_id: int, text: str, buttons: list[list[str]] | None) -> int:
        """Send one message (split as the channel needs); return the channel's message id,
        or raise SendFailure. A chat that cannot be reached raises kind BLOCKED."""
        ...

    async def edit(self, chat_id: int, message_id: int, text: str) -> int:
        """Rewrite a message sent earlier and remove its buttons (a reminder whose visit
        changed); a message the channel can no longer edit is left as it is, which is not
        a failure. Returns the message id."""
        ...


Sender = Channel
"""The name the dispatcher used before the seam had its own module."""
