"""Which reminders an event needs and when: default rules, quiet hours, expiry, DST.

Clinic in Asia/Tokyo unless a test says otherwise. Policies come from the built-in
configuration (``load_settings(None)``) so the defaults of issue 3 are what is pinned.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.config.settings import load_settings
from planner.core.model import PlannedEvent, Status
from planner.core.reminders import (
    DueReminder,
    ReminderPolicy,
    ReminderRule,
    digest_instant,
    reminders_for,
)

TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")
DEFAULTS = load_settings(None)
POLICY = DEFAULTS.reminders
PROTOCOL = DEFAULTS.protocol(None)


def tokyo(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TOKYO)


def event(kind: str, start: datetime, minutes: int = 60, seq: int = 1,
          status: Status = Status.SCHEDULED) -> PlannedEvent:
    return PlannedEvent(kind, seq, start, start + timedelta(minutes=minutes), status)


def due_of(kind: str, start: datetime, policy: ReminderPolicy = POLICY,
           audiences: tuple[str, ...] | None = None, zone: str = "Asia/Tokyo"
           ) -> list[DueReminder]:
    who = PROTOCOL.audience_of(kind) if audiences is None else audiences
    return reminders_for(event(kind, start), who, policy, zone)


def with_rules(*rules: ReminderRule, **changes: object) -> ReminderPolicy:
    return replace(POLICY, rules=rules, **changes)  # type: ignore[arg-type]


# -- the default rules ---------------------------------------------------------------------


def test_collection_on_monday_9_november_is_reminded_saturday_10_00_and_sunday_18_00() -> None:
    reminders = due_of("collection", tokyo(2026, 11, 9, 9, 0))

    assert [(r.audience, r.due) for r in reminders] == [
        ("patient", tokyo(2026, 11, 7, 10, 0)),
        ("patient", tokyo(2026, 11, 8, 18, 0)),
    ]


def test_infusion_on_monday_30_november_10_00_is_reminded_the_day_before_18_00_and_at_8_00(
) -> None:
    reminders = due_of("infusion", tokyo(2026, 11, 30, 10, 0))

    assert [(r.audience, r.due) for r in reminders] == [
        ("patient", tokyo(2026, 11, 29, 18, 0)),
        ("patient", tokyo(2026, 11, 30, 8, 0)),
        ("patient", tokyo(2026, 11, 30, 19, 0)),  # the evening check-in
    ]


def test_cell_delivery_on_saturday_28_november_reminds_the_lab_thursday_26_at_10_00() -> None:
    reminders = due_of("cell_delivery", tokyo(2026, 11, 28, 16, 0))

    assert [(r.audience, r.due) for r in reminders] == [("lab", tokyo(2026, 11, 26, 10, 0))]


def test_follow_up_on_thursday_7_january_is_reminded_monday_4_january_at_10_00() -> None:
    reminders = due_of("follow_up", tokyo(2027, 1, 7, 10, 0))

    assert [(r.audience, r.due) for r in reminders] == [("patient", tokyo(2027, 1, 4, 10, 0))]


def test_blood_test_has_no_reminder_of_its_own_by_default() -> None:
    assert due_of("blood_test", tokyo(2026, 11, 30, 9, 30)) == []


def test_rule_names_are_stable_and_say_kind_audience_and_timing() -> None:
    reminders = due_of("infusion", tokyo(2026, 11, 30, 10, 0))

    assert [r.rule for r in reminders] == ["infusion/patient/1d@18:00", "infusion/patient/120m",
                                           "infusion/patient/19:00/check-in"]


# -- quiet hours (21:00–08:00 for patients and family) -------------------------------------


def test_reminder_due_at_7_00_for_a_10_00_infusion_moves_to_8_00() -> None:
    policy = with_rules(ReminderRule("infusion", "patient", minutes_before=180))

    (reminder,) = due_of("infusion", tokyo(2026, 11, 30, 10, 0), policy)

    assert reminder.due == tokyo(2026, 11, 30, 8, 0)


def test_reminder_whose_end_of_quiet_hours_is_too_late_moves_to_21_00_the_evening_before(
) -> None:
    # Event at 08:15, 2 h before = 06:15; 08:00 is less than min_lead (30 min) before it.
    policy = with_rules(ReminderRule("infusion", "patient", minutes_before=120))

    (reminder,) = due_of("infusion", tokyo(2026, 11, 30, 8, 15), policy)

    assert reminder.due == tokyo(2026, 11, 29, 21, 0)
    assert reminder.expires == tokyo(2026, 11, 29, 23, 0)


def test_reminder_due_at_22_00_moves_to_8_00_the_next_morning() -> None:
    policy = with_rules(ReminderRule("infusion", "patient", days_before=1, at=time(22, 0)))

    (reminder,) = due_of("infusion", tokyo(2026, 11, 30, 10, 0), policy)

    assert reminder.due == tokyo(2026, 11, 30, 8, 0)


def test_family_reminders_respect_quiet_hours_too() -> None:
    policy = with_rules(ReminderRule("infusion", "family", minutes_before=180))

    (reminder,) = due_of("infusion", tokyo(2026, 11, 30, 10, 0), policy)

    assert reminder.due == tokyo(2026, 11, 30, 8, 0)


def test_staff_reminders_are_not_moved_out_of_quiet_hours() -> None:
    policy = with_rules(ReminderRule("infusion", "nurse", minutes_before=180))

    (reminder,) = due_of("infusion", tokyo(2026, 11, 30, 10, 0), policy)

    assert reminder.due == tokyo(2026, 11, 30, 7, 0)


def test_no_quiet_hours_leaves_a_7_00_patient_reminder_at_7_00() -> None:
    policy = with_rules(ReminderRule("infusion", "patient", minutes_before=180),
                        quiet_start=None, quiet_end=None)

    (reminder,) = due_of("infusion", tokyo(2026, 11, 30, 10, 0), policy)

    assert reminder.due == tokyo(2026, 11, 30, 7, 0)


# -- how long a reminder stays useful -------------------------------------------------------


def test_expiry_is_max_late_after_due_when_the_event_is_far() -> None:
    (evening, _, _) = due_of("infusion", tokyo(2026, 11, 30, 10, 0))

    assert evening.expires == tokyo(2026, 11, 29, 20, 0)


def test_expiry_is_min_lead_before_the_event_when_that_comes_first() -> None:
    (_, morning, _) = due_of("infusion", tokyo(2026, 11, 30, 10, 0))

    assert morning.due == tokyo(2026, 11, 30, 8, 0)
    assert morning.expires == tokyo(2026, 11, 30, 9, 30)


def test_a_rule_that_could_never_be_useful_gives_no_reminder() -> None:
    policy = with_rules(ReminderRule("infusion", "nurse", minutes_before=15))

    assert due_of("infusion", tokyo(2026, 11, 30, 10, 0), policy) == []


@pytest.mark.parametrize("status", [Status.CANCELLED, Status.MISSED])
def test_cancelled_and_missed_events_get_no_reminders(status: Status) -> None:
    infusion = event("infusion", tokyo(2026, 11, 30, 10, 0), status=status)

    assert reminders_for(infusion, PROTOCOL.audience_of("infusion"), POLICY, "Asia/Tokyo") == []


# -- audiences -------------------------------------------------------------------------------


def test_family_rule_applies_where_the_patient_attends() -> None:
    policy = with_rules(ReminderRule("infusion", "family", days_before=1, at=time(18, 0)))

    (reminder,) = due_of("infusion", tokyo(2026, 11, 30, 10, 0), policy)

    assert (reminder.audience, reminder.due) == ("family", tokyo(2026, 11, 29, 18, 0))


def test_family_rule_does_not_apply_where_the_patient_does_not_attend() -> None:
    policy = with_rules(ReminderRule("cell_delivery", "family", days_before=1, at=time(18, 0)))

    assert due_of("cell_delivery", tokyo(2026, 11, 28, 16, 0), policy) == []


def test_rule_for_a_role_not_taking_part_gives_nothing() -> None:
    policy = with_rules(ReminderRule("follow_up", "lab", days_before=1, at=time(10, 0)))

    assert due_of("follow_up", tokyo(2027, 1, 7, 10, 0), policy) == []


# -- daylight saving time (America/New_York: 8 March and 1 November 2026) -------------------


@pytest.mark.parametrize(("event_day", "offset_hours"), [
    (datetime(2026, 3, 8, 10, 0, tzinfo=NEW_YORK), -5),   # the day before is still EST
    (datetime(2026, 3, 9, 10, 0, tzinfo=NEW_YORK), -4),   # the day before is the change day
    (datetime(2026, 11, 1, 10, 0, tzinfo=NEW_YORK), -4),  # the day before is still EDT
    (datetime(2026, 11, 2, 10, 0, tzinfo=NEW_YORK), -5),  # the day before is the change day
])
def test_day_before_at_18_00_is_18_00_local_on_both_sides_of_a_dst_change(
        event_day: datetime, offset_hours: int) -> None:
    (reminder,) = due_of("infusion", event_day,
                         with_rules(ReminderRule("infusion", "patient", days_before=1,
                                                 at=time(18, 0))),
                         zone="America/New_York")

    local = reminder.due.astimezone(NEW_YORK)
    assert (local.date(), local.time()) == ((event_day - timedelta(days=1)).date(), time(18, 0))
    assert reminder.due.utcoffset() == timedelta(hours=offset_hours)


def test_hours_before_counts_elapsed_time_across_a_dst_change() -> None:
    # Sun 8 March 2026 03:30 EDT; two real hours earlier is 00:30 EST (wall 01:30 is 1 h).
    start = datetime(2026, 3, 8, 3, 30, tzinfo=NEW_YORK)
    policy = with_rules(ReminderRule("infusion", "nurse", minutes_before=120),
                        min_lead=timedelta(0))

    (reminder,) = due_of("infusion", start, policy, zone="America/New_York")

    assert start.astimezone(UTC) - reminder.due.astimezone(UTC) == timedelta(hours=2)
    assert reminder.due.astimezone(UTC) == datetime(2026, 3, 8, 5, 30, tzinfo=UTC)


def test_max_late_counts_elapsed_time_across_a_dst_change() -> None:
    # Due Sun 1 November 2026 00:30 EDT; the clocks go back at 02:00.
    policy = with_rules(ReminderRule("infusion", "nurse", days_before=0, at=time(0, 30)),
                        max_late=timedelta(hours=3))

    (reminder,) = due_of("infusion", datetime(2026, 11, 1, 10, 0, tzinfo=NEW_YORK), policy,
                         zone="America/New_York")

    assert reminder.expires.astimezone(UTC) - reminder.due.astimezone(UTC) == timedelta(hours=3)


def test_digest_for_monday_30_november_is_at_7_30_tokyo() -> None:
    day = tokyo(2026, 11, 30, 0).date()

    assert digest_instant(day, POLICY, "Asia/Tokyo") == tokyo(2026, 11, 30, 7, 30)


# -- properties ------------------------------------------------------------------------------

ZONES = ("Asia/Tokyo", "America/New_York")
rules = st.one_of(
    st.builds(ReminderRule, kind=st.just("infusion"),
              audience=st.sampled_from(("patient", "family", "nurse")),
              days_before=st.integers(0, 7),
              at=st.builds(time, st.integers(0, 23), st.sampled_from((0, 15, 30, 45)))),
    st.builds(ReminderRule, kind=st.just("infusion"),
              audience=st.sampled_from(("patient", "family", "nurse")),
              minutes_before=st.integers(0, 4 * 24 * 60)),
)


def _inside_quiet_hours(moment: datetime, zone: ZoneInfo) -> bool:
    """Strictly inside 21:00–08:00: 21:00 (the last moment before) and 08:00 are allowed."""
    clock = moment.astimezone(zone).time()
    return clock > time(21, 0) or clock < time(8, 0)


@settings(max_examples=300, deadline=None)
@given(rule_list=st.lists(rules, min_size=1, max_size=4),
       day=st.integers(0, 2 * 365), minute=st.integers(0, 24 * 60 - 1),
       zone_name=st.sampled_from(ZONES),
       max_late=st.integers(1, 24 * 60), min_lead=st.integers(0, 24 * 60))
def test_every_reminder_is_due_before_it_expires_and_expires_by_the_event_start(
        rule_list: list[ReminderRule], day: int, minute: int, zone_name: str, max_late: int,
        min_lead: int) -> None:
    zone = ZoneInfo(zone_name)
    begins = (datetime(2026, 1, 1, tzinfo=zone)
              + timedelta(days=day, minutes=minute))   # wall time, DST days included
    policy = with_rules(*rule_list, max_late=timedelta(minutes=max_late),
                        min_lead=timedelta(minutes=min_lead))

    for reminder in due_of("infusion", begins, policy, zone=zone_name):
        assert reminder.due < reminder.expires <= begins
        assert reminder.expires <= begins.astimezone(UTC) - policy.min_lead   # elapsed time
        if reminder.audience in ("patient", "family"):
            assert not _inside_quiet_hours(reminder.due, zone), reminder


# -- the evening check-in after an infusion ---------------------------------------------------


def test_check_in_after_the_infusion_of_monday_30_november_is_due_at_19_00_that_day() -> None:
    policy = with_rules(ReminderRule("infusion", "patient", at=time(19, 0), check_in=True))

    (check_in,) = due_of("infusion", tokyo(2026, 11, 30, 10, 0), policy)

    assert (check_in.due, check_in.expires) == (tokyo(2026, 11, 30, 19, 0),
                                                tokyo(2026, 11, 30, 21, 0))
    assert check_in.rule == "infusion/patient/19:00/check-in"


def test_check_in_before_the_infusion_has_ended_is_not_made() -> None:
    policy = with_rules(ReminderRule("infusion", "patient", at=time(10, 30), check_in=True))

    assert due_of("infusion", tokyo(2026, 11, 30, 10, 0), policy) == []


def test_check_in_inside_quiet_hours_moves_to_when_they_begin() -> None:
    policy = with_rules(ReminderRule("infusion", "patient", at=time(22, 0), check_in=True))

    (check_in,) = due_of("infusion", tokyo(2026, 11, 30, 10, 0), policy)

    assert check_in.due == tokyo(2026, 11, 30, 21, 0)
