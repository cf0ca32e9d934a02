"""The Telegram bot end to end: python-telegram-bot, httpx, our handlers and a SQLite file
in tmp_path, against the strict fake Bot API server on 127.0.0.1 (tests/fake_telegram.py).

Time is injected: the bot reads a ``MovingClock`` that a test sets to an instant (from
which it runs on at real speed, so the rate limiter's gaps pass), then asks the dispatcher
to run (``bot.dispatch(at)``: arm the job now and wait until that run is over). Real
waiting is limited to the 1-second database watcher, Telegram's one-second flood wait,
a 0.3 s network timeout and one half-second self-wake.

The clinic: patient 1, 山田 太郎 (Japanese), planned on Mon 2027-05-10 09:00 from the first
infusion on Mon 2027-06-07 (the next reminder is always days away on the clock unless a
test moves it there):

- collection Mon 2027-05-17 09:00–13:00; patient reminders Sat 2027-05-15 10:00 (useful
  until 12:00) and Sun 2027-05-16 18:00
- infusion 1 Mon 2027-06-07 10:00; reminders Sun 2027-06-06 18:00 and Mon 2027-06-07 08:00

Only doctors get the morning digest and no doctor is linked, so staff chats hear alerts
and answers to their commands only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from planner.channels.dispatch import Sender
from planner.channels.telegram.app import (
    DispatchLoop,
    build_application,
    on_start,
    on_stop,
    open_bot_database,
    stop_sending,
)
from planner.channels.telegram.process import configure_logging
from planner.channels.telegram.sender import TelegramSender
from planner.config.settings import Settings, parse_settings
from planner.service import Planner
from planner.store.courses import Store, open_database
from planner.texts import patient as bot_texts
from planner.texts.html import visible_text
from tests.fake_telegram import FakeTelegram, StoredMessage
from tests.ics_checks import check_ics

TOKYO = ZoneInfo("Asia/Tokyo")
PATIENT = "山田 太郎"
PATIENT_CHAT = 1001
FAMILY_CHAT = 1002
OTHER_PATIENT_CHAT = 2001
NURSE_CHAT = 3001
RECEPTION_CHAT = 3002
STRANGER_CHAT = 9001


def tokyo(year: int, month: int, day: int, hour: int = 9, minute: int = 0,
          second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=TOKYO)


PLANNED_AT = tokyo(2027, 5, 10, 9)
FIRST_INFUSION = date(2027, 6, 7)
COLLECTION_REMINDER = tokyo(2027, 5, 15, 10)


class MovingClock:
    """The bot's clock: time runs at real speed from the instant a test set last, so the
    bot's short waits (rate limits, the dispatcher's next run) pass as they would."""

    def __init__(self, moment: datetime) -> None:
        self.set(moment)

    def set(self, moment: datetime) -> None:
        self._moment, self._set_at = moment, time.monotonic()

    def now(self) -> datetime:
        return self._moment + timedelta(seconds=time.monotonic() - self._set_at)


async def until(predicate: Callable[[], Any], timeout: float = 5.0) -> None:
    """Wait for a condition on the bot's own state (not the server's), checking often."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.005)


