"""The dispatcher end to end below Telegram: plan, link chats, tick at exact instants.

A real SQLite file in tmp_path; a clock the test moves; a fake ``Sender`` that records
(chat, text, buttons) and fails on demand. Nothing sleeps: ``tick()`` says when it wants
to run again (``wake``) and the test moves the clock there.

The course (as in conftest) is planned on Mon 2026-11-02 09:00 Tokyo for patient 1,
山田 太郎, from the first infusion on Mon 2026-11-30 10:00. Its first reminders:

- collection Mon 11-09 09:00: patient Sat 11-07 10:00 and Sun 11-08 18:00
- cell delivery 1 Sat 11-28 16:00: lab Thu 11-26 10:00
- infusion 1 Mon 11-30 10:00: patient Sun 11-29 18:00 and Mon 11-30 08:00
- cell delivery 2 Wed 12-02 16:00: lab Mon 11-30 10:00
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlite_utils import Database

from planner.channels.dispatch import Dispatcher, SendFailure, TickResult
from planner.config.sections import DEFAULT_RULES
from planner.config.settings import Settings, load_settings, parse_settings
from planner.service import CourseRequest, Planner
from planner.store.courses import Store, open_database
from planner.store.links import Links
from planner.store.notices import parse_button_data
from planner.store.outbox import SUPERSEDED, Outbox
from planner.texts import patient as bot_texts

TOKYO = ZoneInfo("Asia/Tokyo")
PLANNED_AT = datetime(2026, 11, 2, 9, 0, tzinfo=TOKYO)
PATIENT_CHAT, FAMILY_CHAT = 1001, 1002
NURSE_CHAT, RECEPTION_CHAT, LAB_CHAT = 2001, 2002, 2003
SECOND = timedelta(seconds=1)
CHANGE_NOTICES = ("<b>【日程変更のお知らせ】", "<b>【ご予約取り消しのお知らせ】")


def tokyo(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TOKYO)


COLLECTION_2_DAYS_BEFORE = tokyo(2026, 11, 7, 10, 0)
INFUSION_1_DAY_BEFORE = tokyo(2026, 11, 29, 18, 0)
INFUSION_1_MORNING = tokyo(2026, 11, 30, 8, 0)


class MovingClock:
    """A clock the test sets; it only moves forward."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment

    def set(self, moment: datetime) -> None:
        assert moment >= self.moment, f"the clock may not go back to {moment}"
        self.moment = moment


@dataclass
class Sent:
    at: datetime
    chat_id: int
    text: str
    buttons: list[list[str]] | None


class FakeSender:
    """Records each message; raises what ``fail`` queued for a chat, in order."""

    def __init__(self, clock: MovingClock) -> None:
        self.clock = clock
        self.sent: list[Sent] = []
        self.attempts: list[tuple[datetime, int]] = []
        self.failures: dict[int, list[BaseException]] = {}
        self.crash_after_next_send = False

    def fail(self, chat_id: int, *errors: BaseException) -> None:
        self.failures.setdefault(chat_id, []).extend(errors)

    async def send(self, chat_id: int, text: str, buttons: list[list[str]] | None) -> int:
        self.attempts.append((self.clock.now(), chat_id))
        queued = self.failures.get(chat_id)
        if queued:
            raise queued.pop(0)
        self.sent.append(Sent(self.clock.now(), chat_id, text, buttons))
        if self.crash_after_next_send:
            self.crash_after_next_send = False
            raise KeyboardInterrupt("simulated crash after Telegram accepted the message")
        return 100 + len(self.sent)

    def to(self, chat_id: int) -> list[Sent]:
        return [s for s in self.sent if s.chat_id == chat_id]

    @property
    def reminders(self) -> list[Sent]:
        """What was sent, without the change notices a change to the plan sends."""
        return [s for s in self.sent if not s.text.startswith(CHANGE_NOTICES)]


@dataclass
class Clinic:
    db: Database
    path: Path
    clock: MovingClock
    settings: Settings
    sender: FakeSender
    planner: Planner = field(init=False)
    links: Links = field(init=False)
    outbox: Outbox = field(init=False)
    dispatcher: Dispatcher = field(init=False)

    def __post_init__(self) -> None:
        self.open()

    def open(self) -> None:
        self.planner = Planner(Store(self.db), self.settings, self.clock)
        self.links = Links(self.db)
        self.outbox = Outbox(self.db)
        self.dispatcher = Dispatcher(self.db, self.settings, self.sender, self.clock)

    def restart(self) -> None:
        """A new process on the same database file: fresh connection and dispatcher."""
        self.db.conn.close()
        self.db = open_database(self.path)
        self.open()

    # -- people and chats ----------------------------------------------------------------

    def add_patient(self, name: str = "山田 太郎", lang: str = "ja") -> int:
        return int(self.planner.store.add_patient(name, lang, None, "test", self.clock.now())
                   ["id"])

    def plan(self, patient_id: int = 1, first_infusion: date = date(2026, 11, 30)) -> int:
        course_id, _ = self.planner.plan(patient_id, first_infusion=first_infusion)
        return course_id

    def link(self, chat_id: int, *, patient_id: int | None = None, family: str | None = None,
             staff_role: str | None = None, lang: str | None = None) -> None:
        now = self.clock.now()
        staff_id = None
        if staff_role is not None:
            staff_id = int(self.planner.store.add_staff(f"{staff_role} {chat_id}", staff_role,
                                                        "test", now)["id"])
        code = self.links.create_code(now, timedelta(days=7), patient_id=patient_id,
                                      staff_id=staff_id, family_name=family).code
        with self.db.atomic():
            assert self.links.redeem(code, chat_id, lang, now) is not None

    def link_staff(self) -> None:
        self.link(NURSE_CHAT, staff_role="nurse", lang="en")
        self.link(RECEPTION_CHAT, staff_role="reception", lang="en")
        self.link(LAB_CHAT, staff_role="lab", lang="en")

    # -- time ----------------------------------------------------------------------------

    def tick(self) -> TickResult:
        return asyncio.run(self.dispatcher.tick())

    def run_until(self, end: datetime) -> TickResult:
        """Tick now and at every wake up to ``end``; the clock is left at ``end``."""
        if end > self.clock.now():
            result = self.tick()
            idle = 0
            while result.wake is not None and result.wake <= end:
                self.clock.set(max(self.clock.now(), result.wake))
                result = self.tick()
                idle = idle + 1 if result.sent == result.failed == 0 else 0
                assert idle < 100, "the dispatcher keeps waking without doing anything"
            self.clock.set(end)
        return self.tick()

    # -- reading the database --------------------------------------------------------------

    def reminder(self, rule: str, seq: int = 1, state: str | None = None) -> dict[str, Any]:
        rows = [r for r in self.outbox.reminders(state=state)
                if r["rule"] == rule and r["seq"] == seq]
        assert rows, f"no reminder {rule} #{seq}"
        return rows[-1]

    def deliveries(self, **where: Any) -> list[dict[str, Any]]:
        clause = " AND ".join(f"{key} = ?" for key in where) or "1 = 1"
        return list(self.db.query(f"SELECT * FROM deliveries WHERE {clause} ORDER BY id",
                                  list(where.values())))

    def alerts(self, kind: str) -> list[dict[str, Any]]:
        return [a for a in self.outbox.alerts() if a["kind"] == kind]


