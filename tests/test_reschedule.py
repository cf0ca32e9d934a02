"""Changing a planned course: move, missed, postpone, cancel, and the lab's notice window.

The course is the June 2026 one: collection Mon 05-11, infusions Mon/Thu from Mon 06-01
to Thu 06-25, follow-up Thu 07-09.
"""

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from planner.config.settings import load_settings
from planner.core.calendar import ClinicCalendar
from planner.core.course import Course, effective_status, lab_notice_changes
from planner.core.errors import PlanningError
from planner.core.model import Status
from planner.core.reschedule import cancel, mark_missed, move_infusion, move_step, postpone
from planner.core.schedule import plan_course

TOKYO = ZoneInfo("Asia/Tokyo")
SETTINGS = load_settings(None)
ANK = SETTINGS.protocols["ank"]
CALENDAR = ClinicCalendar(SETTINGS.clinic)
COURSE = Course(ANK, plan_course(ANK, CALENDAR, first_infusion=date(2026, 6, 1)).events)
TUESDAY_NOON = datetime(2026, 6, 2, 12, 0, tzinfo=TOKYO)  # after infusion 1, before 2
# Mon 2026-06-08 08:00: the patient calls in sick for infusion 3 (10:00, blood test 09:30;
# its cells came on Sat 06-06).
MORNING_OF_3 = datetime(2026, 6, 8, 8, 0, tzinfo=TOKYO)


def at(month, day, hour=10, minute=0):
    return datetime(2026, month, day, hour, minute, tzinfo=TOKYO)


def infusion_days(events):
    return [e.start.date() for e in sorted(events, key=lambda e: e.seq)
            if e.kind == "infusion" and e.status is Status.SCHEDULED]


def one(events, kind, seq=None):
    (event,) = [e for e in events if e.kind == kind and (seq is None or e.seq == seq)]
    return event


def test_moving_an_infusion_shifts_the_following_ones_to_the_new_rhythm():
    # Infusion 3 from Mon 06-08 to Tue 06-09: the rest follow Tue/Fri.
    events = move_infusion(COURSE, CALENDAR, 3, at(6, 9), TUESDAY_NOON)
    assert infusion_days(events) == [
        date(2026, 6, 1), date(2026, 6, 4), date(2026, 6, 9), date(2026, 6, 12),
        date(2026, 6, 16), date(2026, 6, 19), date(2026, 6, 23), date(2026, 6, 26),
    ]


def test_anchored_steps_follow_a_moved_infusion():
    events = move_infusion(COURSE, CALENDAR, 3, at(6, 9), TUESDAY_NOON)
    assert one(events, "blood_test", 3).start == at(6, 9, 9, 30)
    assert one(events, "cell_delivery", 3).start.date() == date(2026, 6, 8)


def test_a_follow_up_still_inside_its_window_stays_where_it_is():
    # The last infusion moves from Thu 06-25 to Fri 06-26; Thu 07-09 is 13 days later.
    events = move_infusion(COURSE, CALENDAR, 3, at(6, 9), TUESDAY_NOON)
    assert one(events, "follow_up").start.date() == date(2026, 7, 9)


def test_a_collection_still_inside_its_window_stays_when_the_first_infusion_moves():
    # Collection Mon 05-11; the first infusion moves from Mon 06-01 to Tue 06-02 (22 days).
    events = move_infusion(COURSE, CALENDAR, 1, at(6, 2), at(5, 1), only=True)
    assert one(events, "collection").start.date() == date(2026, 5, 11)


def test_moving_only_one_infusion_leaves_the_others():
    events = move_infusion(COURSE, CALENDAR, 3, at(6, 9), TUESDAY_NOON, only=True)
    assert infusion_days(events) == [
        date(2026, 6, 1), date(2026, 6, 4), date(2026, 6, 9), date(2026, 6, 11),
        date(2026, 6, 15), date(2026, 6, 18), date(2026, 6, 22), date(2026, 6, 25),
    ]


