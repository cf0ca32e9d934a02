"""The one exception tree of the planner.

Raised in the core and the store, caught only at the CLI and bot edges, where each
becomes one clear line (and exit status 2 on the CLI). Every message names the field,
argument or rule at fault and the reason, because staff read it, not developers.
"""

from __future__ import annotations


class PlannerError(Exception):
    """Base of every error a user can cause or fix."""


class ConfigError(PlannerError):
    """A configuration file is missing, unreadable or holds an invalid value.

    The message reads ``FILE: KEY: reason, got VALUE``.
    """


class InputError(PlannerError):
    """A command argument is malformed (a date that does not exist, a wrong format)."""


class NotFoundError(PlannerError):
    """A patient, staff member, course or event id that is not in the database."""


class PlanningError(PlannerError):
    """The constraints cannot be met: names the rule, the date and the reason.

    ``suggestion`` is the nearest start date that would work, when one was found.
    """

    def __init__(self, rule: str, reason: str, suggestion: str | None = None) -> None:
        self.rule = rule
        self.reason = reason
        self.suggestion = suggestion
        text = f"{rule}: {reason}"
        if suggestion:
            text += f"; {suggestion}"
        super().__init__(text)


class NoticeWindowError(PlannerError):
    """A change reaches inside the culture lab's notice window and needs ``--force``."""


class StoreError(PlannerError):
    """The database file cannot be used (not SQLite, newer schema, locked)."""


class MissingDatabaseError(StoreError):
    """No database at the path given: only ``planner init`` creates one, so a mistyped
    ``--db`` is said, not answered from a new empty file."""


class ReadOnlyDatabaseError(StoreError):
    """A change was asked of a database file the planner may only read."""


class DatabaseBusyError(StoreError):
    """Another program held the database's write lock past the busy timeout.

    Nothing was written; the same command can simply be run again. The CLI exits with
    its own status (3), apart from the 2 of a user's mistake.
    """
