"""The HTML texts the Telegram bot sends (planner/bot_texts.py).

Every text is also fed to the fake Bot API's strict HTML parser (tests/fake_telegram.py),
which refuses what Telegram refuses, so "it parses" here means Telegram would accept it.
"""

from __future__ import annotations

import html
import inspect
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.texts.catalogue import event_title, load_messages
from planner.texts.html import split_message, visible_length, visible_text
from planner.texts.letterhead import Letterhead
from planner.texts.patient import (
    PATIENT_COMMANDS,
    STAFF_COMMANDS,
    Visit,
    answer_buttons,
    answered_text,
    bot_commands,
    feed_link_text,
    generic_text,
    help_text,
    ics_caption,
    language_text,
    next_visit_text,
    reminder_text,
    schedule_text,
    stop_text,
    throttled_text,
    welcome_text,
    when_words,
)
from planner.texts.staff import (
    alert_change_requested,
    alert_delivery_failed,
    alert_lab_notice,
    alert_no_chat,
    alert_no_makeup,
    alert_unreachable,
    day_text,
    day_title,
    digest_text,
    unconfirmed_text,
    week_text,
)
from tests.fake_telegram import format_text

TOKYO = ZoneInfo("Asia/Tokyo")
NAME = "山田 太郎"
NASTY = "<b>A&B</b>"
NASTY_ESCAPED = "&lt;b&gt;A&amp;B&lt;/b&gt;"
LANGS = ("ja", "en")


def tokyo(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TOKYO)


def visit(kind: str = "infusion", seq: int = 3, start: datetime | None = None,
          minutes: int = 60, **fields: Any) -> Visit:
    """Infusion 3 of 8 on Mon 2026-12-07 10:00–11:00 for patient 12, 山田 太郎, unless told."""
    start = start or tokyo(12, 7, 10)
    end = start + timedelta(minutes=minutes)
    return replace(Visit(kind, seq, 8, start, end, "scheduled", NAME, 12), **fields)


# Mon 2026-11-16 09:00 collection (done); infusions Mon 7 Dec and Thu 10 Dec 2026.
COLLECTION = visit("collection", 1, tokyo(11, 16, 9), 240, status="done", confirmed="come")
INFUSION_3 = visit()
INFUSION_4 = visit(seq=4, start=tokyo(12, 10, 10), confirmed="change")


def year_end(day: date) -> str | None:
    """Closed 2026-12-29 … 2027-01-03, like the clinic's default year-end closure."""
    return "年末年始" if date(2026, 12, 29) <= day <= date(2027, 1, 3) else None


def shown(html_text: str) -> str:
    """What Telegram shows: raises if Telegram's parser would refuse the text."""
    text, _entities = format_text(html_text, "HTML")
    return text


# --- reminders --------------------------------------------------------------------------


INFUSION_DAY = replace(INFUSION_3, arrive=tokyo(12, 7, 9, 30))  # blood test at 09:30


def test_reminder_in_japanese_says_whose_visit_tomorrow_and_when_to_arrive() -> None:
    lines = reminder_text(INFUSION_DAY, "ja", when_label="days:1").splitlines()
    assert lines[:5] == [
        "<b>【ANK clinic】ご来院のお知らせ</b>",
        "山田 太郎様",
        "<b>明日 12月7日(月) 午前9時30分</b>",
        "ANK細胞の点滴 3回目（全8回）",
        "午前9時30分までにお越しください。採血のあと、午前10時から点滴です"
        "（午前11時ごろ終わります）。",
    ]


def test_reminder_in_english_says_in_two_hours_and_when_to_arrive() -> None:
    lines = reminder_text(INFUSION_DAY, "en", when_label="hours:2").splitlines()
    assert lines[:5] == [
        "<b>ANK clinic: your visit</b>",
        "For 山田 太郎",
        "<b>in 2 hours, Mon 7 Dec, 9:30 am</b>",
        "ANK cell infusion 3 of 8",
        "Please arrive by 9:30 am. After a blood test, the drip starts at 10:00 am "
        "(it ends at about 11:00 am).",
    ]


