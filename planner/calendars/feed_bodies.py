"""Building feed bodies: what a feed holds now, its version, its calendar bytes.

Feeds are polled often, so nothing is rebuilt that did not change: the feed's version is
one aggregate query (``planner.calendars.feed_window``); its body is kept per version; each event's
staff entry is kept per revision and wording here, and its VEVENT bytes by
``planner.calendars.ics``. A rebuild of a staff feed after one change reads only ids, revisions and
kinds of the events, and whole rows of the changed ones. A patient's feed (a few dozen
events, one per visit) is worded from whole rows as ``planner export`` words it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from planner import __version__
from planner.calendars.exports import (
    PATIENT_VIEW,
    STAFF_VIEW,
    Audience,
    SnapshotProtocols,
    Wording,
    entry,
    patient_entries,
    sees,
)
from planner.calendars.feed_window import IN_WINDOW, KEPT, Window, feed_version, window_at
from planner.calendars.ics import CalendarEntry, render_calendar
from planner.config.settings import Settings
from planner.core.model import Protocol
from planner.texts.calendar_words import calendar_name

BODY_CACHE_SIZE = 64
ENTRY_CACHE_SIZE = 200_000
LARGE_FEED_BYTES = 1_000_000
"""Google Calendar stops updating a subscribed feed larger than about this."""
_EVENT_KEYS = (
    "SELECT e.id, e.revision, e.kind, e.course_id, e.start_ts, e.seq FROM events e"
    " WHERE {where}")
_START_KIND_SEQ = itemgetter(4, 2, 5)
_ROWS = (
    "SELECT e.*, c.patient_id, c.protocol_snapshot, p.name AS patient_name,"
    " p.lang AS patient_lang, p.mrn AS patient_mrn FROM events e"
    " JOIN courses c ON c.id = e.course_id JOIN patients p ON p.id = c.patient_id")
_WHOLE_ROWS = _ROWS + " WHERE e.id IN (SELECT value FROM json_each(?))"
_PATIENT_ROWS = _ROWS + " WHERE {where} ORDER BY e.start_ts, e.kind, e.seq"
_COURSE_PATIENTS = (
    "SELECT c.id, p.name, p.lang FROM courses c JOIN patients p ON p.id = c.patient_id"
    " WHERE {where}")
_INFUSION_TOTALS = (
    "SELECT course_id, COUNT(*) FROM events WHERE kind = 'infusion' GROUP BY course_id")
_PATIENT_INFUSION_TOTALS = (
    "SELECT course_id, COUNT(*) FROM events WHERE kind = 'infusion' AND course_id IN"
    " (SELECT id FROM courses WHERE patient_id = ?) GROUP BY course_id")


@dataclass(frozen=True)
class Feed:
    id: int
    staff_id: int | None
    patient_id: int | None
    role: str | None


@dataclass(frozen=True)
class FeedBody:
    """One version of a feed, ready to serve."""

    etag: str
    last_modified: datetime
    body: bytes
    _gzipped: list[bytes]

    def gzipped(self) -> bytes:
        if not self._gzipped:
            self._gzipped.append(gzip.compress(self.body, compresslevel=3, mtime=0))
        return self._gzipped[0]


def _event_scope(feed: Feed) -> tuple[str, dict[str, Any]]:
    """The events a feed draws from, before the audience filter: one patient's or all."""
    if feed.patient_id is not None:
        return ("e.course_id IN (SELECT id FROM courses WHERE patient_id = :patient)",
                {"patient": feed.patient_id})
    return "1", {}


def _course_scope(feed: Feed) -> tuple[str, list[Any]]:
    """The courses a feed draws from: one patient's or all."""
    if feed.patient_id is not None:
        return "c.patient_id = ?", [feed.patient_id]
    return "1", []


class _CourseView:
    """One course as a feed's audience sees it: which kinds, and the wording of entries.

    ``wording`` is (view, patient name, patient language, infusions in the course): with
    the event's id and revision, it decides the entry.
    """

    def __init__(self, audience: Audience, protocol: Protocol,
                 wording: tuple[str, str, str, int]) -> None:
        self.audience = audience
        self.protocol = protocol
        self.wording = wording
        self._kinds: dict[str, bool] = {}

    def sees(self, kind: str) -> bool:
        seen = self._kinds.get(kind)
        if seen is None:
            seen = self._kinds[kind] = sees(self.audience, self.protocol, {"kind": kind})
        return seen


