"""The machinery that brings a database to this version's schema.

Migrations are sqlite-utils' own (``_sqlite_migrations``); each runs in a transaction. The
steps themselves live in ``planner.store.migrations``, registered here in their order under
their function names. A database that has a migration this version does not know was written
by a newer version of the planner and is refused, so an old binary never writes a newer
schema.
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

from planner.core.errors import StoreError
from planner.store.migrations import STEPS

MIGRATION_SET = "ank-planner"
migrations = Migrations(MIGRATION_SET)
for _step in STEPS:
    migrations()(_step)


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
    """How many migrations ``db`` has had (the schema number ``planner init`` prints)."""
    return len(migrations.applied(db))


def db_label(db: Database) -> str:
    """The file a database lives in, for error lines; ``<memory>`` for an in-memory one."""
    row = db.execute("PRAGMA database_list").fetchone()
    return row[2] if row and row[2] else "<memory>"