@dataclass
class Clinic:
    """The world around the bot: the fake Telegram, the database file, the settings, the
    clock, and the staff's own planner on a separate connection (like the CLI)."""

    tg: FakeTelegram
    path: Path
    settings: Settings
    clock: MovingClock
    planner: Planner

    def add_patient(self, name: str = PATIENT, lang: str = "ja") -> int:
        return int(self.planner.store.add_patient(name, lang, None, "test", self.clock.now())["id"])

    def plan(self, patient_id: int, first_infusion: date = FIRST_INFUSION) -> int:
        course_id, _ = self.planner.plan(patient_id, first_infusion=first_infusion)
        return course_id

    def add_staff(self, name: str, role: str) -> int:
        return int(self.planner.store.add_staff(name, role, "test", self.clock.now())["id"])

    def code(self, *, patient_id: int | None = None, staff_id: int | None = None,
             family_name: str | None = None, valid: timedelta = timedelta(days=7)) -> str:
        """A one-time link code, as ``planner link`` makes it."""
        with self.planner.store.transaction():
            return self.planner.links.create_code(
                self.clock.now(), valid, patient_id=patient_id, staff_id=staff_id,
                family_name=family_name).code

    def event_id(self, kind: str, seq: int, course_id: int = 1) -> int:
        row = self.planner.store.db.execute(
            "SELECT id FROM events WHERE course_id = ? AND kind = ? AND seq = ?",
            [course_id, kind, seq]).fetchone()
        return int(row[0])

    def rows(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        return list(self.planner.store.db.query(sql, params or []))

    def run(self, scenario: Callable[[RunningBot], Awaitable[None]],
            sender_factory: Callable[[Any], Sender] | None = None) -> None:
        """Start the bot, play ``scenario`` against it, stop the bot (one event loop)."""

        async def main() -> None:
            async with running_bot(self, sender_factory) as bot:
                await scenario(bot)

        asyncio.run(main())


@dataclass
class RunningBot:
    app: Any
    loop: DispatchLoop
    clinic: Clinic

    @property
    def tg(self) -> FakeTelegram:
        return self.clinic.tg

    async def dispatch(self, at: datetime | None = None) -> None:
        """Set the clock to ``at``, run the dispatcher now and wait until it is done."""
        if at is not None:
            self.clinic.clock.set(at)
        done = self.loop.ticks
        self.loop.arm(None)
        await until(lambda: self.loop.ticks > done and self.loop.idle)

    async def new_message(self, chat_id: int, before: int, timeout: float = 5.0
                          ) -> StoredMessage:
        """The first bot message in the chat after the first ``before`` ones."""
        await self.tg.wait_for_async(lambda: len(self.tg.messages(chat_id)) > before, timeout)
        return self.tg.messages(chat_id)[before]

    async def say(self, chat_id: int, text: str) -> StoredMessage:
        """The user writes ``text``; returns the bot's answer."""
        before = len(self.tg.messages(chat_id))
        self.tg.send_text(chat_id, text)
        return await self.new_message(chat_id, before)

    async def press(self, chat_id: int, message: StoredMessage, row: int) -> str:
        """Press the button in ``row`` of the message; returns the callback query id once
        the bot has answered it."""
        data = message.reply_markup["inline_keyboard"][row][0]["callback_data"]  # type: ignore[index]
        return await self.press_data(chat_id, message.message_id, data)

    async def press_data(self, chat_id: int, message_id: int, data: str, *,
                         check: bool = True) -> str:
        query_id = self.tg.press_button(chat_id, message_id, data, check=check)[
            "callback_query"]["id"]
        await self.tg.wait_for_async(lambda: self.tg.callback_answer(query_id) is not None)
        return str(query_id)


@asynccontextmanager
async def running_bot(clinic: Clinic, sender_factory: Callable[[Any], Sender] | None = None
                      ) -> AsyncIterator[RunningBot]:
    """The real application, started as ``run_polling`` would, inside the test's loop."""
    db = open_bot_database(clinic.path)
    app = build_application(clinic.settings, db, clinic.clock, sender_factory)
    assert app.updater is not None
    await app.initialize()
    try:
        await app.start()
        await on_start(app)  # post_init runs only under run_polling
        await app.updater.start_polling(poll_interval=0.0, timeout=1)
        bot = RunningBot(app, app.bot_data["loop"], clinic)
        await until(lambda: bot.loop.ticks >= 1 and bot.loop.idle)
        try:
            yield bot
        finally:
            await app.updater.stop()
            await app.stop()
            await stop_sending(app)
    finally:
        await app.shutdown()
        await on_stop(app)  # post_shutdown runs only under run_polling
        db.conn.close()


@pytest.fixture
def clinic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Clinic]:
    monkeypatch.delenv("PLANNER_BOT_TOKEN", raising=False)
    with FakeTelegram() as tg:
        settings = parse_settings({
            "bot": {"token": tg.token, "base_url": tg.base_url,
                    "base_file_url": tg.base_file_url},
            "reminders": {"digest_roles": ["doctor"]},
        }, "test")
        path = tmp_path / "clinic.db"
        db = open_database(path)
        clock = MovingClock(PLANNED_AT)
        clinic = Clinic(tg, path, settings, clock, Planner(Store(db), settings, clock))
        for chat_id in (PATIENT_CHAT, FAMILY_CHAT, OTHER_PATIENT_CHAT, NURSE_CHAT,
                        RECEPTION_CHAT, STRANGER_CHAT):
            tg.add_chat(chat_id, f"User {chat_id}", language_code="ja")
        yield clinic
        db.conn.close()
        assert tg.errors == []


@pytest.fixture
def patient(clinic: Clinic) -> int:
    """山田 太郎 with the standard course (course 1); not linked yet."""
    patient_id = clinic.add_patient()
    clinic.plan(patient_id)
    return patient_id


def link(clinic: Clinic, chat_id: int, **who: Any) -> None:
    """Link a chat straight in the database, as a redeemed code would (before the bot runs)."""
    code = clinic.code(**who)
    with clinic.planner.store.transaction():
        assert clinic.planner.links.redeem(code, chat_id, None, clinic.clock.now())


@pytest.fixture
def linked(clinic: Clinic, patient: int) -> int:
    """The patient's own chat and the nurse's and receptionist's chats are linked."""
    link(clinic, PATIENT_CHAT, patient_id=patient)
    link(clinic, NURSE_CHAT, staff_id=clinic.add_staff("看護 花子", "nurse"))
    link(clinic, RECEPTION_CHAT, staff_id=clinic.add_staff("受付 次郎", "reception"))
    return patient


async def stop_confirmed(bot: RunningBot, chat_id: int) -> StoredMessage:
    """/stop, then 止める under its question; returns the question as it reads after."""
    question = await bot.say(chat_id, "/stop")
    await bot.press(chat_id, question, 0)
    await bot.tg.wait_for_async(lambda: bot.tg.messages(chat_id)[-1].edits == 1)
    return bot.tg.messages(chat_id)[-1]


def raw(message: StoredMessage) -> str:
    assert message.raw_text is not None
    return message.raw_text


def sent_to(tg: FakeTelegram, chat_id: int) -> list[Any]:
    return [c for c in tg.calls_for("sendMessage") if c.params.get("chat_id") == chat_id]


# -- linking ------------------------------------------------------------------------------


def test_start_with_a_code_links_the_chat_and_welcomes_in_the_patients_language(
        clinic: Clinic) -> None:
    patient_id = clinic.add_patient("Anna Smith", lang="en")
    code = clinic.code(patient_id=patient_id)

    async def scenario(bot: RunningBot) -> None:
        answer = await bot.say(PATIENT_CHAT, f"/start {code}")  # a Japanese Telegram app
        assert raw(answer) == bot_texts.welcome_text("en", name="Anna Smith")

    clinic.run(scenario)
    chats = clinic.rows("SELECT patient_id, lang FROM chats WHERE chat_id = ?", [PATIENT_CHAT])
    assert chats == [{"patient_id": patient_id, "lang": "en"}]


