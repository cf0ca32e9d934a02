"""What patients and staff read, end to end against the fake Bot API (issue 10).

The clinic of ``tests/test_bot.py``: patient 山田 太郎 (Japanese) planned on Mon 2027-05-10
from the first infusion on Mon 2027-06-07 10:00 (its blood test 09:30); the collection is
on Mon 2027-05-17 09:00, reminded on Sat 2027-05-15 10:00. The nurse's and the
receptionist's chats are linked (fixture ``linked``); ``staff_names`` is "initials", so
staff chats name the patient 山田様.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

from planner.core.reminders import ReminderRule
from planner.texts import reach as reach_texts
from planner.texts.letterhead import Letterhead
from tests.test_bot import (  # noqa: F401 - fixtures
    COLLECTION_REMINDER,
    FAMILY_CHAT,
    NURSE_CHAT,
    PATIENT_CHAT,
    RECEPTION_CHAT,
    Clinic,
    RunningBot,
    clinic,
    link,
    linked,
    patient,
    raw,
    tokyo,
)

LAB_CHAT = 3003


def test_a_typed_message_is_answered_and_reaches_the_nurses_naming_the_patient(
        clinic: Clinic, linked: int) -> None:
    async def scenario(bot: RunningBot) -> None:
        answer = await bot.say(PATIENT_CHAT, "熱が39度あります")
        assert raw(answer) == reach_texts.received_text("ja", head=Letterhead())
        nurse = await bot.new_message(NURSE_CHAT, 0)
        assert "熱が39度あります" in (nurse.text or "")
        assert "山田様（#1）（ご本人）" in (nurse.text or "")
        assert bot.tg.messages(RECEPTION_CHAT) == []

    clinic.run(scenario)


def test_a_family_members_message_names_the_family_member_and_the_patient(
        clinic: Clinic, linked: int) -> None:
    link(clinic, FAMILY_CHAT, patient_id=linked, family_name="山田 花子")

    async def scenario(bot: RunningBot) -> None:
        await bot.say(FAMILY_CHAT, "明日行けません")
        nurse = await bot.new_message(NURSE_CHAT, 0)
        assert "山田 花子様（山田様（#1）のご家族）" in (nurse.text or "")
        assert "明日行けません" in (nurse.text or "")

    clinic.run(scenario)


def test_unwell_button_alerts_the_nurses_and_gives_the_fever_instruction(
        clinic: Clinic, linked: int) -> None:
    async def scenario(bot: RunningBot) -> None:
        await bot.dispatch(COLLECTION_REMINDER)
        reminder = await bot.new_message(PATIENT_CHAT, 0)
        await bot.press(PATIENT_CHAT, reminder, 2)  # 体調がすぐれない
        answer = await bot.new_message(PATIENT_CHAT, 1)
        assert "38℃以上の熱" in (answer.text or "")
        nurse = await bot.new_message(NURSE_CHAT, 0)
        assert "体調がすぐれない" in (nurse.text or "")
        assert "山田様" in (nurse.text or "")

    clinic.run(scenario)


def test_a_reschedule_sends_a_change_notice_and_retires_the_old_buttons(
        clinic: Clinic, linked: int) -> None:
    collection = clinic.event_id("collection", 1)

    async def scenario(bot: RunningBot) -> None:
        await bot.dispatch(COLLECTION_REMINDER)  # Sat 2027-05-15 10:00
        reminder = await bot.new_message(PATIENT_CHAT, 0)
        assert reminder.reply_markup is not None
        clinic.clock.set(tokyo(2027, 5, 15, 10, 5))
        clinic.planner.reschedule(collection, date(2027, 5, 18), force=True)
        await bot.dispatch()
        notice = await bot.new_message(PATIENT_CHAT, 1)
        text = notice.text or ""
        assert text.startswith("【日程変更のお知らせ】")
        assert "変更前 5月17日(月) 午前9時 → 変更後 5月18日(火) 午前9時" in text
        await bot.tg.wait_for_async(
            lambda: bot.tg.messages(PATIENT_CHAT)[0].reply_markup is None)
        old = bot.tg.messages(PATIENT_CHAT)[0]
        assert (old.text or "").startswith("【この案内は古くなりました】")

    clinic.run(scenario)


def test_a_cancelled_course_is_told_as_a_cancellation(clinic: Clinic, linked: int) -> None:
    async def scenario(bot: RunningBot) -> None:
        clinic.planner.cancel(1, "patient's wish", force=True)
        await bot.dispatch()
        notice = await bot.new_message(PATIENT_CHAT, 0)
        text = notice.text or ""
        assert text.startswith("【ご予約取り消しのお知らせ】")
        assert "5月17日(月) 午前9時 は取り消しになりました。" in text

    clinic.run(scenario)


def test_the_evening_check_in_with_a_fever_alerts_the_nurses(
        clinic: Clinic, linked: int) -> None:
    async def scenario(bot: RunningBot) -> None:
        await bot.dispatch(tokyo(2027, 6, 7, 19, 0))  # the evening of infusion 1
        check_in = next(m for m in bot.tg.messages(PATIENT_CHAT)
                        if "今夜の体調" in (m.text or ""))
        labels = [row[0]["text"] for row in check_in.reply_markup["inline_keyboard"]]  # type: ignore[index]
        assert labels == ["熱はありません", "38℃以上あります", "電話してほしい"]
        before = len(bot.tg.messages(NURSE_CHAT))
        await bot.press(PATIENT_CHAT, check_in, 1)
        nurse = await bot.new_message(NURSE_CHAT, before)
        assert (nurse.text or "").startswith("⚠ 点滴後の発熱の連絡です")
        assert "山田様（#1）（ご本人）：「38℃以上あります」" in (nurse.text or "")

    clinic.run(scenario)


def test_a_check_in_without_a_fever_alerts_nobody(clinic: Clinic, linked: int) -> None:
    async def scenario(bot: RunningBot) -> None:
        await bot.dispatch(tokyo(2027, 6, 7, 19, 0))
        check_in = next(m for m in bot.tg.messages(PATIENT_CHAT)
                        if "今夜の体調" in (m.text or ""))
        before = len(bot.tg.messages(NURSE_CHAT))
        await bot.press(PATIENT_CHAT, check_in, 0)
        await bot.dispatch()
        assert len(bot.tg.messages(NURSE_CHAT)) == before

    clinic.run(scenario)


def test_a_lab_reminder_names_the_patient_the_infusion_and_its_time(
        clinic: Clinic, linked: int) -> None:
    link(clinic, LAB_CHAT, staff_id=clinic.add_staff("培養 一郎", "lab"))
    clinic.tg.add_chat(LAB_CHAT, "Lab", language_code="ja")
    due = clinic.rows("SELECT MIN(due_ts) AS due FROM reminders WHERE audience = 'lab'")[0]
    from datetime import UTC, datetime

    moment = datetime.fromtimestamp(due["due"], UTC).astimezone(tokyo(2027, 1, 1).tzinfo)

    async def scenario(bot: RunningBot) -> None:
        await bot.dispatch(moment + timedelta(seconds=1))
        message = await bot.new_message(LAB_CHAT, 0)
        text = message.text or ""
        assert text.startswith("【培養ラボ】")
        assert "山田様（#1）：1回目の点滴用の培養細胞を届けます。" in text
        assert "（点滴 6月7日(月) 10:00）" in text

    clinic.run(scenario)


def test_stop_asks_first_and_keeps_the_link_until_stop_is_pressed(
        clinic: Clinic, linked: int) -> None:
    async def scenario(bot: RunningBot) -> None:
        question = await bot.say(PATIENT_CHAT, "/stop")
        labels = [row[0]["text"] for row in question.reply_markup["inline_keyboard"]]  # type: ignore[index]
        assert labels == ["止める", "止めない"]
        assert clinic.rows("SELECT unlinked_at FROM chats WHERE chat_id = ?",
                           [PATIENT_CHAT]) == [{"unlinked_at": None}]
        await bot.press(PATIENT_CHAT, question, 1)  # 止めない
        await bot.tg.wait_for_async(lambda: bot.tg.messages(PATIENT_CHAT)[-1].edits == 1)
        assert bot.tg.messages(PATIENT_CHAT)[-1].text == "お知らせはこれまでどおりお送りします。"

    clinic.run(scenario)
    assert clinic.rows("SELECT unlinked_at FROM chats WHERE chat_id = ?",
                       [PATIENT_CHAT]) == [{"unlinked_at": None}]


def test_a_confirmed_stop_tells_the_nurse_and_the_receptionist(
        clinic: Clinic, linked: int) -> None:
    async def scenario(bot: RunningBot) -> None:
        question = await bot.say(PATIENT_CHAT, "/stop")
        await bot.press(PATIENT_CHAT, question, 0)  # 止める
        for chat_id in (NURSE_CHAT, RECEPTION_CHAT):
            alert = await bot.new_message(chat_id, 0)
            assert (alert.text or "").startswith("⚠ お知らせが停止されました")
            assert "山田様（#1）（ご本人）がチャットのお知らせを止めました。" in (alert.text or "")

    clinic.run(scenario)
    (chat,) = clinic.rows("SELECT unlinked_at FROM chats WHERE chat_id = ?", [PATIENT_CHAT])
    assert chat["unlinked_at"] is not None


def test_language_without_a_word_offers_both_languages_and_switches_nothing(
        clinic: Clinic, linked: int) -> None:
    async def scenario(bot: RunningBot) -> None:
        choice = await bot.say(PATIENT_CHAT, "/language")
        labels = [row[0]["text"] for row in choice.reply_markup["inline_keyboard"]]  # type: ignore[index]
        assert labels == ["日本語", "English"]

    clinic.run(scenario)
    assert clinic.rows("SELECT lang FROM chats WHERE chat_id = ?",
                       [PATIENT_CHAT]) == [{"lang": "ja"}]


def test_one_family_chat_linked_to_two_patients_hears_of_each_by_name(
        clinic: Clinic, linked: int) -> None:
    second = clinic.add_patient("山田 次郎")
    clinic.plan(second, first_infusion=date(2027, 6, 8))  # Tue 8 June
    codes = [clinic.code(patient_id=linked, family_name="山田 花子"),
             clinic.code(patient_id=second, family_name="山田 花子")]

    async def scenario(bot: RunningBot) -> None:
        for code in codes:
            await bot.say(FAMILY_CHAT, f"/start {code}")
        before = len(bot.tg.messages(FAMILY_CHAT))
        bot.tg.send_text(FAMILY_CHAT, "/next")
        first = await bot.new_message(FAMILY_CHAT, before)
        other = await bot.new_message(FAMILY_CHAT, before + 1)
        assert "山田 太郎様" in (first.text or "")
        assert "山田 次郎様" in (other.text or "")
        await bot.say(FAMILY_CHAT, "二人とも明日は行けません")
        nurse = await bot.new_message(NURSE_CHAT, 0)
        assert "山田 花子様（山田様（#1）・山田様（#2）のご家族）" in (nurse.text or "")

    clinic.run(scenario)
    rows = clinic.rows("SELECT patient_id FROM chats WHERE chat_id = ? AND unlinked_at IS NULL"
                       " ORDER BY id", [FAMILY_CHAT])
    assert rows == [{"patient_id": linked}, {"patient_id": second}]


def test_a_patients_own_code_still_replaces_a_family_link(clinic: Clinic, linked: int
                                                          ) -> None:
    second = clinic.add_patient("山田 次郎")
    link(clinic, FAMILY_CHAT, patient_id=linked, family_name="山田 花子")
    code = clinic.code(patient_id=second)

    async def scenario(bot: RunningBot) -> None:
        await bot.say(FAMILY_CHAT, f"/start {code}")

    clinic.run(scenario)
    rows = clinic.rows("SELECT patient_id, family_name FROM chats WHERE chat_id = ?"
                       " AND unlinked_at IS NULL", [FAMILY_CHAT])
    assert rows == [{"patient_id": second, "family_name": None}]


def test_a_patient_without_a_chat_is_alerted_to_the_nurse_once_a_day(
        clinic: Clinic, linked: int) -> None:
    an_hour_before = ReminderRule("infusion", "patient", minutes_before=60)
    policy = dataclasses.replace(clinic.settings.reminders,
                                 rules=(*clinic.settings.reminders.rules, an_hour_before))
    clinic.settings = dataclasses.replace(clinic.settings, reminders=policy)
    clinic.planner.settings = clinic.settings
    unlinked = clinic.add_patient("佐藤 一郎")
    clinic.plan(unlinked, first_infusion=date(2027, 6, 8))  # Tue 8 June, no chat linked

    async def scenario(bot: RunningBot) -> None:
        await bot.dispatch(tokyo(2027, 6, 8, 8, 0))  # the 2-hours-before reminder
        await bot.new_message(NURSE_CHAT, 0)
        await bot.dispatch(tokyo(2027, 6, 8, 9, 0))  # the hour-before one, same day
        await bot.dispatch(tokyo(2027, 6, 8, 9, 0, 5))
        told = [m for m in bot.tg.messages(NURSE_CHAT)
                if (m.text or "").startswith("⚠ チャットが登録されていません")]
        assert len(told) == 1
        assert "佐藤様（#2）" in (told[0].text or "")

    clinic.run(scenario)
    kinds = clinic.rows("SELECT state FROM alerts WHERE kind = 'no_chat' AND patient_id = ?",
                        [unlinked])
    assert len(kinds) == 2  # both recorded, the second not sent again