def test_reminder_for_an_infusion_carries_the_fever_instruction_and_the_numbers() -> None:
    head = Letterhead(phone="03-1234-5678", after_hours_phone="090-0000-1111")
    lines = reminder_text(INFUSION_3, "ja", when_label="days:1", head=head).splitlines()
    fever = lines.index("点滴のあと、その日のうちに熱が出ることがあります。38℃以上の熱が翌朝まで"
                        "続くとき、寒気やだるさが強いときは、お電話ください。")
    assert lines[fever + 1:fever + 3] == ["☎ 03-1234-5678", "夜間・休日 ☎ 090-0000-1111"]


def test_reminder_ends_with_the_clinics_name_number_address_and_map() -> None:
    head = Letterhead(clinic="あおば クリニック", phone="03-1234-5678", address="東京都港区1-2-3",
                      map_url="https://maps.example/aoba")
    lines = reminder_text(INFUSION_3, "ja", when_label="days:1", head=head).splitlines()
    assert lines[-3:] == ["<i>あおば クリニック ☎ 03-1234-5678</i>", "<i>住所：東京都港区1-2-3</i>",
                          "<i>地図：https://maps.example/aoba</i>"]


def test_reminder_without_buttons_asks_to_call_instead_of_tapping() -> None:
    text = reminder_text(visit("follow_up", 8), "ja", when_label="days:3", buttons=False)
    assert "ご都合が悪いときは、お電話ください。" in text
    assert "ボタン" not in text


def test_the_discreet_setting_keeps_the_treatment_out_of_the_first_line() -> None:
    for lang in LANGS:
        discreet = reminder_text(INFUSION_3, lang, when_label="days:1").splitlines()[0]
        named = reminder_text(INFUSION_3, lang, when_label="days:1",
                              head=Letterhead(discreet=False)).splitlines()[0]
        title = event_title("infusion", 3, 8, lang)
        assert title not in discreet
        assert title in named


def test_reminder_for_a_collection_says_eat_drink_and_three_to_four_hours() -> None:
    collection = visit("collection", 1, tokyo(11, 16, 9), 240)
    text = reminder_text(collection, "ja", when_label="today")
    assert "朝食" in text
    assert "お水" in text
    assert "3〜4時間" in text
    assert "午前9時から午後1時ごろまでです。" in text


def test_reminder_for_a_step_without_instructions_is_title_day_and_request() -> None:
    step = visit("skin_test", 1, tokyo(12, 4, 15))
    lines = reminder_text(step, "en", when_label="days:3").splitlines()
    assert lines == [
        "<b>ANK clinic: your visit</b>",
        "For 山田 太郎",
        "<b>in 3 days, Fri 4 Dec, 3:00 pm</b>",
        "skin test",
        "From 3:00 pm to about 4:00 pm.",
        "",
        "Please tap a button below to answer.",
        "",
        "<i>ANK clinic</i>",
    ]


@pytest.mark.parametrize(
    ("label", "ja", "en"),
    [
        ("today", "本日", "today"),
        ("days:0", "本日", "today"),
        ("tomorrow", "明日", "tomorrow"),
        ("days:1", "明日", "tomorrow"),
        ("days:2", "2日後", "in 2 days"),
        ("hours:1", "1時間後", "in 1 hour"),
        ("hours:2", "2時間後", "in 2 hours"),
        ("minutes:1", "1分後", "in 1 minute"),
        ("minutes:30", "30分後", "in 30 minutes"),
    ],
)
def test_when_words_name_the_distance_to_the_visit(label: str, ja: str, en: str) -> None:
    assert (when_words(label, "ja"), when_words(label, "en")) == (ja, en)


@pytest.mark.parametrize("label", ["weeks:1", "days:", "days:-1", "hours:0", "soon", ""])
def test_when_words_refuse_an_unknown_label_naming_it(label: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(label))):
        when_words(label, "en")


# --- buttons and answers ----------------------------------------------------------------


def test_answer_buttons_in_japanese() -> None:
    assert answer_buttons("ja") == ("予定どおり伺います", "日程を変更したい")


def test_answer_buttons_in_english() -> None:
    assert answer_buttons("en") == ("I will come", "I need a different day")


def test_answered_text_replaces_the_request_with_the_answer_in_japanese() -> None:
    original = reminder_text(INFUSION_3, "ja", when_label="days:1")
    lines = answered_text(original, "come", "ja").splitlines()
    assert "ご都合を下のボタンでお知らせください。" not in lines
    assert "<b>✓ 「予定どおり伺います」とお返事いただきました。ありがとうございます。</b>" in lines
    assert lines[:3] == original.splitlines()[:3]


