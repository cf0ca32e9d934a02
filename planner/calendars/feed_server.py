"""The HTTP server for calendar feeds (aiohttp), alone (``planner serve``) or in the bot.

``GET``/``HEAD /feeds/<secret>.ics``. Calendar apps poll, so the answer is cheap when
nothing changed: ETag and Last-Modified, 304 on If-None-Match / If-Modified-Since, gzip
when asked. The gzipped body has its own strong ETag (the plain one with ``-gz``), since
its bytes differ; Last-Modified is the same for both. A revoked, unknown or malformed
secret gets the same 404 as any wrong path.
Building a body runs in a worker thread on its own connection, so a large first build
never stalls the bot's event loop; while nothing was committed, a poll does not even ask
the database for the feed's version (see ``FeedService``).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

from aiohttp import web
from sqlite_utils import Database

from planner.calendars.feeds import Feed, FeedBody, Feeds
from planner.clock import Clock
from planner.config.settings import Settings

CONTENT_TYPE = "text/calendar; charset=utf-8"
RECHECK = timedelta(minutes=1)
"""How long a feed's version is trusted while nothing was committed to the database: only
time changes a feed then (cancelled events dropping out), so that is how late it may be."""


@dataclass(frozen=True)
class _Checked:
    data_version: int
    at: datetime
    body: FeedBody


class FeedService:
    """Feeds behind a lock on a read-only connection that worker threads may use.

    The service never writes, so SQLite's ``data_version`` changes exactly when another
    connection (the CLI, the bot) committed: until then, and for ``RECHECK`` at most, a
    poll is answered without asking the database for the feed's version.
    """

    def __init__(self, database: Path, settings: Settings, clock: Clock) -> None:
        connection = sqlite3.connect(str(database), timeout=float(settings.busy_timeout),
                                     check_same_thread=False)
        self.db = Database(connection)
        self.db.execute("PRAGMA foreign_keys = ON")
        self.feeds = Feeds(self.db, settings, settings_since=clock.now())
        self.clock = clock
        self.settings = settings
        self._lock = threading.Lock()
        self._checked: dict[int, _Checked] = {}

    def lookup(self, secret: str) -> FeedBody | None:
        """The feed's current body, or None for an unknown or revoked secret.

        Everything is read in one transaction, so a change committed by another connection
        meanwhile cannot give a body newer than its ETag.
        """
        with self._lock:
            self.db.conn.execute("BEGIN")
            try:
                feed = self.feeds.find(secret)
                return None if feed is None else self._current(feed)
            finally:
                self.db.conn.execute("COMMIT")

    def _current(self, feed: Feed) -> FeedBody:
        now = self.clock.now()
        (data_version,) = self.db.execute("PRAGMA data_version").fetchone()
        checked = self._checked.get(feed.id)
        if (checked is not None and checked.data_version == data_version
                and checked.at <= now < checked.at + RECHECK):
            return checked.body
        body = self.feeds.body(feed, now)
        self._checked[feed.id] = _Checked(data_version, now, body)
        return body

    def close(self) -> None:
        self.db.close()


def gzip_etag(etag: str) -> str:
    """The strong ETag of the gzipped body: its bytes differ from the plain body's."""
    return etag[:-1] + '-gz"'


def _not_modified(request: web.Request, body: FeedBody, etag: str) -> bool:
    """Whether the client holds this representation (``etag``: plain or gzip) already."""
    tags = request.headers.get("If-None-Match")
    if tags is not None:
        wanted = {tag.strip().removeprefix("W/") for tag in tags.split(",")}
        return etag in wanted or "*" in wanted
    since = request.headers.get("If-Modified-Since")
    if since is None:
        return False
    try:
        moment = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return body.last_modified.replace(microsecond=0) <= moment


def _accepts_gzip(accept_encoding: str) -> bool:
    """Whether ``Accept-Encoding`` allows gzip: listed (or ``*``) without ``q=0``."""
    weights: dict[str, float] = {}
    for item in accept_encoding.lower().split(","):
        coding, _, params = item.partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        weights[coding.strip()] = weight
    return weights.get("gzip", weights.get("x-gzip", weights.get("*", 0.0))) > 0


def make_app(service: FeedService) -> web.Application:
    max_age = min(service.settings.feed.refresh_minutes, 15) * 60

    async def feed(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if not name.endswith(".ics") or len(name) > 100:
            raise web.HTTPNotFound()
        body = await asyncio.to_thread(service.lookup, name.removesuffix(".ics"))
        if body is None:
            raise web.HTTPNotFound()
        gzipped = _accepts_gzip(request.headers.get("Accept-Encoding", ""))
        etag = gzip_etag(body.etag) if gzipped else body.etag
        headers = {
            "ETag": etag,
            "Last-Modified": format_datetime(body.last_modified.astimezone(UTC), usegmt=True),
            "Cache-Control": f"private, max-age={max_age}, must-revalidate",
            "Vary": "Accept-Encoding",
        }
        if _not_modified(request, body, etag):
            return web.Response(status=304, headers=headers)
        payload = body.body
        if gzipped:
            payload = await asyncio.to_thread(body.gzipped)
            headers["Content-Encoding"] = "gzip"
        headers["Content-Type"] = CONTENT_TYPE
        headers["Content-Disposition"] = 'inline; filename="ank.ics"'
        return web.Response(body=payload, headers=headers)

    app = web.Application()
    app.router.add_get("/feeds/{name}", feed)
    return app


async def start_feed_server(service: FeedService, host: str, port: int) -> web.AppRunner:
    """Serve feeds on the running event loop (the bot's); stop with ``runner.cleanup()``."""
    runner = web.AppRunner(make_app(service), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:  # a port in use: leave nothing open behind the error
        await runner.cleanup()
        raise
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port actually bound (for port 0 in tests)."""
    for site in runner.sites:
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            return int(server.sockets[0].getsockname()[1])
    raise RuntimeError("the feed server is not listening")


def feed_url(base_url: str, secret: str) -> str:
    return f"{base_url.rstrip('/')}/feeds/{secret}.ics"


def webcal_url(url: str) -> str:
    """The same feed as a ``webcal://`` link, which calendar apps open as a subscription."""
    return "webcal://" + url.split("://", 1)[1]


