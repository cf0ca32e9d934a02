"""SQLite storage through sqlite-utils: patients, staff, courses, events and the audit log.

``Store`` takes an open ``sqlite_utils.Database`` (tests pass a temporary file or
``memory=True``); ``open_database`` (from ``planner.store.database``) makes one from a
path with WAL, foreign keys and a busy timeout, and migrates it. Every method that changes
data runs in one transaction together with its audit row, so a failure leaves nothing
half-written.

``Store`` is put together from one module per thing it holds, each building on the one
before:

    base             the connection, the write transaction, the audit row, column forms
    people           patients, staff, away days
    course_records   one course's row, protocol snapshot, events and bends
    planning         what a new course must respect; storing planned courses
    changes          a change: ``course_for_change`` (one read), ``write_change`` (one write)
    listings         agenda, export rows, infusion totals, the audit log
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from planner.core.errors import InputError
from planner.store.base import _iso as _iso
from planner.store.base import as_planned as as_planned
from planner.store.base import with_timezone as with_timezone
from planner.store.changes import CourseChanges
from planner.store.database import open_database as open_database
from planner.store.database import prepare as prepare
from planner.store.listings import LIVE_NUMBER as LIVE_NUMBER
from planner.store.listings import Listings


class Store(CourseChanges, Listings):
    """The planner's data, one method per thing staff do or ask."""

    def backup(self, target: Path) -> None:
        """A consistent copy through SQLite's online backup, safe while the bot writes."""
        if target.exists():
            raise InputError(f"FILE: {target} already exists; choose a new file name")
        try:
            destination = sqlite3.connect(str(target))
        except sqlite3.Error as exc:
            raise InputError(f"FILE: cannot create {target} ({exc})") from None
        try:
            self.db.conn.backup(destination)
        finally:
            destination.close()
