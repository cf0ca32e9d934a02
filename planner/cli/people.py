"""CLI: the database, patients and staff."""

from __future__ import annotations

from datetime import date

import click

from planner.cli.app import App, cli, pass_app
from planner.cli.output import echo_json, echo_table, event_json
from planner.cli.types import ISO_DATE, MRN, NAME, ROW_ID
from planner.core.errors import InputError
from planner.core.model import STAFF_ROLES

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


@cli.command()
@pass_app
def init(app: App) -> None:
    """Create the database (or bring it up to date) and say where it is.

    The only command that creates a database. It refuses a folder, a file that is not
    SQLite, and another application's SQLite file (it never adds its tables to one).

    \b
    Example:
      planner --db clinic.db init
    """
    from planner.store.schema import schema_version

    app.create_database = True
    store = app.store
    version = schema_version(store.db)
    click.echo(f"Database ready: {app.db_path or app.settings.database} (schema {version})")


@cli.group()
def patient() -> None:
    """Add, list and show patients.

    \b
    Example:
      planner patient add "山田 太郎" --lang ja --mrn 12345
    """


@patient.command("add")
@click.argument("name", type=NAME)
@click.option("--lang", type=click.Choice(["ja", "en"]), default="ja", show_default=True,
              help="Language of the patient's reminders and calendar.")
@click.option("--mrn", metavar="ID", type=MRN,
              help="The clinic's medical record number (unique, at most 32 characters).")
@json_option
@pass_app
def patient_add(app: App, name: str, lang: str, mrn: str | None, as_json: bool) -> None:
    """Add a patient. The name is at most 100 characters, on one line.

    \b
    Example:
      planner patient add "山田 太郎" --lang ja --mrn 12345
    """
    row = app.store.add_patient(name, lang, mrn, app.actor, app.planner.now())
    if as_json:
        echo_json(row)
    else:
        click.echo(f"Patient {row['id']} added: {row['name']}")


@patient.command("list")
@json_option
@pass_app
def patient_list(app: App, as_json: bool) -> None:
    """List patients.

    \b
    Example:
      planner patient list --json
    """
    rows = app.store.patients()
    if as_json:
        echo_json(rows)
        return
    echo_table(((r["id"], r["name"], r["lang"], r["mrn"] or "") for r in rows),
               ("id", "name", "lang", "mrn"))


@patient.command("show")
@click.argument("patient_id", type=ROW_ID)
@json_option
@pass_app
def patient_show(app: App, patient_id: int, as_json: bool) -> None:
    """Show one patient, their courses and their next visit.

    \b
    Example:
      planner patient show 1
    """
    planner = app.planner
    row = app.store.patient(patient_id)
    courses = app.store.courses_of(patient_id)
    now = planner.now()
    upcoming = planner.upcoming_visits(patient_id)
    if as_json:
        courses = [{k: v for k, v in c.items() if k != "protocol_snapshot"} for c in courses]
        echo_json({**row, "courses": courses, "away": app.store.away_periods(patient_id),
                   "next": event_json(upcoming[0], planner.tz, now) if upcoming else None})
        return
    click.echo(f"Patient {row['id']}: {row['name']} (lang {row['lang']}, mrn {row['mrn'] or '-'})")
    for course in courses:
        click.echo(f"  course {course['id']}: {course['protocol']}, {course['status']}, "
                   f"planned from {course['planned_from']} {course['start_date']}")
    for away in app.store.away_periods(patient_id):
        click.echo(f"  away {away['id']}: {away['first_day']} to {away['last_day']} "
                   f"({away['reason']})")
    if upcoming:
        nxt = upcoming[0]
        click.echo(f"  next: {nxt.kind} {nxt.seq} on "
                   f"{nxt.start.astimezone(planner.tz):%Y-%m-%d %a %H:%M} (event {nxt.id})")


@patient.command("away")
@click.argument("patient_id", type=int)
@click.argument("first", metavar="FROM", type=ISO_DATE, required=False)
@click.argument("last", metavar="[TO]", type=ISO_DATE, required=False)
@click.option("--reason", help="Why the patient cannot come (e.g. chemotherapy).")
@click.option("--remove", "remove_id", type=int, metavar="AWAY_ID",
              help="Remove this away period instead (its id is in `patient show`).")
@json_option
@pass_app
def patient_away(app: App, patient_id: int, first: date | None, last: date | None,
                 reason: str | None, remove_id: int | None, as_json: bool) -> None:
    """Record days a patient cannot come (a chemotherapy day, a hospital stay).

    Planning, make-ups and every change avoid them as they avoid closures. Visits
    already planned on those days are listed, to move with `planner reschedule`.

    \b
    Examples:
      planner patient away 1 2027-06-15 --reason chemotherapy
      planner patient away 1 2027-07-05 2027-07-09 --reason "hospital stay"
      planner patient away 1 --remove 1
    """
    store, now = app.store, app.planner.now()
    if remove_id is not None:
        if first is not None or reason is not None:
            raise InputError("--remove: give only the PATIENT_ID and --remove AWAY_ID")
        store.remove_away(patient_id, remove_id, app.actor, now)
        click.echo(f"Away period {remove_id} of patient {patient_id} removed.")
        return
    if first is None:
        raise InputError("FROM: give the first day the patient cannot come (YYYY-MM-DD)")
    last = last or first
    if last < first:
        raise InputError(f"TO: {last} is before FROM {first}")
    if reason is None or not reason.strip():
        raise InputError("--reason: say why the patient cannot come")
    away_id = store.add_away(patient_id, first, last, reason.strip(), app.actor, now)
    clashes = app.planner.visits_between(patient_id, first, last)
    if as_json:
        echo_json({"id": away_id, "patient_id": patient_id, "first_day": first.isoformat(),
                   "last_day": last.isoformat(), "reason": reason.strip(),
                   "planned_visits": [event_json(e, app.planner.tz, now) for e in clashes]})
        return
    click.echo(f"Away period {away_id} recorded for patient {patient_id}: {first} to {last}.")
    for event in clashes:
        click.echo(f"Warning: {event.kind} {event.seq} on "
                   f"{event.start.astimezone(app.planner.tz):%Y-%m-%d %H:%M} (event {event.id}) "
                   "falls in it; move it with planner reschedule")


@cli.group()
def staff() -> None:
    """Add and list staff members.

    \b
    Example:
      planner staff add "佐藤 花子" --role nurse
    """


@staff.command("add")
@click.argument("name", type=NAME)
@click.option("--role", type=click.Choice(STAFF_ROLES), required=True,
              help="What the staff member does; decides their calendar and alerts.")
@json_option
@pass_app
def staff_add(app: App, name: str, role: str, as_json: bool) -> None:
    """Add a staff member. The name is at most 100 characters, on one line.

    \b
    Example:
      planner staff add "佐藤 花子" --role nurse
    """
    row = app.store.add_staff(name, role, app.actor, app.planner.now())
    if as_json:
        echo_json(row)
    else:
        click.echo(f"Staff {row['id']} added: {row['name']} ({row['role']})")


@staff.command("list")
@json_option
@pass_app
def staff_list(app: App, as_json: bool) -> None:
    """List staff members.

    \b
    Example:
      planner staff list
    """
    rows = app.store.staff()
    if as_json:
        echo_json(rows)
        return
    echo_table(((r["id"], r["name"], r["role"]) for r in rows), ("id", "name", "role"))
