"""The database schema and its migrations.

Migrations are sqlite-utils' own (``_sqlite_migrations``); each runs in a transaction.
A database that has a migration this version does not know was written by a newer
version of the planner and is refused, so an old binary never writes a newer schema.
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

from planner.errors import StoreError

MIGRATION_SET = "ank-planner"
migrations = Migrations(MIGRATION_SET)


@migrations()
def m001_initial(db: Database) -> None:
    db.execute(
        """CREATE TABLE patients (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            lang TEXT NOT NULL DEFAULT 'ja' CHECK (lang IN ('ja', 'en')),
            mrn TEXT UNIQUE,
            created_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE staff (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('doctor', 'nurse', 'reception', 'lab')),
            created_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE courses (
            id INTEGER PRIMARY KEY,
            uid TEXT NOT NULL UNIQUE,
            patient_id INTEGER NOT NULL REFERENCES patients(id),
            protocol TEXT NOT NULL,
            protocol_snapshot TEXT NOT NULL,
            planned_from TEXT NOT NULL CHECK (planned_from IN ('first_infusion', 'collection')),
            start_date TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cancelled')),
            cancel_reason TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            uid TEXT NOT NULL UNIQUE,
            course_id INTEGER NOT NULL REFERENCES courses(id),
            kind TEXT NOT NULL,
            seq INTEGER NOT NULL,
            start TEXT NOT NULL,
            "end" TEXT NOT NULL,
            start_ts INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('scheduled', 'missed', 'cancelled')),
            revision INTEGER NOT NULL DEFAULT 0,
            lab_attention INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX events_course ON events(course_id)")
    db.execute("CREATE INDEX events_start ON events(start_ts)")
    db.execute(
        """CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            course_id INTEGER REFERENCES courses(id),
            event_id INTEGER REFERENCES events(id),
            detail TEXT NOT NULL DEFAULT '{}',
            reason TEXT
        )"""
    )
    db.execute("CREATE INDEX audit_course ON audit(course_id)")
    for verb in ("UPDATE", "DELETE"):
        db.execute(
            f"""CREATE TRIGGER audit_append_only_{verb.lower()} BEFORE {verb} ON audit
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"""
        )


def migrate(db: Database) -> None:
    """Bring ``db`` to this version's schema, refusing one written by a newer version."""
    known = {m.name for m in migrations._migrations}
    unknown = [m.name for m in migrations.applied(db) if m.name not in known]
    if unknown:
        raise StoreError(
            f"{db_label(db)}: the database was written by a newer version of the planner "
            f"(unknown schema migration {unknown[0]!r}); upgrade the planner to use it"
        )
    migrations.apply(db)


def schema_version(db: Database) -> int:
    return len(migrations.applied(db))


def db_label(db: Database) -> str:
    row = db.execute("PRAGMA database_list").fetchone()
    return row[2] if row and row[2] else "<memory>"
