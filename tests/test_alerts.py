"""Staff alerts name the right person and do not flood; the digest lists whom to phone.

The clinic of ``tests/test_dispatch.py``: 山田 太郎, first infusion Mon 2026-11-30 10:00
(reminders Sun 11-29 18:00 and Mon 11-30 08:00, evening check-in Mon 11-30 19:00); staff
chats in English; ``staff_names`` "initials", so staff read 山田 (#1).
"""

from __future__ import annotations

import json
from datetime import timedelta

from planner.channels.dispatch import SendFailure
from tests.test_dispatch import (  # noqa: F401 - fixtures
    FAMILY_CHAT,
    NURSE_CHAT,
    PATIENT_CHAT,
    RECEPTION_CHAT,
    SECOND,
    Clinic,
    ClinicFactory,
    clinic,
    extra_rules,
    make_clinic,
    tokyo,
)


def _without_chat(make_clinic: ClinicFactory, config: dict[str, object] | None = None
                  ) -> Clinic:
    clinic = make_clinic(config)
    clinic.add_patient()
    clinic.plan()
    clinic.link_staff()
    return clinic


def test_a_patient_without_a_chat_is_alerted_once_on_mon_30_november(
        make_clinic: ClinicFactory) -> None:
    an_hour_before = {"kind": "infusion", "audience": "patient", "minutes_before": 60}
    clinic = _without_chat(make_clinic, extra_rules(an_hour_before))
    clinic.clock.set(tokyo(2026, 11, 30, 7, 59))

    clinic.run_until(tokyo(2026, 11, 30, 9, 1))  # the 08:00 and the 09:00 reminder

    first, repeat = clinic.alerts("no_chat")[::-1]
    assert json.loads(repeat["detail"])["repeat_of"] == first["id"]
    told = [s for s in clinic.sender.to(NURSE_CHAT) if "No chat linked" in s.text]
    assert len(told) == 1


def test_the_next_day_the_digest_lists_the_patient_instead_of_a_new_alert(
        make_clinic: ClinicFactory) -> None:
    clinic = _without_chat(make_clinic)
    clinic.clock.set(tokyo(2026, 11, 29, 17, 59))

    clinic.run_until(tokyo(2026, 11, 30, 8, 1))  # Sun 18:00, Mon 07:30 digest, Mon 08:00

    told = [s for s in clinic.sender.to(NURSE_CHAT) if "No chat linked" in s.text]
    assert len(told) == 1
    digest = next(s for s in clinic.sender.to(NURSE_CHAT) if "Good morning" in s.text)
    assert "山田 (#1)" in digest.text.split("To phone", 1)[1]


def test_without_a_digest_for_the_nurses_the_patient_is_alerted_again_the_next_day(
        make_clinic: ClinicFactory) -> None:
    clinic = _without_chat(make_clinic, {"reminders": {"digest_roles": ["doctor"]}})
    clinic.clock.set(tokyo(2026, 11, 29, 17, 59))

    clinic.run_until(tokyo(2026, 11, 30, 8, 1))  # Sun 18:00, then Mon 08:00

    told = [s for s in clinic.sender.to(NURSE_CHAT) if "No chat linked" in s.text]
    assert len(told) == 2


def test_the_digest_lists_a_patient_no_chat_reaches_under_to_phone(
        make_clinic: ClinicFactory) -> None:
    clinic = _without_chat(make_clinic)
    clinic.clock.set(tokyo(2026, 11, 30, 7, 29))

    clinic.run_until(tokyo(2026, 11, 30, 7, 31))

    digest = next(s for s in clinic.sender.to(NURSE_CHAT) if "Good morning" in s.text)
    assert digest.text.split("To phone", 1)[1].count("山田 (#1)") == 1


def test_no_digest_on_sunday_6_december_when_the_clinic_is_closed(clinic: Clinic) -> None:
    clinic.link_staff()
    clinic.clock.set(tokyo(2026, 12, 6, 7, 29))

    clinic.run_until(tokyo(2026, 12, 7, 7, 31))

    digests = [s for s in clinic.sender.to(NURSE_CHAT) if "Good morning" in s.text]
    assert len(digests) == 1
    assert "Mon 7 Dec" in digests[0].text


