"""Every kind of message the bot sends, built once per language for the text checks.

The scenario: patient 山田 太郎 (record 1002), with family 山田 花子; infusion 3 of 8 on
Mon 2026-12-07 10:00–11:00 (blood test 09:30), its cells delivered Sun 2026-12-06 16:00;
the collection on Mon 2026-11-16 09:00; the follow-up on Mon 2027-01-04 10:00. The clinic
「あおば クリニック」 (written without Latin letters), ☎ 03-1234-5678, nights
090-0000-1111, with an address and a map link.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from planner.texts import alerts as alert_texts
from planner.texts import patient as bot_texts
from planner.texts import reach as reach_texts
from planner.texts import staff as staff_texts
from planner.texts.letterhead import Letterhead
from planner.texts.patient import Visit

TOKYO = ZoneInfo("Asia/Tokyo")
NAME = "山田 太郎"
FAMILY = "山田 花子"
HEAD = Letterhead(clinic="あおば クリニック", phone="03-1234-5678",
                  after_hours_phone="090-0000-1111", address="東京都港区青葉1-2-3",
                  map_url="https://maps.example.jp/aoba")


def tokyo(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TOKYO)


def _visit(kind: str, seq: int, start: datetime, minutes: int, **fields: object) -> Visit:
    base = Visit(kind, seq, 8, start, start + timedelta(minutes=minutes), "scheduled", NAME, 2,
                 mrn="1002")
    return replace(base, **fields)  # type: ignore[arg-type]


INFUSION = _visit("infusion", 3, tokyo(2026, 12, 7, 10), 60, arrive=tokyo(2026, 12, 7, 9, 30))
COLLECTION = _visit("collection", 1, tokyo(2026, 11, 16, 9), 240, status="done")
FOLLOW_UP = _visit("follow_up", 8, tokyo(2027, 1, 4, 10), 60)
DELIVERY = _visit("cell_delivery", 3, tokyo(2026, 12, 6, 16), 30,
                  infusion_start=tokyo(2026, 12, 7, 10))
CHANGES = [reach_texts.VisitChange("infusion", 3, 8, "moved", tokyo(2026, 12, 7, 10),
                                   tokyo(2026, 12, 8, 10)),
           reach_texts.VisitChange("follow_up", 8, 8, "cancelled", tokyo(2027, 1, 4, 10), None)]
WRITER = reach_texts.Writer("山田様（カルテ 1002）", FAMILY)


def _closed(day: date) -> str | None:
    return "年末年始" if date(2026, 12, 29) <= day <= date(2027, 1, 3) else None


def _closed_en(day: date) -> str | None:
    return "year-end closure" if _closed(day) else None


Builder = Callable[[str], str]

# Patient-facing messages (with the clinic's footer) and staff messages, by kind.
PATIENT: dict[str, Builder] = {
    "reminder_infusion": lambda lang: bot_texts.reminder_text(
        INFUSION, lang, when_label="days:1", head=HEAD),
    "reminder_collection": lambda lang: bot_texts.reminder_text(
        replace(COLLECTION, status="scheduled"), lang, when_label="days:2", head=HEAD),
    "reminder_follow_up": lambda lang: bot_texts.reminder_text(
        FOLLOW_UP, lang, when_label="days:3", head=HEAD, buttons=False),
    "answered": lambda lang: bot_texts.answered_text(bot_texts.reminder_text(
        INFUSION, lang, when_label="hours:2", head=HEAD), "change", lang),
    "next": lambda lang: bot_texts.next_visit_text([INFUSION], lang, head=HEAD),
    "schedule": lambda lang: bot_texts.schedule_text(
        [COLLECTION, INFUSION, FOLLOW_UP], lang, _closed if lang == "ja" else _closed_en,
        today=date(2026, 12, 1), head=HEAD),
    "help": lambda lang: bot_texts.help_text(lang, staff=False, head=HEAD),
    "generic": lambda lang: bot_texts.generic_text(lang, head=HEAD),
    "welcome": lambda lang: bot_texts.welcome_text(lang, name=NAME),
    "welcome_family": lambda lang: bot_texts.welcome_text(lang, name=NAME, family_name=FAMILY),
    "stop": lambda lang: bot_texts.stop_text(lang),
    "language": lambda lang: bot_texts.language_text(lang),
    "ics_caption": lambda lang: bot_texts.ics_caption(lang),
    "feed_link": lambda lang: bot_texts.feed_link_text("https://cal.example.jp/f/x.ics", lang),
    "received": lambda lang: reach_texts.received_text(lang, head=HEAD),
    "unwell": lambda lang: reach_texts.unwell_text(lang, head=HEAD),
    "check_in": lambda lang: reach_texts.check_in_text(NAME, lang, head=HEAD),
    "check_in_fever": lambda lang: reach_texts.check_in_answered("fever", lang, head=HEAD),
    "check_in_fine": lambda lang: reach_texts.check_in_answered("fine", lang, head=HEAD),
    "change_notice": lambda lang: reach_texts.change_notice_text(NAME, CHANGES, lang,
                                                                 head=HEAD),
    "outdated": lambda lang: reach_texts.outdated_text(bot_texts.reminder_text(
        INFUSION, lang, when_label="days:1", head=HEAD), lang),
}
STAFF: dict[str, Builder] = {
    "help_staff": lambda lang: bot_texts.help_text(lang, staff=True),
    "welcome_staff": lambda lang: bot_texts.welcome_text(lang, name="佐藤", staff=True),
    "day": lambda lang: staff_texts.day_text(
        staff_texts.day_title(date(2026, 12, 7), lang, relative="today"), [INFUSION], lang),
    "week": lambda lang: staff_texts.week_text([INFUSION, FOLLOW_UP], lang),
    "unconfirmed": lambda lang: staff_texts.unconfirmed_text([INFUSION], lang),
    "digest": lambda lang: staff_texts.digest_text(
        "nurse", date(2026, 12, 7), [INFUSION], [INFUSION], lang,
        to_phone=[staff_texts.patient_label("山田", 2, lang, mrn="1002")]),
    "staff_reminder_lab": lambda lang: staff_texts.staff_reminder_text(
        DELIVERY, "lab", lang, when=bot_texts.when_words("days:2", lang)),
    "alert_change": lambda lang: staff_texts.alert_change_requested(INFUSION, lang),
    "alert_unreachable": lambda lang: staff_texts.alert_unreachable(NAME, 2, "blocked", lang),
    "alert_unreachable_other": lambda lang: staff_texts.alert_unreachable(
        NAME, 2, "Bad Request: something odd", lang),
    "alert_staff_unreachable": lambda lang: alert_texts.alert_staff_unreachable(
        "伊藤", "doctor", "blocked", lang),
    "alert_family_unreachable": lambda lang: alert_texts.alert_family_unreachable(
        FAMILY, "山田様（カルテ 1002）", True, "chat_not_found", lang),
    "alert_delivery_failed": lambda lang: staff_texts.alert_delivery_failed(
        INFUSION, "too_late", lang),
    "alert_no_chat": lambda lang: staff_texts.alert_no_chat(INFUSION, lang),
    "alert_message": lambda lang: reach_texts.alert_message(WRITER, "熱が39度あります", lang),
    "alert_unwell": lambda lang: reach_texts.alert_reach(
        "unwell", WRITER, reach_texts.unwell_label(lang), lang),
    "alert_lab_notice": lambda lang: alert_texts.alert_lab_changes([
        alert_texts.lab_change_line(
            {"kind": "cell_delivery", "seq": 2, "status": "scheduled",
             "before": "2026-12-04T16:00:00+09:00", "after": "2026-12-03T16:00:00+09:00"},
            "山田様（カルテ 1002）", 8, lang)], lang, for_lab=True),
    "alert_stopped": lambda lang: alert_texts.alert_stopped(
        reach_texts.who_wrote(WRITER, lang), lang),
    "alert_check_in": lambda lang: reach_texts.alert_reach(
        "checkin_fever", WRITER, reach_texts.check_in_label("fever", lang), lang),
}
ALL: dict[str, Builder] = {**PATIENT, **STAFF}