ClinicFactory = Callable[..., Clinic]


@pytest.fixture
def make_clinic(tmp_path: Path) -> Iterator[ClinicFactory]:
    made: list[Clinic] = []

    def make(config: dict[str, Any] | None = None, at: datetime = PLANNED_AT) -> Clinic:
        settings = (parse_settings(config, "test.toml") if config is not None
                    else load_settings(None))
        path = tmp_path / "clinic.db"
        clock = MovingClock(at)
        made.append(Clinic(open_database(path), path, clock, settings, FakeSender(clock)))
        return made[-1]

    yield make
    for clinic in made:
        clinic.db.conn.close()


@pytest.fixture
def clinic(make_clinic: ClinicFactory) -> Clinic:
    """The planned course; the patient's own chat and a family chat linked."""
    clinic = make_clinic()
    clinic.add_patient()
    clinic.plan()
    clinic.link(PATIENT_CHAT, patient_id=1)
    clinic.link(FAMILY_CHAT, patient_id=1, family="山田 花子")
    return clinic


def whole_second(moment: datetime) -> datetime:
    """The instant without the rate limiter's fraction of a second, in Tokyo."""
    return moment.astimezone(TOKYO).replace(microsecond=0)


def extra_rules(*rules: dict[str, Any], **reminders: Any) -> dict[str, Any]:
    return {"reminders": {"rule": [*DEFAULT_RULES, *rules], **reminders}}


# -- on time ---------------------------------------------------------------------------------


def test_reminder_is_not_sent_one_second_before_it_is_due(clinic: Clinic) -> None:
    clinic.run_until(COLLECTION_2_DAYS_BEFORE - SECOND)

    assert clinic.sender.sent == []


def test_reminder_goes_out_at_its_due_instant(clinic: Clinic) -> None:
    clinic.run_until(COLLECTION_2_DAYS_BEFORE - SECOND)

    clinic.clock.set(COLLECTION_2_DAYS_BEFORE)
    clinic.tick()

    assert [(s.at, s.chat_id) for s in clinic.sender.sent] == [
        (COLLECTION_2_DAYS_BEFORE, PATIENT_CHAT)]


def test_reminder_goes_to_the_patient_and_the_family_chat(clinic: Clinic) -> None:
    clinic.run_until(COLLECTION_2_DAYS_BEFORE + timedelta(seconds=5))

    assert [s.chat_id for s in clinic.sender.sent] == [PATIENT_CHAT, FAMILY_CHAT]
    assert clinic.reminder("collection/patient/2d@10:00")["state"] == "sent"


def test_reminder_is_sent_exactly_once_across_repeated_ticks(clinic: Clinic) -> None:
    clinic.run_until(COLLECTION_2_DAYS_BEFORE + timedelta(seconds=5))
    for _ in range(5):
        clinic.tick()
    clinic.run_until(COLLECTION_2_DAYS_BEFORE + timedelta(hours=3))

    assert len(clinic.sender.to(PATIENT_CHAT)) == 1
    assert len(clinic.sender.to(FAMILY_CHAT)) == 1


def test_reminder_text_names_the_patient_in_the_chats_language(clinic: Clinic) -> None:
    clinic.run_until(COLLECTION_2_DAYS_BEFORE + timedelta(seconds=5))

    (message,) = clinic.sender.to(PATIENT_CHAT)
    assert "11月9日" in message.text


# -- buttons -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("moment", "rule"), [
    (COLLECTION_2_DAYS_BEFORE, "collection/patient/2d@10:00"),
    (INFUSION_1_DAY_BEFORE, "infusion/patient/1d@18:00"),
])
def test_collection_and_infusion_patient_reminders_carry_come_and_change_buttons(
        clinic: Clinic, moment: datetime, rule: str) -> None:
    clinic.clock.set(moment - SECOND)
    clinic.run_until(moment + timedelta(seconds=5))

    reminder = clinic.reminder(rule)
    messages = [m for m in clinic.sender.sent if m.at >= moment]
    assert len(messages) == 2
    for message in messages:
        assert message.buttons is not None
        labels = [label for label, _ in message.buttons]
        assert labels == [*bot_texts.answer_buttons("ja"), "体調がすぐれない"]
        answers = [parse_button_data(data) for _, data in message.buttons[:2]]
        assert answers == [(reminder["event_id"], reminder["event_revision"], "come"),
                           (reminder["event_id"], reminder["event_revision"], "change")]
        assert all(len(data.encode()) <= 64 for _, data in message.buttons)


def test_lab_reminder_carries_no_buttons(clinic: Clinic) -> None:
    clinic.link(LAB_CHAT, staff_role="lab")
    moment = tokyo(2026, 11, 26, 10, 0)
    clinic.clock.set(moment - SECOND)
    clinic.run_until(moment + timedelta(seconds=5))

    lab = [m for m in clinic.sender.to(LAB_CHAT) if m.at >= moment]
    assert len(lab) == 1
    assert lab[0].buttons is None


def test_follow_up_reminder_carries_no_buttons(clinic: Clinic) -> None:
    moment = tokyo(2027, 1, 4, 10, 0)
    clinic.clock.set(moment - SECOND)
    clinic.run_until(moment + timedelta(seconds=5))

    assert [m.buttons for m in clinic.sender.sent] == [[["体調がすぐれない", "u"]]] * 2


# -- changes to the plan -----------------------------------------------------------------------


def test_reschedule_before_the_due_instant_supersedes_the_old_reminders(clinic: Clinic) -> None:
    clinic.clock.set(tokyo(2026, 11, 20, 9, 0))
    infusion_1 = clinic.reminder("infusion/patient/1d@18:00")["event_id"]

    clinic.planner.reschedule(infusion_1, date(2026, 12, 1), only=True)

    old = [r for r in clinic.outbox.reminders()
           if r["event_id"] == infusion_1 and r["event_revision"] == 0]
    assert [(r["rule"], r["state"], r["reason"]) for r in old] == [
        ("infusion/patient/1d@18:00", "skipped", SUPERSEDED),
        ("infusion/patient/120m", "skipped", SUPERSEDED),
        ("infusion/patient/19:00/check-in", "skipped", SUPERSEDED)]


