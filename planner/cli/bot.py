"""CLI: link chats to the bot, and see reminders and alerts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from planner.cli.app import App, cli, pass_app
from planner.cli.output import echo_json, echo_table
from planner.cli.people import json_option
from planner.cli.types import ISO_DATE_OR_TIME, NAME, OUTPUT_FILE, ROW_ID
from planner.core.errors import InputError

REMINDER_STATES = ("pending", "queued", "sent", "failed", "skipped")


@cli.command()
@click.argument("patient_id", type=ROW_ID, required=False)
@click.option("--staff", "staff_id", type=ROW_ID, help="Link a staff member instead of a patient.")
@click.option("--family", "family_name", metavar="NAME", type=NAME,
              help="The link is for a family member (their name, shown to staff; at most "
                   "100 characters).")
@click.option("--qr", "qr_file", type=OUTPUT_FILE,
              help="Also write the link as a QR code image (PNG) to print.")
@json_option
@pass_app
def link(app: App, patient_id: int | None, staff_id: int | None, family_name: str | None,
         qr_file: Path | None, as_json: bool) -> None:
    """Make a one-time link that connects a Telegram chat to a patient or staff member.

    The person opens the link (or scans the QR code) and presses Start in Telegram. The
    link works once and expires after [bot] link_days (default 7).

    \b
    Examples:
      planner link 1 --qr consent-sheet.png
      planner link 1 --family "山田 花子"
      planner link --staff 2 --json
    """
    if (patient_id is None) == (staff_id is None):
        raise InputError("give a PATIENT_ID or --staff STAFF_ID (one of them)")
    if staff_id is not None and family_name:
        raise InputError("--family: only a patient's link can be for family")
    planner = app.planner
    if patient_id is not None:
        planner.store.patient(patient_id)
    else:
        planner.store.staff_member(staff_id or 0)
    with planner.store.transaction():  # a QR code that cannot be written stores no code
        code = planner.links.create_code(
            planner.now(), timedelta(days=app.settings.bot.link_days), patient_id=patient_id,
            staff_id=staff_id, family_name=family_name)
        url = f"https://t.me/{app.settings.bot.username}?start={code.code}"
        if qr_file is not None:
            _write_qr(url, qr_file)
    if as_json:
        echo_json({"code": code.code, "url": url,
                   "expires_at": code.expires_at.astimezone(planner.tz).isoformat()})
        return
    click.echo(url)
    click.echo(f"Valid once, until {code.expires_at.astimezone(planner.tz):%Y-%m-%d %H:%M}.")
    if qr_file is not None:
        click.echo(f"QR code written to {qr_file}")


def _write_qr(url: str, path: Path) -> None:
    import qrcode

    image = qrcode.make(url)
    try:
        image.save(str(path))
    except OSError as error:
        raise InputError(f"--qr: cannot write {path} ({error.strerror})") from None


@cli.command()
@click.option("--patient", "patient_id", type=ROW_ID, help="Only this patient's reminders.")
@click.option("--state", type=click.Choice(REMINDER_STATES), help="Only reminders in this state.")
@click.option("--at", "at", type=ISO_DATE_OR_TIME,
              help="Dry run: what would go out at this moment (clinic time).")
@json_option
@pass_app
def reminders(app: App, patient_id: int | None, state: str | None, at: date | datetime | None,
              as_json: bool) -> None:
    """List reminders with their delivery state, or what would go out at a moment.

    \b
    Examples:
      planner reminders --patient 1
      planner reminders --state failed --json
      planner reminders --at 2026-12-06T18:00
    """
    planner = app.planner
    if patient_id is not None:
        planner.store.patient(patient_id)
    rows = planner.outbox.reminders(patient_id=patient_id, state=state)
    if at is not None:
        moment = at if isinstance(at, datetime) else datetime.combine(at, datetime.min.time())
        instant = moment.replace(tzinfo=planner.tz) if moment.tzinfo is None else moment
        ts = int(instant.timestamp())
        rows = [r for r in rows if r["state"] == "pending" and r["due_ts"] <= ts < r["expires_ts"]]
    data: list[dict[str, Any]] = [_reminder_json(r, planner.tz) for r in rows]
    if as_json:
        echo_json(data)
        return
    echo_table(((d["id"], d["due"][:16].replace("T", " "), d["kind"], d["seq"], d["audience"],
                 d["patient_id"], d["state"], d["attempts"] or 0, d["reason"] or d["last_error"]
                 or "") for d in data),
               ("id", "due", "kind", "#", "to", "patient", "state", "tries", "note"))


def _reminder_json(row: dict[str, object], tz: object) -> dict[str, object]:
    def local(ts: object) -> str:
        return datetime.fromtimestamp(int(str(ts)), UTC).astimezone(tz).isoformat()  # type: ignore[arg-type]

    return {
        "id": row["id"], "event_id": row["event_id"], "event_revision": row["event_revision"],
        "course_id": row["course_id"], "patient_id": row["patient_id"], "kind": row["kind"],
        "seq": row["seq"], "rule": row["rule"], "audience": row["audience"],
        "due": local(row["due_ts"]), "expires": local(row["expires_ts"]), "state": row["state"],
        "reason": row["reason"], "messages": row["messages"], "attempts": row["attempts"],
        "last_error": row["last_error"], "message_id": row["message_id"],
    }


@cli.command()
@json_option
@pass_app
def alerts(app: App, as_json: bool) -> None:
    """List the latest alerts for staff (change requests, unreachable patients, failures).

    \b
    Example:
      planner alerts
    """
    rows = app.planner.outbox.alerts()
    if as_json:
        echo_json(rows)
        return
    echo_table(((r["id"], r["created_at"][:16], r["kind"], r["patient_id"] or "",
                 r["event_id"] or "", r["state"], r["detail"]) for r in rows),
               ("id", "at (UTC)", "kind", "patient", "event", "state", "detail"))
