"""What a reminder says and offers, by when it goes out (through the dispatcher).

The clinic of ``tests/test_dispatch.py``: 山田 太郎, infusion 1 on Mon 2026-11-30 10:00
(blood test 09:30), reminded Sun 11-29 18:00 and Mon 11-30 08:00; own and family chat.
"""

from __future__ import annotations

from datetime import timedelta

from tests.test_dispatch import (  # noqa: F401 - fixtures
    FAMILY_CHAT,
    PATIENT_CHAT,
    Clinic,
    ClinicFactory,
    Sent,
    clinic,
    make_clinic,
    tokyo,
)


def _sent_at(clinic: Clinic, chat_id: int, hour: int, day: int) -> list[Sent]:
    moment = tokyo(2026, 11, day, hour, 0)
    clinic.clock.set(moment - timedelta(seconds=1))
    clinic.run_until(moment + timedelta(seconds=5))
    return [s for s in clinic.sender.to(chat_id) if s.at >= moment]


def test_the_reminder_on_the_morning_of_the_drip_asks_to_call_instead_of_answering(
        clinic: Clinic) -> None:
    (morning,) = _sent_at(clinic, PATIENT_CHAT, 8, 30)

    assert morning.buttons == [["体調がすぐれない", "u"]]
    assert "来られないとき・熱があるときは、すぐにお電話ください。" in morning.text
    assert "ボタン" not in morning.text


def test_the_reminder_the_evening_before_says_when_to_arrive_and_offers_the_answers(
        clinic: Clinic) -> None:
    (evening,) = _sent_at(clinic, PATIENT_CHAT, 18, 29)

    assert [label for label, _ in evening.buttons or []] == [
        "予定どおり伺います", "日程を変更したい", "体調がすぐれない"]
    assert "<b>明日 11月30日(月) 午前9時30分</b>" in evening.text


def test_the_family_chat_reads_whose_visit_it_is(clinic: Clinic) -> None:
    (evening,) = _sent_at(clinic, FAMILY_CHAT, 18, 29)

    assert evening.text.splitlines()[1] == "山田 太郎様"