def test_rescheduled_infusion_is_reminded_at_its_new_time_only(clinic: Clinic) -> None:
    clinic.clock.set(tokyo(2026, 11, 20, 9, 0))
    infusion_1 = clinic.reminder("infusion/patient/1d@18:00")["event_id"]
    clinic.planner.reschedule(infusion_1, date(2026, 12, 1), only=True)

    clinic.run_until(tokyo(2026, 11, 30, 17, 59))
    sent_before = list(clinic.sender.reminders)
    clinic.run_until(tokyo(2026, 11, 30, 18, 0) + timedelta(seconds=5))

    assert sent_before == []
    assert [(s.at.astimezone(TOKYO).replace(microsecond=0), s.chat_id)
            for s in clinic.sender.reminders] == [
        (tokyo(2026, 11, 30, 18, 0), PATIENT_CHAT),
        (tokyo(2026, 11, 30, 18, 0), FAMILY_CHAT)]
    assert "12月1日" in clinic.sender.reminders[0].text


def test_reschedule_after_the_reminder_was_queued_skips_its_unsent_messages(
        clinic: Clinic) -> None:
    clinic.sender.fail(FAMILY_CHAT, SendFailure("transient", "timed out"))
    clinic.clock.set(INFUSION_1_DAY_BEFORE - SECOND)
    clinic.run_until(INFUSION_1_DAY_BEFORE + SECOND)
    infusion_1 = clinic.reminder("infusion/patient/1d@18:00")["event_id"]

    clinic.planner.reschedule(infusion_1, date(2026, 12, 1), only=True, force=True)
    clinic.run_until(INFUSION_1_DAY_BEFORE + timedelta(hours=1))

    assert [s for s in clinic.sender.reminders if s.chat_id == FAMILY_CHAT] == []
    family = clinic.deliveries(chat_id=FAMILY_CHAT, purpose="reminder")
    assert [(d["state"], d["last_error"]) for d in family] == [("skipped", SUPERSEDED)]


def test_superseded_reminder_that_one_chat_already_got_stays_sent(clinic: Clinic) -> None:
    clinic.sender.fail(FAMILY_CHAT, SendFailure("transient", "timed out"))
    clinic.clock.set(INFUSION_1_DAY_BEFORE - SECOND)
    clinic.run_until(INFUSION_1_DAY_BEFORE + SECOND)
    infusion_1 = clinic.reminder("infusion/patient/1d@18:00")["event_id"]

    clinic.planner.reschedule(infusion_1, date(2026, 12, 1), only=True, force=True)

    old = [r for r in clinic.outbox.reminders()
           if r["event_id"] == infusion_1 and r["event_revision"] == 0]
    assert [(r["rule"], r["state"], r["reason"]) for r in old] == [
        ("infusion/patient/1d@18:00", "sent", SUPERSEDED),
        ("infusion/patient/120m", "skipped", SUPERSEDED),
        ("infusion/patient/19:00/check-in", "skipped", SUPERSEDED)]


def test_reminder_cancelled_between_reading_and_queueing_is_not_sent(
        clinic: Clinic, monkeypatch: pytest.MonkeyPatch) -> None:
    # Another process (the CLI) commits a cancellation right after the dispatcher has read
    # the due reminders and before it queues them.
    outbox = clinic.dispatcher.outbox
    read = outbox.due_reminders

    def read_then_cancel(now: datetime, limit: int = 500) -> list[dict[str, Any]]:
        rows = read(now, limit)
        if rows and clinic.planner.store.course(1)["status"] == "active":
            clinic.planner.cancel(1, "patient withdrew", force=True)
        return rows

    monkeypatch.setattr(outbox, "due_reminders", read_then_cancel)
    clinic.clock.set(COLLECTION_2_DAYS_BEFORE)

    clinic.run_until(COLLECTION_2_DAYS_BEFORE + timedelta(minutes=1))

    assert clinic.sender.reminders == []
    assert clinic.deliveries(purpose="reminder") == []
    reminder = clinic.reminder("collection/patient/2d@10:00")
    assert (reminder["state"], reminder["reason"]) == ("skipped", SUPERSEDED)


def test_cancelled_course_sends_nothing_more(clinic: Clinic) -> None:
    cancelled_at = tokyo(2026, 11, 20, 9, 0)
    clinic.clock.set(cancelled_at)

    clinic.planner.cancel(1, "patient withdrew")
    clinic.run_until(tokyo(2027, 1, 31, 0, 0))

    assert clinic.sender.reminders == []
    later = [r for r in clinic.outbox.reminders() if r["due_ts"] > cancelled_at.timestamp()]
    assert len(later) == 33  # 25 reminders and 8 evening check-ins
    assert {(r["state"], r["reason"]) for r in later} == {("skipped", SUPERSEDED)}


# -- failures ----------------------------------------------------------------------------------


def test_429_is_retried_after_retry_after(clinic: Clinic) -> None:
    clinic.sender.fail(PATIENT_CHAT, SendFailure("retry_after", "Too Many Requests", 7.0))
    clinic.clock.set(COLLECTION_2_DAYS_BEFORE)

    result = clinic.tick()

    assert result.wake == COLLECTION_2_DAYS_BEFORE + timedelta(seconds=7)
    clinic.run_until(COLLECTION_2_DAYS_BEFORE + timedelta(seconds=7) - timedelta(microseconds=1))
    assert clinic.sender.sent == []
    clinic.run_until(COLLECTION_2_DAYS_BEFORE + timedelta(seconds=10))
    (message,) = clinic.sender.to(PATIENT_CHAT)
    assert whole_second(message.at) == COLLECTION_2_DAYS_BEFORE + timedelta(seconds=7)
    (delivery,) = clinic.deliveries(chat_id=PATIENT_CHAT)
    assert (delivery["state"], delivery["attempts"]) == ("sent", 1)


def test_429_holds_every_other_message_back_meanwhile(clinic: Clinic) -> None:
    clinic.sender.fail(PATIENT_CHAT, SendFailure("retry_after", "Too Many Requests", 7.0))
    clinic.clock.set(COLLECTION_2_DAYS_BEFORE)

    clinic.run_until(COLLECTION_2_DAYS_BEFORE + timedelta(seconds=6))
    assert clinic.sender.attempts == [(COLLECTION_2_DAYS_BEFORE, PATIENT_CHAT)]

    clinic.run_until(COLLECTION_2_DAYS_BEFORE + timedelta(seconds=10))
    assert {s.chat_id for s in clinic.sender.sent} == {PATIENT_CHAT, FAMILY_CHAT}
    assert all(s.at >= COLLECTION_2_DAYS_BEFORE + timedelta(seconds=7)
               for s in clinic.sender.sent)


