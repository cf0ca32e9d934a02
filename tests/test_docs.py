"""The CLI documents itself: every command has help text with an example; the README
(once written) mentions every command."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from planner.cli.main import cli

README = Path(__file__).resolve().parent.parent / "README.md"


def _commands(group: click.Group, prefix: tuple[str, ...] = ()
              ) -> list[tuple[tuple[str, ...], click.Command]]:
    """Every command and subcommand under ``group``, with its path of names."""
    found = []
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        found.append((path, command))
        if isinstance(command, click.Group):
            found += _commands(command, path)
    return found


COMMANDS = _commands(cli)
COMMAND_IDS = [" ".join(path) for path, _ in COMMANDS]


def test_the_cli_has_the_commands_staff_need() -> None:
    assert {"init", "patient", "patient add", "patient list", "patient show", "staff",
            "staff add", "staff list", "plan", "show", "agenda", "reschedule", "missed",
            "postpone", "cancel", "export", "backup", "demo"} <= set(COMMAND_IDS)


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=COMMAND_IDS)
def test_every_command_has_help_text(path: tuple[str, ...], command: click.Command) -> None:
    assert (command.help or "").strip(), f"planner {' '.join(path)} has no help"
    assert command.get_short_help_str().strip()


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=COMMAND_IDS)
def test_every_command_help_shows_an_example(path: tuple[str, ...],
                                             command: click.Command) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="planner")

    assert result.exit_code == 0, result.output
    assert "Example" in result.output
    assert f"planner {' '.join(path)}" in result.output


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=COMMAND_IDS)
def test_every_option_has_help_text(path: tuple[str, ...], command: click.Command) -> None:
    options = [p for p in command.params if isinstance(p, click.Option)]

    assert [o.name for o in options if not o.help] == []


def test_planner_help_exits_0_and_lists_the_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"], prog_name="planner")

    assert result.exit_code == 0
    assert result.output.startswith("Usage: planner [OPTIONS] COMMAND [ARGS]...")
    for name in cli.commands:
        assert name in result.output


def test_python_m_planner_help_exits_0() -> None:
    result = subprocess.run([sys.executable, "-m", "planner", "--help"], capture_output=True,
                            text=True, timeout=60, check=False)

    assert result.returncode == 0, result.stderr
    assert "Plan ANK cell-therapy courses" in result.stdout


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_readme_mentions_every_top_level_command(name: str) -> None:
    if not README.exists():
        pytest.skip("README.md is not written yet")

    usage = re.compile(rf"\bplanner\b[^\n]*\s{re.escape(name)}\b")
    assert usage.search(README.read_text(encoding="utf-8")), f"no 'planner … {name}' example"