def test_a_welcome_refused_by_flood_control_is_sent_after_the_wait(clinic: Clinic) -> None:
    patient_id = clinic.add_patient("Anna Smith", lang="en")
    code = clinic.code(patient_id=patient_id)

    async def scenario(bot: RunningBot) -> None:
        bot.tg.fail_next("sendMessage", "429", chat_id=PATIENT_CHAT, retry_after=1)
        answer = await bot.say(PATIENT_CHAT, f"/start {code}")
        assert raw(answer) == bot_texts.welcome_text("en", name="Anna Smith")

    clinic.run(scenario)
    statuses = [c.status for c in sent_to(clinic.tg, PATIENT_CHAT)]
    assert statuses == [429, 200]
    (reply,) = clinic.rows("SELECT state, attempts FROM deliveries WHERE purpose = 'reply'")
    assert reply == {"state": "sent", "attempts": 1}


def test_unknown_used_and_expired_codes_get_the_same_generic_answer(
        clinic: Clinic, patient: int) -> None:
    used = clinic.code(patient_id=patient)
    expired = clinic.code(patient_id=patient, valid=timedelta(days=1))

    async def scenario(bot: RunningBot) -> None:
        await bot.say(PATIENT_CHAT, f"/start {used}")
        unknown_answer = await bot.say(FAMILY_CHAT, "/start not-a-code")
        used_answer = await bot.say(OTHER_PATIENT_CHAT, f"/start {used}")
        clinic.clock.set(tokyo(2027, 5, 11, 9, 0, 1))  # a day and a second later
        expired_answer = await bot.say(STRANGER_CHAT, f"/start {expired}")
        generic = bot_texts.generic_text("ja")
        assert [raw(unknown_answer), raw(used_answer), raw(expired_answer)] == [generic] * 3

    clinic.run(scenario)
    linked_chats = clinic.rows("SELECT chat_id FROM chats")
    assert linked_chats == [{"chat_id": PATIENT_CHAT}]


def test_a_sixth_wrong_code_from_one_chat_is_throttled_even_if_right(
        clinic: Clinic, patient: int) -> None:
    good = clinic.code(patient_id=patient)

    async def scenario(bot: RunningBot) -> None:
        for attempt in range(5):
            answer = await bot.say(STRANGER_CHAT, f"/start wrong-{attempt}")
            assert raw(answer) == bot_texts.generic_text("ja")
        answer = await bot.say(STRANGER_CHAT, f"/start {good}")
        assert raw(answer) == bot_texts.throttled_text("ja")

    clinic.run(scenario)
    assert clinic.rows("SELECT * FROM chats") == []


def test_a_family_chat_linked_with_its_own_code_gets_the_reminders_too(
        clinic: Clinic, patient: int) -> None:
    patient_code = clinic.code(patient_id=patient)
    family_code = clinic.code(patient_id=patient, family_name="山田 花子")

    async def scenario(bot: RunningBot) -> None:
        await bot.say(PATIENT_CHAT, f"/start {patient_code}")
        welcome = await bot.say(FAMILY_CHAT, f"/start {family_code}")
        assert raw(welcome) == bot_texts.welcome_text("ja", name=PATIENT,
                                                      family_name="山田 花子")
        await bot.dispatch(COLLECTION_REMINDER)
        for chat_id in (PATIENT_CHAT, FAMILY_CHAT):
            reminder = await bot.new_message(chat_id, 1)
            assert "5月17日(月)" in (reminder.text or "")

    clinic.run(scenario)


# -- patient commands -----------------------------------------------------------------------


def test_language_switches_the_answers_between_japanese_and_english(
        clinic: Clinic, linked: int) -> None:
    async def scenario(bot: RunningBot) -> None:
        japanese = await bot.say(PATIENT_CHAT, "/next")
        choice = await bot.say(PATIENT_CHAT, "/language")  # buttons, no switch yet
        before = len(bot.tg.messages(PATIENT_CHAT))
        await bot.press(PATIENT_CHAT, choice, 1)  # English
        switched = await bot.new_message(PATIENT_CHAT, before)
        english = await bot.say(PATIENT_CHAT, "/next")
        back = await bot.say(PATIENT_CHAT, "/language ja")
        assert raw(switched) == bot_texts.language_text("en")
        assert raw(back) == bot_texts.language_text("ja")
        assert "5月17日(月)" in (japanese.text or "")
        assert "Mon 17 May" in (english.text or "")

    clinic.run(scenario)


def test_next_shows_the_collection_then_after_it_the_visit_on_2027_06_07(
        clinic: Clinic, linked: int) -> None:
    async def scenario(bot: RunningBot) -> None:
        before = await bot.say(PATIENT_CHAT, "/next")
        clinic.clock.set(tokyo(2027, 5, 17, 13, 30))  # the collection is over
        after = await bot.say(PATIENT_CHAT, "/next")
        assert "5月17日(月) 午前9時" in (before.text or "")
        assert "6月7日(月)" in (after.text or "")
        assert "5月17日" not in (after.text or "")

    clinic.run(scenario)


def test_schedule_lists_the_visits_with_a_month_view_in_pre(
        clinic: Clinic, linked: int) -> None:
    async def scenario(bot: RunningBot) -> None:
        await bot.say(PATIENT_CHAT, "/language en")
        answer = await bot.say(PATIENT_CHAT, "/schedule")
        assert "<pre>" in raw(answer)
        assert any(entity["type"] == "pre" for entity in answer.entities)
        assert "Mon 17 May" in (answer.text or "")
        assert "May 2027" in (answer.text or "")
        assert "July 2027" in (answer.text or "")

    clinic.run(scenario)