def test_moving_with_a_time_keeps_that_time():
    events = move_infusion(COURSE, CALENDAR, 3, at(6, 8, 14, 0), TUESDAY_NOON, only=True)
    assert one(events, "infusion", 3).start == at(6, 8, 14, 0)
    assert one(events, "blood_test", 3).start == at(6, 8, 13, 30)


def test_moving_onto_a_closed_day_is_refused_with_the_reason():
    with pytest.raises(PlanningError, match="2026-06-07 is closed: clinic closed on Sundays"):
        move_infusion(COURSE, CALENDAR, 3, at(6, 7), TUESDAY_NOON)


def test_moving_out_of_hours_is_refused():
    with pytest.raises(PlanningError, match="outside clinic hours"):
        move_infusion(COURSE, CALENDAR, 3, at(6, 8, 17, 30), TUESDAY_NOON)


def test_moving_further_than_the_gap_allows_is_refused_pointing_to_postpone():
    with pytest.raises(PlanningError, match="protocol.gap_days.*postpone"):
        move_infusion(COURSE, CALENDAR, 3, at(6, 11), TUESDAY_NOON, only=True)


def test_an_infusion_that_took_place_cannot_move():
    with pytest.raises(PlanningError, match="infusion 1 took place"):
        move_infusion(COURSE, CALENDAR, 1, at(6, 3), TUESDAY_NOON)


def test_moving_into_the_past_is_refused():
    with pytest.raises(PlanningError, match="in the past"):
        move_infusion(COURSE, CALENDAR, 3, at(6, 2, 10), TUESDAY_NOON)


def test_a_missed_infusion_gets_a_make_up_and_a_follow_up_out_of_its_window_moves():
    # Make-up Mon 06-29: the follow-up on Thu 07-09 would be only 10 days after it (< 11).
    events = mark_missed(COURSE, CALENDAR, 3, MORNING_OF_3)
    assert one(events, "infusion", 3).status is Status.MISSED
    assert one(events, "infusion", 9).start.date() == date(2026, 6, 29)
    follow_up = one(events, "follow_up")
    assert (follow_up.seq, follow_up.start.date()) == (9, date(2026, 7, 13))


def test_the_steps_of_a_missed_infusion_still_ahead_are_cancelled_and_those_done_stay():
    events = mark_missed(COURSE, CALENDAR, 3, MORNING_OF_3)
    assert one(events, "blood_test", 3).status is Status.CANCELLED
    assert one(events, "cell_delivery", 3).status is Status.SCHEDULED  # delivered on 06-06


def test_missed_without_make_up_adds_nothing():
    events = mark_missed(COURSE, CALENDAR, 3, MORNING_OF_3, makeup=False)
    assert [e.seq for e in events if e.kind == "infusion"] == list(range(1, 9))
    assert one(events, "follow_up").start.date() == date(2026, 7, 9)


def test_an_infusion_already_missed_cannot_be_missed_again():
    events = mark_missed(COURSE, CALENDAR, 3, MORNING_OF_3, makeup=False)
    with pytest.raises(PlanningError, match="already missed"):
        mark_missed(Course(ANK, tuple(events)), CALENDAR, 3, MORNING_OF_3)


def test_postponing_shifts_what_is_ahead_and_keeps_what_happened():
    friday = at(6, 5, 12)  # infusions 1 (06-01) and 2 (06-04) are done
    events = postpone(COURSE, CALENDAR, 7, friday)
    assert infusion_days(events) == [
        date(2026, 6, 1), date(2026, 6, 4), date(2026, 6, 15), date(2026, 6, 18),
        date(2026, 6, 22), date(2026, 6, 25), date(2026, 6, 29), date(2026, 7, 2),
    ]
    assert one(events, "collection").start.date() == date(2026, 5, 11)


def test_postponing_beyond_the_culture_window_of_a_done_collection_is_refused():
    # Collection done on 05-11; the first infusion may be at most 28 days later (06-08).
    with pytest.raises(PlanningError, match="steps.collection.window_days"):
        postpone(COURSE, CALENDAR, 14, at(5, 20))