def test_429_wait_is_honoured_after_a_restart(clinic: Clinic) -> None:
    clinic.sender.fail(PATIENT_CHAT, SendFailure("retry_after", "Too Many Requests", 7.5))
    clinic.clock.set(COLLECTION_2_DAYS_BEFORE)
    clinic.tick()

    clinic.restart()
    clinic.run_until(COLLECTION_2_DAYS_BEFORE + timedelta(seconds=7.4))
    assert clinic.sender.to(PATIENT_CHAT) == []

    clinic.run_until(COLLECTION_2_DAYS_BEFORE + timedelta(seconds=9))
    assert len(clinic.sender.to(PATIENT_CHAT)) == 1


def test_wake_is_never_in_the_past_while_the_limiter_holds_messages(clinic: Clinic) -> None:
    clinic.sender.fail(PATIENT_CHAT, SendFailure("retry_after", "Too Many Requests", 30.0))
    clinic.clock.set(COLLECTION_2_DAYS_BEFORE)
    clinic.tick()

    clinic.clock.set(COLLECTION_2_DAYS_BEFORE + timedelta(seconds=1))
    result = clinic.tick()

    assert result.wake == COLLECTION_2_DAYS_BEFORE + timedelta(seconds=30)


def test_transient_failure_is_retried_with_backoff_then_sent(clinic: Clinic) -> None:
    clinic.sender.fail(PATIENT_CHAT, SendFailure("transient", "Bad Gateway"),
                       SendFailure("transient", "timed out"))
    clinic.clock.set(COLLECTION_2_DAYS_BEFORE)

    clinic.run_until(COLLECTION_2_DAYS_BEFORE + timedelta(minutes=5))

    attempts = [at for at, chat in clinic.sender.attempts if chat == PATIENT_CHAT]
    assert attempts == [COLLECTION_2_DAYS_BEFORE,
                        COLLECTION_2_DAYS_BEFORE + timedelta(seconds=5),
                        COLLECTION_2_DAYS_BEFORE + timedelta(seconds=20)]
    (delivery,) = clinic.deliveries(chat_id=PATIENT_CHAT)
    assert (delivery["state"], delivery["attempts"]) == ("sent", 3)
    assert len(clinic.sender.to(PATIENT_CHAT)) == 1


def test_unexpected_sender_error_is_retried_and_does_not_hold_back_other_chats(
        clinic: Clinic) -> None:
    clinic.sender.fail(PATIENT_CHAT, RuntimeError("bug in the sender"))
    clinic.clock.set(COLLECTION_2_DAYS_BEFORE)

    clinic.run_until(COLLECTION_2_DAYS_BEFORE + timedelta(seconds=10))

    assert [whole_second(s.at) for s in clinic.sender.to(FAMILY_CHAT)] == [
        COLLECTION_2_DAYS_BEFORE]
    assert [whole_second(s.at) for s in clinic.sender.to(PATIENT_CHAT)] == [
        COLLECTION_2_DAYS_BEFORE + timedelta(seconds=5)]
    (delivery,) = clinic.deliveries(chat_id=PATIENT_CHAT)
    assert (delivery["state"], delivery["attempts"]) == ("sent", 2)


def test_transient_failures_past_the_reminders_expiry_skip_it_and_alert_staff(
        clinic: Clinic) -> None:
    clinic.link_staff()
    clinic.sender.fail(PATIENT_CHAT, *[SendFailure("transient", "Bad Gateway")] * 50)
    clinic.clock.set(COLLECTION_2_DAYS_BEFORE - SECOND)

    clinic.run_until(COLLECTION_2_DAYS_BEFORE + timedelta(hours=3))

    (delivery,) = clinic.deliveries(chat_id=PATIENT_CHAT)
    assert delivery["state"] == "skipped"
    assert "too late" in delivery["last_error"]
    assert len(clinic.alerts("delivery_failed")) == 1


def test_403_marks_the_chat_unreachable_and_skips_its_other_messages(
        make_clinic: ClinicFactory) -> None:
    # Two reminders fall due at Sun 11-29 18:00: the day-before one and one 16 hours before.
    clinic = make_clinic(extra_rules(
        {"kind": "infusion", "audience": "patient", "minutes_before": 960}))
    clinic.add_patient()
    clinic.plan()
    clinic.link(PATIENT_CHAT, patient_id=1)
    clinic.link(FAMILY_CHAT, patient_id=1, family="花子")
    clinic.link_staff()
    clinic.sender.fail(PATIENT_CHAT, SendFailure("blocked", "Forbidden: bot was blocked by "
                                                 "the user"))
    clinic.clock.set(INFUSION_1_DAY_BEFORE - SECOND)

    clinic.run_until(INFUSION_1_DAY_BEFORE + timedelta(minutes=1))

    assert [c.chat_id for c in clinic.links.patient_chats(1)] == [FAMILY_CHAT]
    assert clinic.sender.to(PATIENT_CHAT) == []
    assert len(clinic.sender.to(FAMILY_CHAT)) == 2
    states = sorted((d["state"], d["last_error"] or "")
                    for d in clinic.deliveries(chat_id=PATIENT_CHAT))
    assert [s for s, _ in states] == ["failed", "skipped"]
    assert "unreachable" in states[1][1]
    assert [r["state"] for r in clinic.outbox.reminders()
            if r["due_ts"] == INFUSION_1_DAY_BEFORE.timestamp()] == ["sent", "sent"]


def test_403_on_the_only_chat_settles_its_other_reminder_as_skipped(
        make_clinic: ClinicFactory) -> None:
    clinic = make_clinic(extra_rules(
        {"kind": "infusion", "audience": "patient", "minutes_before": 960}))
    clinic.add_patient()
    clinic.plan()
    clinic.link(PATIENT_CHAT, patient_id=1)
    clinic.sender.fail(PATIENT_CHAT, SendFailure("blocked", "Forbidden: bot was blocked"))
    clinic.clock.set(INFUSION_1_DAY_BEFORE - SECOND)

    clinic.run_until(INFUSION_1_DAY_BEFORE + timedelta(minutes=1))

    reminders = [r for r in clinic.outbox.reminders()
                 if r["due_ts"] == INFUSION_1_DAY_BEFORE.timestamp()]
    assert [r["state"] for r in reminders] == ["failed", "skipped"]   # none left queued
    assert "chat unreachable" in reminders[1]["last_error"]


def test_403_alerts_nurse_and_reception_that_the_patient_is_unreachable(
        clinic: Clinic) -> None:
    clinic.link_staff()
    clinic.sender.fail(PATIENT_CHAT, SendFailure("blocked", "Forbidden: bot was blocked by "
                                                 "the user"))
    clinic.clock.set(INFUSION_1_DAY_BEFORE - SECOND)

    clinic.run_until(INFUSION_1_DAY_BEFORE + timedelta(minutes=1))

    (alert,) = clinic.alerts("unreachable")
    assert (alert["patient_id"], alert["state"]) == (1, "delivered")
    alerted = [s for s in clinic.sender.sent if s.at >= INFUSION_1_DAY_BEFORE
               and s.chat_id in (NURSE_CHAT, RECEPTION_CHAT, LAB_CHAT)]
    assert sorted(s.chat_id for s in alerted) == [NURSE_CHAT, RECEPTION_CHAT]
    assert all("山田 (#1)" in s.text for s in alerted)  # staff_names = "initials"


