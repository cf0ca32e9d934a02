"""Changes told to the patient: what the notice says, and numbering after a missed drip.

The clinic of ``tests/test_dispatch.py``: 山田 太郎, infusions at 10:00 from Mon 2026-11-30
(Mon/Thu: 11-30, 12-03, 12-07, 12-10, 12-14, 12-17, 12-21, 12-24), own and family chat.
"""

from __future__ import annotations

from datetime import date

import pytest

from planner.core.errors import NoticeWindowError
from planner.store.change_notices import visit_changes
from planner.store.notices import Notices
from tests.test_dispatch import (  # noqa: F401 - fixtures
    FAMILY_CHAT,
    PATIENT_CHAT,
    Clinic,
    ClinicFactory,
    clinic,
    make_clinic,
    tokyo,
)


def _notices(clinic: Clinic) -> list[str]:
    return [d["text"] for d in clinic.deliveries(chat_id=PATIENT_CHAT)
            if d["reminder_id"] is None]


def test_a_missed_infusion_and_its_make_up_are_told_as_such(clinic: Clinic) -> None:
    clinic.clock.set(tokyo(2026, 12, 3, 12, 0))  # infusion 2 on Thu 3 Dec was missed
    clinic.planner.missed(clinic.reminder("infusion/patient/120m", seq=2)["event_id"])

    (notice,) = _notices(clinic)
    assert "ANK細胞の点滴 2回目（全8回）：12月3日(木) 午前10時 はお休みになりました。" in notice
    assert "ANK細胞の点滴 8回目（全8回・お休みした分の振替）：" in notice
    assert "を追加しました。" in notice


def test_after_a_missed_infusion_the_patient_still_counts_to_8_of_8(clinic: Clinic) -> None:
    clinic.clock.set(tokyo(2026, 12, 3, 12, 0))
    clinic.planner.missed(clinic.reminder("infusion/patient/120m", seq=2)["event_id"])

    visits = Notices(clinic.db, clinic.settings).patient_visits(1, clinic.clock.now(),
                                                                upcoming=False)
    infusions = [(v.seq, v.total, v.makeup, v.status) for v in visits if v.kind == "infusion"]
    assert infusions[1] == (2, 8, False, "missed")
    assert infusions[-1] == (8, 8, True, "scheduled")
    assert [v.kind for v in visits].count("blood_test") == 0  # folded into the infusions


def test_a_move_is_told_to_the_family_chat_too_in_the_same_transaction(clinic: Clinic
                                                                       ) -> None:
    clinic.clock.set(tokyo(2026, 11, 20, 9, 0))
    infusion_1 = clinic.reminder("infusion/patient/1d@18:00")["event_id"]

    clinic.planner.reschedule(infusion_1, date(2026, 12, 1), only=True)

    family = [d for d in clinic.deliveries(chat_id=FAMILY_CHAT) if d["reminder_id"] is None]
    assert len(family) == 1
    assert "変更前 11月30日(月) 午前10時 → 変更後 12月1日(火) 午前10時" in family[0]["text"]


def test_a_refused_change_tells_nobody(clinic: Clinic) -> None:
    clinic.clock.set(tokyo(2026, 11, 27, 9, 0))  # inside the lab's 2-day notice window
    infusion_1 = clinic.reminder("infusion/patient/1d@18:00")["event_id"]
    with pytest.raises(NoticeWindowError):
        clinic.planner.reschedule(infusion_1, date(2026, 12, 1), only=True)

    assert _notices(clinic) == []


def test_a_change_to_staff_only_events_is_no_change_for_the_patient(clinic: Clinic) -> None:
    course = clinic.planner.course(1)
    events = list(course.events)
    moved = [e if e.kind != "cell_delivery" or e.seq != 1 else
             type(e)(e.kind, e.seq, e.start.replace(hour=15), e.end.replace(hour=15), e.status)
             for e in events]

    assert visit_changes(course.protocol, events, moved) == []
