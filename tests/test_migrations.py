"""The migrations' names are stored in every clinic's database: they never change or move."""

from pathlib import Path

from sqlite_utils import Database

from planner.store.schema import MIGRATION_SET, migrate

RELEASED = [
    "m001_initial",
    "m002_reminders_and_chats",
    "m003_feeds",
    "m004_lookup_indexes",
    "m005_chat_feeds",
    "m006_delivery_limits",
    "m007_course_exceptions_and_away",
    "m008_messages",
]
"""The names released so far, in the order they ran in the clinics' databases."""


def test_a_new_database_records_the_released_migrations_by_name_in_order(
        tmp_path: Path) -> None:
    db = Database(tmp_path / "planner.db")
    migrate(db)
    rows = db.execute("SELECT name FROM _sqlite_migrations WHERE migration_set = ? "
                      "ORDER BY rowid", [MIGRATION_SET]).fetchall()
    assert [name for (name,) in rows][:len(RELEASED)] == RELEASED