def test_403_chat_gets_nothing_afterwards(clinic: Clinic) -> None:
    clinic.sender.fail(PATIENT_CHAT, SendFailure("blocked", "Forbidden: bot was blocked"))
    clinic.clock.set(INFUSION_1_DAY_BEFORE - SECOND)

    clinic.run_until(INFUSION_1_MORNING + timedelta(minutes=1))

    assert clinic.sender.to(PATIENT_CHAT) == []
    assert [whole_second(s.at) for s in clinic.sender.to(FAMILY_CHAT)] == [
        INFUSION_1_DAY_BEFORE, INFUSION_1_MORNING]


def test_400_fails_with_its_reason_and_is_never_retried(clinic: Clinic) -> None:
    reason = "Can't parse entities: unsupported start tag"
    clinic.sender.fail(PATIENT_CHAT, SendFailure("rejected", reason))
    clinic.clock.set(COLLECTION_2_DAYS_BEFORE)

    clinic.run_until(COLLECTION_2_DAYS_BEFORE + timedelta(hours=1))

    assert [c for _, c in clinic.sender.attempts].count(PATIENT_CHAT) == 1
    (delivery,) = clinic.deliveries(chat_id=PATIENT_CHAT)
    assert (delivery["state"], delivery["last_error"], delivery["attempts"]) == (
        "failed", reason, 1)
    assert [c.chat_id for c in clinic.links.patient_chats(1)] == [PATIENT_CHAT, FAMILY_CHAT]


def test_400_alerts_staff_that_the_delivery_failed(clinic: Clinic) -> None:
    clinic.link_staff()
    clinic.sender.fail(PATIENT_CHAT, SendFailure("rejected", "Message is too long"))
    clinic.run_until(COLLECTION_2_DAYS_BEFORE - SECOND)   # the morning digests went at 07:30

    clinic.run_until(COLLECTION_2_DAYS_BEFORE + timedelta(minutes=1))

    (alert,) = clinic.alerts("delivery_failed")
    assert json.loads(alert["detail"])["reason"] == "Message is too long"
    assert alert["state"] == "delivered"
    assert sorted(s.chat_id for s in clinic.sender.sent if s.at >= COLLECTION_2_DAYS_BEFORE
                  and s.chat_id != FAMILY_CHAT) == [NURSE_CHAT, RECEPTION_CHAT]


def test_failed_alert_does_not_raise_another_alert(clinic: Clinic) -> None:
    clinic.link_staff()
    clinic.sender.fail(PATIENT_CHAT, SendFailure("rejected", "Message is too long"))
    clinic.sender.fail(NURSE_CHAT, *[SendFailure("rejected", "Message is too long")] * 2)
    clinic.clock.set(COLLECTION_2_DAYS_BEFORE)

    clinic.run_until(COLLECTION_2_DAYS_BEFORE + timedelta(minutes=1))

    assert len(clinic.alerts("delivery_failed")) == 1


# -- downtime --------------------------------------------------------------------------------


def test_after_6_hours_down_a_still_useful_reminder_goes_out(clinic: Clinic) -> None:
    clinic.link(LAB_CHAT, staff_role="lab")
    clinic.run_until(tokyo(2026, 11, 30, 4, 30))
    clinic.sender.sent.clear()

    clinic.clock.set(tokyo(2026, 11, 30, 10, 30))   # down from 04:30 to 10:30
    clinic.run_until(tokyo(2026, 11, 30, 10, 31))

    lab = [s for s in clinic.sender.to(LAB_CHAT) if "12月2日" in s.text]
    assert [s.at for s in lab] == [tokyo(2026, 11, 30, 10, 30)]


def test_after_6_hours_down_a_stale_reminder_is_skipped_with_a_reason_and_never_sent(
        clinic: Clinic) -> None:
    clinic.run_until(tokyo(2026, 11, 30, 4, 30))
    clinic.sender.sent.clear()

    clinic.clock.set(tokyo(2026, 11, 30, 10, 30))
    clinic.run_until(tokyo(2026, 12, 1, 0, 0))

    assert [s for s in clinic.sender.sent if "今夜の体調" not in s.text] == []  # check-in only
    morning = clinic.reminder("infusion/patient/120m")
    assert morning["state"] == "skipped"
    assert "too late" in morning["reason"]
    assert clinic.deliveries(reminder_id=morning["id"]) == []


def test_change_while_the_bot_was_down_leaves_stale_reminders_skipped_as_too_late(
        clinic: Clinic) -> None:
    clinic.run_until(tokyo(2026, 11, 30, 4, 30))
    clinic.clock.set(tokyo(2026, 11, 30, 10, 30))
    infusion_3 = clinic.reminder("infusion/patient/1d@18:00", seq=3)["event_id"]

    clinic.planner.reschedule(infusion_3, tokyo(2026, 12, 7, 11, 0), only=True)
    clinic.tick()

    morning = clinic.reminder("infusion/patient/120m")
    assert morning["state"] == "skipped"
    assert "too late" in morning["reason"]


# -- rate limits -------------------------------------------------------------------------------


def test_100_reminders_due_at_once_go_out_no_faster_than_messages_per_second(
        make_clinic: ClinicFactory) -> None:
    clinic = make_clinic({"clinic": {"infusion_chairs": 100, "collections_per_day": 100}})
    for number in range(100):
        clinic.add_patient(f"Patient {number}", "en")
    clinic.planner.plan_many([CourseRequest(p, date(2026, 11, 30)) for p in range(1, 101)])
    for patient_id in range(1, 101):
        clinic.link(5000 + patient_id, patient_id=patient_id)
    clinic.clock.set(INFUSION_1_DAY_BEFORE - SECOND)
    clinic.run_until(INFUSION_1_DAY_BEFORE - SECOND)

    clinic.run_until(INFUSION_1_DAY_BEFORE + timedelta(seconds=10))

    times = [s.at for s in clinic.sender.sent]
    assert len(times) == 100
    assert len({s.chat_id for s in clinic.sender.sent}) == 100
    assert times[0] == INFUSION_1_DAY_BEFORE
    per_second = clinic.settings.bot.messages_per_second
    spacing = timedelta(seconds=1 / per_second) - timedelta(microseconds=1)
    assert all(later - earlier >= spacing for earlier, later in pairwise(times))
    window = int(per_second)
    assert all(times[i + window] - times[i] >= SECOND for i in range(len(times) - window))


