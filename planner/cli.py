"""The staff's command line: ``planner [--config PATH] [--db PATH] COMMAND``.

Only parsing, calling the library (``planner.service``) and formatting happen in the CLI
modules; this one gathers their commands into the ``planner`` group.
"""

from __future__ import annotations

from planner import cli_bot, cli_changes, cli_courses, cli_feed, cli_files, cli_people
from planner.cli_app import App, cli

__all__ = ["cli", "main", "cli_bot", "cli_changes", "cli_feed", "cli_courses", "cli_files",
           "cli_people"]


def main() -> None:
    cli(prog_name="planner", obj=App())
