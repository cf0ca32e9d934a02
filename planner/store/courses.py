"""SQLite storage through sqlite-utils: patients, staff, courses, events and the audit log.

``Store`` takes an open ``sqlite_utils.Database`` (tests pass a temporary file or
``memory=True``); ``open_database`` (from ``planner.store.database``) makes one from a
path with WAL, foreign keys and a busy timeout, and migrates it. Every method that changes
data runs in one transaction together with its audit row, so a failure leaves nothing
half-written.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from planner.config.protocols import parse_protocol, protocol_to_table
from planner.core.course import Course, slot_key
from planner.core.errors import InputError, NotFoundError
from planner.core.model import (
    INFUSION,
    Bend,
    Occupancy,
    PlannedEvent,
    Protocol,
    Status,
    StoredEvent,
)
from planner.store.database import immediate
from planner.store.database import open_database as open_database
from planner.store.database import prepare as prepare
from planner.store.rows import EventRow, NewCourse, PreparedCourse, event_row, prepare_course

if TYPE_CHECKING:  # the planner itself is not loaded by commands that only read
    from planner.core.schedule import Plan


def _iso(moment: datetime) -> str:
    """Local ISO 8601 with offset."""
    return _cached_iso(moment, moment.tzinfo, moment.fold)


@lru_cache(maxsize=16384)
def _cached_iso(moment: datetime, _zone: object, _fold: int) -> str:
    """Courses share their time slots, so the text is cached. Aware datetimes compare equal
    by instant (and ignore ``fold`` within a zone): the zone and fold are part of the key."""
    return moment.isoformat(timespec="seconds")


def _ts(moment: datetime) -> int:
    """Unix seconds: how event starts are indexed, sorted and compared across zones."""
    return int(moment.timestamp())


def _utc(moment: datetime) -> str:
    """UTC ISO 8601, the sortable form used for ranges."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


