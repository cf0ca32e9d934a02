"""The dispatcher: turns due reminders, alerts and digests into messages and sends them.

``Dispatcher.tick()`` does everything that is due at the clock's "now" and returns when
it next needs to run; the bot's dispatch loop (or a test) calls it again then. The database
is the only record of what is due and what was sent, so a restart simply runs ``tick``.

Sends to different chats are in flight together (up to ``MAX_IN_FLIGHT``, each in its own
task), within the overall rate and the gap per chat (``planner.channels.limits``): one slow or
hanging answer holds back nobody else, and the rate is set by the limits, not by
Telegram's answer time. Between two sends the dispatcher looks again for due work, so a
message that falls due during a burst (alerts and replies first) joins it, and each
message is checked for usefulness at the moment its turn comes.

Exactly-once, as far as it goes: each message is sent, then marked sent in its own
commit. A crash between Telegram accepting a message and that commit (the window is
between ``sender.send`` and ``_record_sent`` in ``_send_one``) makes that message go out
again after the restart (at most the sends in flight); nothing is lost. A timeout on send is
also ambiguous (Telegram may have delivered it): it is retried, preferring a rare
duplicate to a missed reminder. An unexpected exception from the sender is treated as a
transient failure of that one message (recorded by type only, as its text might carry
the token), so one bad message cannot hold back the rest of the outbox.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from planner.channels.limits import RateLimiter
from planner.channels.sending import ALERT_ROLES, Sender, SendFailure, SendQueue, TickResult
from planner.clock import Clock
from planner.config.settings import Settings
from planner.core.calendar import ClinicCalendar
from planner.core.reminders import CHECK_IN_SUFFIX, digest_instant
from planner.store import alerts
from planner.store.links import Chat, Links
from planner.store.notices import Notices
from planner.store.outbox import Outbox

log = logging.getLogger("planner.channels.dispatch")

PATIENT_SIDE = ("patient", "family")
SEND_BATCH = 200
URGENT = ("reply", "alert")
"""Purposes sent first (``Outbox.due_chats``): someone is waiting for them."""
__all__ = ["Dispatcher", "SendFailure", "Sender", "TickResult"]


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
        self.sends = SendQueue(db, sender, clock, RateLimiter(
            bot.messages_per_second, bot.seconds_between_messages_to_one_chat))

    @property
    def limiter(self) -> RateLimiter:
        return self.sends.limiter

    @limiter.setter
    def limiter(self, limiter: RateLimiter) -> None:
        self.sends.limiter = limiter

    @property
    def in_flight(self) -> int:
        """Sends awaiting Telegram's answer."""
        return len(self.sends.chats)

    @property
    def on_settled(self) -> Callable[[], None] | None:
        return self.sends.on_settled

    @on_settled.setter
    def on_settled(self, callback: Callable[[], None] | None) -> None:
        self.sends.on_settled = callback

    def now(self) -> datetime:
        return self.clock.now()

    async def tick(self, *, wait_for_sends: bool = True) -> TickResult:
        """Do what is due now; ``wake`` in the result says when to run again.

        Due work is looked for again after every round of sends, so what falls due
        meanwhile joins them. With ``wait_for_sends`` (tests, the console) the run ends
        when every send it started has its answer; the bot's loop passes False and lets
        them finish in the background (``on_settled`` tells it when one matters).
        """
        result = TickResult()
        while True:
            await self._queue_due(self.now())
            launched, result.wake = await self._send_due(result)
            if not launched:
                break
            await asyncio.sleep(0)  # the sends start (one answered at once settles here)
        if wait_for_sends:
            await self.sends.settle()
        result.wake = self._next_wake(result.wake)
        return result

    async def close(self) -> None:
        """Settle or cancel the sends in flight (the bot is stopping)."""
        await self.sends.close()

    async def _queue_due(self, now: datetime) -> None:
        with self.db.atomic():
            for delivery in self.outbox.skip_stale(now):
                self.sends.alert_failure(delivery, "too late after failed attempts", now)
        await self._queue_due_reminders(now)
        self._queue_alerts(now)
        self._queue_digests(now)

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
        held = limiter_wake is not None or self.in_flight > 0
        if outbox_wake is not None and outbox_wake <= now and held:
            outbox_wake = None
        candidates = [t for t in (limiter_wake, outbox_wake, self._next_digest())
                      if t is not None]
        if self.outbox.pending_alerts():
            candidates.append(now)
        return max(now, min(candidates)) if candidates else None

    # -- sending -------------------------------------------------------------------------

    async def _send_due(self, result: TickResult) -> tuple[int, datetime | None]:
        """Start the sends the limits allow now: the first due message of each chat with
        none in flight, replies and alerts first. Returns how many started and when the
        limits let the next one go (None: nothing due is held back by them).

        A reply keeps to Telegram's overall limit (30 in any second, using the room the
        other messages leave) and to flood waits, but not to the even spacing of a burst
        nor to its chat's gap: the person has just written, and Telegram allows a chat a
        short burst. It still counts for both, so a reminder right after an answer waits.
        """
        launched, wake = 0, None
        for delivery_id, chat_id, purpose in _one_per_chat(
                self.outbox.due_chats(self.now(), SEND_BATCH)):
            await self.sends.wait_for_room()
            now = self.now()
            if self.limiter.reply_window_open > now:  # a full second, a flood wait: everyone
                wake = _earliest(wake, self.limiter.reply_window_open)
                break
            ready = self.limiter.reply_window_open if purpose == "reply" else (
                self.limiter.ready_at(chat_id))
            if ready > now:  # the spacing, or this chat's own gap: replies may still go
                wake = _earliest(wake, ready)
                if purpose not in URGENT and self.limiter.next_any > now:
                    wake = _earliest(wake, self.limiter.next_any)
                    break  # the rest are neither replies nor alerts (those come first)
            elif chat_id not in self.sends.chats:  # one in flight past its gap: on_settled
                launched += self.sends.launch(delivery_id, result)
        return launched, wake


def _earliest(wake: datetime | None, moment: datetime) -> datetime:
    return moment if wake is None else min(wake, moment)


def _one_per_chat(due: Sequence[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """The first due message (delivery id, chat id, purpose) of each chat: a chat never
    gets a burst."""
    seen: set[int] = set()
    chosen = []
    for delivery_id, chat_id, purpose in due:
        if chat_id not in seen:
            seen.add(chat_id)
            chosen.append((delivery_id, chat_id, purpose))
    return chosen
