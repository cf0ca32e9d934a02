"""The staff's command line: ``planner [--config PATH] [--db PATH] COMMAND``.

Only parsing, calling the library (``planner.service``) and formatting happen in the CLI
modules; this one gathers their commands into the ``planner`` group.
"""

from __future__ import annotations

from planner.cli import bot as cli_bot
from planner.cli import changes as cli_changes
from planner.cli import courses as cli_courses
from planner.cli import feed as cli_feed
from planner.cli import files as cli_files
from planner.cli import people as cli_people
from planner.cli.app import App, cli

__all__ = ["cli", "main", "cli_bot", "cli_changes", "cli_feed", "cli_courses", "cli_files",
           "cli_people"]


def main() -> None:
    cli(prog_name="planner", obj=App())
