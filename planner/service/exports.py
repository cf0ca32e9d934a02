"""Calendar files (.ics) for a patient, a course, a staff role or the whole clinic.

The calendar modules (and icalendar with them) are imported when a calendar is made, so
commands that make none do not load them.
"""

from __future__ import annotations

from datetime import datetime

from planner.service.base import PlannerBase
from planner.texts.calendar_words import calendar_name


class Exports(PlannerBase):
    """Rendering stored events as RFC 5545 calendars."""

    def export(self, *, patient_id: int | None = None, course_id: int | None = None,
               role: str | None = None, since: datetime | None = None,
               until: datetime | None = None) -> bytes:
        """The .ics bytes for one patient, one course, one staff role, or the whole clinic,
        optionally only events starting in [since, until)."""
        from planner.calendars.exports import PATIENT_VIEW, STAFF_VIEW, Audience, Wording, entries
        from planner.calendars.ics import render_calendar

        if patient_id is not None:
            self.store.patient(patient_id)
        if course_id is not None:
            self.store.course(course_id)
        patient_view = patient_id is not None or course_id is not None
        audience = Audience(PATIENT_VIEW) if patient_view else Audience(STAFF_VIEW, role)
        rows = self.store.export_rows(patient_id=patient_id, course_id=course_id,
                                      since=since, until=until)
        selected = entries(rows, audience, Wording.of(self.settings),
                           self.settings.clinic.timezone, self.store.infusion_totals())
        return render_calendar(selected, timezone=self.settings.clinic.timezone,
                               name=self._calendar_name(patient_id, course_id, role),
                               alarm_minutes=self.settings.export.alarm_minutes)

    def _calendar_name(self, patient_id: int | None, course_id: int | None,
                       role: str | None) -> str:
        """In the patient's language for a patient's or a course's calendar."""
        clinic = self.settings.clinic.name
        if course_id is not None:
            patient_id = self.store.course(course_id)["patient_id"]
        if patient_id is not None:
            lang = self.store.patient(patient_id)["lang"]
            return calendar_name(clinic, lang, patient=True, role=None)
        return calendar_name(clinic, self.settings.export.staff_language, patient=False,
                             role=role)