def test_one_chat_never_gets_two_messages_within_the_gap_per_chat(
        make_clinic: ClinicFactory) -> None:
    clinic = make_clinic(extra_rules(
        {"kind": "infusion", "audience": "patient", "minutes_before": 960},
        {"kind": "infusion", "audience": "patient", "minutes_before": 961}))
    clinic.add_patient()
    clinic.plan()
    clinic.link(PATIENT_CHAT, patient_id=1)
    clinic.clock.set(INFUSION_1_DAY_BEFORE - timedelta(minutes=2))

    clinic.run_until(INFUSION_1_DAY_BEFORE + timedelta(seconds=30))

    times = [s.at for s in clinic.sender.to(PATIENT_CHAT)]
    assert len(times) == 3
    gap = timedelta(seconds=clinic.settings.bot.seconds_between_messages_to_one_chat)
    assert all(later - earlier >= gap for earlier, later in pairwise(times))


# -- the morning digest ----------------------------------------------------------------------


def test_morning_digest_is_not_sent_before_7_30(clinic: Clinic) -> None:
    clinic.link_staff()
    clinic.clock.set(tokyo(2026, 11, 30, 7, 29))

    clinic.run_until(tokyo(2026, 11, 30, 7, 30) - SECOND)

    assert clinic.sender.to(NURSE_CHAT) == []


def test_morning_digest_goes_to_each_staff_role_at_7_30(clinic: Clinic) -> None:
    clinic.link_staff()
    clinic.clock.set(tokyo(2026, 11, 30, 7, 30) - SECOND)
    clinic.run_until(tokyo(2026, 11, 30, 7, 30) - SECOND)

    clinic.run_until(tokyo(2026, 11, 30, 7, 30) + timedelta(seconds=5))

    assert sorted((s.chat_id, s.at.astimezone(TOKYO).replace(microsecond=0))
                  for s in clinic.sender.sent) == [
        (chat, tokyo(2026, 11, 30, 7, 30)) for chat in (NURSE_CHAT, RECEPTION_CHAT, LAB_CHAT)]


def test_morning_digest_goes_once_per_day_per_role(clinic: Clinic) -> None:
    clinic.link_staff()
    clinic.link(NURSE_CHAT + 10, staff_role="nurse", lang="en")
    clinic.clock.set(tokyo(2026, 11, 30, 7, 0))

    clinic.run_until(tokyo(2026, 12, 1, 7, 0))
    for _ in range(3):
        clinic.tick()

    assert len(clinic.sender.to(NURSE_CHAT)) == 1
    assert len(clinic.sender.to(NURSE_CHAT + 10)) == 1
    assert len(clinic.sender.to(LAB_CHAT)) == 2   # the digest and the lab reminder at 10:00
    rows = list(clinic.db.query("SELECT day, role FROM digests ORDER BY role"))
    assert rows == [{"day": "2026-11-30", "role": role}
                    for role in ("lab", "nurse", "reception")]


def _unanswered_section(text: str) -> str:
    return text.split("No answer yet", 1)[1]


def test_morning_digest_lists_todays_infusion_whose_patient_has_not_answered(
        clinic: Clinic) -> None:
    clinic.link_staff()
    clinic.clock.set(tokyo(2026, 11, 30, 7, 29))

    clinic.run_until(tokyo(2026, 11, 30, 7, 31))

    (digest,) = clinic.sender.to(NURSE_CHAT)
    assert "山田 (#1)" in _unanswered_section(digest.text)


def test_morning_digest_leaves_out_an_infusion_the_patient_will_come_to(
        clinic: Clinic) -> None:
    clinic.link_staff()
    infusion_1 = clinic.reminder("infusion/patient/1d@18:00")
    clinic.outbox.confirm(infusion_1["event_id"], infusion_1["event_revision"], PATIENT_CHAT,
                          "come", tokyo(2026, 11, 29, 18, 5))
    clinic.clock.set(tokyo(2026, 11, 30, 7, 29))

    clinic.run_until(tokyo(2026, 11, 30, 7, 31))

    (digest,) = clinic.sender.to(NURSE_CHAT)
    assert "山田 (#1)" in digest.text.split("No answer yet", 1)[0]
    assert "山田 (#1)" not in _unanswered_section(digest.text)


# -- no chat -------------------------------------------------------------------------------------


def test_patient_without_a_linked_chat_fails_the_reminder_with_no_linked_chat(
        make_clinic: ClinicFactory) -> None:
    clinic = make_clinic()
    clinic.add_patient()
    clinic.plan()
    clinic.clock.set(COLLECTION_2_DAYS_BEFORE)

    clinic.tick()

    reminder = clinic.reminder("collection/patient/2d@10:00")
    assert (reminder["state"], reminder["reason"]) == ("failed", "no linked chat")


def test_patient_without_a_linked_chat_raises_a_no_chat_alert_to_staff(
        make_clinic: ClinicFactory) -> None:
    clinic = make_clinic()
    clinic.add_patient()
    clinic.plan()
    clinic.link_staff()
    clinic.clock.set(COLLECTION_2_DAYS_BEFORE - SECOND)

    clinic.run_until(COLLECTION_2_DAYS_BEFORE + timedelta(seconds=5))

    (alert,) = clinic.alerts("no_chat")
    assert alert["patient_id"] == 1
    assert sorted(s.chat_id for s in clinic.sender.sent
                  if s.at >= COLLECTION_2_DAYS_BEFORE) == [NURSE_CHAT, RECEPTION_CHAT]


# -- restart -----------------------------------------------------------------------------------


def test_crash_between_send_and_record_resends_that_one_message_only(clinic: Clinic) -> None:
    clinic.clock.set(COLLECTION_2_DAYS_BEFORE)
    clinic.sender.crash_after_next_send = True
    with pytest.raises(KeyboardInterrupt):
        clinic.tick()
    clinic.restart()
    clinic.clock.set(COLLECTION_2_DAYS_BEFORE + SECOND)

    clinic.run_until(COLLECTION_2_DAYS_BEFORE + timedelta(minutes=1))

    chats = [s.chat_id for s in clinic.sender.sent]
    assert chats.count(PATIENT_CHAT) == 2   # the one message whose record was lost
    assert chats.count(FAMILY_CHAT) == 1


def test_restart_after_a_crash_loses_nothing(clinic: Clinic) -> None:
    clinic.clock.set(COLLECTION_2_DAYS_BEFORE)
    clinic.sender.crash_after_next_send = True
    with pytest.raises(KeyboardInterrupt):
        clinic.tick()
    clinic.restart()
    clinic.run_until(COLLECTION_2_DAYS_BEFORE + timedelta(minutes=1))

    assert {d["state"] for d in clinic.deliveries()} == {"sent"}
    assert clinic.reminder("collection/patient/2d@10:00")["state"] == "sent"


