"""Stored events -> calendar entries for a patient, a course, a staff role or the clinic.

Decides what each audience sees; ``planner.texts.calendar_words`` words it. A patient's calendar
holds one event per visit the patient attends: an infusion day is one visit, from the
same-day steps before the drip (the blood test: arrive by it) to the drip's end, under the
infusion's UID; the clinic's address is its LOCATION. A staff calendar holds every event
of the role, one each, titled in the staff language with the patient named as
``[export] staff_names`` says, and the kind of visit as its category.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from planner.calendars.ics import CalendarEntry
from planner.config.protocols import parse_protocol
from planner.config.settings import ExportSettings, Settings
from planner.core.model import INFUSION, Anchor, Protocol
from planner.texts.calendar_words import kind_name, patient_label, patient_notes, patient_title
from planner.texts.catalogue import event_title, staff_description
from planner.texts.letterhead import PLAIN, Letterhead, fever_lines

STAFF_VIEW = "staff"
PATIENT_VIEW = "patient"


@dataclass(frozen=True)
class Audience:
    """Who a calendar is for: the patient (in their language) or a staff role (or all)."""

    view: str
    role: str | None = None


@dataclass(frozen=True)
class Wording:
    """The settings that shape an entry's words: a change here changes every entry."""

    export: ExportSettings
    clinic: str
    address: str = ""
    map_url: str = ""
    discreet: bool = True
    head: Letterhead = PLAIN

    @classmethod
    def of(cls, settings: Settings) -> Wording:
        head = settings.letterhead
        return cls(settings.export, settings.clinic.name, head.address, head.map_url,
                   head.discreet, head)

    @property
    def location(self) -> str:
        """The address, or the map link when the clinic gave no address."""
        return self.address or self.map_url


class SnapshotProtocols:
    """Parses each course's protocol snapshot once per export."""

    def __init__(self) -> None:
        self._cache: dict[str, Protocol] = {}

    def get(self, snapshot: str) -> Protocol:
        if snapshot not in self._cache:
            self._cache[snapshot] = parse_protocol("snapshot", json.loads(snapshot), "course")
        return self._cache[snapshot]


def audience_of(protocol: Protocol, kind: str) -> tuple[str, ...]:
    return protocol.audience_of(kind)


def entries(rows: Iterable[dict[str, Any]], audience: Audience, wording: Wording,
            timezone: str, totals: dict[int, int]) -> list[CalendarEntry]:
    """Calendar entries for ``audience`` from export rows (``Store.export_rows``), in order.

    ``totals`` maps a course id to its number of infusions, for "3/8" in titles.
    """
    protocols = SnapshotProtocols()
    tz = ZoneInfo(timezone)
    seen = [(row, protocols.get(row["protocol_snapshot"])) for row in rows]
    seen = [(row, protocol) for row, protocol in seen if sees(audience, protocol, row)]
    if audience.view == PATIENT_VIEW:
        return patient_entries(seen, wording, tz, totals)
    return [entry(row, wording, tz, totals.get(row["course_id"], 0)) for row, _ in seen]


def sees(audience: Audience, protocol: Protocol, row: dict[str, Any]) -> bool:
    """Whether ``audience`` takes part in the event of ``row``."""
    wanted = "patient" if audience.view == PATIENT_VIEW else audience.role
    return wanted is None or wanted in protocol.audience_of(row["kind"])


def bend_lines(row: dict[str, Any], lang: str) -> str:
    """The course's bends over closures that concern this event, for the doctor to see in
    staff calendars (empty for most events)."""
    stored = row.get("course_exceptions") or "[]"
    if stored == "[]":
        return ""
    name = f"{row['kind']} {row['seq']}"
    word = "Exception" if lang == "en" else "例外"
    return "".join(f"\n{word}: {bend['detail']} ({bend['why']})"
                   for bend in json.loads(stored) if name in bend.get("events", []))


