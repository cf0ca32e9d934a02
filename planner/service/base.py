"""What every operation of the service shares: the store, the settings, the clock in the
clinic's zone, and the one immediate transaction a read-then-write runs in."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Concatenate, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from planner.clock import Clock
from planner.config.settings import Settings
from planner.core.calendar import ClinicCalendar
from planner.core.course import Course
from planner.core.model import PlannedEvent
from planner.store.courses import Store
from planner.store.links import Links
from planner.store.outbox import Outbox


class PlannerBase:
    """The planner's operations over one store, one configuration and one clock."""

    def __init__(self, store: Store, settings: Settings, clock: Clock, actor: str = "cli"):
        self.store = store
        self.settings = settings
        self.clock = clock
        self.actor = actor
        self.calendar = ClinicCalendar(settings.clinic)
        self.outbox = Outbox(store.db)
        self.links = Links(store.db)
        self.tz = ZoneInfo(settings.clinic.timezone)

    def now(self) -> datetime:
        return self.clock.now().astimezone(self.tz)

    def at(self, day: date, clock: time | None) -> datetime:
        return datetime.combine(day, clock or time(0), tzinfo=self.tz)

    def course(self, course_id: int) -> Course:
        """The course with its events in the clinic's zone (so weekdays and DST are right)."""
        state = self.store.course_state(course_id)
        events = tuple(
            PlannedEvent(e.kind, e.seq, e.start.astimezone(self.tz), e.end.astimezone(self.tz),
                         e.status)
            for e in state.events
        )
        return Course(state.protocol, events)


_Planner = TypeVar("_Planner", bound=PlannerBase)
_Args = ParamSpec("_Args")
_Result = TypeVar("_Result")


def read_and_write(method: Callable[Concatenate[_Planner, _Args], _Result]
                   ) -> Callable[Concatenate[_Planner, _Args], _Result]:
    """Run a method that reads courses (or the chairs booked) and writes a change in one
    immediate transaction: a second nurse's change of the same course waits and then works
    on this one's result, instead of overwriting it with what it read before."""

    @functools.wraps(method)
    def in_one_transaction(self: _Planner, *args: _Args.args, **kwargs: _Args.kwargs
                           ) -> _Result:
        with self.store.transaction():
            return method(self, *args, **kwargs)

    return in_one_transaction