def test_a_blocked_staff_chat_is_alerted_as_a_staff_chat(clinic: Clinic) -> None:
    clinic.link_staff()
    clinic.sender.fail(NURSE_CHAT, SendFailure("blocked", "Forbidden: bot was blocked"))
    clinic.clock.set(tokyo(2026, 11, 30, 7, 29))

    clinic.run_until(tokyo(2026, 11, 30, 7, 31))

    (alert,) = [s for s in clinic.sender.to(RECEPTION_CHAT) if s.text.startswith("<b>⚠")]
    assert alert.text.startswith("<b>⚠ A staff chat cannot be reached</b>")
    assert "nurse 2001 (nurse)" in alert.text
    assert "#" not in alert.text


def test_a_blocked_family_chat_names_the_family_member_and_says_the_patient_is_reached(
        clinic: Clinic) -> None:
    clinic.link_staff()
    clinic.sender.fail(FAMILY_CHAT, SendFailure("blocked", "Forbidden: bot was blocked"))
    moment = tokyo(2026, 11, 29, 18, 0)
    clinic.clock.set(moment - SECOND)

    clinic.run_until(moment + timedelta(minutes=1))

    assert any("Good" not in s.text for s in clinic.sender.to(PATIENT_CHAT))
    (alert,) = [s for s in clinic.sender.to(NURSE_CHAT) if s.text.startswith("<b>⚠")]
    assert "山田 花子 (family of 山田 (#1))" in alert.text
    assert "The patient's own chat still gets the messages." in alert.text


def test_a_family_rule_without_a_family_chat_raises_no_alert(make_clinic: ClinicFactory
                                                             ) -> None:
    rules = {"reminders": {"rule": [
        {"kind": "infusion", "audience": "family", "days_before": 1, "at": "18:00"}]}}
    clinic = make_clinic(rules)
    clinic.add_patient()
    clinic.plan()
    clinic.link_staff()
    clinic.link(PATIENT_CHAT, patient_id=1)
    clinic.clock.set(tokyo(2026, 11, 29, 17, 59))

    clinic.run_until(tokyo(2026, 11, 29, 18, 1))

    assert clinic.alerts("no_chat") == []


def test_a_change_inside_the_labs_window_reaches_the_lab_in_japanese_naming_the_patient(
        clinic: Clinic) -> None:
    import re
    from datetime import date

    lab_ja, nurse_ja = 3004, 3005
    clinic.link(lab_ja, staff_role="lab", lang="ja")
    clinic.link(nurse_ja, staff_role="nurse", lang="ja")
    clinic.clock.set(tokyo(2026, 11, 27, 9, 0))  # infusion 1 is on Mon 30 Nov
    infusion_1 = clinic.reminder("infusion/patient/1d@18:00")["event_id"]
    clinic.planner.reschedule(infusion_1, date(2026, 12, 1), only=True, force=True)

    clinic.run_until(tokyo(2026, 11, 27, 9, 0) + timedelta(seconds=10))

    (lab,) = [s for s in clinic.sender.to(lab_ja) if s.text.startswith("<b>⚠")]
    assert lab.text.splitlines()[1] == "連絡期限内の変更です。ご確認ください。"
    assert ("山田様（#1）：培養細胞の出荷・到着（1回目の点滴用）が 11月28日(土) 16:00 → "
            "11月30日(月) 16:00 に変わりました。") in lab.text
    assert set(re.findall(r"[A-Za-z]+", re.sub(r"<[^>]+>", "", lab.text))) <= {"ANK"}
    (nurse,) = [s for s in clinic.sender.to(nurse_ja) if s.text.startswith("<b>⚠")]
    assert "すぐに培養ラボへお伝えください。" in nurse.text


def test_an_evening_check_in_nobody_can_get_raises_no_alert(make_clinic: ClinicFactory
                                                            ) -> None:
    clinic = _without_chat(make_clinic)
    clinic.clock.set(tokyo(2026, 11, 30, 18, 59))

    clinic.run_until(tokyo(2026, 11, 30, 19, 1))

    assert [a for a in clinic.alerts("no_chat")
            if a["created_at"] >= "2026-11-30T09:59"] == []  # nothing from the 19:00 check-in
