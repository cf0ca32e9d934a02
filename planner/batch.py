"""Planning a large batch in a second process while this one stores what is planned.

Planning is pure and storing is SQLite, so on two cores they can overlap: a forked
worker plans the courses in order, exactly as a loop here would (each course sees the
capacity the ones before it took), turns each into the plain rows to insert (events,
reminders), and streams them back in chunks; this process writes them inside its one
transaction as they arrive. A refusal in the worker ends the
stream with the same ``PlanningError``, and the caller's transaction rolls everything back.
Small batches, and systems without ``fork``, plan in this process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from multiprocessing.connection import Connection
from typing import TypeVar

from planner.core.errors import PlannerError, PlanningError
from planner.core.model import INFUSION, Occupancy, PlannedEvent
from planner.core.schedule import Plan

PARALLEL_FROM = 500
CHUNK = 100
Request = TypeVar("Request")
Prepared = TypeVar("Prepared")
PlanOne = Callable[[int, Request, Occupancy], Plan]
Prepare = Callable[[int, Plan, bool], Prepared]


def book(occupancy: Occupancy, events: Iterable[PlannedEvent]) -> None:
    """Count a just-planned course in ``occupancy`` so the next plan of a batch sees it."""
    for event in events:
        day = event.start.date()
        if event.kind == INFUSION:
            booked = occupancy.infusions.setdefault(day, {})
            booked[(event.start, event.end)] = booked.get((event.start, event.end), 0) + 1
        elif event.kind == "collection":
            occupancy.collections[day] = occupancy.collections.get(day, 0) + 1


def prepared_in_order(plan_one: PlanOne[Request], prepare: Prepare[Prepared],
                      requests: Sequence[Request], occupancy: Occupancy) -> Iterator[Prepared]:
    """Each request planned and prepared for storing, in order; in a worker for large
    batches. ``prepare(index, plan, local)`` is told whether it runs in this process (then
    it may keep the plan; from the worker only plain rows travel back)."""
    if len(requests) < PARALLEL_FROM or "fork" not in multiprocessing.get_all_start_methods():
        for index, plan in enumerate(_plan_here(plan_one, requests, occupancy)):
            yield prepare(index, plan, True)
        return
    yield from _prepared_by_worker(plan_one, prepare, requests, occupancy)


def _plan_here(plan_one: PlanOne[Request], requests: Sequence[Request],
               occupancy: Occupancy) -> Iterator[Plan]:
    for index, request in enumerate(requests):
        plan = plan_one(index, request, occupancy)
        book(occupancy, plan.events)
        yield plan


def _prepared_by_worker(plan_one: PlanOne[Request], prepare: Prepare[Prepared],
                        requests: Sequence[Request], occupancy: Occupancy
                        ) -> Iterator[Prepared]:
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(target=_work,
                             args=(plan_one, prepare, requests, occupancy, sender), daemon=True)
    worker.start()
    sender.close()
    try:
        while True:
            try:
                message = receiver.recv()
            except EOFError:
                raise PlannerError("the planning worker stopped unexpectedly") from None
            if message[0] == "courses":
                yield from message[1]
            elif message[0] == "refused":
                raise PlanningError(*message[1:])
            elif message[0] == "crashed":
                raise PlannerError(f"the planning worker failed: {message[1]}")
            else:
                return
    finally:
        receiver.close()
        worker.join(timeout=5)
        if worker.is_alive():
            worker.terminate()


def _work(plan_one: PlanOne[Request], prepare: Prepare[Prepared], requests: Sequence[Request],
          occupancy: Occupancy, sender: Connection) -> None:
    """The worker: plan and prepare everything in order, send chunks, then leave without
    cleanup (the parent's database connection must not be closed from here)."""
    try:
        chunk: list[Prepared] = []
        for index, plan in enumerate(_plan_here(plan_one, requests, occupancy)):
            chunk.append(prepare(index, plan, False))
            if len(chunk) == CHUNK:
                sender.send(("courses", chunk))
                chunk = []
        sender.send(("courses", chunk))
        sender.send(("done",))
    except PlanningError as error:
        sender.send(("refused", error.rule, error.reason, error.suggestion))
    except Exception as error:  # noqa: BLE001 - reported to the parent, which raises it
        sender.send(("crashed", repr(error)))
    finally:
        sender.close()
        os._exit(0)
