"""Which events a feed holds now, and when that last changed.

A feed is a rolling window of whole days in the clinic's zone: from ``past_days`` before
today (local midnight) and, for staff feeds, up to ``future_days`` after today (to the
end of that day); a patient's feed has no end. Within the window, cancelled and missed
events stay for ``cancelled_days`` after their last change (so subscribed apps remove
them), then drop out.

Apps that revalidate by date (If-Modified-Since) must see a new Last-Modified whenever
the ETag changes, so the feed's version accounts for every way its content changes:
an event changed (its ``updated_at``), a cancelled event dropped out (``cancelled_days``
after its change), an event left the window at the past edge or came into it at the
future edge (at the local midnight the window moved past it). The window only moves at
midnight, so between midnights a feed's body and version stay the same.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_NO_END = 2**62
KEPT = "(e.status = 'scheduled' OR e.updated_at >= :keep)"
IN_WINDOW = "(e.start_ts >= :since AND e.start_ts < :until)"
_VERSION = (
    f"SELECT TOTAL({KEPT} AND {IN_WINDOW}),"
    f" TOTAL(CASE WHEN {KEPT} AND {IN_WINDOW} THEN e.revision END),"
    f" MAX(CASE WHEN {KEPT} AND {IN_WINDOW} THEN e.updated_at END),"
    f" MAX(CASE WHEN {KEPT} THEN NULL ELSE e.updated_at END),"
    " MAX(CASE WHEN e.start_ts < :since THEN e.start_ts END),"
    " MAX(CASE WHEN e.start_ts < :until THEN e.start_ts END)"
    " FROM events e WHERE {scope}")


@dataclass(frozen=True)
class Window:
    """The feed's window at one moment: ``since`` <= start_ts < ``until`` (Unix seconds),
    and ``keep``, the oldest change a cancelled or missed event may have to stay in."""

    since: int
    until: int
    keep: str
    tz: ZoneInfo
    past_days: int
    future_days: int | None
    cancelled_days: int

    def params(self) -> dict[str, Any]:
        return {"since": self.since, "until": self.until, "keep": self.keep}


def window_at(now: datetime, tz: ZoneInfo, *, past_days: int, future_days: int | None,
              cancelled_days: int) -> Window:
    """The window at ``now``; ``future_days`` None for no end (patient feeds)."""
    today = now.astimezone(tz).date()
    since = _midnight(today - timedelta(days=past_days), tz)
    until = (_NO_END if future_days is None
             else int(_midnight(today + timedelta(days=future_days + 1), tz).timestamp()))
    keep = (now - timedelta(days=cancelled_days)).astimezone(UTC).isoformat(timespec="seconds")
    return Window(int(since.timestamp()), until, keep, tz, past_days, future_days,
                  cancelled_days)


def feed_version(db: Database, scope: str, params: dict[str, Any], window: Window,
                 tag: str) -> tuple[str, datetime]:
    """The ETag and Last-Modified of a feed's content, from one aggregate query.

    ``scope`` is an SQL condition on ``e`` (with named ``params``); ``tag`` names what else
    shapes the body (the feed, its role, the settings).
    """
    count, revisions, newest, newest_dropped, last_left, last_ahead = db.execute(
        _VERSION.format(scope=scope), {**params, **window.params()}).fetchone()
    changes = [datetime.fromisoformat(newest) if newest else EPOCH]
    if newest_dropped:
        changes.append(datetime.fromisoformat(newest_dropped)
                       + timedelta(days=window.cancelled_days, seconds=1))
    if last_left is not None:
        changes.append(_left_at(last_left, window))
    if last_ahead is not None and window.future_days is not None:
        changes.append(_entered_at(last_ahead, window))
    changed = max(changes).astimezone(UTC)
    key = f"{tag}:{count}:{revisions}:{changed.isoformat()}"
    return f'"{hashlib.sha256(key.encode()).hexdigest()[:32]}"', changed


def _left_at(start_ts: int, window: Window) -> datetime:
    """The midnight the window's past edge moved past an event starting at ``start_ts``."""
    day = datetime.fromtimestamp(start_ts, window.tz).date()
    return _midnight(day + timedelta(days=window.past_days + 1), window.tz)


def _entered_at(start_ts: int, window: Window) -> datetime:
    """The midnight the window's future edge reached an event starting at ``start_ts``."""
    day = datetime.fromtimestamp(start_ts, window.tz).date()
    return _midnight(day - timedelta(days=window.future_days or 0), window.tz)


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)