class Store:
    """The planner's data, one method per thing staff do or ask."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction holding the write lock from its start (see
        ``planner.store.database.immediate``): a read inside it is not overwritten by another
        writer before this one commits. Nested, a savepoint."""
        with immediate(self.db):
            yield

    def _audit(self, actor: str, action: str, now: datetime, *, course_id: int | None = None,
               event_id: int | None = None, detail: dict[str, Any] | None = None,
               reason: str | None = None) -> None:
        self.db.conn.execute(
            "INSERT INTO audit (at, actor, action, course_id, event_id, detail, reason)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [_utc(now), actor, action, course_id, event_id,
             json.dumps(detail or {}, ensure_ascii=False, sort_keys=True), reason],
        )

    # -- people ------------------------------------------------------------------------

    def add_patient(self, name: str, lang: str, mrn: str | None, actor: str,
                    now: datetime) -> dict[str, Any]:
        with self.transaction():
            if mrn is not None and self._one("SELECT id FROM patients WHERE mrn = ?", [mrn]):
                raise InputError(f"--mrn: a patient with MRN {mrn!r} already exists")
            cursor = self.db.execute(
                "INSERT INTO patients (name, lang, mrn, created_at) VALUES (?, ?, ?, ?)",
                [name, lang, mrn, _utc(now)],
            )
            patient_id = int(cursor.lastrowid or 0)
            self._audit(actor, "patient.add", now, detail={"patient_id": patient_id})
        return self.patient(patient_id)

    def patient(self, patient_id: int) -> dict[str, Any]:
        row = self._one("SELECT * FROM patients WHERE id = ?", [patient_id])
        if row is None:
            raise NotFoundError(f"PATIENT_ID: no patient with id {patient_id}")
        return row

    def patients(self) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM patients ORDER BY id"))

    def add_staff(self, name: str, role: str, actor: str, now: datetime) -> dict[str, Any]:
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO staff (name, role, created_at) VALUES (?, ?, ?)",
                [name, role, _utc(now)],
            )
            staff_id = int(cursor.lastrowid or 0)
            self._audit(actor, "staff.add", now, detail={"staff_id": staff_id, "role": role})
        return self.staff_member(staff_id)

    def staff_member(self, staff_id: int) -> dict[str, Any]:
        row = self._one("SELECT * FROM staff WHERE id = ?", [staff_id])
        if row is None:
            raise NotFoundError(f"STAFF_ID: no staff member with id {staff_id}")
        return row

    def staff(self) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM staff ORDER BY id"))

    def _one(self, sql: str, params: list[Any]) -> dict[str, Any] | None:
        return next(iter(self.db.query(sql, params)), None)

    # -- courses -----------------------------------------------------------------------

    def occupancy(self, first: date, last: date, tz: Any,
                  exclude_course: int | None = None) -> Occupancy:
        """Infusion chairs and collections booked by other courses between two days."""
        low = _ts(datetime.combine(first - timedelta(days=1), datetime.min.time(), tzinfo=tz))
        high = _ts(datetime.combine(last + timedelta(days=2), datetime.min.time(), tzinfo=tz))
        occupancy = Occupancy()
        rows = self.db.execute(
            "SELECT kind, start, \"end\", COUNT(*) FROM events"
            " WHERE start_ts >= ? AND start_ts < ? AND status = 'scheduled'"
            " AND kind IN ('infusion', 'collection') AND course_id != ?"
            " GROUP BY kind, start, \"end\"",
            [low, high, exclude_course or -1],
        ).fetchall()
        for kind, start_text, end_text, count in rows:
            start = datetime.fromisoformat(start_text).astimezone(tz)
            day = start.date()
            if kind == INFUSION:
                booked = occupancy.infusions.setdefault(day, {})
                interval = (start, datetime.fromisoformat(end_text).astimezone(tz))
                booked[interval] = booked.get(interval, 0) + count
            else:
                occupancy.collections[day] = occupancy.collections.get(day, 0) + count
        return occupancy

    def active_course_spans(
        self, patient_ids: set[int]
    ) -> dict[int, list[tuple[int, datetime, datetime]]]:
        """Per patient, each active course with the first and last start of its scheduled
        events: what a new course of the same patient must not overlap."""
        marks = ",".join("?" * len(patient_ids))
        rows = self.db.execute(
            "SELECT c.patient_id, c.id, MIN(e.start_ts), MAX(e.start_ts) FROM courses c"
            " JOIN events e ON e.course_id = c.id"
            f" WHERE c.status = 'active' AND e.status = 'scheduled' AND c.patient_id IN ({marks})"
            " GROUP BY c.id ORDER BY c.id", sorted(patient_ids)).fetchall()
        spans: dict[int, list[tuple[int, datetime, datetime]]] = {}
        for patient_id, course_id, first, last in rows:
            spans.setdefault(patient_id, []).append(
                (course_id, datetime.fromtimestamp(first, UTC), datetime.fromtimestamp(last, UTC)))
        return spans

    def check_patients(self, patient_ids: set[int]) -> None:
        """Raise NotFoundError naming the first id that is not a patient."""
        known = {row[0] for row in self.db.execute("SELECT id FROM patients")}
        for patient_id in sorted(patient_ids - known):
            raise NotFoundError(f"PATIENT_ID: no patient with id {patient_id}")

    def _next_course_uid(self) -> str:
        """The next course's number then a random part: unique across clinics, and new
        UIDs sort after old ones so their index grows at its end."""
        (last,) = self.db.conn.execute("SELECT COALESCE(MAX(id), 0) FROM courses").fetchone()
        return f"{last + 1:08d}-{secrets.token_hex(6)}"

    def create_course(self, patient_id: int, protocol: Protocol, plan: Plan, *,
                      planned_from: str, start: date, uid_domain: str, actor: str,
                      now: datetime) -> int:
        """Store one planned course without reminders (see ``create_courses``)."""
        self.check_patients({patient_id})
        new = prepare_course(NewCourse(patient_id, protocol, plan, planned_from, start), None,
                             "UTC", now)
        return self.create_courses([new], uid_domain=uid_domain, actor=actor, now=now)[0]

    def create_courses(self, courses: Iterable[PreparedCourse], *, uid_domain: str,
                       actor: str, now: datetime) -> list[int]:
        """Store prepared courses with their events and reminders, one audit row each, in
        one transaction: either every course is stored or none is."""
        ids = []
        snapshots: dict[str, str] = {}
        stamp = _utc(now)
        with self.transaction():
            for new in courses:
                protocol = new.protocol
                if protocol.name not in snapshots:
                    snapshots[protocol.name] = json.dumps(protocol_to_table(protocol),
                                                          sort_keys=True)
                course_uid = self._next_course_uid()
                cursor = self.db.conn.execute(
                    "INSERT INTO courses (uid, patient_id, protocol, protocol_snapshot,"
                    " planned_from, start_date, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [course_uid, new.patient_id, protocol.name, snapshots[protocol.name],
                     new.planned_from, new.start.isoformat(), stamp, stamp],
                )
                course_id = int(cursor.lastrowid or 0)
                if new.exceptions:
                    self.set_exceptions(course_id, new.exceptions)
                self._insert_rows(course_id, course_uid, new.events, uid_domain, stamp)
                if new.reminders:
                    self._insert_reminders(course_id, new, stamp)
                self._audit(actor, "course.plan", now, course_id=course_id,
                            detail={"planned_from": new.planned_from,
                                    "start": new.start.isoformat(), "protocol": protocol.name,
                                    "events": len(new.events), "notes": list(new.notes)})
                ids.append(course_id)
        return ids

    def _insert_rows(self, course_id: int, course_uid: str, rows: list[EventRow],
                     uid_domain: str, stamp: str) -> None:
        self.db.conn.executemany(
            "INSERT INTO events (uid, course_id, kind, seq, start, \"end\", start_ts, status,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(f"{course_uid}-{suffix}@{uid_domain}", course_id, kind, seq, start, end, ts,
              status, stamp) for kind, seq, start, end, ts, status, suffix in rows])

    def _insert_reminders(self, course_id: int, new: PreparedCourse, stamp: str) -> None:
        """Reminders of a course just stored: its events' ids follow their insertion order."""
        event_ids = [row[0] for row in self.db.conn.execute(
            "SELECT id FROM events WHERE course_id = ? ORDER BY id", [course_id])]
        self.db.conn.executemany(
            "INSERT INTO reminders (event_id, event_revision, rule, audience, due_ts,"
            " expires_ts, created_at, updated_at) VALUES (?, 0, ?, ?, ?, ?, ?, ?)",
            [(event_ids[index], rule, audience, due, expires, stamp, stamp)
             for index, rule, audience, due, expires in new.reminders])

    def _insert_events(self, course_id: int, course_uid: str, protocol: Protocol,
                       events: tuple[PlannedEvent, ...] | list[PlannedEvent],
                       uid_domain: str, now: datetime) -> None:
        self._insert_rows(course_id, course_uid, [event_row(protocol, e) for e in events],
                          uid_domain, _utc(now))

    def course(self, course_id: int) -> dict[str, Any]:
        row = self._one("SELECT * FROM courses WHERE id = ?", [course_id])
        if row is None:
            raise NotFoundError(f"COURSE_ID: no course with id {course_id}")
        return row

    def courses_of(self, patient_id: int) -> list[dict[str, Any]]:
        self.patient(patient_id)
        return list(self.db.query(
            "SELECT * FROM courses WHERE patient_id = ? ORDER BY id", [patient_id]))

    def course_protocol(self, course_id: int) -> Protocol:
        row = self.course(course_id)
        table = json.loads(row["protocol_snapshot"])
        return parse_protocol(row["protocol"], table, f"course {course_id} snapshot")

    def course_state(self, course_id: int) -> Course:
        protocol = self.course_protocol(course_id)
        events = tuple(as_planned(e) for e in self.events_of(course_id))
        return Course(protocol, events)

    def events_of(self, course_id: int) -> list[StoredEvent]:
        rows = self.db.execute(
            "SELECT * FROM events WHERE course_id = ? ORDER BY start_ts, kind, seq", [course_id]
        ).fetchall()
        return [_stored(row) for row in rows]

    def event(self, event_id: int) -> StoredEvent:
        row = self.db.execute("SELECT * FROM events WHERE id = ?", [event_id]).fetchone()
        if row is None:
            raise NotFoundError(f"EVENT_ID: no event with id {event_id}")
        return _stored(row)

    def apply_change(self, course_id: int, new_events: list[PlannedEvent], *, action: str,
                     actor: str, now: datetime, reason: str | None = None,
                     lab_attention: set[tuple[str, int]] | None = None,
                     course_status: str | None = None) -> list[int]:
        """Write a changed course: update what moved (revision + 1), add what is new.

        Events are matched by ``slot_key``; the ids of changed or added events are returned.
        """
        protocol = self.course_protocol(course_id)
        course = self.course(course_id)
        current = {slot_key(protocol, as_planned(e)): e for e in self.events_of(course_id)}
        attention = lab_attention or set()
        changed: list[int] = []
        with self.transaction():
            added = []
            for event in new_events:
                key = slot_key(protocol, event)
                old = current.get(key)
                if old is None:
                    added.append(event)
                elif as_planned(old) != event or key in attention:
                    self._update_event(old, event, key in attention, now)
                    changed.append(old.id)
            if added:
                self._insert_events(course_id, course["uid"], protocol, added,
                                    self._uid_domain(course_id), now)
                changed += [self._event_id(course_id, protocol, e) for e in added]
            self.db.execute(
                "UPDATE courses SET updated_at = ?, status = COALESCE(?, status),"
                " cancel_reason = COALESCE(?, cancel_reason) WHERE id = ?",
                [_utc(now), course_status, reason if course_status else None, course_id],
            )
            self._audit(actor, action, now, course_id=course_id, reason=reason,
                        detail={"changed_events": changed,
                                "lab_attention": sorted(f"{k}-{s}" for k, s in attention)})
        return changed

    def _update_event(self, old: StoredEvent, new: PlannedEvent, attention: bool,
                      now: datetime) -> None:
        self.db.execute(
            "UPDATE events SET seq = ?, start = ?, \"end\" = ?, start_ts = ?, status = ?,"
            " revision = revision + 1, lab_attention = MAX(lab_attention, ?), updated_at = ?"
            " WHERE id = ?",
            [new.seq, _iso(new.start), _iso(new.end), _ts(new.start), new.status.value,
             int(attention), _utc(now), old.id],
        )

    def _uid_domain(self, course_id: int) -> str:
        row = self.db.execute(
            "SELECT uid FROM events WHERE course_id = ? LIMIT 1", [course_id]).fetchone()
        return str(row[0]).rsplit("@", 1)[1] if row else "ank-planner.invalid"

    def _event_id(self, course_id: int, protocol: Protocol, event: PlannedEvent) -> int:
        row = self.db.execute(
            "SELECT id FROM events WHERE course_id = ? AND kind = ? AND seq = ?",
            [course_id, event.kind, event.seq]).fetchone()
        return int(row[0])

    # -- reading for people ------------------------------------------------------------

    def agenda(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Events between two instants with their patient, for the day and week views."""
        return list(self.db.query(
            "SELECT e.*, c.patient_id, p.name AS patient_name, p.lang AS patient_lang,"
            " c.protocol FROM events e JOIN courses c ON c.id = e.course_id"
            " JOIN patients p ON p.id = c.patient_id"
            " WHERE e.start_ts >= ? AND e.start_ts < ? ORDER BY e.start_ts, e.kind, e.seq",
            [_ts(start), _ts(end)],
        ))

    def export_rows(self, *, patient_id: int | None = None, course_id: int | None = None,
                    since: datetime | None = None, until: datetime | None = None
                    ) -> list[dict[str, Any]]:
        """Events with their patient and course, for calendar export; ``since`` and
        ``until`` bound the start instant (``until`` excluded)."""
        where: list[str] = []
        params: list[Any] = []
        if since is not None:
            where.append("e.start_ts >= ?")
            params.append(_ts(since))
        if until is not None:
            where.append("e.start_ts < ?")
            params.append(_ts(until))
        if patient_id is not None:
            where.append("c.patient_id = ?")
            params.append(patient_id)
        if course_id is not None:
            where.append("e.course_id = ?")
            params.append(course_id)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        rows = list(self.db.query(
            "SELECT e.*, c.patient_id, c.protocol_snapshot, p.name AS patient_name,"
            " p.lang AS patient_lang, p.mrn AS patient_mrn,"
            " c.exceptions AS course_exceptions FROM events e"
            " JOIN courses c ON c.id = e.course_id JOIN patients p ON p.id = c.patient_id "
            f"{clause} ORDER BY e.start_ts, e.kind, e.seq",
            params,
        ))
        return self._with_live_numbers(rows)

    def _with_live_numbers(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Give rows of courses with a missed infusion the ``number`` people read (see
        ``LIVE_NUMBER``); one small query, as misses are few."""
        missed: dict[int, list[int]] = {}
        for course_id, seq in self.db.execute(
                "SELECT course_id, seq FROM events WHERE kind = 'infusion'"
                " AND status = 'missed'").fetchall():
            missed.setdefault(course_id, []).append(seq)
        if missed:
            for row in rows:
                before = missed.get(row["course_id"])
                if before:
                    row["number"] = row["seq"] - sum(1 for m in before if m < row["seq"])
        return rows

    def set_exceptions(self, course_id: int, bends: Iterable[Bend]) -> None:
        """Record the bends a course now uses (replacing those it used before)."""
        self.db.execute("UPDATE courses SET exceptions = ? WHERE id = ?",
                        [json.dumps([b.as_dict() for b in bends], ensure_ascii=False),
                         course_id])

    def exceptions_of(self, course_id: int) -> list[Bend]:
        """The bends a course uses over closures, as recorded when it was planned or changed."""
        row = self.db.execute("SELECT exceptions FROM courses WHERE id = ?",
                              [course_id]).fetchone()
        if row is None:
            raise NotFoundError(f"COURSE_ID: no course with id {course_id}")
        return [Bend.from_dict(item) for item in json.loads(row[0] or "[]")]

    # -- away periods: days a patient cannot come ------------------------------------

    def add_away(self, patient_id: int, first: date, last: date, reason: str, actor: str,
                 now: datetime) -> int:
        """Record days the patient cannot come (a chemotherapy day, a hospital stay)."""
        self.patient(patient_id)
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO patient_away (patient_id, first_day, last_day, reason, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [patient_id, first.isoformat(), last.isoformat(), reason, _utc(now)])
            away_id = int(cursor.lastrowid or 0)
            self._audit(actor, "patient.away", now, detail={
                "patient_id": patient_id, "away_id": away_id, "from": first.isoformat(),
                "to": last.isoformat(), "reason": reason})
        return away_id

    def away_periods(self, patient_id: int) -> list[dict[str, Any]]:
        """The patient's away periods still in force, in date order."""
        return list(self.db.query(
            "SELECT id, first_day, last_day, reason FROM patient_away WHERE patient_id = ?"
            " AND removed_at IS NULL ORDER BY first_day, id", [patient_id]))

    def away_days_of(self, patient_ids: set[int]) -> dict[int, dict[date, str]]:
        """Per patient, every day of their away periods with why: one query for a batch."""
        marks = ",".join("?" * len(patient_ids))
        days: dict[int, dict[date, str]] = {}
        for patient_id, first, last, reason in self.db.execute(
                "SELECT patient_id, first_day, last_day, reason FROM patient_away"
                f" WHERE removed_at IS NULL AND patient_id IN ({marks})",
                sorted(patient_ids)).fetchall():
            day, end = date.fromisoformat(first), date.fromisoformat(last)
            while day <= end:
                days.setdefault(patient_id, {})[day] = f"patient away ({reason})"
                day += timedelta(days=1)
        return days

    def remove_away(self, patient_id: int, away_id: int, actor: str, now: datetime) -> None:
        """Remove one away period (kept in the table as removed, and in the audit log)."""
        with self.transaction():
            cursor = self.db.execute(
                "UPDATE patient_away SET removed_at = ? WHERE id = ? AND patient_id = ?"
                " AND removed_at IS NULL", [_utc(now), away_id, patient_id])
            if cursor.rowcount == 0:
                raise NotFoundError(f"--remove: patient {patient_id} has no away period "
                                    f"{away_id}")
            self._audit(actor, "patient.back", now,
                        detail={"patient_id": patient_id, "away_id": away_id})

    def infusion_totals(self) -> dict[int, int]:
        """Infusions per course as planned, for "3/8" in titles: a missed one is left out
        (its make-up takes its place), so the patient reads "8 of 8"."""
        rows = self.db.execute(
            "SELECT course_id, COUNT(*) FROM events WHERE kind = 'infusion'"
            " AND status != 'missed' GROUP BY course_id"
        ).fetchall()
        return {course_id: count for course_id, count in rows}

    def audit_log(self, course_id: int | None = None) -> list[dict[str, Any]]:
        if course_id is None:
            return list(self.db.query("SELECT * FROM audit ORDER BY id"))
        return list(self.db.query(
            "SELECT * FROM audit WHERE course_id = ? ORDER BY id", [course_id]))

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


# The number people read for an event's infusion: missed infusions before it do not count
# (``planner.core.makeup.live_number``), so a make-up after one miss reads "8 of 8".
LIVE_NUMBER = ("e.seq - (SELECT COUNT(*) FROM events m WHERE m.course_id = e.course_id"
               " AND m.kind = 'infusion' AND m.status = 'missed' AND m.seq < e.seq) AS number")


def _stored(row: sqlite3.Row | tuple[Any, ...]) -> StoredEvent:
    (event_id, uid, course_id, kind, seq, start, end, _start_ts, status, revision,
     lab_attention, updated_at) = row
    return StoredEvent(
        id=event_id, uid=uid, course_id=course_id, kind=kind, seq=seq,
        start=datetime.fromisoformat(start), end=datetime.fromisoformat(end),
        status=Status(status), revision=revision,
        updated_at=datetime.fromisoformat(updated_at), lab_attention=bool(lab_attention),
    )


def as_planned(event: StoredEvent) -> PlannedEvent:
    return PlannedEvent(event.kind, event.seq, event.start, event.end, event.status)


def with_timezone(event: PlannedEvent, tz: Any) -> PlannedEvent:
    return replace(event, start=event.start.astimezone(tz), end=event.end.astimezone(tz))