def test_answered_text_for_a_change_says_the_clinic_will_call_in_english() -> None:
    original = reminder_text(INFUSION_3, "en", when_label="days:1")
    lines = answered_text(original, "change", "en").splitlines()
    assert "<b>You answered “I need a different day”. The clinic will call you.</b>" in lines


def test_answering_again_replaces_the_earlier_answer() -> None:
    original = reminder_text(INFUSION_3, "en", when_label="days:1")
    twice = answered_text(answered_text(original, "come", "en"), "change", "en")
    assert "Thank you" not in twice
    assert twice.count("You answered") == 1


def test_answered_text_keeps_a_text_without_the_request_and_appends() -> None:
    assert answered_text("<b>Visit</b>", "come", "en") == (
        "<b>Visit</b>\n\n<b>✓ You answered “I will come”. Thank you.</b>"
    )


def test_answered_text_refuses_an_unknown_answer_naming_it() -> None:
    with pytest.raises(ValueError, match="'maybe'"):
        answered_text("x", "maybe", "en")


# --- patient commands -------------------------------------------------------------------


def test_next_visit_in_japanese_shows_the_first_visit_with_its_instructions() -> None:
    lines = next_visit_text([INFUSION_DAY, INFUSION_4], "ja").splitlines()
    assert lines[:5] == [
        "<b>次回のご来院</b>",
        "山田 太郎様",
        "<b>12月7日(月) 午前9時30分</b>",
        "ANK細胞の点滴 3回目（全8回）",
        "午前9時30分までにお越しください。採血のあと、午前10時から点滴です"
        "（午前11時ごろ終わります）。",
    ]


def test_next_visit_in_english_without_visits_says_none_are_planned() -> None:
    assert next_visit_text([], "en").splitlines()[0] == "No visits are planned."


def test_schedule_in_japanese_lists_every_visit_in_order_with_its_status() -> None:
    text = schedule_text([INFUSION_4, INFUSION_DAY, COLLECTION], "ja", year_end)
    assert text.splitlines()[:4] == [
        "<b>ご来院の予定</b>",
        "11月16日(月) 午前9時 リンパ球の採取（成分採血） 【済み】",
        "12月7日(月) 午前9時30分 ANK細胞の点滴 3回目（全8回）（採血あり）",
        "12月10日(木) 午前10時 ANK細胞の点滴 4回目（全8回）",
    ]


def test_schedule_strikes_through_a_cancelled_visit_in_english() -> None:
    cancelled = visit(seq=4, start=tokyo(12, 10, 10), status="cancelled")
    text = schedule_text([INFUSION_3, cancelled], "en", year_end)
    assert "<s>Thu 10 Dec, 10:00 am ANK cell infusion 4 of 8</s> (cancelled)" in text


def test_schedule_shows_the_month_view_in_a_pre_block_and_its_legend_below() -> None:
    text = schedule_text([COLLECTION, INFUSION_3], "ja", year_end)
    month = text[text.index("<pre>") : text.index("</pre>")]
    assert "2026年11月" in month
    assert "2026年12月" in month
    assert "29休" in month  # Tue 2026-12-29, the year-end closure
    assert " 7点" in month  # Mon 2026-12-07, infusion 3
    after = text[text.index("</pre>") + len("</pre>"):].splitlines()
    assert after[1:4] == ["点＝ANK細胞の点滴", "採＝リンパ球の採取（成分採血）",
                          "休＝休診日（年末年始）"]


def test_schedule_month_view_starts_at_the_current_month() -> None:
    text = schedule_text([COLLECTION, INFUSION_3], "ja", year_end, today=date(2026, 12, 1))
    month = text[text.index("<pre>") : text.index("</pre>")]
    assert "2026年11月" not in month
    assert "2026年12月" in month


def test_schedule_month_view_gives_a_cancelled_visit_no_mark() -> None:
    cancelled = visit(seq=4, start=tokyo(12, 10, 10), status="cancelled")
    month = schedule_text([INFUSION_3, cancelled], "en", year_end).split("<pre>")[1]
    assert "10 I" not in month


def test_schedule_without_visits_says_none_are_planned() -> None:
    assert schedule_text([], "ja", year_end).splitlines()[0] == "予定されているご来院はありません。"