def test_ics_sends_a_calendar_file_that_strict_parsers_accept(
        clinic: Clinic, linked: int) -> None:
    async def scenario(bot: RunningBot) -> None:
        answer = await bot.say(PATIENT_CHAT, "/ics")
        assert answer.document is not None
        assert answer.document["file_name"] == "ank-schedule.ics"
        data = bot.tg.file_content(answer.document["file_id"])
        check_ics(data)
        assert data.count(b"BEGIN:VEVENT") >= 10
        assert answer.text == visible_text(bot_texts.ics_caption("ja"))

    clinic.run(scenario)


def test_ics_gives_the_chat_its_own_feed_link_again_and_stop_revokes_it(
        clinic: Clinic, linked: int) -> None:
    from planner.calendars.feeds import Feeds

    feed = dataclasses.replace(clinic.settings.feed, base_url="https://cal.example.jp")
    clinic.settings = dataclasses.replace(clinic.settings, feed=feed)
    links: list[str] = []

    async def scenario(bot: RunningBot) -> None:
        for _ in range(2):
            before = len(bot.tg.messages(PATIENT_CHAT))
            bot.tg.send_text(PATIENT_CHAT, "/ics")
            link_message = await bot.new_message(PATIENT_CHAT, before + 1)
            links.append((link_message.text or "").splitlines()[-1])
        await stop_confirmed(bot, PATIENT_CHAT)

    clinic.run(scenario)
    assert links[0] == links[1]
    assert links[0].startswith("https://cal.example.jp/feeds/")
    secret = links[0].removeprefix("https://cal.example.jp/feeds/").removesuffix(".ics")
    assert Feeds(clinic.planner.store.db, clinic.settings).find(secret) is None  # revoked


def test_ics_gives_no_feed_link_while_feeds_are_not_public(clinic: Clinic, linked: int
                                                           ) -> None:
    async def scenario(bot: RunningBot) -> None:
        await bot.say(PATIENT_CHAT, "/ics")
        before = len(bot.tg.messages(PATIENT_CHAT))
        await bot.say(PATIENT_CHAT, "/help")
        assert len(bot.tg.messages(PATIENT_CHAT)) == before + 1

    clinic.run(scenario)


def test_help_lists_the_patient_commands(clinic: Clinic, linked: int) -> None:
    async def scenario(bot: RunningBot) -> None:
        answer = await bot.say(PATIENT_CHAT, "/help")
        assert raw(answer) == bot_texts.help_text("ja", staff=False)
        assert "/today" not in (answer.text or "")

    clinic.run(scenario)


def test_stop_unlinks_the_chat_and_no_reminder_reaches_it_afterwards(
        clinic: Clinic, linked: int) -> None:
    async def scenario(bot: RunningBot) -> None:
        answer = await stop_confirmed(bot, PATIENT_CHAT)
        assert raw(answer) == bot_texts.stop_text("ja")
        after = await bot.say(PATIENT_CHAT, "/next")
        assert raw(after) == bot_texts.generic_text("ja")
        answered = len(sent_to(bot.tg, PATIENT_CHAT))
        await bot.dispatch(COLLECTION_REMINDER)
        await bot.dispatch(tokyo(2027, 5, 16, 18))
        assert len(sent_to(bot.tg, PATIENT_CHAT)) == answered

    clinic.run(scenario)
    states = {r["state"] for r in clinic.rows(
        "SELECT state FROM reminders WHERE due_ts <= ? AND audience = 'patient'",
        [int(tokyo(2027, 5, 16, 18).timestamp())])}
    assert states == {"failed"}  # no linked chat: staff were told instead


# -- staff commands ------------------------------------------------------------------------


def test_staff_today_tomorrow_week_and_unconfirmed(clinic: Clinic, linked: int) -> None:
    clinic.clock.set(tokyo(2027, 5, 16, 9))  # Sun, the day before the collection

    async def scenario(bot: RunningBot) -> None:
        today = await bot.say(NURSE_CHAT, "/today")
        tomorrow = await bot.say(NURSE_CHAT, "/tomorrow")
        week = await bot.say(NURSE_CHAT, "/week")
        unconfirmed = await bot.say(NURSE_CHAT, "/unconfirmed")
        label = f"山田様（#{linked}）"  # staff_names = "initials": the family name
        assert label not in (today.text or "")
        assert label in (tomorrow.text or "")
        assert "09:00–13:00" in (tomorrow.text or "")
        assert label in (week.text or "")
        assert "5月17日(月)" in (week.text or "")
        assert label in (unconfirmed.text or "")

    clinic.run(scenario)


def test_a_patient_asking_for_today_gets_the_generic_answer(clinic: Clinic, linked: int) -> None:
    async def scenario(bot: RunningBot) -> None:
        answer = await bot.say(PATIENT_CHAT, "/today")
        assert raw(answer) == bot_texts.generic_text("ja")
        assert PATIENT not in raw(answer)

    clinic.run(scenario)


def test_an_unlinked_chat_asking_for_next_gets_the_generic_answer(
        clinic: Clinic, linked: int) -> None:
    async def scenario(bot: RunningBot) -> None:
        answer = await bot.say(STRANGER_CHAT, "/next")
        assert raw(answer) == bot_texts.generic_text("ja")
        assert PATIENT not in raw(answer)

    clinic.run(scenario)


