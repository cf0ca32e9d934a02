"""What staff do, as library calls: plan, change, export. The CLI and the bot call these.

A change is one read, the core, one write, in one immediate transaction: the store hands
over the course as the change needs it, the pure planner computes the new course, the
culture lab's notice window is checked, and the store writes the difference with its
reminders, notices and audit row. "now" comes from the injected clock.

    base       the store, settings and clock; the read-and-write transaction
    planning   planning new courses, one or a batch (``CourseRequest``)
    changes    reschedule, missed, postpone, cancel (``Change``)
    reading    visits ahead, away days, the agenda
    exports    .ics calendars (the calendar modules are loaded only here, when used)
"""

from __future__ import annotations

from planner.service.changes import Change, Changes
from planner.service.exports import Exports
from planner.service.planning import CourseRequest, Planning
from planner.service.reading import Reading
from planner.store.aggregate import OCCUPANCY_MARGIN

__all__ = ["OCCUPANCY_MARGIN", "Change", "CourseRequest", "Planner"]


class Planner(Planning, Changes, Reading, Exports):
    """The planner's operations over one store, one configuration and one clock."""
