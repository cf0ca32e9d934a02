"""Planning a course from either end, around holidays and closures, within capacity."""

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from planner.config.protocols import DEFAULT_PROTOCOL
from planner.config.settings import load_settings, parse_settings
from planner.core.calendar import ClinicCalendar
from planner.core.errors import PlanningError
from planner.core.model import Clinic, Occupancy
from planner.core.schedule import plan_course

TOKYO = ZoneInfo("Asia/Tokyo")
SETTINGS = load_settings(None)
ANK = SETTINGS.protocols["ank"]
CALENDAR = ClinicCalendar(SETTINGS.clinic)
STRICT = replace(ANK, bends_per_course=0)  # the same protocol, bending nothing


def days_of(plan, kind):
    return [e.start.date() for e in plan.events if e.kind == kind]


def the(plan, kind):
    (event,) = [e for e in plan.events if e.kind == kind]
    return event


JUNE = dict(first_infusion=date(2026, 6, 1))  # a Monday; June 2026 has no holidays


def test_first_infusion_on_a_monday_gives_eight_mondays_and_thursdays():
    plan = plan_course(ANK, CALENDAR, **JUNE)
    assert days_of(plan, "infusion") == [
        date(2026, 6, 1), date(2026, 6, 4), date(2026, 6, 8), date(2026, 6, 11),
        date(2026, 6, 15), date(2026, 6, 18), date(2026, 6, 22), date(2026, 6, 25),
    ]


def test_a_holiday_monday_inside_a_course_shifts_the_infusions_around_it():
    # Mon 2026-11-23 is Labour Thanksgiving Day, and Sun 11-22 is closed, so no cells can
    # arrive for Tue 11-24 either: infusion 4 takes Fri 11-20, infusion 5 Wed 11-25.
    plan = plan_course(ANK, CALENDAR, first_infusion=date(2026, 11, 9))
    assert days_of(plan, "infusion") == [
        date(2026, 11, 9), date(2026, 11, 12), date(2026, 11, 16), date(2026, 11, 20),
        date(2026, 11, 25), date(2026, 11, 27), date(2026, 11, 30), date(2026, 12, 3),
    ]


def test_the_collection_is_21_days_before_the_first_infusion_at_nine_for_four_hours():
    collection = the(plan_course(ANK, CALENDAR, **JUNE), "collection")
    assert collection.start == datetime(2026, 5, 11, 9, 0, tzinfo=TOKYO)
    assert collection.end - collection.start == timedelta(hours=4)


def test_each_infusion_has_a_blood_test_30_minutes_before_it():
    plan = plan_course(ANK, CALENDAR, **JUNE)
    infusions = {e.seq: e for e in plan.events if e.kind == "infusion"}
    tests = [e for e in plan.events if e.kind == "blood_test"]
    assert len(tests) == 8
    for test in tests:
        assert infusions[test.seq].start - test.start == timedelta(minutes=30)


def test_cells_are_delivered_the_day_before_or_on_saturday_for_a_monday():
    plan = plan_course(ANK, CALENDAR, **JUNE)
    deliveries = {e.seq: e.start.date() for e in plan.events if e.kind == "cell_delivery"}
    assert deliveries[1] == date(2026, 5, 30)  # Sat before Mon 06-01 (Sunday is closed)
    assert deliveries[2] == date(2026, 6, 3)  # Wed before Thu 06-04


def test_the_follow_up_is_14_days_after_the_last_infusion():
    follow_up = the(plan_course(ANK, CALENDAR, **JUNE), "follow_up")
    assert follow_up.start.date() == date(2026, 7, 9)
    assert follow_up.seq == 8


def test_first_infusion_requested_on_a_holiday_moves_to_the_nearest_open_day_with_a_note():
    # Mon 2026-11-23 is a holiday; Tue 11-24 cannot get its cells (Sun and Mon closed).
    plan = plan_course(ANK, CALENDAR, first_infusion=date(2026, 11, 23))
    assert days_of(plan, "infusion")[0] == date(2026, 11, 25)
    assert plan.notes == (
        "first infusion moved from 2026-11-23 (public holiday (Labor Thanksgiving Day)) "
        "to 2026-11-25",
    )


def test_planning_from_the_collection_puts_the_first_infusion_21_days_later():
    plan = plan_course(ANK, CALENDAR, collection=date(2026, 5, 11))
    assert the(plan, "collection").start.date() == date(2026, 5, 11)
    assert days_of(plan, "infusion")[0] == date(2026, 6, 1)