def test_command_menus_are_set_for_everyone_in_english_and_japanese(clinic: Clinic) -> None:
    async def scenario(bot: RunningBot) -> None:
        for language in ("", "ja"):
            names = [c["command"] for c in bot.tg.commands(None, language)]
            assert names == list(bot_texts.PATIENT_COMMANDS)

    clinic.run(scenario)
    languages = {c.params.get("language_code") for c in clinic.tg.calls_for("setMyCommands")}
    assert languages == {None, "ja"}


def test_a_linked_staff_chat_gets_its_own_menu_with_the_staff_commands(
        clinic: Clinic) -> None:
    code = clinic.code(staff_id=clinic.add_staff("看護 花子", "nurse"))

    async def scenario(bot: RunningBot) -> None:
        await bot.say(NURSE_CHAT, f"/start {code}")
        scope = {"type": "chat", "chat_id": NURSE_CHAT}
        await bot.tg.wait_for_async(lambda: bot.tg.commands(scope))
        names = [c["command"] for c in bot.tg.commands(scope)]
        assert "today" in names
        assert "unconfirmed" in names

    clinic.run(scenario)


# -- reminders and answers ----------------------------------------------------------------


def test_the_collection_reminder_arrives_at_10_00_on_2027_05_15_with_two_buttons(
        clinic: Clinic, linked: int) -> None:
    async def scenario(bot: RunningBot) -> None:
        await bot.dispatch(COLLECTION_REMINDER - timedelta(seconds=1))
        assert sent_to(bot.tg, PATIENT_CHAT) == []
        await bot.dispatch(COLLECTION_REMINDER)
        reminder = await bot.new_message(PATIENT_CHAT, 0)
        come, change = bot_texts.answer_buttons("ja")
        event_id = clinic.event_id("collection", 1)
        assert reminder.reply_markup == {"inline_keyboard": [
            [{"text": come, "callback_data": f"a:{event_id}:0:c"}],
            [{"text": change, "callback_data": f"a:{event_id}:0:x"}],
            [{"text": "体調がすぐれない", "callback_data": "u"}]]}
        assert "5月17日(月)" in (reminder.text or "")

    clinic.run(scenario)


def test_the_bot_wakes_by_itself_at_the_next_due_instant(clinic: Clinic, linked: int) -> None:
    async def scenario(bot: RunningBot) -> None:
        before = time.monotonic()
        await bot.dispatch(COLLECTION_REMINDER - timedelta(milliseconds=500))
        assert sent_to(bot.tg, PATIENT_CHAT) == []
        await bot.new_message(PATIENT_CHAT, 0)  # no dispatch(): the job queue's own timer
        assert sent_to(bot.tg, PATIENT_CHAT)[0].time - before >= 0.5

    clinic.run(scenario)


def test_i_need_to_change_is_stored_shown_and_sent_to_nurse_and_reception(
        clinic: Clinic, linked: int) -> None:
    async def scenario(bot: RunningBot) -> None:
        await bot.dispatch(COLLECTION_REMINDER)
        reminder = await bot.new_message(PATIENT_CHAT, 0)
        query_id = await bot.press(PATIENT_CHAT, reminder, 1)
        change = bot_texts.answer_buttons("ja")[1]
        assert bot.tg.callback_answer(query_id)["text"] == change  # type: ignore[index]
        await bot.tg.wait_for_async(lambda: bot.tg.messages(PATIENT_CHAT)[0].edits == 1)
        edited = bot.tg.messages(PATIENT_CHAT)[0]
        assert change in (edited.text or "")
        assert edited.reply_markup == reminder.reply_markup  # the patient may still change it
        for chat_id in (NURSE_CHAT, RECEPTION_CHAT):
            alert = await bot.new_message(chat_id, 0)
            assert f"山田様（#{linked}）" in (alert.text or "")
            assert "5月17日(月)" in (alert.text or "")

    clinic.run(scenario)
    answers = clinic.rows("SELECT event_id, chat_id, answer FROM confirmations")
    assert answers == [{"event_id": clinic.event_id("collection", 1), "chat_id": PATIENT_CHAT,
                        "answer": "change"}]


def test_i_will_come_is_stored_and_unconfirmed_no_longer_lists_the_visit(
        clinic: Clinic, linked: int) -> None:
    async def scenario(bot: RunningBot) -> None:
        await bot.dispatch(COLLECTION_REMINDER)
        reminder = await bot.new_message(PATIENT_CHAT, 0)
        label = f"山田様（#{linked}）"  # staff_names = "initials": the family name
        assert label in ((await bot.say(NURSE_CHAT, "/unconfirmed")).text or "")
        await bot.press(PATIENT_CHAT, reminder, 0)
        await bot.tg.wait_for_async(lambda: bot.tg.messages(PATIENT_CHAT)[0].edits == 1)
        after = await bot.say(NURSE_CHAT, "/unconfirmed")
        assert label not in (after.text or "")
        assert sent_to(bot.tg, RECEPTION_CHAT) == []  # coming needs no alert

    clinic.run(scenario)
    assert [r["answer"] for r in clinic.rows("SELECT answer FROM confirmations")] == ["come"]


