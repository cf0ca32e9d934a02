"""CLI: calendar subscription feeds (issue, list, revoke) and the feed server."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import TYPE_CHECKING

import click

from planner.cli.app import App, cli, pass_app
from planner.cli.output import echo_json, echo_table
from planner.cli.people import json_option
from planner.cli.types import ROW_ID
from planner.core.errors import InputError
from planner.core.model import STAFF_ROLES

if TYPE_CHECKING:
    from planner.calendars.feed_server import FeedService
    from planner.calendars.feeds import Feeds


@cli.group()
def feed() -> None:
    """Calendar feeds: a secret URL a calendar app subscribes to and keeps in sync.

    \b
    Example:
      planner feed issue --staff 2 --role lab
    """


def _listen_problem(error: OSError, host: str, port: int) -> str:
    """One line for a server that cannot start: the port in use, or an unknown host."""
    reason = error.strerror or str(error)
    if error.errno == errno.EADDRINUSE:
        return (f"--port: port {port} on {host} is already in use (is another server "
                "running? choose another --port or [feed] port)")
    if error.errno == errno.EACCES:
        return f"--port: not allowed to listen on {host}:{port} ({reason})"
    return f"--host: cannot listen on {host}:{port} ({reason})"


def _feeds(app: App) -> Feeds:
    from planner.calendars.feeds import Feeds

    return Feeds(app.store.db, app.settings)


@feed.command("issue")
@click.option("--staff", "staff_id", type=ROW_ID, help="A feed for this staff member.")
@click.option("--role", type=click.Choice(STAFF_ROLES),
              help="Only this role's events (staff feeds; default: the whole clinic).")
@click.option("--patient", "patient_id", type=ROW_ID, help="A feed of this patient's own visits.")
@json_option
@pass_app
def feed_issue(app: App, staff_id: int | None, role: str | None, patient_id: int | None,
               as_json: bool) -> None:
    """Make a personal feed URL; it is shown once, so hand it over now.

    In Google Calendar: Other calendars → From URL; in Apple Calendar and Thunderbird open
    the webcal:// link; in Outlook: Add calendar → Subscribe from web.

    \b
    Examples:
      planner feed issue --staff 2 --role nurse
      planner feed issue --patient 1 --json
    """
    from planner.calendars.feed_server import feed_url, webcal_url  # loads the web server

    planner = app.planner
    if staff_id is not None:
        planner.store.staff_member(staff_id)
    if patient_id is not None:
        planner.store.patient(patient_id)
    with planner.store.transaction():
        feed_id, secret = _feeds(app).issue(planner.now(), staff_id=staff_id, role=role,
                                            patient_id=patient_id)
    url = feed_url(app.settings.feed.base_url, secret)
    if as_json:
        echo_json({"id": feed_id, "url": url, "webcal_url": webcal_url(url)})
        return
    click.echo(f"Feed {feed_id}:")
    click.echo(f"  {url}")
    click.echo(f"  {webcal_url(url)}")


@feed.command("list")
@json_option
@pass_app
def feed_list(app: App, as_json: bool) -> None:
    """List feeds (their secrets are never shown again).

    \b
    Example:
      planner feed list
    """
    rows = _feeds(app).all()
    if as_json:
        echo_json(rows)
    else:
        echo_table(((r["id"], r["staff_name"] or r["patient_name"],
                     "staff" if r["staff_id"] else "patient", r["role"] or "",
                     r["created_at"][:16], r["revoked_at"] or "") for r in rows),
                   ("id", "for", "kind", "role", "created (UTC)", "revoked"))
    _warn_about_large_feeds(app, [r["id"] for r in rows if not r["revoked_at"]])


def _warn_about_large_feeds(app: App, feed_ids: list[int]) -> None:
    """A warning (on stderr) for each active feed whose body is now over about 1 MB."""
    feeds = _feeds(app)
    now = app.planner.now()
    for feed_id, size in feeds.large(feed_ids, now):
        click.echo(f"Warning: feed {feed_id} is {size // 1000:,} kB; Google Calendar stops "
                   "updating a feed larger than about 1 MB. Lower [feed] future_days or "
                   "issue feeds for one role (--role).", err=True)


@feed.command("revoke")
@click.argument("feed_id", type=ROW_ID)
@pass_app
def feed_revoke(app: App, feed_id: int) -> None:
    """Revoke a feed: its URL answers 404 from now on.

    \b
    Example:
      planner feed revoke 1
    """
    with app.store.transaction():
        _feeds(app).revoke(feed_id, app.planner.now())
    click.echo(f"Feed {feed_id} revoked.")


@cli.command()
@click.option("--host", help="Address to listen on (default: [feed] host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default: [feed] port).")
@pass_app
def serve(app: App, host: str | None, port: int | None) -> None:
    """Serve the calendar feeds over HTTP (put a TLS reverse proxy in front of it).

    \b
    Example:
      planner serve --port 8080
    """
    import asyncio

    from planner.calendars.feed_server import FeedService

    settings = app.settings
    path = Path(app.db_path) if app.db_path else settings.database
    schema_ready = app.store  # opening the store creates and migrates the database
    del schema_ready
    service = FeedService(path, settings, app.clock)
    asyncio.run(_serve(service, host or settings.feed.host, settings.feed.port if port is None
                       else port))


async def _serve(service: FeedService, host: str, port: int) -> None:
    import asyncio

    from planner.calendars.feed_server import bound_port, start_feed_server

    try:
        runner = await start_feed_server(service, host, port)
    except OSError as error:
        service.close()
        raise InputError(_listen_problem(error, host, port)) from None
    click.echo(f"Serving feeds on http://{host}:{bound_port(runner)}/feeds/ (Ctrl-C to stop)")
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        service.close()