def test_patient_help_lists_the_patient_commands_and_no_staff_command() -> None:
    text = help_text("ja", staff=False)
    for command in PATIENT_COMMANDS:
        assert f"/{command} — " in text
    assert "/today" not in text
    assert "「予定どおり伺います」「日程を変更したい」" in text


def test_staff_help_lists_the_staff_commands_in_english() -> None:
    text = help_text("en", staff=True)
    for command in STAFF_COMMANDS:
        assert f"/{command} — " in text
    assert "/today — Today's visits (staff)" in text


def test_welcome_of_a_patient_in_japanese_names_them_politely() -> None:
    assert welcome_text("ja", name=NAME).startswith("山田 太郎様、ご登録ありがとうございます。")


def test_welcome_of_a_family_member_in_english_names_both() -> None:
    text = welcome_text("en", name="Taro", family_name="Hanako")
    assert text.startswith("Thank you, Hanako.")
    assert "Taro's visits" in text


def test_welcome_of_staff_in_japanese_points_to_help() -> None:
    text = welcome_text("ja", name="佐藤", staff=True)
    assert text.startswith("佐藤さん、スタッフとして登録しました。")
    assert "/help" in text


def test_generic_text_in_japanese_names_the_clinic_and_its_number() -> None:
    head = Letterhead(clinic="あおば クリニック", phone="03-1234-5678")
    assert generic_text("ja", head=head).splitlines() == [
        "こちらはあおば クリニックのお知らせ用チャットです。",
        "ご登録がまだの方・ご登録の期限が切れた方は、クリニックへお電話ください。",
        "☎ 03-1234-5678",
    ]


def test_generic_text_in_english_names_the_clinic() -> None:
    assert generic_text("en").startswith("This is the reminder chat of ANK clinic.")


def test_generic_text_takes_no_person_and_names_nobody() -> None:
    assert list(inspect.signature(generic_text).parameters) == ["lang", "override_dir", "head"]
    for lang in LANGS:
        assert NAME not in generic_text(lang)
        assert "様" not in generic_text(lang)


def test_throttled_text_asks_to_wait_in_both_languages() -> None:
    assert throttled_text("ja") == "少し時間をおいてから、もう一度お試しください。"
    assert throttled_text("en") == "Please wait a moment and try again."


def test_language_text_confirms_in_the_new_language() -> None:
    assert language_text("ja") == "これからは日本語でお送りします。"
    assert language_text("en") == "I will write to you in English from now on."


def test_stop_text_says_no_more_reminders() -> None:
    assert stop_text("ja").startswith("このチャットへのお知らせを停止しました。")
    assert stop_text("en").startswith("You will get no more reminders in this chat.")


def test_ics_caption_fits_telegrams_caption_limit() -> None:
    for lang in LANGS:
        assert 0 < visible_length(ics_caption(lang)) <= 1024


def test_feed_link_shows_the_url_escaped_in_code() -> None:
    text = feed_link_text("https://clinic.example/feed/abc.ics?a=1&b=2", "en")
    assert text.endswith("\n<code>https://clinic.example/feed/abc.ics?a=1&amp;b=2</code>")
    assert "Please do not share this link." in text


# --- the command menu -------------------------------------------------------------------


def test_bot_commands_have_valid_names_and_descriptions() -> None:
    for commands in (bot_commands(lang) for lang in LANGS):
        for name, description in commands:
            assert re.fullmatch(r"[a-z0-9_]{1,32}", name)
            assert 1 <= len(description.strip()) <= 256


def test_bot_commands_list_patient_commands_then_staff_commands() -> None:
    for commands in (bot_commands(lang) for lang in LANGS):
        assert [name for name, _ in commands] == [*PATIENT_COMMANDS, *STAFF_COMMANDS]