def test_planning_from_either_end_gives_the_same_course():
    assert plan_course(ANK, CALENDAR, collection=date(2026, 5, 11)) == plan_course(
        ANK, CALENDAR, **JUNE)


def test_a_culture_across_the_year_end_closure_starts_infusions_after_it():
    # Collection Mon 2026-12-14; 21 days later is Mon 2027-01-04, but its cells would have to
    # arrive on 01-02 or 01-03 (closed), so the first infusion is Tue 01-05, delivery 01-04.
    plan = plan_course(ANK, CALENDAR, collection=date(2026, 12, 14))
    assert days_of(plan, "infusion")[0] == date(2027, 1, 5)
    assert days_of(plan, "cell_delivery")[0] == date(2027, 1, 4)


def test_a_strict_course_whose_infusions_would_straddle_the_year_end_closure_is_refused():
    with pytest.raises(PlanningError) as caught:
        plan_course(STRICT, CALENDAR, first_infusion=date(2026, 12, 14))
    error = caught.value
    assert "year-end closure" in error.reason
    assert error.suggestion == ("the nearest first infusion that works is 2026-12-05 (Sat) "
                                "before, or 2027-01-05 (Tue) after")


def test_a_course_through_showa_day_moves_that_infusion_and_ends_before_the_long_closure():
    # Wed/Sat from 2026-04-08: Wed 04-29 (Showa Day) moves to Thu 04-30; the last is Sat 05-02.
    plan = plan_course(ANK, CALENDAR, first_infusion=date(2026, 4, 8))
    assert days_of(plan, "infusion") == [
        date(2026, 4, 8), date(2026, 4, 11), date(2026, 4, 15), date(2026, 4, 18),
        date(2026, 4, 22), date(2026, 4, 25), date(2026, 4, 30), date(2026, 5, 2),
    ]
    # The follow-up (05-16) lands after Golden Week.
    assert the(plan, "follow_up").start.date() == date(2026, 5, 16)


def test_golden_week_2026_cannot_hold_a_strict_infusion_and_the_error_says_why():
    # 05-03 to 05-06 are closed (05-06 is a substitute holiday): no cells can arrive for 05-07.
    with pytest.raises(PlanningError) as caught:
        plan_course(STRICT, CALENDAR, first_infusion=date(2026, 4, 27))
    assert "2026-05" in str(caught.value)
    assert caught.value.suggestion is not None


def test_a_substitute_holiday_monday_shifts_the_rhythm_to_keep_cells_deliverable():
    # 2027-03-22 (Mon) is the substitute for the equinox on Sunday 03-21.
    plan = plan_course(ANK, CALENDAR, first_infusion=date(2027, 3, 15))
    infusions = days_of(plan, "infusion")
    assert date(2027, 3, 22) not in infusions
    assert all(CALENDAR.is_open(d) for d in days_of(plan, "cell_delivery"))


def test_a_full_infusion_slot_takes_the_next_slot_the_same_day():
    booked = {(datetime(2026, 6, 1, 10, 0, tzinfo=TOKYO),
               datetime(2026, 6, 1, 11, 0, tzinfo=TOKYO)): 3}
    plan = plan_course(ANK, CALENDAR, **JUNE,
                       occupancy=Occupancy(infusions={date(2026, 6, 1): booked}))
    first = next(e for e in plan.events if e.kind == "infusion" and e.seq == 1)
    assert first.start == datetime(2026, 6, 1, 11, 0, tzinfo=TOKYO)


def test_a_day_with_its_collections_full_moves_the_collection():
    plan = plan_course(ANK, CALENDAR, **JUNE,
                       occupancy=Occupancy(collections={date(2026, 5, 11): 2}))
    assert the(plan, "collection").start.date() == date(2026, 5, 12)


def test_planning_needs_exactly_one_start():
    with pytest.raises(PlanningError, match="exactly one"):
        plan_course(ANK, CALENDAR)


def test_a_clinic_without_holidays_keeps_a_holiday_monday():
    calendar = ClinicCalendar(Clinic(holiday_country=None))
    plan = plan_course(ANK, calendar, first_infusion=date(2026, 11, 23))
    assert days_of(plan, "infusion")[0] == date(2026, 11, 23)


def test_infusions_start_at_the_protocol_time():
    plan = plan_course(ANK, CALENDAR, **JUNE)
    assert {e.start.time() for e in plan.events if e.kind == "infusion"} == {time(10, 0)}