def _fingerprint(settings: Settings) -> str:
    """What, besides the events, shapes a body: a change here must change every ETag."""
    shaping = (__version__, settings.clinic.name, settings.clinic.timezone, settings.export,
               settings.feed, settings.letterhead)
    return hashlib.sha256(repr(shaping).encode()).hexdigest()[:16]


class FeedBuilder:
    """Builds the bodies of feeds over one database connection, caching what it can."""

    def __init__(self, db: Database, settings: Settings,
                 settings_since: datetime | None = None) -> None:
        """``settings_since``: since when these settings are in force (a server's start),
        so Last-Modified moves with the ETag when a restart brought new settings."""
        self.db = db
        self.settings = settings
        self.settings_since = settings_since
        self.wording = Wording.of(settings)
        self._bodies: OrderedDict[tuple[int, str], FeedBody] = OrderedDict()
        self._entry_cache: OrderedDict[tuple[Any, ...], CalendarEntry] = OrderedDict()
        self._protocols = SnapshotProtocols()
        self._by_course: dict[int, Protocol] = {}
        self._tz = ZoneInfo(settings.clinic.timezone)
        self._fingerprint = _fingerprint(settings)

    def large(self, feed_ids: list[int], now: datetime) -> list[tuple[int, int]]:
        """(id, bytes) of each of these feeds whose body at ``now`` exceeds
        ``LARGE_FEED_BYTES``."""
        found = []
        for row in self.db.execute(
                "SELECT id, staff_id, patient_id, role FROM feeds"
                " WHERE id IN (SELECT value FROM json_each(?))", [json.dumps(feed_ids)]):
            size = len(self.body(Feed(*row), now).body)
            if size > LARGE_FEED_BYTES:
                found.append((row[0], size))
        return found

    def window(self, feed: Feed, now: datetime) -> Window:
        """The days the feed holds at ``now`` (see ``planner.calendars.feed_window``)."""
        feed_settings = self.settings.feed
        future = None if feed.patient_id is not None else feed_settings.future_days or None
        return window_at(now, self._tz, past_days=feed_settings.past_days, future_days=future,
                         cancelled_days=feed_settings.cancelled_days)

    def _where(self, feed: Feed, now: datetime) -> tuple[str, dict[str, Any]]:
        scope, params = _event_scope(feed)
        return (f"{KEPT} AND {IN_WINDOW} AND {scope}",
                {**params, **self.window(feed, now).params()})

    def version(self, feed: Feed, now: datetime) -> tuple[str, datetime]:
        """The feed's ETag and Last-Modified, from one aggregate query.

        Last-Modified moves whenever the content does: an event changed, dropped out
        (``cancelled_days``) or passed an edge of the window; it never goes back. The ETag
        also changes with the settings that shape the text; Last-Modified is then at least
        ``settings_since``.
        """
        scope, params = _event_scope(feed)
        tag = f"{self._fingerprint}:{feed.id}:{feed.role}"
        etag, changed = feed_version(self.db, scope, params, self.window(feed, now), tag)
        if self.settings_since is not None:
            changed = max(changed, self.settings_since.astimezone(UTC))
        return etag, changed

    def body(self, feed: Feed, now: datetime) -> FeedBody:
        """The feed's current body, built only when its version changed."""
        etag, last_modified = self.version(feed, now)
        cached = self._bodies.get((feed.id, etag))
        if cached is not None:
            self._bodies.move_to_end((feed.id, etag))
            return cached
        built = FeedBody(etag, last_modified, self._render(feed, now), [])
        self._bodies[(feed.id, etag)] = built
        while len(self._bodies) > BODY_CACHE_SIZE:
            self._bodies.popitem(last=False)
        return built

    def _entries(self, feed: Feed, now: datetime, audience: Audience) -> list[CalendarEntry]:
        """The feed's entries in start order, each built once per event revision and wording.

        Every build reads only what decides an entry (id, revision, kind, course); whole
        rows are read just for the events not cached yet (all of them on the first build).
        """
        clause, params = self._where(feed, now)
        events = self.db.execute(_EVENT_KEYS.format(where=clause), params).fetchall()
        events.sort(key=_START_KIND_SEQ)  # faster than SQLite's ORDER BY on three columns
        courses = self._courses(feed, audience)
        entries: list[CalendarEntry | None] = []
        missing: dict[int, int] = {}  # event id -> its place in ``entries``
        for event_id, revision, kind, course_id, _, _ in events:
            course = courses[course_id]
            if not course.sees(kind):
                continue
            cached = self._entry_cache.get((event_id, revision, *course.wording))
            if cached is None:
                missing[event_id] = len(entries)
            entries.append(cached)
        for row in self.db.query(_WHOLE_ROWS, [json.dumps(list(missing))]):
            course = courses[row["course_id"]]
            entries[missing[row["id"]]] = self._build_entry(row, audience, course)
        return [e for e in entries if e is not None]

    def _build_entry(self, row: dict[str, Any], audience: Audience,
                     course: _CourseView) -> CalendarEntry:
        built = entry(row, self.wording, self._tz, course.wording[-1])
        self._entry_cache[(row["id"], row["revision"], *course.wording)] = built
        if len(self._entry_cache) > ENTRY_CACHE_SIZE:
            self._entry_cache.popitem(last=False)
        return built

    def _courses(self, feed: Feed, audience: Audience) -> dict[int, _CourseView]:
        """What ``audience`` sees of each course the feed draws from, and how it is worded."""
        scope, params = _course_scope(feed)
        rows = self.db.execute(_COURSE_PATIENTS.format(where=scope), params).fetchall()
        totals = dict(self.db.execute(_INFUSION_TOTALS).fetchall())
        protocols = self._course_protocols([course_id for course_id, _, _ in rows])
        return {course_id: _CourseView(audience, protocols[course_id],
                                       (audience.view, name, lang, totals.get(course_id, 0)))
                for course_id, name, lang in rows}

    def _course_protocols(self, course_ids: list[int]) -> dict[int, Protocol]:
        """Each course's protocol, parsed once: a course's snapshot never changes."""
        unknown = [course_id for course_id in course_ids if course_id not in self._by_course]
        if unknown:
            for course_id, snapshot in self.db.execute(
                    "SELECT id, protocol_snapshot FROM courses"
                    " WHERE id IN (SELECT value FROM json_each(?))", [json.dumps(unknown)]):
                self._by_course[course_id] = self._protocols.get(snapshot)
        return self._by_course

    def _patient_entries(self, feed: Feed, now: datetime) -> list[CalendarEntry]:
        """A patient's visits (a few dozen rows): worded as ``planner export`` words them."""
        clause, params = self._where(feed, now)
        rows = list(self.db.query(_PATIENT_ROWS.format(where=clause), params))
        courses = self._course_protocols(list({row["course_id"] for row in rows}))
        seen = [(row, courses[row["course_id"]]) for row in rows]
        audience = Audience(PATIENT_VIEW)
        totals = dict(self.db.execute(_PATIENT_INFUSION_TOTALS, [feed.patient_id]).fetchall())
        return patient_entries([(row, protocol) for row, protocol in seen
                                if sees(audience, protocol, row)], self.wording, self._tz, totals)

    def _render(self, feed: Feed, now: datetime) -> bytes:
        clinic = self.settings.clinic
        refresh = f"PT{self.settings.feed.refresh_minutes}M"
        if feed.patient_id is not None:
            selected = self._patient_entries(feed, now)
            (lang,) = self.db.execute("SELECT lang FROM patients WHERE id = ?",
                                      [feed.patient_id]).fetchone()
        else:
            selected = self._entries(feed, now, Audience(STAFF_VIEW, feed.role))
            lang = self.settings.export.staff_language
        return render_calendar(
            selected,
            timezone=clinic.timezone,
            name=calendar_name(clinic.name, lang, patient=feed.patient_id is not None,
                               role=feed.role),
            alarm_minutes=self.settings.export.alarm_minutes,
            extra_properties=(("REFRESH-INTERVAL;VALUE=DURATION", refresh),
                              ("X-PUBLISHED-TTL", refresh)))
