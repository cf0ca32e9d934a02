"""Stored events -> calendar entries for a patient, a course, a staff role or the clinic.

Decides what each audience sees and how it is worded: a patient's calendar holds only
the events the patient attends, titled and described in the patient's language with the
instructions; a staff calendar holds the events of the role, titled in the staff language
with the patient shown as the clinic's privacy setting says (full name, initials or id).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from planner.config import ExportSettings
from planner.config_protocol import parse_protocol
from planner.ics import CalendarEntry
from planner.model import Protocol
from planner.texts import event_title, initials, patient_description, staff_description

STAFF_VIEW = "staff"
PATIENT_VIEW = "patient"


@dataclass(frozen=True)
class Audience:
    """Who a calendar is for: the patient (in their language) or a staff role (or all)."""

    view: str
    role: str | None = None


def patient_label(row: dict[str, Any], privacy: str) -> str:
    """How a staff calendar names the patient: ``full``, ``initials`` or ``id``."""
    if privacy == "full":
        return f"{row['patient_name']} (#{row['patient_id']})"
    if privacy == "initials":
        return f"{initials(row['patient_name'])} (#{row['patient_id']})"
    return f"#{row['patient_id']}"


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


def entries(rows: Iterable[dict[str, Any]], audience: Audience, settings: ExportSettings,
            timezone: str, totals: dict[int, int]) -> list[CalendarEntry]:
    """Calendar entries for ``audience`` from export rows (``Store.export_rows``).

    ``totals`` maps a course id to its number of infusions, for "3/8" in titles.
    """
    protocols = SnapshotProtocols()
    tz = ZoneInfo(timezone)
    return [entry(row, audience, settings, tz, totals.get(row["course_id"], 0))
            for row in rows if sees(audience, protocols.get(row["protocol_snapshot"]), row)]


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


def entry(row: dict[str, Any], audience: Audience, settings: ExportSettings, tz: ZoneInfo,
           total: int) -> CalendarEntry:
    kind, seq = row["kind"], row.get("number") or row["seq"]
    if audience.view == PATIENT_VIEW:
        lang = row["patient_lang"]
        summary = event_title(kind, seq, total, lang)
        description = patient_description(kind, seq, total, lang)
    else:
        lang = settings.staff_language
        label = patient_label(row, settings.staff_names)
        summary = f"{event_title(kind, seq, total, lang)} — {label}"
        description = staff_description(kind, seq, total, lang, label)
        description += bend_lines(row, lang)
    if row["status"] == "missed":
        description += "\n(missed)" if lang == "en" else "\n(欠席)"
    return CalendarEntry(
        uid=row["uid"],
        start=datetime.fromisoformat(row["start"]).astimezone(tz),
        end=datetime.fromisoformat(row["end"]).astimezone(tz),
        summary=summary,
        description=description,
        sequence=row["revision"],
        cancelled=row["status"] != "scheduled",
        stamp=datetime.fromisoformat(row["updated_at"]),
        categories=(kind,),
    )
