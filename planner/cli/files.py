"""CLI: calendar export, backup, and the demo."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

from planner.cli.app import App, cli, pass_app
from planner.cli.output import EVENT_HEADERS, echo_table, event_row
from planner.cli.types import ISO_DATE, OUTPUT_FILE, ROW_ID
from planner.core.errors import InputError, PlanningError
from planner.core.model import STAFF_ROLES, StoredEvent

if TYPE_CHECKING:
    from planner.service import Planner


@cli.command()
@click.option("--patient", "patient_id", type=ROW_ID, help="One patient's calendar (their words).")
@click.option("--course", "course_id", type=ROW_ID, help="One course, as the patient sees it.")
@click.option("--role", type=click.Choice(STAFF_ROLES), help="A staff role's calendar.")
@click.option("--all", "everything", is_flag=True, help="The whole clinic (staff view).")
@click.option("--from", "first", type=ISO_DATE, help="Only events from this day on.")
@click.option("--to", "last", type=ISO_DATE, help="Only events up to this day (included).")
@click.option("-o", "--output", type=OUTPUT_FILE,
              help="Write to this file instead of standard output (its folder must exist).")
@pass_app
def export(app: App, patient_id: int | None, course_id: int | None, role: str | None,
           everything: bool, first: date | None, last: date | None,
           output: Path | None) -> None:
    """Export an RFC 5545 calendar (.ics) to import into Google, Outlook, Apple, Thunderbird.

    UIDs stay the same across exports and SEQUENCE rises with every change, so a second
    import updates events instead of duplicating them. Staff calendars show patients as
    the config's [export] staff_names says (full, initials or id).

    \b
    Examples:
      planner export --patient 1 -o yamada.ics
      planner export --role lab -o lab.ics
      planner export --all --from 2026-12-01 --to 2026-12-31 > december.ics
    """
    chosen = [x for x in (patient_id, course_id, role, everything or None) if x is not None]
    if len(chosen) != 1:
        raise InputError("give exactly one of --patient, --course, --role and --all")
    planner = app.planner
    if first and last and last < first:
        raise InputError(f"--to: {last} is before --from {first}")
    data = planner.export(
        patient_id=patient_id, course_id=course_id, role=role,
        since=planner.at(first, None) if first else None,
        until=planner.at(last + timedelta(days=1), None) if last else None)
    if output is None:
        click.echo(data.decode("utf-8"), nl=False)
        return
    try:
        output.write_bytes(data)
    except OSError as error:
        raise InputError(f"--output: cannot write {output} ({error.strerror})") from None
    click.echo(f"Wrote {output} ({data.count(b'BEGIN:VEVENT')} events)", err=True)


@cli.command()
@click.argument("file", type=OUTPUT_FILE)
@pass_app
def backup(app: App, file: Path) -> None:
    """Write a consistent copy of the database, safe while the bot is running.

    \b
    Example:
      planner backup backups/planner-2026-12-07.db
    """
    app.store.backup(file)
    click.echo(f"Backup written: {file}")


DEMO_PATIENT = "山田 太郎"


@cli.command()
@click.option("-o", "--output", type=OUTPUT_FILE, default=Path("ank-demo.ics"), show_default=True,
              help="Where to write the demo calendar.")
@click.pass_context
def demo(ctx: click.Context, output: Path) -> None:
    """Plan a sample course (an 81-year-old patient, eight infusions) and show it.

    Needs no token and no set-up. It works in a temporary database, removed at the end,
    whatever PLANNER_DB or the config's [database] path say, so the sample patient never
    reaches the clinic's data; only `planner --db PATH demo` writes the sample into the
    (existing) database PATH.

    \b
    Example:
      planner demo -o demo.ics
    """
    import tempfile

    app = ctx.find_object(App)
    assert app is not None
    explicit = ctx.find_root().get_parameter_source("db_path") is ParameterSource.COMMANDLINE
    with tempfile.TemporaryDirectory() as scratch:
        if not explicit:
            app.db_path = str(Path(scratch) / "demo.db")
            app.create_database = True
        try:
            _run_demo(app, output)
        finally:
            app.close()
    if explicit:
        click.echo(f"The sample patient, nurse and course are in {app.database_path.absolute()}.")
        click.echo("Next: `planner link 1` connects a phone, `python bot.py --console` shows "
                   "the reminders going out.")
    else:
        click.echo("The demo's database was temporary and has been removed; no other "
                   "database was opened. Your own start: `planner --db clinic.db init`.")


def _run_demo(app: App, output: Path) -> None:
    from planner.texts.catalogue import event_title, format_when, patient_description

    planner, store = app.planner, app.store
    patient = store.add_patient(DEMO_PATIENT, "ja", None, app.actor, planner.now())
    store.add_staff("佐藤 花子", "nurse", app.actor, planner.now())
    course_id = _plan_sample(app, patient["id"])
    events = store.events_of(course_id)
    click.echo(f"Demo: {DEMO_PATIENT} (81), course {course_id}, protocol "
               f"{app.settings.default_protocol}\n")
    echo_table((event_row(e, planner.tz, planner.now()) for e in events), EVENT_HEADERS)
    click.echo("")
    click.echo(_month_view(planner, events))
    first = next(e for e in events if e.kind == "infusion")
    click.echo("What the patient reads about the first infusion:")
    click.echo(f"  {format_when(first.start.astimezone(planner.tz), 'ja')}  "
               f"{event_title('infusion', 1, 8, 'ja')}")
    for line in patient_description("infusion", 1, 8, "ja").splitlines()[1:]:
        click.echo(f"  {line}")
    _echo_reminders(app, patient["id"])
    output.write_bytes(planner.export(patient_id=patient["id"]))
    click.echo(f"\nCalendar written to {output}: import it into Google Calendar, Outlook, "
               "Apple Calendar or Thunderbird.")


def _month_view(planner: Planner, events: list[StoredEvent]) -> str:
    """The sample course on a month calendar, as the patient's printout shows it."""
    from planner.store.courses import as_planned, with_timezone
    from planner.texts.closures import closure_words
    from planner.texts.monthview import day_marks, render_months

    visible = [with_timezone(as_planned(e), planner.tz) for e in events
               if e.kind != "cell_delivery"]
    return render_months(
        day_marks(visible, "ja"), lang="ja", closed=closure_words(planner.calendar, "ja"),
        first=visible[0].start.date(), last=visible[-1].start.date())


def _echo_reminders(app: App, patient_id: int) -> None:
    """What the bot will send, and when (stored with the plan, in the same transaction)."""
    from planner.texts.catalogue import format_when

    rows = app.planner.outbox.reminders(patient_id=patient_id)
    click.echo(f"\nReminders planned: {len(rows)} (quiet hours 21:00–08:00 respected)")
    for row in rows[:4]:
        due = datetime.fromtimestamp(row["due_ts"], UTC).astimezone(app.planner.tz)
        click.echo(f"  {format_when(due, 'ja')}  {row['audience']}: {row['kind']} {row['seq']}")
    if len(rows) > 4:
        click.echo(f"  … and {len(rows) - 4} more (planner reminders --patient {patient_id})")


def _plan_sample(app: App, patient_id: int) -> int:
    """The first Monday four weeks ahead that has room, so the collection is still ahead."""
    today = app.planner.now().date()
    monday = today + timedelta(days=28 + (7 - today.weekday()) % 7)
    for week in range(12):
        start: date = monday + timedelta(weeks=week)
        try:
            course_id, _ = app.planner.plan(patient_id, first_infusion=start)
            return course_id
        except PlanningError:
            continue
    raise PlanningError("demo", "no week in the next three months fits the sample course")
