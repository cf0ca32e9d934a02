"""CLI: the database, patients and staff."""

from __future__ import annotations

import click

from planner.cli_app import App, cli, pass_app
from planner.cli_types import MRN, NAME, ROW_ID
from planner.model import STAFF_ROLES
from planner.output import echo_json, echo_table, event_json
from planner.schema import schema_version

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
        echo_json({**row, "courses": courses,
                   "next": event_json(upcoming[0], planner.tz, now) if upcoming else None})
        return
    click.echo(f"Patient {row['id']}: {row['name']} (lang {row['lang']}, mrn {row['mrn'] or '-'})")
    for course in courses:
        click.echo(f"  course {course['id']}: {course['protocol']}, {course['status']}, "
                   f"planned from {course['planned_from']} {course['start_date']}")
    if upcoming:
        nxt = upcoming[0]
        click.echo(f"  next: {nxt.kind} {nxt.seq} on "
                   f"{nxt.start.astimezone(planner.tz):%Y-%m-%d %a %H:%M} (event {nxt.id})")


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
