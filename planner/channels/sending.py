"""Messages on their way: sends in flight together, within Telegram's limits, and what
each answer means for the outbox.

Each send runs in its own task, up to ``MAX_IN_FLIGHT`` at once and never two to one
chat, so a slow or hanging answer holds back only its own chat. A message is read just
before it goes and checked for usefulness then (not when the burst it belongs to began):
one whose moment has passed is skipped with the reason. The outcome is committed as soon
as the answer comes, with the chat's next allowed instant and any flood wait
(``planner.channels.limits``), so a restarted bot keeps to both.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlite_utils import Database

from planner.channels.channel import Sender, SendFailure
from planner.channels.limits import RateLimiter, StoredLimits
from planner.clock import Clock
from planner.store.links import Links
from planner.store.outbox import Delivery, Outbox

log = logging.getLogger("planner.channels.dispatch")

ALERT_ROLES = ("nurse", "reception")
MAX_BACKOFF = timedelta(minutes=10)
FIRST_BACKOFF = timedelta(seconds=5)
MAX_ATTEMPTS_WITHOUT_EXPIRY = 20
MAX_IN_FLIGHT = 30
"""Sends awaiting Telegram's answer at once: a second's worth at Telegram's 30/s."""
CLOSE_GRACE = 5.0
"""Seconds a stopping bot waits for the sends in flight (PTB's read timeout) before it
cancels them; a cancelled one stays pending and goes out after the restart."""
TOO_LATE = "too late to be useful by the time its turn came (a burst or a flood wait)"


@dataclass
class TickResult:
    sent: int = 0
    failed: int = 0
    wake: datetime | None = None