# -- when to wake ----------------------------------------------------------------------------


def test_next_wake_is_the_first_reminder_due(clinic: Clinic) -> None:
    assert clinic.outbox.next_wake() == COLLECTION_2_DAYS_BEFORE


def test_tick_wakes_at_the_next_due_reminder_when_no_staff_is_linked(clinic: Clinic) -> None:
    result = clinic.tick()

    assert result.wake == COLLECTION_2_DAYS_BEFORE


def test_tick_wakes_for_the_morning_digest_when_staff_are_linked(clinic: Clinic) -> None:
    clinic.link_staff()
    clinic.run_until(PLANNED_AT + SECOND)   # today's digest, 07:30 being past, goes now

    result = clinic.tick()

    assert result.wake == tokyo(2026, 11, 3, 7, 30)


def test_tick_after_sending_wakes_at_the_following_reminder(clinic: Clinic) -> None:
    clinic.run_until(COLLECTION_2_DAYS_BEFORE + timedelta(seconds=5))

    result = clinic.tick()

    assert result.wake == tokyo(2026, 11, 8, 18, 0)
    assert clinic.outbox.next_wake() == tokyo(2026, 11, 8, 18, 0)


def test_wake_instants_are_timezone_aware_utc(clinic: Clinic) -> None:
    wake = clinic.outbox.next_wake()

    assert wake is not None
    assert wake.tzinfo is UTC


# -- delivery across restarts, bursts and slow answers (issue 7) ---------------------------

FIRST_CHAT = 5001


class SlowSender(FakeSender):
    """Each answer takes ``seconds`` on the clock (the clock moves while it is sent), and
    ``during(n)`` runs before the n-th message (from 1) goes."""

    def __init__(self, clock: MovingClock, seconds: float) -> None:
        super().__init__(clock)
        self.seconds = timedelta(seconds=seconds)
        self.hooks: dict[int, list[object]] = {}

    async def send(self, chat_id: int, text: str, buttons: list[list[str]] | None) -> int:
        for hook in self.hooks.pop(len(self.attempts) + 1, []):
            hook()  # type: ignore[operator]
        message_id = await super().send(chat_id, text, buttons)
        self.clock.set(self.clock.now() + self.seconds)
        return message_id


class HangingSender(FakeSender):
    """Never answers for ``chat_id`` until ``release`` is set; others answer at once."""

    def __init__(self, clock: MovingClock, chat_id: int) -> None:
        super().__init__(clock)
        self.hanging = chat_id
        self.release = asyncio.Event()

    async def send(self, chat_id: int, text: str, buttons: list[list[str]] | None) -> int:
        if chat_id == self.hanging:
            await self.release.wait()
        return await super().send(chat_id, text, buttons)


def many_patients(make: ClinicFactory, count: int) -> Clinic:
    """``count`` patients, first infusion Mon 2026-11-30 each, one chat each (5001 on)."""
    clinic = make({"clinic": {"infusion_chairs": count, "collections_per_day": count}})
    for number in range(count):
        clinic.add_patient(f"Patient {number}", "en")
    clinic.planner.plan_many([CourseRequest(p, date(2026, 11, 30))
                              for p in range(1, count + 1)])
    for patient_id in range(1, count + 1):
        clinic.link(FIRST_CHAT - 1 + patient_id, patient_id=patient_id)
    return clinic


def useful_for(clinic: Clinic, due: datetime, seconds: int) -> None:
    """Reminders due at ``due`` are useful only ``seconds`` after it."""
    with clinic.db.atomic():
        clinic.db.execute("UPDATE reminders SET expires_ts = due_ts + ? WHERE due_ts = ?",
                          [seconds, int(due.timestamp())])


def with_slow_sender(clinic: Clinic, seconds: float) -> SlowSender:
    clinic.sender = SlowSender(clinic.clock, seconds)
    clinic.open()
    return clinic.sender


# -- limits kept across a restart ------------------------------------------------------------


def test_a_flood_wait_holds_every_chat_back_after_a_restart(clinic: Clinic) -> None:
    clinic.sender.fail(PATIENT_CHAT, SendFailure("retry_after", "Too Many Requests", 10.0))
    clinic.clock.set(COLLECTION_2_DAYS_BEFORE)
    clinic.tick()  # the patient's chat: 429, wait 10 s

    clinic.restart()
    clinic.clock.set(COLLECTION_2_DAYS_BEFORE + SECOND)
    clinic.run_until(COLLECTION_2_DAYS_BEFORE + timedelta(seconds=9.9))
    assert clinic.sender.sent == []

    clinic.run_until(COLLECTION_2_DAYS_BEFORE + timedelta(seconds=12))
    assert {s.chat_id for s in clinic.sender.sent} == {PATIENT_CHAT, FAMILY_CHAT}
    assert all(s.at >= COLLECTION_2_DAYS_BEFORE + timedelta(seconds=10)
               for s in clinic.sender.sent)


def test_the_gap_per_chat_is_kept_by_a_restarted_bot(make_clinic: ClinicFactory) -> None:
    # Two reminders to the patient fall due at Sun 11-29 18:00 (the day-before one and one
    # 16 hours before the infusion).
    clinic = make_clinic({"reminders": {"rule": [
        *DEFAULT_RULES, {"kind": "infusion", "audience": "patient", "minutes_before": 960}]}})
    clinic.add_patient()
    clinic.plan()
    clinic.link(PATIENT_CHAT, patient_id=1)
    clinic.clock.set(INFUSION_1_DAY_BEFORE)
    clinic.tick()
    assert len(clinic.sender.to(PATIENT_CHAT)) == 1

    clinic.restart()
    clinic.clock.set(INFUSION_1_DAY_BEFORE + timedelta(seconds=0.5))
    clinic.run_until(INFUSION_1_DAY_BEFORE + timedelta(seconds=0.99))
    assert len(clinic.sender.to(PATIENT_CHAT)) == 1

    clinic.run_until(INFUSION_1_DAY_BEFORE + timedelta(seconds=3))
    first, second = (s.at for s in clinic.sender.to(PATIENT_CHAT))
    assert second - first >= SECOND


# -- bursts: usefulness at the moment of sending, newly due work joins -----------------------


