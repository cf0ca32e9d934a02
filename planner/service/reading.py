"""What staff and patients ask about the plan: visits ahead, away days, the agenda."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from planner.config.protocols import parse_protocol
from planner.core.model import Protocol, Status, StoredEvent
from planner.service.base import PlannerBase


class Reading(PlannerBase):
    """Questions about stored courses; nothing is written."""

    def upcoming_visits(self, patient_id: int) -> list[StoredEvent]:
        """The patient's scheduled events still ahead that the patient attends, in order."""
        visits = []
        for course in self.store.courses_of(patient_id):
            protocol = self.store.course_protocol(course["id"])
            visits += [e for e in self.store.events_of(course["id"])
                       if e.status is Status.SCHEDULED and e.start > self.now()
                       and "patient" in protocol.audience_of(e.kind)]
        return sorted(visits, key=lambda e: e.start)

    def visits_between(self, patient_id: int, first: date, last: date) -> list[StoredEvent]:
        """The patient's scheduled visits still ahead from ``first`` to ``last`` (included)."""
        return [e for e in self.upcoming_visits(patient_id)
                if first <= e.start.astimezone(self.tz).date() <= last]

    def agenda(self, first: date, last: date, role: str | None = None) -> list[dict[str, Any]]:
        """Events from ``first`` to ``last`` (included); with ``role``, those it attends."""
        rows = self.store.agenda(self.at(first, None), self.at(last + timedelta(days=1), None))
        if role is None:
            return rows
        snapshots = {c: self.store.course(c)["protocol_snapshot"]
                     for c in {r["course_id"] for r in rows}}
        protocols: dict[str, Protocol] = {
            snapshot: parse_protocol("snapshot", json.loads(snapshot), "course")
            for snapshot in set(snapshots.values())}
        return [r for r in rows
                if role in protocols[snapshots[r["course_id"]]].audience_of(r["kind"])]