def test_postponing_before_the_collection_moves_the_collection_too():
    events = postpone(COURSE, CALENDAR, 7, at(5, 1))
    assert one(events, "collection").start.date() == date(2026, 5, 18)
    assert infusion_days(events)[0] == date(2026, 6, 8)


def test_postponing_needs_at_least_one_day():
    with pytest.raises(PlanningError, match="postpone.days"):
        postpone(COURSE, CALENDAR, 0, TUESDAY_NOON)


def test_cancelling_cancels_what_is_ahead_only():
    events = cancel(COURSE, TUESDAY_NOON)
    assert one(events, "infusion", 1).status is Status.SCHEDULED
    assert effective_status(one(events, "infusion", 1), TUESDAY_NOON) is Status.DONE
    assert {e.status for e in events if e.start > TUESDAY_NOON} == {Status.CANCELLED}


def test_a_collection_can_move_inside_its_window():
    events = move_step(COURSE, CALENDAR, "collection", 1, at(5, 12, 9), at(5, 1))
    assert one(events, "collection").start == at(5, 12, 9)


def test_a_collection_cannot_leave_its_window():
    with pytest.raises(PlanningError, match="steps.collection.window_days"):
        move_step(COURSE, CALENDAR, "collection", 1, at(5, 26, 9), at(5, 1))


def test_a_blood_test_moves_only_with_its_infusion():
    with pytest.raises(PlanningError, match="moves with infusion 3"):
        move_step(COURSE, CALENDAR, "blood_test", 3, at(6, 8, 9), TUESDAY_NOON)


def test_a_change_tomorrow_is_inside_the_lab_notice_window():
    # Infusion 2 is on Thu 06-04; on Wed 06-03 at noon it is within two days.
    wednesday = at(6, 3, 12)
    events = move_infusion(COURSE, CALENDAR, 2, at(6, 5), wednesday, only=True)
    changes = lab_notice_changes(COURSE.events, events, ANK, wednesday, 2)
    assert {new.kind for _, new in changes} == {"infusion", "cell_delivery"}


def test_a_change_two_weeks_ahead_is_outside_the_lab_notice_window():
    events = move_infusion(COURSE, CALENDAR, 8, at(6, 26), at(6, 10), only=True)
    assert lab_notice_changes(COURSE.events, events, ANK, at(6, 10), 2) == []


def test_a_full_reschedule_chain_keeps_every_rule():
    # Move 3 to Tue 06-09, then 4 is missed, then postpone the rest by a week.
    step1 = Course(ANK, tuple(move_infusion(COURSE, CALENDAR, 3, at(6, 9), TUESDAY_NOON)))
    step2 = Course(ANK, tuple(mark_missed(step1, CALENDAR, 4, at(6, 12, 12))))
    step3 = postpone(step2, CALENDAR, 7, at(6, 12, 12))
    given = [e for e in step3 if e.kind == "infusion" and e.status is Status.SCHEDULED]
    assert len(given) == 8  # seven of the original eight and the make-up
    assert one(step3, "infusion", 4).status is Status.MISSED
    ahead = sorted(e.start.date() for e in given if e.start > at(6, 12, 12))
    assert all(2 <= (b - a).days <= 5 for a, b in zip(ahead, ahead[1:], strict=False))
    assert all(CALENDAR.is_open(e.start.date()) for e in step3 if e.status is Status.SCHEDULED)
    assert one(step3, "follow_up").seq == 9


def test_events_keep_their_identity_through_a_change():
    events = move_infusion(COURSE, CALENDAR, 3, at(6, 9), TUESDAY_NOON)
    assert sorted((e.kind, e.seq) for e in events) == sorted((e.kind, e.seq) for e in COURSE.events)


def test_the_time_zone_is_kept_when_moving_by_date():
    events = move_infusion(COURSE, CALENDAR, 3, at(6, 9), TUESDAY_NOON)
    assert one(events, "infusion", 3).start.utcoffset() == timedelta(hours=9)
    assert replace(one(events, "infusion", 3)).end - one(events, "infusion", 3).start == (
        timedelta(hours=1))
