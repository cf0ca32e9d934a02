"""Opening the planner's SQLite file: the file the user meant, a busy timeout, clear refusals.

Only ``planner init`` creates a database (``create=True``); every other command opens an
existing one without ever creating a file, so a mistyped ``--db`` is said, not answered
from a new empty database. A folder, a file that is not SQLite, and another application's
SQLite file are refused before anything is written to them. Every connection waits up to
its busy timeout for another writer (the bot, another nurse) and write transactions take
the write lock at their start (``immediate``), so a busy database means waiting, and past
the timeout one clear ``DatabaseBusyError`` with nothing written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

from planner.core.errors import (
    DatabaseBusyError,
    MissingDatabaseError,
    PlannerError,
    ReadOnlyDatabaseError,
    StoreError,
)
from planner.store.schema import MIGRATION_SET, db_label, migrate

SQLITE_HEADER = b"SQLite format 3\x00"
DEFAULT_BUSY_TIMEOUT = 10.0
"""Seconds a connection waits for another writer; ``[database] busy_timeout`` sets it."""
_BUSY_CODES = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def open_database(path: str | Path, *, create: bool = True,
                  busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Database:
    """Open and migrate the planner's database at ``path``.

    With ``create`` a missing or empty (0-byte) file becomes a new planner database (what
    ``planner init`` does); without it only an existing planner database is opened, and no
    file is ever created. Another application's SQLite file is refused either way.
    """
    file = Path(path)
    check_database_file(file, create=create)
    target = str(file) if create else file.absolute().as_uri() + "?mode=rw"
    try:
        db = Database(sqlite3.connect(target, timeout=busy_timeout, uri=not create),
                      execute_plugins=False)
    except sqlite3.Error as exc:
        raise StoreError(f"{file.absolute()}: cannot open the database ({exc})") from None
    try:
        check_planner_schema(db, file, create=create)
        prepare(db, busy_timeout)
    except sqlite3.Error as exc:
        db.close()
        raise database_error(exc, str(file.absolute())) or StoreError(
            f"{file}: cannot open the database ({exc})") from None
    except PlannerError:
        db.close()
        raise
    return db


def prepare(db: Database, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
    """Per-connection settings, then migrations."""
    if db_label(db) != "<memory>":
        db.enable_wal()
    db.execute("PRAGMA foreign_keys = ON")
    db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    migrate(db)


def check_database_file(file: Path, *, create: bool) -> None:
    """Refuse, before any connection is made, a path that cannot be the planner's database."""
    shown = file.absolute()
    if file.is_dir():
        raise StoreError(f"{shown} is a folder, not a database file; give the file's path")
    if not file.exists():
        if not create:
            raise MissingDatabaseError(
                f"no database at {shown}; to create one run: planner --db {shown} init")
        if not file.parent.is_dir():
            raise StoreError(f"cannot create {shown}: the folder {shown.parent} does not exist")
        return
    try:
        with file.open("rb") as handle:
            header = handle.read(16)
    except OSError as exc:
        raise StoreError(f"{shown}: cannot read the database ({exc.strerror})") from None
    if not header:
        if not create:
            raise StoreError(f"{shown} is an empty file, not a planner database; to make it "
                             f"one run: planner --db {shown} init")
        return
    if header != SQLITE_HEADER:
        raise StoreError(f"{file}: not an SQLite database")


def check_planner_schema(db: Database, file: Path, *, create: bool) -> None:
    """Refuse another application's SQLite file (tables, but none of our migrations), and
    without ``create`` an SQLite file holding no tables at all."""
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "_sqlite_migrations" in tables and db.execute(
            "SELECT 1 FROM _sqlite_migrations WHERE migration_set = ? LIMIT 1",
            [MIGRATION_SET]).fetchone():
        return
    shown = file.absolute()
    if not tables:
        if create:
            return
        raise StoreError(f"{shown} is an empty SQLite database, not a planner database; to "
                         f"make it one run: planner --db {shown} init")
    raise StoreError(f"{shown} is another application's SQLite database (it has no planner "
                     "tables); the planner neither uses it nor adds its tables to it")


def database_error(error: sqlite3.Error, where: str) -> PlannerError | None:
    """The planner's error for a busy or read-only database, None for any other."""
    code = getattr(error, "sqlite_errorcode", -1) & 0xFF
    text = str(error)
    if code in _BUSY_CODES or "database is locked" in text:
        return DatabaseBusyError(
            f"{where}: the database is busy (another program kept it locked for longer than "
            "the busy timeout); nothing was changed, try again in a moment")
    if code == sqlite3.SQLITE_READONLY or "readonly database" in text:
        return ReadOnlyDatabaseError(
            f"{where}: the database is read-only (check the file's and its folder's "
            "permissions); nothing was changed")
    return None


@contextmanager
def immediate(db: Database) -> Iterator[None]:
    """One write transaction that takes the write lock at its start (``BEGIN IMMEDIATE``).

    What is read inside it is what is written back: another writer waits (up to its busy
    timeout) instead of changing the same rows in between. Nested, it is a savepoint of
    the transaction already open. A busy or read-only database raises the planner's error,
    with everything rolled back.
    """
    if db.conn.in_transaction:
        with db.atomic():
            yield
        return
    try:
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            db.conn.rollback()
            raise
        db.conn.commit()
    except sqlite3.OperationalError as exc:
        if db.conn.in_transaction:
            db.conn.rollback()
        raise database_error(exc, db_label(db)) or exc from None


def is_busy(error: BaseException) -> bool:
    """A database locked by another writer past the busy timeout: normal, retried later."""
    if isinstance(error, DatabaseBusyError):
        return True
    return (isinstance(error, sqlite3.OperationalError)
            and isinstance(database_error(error, ""), DatabaseBusyError))