def test_bot_commands_are_described_in_their_own_language() -> None:
    assert all(re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", d) for _, d in bot_commands("ja"))
    assert all(re.match(r"[A-Z]", description) for _, description in bot_commands("en"))


def test_bot_commands_for_a_patient_chat_leave_out_staff_commands() -> None:
    assert [name for name, _ in bot_commands("en", staff=False)] == list(PATIENT_COMMANDS)


# --- staff ------------------------------------------------------------------------------


def test_day_title_of_today_in_japanese() -> None:
    assert day_title(date(2026, 12, 7), "ja", relative="today") == "本日 12月7日(月)の予定"


def test_day_title_of_tomorrow_in_english() -> None:
    assert day_title(date(2026, 12, 8), "en", relative="tomorrow") == "Tomorrow, Tue 8 Dec"


def test_day_title_refuses_an_unknown_relative_day_naming_it() -> None:
    with pytest.raises(ValueError, match="'yesterday'"):
        day_title(date(2026, 12, 6), "en", relative="yesterday")


def test_day_text_lists_visits_by_time_with_patient_and_answer_mark() -> None:
    blood_test = visit("blood_test", 3, tokyo(12, 7, 9, 30), 30)
    text = day_text("本日 12月7日(月)の予定", [INFUSION_3, blood_test], "ja")
    assert text.splitlines()[:3] == [
        "<b>本日 12月7日(月)の予定</b>",
        "09:30–10:00 \u3000 点滴前の採血 — 山田 太郎様（#12）",
        "10:00–11:00 ？ ANK細胞の点滴 3回目（全8回） — 山田 太郎様（#12）",
    ]


def test_day_text_marks_come_with_a_tick_and_change_with_a_cross() -> None:
    come = visit(confirmed="come")
    change = visit(seq=4, start=tokyo(12, 7, 14), confirmed="change")
    lines = day_text("Today", [come, change], "en").splitlines()
    assert lines[1].startswith("10:00–11:00 ○ ")
    assert lines[2].startswith("14:00–15:00 × ")
    assert lines[-1] == "<i>○ will come   × needs a change   ? no answer</i>"


def test_day_text_shows_a_patient_without_a_name_by_number() -> None:
    assert "— #12" in day_text("Today", [visit(patient_name="")], "en")


def test_day_text_without_visits_says_nothing_is_planned() -> None:
    assert day_text("Today, Mon 7 Dec", [], "en") == "<b>Today, Mon 7 Dec</b>\nNothing planned."


def test_week_text_groups_visits_under_their_days() -> None:
    lines = week_text([INFUSION_4, INFUSION_3], "ja").splitlines()
    assert lines[:6] == [
        "<b>1週間の予定</b>",
        "",
        "<b>12月7日(月)</b>",
        "10:00–11:00 ？ ANK細胞の点滴 3回目（全8回） — 山田 太郎様（#12）",
        "",
        "<b>12月10日(木)</b>",
    ]


def test_week_text_without_visits_says_nothing_is_planned() -> None:
    assert week_text([], "en") == "<b>The week</b>\nNothing planned."


def test_unconfirmed_text_lists_visits_with_their_day() -> None:
    assert unconfirmed_text([INFUSION_3], "en").splitlines() == [
        "<b>Visits without an answer</b>",
        "Mon 7 Dec, 10:00–11:00 ? ANK cell infusion 3 of 8 — 山田 太郎 (#12)",
    ]


def test_unconfirmed_text_without_visits_says_everyone_answered() -> None:
    assert unconfirmed_text([], "ja").splitlines()[1] == "お返事待ちの方はいません。"


def test_digest_in_japanese_names_the_role_and_lists_today_then_tomorrows_unanswered() -> None:
    tomorrow = visit(seq=4, start=tokyo(12, 8, 10))
    lines = digest_text("nurse", date(2026, 12, 7), [INFUSION_3], [tomorrow], "ja").splitlines()
    assert lines == [
        "<b>おはようございます。12月7日(月)の予定です（看護師）</b>",
        "10:00–11:00 ？ ANK細胞の点滴 3回目（全8回） — 山田 太郎様（#12）",
        "",
        "<b>まだお返事のない方</b>",
        "12月8日(火) 10:00–11:00 ？ ANK細胞の点滴 4回目（全8回） — 山田 太郎様（#12）",
    ]


def test_digest_in_english_on_a_quiet_day_says_so() -> None:
    lines = digest_text("lab", date(2026, 12, 6), [], [], "en").splitlines()
    assert lines == [
        "<b>Good morning. Visits on Sun 6 Dec (culture lab)</b>",
        "Nothing planned.",
        "",
        "<b>No answer yet</b>",
        "Every patient has answered.",
    ]


def test_digest_shows_a_role_without_a_catalogue_word_as_given() -> None:
    assert "(pharmacy)" in digest_text("pharmacy", date(2026, 12, 7), [], [], "en")


# --- alerts -----------------------------------------------------------------------------


def test_alert_change_requested_in_japanese_names_patient_and_visit() -> None:
    assert alert_change_requested(INFUSION_3, "ja").splitlines() == [
        "<b>⚠ 日程変更のご希望</b>",
        "山田 太郎様（#12）",
        "12月7日(月) 10:00–11:00 ANK細胞の点滴 3回目（全8回）",
        "山田 太郎様（#12）（ご本人）が「日程を変更したい」を選びました。お電話をお願いします。",
    ]


def test_alert_change_requested_in_english_quotes_the_button() -> None:
    text = alert_change_requested(INFUSION_3, "en")
    assert "山田 太郎 (#12) (the patient) pressed “I need a different day”." in text


def test_alert_change_requested_names_the_family_member_who_pressed() -> None:
    text = alert_change_requested(INFUSION_3, "ja", who="山田 花子様（山田 太郎様（#12）のご家族）")
    assert "山田 花子様（山田 太郎様（#12）のご家族）が「日程を変更したい」" in text


def test_alert_unreachable_words_a_blocked_bot_in_japanese() -> None:
    lines = alert_unreachable(NAME, 12, "blocked", "ja").splitlines()
    assert lines[0] == "<b>⚠ 患者さまにお知らせが届きません</b>"
    assert lines[1] == "山田 太郎様（#12）"
    assert lines[-1] == "理由：ボットがブロックされています"


def test_alert_unreachable_shows_an_unknown_reason_as_given_in_english() -> None:
    text = alert_unreachable(NAME, 12, "Forbidden: user is <deactivated>", "en")
    assert text.endswith("Reason: Forbidden: user is &lt;deactivated&gt;")


def test_alert_unreachable_without_a_reason_has_no_reason_line() -> None:
    assert "Reason" not in alert_unreachable(NAME, 12, "", "en")


def test_alert_delivery_failed_names_the_visit_and_the_reason() -> None:
    lines = alert_delivery_failed(INFUSION_3, "chat_not_found", "en").splitlines()
    assert lines[:4] == [
        "<b>⚠ Reminder not sent</b>",
        "山田 太郎 (#12)",
        "Mon 7 Dec, 10:00–11:00 ANK cell infusion 3 of 8",
        "Reason: the chat was not found",
    ]


def test_alert_lab_notice_carries_the_description_escaped() -> None:
    text = alert_lab_notice("infusion 3 moved to 12/10 <A&B>", "ja")
    assert text.startswith("<b>⚠ 培養ラボへの連絡が必要です</b>")
    assert text.endswith("infusion 3 moved to 12/10 &lt;A&amp;B&gt;")


def test_alert_no_makeup_names_the_patient_and_asks_staff_to_choose_a_day() -> None:
    text = alert_no_makeup(INFUSION_3, "ja")
    assert text.startswith("<b>⚠ 振替の点滴が入りません</b>\n山田 太郎")
    assert "振替の日を決めて、予定に入れてください。" in text
    assert not re.search(r"[A-Za-z]", text.splitlines()[-1])


def test_alert_no_chat_asks_staff_to_call() -> None:
    text = alert_no_chat(INFUSION_3, "en")
    assert text.startswith("<b>⚠ No chat linked</b>\n山田 太郎 (#12)")
    assert text.endswith("Please call them.")


# --- every text: escaping, Telegram's parser, Japanese style ----------------------------

Builder = Callable[[str, str], str]
# Each builder makes one text in a language for a patient (and family member) named ``name``.
BUILDERS: dict[str, Builder] = {
    "reminder": lambda lang, name: reminder_text(
        visit(patient_name=name), lang, when_label="days:1"
    ),
    "answered": lambda lang, name: answered_text(
        reminder_text(visit(patient_name=name), lang, when_label="hours:2"), "come", lang
    ),
    "next": lambda lang, name: next_visit_text([visit(patient_name=name)], lang),
    "schedule": lambda lang, name: schedule_text([COLLECTION, INFUSION_3], lang, year_end),
    "help": lambda lang, name: help_text(lang, staff=False),
    "help_staff": lambda lang, name: help_text(lang, staff=True),
    "welcome": lambda lang, name: welcome_text(lang, name=name),
    "welcome_family": lambda lang, name: welcome_text(lang, name=name, family_name=name),
    "welcome_staff": lambda lang, name: welcome_text(lang, name=name, staff=True),
    "generic": lambda lang, name: generic_text(lang),
    "throttled": lambda lang, name: throttled_text(lang),
    "language": lambda lang, name: language_text(lang),
    "stop": lambda lang, name: stop_text(lang),
    "ics_caption": lambda lang, name: ics_caption(lang),
    "feed_link": lambda lang, name: feed_link_text(f"https://x.example/{name}", lang),
    "day": lambda lang, name: day_text(name, [visit(patient_name=name)], lang),
    "week": lambda lang, name: week_text([visit(patient_name=name)], lang),
    "unconfirmed": lambda lang, name: unconfirmed_text([visit(patient_name=name)], lang),
    "digest": lambda lang, name: digest_text(
        "doctor", date(2026, 12, 7), [visit(patient_name=name)],
        [visit(seq=4, start=tokyo(12, 8, 10), patient_name=name)], lang,
    ),
    "change_requested": lambda lang, name: alert_change_requested(
        visit(patient_name=name), lang
    ),
    "unreachable": lambda lang, name: alert_unreachable(name, 12, name, lang),
    "delivery_failed": lambda lang, name: alert_delivery_failed(
        visit(patient_name=name), name, lang
    ),
    "lab_notice": lambda lang, name: alert_lab_notice(name, lang),
    "no_chat": lambda lang, name: alert_no_chat(visit(patient_name=name), lang),
    "no_makeup": lambda lang, name: alert_no_makeup(visit(patient_name=name), lang),
}
# Texts that carry the name (the others are about nobody, or about the visit only).
NAMED = (
    "welcome", "welcome_family", "welcome_staff", "feed_link", "day", "week", "unconfirmed",
    "digest", "change_requested", "unreachable", "delivery_failed", "lab_notice", "no_chat",
    "no_makeup",
)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("builder", NAMED)
def test_a_name_with_html_in_it_is_shown_as_literal_text(builder: str, lang: str) -> None:
    text = BUILDERS[builder](lang, NASTY)
    assert NASTY_ESCAPED in text
    assert NASTY not in text
    assert NASTY in shown(text)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("builder", sorted(BUILDERS))
def test_every_text_is_accepted_by_telegrams_html_parser(builder: str, lang: str) -> None:
    text = BUILDERS[builder](lang, NAME)
    assert 0 < len(shown(text)) <= 4096
    assert set(re.findall(r"</?([a-z]+)", text)) <= {"b", "i", "s", "code", "pre"}


# Patient-facing texts added for the bot: short polite sentences, one per line.
PATIENT_SENTENCES = (
    "bot.generic", "bot.throttled", "bot.welcome", "bot.welcome_family", "bot.help_patient",
    "bot.language_set", "bot.stopped", "bot.ics_caption", "bot.feed_link", "reminder.ask",
    "reminder.answered_come", "reminder.answered_change",
)


@pytest.mark.parametrize("key", PATIENT_SENTENCES)
def test_japanese_patient_texts_are_polite_sentences(key: str) -> None:
    for line in load_messages("ja").get(key).splitlines():
        assert line.endswith(("です。", "ます。", "ました。", "ください。")), line


def test_japanese_patient_texts_use_no_english_abbreviations() -> None:
    messages = load_messages("ja")
    keys = [key for key in messages.texts if key.startswith(("bot.", "reminder."))]
    assert [key for key in keys if re.search(r"[A-Z]{2,}", messages.get(key))] == []


# --- visible length and splitting -------------------------------------------------------


def test_visible_length_counts_no_tags_and_one_per_character_reference() -> None:
    # Shown as "A&B <3 '": eight characters.
    assert visible_length("<b>A&amp;B</b> &lt;3 &#x27;") == 8


def test_visible_length_counts_an_emoji_outside_the_bmp_as_two() -> None:
    assert visible_length("😀") == 2


def test_visible_text_decodes_references_and_drops_tags() -> None:
    assert visible_text('<a href="https://x.example/?a=1&amp;b=2">A&amp;B</a>') == "A&B"


def test_split_message_keeps_a_short_text_whole() -> None:
    assert split_message("<b>one</b>\ntwo", limit=20) == ["<b>one</b>\ntwo"]


def test_split_message_cuts_at_line_ends_dropping_the_newline_there() -> None:
    assert split_message("aaa\nbbb\nccc", limit=7) == ["aaa\nbbb", "ccc"]


def test_split_message_closes_and_reopens_a_pre_block() -> None:
    parts = split_message("<pre>aaa\nbbb\nccc</pre>", limit=7)
    assert parts == ["<pre>aaa\nbbb</pre>", "<pre>ccc</pre>"]


def test_split_message_reopens_a_link_with_its_address() -> None:
    parts = split_message('<a href="https://x.example/">aaa\nbbb</a>', limit=3)
    assert parts == ['<a href="https://x.example/">aaa</a>', '<a href="https://x.example/">bbb</a>']


def test_split_message_cuts_a_long_line_after_a_space() -> None:
    assert split_message("aaa bbb ccc", limit=9) == ["aaa bbb ", "ccc"]


def test_split_message_cuts_a_long_japanese_line_after_punctuation() -> None:
    assert split_message("ありがとう。ございます", limit=8) == ["ありがとう。", "ございます"]


def test_split_message_never_cuts_inside_a_character_reference() -> None:
    assert split_message("&amp;" * 5, limit=2) == ["&amp;&amp;", "&amp;&amp;", "&amp;"]


def test_split_message_does_not_start_a_part_with_a_combining_mark() -> None:
    assert split_message("abe\u0301", limit=3) == ["ab", "e\u0301"]


def test_split_message_of_empty_text_gives_no_parts() -> None:
    assert split_message("") == []


def test_split_message_drops_a_part_that_would_be_only_blank() -> None:
    assert split_message("aaa\n   \nbbb", limit=3) == ["aaa", "bbb"]


def test_split_message_refuses_a_limit_below_two() -> None:
    with pytest.raises(ValueError, match="limit"):
        split_message("a", limit=1)


def assert_rejoins(text: str, parts: list[str]) -> None:
    """The parts show the whole text in order; only whitespace at the cuts may be missing."""
    whole, position = visible_text(text), 0
    for part in parts:
        piece = visible_text(part).strip()
        found = whole.find(piece, position)
        assert found >= 0, piece
        assert whole[position:found].strip() == ""
        position = found + len(piece)
    assert whole[position:].strip() == ""


def assert_telegram_accepts(parts: list[str], limit: int) -> None:
    for part in parts:
        assert visible_length(part) <= limit
        assert 0 < len(shown(part)) <= limit


PIECES = [*"aZ09 .,:-あい点滴様。、（）\u3000<>&\"'é😀", "e\u0301", NASTY, NAME]
DATA = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)


