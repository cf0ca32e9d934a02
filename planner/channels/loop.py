"""The bot's dispatch loop: runs the dispatcher when it asks to run, in the bot's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from sqlite_utils import Database

from planner.channels.dispatch import Dispatcher
from planner.store.database import is_busy

log = logging.getLogger("planner.channels.telegram.app")
WATCH_SECONDS = 1.0
RETRY_DELAY = timedelta(seconds=5)
IDLE_WAKE = timedelta(hours=1)


class DispatchLoop:
    """Runs the dispatcher at the instant it asks for, in a task of the bot's event loop.

    After every run it sleeps until the next due instant, or until ``arm`` asks for an
    earlier one (a handler queued a reply, a sent message settled); every second it also
    notices commits by other processes (the CLI) via ``PRAGMA data_version`` and runs at
    once. A run asked for while one is in progress follows as soon as it ends. The
    dispatcher's sends go on in their own tasks while the loop sleeps; ``stop`` ends the
    loop and lets the sends in flight finish (or cancels them after a few seconds), with
    nothing logged as an error: a stop is not a failure.
    """

    def __init__(self, dispatcher: Dispatcher, db: Database) -> None:
        self.dispatcher = dispatcher
        self.db = db
        self._running = False
        self._wakeup = asyncio.Event()
        self._when: datetime | None = None
        self._version = self._data_version()
        self._task: asyncio.Task[None] | None = None
        self.ticks = 0
        """Completed dispatcher runs (tests wait for it to grow)."""
        dispatcher.on_settled = lambda: self.arm(None)

    @property
    def idle(self) -> bool:
        """No run in progress or asked for, and no message in flight."""
        return (not self._running and not self._wakeup.is_set()
                and not self.dispatcher.in_flight)

    def _data_version(self) -> int:
        return int(self.db.execute("PRAGMA data_version").fetchone()[0])

    def start(self) -> None:
        """Start the loop in the running event loop; the first run is at once."""
        self.arm(None)
        self._task = asyncio.get_running_loop().create_task(self._serve(), name="dispatch")

    def arm(self, when: datetime | None) -> None:
        """Run the dispatcher at ``when`` (now when None), or earlier if already due then.

        ``when`` is read on the dispatcher's clock; the loop's sleeps only measure
        durations on it.
        """
        if when is None or self._when is None or when < self._when:
            self._when = when
            self._wakeup.set()

    async def stop(self) -> None:
        """End the loop and settle the sends in flight (see ``Dispatcher.close``)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.dispatcher.close()

    async def _serve(self) -> None:
        while True:
            await self._sleep()
            if self._due():
                await self._run()

    async def _sleep(self) -> None:
        """Until the next run is due, ``arm`` asks for one, or a second has passed (then
        a commit by another process counts as a reason to run now)."""
        delay = 0.0 if self._wakeup.is_set() or self._when is None else min(
            WATCH_SECONDS, (self._when - self.dispatcher.now()).total_seconds())
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=delay)
        self._wakeup.clear()
        version = self._data_version()
        if version != self._version:
            self._version = version
            self._when = None

    def _due(self) -> bool:
        return self._when is None or self._when <= self.dispatcher.now()

    async def _run(self) -> None:
        self._running = True
        try:
            wake = (await self.dispatcher.tick(wait_for_sends=False)).wake
        except Exception as error:  # noqa: BLE001 - a failing tick must not stop the reminders
            if is_busy(error):
                log.warning("database busy (another program is writing); dispatching again "
                            "in %d s", RETRY_DELAY.total_seconds())
            else:
                log.exception("dispatcher tick failed; trying again shortly")
            wake = self.dispatcher.now() + RETRY_DELAY
        finally:
            self._running = False
            self.ticks += 1
        if not self._wakeup.is_set():
            self._when = wake if wake is not None else self.dispatcher.now() + IDLE_WAKE
        else:
            self._when = None
