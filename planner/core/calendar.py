"""Open days and hours of the clinic: weekdays, national holidays, closures.

Pure: a ``ClinicCalendar`` is built from a ``Clinic`` and answers questions about dates.
Holidays come from the maintained ``holidays`` package (Japan by default, substitute and
sandwiched "national" holidays included); the year-end closure and extra closed dates are
the clinic's own. Holiday names are always asked for in a fixed language, because the
package otherwise follows the machine's locale.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from planner.core.errors import ConfigError
from planner.core.model import Clinic

if TYPE_CHECKING:
    import holidays


def _in_golden_week(day: date) -> bool:
    """Japan's run of spring holidays: Showa Day (29 April) to Children's Day (5 May),
    with its substitute holiday on 6 May."""
    return (4, 29) <= (day.month, day.day) <= (5, 6)


_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class ClinicCalendar:
    """Which days the clinic is open, and why a day is closed.

    Lookups are cached per year, so planning thousands of courses does not ask the
    holiday package again for every date.
    """

    def __init__(self, clinic: Clinic) -> None:
        self.clinic = clinic
        self.tz = ZoneInfo(clinic.timezone)
        self._closed_cache: dict[date, str | None] = {}
        self._holidays = self._holiday_table(clinic.holiday_country)

    @staticmethod
    def _holiday_table(country: str | None) -> holidays.HolidayBase | None:
        """The country's public holidays; the package is imported only here (it takes
        about 35 ms), so commands that never plan do not load it."""
        if country is None:
            return None
        import holidays

        try:
            return holidays.country_holidays(country, language="en_US")
        except NotImplementedError as exc:
            raise ConfigError(
                f"clinic.holidays: unknown country code, got {country!r}"
            ) from exc

    def closed_reason(self, day: date) -> str | None:
        """Why the clinic is closed on ``day`` (a short English phrase), or None when open."""
        if day not in self._closed_cache:
            self._closed_cache[day] = self._find_closed_reason(day)
        return self._closed_cache[day]

    def _find_closed_reason(self, day: date) -> str | None:
        if day in self.clinic.closed_dates:
            return "clinic closed (extra closed date)"
        if self._in_year_end_closure(day):
            return "year-end closure"
        if self._holidays is not None:
            name = self._holidays.get(day)
            if name:
                return f"public holiday ({name})"
        if day.weekday() not in self.clinic.open_weekdays:
            return f"clinic closed on {_WEEKDAY_NAMES[day.weekday()]}s"
        return None

    def _in_year_end_closure(self, day: date) -> bool:
        closure = self.clinic.year_end_closure
        if closure is None:
            return False
        (m1, d1), (m2, d2) = closure
        key = (day.month, day.day)
        if (m1, d1) <= (m2, d2):
            return (m1, d1) <= key <= (m2, d2)
        return key >= (m1, d1) or key <= (m2, d2)

    def lab_closed_reason(self, day: date) -> str | None:
        """Why the culture lab does not work on ``day`` (its own weekdays and closed dates,
        no national holidays), or None when it works."""
        if day in self.clinic.lab_closed_dates:
            return "culture lab closed (closed date)"
        if day.weekday() not in self.clinic.lab_open_weekdays:
            return f"culture lab closed on {_WEEKDAY_NAMES[day.weekday()]}s"
        return None

    def is_closure(self, day: date) -> bool:
        """Closed for a holiday, the year-end closure or a closed date (not a weekly day off):
        the closures a protocol may bend a rule over."""
        reason = self.closed_reason(day)
        return reason is not None and not reason.startswith("clinic closed on ")

    def closures_between(self, first: date, last: date) -> list[date]:
        """The closure days (see ``is_closure``) from ``first`` to ``last``, both included."""
        days = (first + timedelta(days=i) for i in range((last - first).days + 1))
        return [d for d in days if self.is_closure(d)]

    def describe_closure(self, days: list[date]) -> str:
        """Name the closure that ``days`` belong to, as staff call it: Golden Week, the
        year-end closure, a named public holiday or a closed date, with its dates."""
        if not days:
            return "no closure"
        days = self._whole_closure(days)
        span = f"{days[0]:%Y-%m-%d}"
        if len(days) > 1:
            span += f" to {days[-1]:%Y-%m-%d}"
        reasons = [self.closed_reason(d) or "" for d in days]
        if any(r == "year-end closure" for r in reasons):
            return f"the year-end closure ({span})"
        if self.clinic.holiday_country == "JP" and any(
            r.startswith("public holiday") and _in_golden_week(d)
            for d, r in zip(days, reasons, strict=True)
        ):
            return f"Golden Week ({span})"
        names = list(dict.fromkeys(reasons))
        return f"{', '.join(names)} ({span})"

    def _whole_closure(self, days: list[date]) -> list[date]:
        """``days`` widened to the whole run of closure days they are part of."""
        first, last = min(days), max(days)
        while self.is_closure(first - timedelta(days=1)):
            first -= timedelta(days=1)
        while self.is_closure(last + timedelta(days=1)):
            last += timedelta(days=1)
        return self.closures_between(first, last)

    def is_open(self, day: date) -> bool:
        return self.closed_reason(day) is None

    def at(self, day: date, clock: time) -> datetime:
        """The aware instant of ``clock`` on ``day`` in the clinic's zone.

        Wall times that do not exist (skipped by a DST change) are resolved forward by
        zoneinfo's fold rules; clinics do not open in those hours anyway.
        """
        return datetime.combine(day, clock, tzinfo=self.tz)

    def within_hours(self, start: datetime, end: datetime) -> bool:
        """True when [start, end) lies inside one day's opening hours."""
        local_start = start.astimezone(self.tz)
        local_end = end.astimezone(self.tz)
        if local_start.date() != local_end.date() and local_end.time() != time(0):
            return False
        opens = self.at(local_start.date(), self.clinic.opens)
        closes = self.at(local_start.date(), self.clinic.closes)
        return opens <= local_start and local_end <= closes

    @cached_property
    def hours_label(self) -> str:
        return f"{self.clinic.opens:%H:%M}–{self.clinic.closes:%H:%M}"
