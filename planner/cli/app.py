"""The CLI's group, its shared state and its error handling.

Every ``PlannerError`` becomes one line ``Error: …`` and exit status 2, except a database
that stayed busy past its timeout: exit status 3 (run the command again). The database is
left as it was because every change runs in one transaction. Commands live in the
``cli_*`` modules; ``planner.cli.main`` puts them together.

Nothing heavy is imported here or at the top of a command module: the settings, the store
and the library (``planner.service``) are imported when a command first needs them, so
``planner --help`` loads only click, and ``planner show`` never loads the calendar,
Telegram or web-server libraries (``tests/test_cli_imports.py`` checks it).
"""

from __future__ import annotations

import getpass
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import click

from planner.clock import Clock, SystemClock
from planner.core.errors import DatabaseBusyError, PlannerError

if TYPE_CHECKING:
    from planner.config.settings import Settings
    from planner.service import Planner
    from planner.store.courses import Store


class UserError(click.ClickException):
    """A user's mistake: one line on stderr, exit status 2."""

    exit_code = 2


class BusyDatabase(click.ClickException):
    """The database stayed locked by another program: one line, exit status 3."""

    exit_code = 3
class OneLineUsageError(click.UsageError):
    """Click's parse error (missing argument, unknown option, bad value) on one line.

    Click prints ``Usage:`` and ``Try …`` lines before its ``Error:``; staff and scripts
    read one line, so the hint to ``--help`` goes on the same line.
    """

    def show(self, file: IO[Any] | None = None) -> None:
        hint = f" (see '{self.ctx.command_path} --help')" if self.ctx is not None else ""
        message = " ".join(self.format_message().split())  # "Choose from:" lists on lines
        click.echo(f"Error: {message}{hint}", file=file, err=True)


@contextmanager
def _one_line_usage() -> Iterator[None]:
    try:
        yield
    except click.exceptions.NoArgsIsHelpError:
        raise  # ``planner`` alone prints its help, as before
    except click.UsageError as error:
        if isinstance(error, OneLineUsageError):
            raise
        raise OneLineUsageError(error.format_message(), error.ctx) from None


class PlannerCommand(click.Command):
    """A command whose parse errors are one line."""

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        with _one_line_usage():
            return super().make_context(info_name, args, parent, **extra)


class PlannerGroup(click.Group):
    """Turns the planner's errors into one clear line wherever they are raised."""

    command_class = PlannerCommand
    group_class = type

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        with _one_line_usage():
            return super().make_context(info_name, args, parent, **extra)

    def resolve_command(self, ctx: click.Context, args: list[str]
                        ) -> tuple[str | None, click.Command | None, list[str]]:
        with _one_line_usage():
            return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            try:
                return super().invoke(ctx)
            except sqlite3.OperationalError as exc:
                from planner.store.database import database_error

                app = ctx.find_object(App)
                where = str(app.database_path.absolute()) if app else "the database"
                raise database_error(exc, where) or exc from None
        except DatabaseBusyError as exc:
            raise BusyDatabase(str(exc)) from None
        except PlannerError as exc:
            raise UserError(str(exc)) from None


@dataclass
class App:
    """What every command needs, opened lazily so ``--help`` never touches a database."""

    config_path: str | None = None
    db_path: str | None = None
    clock: Clock = field(default_factory=SystemClock)
    actor: str = "cli"
    create_database: bool = False
    """Only ``planner init`` sets it: every other command needs an existing database."""
    _settings: Settings | None = None
    _store: Store | None = None
    _planner: Planner | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from planner.config.settings import load_settings

            self._settings = load_settings(self.config_path)
        return self._settings

    @property
    def database_path(self) -> Path:
        """``--db`` (or PLANNER_DB), else the config's ``[database] path``."""
        return Path(self.db_path) if self.db_path else self.settings.database

    @property
    def store(self) -> Store:
        """The opened (and migrated) database; commands that only read need no more."""
        if self._store is None:
            from planner.store.courses import Store, open_database

            settings = self.settings  # a broken config must not leave a new database behind
            self._store = Store(open_database(self.database_path, create=self.create_database,
                                              busy_timeout=settings.busy_timeout))
        return self._store

    @property
    def planner(self) -> Planner:
        """The library over the store, for commands that plan, change or export."""
        if self._planner is None:
            from planner.service import Planner

            self._planner = Planner(self.store, self.settings, self.clock, self.actor)
        return self._planner

    @property
    def tz(self) -> ZoneInfo:
        """The clinic's time zone, the one ``Planner.tz`` shows times in."""
        return ZoneInfo(self.settings.clinic.timezone)

    def now(self) -> datetime:
        """The clock's instant in the clinic's zone, as ``Planner.now`` gives it."""
        return self.clock.now().astimezone(self.tz)

    def close(self) -> None:
        """Close the database if a command opened it (tests run many commands in one
        process; a connection left to the garbage collector checkpoints at a random time)."""
        if self._store is not None:
            self._store.db.close()
        self._store = None
        self._planner = None


pass_app = click.make_pass_decorator(App)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@click.group(cls=PlannerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", envvar="PLANNER_CONFIG", metavar="PATH",
              help="Configuration file (TOML). Default: built-in settings, see "
                   "config.example.toml. Also read from PLANNER_CONFIG.")
@click.option("--db", "db_path", envvar="PLANNER_DB", metavar="PATH",
              help="SQLite database file. Default: [database] path in the config, "
                   "planner.db. Also read from PLANNER_DB. Only `planner init` "
                   "creates it.")
@click.version_option(package_name="ank-planner")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, db_path: str | None) -> None:
    """Plan ANK cell-therapy courses, keep them in SQLite and export calendars.

    \b
    Example:
      planner init
      planner patient add "山田 太郎" --lang ja --mrn 12345
      planner plan 1 --first-infusion 2027-06-07
      planner show 1
    """
    app = ctx.ensure_object(App)
    app.config_path = config_path if config_path is not None else app.config_path
    app.db_path = db_path if db_path is not None else app.db_path
    if app.actor == "cli":
        app.actor = _actor()
