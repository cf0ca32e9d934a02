"""The schema's migrations, oldest first: what each version of the planner added.

Each function is one step, recorded in ``_sqlite_migrations`` under its function name when
it has run, so a name, once released, never changes and a step is never edited or
reordered: a new change is a new function appended to ``STEPS``. The machinery that applies
them (and refuses a database from a newer planner) is ``planner.store.schema``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from sqlite_utils import Database


def m001_initial(db: Database) -> None:
    """Patients, staff, courses and their events, and the append-only audit log."""
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


def m002_reminders_and_chats(db: Database) -> None:
    """Linked Telegram chats, one-time link codes, reminders, the outbox and alerts."""
    db.execute(
        """CREATE TABLE chats (
            id INTEGER PRIMARY KEY,
            chat_id INTEGER NOT NULL,
            patient_id INTEGER REFERENCES patients(id),
            staff_id INTEGER REFERENCES staff(id),
            family_name TEXT,
            lang TEXT NOT NULL DEFAULT 'ja' CHECK (lang IN ('ja', 'en')),
            linked_at TEXT NOT NULL,
            unlinked_at TEXT,
            unreachable_at TEXT,
            unreachable_reason TEXT,
            CHECK ((patient_id IS NULL) != (staff_id IS NULL))
        )"""
    )
    db.execute("CREATE UNIQUE INDEX chats_linked ON chats(chat_id) WHERE unlinked_at IS NULL")
    db.execute(
        """CREATE TABLE link_codes (
            id INTEGER PRIMARY KEY,
            code_hash TEXT NOT NULL UNIQUE,
            patient_id INTEGER REFERENCES patients(id),
            staff_id INTEGER REFERENCES staff(id),
            family_name TEXT,
            created_at TEXT NOT NULL,
            expires_ts INTEGER NOT NULL,
            used_at TEXT,
            used_chat_id INTEGER,
            CHECK ((patient_id IS NULL) != (staff_id IS NULL))
        )"""
    )
    db.execute("CREATE TABLE link_failures (chat_id INTEGER NOT NULL, at_ts INTEGER NOT NULL)")
    db.execute("CREATE INDEX link_failures_chat ON link_failures(chat_id, at_ts)")
    db.execute(
        """CREATE TABLE reminders (
            id INTEGER PRIMARY KEY,
            event_id INTEGER NOT NULL REFERENCES events(id),
            event_revision INTEGER NOT NULL,
            rule TEXT NOT NULL,
            audience TEXT NOT NULL,
            due_ts INTEGER NOT NULL,
            expires_ts INTEGER NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'queued', 'sent', 'failed', 'skipped')),
            reason TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX reminders_event ON reminders(event_id)")
    db.execute("CREATE INDEX reminders_pending ON reminders(due_ts) WHERE state = 'pending'")
    db.execute(
        """CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            kind TEXT NOT NULL,
            roles TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}',
            course_id INTEGER REFERENCES courses(id),
            event_id INTEGER REFERENCES events(id),
            patient_id INTEGER REFERENCES patients(id),
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'delivered', 'undeliverable'))
        )"""
    )
    db.execute("CREATE INDEX alerts_pending ON alerts(id) WHERE state = 'pending'")
    db.execute(
        """CREATE TABLE deliveries (
            id INTEGER PRIMARY KEY,
            purpose TEXT NOT NULL CHECK (purpose IN ('reminder', 'alert', 'digest')),
            reminder_id INTEGER REFERENCES reminders(id),
            alert_id INTEGER REFERENCES alerts(id),
            chat_id INTEGER NOT NULL,
            text TEXT NOT NULL,
            buttons TEXT,
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'sent', 'failed', 'skipped')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_ts INTEGER NOT NULL,
            expires_ts INTEGER,
            last_error TEXT,
            message_id INTEGER,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            sent_at TEXT
        )"""
    )
    db.execute("CREATE INDEX deliveries_due ON deliveries(next_attempt_ts) "
               "WHERE state = 'pending'")
    db.execute("CREATE INDEX deliveries_reminder ON deliveries(reminder_id)")
    db.execute(
        """CREATE TABLE confirmations (
            id INTEGER PRIMARY KEY,
            event_id INTEGER NOT NULL REFERENCES events(id),
            event_revision INTEGER NOT NULL,
            chat_id INTEGER NOT NULL,
            answer TEXT NOT NULL CHECK (answer IN ('come', 'change')),
            at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX confirmations_event ON confirmations(event_id)")
    db.execute(
        """CREATE TABLE digests (
            day TEXT NOT NULL,
            role TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (day, role)
        )"""
    )


def m003_feeds(db: Database) -> None:
    """Calendar subscription feeds: a secret URL per person, stored hashed."""
    db.execute(
        """CREATE TABLE feeds (
            id INTEGER PRIMARY KEY,
            secret_hash TEXT NOT NULL UNIQUE,
            staff_id INTEGER REFERENCES staff(id),
            role TEXT CHECK (role IN ('doctor', 'nurse', 'reception', 'lab')),
            patient_id INTEGER REFERENCES patients(id),
            created_at TEXT NOT NULL,
            revoked_at TEXT,
            CHECK ((staff_id IS NULL) != (patient_id IS NULL))
        )"""
    )
    db.execute("CREATE INDEX events_updated ON events(updated_at)")


def m004_lookup_indexes(db: Database) -> None:
    """A patient's courses and chats are looked up on every /next and every reminder."""
    db.execute("CREATE INDEX courses_patient ON courses(patient_id)")
    db.execute("CREATE INDEX chats_patient ON chats(patient_id) WHERE unlinked_at IS NULL")
    db.execute("CREATE INDEX chats_staff ON chats(staff_id) WHERE unlinked_at IS NULL")


def m005_chat_feeds(db: Database) -> None:
    """Feeds the bot gives a patient's chat, and the key their secrets are derived from.

    A chat's feed secret is derived (HMAC) from this instance key and the feed id, so the
    bot can show the same link again on every /ics, while only its hash is stored.
    """
    db.execute("ALTER TABLE feeds ADD COLUMN chat_id INTEGER")
    db.execute("CREATE INDEX feeds_chat ON feeds(chat_id) WHERE revoked_at IS NULL")
    db.execute("CREATE TABLE instance_keys (name TEXT PRIMARY KEY, value BLOB NOT NULL)")
    db.execute("INSERT INTO instance_keys (name, value) VALUES ('feed', ?)",
               [secrets.token_bytes(32)])


def m006_delivery_limits(db: Database) -> None:
    """Telegram's limits kept across restarts, and replies to commands in the outbox.

    ``flood_wait`` holds the instant until which Telegram asked for silence (429), and
    ``chat_gaps`` each chat's next allowed instant, so a restarted bot honours both. The
    outbox gains the purpose ``reply`` (answers to commands go through the same limits and
    retries as reminders): SQLite cannot change a CHECK, so ``deliveries`` is rebuilt.
    """
    db.execute("CREATE TABLE flood_wait (id INTEGER PRIMARY KEY CHECK (id = 1),"
               " until_ts REAL NOT NULL)")
    db.execute("CREATE TABLE chat_gaps (chat_id INTEGER PRIMARY KEY, next_ts REAL NOT NULL)")
    columns = ("id, purpose, reminder_id, alert_id, chat_id, text, buttons, state, attempts,"
               " next_attempt_ts, expires_ts, last_error, message_id, created_at, updated_at,"
               " sent_at")
    db.execute(
        """CREATE TABLE deliveries_m006 (
            id INTEGER PRIMARY KEY,
            purpose TEXT NOT NULL CHECK (purpose IN ('reminder', 'alert', 'digest', 'reply')),
            reminder_id INTEGER REFERENCES reminders(id),
            alert_id INTEGER REFERENCES alerts(id),
            chat_id INTEGER NOT NULL,
            text TEXT NOT NULL,
            buttons TEXT,
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'sent', 'failed', 'skipped')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_ts INTEGER NOT NULL,
            expires_ts INTEGER,
            last_error TEXT,
            message_id INTEGER,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            sent_at TEXT
        )"""
    )
    db.execute(f"INSERT INTO deliveries_m006 ({columns}) SELECT {columns} FROM deliveries")
    db.execute("DROP TABLE deliveries")
    db.execute("ALTER TABLE deliveries_m006 RENAME TO deliveries")
    db.execute("CREATE INDEX deliveries_due ON deliveries(next_attempt_ts) "
               "WHERE state = 'pending'")
    db.execute("CREATE INDEX deliveries_urgent ON deliveries(next_attempt_ts) "
               "WHERE state = 'pending' AND purpose IN ('reply', 'alert')")
    db.execute("CREATE INDEX deliveries_reminder ON deliveries(reminder_id)")
    db.execute("CREATE INDEX deliveries_chat ON deliveries(chat_id) WHERE state = 'pending'")


def m007_course_exceptions_and_away(db: Database) -> None:
    """Bends a course uses over closures (JSON list, shown to the doctor) and the days a
    patient cannot come (a chemotherapy day, a hospital stay), which planning avoids."""
    db.execute("ALTER TABLE courses ADD COLUMN exceptions TEXT NOT NULL DEFAULT '[]'")
    db.execute(
        """CREATE TABLE patient_away (
            id INTEGER PRIMARY KEY,
            patient_id INTEGER NOT NULL REFERENCES patients(id),
            first_day TEXT NOT NULL,
            last_day TEXT NOT NULL,
            reason TEXT NOT NULL,
            created_at TEXT NOT NULL,
            removed_at TEXT,
            CHECK (first_day <= last_day)
        )"""
    )
    db.execute("CREATE INDEX patient_away_patient ON patient_away(patient_id)"
               " WHERE removed_at IS NULL")


def m008_messages(db: Database) -> None:
    """An outbox message may rewrite one sent earlier (a reminder whose visit changed);
    one family chat may be linked to several patients (a family caring for two)."""
    db.execute("ALTER TABLE deliveries ADD COLUMN edit_message_id INTEGER")
    db.execute("DROP INDEX chats_linked")
    db.execute("CREATE UNIQUE INDEX chats_linked ON chats(chat_id, COALESCE(patient_id, 0),"
               " COALESCE(staff_id, 0)) WHERE unlinked_at IS NULL")


STEPS: tuple[Callable[[Database], None], ...] = (
    m001_initial,
    m002_reminders_and_chats,
    m003_feeds,
    m004_lookup_indexes,
    m005_chat_feeds,
    m006_delivery_limits,
    m007_course_exceptions_and_away,
    m008_messages,
)
"""Every migration in the order it runs; databases record them by ``__name__``."""