def test_a_patient_who_said_they_will_come_can_still_ask_to_change(
        clinic: Clinic, linked: int) -> None:
    async def scenario(bot: RunningBot) -> None:
        await bot.dispatch(COLLECTION_REMINDER)
        reminder = await bot.new_message(PATIENT_CHAT, 0)
        await bot.press(PATIENT_CHAT, reminder, 0)
        await bot.tg.wait_for_async(lambda: bot.tg.messages(PATIENT_CHAT)[0].edits == 1)
        await bot.press(PATIENT_CHAT, bot.tg.messages(PATIENT_CHAT)[0], 1)
        await bot.tg.wait_for_async(lambda: bot.tg.messages(PATIENT_CHAT)[0].edits == 2)
        come, change = bot_texts.answer_buttons("ja")
        shown = bot.tg.messages(PATIENT_CHAT)[0].text or ""
        assert change in shown
        assert come not in shown.split("\n")[-1]  # the earlier answer was replaced
        await bot.new_message(NURSE_CHAT, 0)

    clinic.run(scenario)
    answers = [r["answer"] for r in clinic.rows("SELECT answer FROM confirmations ORDER BY id")]
    assert answers == ["come", "change"]


def test_pressing_i_need_to_change_twice_alerts_staff_once(clinic: Clinic, linked: int) -> None:
    async def scenario(bot: RunningBot) -> None:
        await bot.dispatch(COLLECTION_REMINDER)
        reminder = await bot.new_message(PATIENT_CHAT, 0)
        await bot.press(PATIENT_CHAT, reminder, 1)
        await bot.new_message(NURSE_CHAT, 0)
        await bot.press(PATIENT_CHAT, reminder, 1)
        await bot.dispatch()
        assert len(bot.tg.messages(NURSE_CHAT)) == 1

    clinic.run(scenario)
    assert len(clinic.rows("SELECT * FROM alerts WHERE kind = 'change_requested'")) == 1


def test_a_press_telegram_calls_too_old_to_answer_still_counts(
        clinic: Clinic, linked: int) -> None:
    async def scenario(bot: RunningBot) -> None:
        await bot.dispatch(COLLECTION_REMINDER)
        reminder = await bot.new_message(PATIENT_CHAT, 0)
        bot.tg.fail_next("answerCallbackQuery", "400",
                         description="query is too old and response timeout expired")
        data = reminder.reply_markup["inline_keyboard"][1][0]["callback_data"]  # type: ignore[index]
        bot.tg.press_button(PATIENT_CHAT, reminder.message_id, data)
        await bot.tg.wait_for_async(lambda: bot.tg.messages(PATIENT_CHAT)[0].edits == 1)
        await bot.new_message(NURSE_CHAT, 0)

    clinic.run(scenario)
    assert [r["answer"] for r in clinic.rows("SELECT answer FROM confirmations")] == ["change"]


def test_a_forged_button_for_another_patients_event_does_nothing(
        clinic: Clinic, linked: int) -> None:
    other = clinic.add_patient("佐藤 次郎")
    other_course = clinic.plan(other, first_infusion=date(2027, 6, 10))
    other_event = clinic.event_id("collection", 1, other_course)

    async def scenario(bot: RunningBot) -> None:
        await bot.dispatch(COLLECTION_REMINDER)
        reminder = await bot.new_message(PATIENT_CHAT, 0)
        query_id = await bot.press_data(PATIENT_CHAT, reminder.message_id,
                                        f"a:{other_event}:0:x", check=False)
        assert "text" not in bot.tg.callback_answer(query_id)  # type: ignore[operator]
        await bot.dispatch()
        assert bot.tg.messages(PATIENT_CHAT)[0].edits == 0
        assert sent_to(bot.tg, NURSE_CHAT) == []

    clinic.run(scenario)
    assert clinic.rows("SELECT * FROM confirmations") == []
    assert clinic.rows("SELECT * FROM alerts WHERE kind = 'change_requested'") == []


# -- changes made by staff through the planner (another connection) -------------------------


def test_a_reschedule_by_the_planner_supersedes_the_old_reminder(
        clinic: Clinic, linked: int) -> None:
    infusion = clinic.event_id("infusion", 1)

    async def scenario(bot: RunningBot) -> None:
        ticks = bot.loop.ticks
        clinic.planner.reschedule(infusion, date(2027, 6, 8), only=True)  # Mon -> Tue
        await until(lambda: bot.loop.ticks > ticks and bot.loop.idle)  # the watcher saw it
        await bot.dispatch(tokyo(2027, 6, 6, 18))  # the old reminder's instant
        await bot.dispatch(tokyo(2027, 6, 7, 8))
        (notice,) = sent_to(bot.tg, PATIENT_CHAT)  # the change notice, no old reminder
        assert notice.params["text"].startswith("<b>【日程変更のお知らせ】")
        await bot.dispatch(tokyo(2027, 6, 7, 18))  # the day before the new date
        reminder = await bot.new_message(PATIENT_CHAT, 1)
        assert "6月8日(火)" in (reminder.text or "")
        assert reminder.reply_markup["inline_keyboard"][0][0]["callback_data"] == (  # type: ignore[index]
            f"a:{infusion}:1:c")

    clinic.run(scenario)


def test_a_cancelled_course_sends_nothing_more(clinic: Clinic, linked: int) -> None:
    async def scenario(bot: RunningBot) -> None:
        ticks = bot.loop.ticks
        clinic.planner.cancel(1, "patient withdrew")
        await until(lambda: bot.loop.ticks > ticks and bot.loop.idle)
        for moment in (COLLECTION_REMINDER, tokyo(2027, 5, 16, 18), tokyo(2027, 6, 6, 18),
                       tokyo(2027, 6, 7, 8), tokyo(2027, 7, 12, 10)):
            await bot.dispatch(moment)
        (notice,) = sent_to(bot.tg, PATIENT_CHAT)  # told once, then nothing more
        assert notice.params["text"].startswith("<b>【ご予約取り消しのお知らせ】")

    clinic.run(scenario)
    assert {r["state"] for r in clinic.rows("SELECT state FROM reminders")} == {"skipped"}


