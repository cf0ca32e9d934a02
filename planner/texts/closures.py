"""Why the clinic is closed, in the reader's language, for the month view's legend.

The clinic calendar gives its reasons in English for staff and error messages; patients
read them in their own words: 「休＝休診日（日曜日・成人の日・年末年始）」, holidays named
by the ``holidays`` package in the reader's language, the rest from the catalogue
(``calendar.reason_*``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import holidays
from babel.dates import format_date

from planner.core.calendar import ClinicCalendar
from planner.texts.catalogue import load_messages

_HOLIDAY_LANGUAGES = {"ja": "ja", "en": "en_US"}


def closure_words(calendar: ClinicCalendar, lang: str, *, override_dir: Path | None = None
                  ) -> Callable[[date], str | None]:
    """A ``closed`` callback for :func:`planner.texts.monthview.render_months`: None on an open
    day, else the closure in ``lang``: a weekday (日曜日), the holiday's own name from the
    ``holidays`` package in that language (成人の日), 年末年始 or 臨時休診日."""
    messages = load_messages(lang, override_dir)
    country = calendar.clinic.holiday_country
    names = (holidays.country_holidays(country, language=_HOLIDAY_LANGUAGES[lang])
             if country else None)

    def words(day: date) -> str | None:
        reason = calendar.closed_reason(day)
        if reason is None:
            return None
        if day in calendar.clinic.closed_dates:
            return messages.get("calendar.reason_extra")
        if reason == "year-end closure":
            return messages.get("calendar.reason_year_end")
        if reason.startswith("public holiday"):
            name = names.get(day) if names is not None else None
            return str(name) if name else messages.get("calendar.reason_holiday")
        weekday = format_date(day, "EEEE", locale=lang)
        return messages.format("calendar.reason_weekday", weekday=weekday)

    return words