def test_a_message_whose_moment_passes_during_a_burst_is_skipped_with_the_reason(
        make_clinic: ClinicFactory) -> None:
    clinic = many_patients(make_clinic, 20)
    useful_for(clinic, INFUSION_1_DAY_BEFORE, 2)
    with_slow_sender(clinic, 0.5)  # answered one after the other, 4 fit in the 2 s
    clinic.clock.set(INFUSION_1_DAY_BEFORE)

    clinic.tick()

    expiry = INFUSION_1_DAY_BEFORE + timedelta(seconds=2)
    sent = [s.at for s in clinic.sender.sent]
    assert 1 <= len(sent) <= 5
    assert all(at < expiry for at in sent[:-1])
    skipped = clinic.deliveries(state="skipped")
    assert len(skipped) + len(sent) == 20
    assert all(d["last_error"].startswith("too late to be useful") for d in skipped)
    assert {r["state"] for r in clinic.outbox.reminders(state="skipped")} == {"skipped"}


def test_an_alert_raised_during_a_burst_goes_out_before_the_rest_of_it(
        make_clinic: ClinicFactory) -> None:
    clinic = many_patients(make_clinic, 20)
    clinic.link(NURSE_CHAT, staff_role="nurse", lang="en")
    sender = with_slow_sender(clinic, 0.1)
    outbox = Outbox(clinic.db)
    (infusion,) = clinic.db.execute(
        "SELECT id FROM events WHERE course_id = 1 AND kind = 'infusion' AND seq = 1").fetchone()

    def change_requested() -> None:
        with clinic.db.atomic():
            outbox.add_alert("change_requested", ("nurse",), {"chat_id": FIRST_CHAT},
                             clinic.clock.now(), patient_id=1, event_id=infusion, course_id=1)

    sender.hooks[3] = [change_requested]
    clinic.clock.set(INFUSION_1_DAY_BEFORE)

    clinic.run_until(INFUSION_1_DAY_BEFORE + timedelta(seconds=5))

    (alert,) = clinic.deliveries(purpose="alert")
    assert alert["state"] == "sent"
    assert alert["message_id"] - 100 <= 4  # the 4th message at the latest (ids from 101)
    assert len(clinic.sender.sent) >= 21


def test_a_reply_queued_during_a_burst_goes_out_before_the_rest_of_it(
        make_clinic: ClinicFactory) -> None:
    clinic = many_patients(make_clinic, 20)
    sender = with_slow_sender(clinic, 0.1)
    outbox = Outbox(clinic.db)
    stranger = 9001

    def reply() -> None:
        with clinic.db.atomic():
            outbox.queue_reply(stranger, "Hello", clinic.clock.now(), timedelta(hours=1))

    sender.hooks[3] = [reply]
    clinic.clock.set(INFUSION_1_DAY_BEFORE)

    clinic.run_until(INFUSION_1_DAY_BEFORE + timedelta(seconds=5))

    (reply,) = clinic.deliveries(purpose="reply")
    assert reply["state"] == "sent"
    assert reply["message_id"] - 100 <= 4


def test_a_reply_right_after_a_reminder_does_not_wait_for_the_chats_gap(clinic: Clinic) -> None:
    clinic.clock.set(COLLECTION_2_DAYS_BEFORE)
    clinic.run_until(COLLECTION_2_DAYS_BEFORE + timedelta(seconds=0.1))  # both chats reminded
    with clinic.db.atomic():
        clinic.outbox.queue_reply(PATIENT_CHAT, "Next visit: Mon 11-09", clinic.clock.now(),
                                  timedelta(hours=1))

    clinic.run_until(COLLECTION_2_DAYS_BEFORE + timedelta(seconds=0.2))

    reminder, reply = clinic.sender.to(PATIENT_CHAT)
    assert reply.text == "Next visit: Mon 11-09"
    assert reply.at - reminder.at < SECOND


def test_a_reminder_right_after_a_reply_waits_for_the_chats_gap(
        make_clinic: ClinicFactory) -> None:
    clinic = make_clinic()
    clinic.add_patient()
    clinic.plan()
    clinic.link(PATIENT_CHAT, patient_id=1)
    clinic.clock.set(COLLECTION_2_DAYS_BEFORE - timedelta(seconds=0.5))
    with clinic.db.atomic():
        clinic.outbox.queue_reply(PATIENT_CHAT, "Hello", clinic.clock.now(), timedelta(hours=1))

    clinic.run_until(COLLECTION_2_DAYS_BEFORE + timedelta(seconds=2))

    reply, reminder = clinic.sender.to(PATIENT_CHAT)
    assert reminder.at - reply.at >= SECOND


# -- sends in flight together ---------------------------------------------------------------


def test_a_hanging_send_holds_back_no_other_chat(clinic: Clinic) -> None:
    sender = HangingSender(clinic.clock, PATIENT_CHAT)
    clinic.sender = sender
    clinic.open()
    dispatcher = clinic.dispatcher

    async def scenario() -> None:
        clinic.clock.set(COLLECTION_2_DAYS_BEFORE)
        result = await asyncio.wait_for(dispatcher.tick(wait_for_sends=False), 1)
        while dispatcher.in_flight < 1 or not sender.to(FAMILY_CHAT):
            assert result.wake is not None
            clinic.clock.set(max(clinic.clock.now(), result.wake))
            result = await asyncio.wait_for(dispatcher.tick(wait_for_sends=False), 1)
        assert sender.to(PATIENT_CHAT) == []
        assert dispatcher.in_flight == 1
        sender.release.set()
        await asyncio.wait_for(dispatcher.tick(), 1)

    asyncio.run(scenario())
    assert {s.chat_id for s in sender.sent} == {PATIENT_CHAT, FAMILY_CHAT}
    assert sender.to(FAMILY_CHAT)[0].at < COLLECTION_2_DAYS_BEFORE + SECOND


def test_sends_in_flight_together_keep_the_overall_rate(make_clinic: ClinicFactory) -> None:
    clinic = many_patients(make_clinic, 60)
    dispatcher = clinic.dispatcher
    answers: list[asyncio.Future[None]] = []

    class Unanswered(FakeSender):
        async def send(self, chat_id: int, text: str, buttons: list[list[str]] | None) -> int:
            answer = asyncio.get_running_loop().create_future()
            answers.append(answer)
            await answer
            return await super().send(chat_id, text, buttons)

    async def scenario() -> None:
        clinic.clock.set(INFUSION_1_DAY_BEFORE)
        result = await dispatcher.tick(wait_for_sends=False)
        while result.wake is not None and result.wake < INFUSION_1_DAY_BEFORE + SECOND:
            clinic.clock.set(max(clinic.clock.now(), result.wake))
            result = await dispatcher.tick(wait_for_sends=False)
        in_one_second = len(answers)
        for answer in answers:
            answer.set_result(None)
        await dispatcher.sends.settle()
        assert in_one_second == dispatcher.limiter.per_window  # 28 at 29 a second
        assert dispatcher.in_flight == 0

    clinic.sender = Unanswered(clinic.clock)
    clinic.open()
    dispatcher = clinic.dispatcher
    asyncio.run(scenario())
    times = [s.at for s in clinic.sender.sent]
    assert all(later >= earlier for earlier, later in pairwise(times))
