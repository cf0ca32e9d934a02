"""Telegram's sending limits as the bot keeps them, and their record in the database.

Kept rather than hit: a global rate (``messages_per_second``) and a gap per chat
(``seconds_between_messages_to_one_chat``). A flood wait Telegram asked for (429,
``retry_after``) and each chat's next allowed instant are stored with the message they
came from, so a bot restarted a second later still waits: without this it would start
with a clean slate and send a burst inside Telegram's wait, or two messages to one chat
a fraction of a second apart.
"""

from __future__ import annotations

import math
from collections import deque
from datetime import UTC, datetime, timedelta

from sqlite_utils import Database

WINDOW = timedelta(seconds=1)
REPLY_ROOM = 2
KEEP_CHAT_GAPS = timedelta(minutes=1)
"""Stored per-chat instants older than this are deleted when the limits are loaded."""


class RateLimiter:
    """A global rate and a gap per chat: pure bookkeeping on instants given by the caller,
    so tests need no sleeping.

    The global gap (``1 / per_second``) counts from the instant the previous message was
    allowed to go, not from when it went, if it went at most an eighth of a gap late: the
    dispatcher wakes a few milliseconds after the instant asked for, and without this each
    such delay would lengthen a gap (at 29 a second, 3 ms late per message costs 2.5
    messages a second). A message sent later than that, or after a quiet spell, is
    followed by a whole gap. On top of the gaps, no second (a sliding window over the
    instants messages went) holds more than ``per_second - 1`` messages (28 at the
    default 29): sends are in flight together, each on its own connection, and their
    arrival at Telegram bunches up by tens of milliseconds (measured against the fake
    Bot API: up to 75 ms), so the window keeps two messages of room below Telegram's 30,
    which answers to commands may use (``reply_window_open``).
    The gap per chat always counts from when the message went.
    """

    def __init__(self, per_second: float, chat_interval: float) -> None:
        self.spacing = timedelta(seconds=1.0 / per_second)
        self.catch_up = self.spacing / 8
        self.chat_interval = timedelta(seconds=chat_interval)
        self.per_window = max(1, math.ceil(per_second) - 1)
        self._next_slot = datetime.min.replace(tzinfo=UTC)
        self._paused_until = self._next_slot
        self._recent: deque[datetime] = deque()
        self._next_chat: dict[int, datetime] = {}

    @property
    def next_any(self) -> datetime:
        """The earliest instant any message may go (the gap, the window, a flood wait)."""
        return max(self._next_slot, self.window_open)

    @property
    def window_open(self) -> datetime:
        """The earliest instant the window and a flood wait allow a message."""
        return self._window_open(self.per_window)

    @property
    def reply_window_open(self) -> datetime:
        """The same for a reply, which may use the room the window keeps (up to
        ``per_second + 1`` in a second, Telegram's 30): a person is waiting for it."""
        return self._window_open(self.per_window + REPLY_ROOM)

    def _window_open(self, capacity: int) -> datetime:
        if len(self._recent) < capacity:
            return self._paused_until
        return max(self._paused_until, self._recent[-capacity] + WINDOW)

    def ready_at(self, chat_id: int) -> datetime:
        soonest = self.next_any
        return max(soonest, self._next_chat.get(chat_id, soonest))

    def record(self, chat_id: int, now: datetime) -> None:
        slightly_late = self._next_slot <= now <= self._next_slot + self.catch_up
        start = self._next_slot if slightly_late else now
        self._next_slot = max(self._next_slot, start + self.spacing)
        self._recent.append(now)
        while self._recent and (self._recent[0] <= now - WINDOW
                                or len(self._recent) > self.per_window + REPLY_ROOM):
            self._recent.popleft()
        self._next_chat[chat_id] = now + self.chat_interval
        if len(self._next_chat) > 10_000:
            self._next_chat = {c: t for c, t in self._next_chat.items() if t > now}

    def pause(self, until: datetime) -> None:
        """Hold every message back (after a 429) until ``until``."""
        self._paused_until = max(self._paused_until, until)
        self._next_slot = max(self._next_slot, until)

    def hold_chat(self, chat_id: int, until: datetime) -> None:
        """Nothing more to ``chat_id`` before ``until`` (a gap remembered from before)."""
        self._next_chat[chat_id] = max(until, self._next_chat.get(chat_id, until))


class StoredLimits:
    """The flood wait and the per-chat gaps in the database (tables ``flood_wait`` and
    ``chat_gaps``); written in the transaction that records the message's outcome."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def save_pause(self, until: datetime) -> None:
        self.db.execute(
            "INSERT INTO flood_wait (id, until_ts) VALUES (1, ?) ON CONFLICT (id)"
            " DO UPDATE SET until_ts = MAX(until_ts, excluded.until_ts)", [until.timestamp()])

    def save_chat(self, chat_id: int, until: datetime) -> None:
        self.db.execute(
            "INSERT INTO chat_gaps (chat_id, next_ts) VALUES (?, ?) ON CONFLICT (chat_id)"
            " DO UPDATE SET next_ts = MAX(next_ts, excluded.next_ts)",
            [chat_id, until.timestamp()])

    def load(self, limiter: RateLimiter, now: datetime) -> None:
        """Put the stored waits still running at ``now`` into ``limiter``.

        A chat's stored instant is never taken as more than one gap ahead of ``now``: a
        later one means the system clock was set back since, and the gap has passed.
        """
        row = self.db.execute("SELECT until_ts FROM flood_wait WHERE id = 1").fetchone()
        if row is not None:
            limiter.pause(datetime.fromtimestamp(row[0], UTC))
        latest = now + limiter.chat_interval
        for chat_id, next_ts in self.db.execute(
                "SELECT chat_id, next_ts FROM chat_gaps WHERE next_ts > ?", [now.timestamp()]):
            limiter.hold_chat(chat_id, min(latest, datetime.fromtimestamp(next_ts, UTC)))
        with self.db.atomic():
            self.db.execute("DELETE FROM chat_gaps WHERE next_ts < ?",
                            [(now - KEEP_CHAT_GAPS).timestamp()])