# -- failures through the real HTTP stack --------------------------------------------------


def delivery(clinic: Clinic, chat_id: int = PATIENT_CHAT) -> dict[str, Any]:
    rows = clinic.rows("SELECT * FROM deliveries WHERE chat_id = ? AND purpose = 'reminder'",
                       [chat_id])
    assert len(rows) == 1
    return rows[0]


def test_flood_control_429_waits_retry_after_and_then_delivers(
        clinic: Clinic, linked: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")

    async def scenario(bot: RunningBot) -> None:
        bot.tg.fail_next("sendMessage", "429", chat_id=PATIENT_CHAT, retry_after=1)
        await bot.dispatch(COLLECTION_REMINDER)
        assert delivery(clinic)["state"] == "pending"
        await bot.new_message(PATIENT_CHAT, 0)  # the bot's own job queue waits the second
        refused, accepted = sent_to(bot.tg, PATIENT_CHAT)
        assert (refused.status, accepted.status) == (429, 200)
        assert accepted.time - refused.time >= 1.0

    clinic.run(scenario)
    row = delivery(clinic)
    assert (row["state"], row["attempts"]) == ("sent", 1)  # a flood wait is no attempt


def test_a_502_is_retried_five_seconds_later_and_delivered(
        clinic: Clinic, linked: int) -> None:
    async def scenario(bot: RunningBot) -> None:
        bot.tg.fail_next("sendMessage", "502", chat_id=PATIENT_CHAT)
        await bot.dispatch(COLLECTION_REMINDER)
        await bot.dispatch(COLLECTION_REMINDER + timedelta(seconds=4))
        assert [c.status for c in sent_to(bot.tg, PATIENT_CHAT)] == [502]
        retry = delivery(clinic)["next_attempt_ts"] - COLLECTION_REMINDER.timestamp()
        assert 5 <= retry <= 6  # five seconds after the failed attempt, in whole seconds
        await bot.dispatch(COLLECTION_REMINDER + timedelta(seconds=6))
        await bot.new_message(PATIENT_CHAT, 0)

    clinic.run(scenario)
    row = delivery(clinic)
    assert (row["state"], row["attempts"]) == ("sent", 2)


def test_a_timed_out_send_is_retried_and_delivered(clinic: Clinic, linked: int) -> None:
    def sender(bot: Any) -> Sender:
        return TelegramSender(bot, clinic.tg.token, read_timeout=0.3)

    async def scenario(bot: RunningBot) -> None:
        bot.tg.fail_next("sendMessage", "timeout", chat_id=PATIENT_CHAT)
        await bot.dispatch(COLLECTION_REMINDER)
        assert bot.tg.messages(PATIENT_CHAT) == []
        assert "timed out" in delivery(clinic)["last_error"]
        await bot.dispatch(COLLECTION_REMINDER + timedelta(seconds=5))
        await bot.new_message(PATIENT_CHAT, 0)

    clinic.run(scenario, sender_factory=sender)
    assert delivery(clinic)["state"] == "sent"


def test_a_blocked_chat_is_marked_unreachable_and_staff_are_alerted(
        clinic: Clinic, linked: int) -> None:
    async def scenario(bot: RunningBot) -> None:
        bot.tg.block_chat(PATIENT_CHAT)
        await bot.dispatch(COLLECTION_REMINDER)
        for chat_id in (NURSE_CHAT, RECEPTION_CHAT):
            alert = await bot.new_message(chat_id, 0)
            assert f"山田様（#{linked}）" in (alert.text or "")
        await bot.dispatch(tokyo(2027, 5, 16, 18))  # the next reminder is not even tried
        assert [c.status for c in sent_to(bot.tg, PATIENT_CHAT)] == [403]

    clinic.run(scenario)
    chat = clinic.rows("SELECT unreachable_at, unreachable_reason FROM chats WHERE chat_id = ?",
                       [PATIENT_CHAT])[0]
    assert chat["unreachable_at"] is not None
    assert "blocked" in chat["unreachable_reason"]


def test_a_chat_that_writes_again_after_blocking_gets_reminders_again(
        clinic: Clinic, linked: int) -> None:
    async def scenario(bot: RunningBot) -> None:
        bot.tg.block_chat(PATIENT_CHAT)
        await bot.dispatch(COLLECTION_REMINDER)
        await bot.say(PATIENT_CHAT, "/next")  # writing unblocks on Telegram
        await bot.dispatch(tokyo(2027, 5, 16, 18))
        reminder = await bot.new_message(PATIENT_CHAT, 1)
        assert reminder.reply_markup is not None

    clinic.run(scenario)


def test_a_400_fails_the_message_with_its_reason_and_alerts_staff(
        clinic: Clinic, linked: int) -> None:
    async def scenario(bot: RunningBot) -> None:
        bot.tg.fail_next("sendMessage", "400", chat_id=PATIENT_CHAT,
                         description="message is too long")
        await bot.dispatch(COLLECTION_REMINDER)
        alert = await bot.new_message(NURSE_CHAT, 0)
        assert "理由：送信できませんでした" in (alert.text or "")  # Telegram's words: in the DB
        await bot.dispatch(COLLECTION_REMINDER + timedelta(minutes=10))
        assert len(sent_to(bot.tg, PATIENT_CHAT)) == 1  # never retried

    clinic.run(scenario)
    row = delivery(clinic)
    assert row["state"] == "failed"
    assert "message is too long" in row["last_error"].lower()
    reminder = clinic.rows("SELECT state FROM reminders WHERE id = ?", [row["reminder_id"]])
    assert reminder == [{"state": "failed"}]


# -- escaping and secrets -------------------------------------------------------------------


def test_a_patient_named_with_html_gets_escaped_text_everywhere(clinic: Clinic) -> None:
    name = "<b>A&B</b>"
    export = dataclasses.replace(clinic.settings.export, staff_names="full")
    clinic.settings = dataclasses.replace(clinic.settings, export=export)
    patient_id = clinic.add_patient(name)
    clinic.plan(patient_id)
    code = clinic.code(patient_id=patient_id)
    link(clinic, NURSE_CHAT, staff_id=clinic.add_staff("<i>Nurse</i>", "nurse"))

    async def scenario(bot: RunningBot) -> None:
        welcome = await bot.say(PATIENT_CHAT, f"/start {code}")
        assert name in (welcome.text or "")
        await bot.dispatch(COLLECTION_REMINDER)
        reminder = await bot.new_message(PATIENT_CHAT, 1)
        await bot.say(PATIENT_CHAT, "/schedule")
        await bot.press(PATIENT_CHAT, reminder, 1)
        alert = await bot.new_message(NURSE_CHAT, 0)
        assert name in (alert.text or "")
        week = await bot.say(NURSE_CHAT, "/week")
        assert name in (week.text or "")
        await bot.tg.wait_for_async(lambda: bot.tg.messages(PATIENT_CHAT)[1].edits == 1)
        refused = [c for c in bot.tg.calls if c.status not in (200, None)]
        assert refused == []

    clinic.run(scenario)


class Collect(logging.Handler):
    """Keeps every record's final text, as any other handler would write it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(logging.Formatter().format(record))


@pytest.fixture
def captured_log(caplog: pytest.LogCaptureFixture, clinic: Clinic
                 ) -> Iterator[tuple[io.StringIO, Collect]]:
    """The bot's own log handler on a StringIO, a handler added before it (so it sees the
    records first), and pytest's caplog; telegram and httpx at DEBUG."""
    stream, early = io.StringIO(), Collect()
    factory = logging.getLogRecordFactory()
    root = logging.getLogger()
    level = root.level
    root.addHandler(early)
    handler = configure_logging(clinic.tg.token, stream)
    for name in ("telegram", "httpx", "planner"):
        caplog.set_level(logging.DEBUG, logger=name)
    try:
        yield stream, early
    finally:
        root.removeHandler(handler)
        root.removeHandler(early)
        root.setLevel(level)
        logging.setLogRecordFactory(factory)
        for name in ("httpx", "httpcore", "apscheduler"):
            logging.getLogger(name).setLevel(logging.NOTSET)


