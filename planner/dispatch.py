"""The dispatcher: turns due reminders, alerts and digests into messages and sends them.

``Dispatcher.tick()`` does everything that is due at the clock's "now" and returns when
it next needs to run; the bot's job queue (or a test) calls it again then. The database
is the only record of what is due and what was sent, so a restart simply runs ``tick``.

Exactly-once, as far as it goes: each message is sent, then marked sent in its own
commit, one message at a time. A crash between Telegram accepting a message and that
commit (the window is between ``sender.send`` and ``_record_sent`` in ``_send_one``) makes
that one message go out again after the restart; nothing is lost. A timeout on send is
also ambiguous (Telegram may have delivered it): it is retried, preferring a rare
duplicate to a missed reminder. An unexpected exception from the sender is treated as a
transient failure of that one message (recorded by type only, as its text might carry
the token), so one bad message cannot hold back the rest of the outbox.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from planner import alerts
from planner.calendar import ClinicCalendar
from planner.clock import Clock
from planner.config import Settings
from planner.links import Chat, Links
from planner.notices import Notices
from planner.outbox import Delivery, Outbox
from planner.reminders import CHECK_IN_SUFFIX, digest_instant

log = logging.getLogger("planner.dispatch")

PATIENT_SIDE = ("patient", "family")
ALERT_ROLES = ("nurse", "reception")
MAX_BACKOFF = timedelta(minutes=10)
FIRST_BACKOFF = timedelta(seconds=5)
MAX_ATTEMPTS_WITHOUT_EXPIRY = 20
SEND_BATCH = 200


class SendFailure(Exception):
    """Why a message did not go out, sorted into what to do about it.

    ``kind`` is ``retry_after`` (Telegram's flood control: wait ``retry_after`` seconds),
    ``transient`` (timeouts, 5xx, connection errors: retry with backoff), ``blocked``
    (the user blocked the bot or the chat is gone: stop sending to it) or ``rejected``
    (Telegram refused this message: record and tell staff, never retry).
    """

    def __init__(self, kind: str, reason: str, retry_after: float = 0.0) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.retry_after = retry_after


class Sender(Protocol):
    async def send(self, chat_id: int, text: str, buttons: list[list[str]] | None) -> int:
        """Send one HTML message; return Telegram's message id or raise SendFailure."""
        ...


class RateLimiter:
    """Telegram's limits, kept rather than hit: a global rate and a gap per chat.

    Pure bookkeeping on instants given by the caller, so tests need no sleeping.

    The global gap (``1 / per_second``) counts from the instant the previous message was
    allowed to go, not from when it went, if it went at most an eighth of a gap late: the
    job queue wakes the dispatcher a few milliseconds after the instant asked for, and
    without this each such delay would lengthen a gap (at 29 a second, 3 ms late per
    message costs 2.5 messages a second). A message sent later than that, or after a quiet
    spell, is followed by a whole gap. The lateness taken back never adds up, so no second
    holds more than ``per_second + 1.125`` messages (30 at the default 29). The gap per
    chat always counts from when the message went.
    """

    def __init__(self, per_second: float, chat_interval: float) -> None:
        self.spacing = timedelta(seconds=1.0 / per_second)
        self.catch_up = self.spacing / 8
        self.chat_interval = timedelta(seconds=chat_interval)
        self._next_any = datetime.min.replace(tzinfo=UTC)
        self._next_chat: dict[int, datetime] = {}

    def ready_at(self, chat_id: int) -> datetime:
        return max(self._next_any, self._next_chat.get(chat_id, self._next_any))

    def record(self, chat_id: int, now: datetime) -> None:
        slightly_late = self._next_any <= now <= self._next_any + self.catch_up
        start = self._next_any if slightly_late else now
        self._next_any = max(self._next_any, start + self.spacing)
        self._next_chat[chat_id] = now + self.chat_interval
        if len(self._next_chat) > 10_000:
            self._next_chat = {c: t for c, t in self._next_chat.items() if t > now}

    def pause(self, until: datetime) -> None:
        """Hold every message back (after a 429) until ``until``."""
        self._next_any = max(self._next_any, until)


@dataclass
class TickResult:
    sent: int = 0
    failed: int = 0
    wake: datetime | None = None


class Dispatcher:
    """Reminders, alerts and digests out of the database and into chats."""

    def __init__(self, db: Database, settings: Settings, sender: Sender, clock: Clock) -> None:
        self.db = db
        self.settings = settings
        self.sender = sender
        self.clock = clock
        self.outbox = Outbox(db)
        self.links = Links(db)
        self.notices = Notices(db, settings)
        self.tz = ZoneInfo(settings.clinic.timezone)
        self.calendar = ClinicCalendar(settings.clinic)
        bot = settings.bot
        self.limiter = RateLimiter(bot.messages_per_second,
                                   bot.seconds_between_messages_to_one_chat)

    def now(self) -> datetime:
        return self.clock.now()

    async def tick(self) -> TickResult:
        """Do what is due now; ``wake`` in the result says when to run again."""
        now = self.now()
        with self.db.atomic():
            for delivery in self.outbox.skip_stale(now):
                self._alert_failure(delivery, "too late after failed attempts", now)
        await self._queue_due_reminders(now)
        self._queue_alerts(now)
        self._queue_digests(now)
        result = await self._send_due()
        result.wake = self._next_wake(result.wake)
        return result

    # -- from reminders to messages ------------------------------------------------------

    async def _queue_due_reminders(self, now: datetime) -> None:
        """Turn due reminders into messages, 500 to a transaction; between two of them
        the bot may answer its chats (10,000 reminders due at once take seconds)."""
        while True:
            due = self.outbox.due_reminders(now, limit=500)
            if not due:
                return
            with self.db.atomic():
                for row in due:
                    self._queue_reminder(row, now)
            await asyncio.sleep(0)

    def _queue_reminder(self, row: dict[str, object], now: datetime) -> None:
        reminder_id = int(str(row["reminder_id"]))
        if not self.outbox.claim_reminder(reminder_id, now):
            return  # superseded by a change since it was read
        audience = str(row["audience"])
        chats = self._chats_for(audience, int(str(row["patient_id"])))
        if not chats:
            self.outbox.fail_reminder(reminder_id, "no linked chat", now)
            # A family rule without family chats is no problem, nor a check-in nobody gets.
            if audience == "patient" and not str(row["rule"]).endswith(CHECK_IN_SUFFIX):
                self.outbox.add_alert("no_chat", ALERT_ROLES, {"reminder_id": reminder_id},
                                      now, event_id=int(str(row["event_id"])),
                                      patient_id=int(str(row["patient_id"])))
            return
        messages = [(chat.chat_id, self.notices.reminder(row, chat),
                     self.notices.reminder_buttons(row, chat)) for chat in chats]
        self.outbox.queue(reminder_id, None, "reminder", messages, now,
                          int(str(row["expires_ts"])))

    def _chats_for(self, audience: str, patient_id: int) -> list[Chat]:
        if audience == "patient":
            return self.links.patient_chats(patient_id)
        if audience == "family":
            return self.links.patient_chats(patient_id, family_only=True)
        return self.links.staff_chats((audience,))

    def _queue_alerts(self, now: datetime) -> None:
        for alert in self.outbox.pending_alerts():
            first = alerts.earlier_today(self.db, alert, self.tz)
            if first is None and self._digest_covers(alert):
                first = alerts.told_before(self.db, alert)
            if first is not None:  # staff heard of this already; the digest lists it
                with self.db.atomic():
                    alerts.close_as_repeat(self.db, int(alert["id"]), first)
                continue
            roles = tuple(r for r in str(alert["roles"]).split(",") if r)
            chats = self.links.staff_chats(roles)
            with self.db.atomic():
                if chats:
                    messages = [(c.chat_id, self.notices.alert(alert, c), None) for c in chats]
                    self.outbox.queue(None, int(alert["id"]), "alert", messages, now, None)
                self.outbox.close_alert(int(alert["id"]), delivered=bool(chats))

    def _digest_covers(self, alert: dict[str, object]) -> bool:
        """Whether every role the alert is for gets the morning digest."""
        roles = {r for r in str(alert["roles"]).split(",") if r}
        return bool(roles) and roles <= set(self.settings.reminders.digest_roles)

    def _queue_digests(self, now: datetime) -> None:
        today = now.astimezone(self.tz).date()
        if now < digest_instant(today, self.settings.reminders, self.settings.clinic.timezone):
            return
        if self.calendar.closed_reason(today) is not None:
            return  # no digest on a day the clinic is closed
        for role in self.settings.reminders.digest_roles:
            chats = self.links.staff_chats((role,))
            if not chats:
                continue
            with self.db.atomic():
                if not self.outbox.claim_digest(today.isoformat(), role, now):
                    continue
                messages = [(c.chat_id, self.notices.digest(role, today, c), None)
                            for c in chats]
                end_of_day = datetime.combine(today + timedelta(days=1), datetime.min.time(),
                                              tzinfo=self.tz)
                self.outbox.queue(None, None, "digest", messages, now, int(end_of_day.timestamp()))

    def _next_digest(self) -> datetime | None:
        """The next morning digest, if any staff chat of a digest role is linked."""
        policy, zone = self.settings.reminders, self.settings.clinic.timezone
        if not self.links.staff_chats(policy.digest_roles):
            return None
        now = self.now()
        today = now.astimezone(self.tz).date()
        at = digest_instant(today, policy, zone)
        return at if at > now else digest_instant(today + timedelta(days=1), policy, zone)

    def _next_wake(self, limiter_wake: datetime | None) -> datetime | None:
        """When to tick again: never in the past while the limiter holds messages back.

        Messages already due but held by the rate limiter are covered by ``limiter_wake``;
        counting their (past) due instants too would make the caller spin until then.
        """
        now = self.now()
        outbox_wake = self.outbox.next_wake()
        if outbox_wake is not None and outbox_wake <= now and limiter_wake is not None:
            outbox_wake = None
        candidates = [t for t in (limiter_wake, outbox_wake, self._next_digest())
                      if t is not None]
        if self.outbox.pending_alerts():
            candidates.append(now)
        return max(now, min(candidates)) if candidates else None

    # -- sending -------------------------------------------------------------------------

    async def _send_due(self) -> TickResult:
        """Send what is due, one message at a time, within the rate limits.

        The limits are applied to the due messages' chats; a message itself is read just
        before it is sent, and only if it still waits: a change committed on another
        connection while earlier messages were being sent may have skipped it.
        """
        result = TickResult()
        while True:
            now = self.now()
            due = self.outbox.due_chats(now, SEND_BATCH)
            if not due:
                return result
            ready = [(d, chat) for d, chat in due if self.limiter.ready_at(chat) <= now]
            if not ready:
                result.wake = min(self.limiter.ready_at(chat) for _, chat in due)
                return result
            for delivery_id, chat_id in _one_per_chat(ready):
                if self.limiter.ready_at(chat_id) > self.now():
                    break
                delivery = self.outbox.pending_delivery(delivery_id)
                if delivery is None:
                    continue
                if await self._send_one(delivery):
                    result.sent += 1
                else:
                    result.failed += 1

    async def _send_one(self, delivery: Delivery) -> bool:
        now = self.now()
        self.limiter.record(delivery.chat_id, now)
        try:
            message_id = await self._transmit(delivery)
        except SendFailure as failure:
            self._record_failure(delivery, failure)
            return False
        except Exception as error:  # noqa: BLE001 - one bad message must not stop the rest
            kind = type(error).__name__
            log.warning("message %s: unexpected %s from the sender; retrying later",
                        delivery.id, kind, exc_info=True)
            self._record_failure(delivery, SendFailure("transient", f"unexpected error: {kind}"))
            return False
        # A crash here, before the commit below, sends this one message again on restart.
        self._record_sent(delivery, message_id)
        return True

    async def _transmit(self, delivery: Delivery) -> int:
        """Send the message, or for an ``edit`` rewrite the one sent earlier (a sender
        that cannot edit leaves it as it is)."""
        if delivery.edit_message_id is None:
            return await self.sender.send(delivery.chat_id, delivery.text, delivery.buttons)
        edit = getattr(self.sender, "edit", None)
        if edit is None:
            return delivery.edit_message_id
        return int(await edit(delivery.chat_id, delivery.edit_message_id, delivery.text))

    def _record_sent(self, delivery: Delivery, message_id: int) -> None:
        with self.db.atomic():
            self.outbox.mark_sent(delivery, message_id, self.now())

    def _record_failure(self, delivery: Delivery, failure: SendFailure) -> None:
        now = self.now()
        with self.db.atomic():
            if failure.kind == "retry_after":
                until = now + timedelta(seconds=max(failure.retry_after, 1.0))
                self.limiter.pause(until)
                self.outbox.mark_retry(delivery, failure.reason, until, now, count=False)
            elif failure.kind == "transient":
                self._retry_later(delivery, failure, now)
            elif failure.kind == "blocked":
                self.outbox.mark_failed(delivery, failure.reason, now)
                self._unreachable(delivery.chat_id, failure.reason, now)
            else:
                self.outbox.mark_failed(delivery, failure.reason, now)
                self._alert_failure(delivery, failure.reason, now)

    def _retry_later(self, delivery: Delivery, failure: SendFailure, now: datetime) -> None:
        if delivery.expires_ts is None and delivery.attempts + 1 >= MAX_ATTEMPTS_WITHOUT_EXPIRY:
            self.outbox.mark_failed(delivery, failure.reason, now)
            self._alert_failure(delivery, failure.reason, now)
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

    def _alert_failure(self, delivery: Delivery, reason: str, now: datetime) -> None:
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


def _one_per_chat(due: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The first due message (delivery id, chat id) of each chat: a chat never gets a
    burst."""
    seen: set[int] = set()
    chosen = []
    for delivery_id, chat_id in due:
        if chat_id not in seen:
            seen.add(chat_id)
            chosen.append((delivery_id, chat_id))
    return chosen