@st.composite
def html_lines(draw: st.DrawFn) -> str:
    """A line of escaped data, sometimes in bold, sometimes in a link."""
    line = html.escape(draw(DATA), quote=False)
    wrap = draw(st.sampled_from(["", "b", "a"]))
    if wrap == "b":
        return f"<b>{line}</b>"
    if wrap == "a":
        return f'<a href="https://x.example/?a=1&amp;b=2">{line}</a>'
    return line


MONTH_VIEW = schedule_text([COLLECTION, INFUSION_3, INFUSION_4], "ja", year_end)


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(html_lines(), max_size=15),
    with_month_view=st.booleans(),
    limit=st.integers(min_value=2, max_value=150),
)
def test_split_message_parts_fit_parse_and_rejoin(
    lines: list[str], with_month_view: bool, limit: int
) -> None:
    text = "\n".join([*lines, MONTH_VIEW] if with_month_view else lines)
    parts = split_message(text, limit=limit)
    assert_telegram_accepts(parts, limit)
    assert_rejoins(text, parts)


@settings(deadline=None)
@given(limit=st.integers(min_value=60, max_value=400))
def test_split_schedule_keeps_the_month_view_inside_pre_blocks(limit: int) -> None:
    month = MONTH_VIEW[MONTH_VIEW.index("<pre>") + 5 : MONTH_VIEW.index("</pre>")]
    in_pre: list[str] = []
    for part in split_message(MONTH_VIEW, limit=limit):
        text, entities = format_text(part, "HTML")
        pre = [e for e in entities if e["type"] == "pre"]
        in_pre += [text[e["offset"] : e["offset"] + e["length"]] for e in pre]
    assert " ".join(in_pre).split() == visible_text(month).split()