class SendQueue:
    """The sends in flight, the limiter they keep to, and the record of their outcomes."""

    def __init__(self, db: Database, sender: Sender, clock: Clock, limiter: RateLimiter) -> None:
        self.db = db
        self.sender = sender
        self.clock = clock
        self.outbox = Outbox(db)
        self.links = Links(db)
        self.stored = StoredLimits(db)
        self.limiter = limiter
        self.stored.load(limiter, clock.now())
        self.chats: dict[int, asyncio.Task[None]] = {}
        """Chat id -> its send in flight."""
        self.on_settled: Callable[[], None] | None = None
        """Called when a send ends and something may be due because of it: a failure (the
        limits changed), or another message waiting for the same chat (held back while this
        one was in flight)."""

    @property
    def full(self) -> bool:
        return len(self.chats) >= MAX_IN_FLIGHT

    async def wait_for_room(self) -> None:
        """Until fewer than ``MAX_IN_FLIGHT`` sends are in flight."""
        while self.full:
            await asyncio.wait(set(self.chats.values()), return_when=asyncio.FIRST_COMPLETED)

    def launch(self, delivery_id: int, result: TickResult) -> bool:
        """Start sending the message if it still waits and is still useful; False if not.

        A change committed on another connection since the due list was read may have
        skipped it; one whose useful moment has passed is skipped here, with the reason.
        """
        now = self.clock.now()
        delivery = self.outbox.pending_delivery(delivery_id)
        if delivery is None:
            return False
        if delivery.expires_ts is not None and delivery.expires_ts <= int(now.timestamp()):
            with self.db.atomic():
                self.outbox.skip_delivery(delivery, TOO_LATE, now)
                if delivery.attempts > 0:
                    self.alert_failure(delivery, "too late after failed attempts", now)
            return False
        self.limiter.record(delivery.chat_id, now)
        task = asyncio.get_running_loop().create_task(self._send_one(delivery, now, result))
        self.chats[delivery.chat_id] = task
        return True

    async def settle(self) -> None:
        """Until every send in flight has its answer (or has failed)."""
        while self.chats:
            await asyncio.wait(set(self.chats.values()))

    async def close(self) -> None:
        """Let the sends in flight finish for ``CLOSE_GRACE`` seconds, then cancel the
        rest (their messages stay pending: a rare duplicate rather than a lost one)."""
        tasks = set(self.chats.values())
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=CLOSE_GRACE)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)

    async def _send_one(self, delivery: Delivery, launched: datetime,
                        result: TickResult) -> None:
        failed = True
        try:
            message_id = await self._transmit(delivery)
        except SendFailure as failure:
            self._record_failure(delivery, failure, launched)
        except Exception as error:  # noqa: BLE001 - one bad message must not stop the rest
            kind = type(error).__name__
            log.warning("message %s: unexpected %s from the sender; retrying later",
                        delivery.id, kind, exc_info=True)
            self._record_failure(delivery, SendFailure("transient", f"unexpected error: {kind}"),
                                 launched)
        else:
            # A crash here, before the commit below, sends this one message again on restart.
            self._record_sent(delivery, message_id, launched)
            failed = False
        finally:
            self.chats.pop(delivery.chat_id, None)
        result.failed += failed
        result.sent += not failed
        if self.on_settled is not None and (failed or self.outbox.waiting(delivery.chat_id)):
            self.on_settled()

    async def _transmit(self, delivery: Delivery) -> int:
        """Send the message, or for an ``edit`` rewrite the one sent earlier (a reminder whose
        visit changed: struck through, its buttons gone)."""
        if delivery.edit_message_id is None:
            return await self.sender.send(delivery.chat_id, delivery.text, delivery.buttons)
        return await self.sender.edit(delivery.chat_id, delivery.edit_message_id, delivery.text)

    def _record_sent(self, delivery: Delivery, message_id: int, launched: datetime) -> None:
        with self.db.atomic():
            self.outbox.mark_sent(delivery, message_id, self.clock.now())
            self.stored.save_chat(delivery.chat_id, launched + self.limiter.chat_interval)

    def _record_failure(self, delivery: Delivery, failure: SendFailure,
                        launched: datetime) -> None:
        now = self.clock.now()
        with self.db.atomic():
            self.stored.save_chat(delivery.chat_id, launched + self.limiter.chat_interval)
            if failure.kind == "retry_after":
                until = now + timedelta(seconds=max(failure.retry_after, 1.0))
                self.limiter.pause(until)
                self.stored.save_pause(until)
                self.outbox.mark_retry(delivery, failure.reason, until, now, count=False)
            elif failure.kind == "transient":
                self._retry_later(delivery, failure, now)
            elif failure.kind == "blocked":
                self.outbox.mark_failed(delivery, failure.reason, now)
                self._unreachable(delivery.chat_id, failure.reason, now)
            else:
                self.outbox.mark_failed(delivery, failure.reason, now)
                self.alert_failure(delivery, failure.reason, now)

    def _retry_later(self, delivery: Delivery, failure: SendFailure, now: datetime) -> None:
        if delivery.expires_ts is None and delivery.attempts + 1 >= MAX_ATTEMPTS_WITHOUT_EXPIRY:
            self.outbox.mark_failed(delivery, failure.reason, now)
            self.alert_failure(delivery, failure.reason, now)
            return
        backoff = min(MAX_BACKOFF, FIRST_BACKOFF * (3 ** delivery.attempts))
        # Backoff counts from the whole second of the failure: the outbox keeps seconds.
        self.outbox.mark_retry(delivery, failure.reason, now.replace(microsecond=0) + backoff,
                               now)

    def _unreachable(self, chat_id: int, reason: str, now: datetime) -> None:
        chat = self.links.mark_unreachable(chat_id, reason, now)
        self.outbox.skip_chat(chat_id, f"chat unreachable: {reason}", now)
        if chat is not None:
            self.outbox.add_alert("unreachable", ALERT_ROLES,
                                  {"reason": reason, "chat_id": chat_id,
                                   "family_name": chat.family_name,
                                   "staff_id": chat.staff_id},
                                  now, patient_id=chat.patient_id)

    def alert_failure(self, delivery: Delivery, reason: str, now: datetime) -> None:
        """Tell staff a reminder did not reach its patient (alerts about alerts: never)."""
        if delivery.purpose != "reminder" or delivery.reminder_id is None:
            return
        row = self.db.execute(
            "SELECT r.event_id, c.patient_id FROM reminders r JOIN events e ON e.id = r.event_id"
            " JOIN courses c ON c.id = e.course_id WHERE r.id = ?",
            [delivery.reminder_id]).fetchone()
        if row is not None:
            self.outbox.add_alert("delivery_failed", ALERT_ROLES,
                                  {"reason": reason, "reminder_id": delivery.reminder_id},
                                  now, event_id=row[0], patient_id=row[1])