def entry(row: dict[str, Any], wording: Wording, tz: ZoneInfo, total: int) -> CalendarEntry:
    """A staff calendar's entry for one event."""
    kind, seq = row["kind"], row.get("number") or row["seq"]
    settings = wording.export
    lang = settings.staff_language
    label = patient_label(row["patient_name"], row["patient_id"], settings.staff_names, lang)
    description = staff_description(kind, seq, total, lang, label)
    description += bend_lines(row, lang)
    if row["status"] == "missed":
        description += "\n(missed)" if lang == "en" else "\n(欠席)"
    return CalendarEntry(
        uid=row["uid"],
        start=datetime.fromisoformat(row["start"]).astimezone(tz),
        end=datetime.fromisoformat(row["end"]).astimezone(tz),
        summary=f"{event_title(kind, seq, total, lang)} — {label}",
        description=description,
        sequence=row["revision"],
        cancelled=row["status"] != "scheduled",
        stamp=datetime.fromisoformat(row["updated_at"]),
        categories=(kind_name(kind, lang),),
    )


def patient_entries(rows: list[tuple[dict[str, Any], Protocol]], wording: Wording,
                    tz: ZoneInfo, totals: dict[int, int]) -> list[CalendarEntry]:
    """One entry per visit, in the order of the rows' starts.

    The same-day steps of an infusion (``each_infusion`` steps given by minutes from it,
    like the blood test) join that infusion's visit; a step whose infusion is not among
    the rows stays an entry of its own.
    """
    infusions = {(row["course_id"], row["seq"]) for row, _ in rows if row["kind"] == INFUSION}
    steps: dict[tuple[int, int], list[dict[str, Any]]] = {}
    visits: list[dict[str, Any]] = []
    for row, protocol in rows:
        key = (row["course_id"], row["seq"])
        if row["kind"] in _same_day_kinds(protocol) and key in infusions:
            steps.setdefault(key, []).append(row)
        else:
            visits.append(row)
    built = [_visit(row, steps.get((row["course_id"], row["seq"]), [])
                    if row["kind"] == INFUSION else [], wording, tz,
                    totals.get(row["course_id"], 0)) for row in visits]
    return sorted(built, key=lambda e: e.start)


def _same_day_kinds(protocol: Protocol) -> frozenset[str]:
    return frozenset(step.kind for step in protocol.steps
                     if step.anchor is Anchor.EACH and step.time is None)


def _visit(row: dict[str, Any], steps: list[dict[str, Any]], wording: Wording, tz: ZoneInfo,
           total: int) -> CalendarEntry:
    """The entry of one visit: ``row`` with the same-day ``steps`` that belong to it."""
    parts = [row, *steps]
    start, end = _instant(row["start"], tz), _instant(row["end"], tz)
    first = min(parts, key=lambda part: part["start"])
    begins = min(start, *(_instant(part["start"], tz) for part in parts))
    ends = max(end, *(_instant(part["end"], tz) for part in parts))
    lang, kind, seq = row["patient_lang"], row["kind"], row.get("number") or row["seq"]
    arrival = (first["kind"], begins, start, ends) if first is not row else None
    return CalendarEntry(
        uid=row["uid"],
        start=begins,
        end=ends,
        summary=patient_title(kind, seq, total, lang, clinic=wording.clinic,
                              discreet=wording.discreet),
        description=patient_notes(kind, seq, total, lang, arrival=arrival,
                                  missed=row["status"] == "missed", map_url=wording.map_url,
                                  fever=fever_lines(wording.head, lang)
                                  if kind == INFUSION else None),
        sequence=sum(part["revision"] for part in parts),
        cancelled=row["status"] != "scheduled",
        stamp=max(datetime.fromisoformat(part["updated_at"]) for part in parts),
        location=wording.location,
    )


def _instant(text: str, tz: ZoneInfo) -> datetime:
    return datetime.fromisoformat(text).astimezone(tz)
