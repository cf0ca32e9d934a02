"""Planning a large batch in a second process while this one stores what is planned.

Planning is pure and storing is SQLite, so on two cores they can overlap: a forked
worker plans the courses in order, exactly as a loop here would (each course sees the
capacity the ones before it took), and streams the plans back in chunks; this process
writes them inside its one transaction as they arrive. A refusal in the worker ends the
stream with the same ``PlanningError``, and the caller's transaction rolls everything back.
Small batches, and systems without ``fork``, plan in this process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from multiprocessing.connection import Connection
from typing import TypeVar

from planner.errors import PlannerError, PlanningError
from planner.model import INFUSION, Occupancy, PlannedEvent
from planner.schedule import Plan

PARALLEL_FROM = 500
CHUNK = 100
Request = TypeVar("Request")
PlanOne = Callable[[int, Request, Occupancy], Plan]


def book(occupancy: Occupancy, events: Iterable[PlannedEvent]) -> None:
    """Count a just-planned course in ``occupancy`` so the next plan of a batch sees it."""
    for event in events:
        day = event.start.date()
        if event.kind == INFUSION:
            booked = occupancy.infusions.setdefault(day, {})
            booked[(event.start, event.end)] = booked.get((event.start, event.end), 0) + 1
        elif event.kind == "collection":
            occupancy.collections[day] = occupancy.collections.get(day, 0) + 1


def plans_in_order(plan_one: PlanOne[Request], requests: Sequence[Request],
                   occupancy: Occupancy) -> Iterator[Plan]:
    """The plan of each request, in order; planned in a worker for large batches."""
    if len(requests) < PARALLEL_FROM or "fork" not in multiprocessing.get_all_start_methods():
        yield from _plan_here(plan_one, requests, occupancy)
        return
    yield from _plan_in_worker(plan_one, requests, occupancy)


def _plan_here(plan_one: PlanOne[Request], requests: Sequence[Request],
               occupancy: Occupancy) -> Iterator[Plan]:
    for index, request in enumerate(requests):
        plan = plan_one(index, request, occupancy)
        book(occupancy, plan.events)
        yield plan


def _plan_in_worker(plan_one: PlanOne[Request], requests: Sequence[Request],
                    occupancy: Occupancy) -> Iterator[Plan]:
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(target=_work, args=(plan_one, requests, occupancy, sender),
                             daemon=True)
    worker.start()
    sender.close()
    try:
        while True:
            try:
                message = receiver.recv()
            except EOFError:
                raise PlannerError("the planning worker stopped unexpectedly") from None
            if message[0] == "plans":
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


def _work(plan_one: PlanOne[Request], requests: Sequence[Request], occupancy: Occupancy,
          sender: Connection) -> None:
    """The worker: plan everything in order, send chunks, then leave without cleanup
    (the parent's database connection must not be closed from here)."""
    try:
        chunk: list[Plan] = []
        for plan in _plan_here(plan_one, requests, occupancy):
            chunk.append(plan)
            if len(chunk) == CHUNK:
                sender.send(("plans", chunk))
                chunk = []
        sender.send(("plans", chunk))
        sender.send(("done",))
    except PlanningError as error:
        sender.send(("refused", error.rule, error.reason, error.suggestion))
    except Exception as error:  # noqa: BLE001 - reported to the parent, which raises it
        sender.send(("crashed", repr(error)))
    finally:
        sender.close()
        os._exit(0)
