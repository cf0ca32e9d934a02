"""CLI: reschedule, missed, postpone, cancel."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import click

from planner.cli.app import App, cli, pass_app
from planner.cli.output import EVENT_HEADERS, echo_json, echo_table, event_json, event_row
from planner.cli.people import json_option
from planner.cli.types import ISO_DATE, ISO_DATE_OR_TIME, REASON, ROW_ID
from planner.core.errors import InputError
from planner.core.limits import MAX_POSTPONE_DAYS

if TYPE_CHECKING:
    from planner.service import Change

force_option = click.option(
    "--force", is_flag=True,
    help="Make a change inside the culture lab's notice window (the lab is flagged).")


def _report(app: App, change: Change, as_json: bool, verb: str) -> None:
    planner = app.planner
    events = app.store.events_of(change.course_id)
    if as_json:
        echo_json({"course_id": change.course_id, "changed": change.changed,
                   "lab_attention": change.lab_attention, "warning": change.warning,
                   "events": [event_json(e, planner.tz, planner.now()) for e in events]})
        return
    click.echo(f"Course {change.course_id}: {verb}; {len(change.changed)} event(s) changed.")
    if change.warning:
        click.echo(f"Warning: {change.warning}")
    if change.lab_attention:
        click.echo("Lab attention needed for: " + ", ".join(change.lab_attention))
    echo_table((event_row(e, planner.tz, planner.now()) for e in events
                if e.id in change.changed), EVENT_HEADERS)


@cli.command()
@click.argument("event_id", type=ROW_ID)
@click.option("--to", "to", type=ISO_DATE_OR_TIME, required=True,
              help="New date (keeps the time) or date and time, in the clinic's zone.")
@click.option("--only", is_flag=True, help="Move this infusion only; the others stay.")
@force_option
@json_option
@pass_app
def reschedule(app: App, event_id: int, to: date | datetime, only: bool, force: bool,
               as_json: bool) -> None:
    """Move an event. Following infusions shift to keep the rhythm unless --only.

    \b
    Examples:
      planner reschedule 13 --to 2027-06-18
      planner reschedule 13 --to 2027-06-18T14:00 --only
    """
    planner = app.planner
    target = to.replace(tzinfo=planner.tz) if isinstance(to, datetime) else to
    change = planner.reschedule(event_id, target, only=only, force=force)
    _report(app, change, as_json, "rescheduled")


@cli.command()
@click.argument("event_id", type=ROW_ID)
@click.option("--no-makeup", is_flag=True, help="Do not add a make-up infusion at the end.")
@json_option
@pass_app
def missed(app: App, event_id: int, no_makeup: bool, as_json: bool) -> None:
    """Mark an infusion missed; a make-up infusion is added after the last one.

    The miss is always recorded. The make-up keeps every rule (bending only what the
    protocol allows over a closure) and comes after now; when none fits, the miss is
    stored without one and staff are alerted. An infusion whose day has not come yet
    cannot be marked missed: use reschedule or cancel.

    \b
    Examples:
      planner missed 13               # on the day of event 13 or later
      planner missed 13 --no-makeup
    """
    change = app.planner.missed(event_id, makeup=not no_makeup)
    _report(app, change, as_json, "infusion marked missed")


@cli.command()
@click.argument("course_id", type=ROW_ID)
@click.option("--days", type=click.IntRange(1, MAX_POSTPONE_DAYS),
              help=f"Postpone by this many days (1 to {MAX_POSTPONE_DAYS}).")
@click.option("--to", "to", type=ISO_DATE,
              help="Postpone so the next infusion is on this date (at most "
                   f"{MAX_POSTPONE_DAYS} days after the next infusion).")
@force_option
@json_option
@pass_app
def postpone(app: App, course_id: int, days: int | None, to: date | None, force: bool,
             as_json: bool) -> None:
    """Postpone the rest of a course by N days or to a date.

    \b
    Examples:
      planner postpone 3 --days 7
      planner postpone 3 --to 2027-07-26
    """
    if (days is None) == (to is None):
        raise InputError("give exactly one of --days and --to")
    change = app.planner.postpone(course_id, days=days, to=to, force=force)
    _report(app, change, as_json, "postponed")


@cli.command()
@click.argument("course_id", type=ROW_ID)
@click.option("--reason", required=True, type=REASON,
              help="Why (kept in the audit log; at most 500 characters, one line).")
@force_option
@json_option
@pass_app
def cancel(app: App, course_id: int, reason: str, force: bool, as_json: bool) -> None:
    """Cancel the rest of a course; what has happened stays.

    \b
    Example:
      planner cancel 3 --reason "patient admitted to hospital"
    """
    change = app.planner.cancel(course_id, reason, force=force)
    _report(app, change, as_json, "cancelled")