def test_a_clinic_in_new_york_keeps_ten_o_clock_across_the_dst_change():
    from dataclasses import replace

    calendar = ClinicCalendar(replace(SETTINGS.clinic, timezone="America/New_York",
                                      holiday_country=None))
    plan = plan_course(ANK, calendar, first_infusion=date(2026, 10, 26))
    infusions = [e for e in plan.events if e.kind == "infusion"]
    assert {e.start.time() for e in infusions} == {time(10, 0)}
    offsets = {e.start.utcoffset() for e in infusions}
    assert offsets == {timedelta(hours=-4), timedelta(hours=-5)}  # DST ends on 2026-11-01


def test_a_third_infusion_starting_at_ten_takes_the_next_slot_when_two_nurses_start_drips():
    # Three chairs, but only two infusions may start per half hour: Mon 2027-06-07 has two
    # 10:00 infusions booked, so this course's first infusion starts at 11:00.
    clinic = replace(SETTINGS.clinic, infusion_starts_per_slot=2)
    ten = datetime(2027, 6, 7, 10, 0, tzinfo=TOKYO)
    booked = Occupancy({date(2027, 6, 7): {(ten, ten + timedelta(hours=1)): 2}})
    plan = plan_course(ANK, ClinicCalendar(clinic), first_infusion=date(2027, 6, 7),
                       occupancy=booked)
    assert plan.infusions()[0].start == datetime(2027, 6, 7, 11, 0, tzinfo=TOKYO)


def test_without_a_start_limit_the_third_chair_at_ten_is_used():
    ten = datetime(2027, 6, 7, 10, 0, tzinfo=TOKYO)
    booked = Occupancy({date(2027, 6, 7): {(ten, ten + timedelta(hours=1)): 2}})
    plan = plan_course(ANK, CALENDAR, first_infusion=date(2027, 6, 7), occupancy=booked)
    assert plan.infusions()[0].start == ten


def test_a_december_2027_start_stretches_one_gap_over_the_year_end_closure():
    plan = plan_course(ANK, CALENDAR, first_infusion=date(2027, 12, 6))
    assert days_of(plan, "infusion")[-2:] == [date(2027, 12, 28), date(2028, 1, 5)]
    (bend,) = plan.exceptions
    assert (bend.rule, bend.by_days) == ("protocol.gap_days", 3)


def test_a_start_on_2027_04_19_plans_over_golden_week_with_one_stretched_gap():
    plan = plan_course(ANK, CALENDAR, first_infusion=date(2027, 4, 19))
    assert days_of(plan, "infusion")[3:5] == [date(2027, 4, 30), date(2027, 5, 7)]
    assert [b.why for b in plan.exceptions] == ["Golden Week (2027-05-03 to 2027-05-05)"]


def test_a_june_course_bends_nothing():
    assert plan_course(ANK, CALENDAR, first_infusion=date(2027, 6, 7)).exceptions == ()


def test_a_strict_refusal_near_golden_week_names_golden_week_not_the_sunday():
    with pytest.raises(PlanningError, match="blocked by Golden Week"):
        plan_course(STRICT, CALENDAR, first_infusion=date(2028, 4, 13))


def test_planning_from_the_collection_never_suggests_an_earlier_start():
    with pytest.raises(PlanningError) as caught:
        plan_course(STRICT, CALENDAR, collection=date(2027, 11, 22))
    suggested = date.fromisoformat(caught.value.suggestion.split(" is ")[1][:10])
    assert suggested > date(2027, 11, 22)


def test_a_lab_that_works_on_golden_week_delivers_the_day_before_with_no_bend():
    # Strict rules; the lab works every day except Jan 1-3. Sat 2028-05-06 follows Golden
    # Week (05-03 to 05-05): its cells come on Fri 05-05 from the lab.
    settings = parse_settings({
        "clinic": {"lab_open_weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                   "lab_closed_dates": ["2028-01-01", "2028-01-02", "2028-01-03"]},
        "protocol": {"ank": {"bends_per_course": 0, "steps": {
            **{k: v for k, v in _default_steps().items() if k != "cell_delivery"},
            "cell_delivery": {**_default_steps()["cell_delivery"], "calendar": "lab"}}}},
    }, "test")
    plan = plan_course(settings.protocol(None), ClinicCalendar(settings.clinic),
                       first_infusion=date(2028, 4, 13))
    assert plan.exceptions == ()
    deliveries = {e.seq: e.start.date() for e in plan.events if e.kind == "cell_delivery"}
    infusions = {e.seq: e.start.date() for e in plan.events if e.kind == "infusion"}
    assert date(2028, 5, 5) in deliveries.values()
    assert all(CALENDAR.is_open(d) for d in infusions.values())


def _default_steps():
    return DEFAULT_PROTOCOL["steps"]