def test_the_token_never_appears_in_the_logs_even_when_a_request_fails(
        clinic: Clinic, linked: int, captured_log: tuple[io.StringIO, Collect],
        caplog: pytest.LogCaptureFixture) -> None:
    stream, early = captured_log

    async def scenario(bot: RunningBot) -> None:
        bot.tg.fail_next("sendMessage", "drop", chat_id=PATIENT_CHAT)
        await bot.dispatch(COLLECTION_REMINDER)
        await bot.say(PATIENT_CHAT, "/next")

    clinic.run(scenario)
    assert "disconnected" in delivery(clinic)["last_error"].lower()  # the network error
    secret = clinic.tg.token.split(":")[1]
    for text in (stream.getvalue(), "\n".join(early.lines), caplog.text):
        assert "HTTP Request: POST" in text  # httpx did log every URL ...
        assert "/bot<token>/sendMessage" in text  # ... with the token replaced
        assert secret not in text


def test_the_bot_serves_calendar_feeds_from_its_own_process(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    import httpx

    from planner.calendars.feed_server import bound_port
    from planner.calendars.feeds import Feeds
    from tests.ics_checks import check_ics

    monkeypatch.delenv("PLANNER_BOT_TOKEN", raising=False)
    with FakeTelegram() as tg:
        settings = parse_settings({
            "bot": {"token": tg.token, "base_url": tg.base_url,
                    "base_file_url": tg.base_file_url},
            "feed": {"port": 0},
        }, "test")
        path = tmp_path / "clinic.db"
        db = open_database(path)
        clock = MovingClock(PLANNED_AT)
        planner = Planner(Store(db), settings, clock)
        patient_id = planner.store.add_patient(PATIENT, "ja", None, "test", clock.now())["id"]
        planner.plan(patient_id, first_infusion=FIRST_INFUSION)
        with planner.store.transaction():
            _, secret = Feeds(db, settings).issue(clock.now(), patient_id=patient_id)

        async def scenario() -> None:
            bot_db = open_bot_database(path)
            app = build_application(settings, bot_db, clock, feeds_from=path)
            await app.initialize()
            await app.start()
            await on_start(app)
            try:
                port = bound_port(app.bot_data["feed_runner"])
                async with httpx.AsyncClient() as client:
                    answer = await client.get(f"http://127.0.0.1:{port}/feeds/{secret}.ics")
                assert answer.status_code == 200
                check_ics(answer.content)
                assert "ANK細胞の点滴".encode() in answer.content
            finally:
                await app.stop()
                await on_stop(app)  # post_shutdown runs only under run_polling
                await app.shutdown()
                bot_db.conn.close()

        asyncio.run(scenario())
        db.conn.close()
