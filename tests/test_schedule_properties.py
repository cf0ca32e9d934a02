"""Invariants of every plan the planner makes (hypothesis)."""

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.config.settings import load_settings
from planner.core.calendar import ClinicCalendar
from planner.core.errors import PlanningError
from planner.core.model import Occupancy
from planner.core.schedule import plan_course

TOKYO = ZoneInfo("Asia/Tokyo")
SETTINGS = load_settings(None)
ANK = SETTINGS.protocols["ank"]
CALENDAR = ClinicCalendar(SETTINGS.clinic)
STEPS = {s.kind: s for s in ANK.steps}
STRICT = replace(ANK, bends_per_course=0)

starts = st.dates(min_value=date(2026, 1, 1), max_value=date(2030, 12, 31))
modes = st.sampled_from(["first_infusion", "collection"])


@st.composite
def occupancies(draw):
    """Some days already busy: booked infusion chairs at 10:00 and collections."""
    base = draw(starts)
    infusions = {}
    collections = {}
    for offset in draw(st.lists(st.integers(-40, 60), max_size=12)):
        day = base + timedelta(days=offset)
        start = datetime.combine(day, ANK.infusion_time, tzinfo=TOKYO)
        chairs = draw(st.integers(1, SETTINGS.clinic.infusion_chairs))
        infusions[day] = {(start, start + timedelta(hours=1)): chairs}
    for offset in draw(st.lists(st.integers(-60, 0), max_size=6)):
        collections[base + timedelta(days=offset)] = draw(st.integers(1, 2))
    return base, Occupancy(infusions, collections)


def plan_or_none(mode, day, occupancy=None):
    """The plan, or None when the planner refuses (with a rule and a reason)."""
    try:
        return plan_course(ANK, CALENDAR, occupancy=occupancy, **{mode: day})
    except PlanningError as error:
        refusal = error
    assert refusal.rule
    assert refusal.reason
    return None


def infusions_of(plan):
    return sorted((e for e in plan.events if e.kind == "infusion"), key=lambda e: e.start)


@settings(max_examples=150, deadline=None)
@given(starts, modes)
def test_every_plan_has_exactly_the_protocol_count_of_infusions(day, mode):
    plan = plan_or_none(mode, day)
    if plan is not None:
        assert [e.seq for e in infusions_of(plan)] == list(range(1, ANK.infusions + 1))


@settings(max_examples=150, deadline=None)
@given(starts, modes)
def test_gaps_stay_within_two_to_five_days_or_a_recorded_stretch_over_a_closure(day, mode):
    plan = plan_or_none(mode, day)
    if plan is None:
        return
    days = [e.start.date() for e in infusions_of(plan)]
    stretched = [(a, b) for a, b in zip(days, days[1:], strict=False) if (b - a).days > 5]
    assert all(2 <= (b - a).days <= ANK.max_gap_days_over_closure
               for a, b in zip(days, days[1:], strict=False))
    assert all(CALENDAR.closures_between(a + timedelta(days=1), b - timedelta(days=1))
               for a, b in stretched)
    gap_bends = [b for b in plan.exceptions if b.rule == "protocol.gap_days"]
    assert len(gap_bends) == len(stretched) <= ANK.closure_gaps_per_course
    assert len(plan.exceptions) <= ANK.bends_per_course
    weeks = [d.isocalendar()[:2] for d in days]
    assert max(weeks.count(w) for w in weeks) <= ANK.per_week


@settings(max_examples=150, deadline=None)
@given(starts, modes)
def test_every_event_is_on_an_open_day_within_hours(day, mode):
    plan = plan_or_none(mode, day)
    if plan is None:
        return
    for event in plan.events:
        assert CALENDAR.is_open(event.start.date()), event
        assert CALENDAR.within_hours(event.start, event.end), event


@settings(max_examples=150, deadline=None)
@given(starts, modes)
def test_anchored_steps_stay_inside_their_windows(day, mode):
    plan = plan_or_none(mode, day)
    if plan is None:
        return
    infusions = {e.seq: e for e in infusions_of(plan)}
    for event in plan.events:
        if event.kind == "infusion":
            continue
        step = STEPS[event.kind]
        anchor = infusions[event.seq]
        if step.time is None:
            assert event.start - anchor.start == timedelta(minutes=step.offset_minutes)
        else:
            low, high = step.window_days
            offset = (event.start.date() - anchor.start.date()).days
            if not low <= offset <= high:  # the one bend a step has: the infusion's morning
                assert (offset, event.start.timetz().replace(tzinfo=None)) == (
                    0, step.same_day_time)
                assert event.end <= anchor.start
                assert f"{event.kind} {event.seq}" in {e for b in plan.exceptions
                                                       for e in b.events}


@settings(max_examples=150, deadline=None)
@given(starts, modes)
def test_a_plan_bends_nothing_when_a_plan_without_bends_exists(day, mode):
    try:
        strict = plan_course(STRICT, CALENDAR, **{mode: day})
    except PlanningError:
        return
    plan = plan_course(ANK, CALENDAR, **{mode: day})
    assert (plan.events, plan.exceptions) == (strict.events, ())


@settings(max_examples=150, deadline=None)
@given(st.dates(min_value=date(2027, 1, 1), max_value=date(2028, 12, 31)), modes)
def test_every_start_in_2027_and_2028_plans_within_the_allowances_or_is_refused(day, mode):
    plan = plan_or_none(mode, day)
    if plan is None:
        return
    assert len(plan.exceptions) <= ANK.bends_per_course
    assert all(b.by_days <= ANK.max_gap_days_over_closure - ANK.gap_days[1]
               for b in plan.exceptions)
    assert all(b.why.startswith(("the year-end closure", "Golden Week", "public holiday",
                                 "clinic closed")) for b in plan.exceptions)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(occupancies(), modes)
def test_capacity_is_never_exceeded(busy, mode):
    base, occupancy = busy
    plan = plan_or_none(mode, base, occupancy)
    if plan is None:
        return
    for event in plan.events:
        day = event.start.date()
        if event.kind == "infusion":
            booked = occupancy.infusions.get(day, {})
            overlapping = sum(
                n for (s, e), n in booked.items() if s < event.end and event.start < e)
            assert overlapping < SETTINGS.clinic.infusion_chairs
        if event.kind == "collection":
            assert occupancy.collections.get(day, 0) < SETTINGS.clinic.collections_per_day


@settings(max_examples=60, deadline=None)
@given(starts, modes)
def test_the_same_input_gives_the_same_plan(day, mode):
    first = plan_or_none(mode, day)
    assert plan_or_none(mode, day) == first


@settings(max_examples=40, deadline=None)
@given(starts)
def test_a_suggested_start_really_plans(day):
    try:
        plan_course(ANK, CALENDAR, first_infusion=day)
        return
    except PlanningError as error:
        suggestion = error.suggestion
    if suggestion:
        suggested = date.fromisoformat(suggestion.split(" is ")[1][:10])
        assert plan_or_none("first_infusion", suggested) is not None
