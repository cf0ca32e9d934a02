"""CLI: plan a course, show it, and the clinic's agenda."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path

import click

from planner.cli.app import App, cli, pass_app
from planner.cli.output import EVENT_HEADERS, echo_json, echo_table, event_json, event_row
from planner.cli.people import json_option
from planner.cli.types import ISO_DATE, PROTOCOL, ROW_ID
from planner.core.errors import InputError
from planner.core.model import AUDIENCES, Bend, StoredEvent


@cli.command()
@click.argument("patient_id", type=ROW_ID)
@click.option("--first-infusion", type=ISO_DATE, help="Date of the first infusion.")
@click.option("--collection", type=ISO_DATE, help="Date of the lymphocyte collection.")
@click.option("--protocol", "protocol_name", metavar="NAME", type=PROTOCOL,
              help="Protocol from the config (default: default_protocol).")
@click.option("--collected", type=ISO_DATE, metavar="DATE",
              help="The collection already happened on DATE: recorded as done, the rest "
              "planned from it.")
@json_option
@pass_app
def plan(app: App, patient_id: int, first_infusion: date | None, collection: date | None,
         protocol_name: str | None, collected: date | None, as_json: bool) -> None:
    """Plan a whole course from its first infusion or from its collection.

    Every event lands on an open day within clinic hours and capacity; when that is not
    possible nothing is stored and the nearest start that would work is suggested.

    \b
    Examples:
      planner plan 1 --first-infusion 2027-06-07
      planner plan 2 --collection 2027-05-18 --protocol ank12
      planner plan 3 --collected 2026-11-30   # the collection already happened
    """
    if sum(d is not None for d in (first_infusion, collection, collected)) != 1:
        raise InputError("give exactly one of --first-infusion and --collection (or "
                         "--collected)")
    planner = app.planner
    course_id, course_plan = planner.plan(patient_id, first_infusion=first_infusion,
                                          collection=collection or collected,
                                          protocol_name=protocol_name,
                                          collected=collected is not None)
    events = app.store.events_of(course_id)
    if as_json:
        echo_json({"course_id": course_id, "notes": list(course_plan.notes),
                   "exceptions": [b.as_dict() for b in course_plan.exceptions],
                   "events": [event_json(e, planner.tz, planner.now()) for e in events]})
        return
    click.echo(f"Course {course_id} planned for patient {patient_id}.")
    for note in course_plan.notes:
        click.echo(f"Note: {note}")
    _echo_exceptions(course_plan.exceptions)
    _echo_events(app, events)


def _echo_exceptions(bends: Iterable[Bend]) -> None:
    """Every rule the course bends over a closure, so the doctor sees it."""
    for bend in bends:
        click.echo(f"Exception: {bend.line()}")


def _echo_events(app: App, events: list[StoredEvent]) -> None:
    tz, now = app.tz, app.now()
    echo_table((event_row(e, tz, now) for e in events), EVENT_HEADERS)


@cli.command()
@click.argument("patient_id", type=ROW_ID, required=False)
@click.option("--course", "course_id", type=ROW_ID, help="Show one course instead of a patient.")
@json_option
@pass_app
def show(app: App, patient_id: int | None, course_id: int | None, as_json: bool) -> None:
    """Show the events of a patient's courses, or of one course.

    \b
    Examples:
      planner show 1
      planner show --course 3 --json
    """
    if (patient_id is None) == (course_id is None):
        raise InputError("give a PATIENT_ID or --course ID (one of them)")
    store = app.store  # reading needs neither the planner library nor the calendars
    courses = [store.course(course_id)] if course_id else store.courses_of(patient_id or 0)
    if as_json:
        echo_json([{**{k: v for k, v in c.items() if k not in ("protocol_snapshot",
                                                                   "exceptions")},
                    "exceptions": [b.as_dict() for b in store.exceptions_of(c["id"])],
                    "events": [event_json(e, app.tz, app.now())
                               for e in store.events_of(c["id"])]} for c in courses])
        return
    if not courses:
        click.echo("No courses planned.")
    for course in courses:
        patient = store.patient(course["patient_id"])
        click.echo(f"Course {course['id']} — {patient['name']} (patient {patient['id']}), "
                   f"{course['protocol']}, {course['status']}")
        _echo_exceptions(store.exceptions_of(course["id"]))
        _echo_events(app, store.events_of(course["id"]))
        click.echo("")


@cli.command()
@click.option("--from", "first", type=ISO_DATE, help="First day (default: today).")
@click.option("--to", "last", type=ISO_DATE, help="Last day (default: 7 days from the first).")
@click.option("--role", type=click.Choice(AUDIENCES),
              help="Only events this role takes part in.")
@json_option
@pass_app
def agenda(app: App, first: date | None, last: date | None, role: str | None,
           as_json: bool) -> None:
    """The clinic's events day by day, with the patient.

    \b
    Examples:
      planner agenda --from 2026-12-07 --to 2026-12-13 --role lab
      planner agenda --json
    """
    planner = app.planner
    first = first or planner.now().date()
    last = last or first + timedelta(days=6)
    if last < first:
        raise InputError(f"--to: {last} is before --from {first}")
    rows = planner.agenda(first, last, role)
    if as_json:
        echo_json([_agenda_json(r, planner.tz) for r in rows])
        return
    echo_table(
        ((r["id"], f"{_local(r['start'], planner.tz):%Y-%m-%d %a %H:%M}", r["kind"], r["seq"],
          f"{r['patient_name']} (#{r['patient_id']})", r["course_id"], r["status"])
         for r in rows),
        ("event", "when", "kind", "#", "patient", "course", "status"),
    )


def _local(text: str, tz: object) -> datetime:
    return datetime.fromisoformat(text).astimezone(tz)  # type: ignore[arg-type]


def _agenda_json(row: dict[str, object], tz: object) -> dict[str, object]:
    keys = ("id", "uid", "course_id", "kind", "seq", "status", "revision", "patient_id",
            "patient_name")
    data = {k: row[k] for k in keys}
    data["start"] = _local(str(row["start"]), tz).isoformat()
    data["end"] = _local(str(row["end"]), tz).isoformat()
    data["lab_attention"] = bool(row["lab_attention"])
    return data


@cli.command("plan-many")
@click.argument("file", type=click.Path(path_type=Path))
@json_option
@pass_app
def plan_many(app: App, file: Path, as_json: bool) -> None:
    """Plan many courses from a CSV file, all in one transaction: all of them or none.

    The file has a header and one course per line: patient_id, then first_infusion or
    collection (one of them, YYYY-MM-DD), and optionally protocol. Useful to move a
    clinic's existing schedule in. A line that cannot be planned is named with its
    reason and nothing is stored. Excel's "CSV UTF-8", "CSV" (Shift-JIS) and "Unicode
    text" (UTF-16, tab-separated) files are read as they are.

    \b
    Example:
      planner plan-many courses.csv
    \b
    courses.csv:
      patient_id,first_infusion,collection,protocol
      1,2027-06-07,,
      2,,2027-05-17,ank
    """
    from planner.cli.csv_import import read_course_csv

    requests = read_course_csv(file)
    results = app.planner.plan_many([request for _, request in requests])
    if as_json:
        echo_json([{"line": line, "course_id": course_id, "notes": list(course.notes)}
                   for (line, _), (course_id, course) in zip(requests, results, strict=True)])
        return
    click.echo(f"{len(results)} courses planned.")
    for (line, _), (course_id, course) in zip(requests, results, strict=True):
        for note in course.notes:
            click.echo(f"line {line} (course {course_id}): {note}")
