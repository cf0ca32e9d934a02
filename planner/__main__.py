"""``python -m planner`` runs the same CLI as the ``planner`` command."""

from planner.cli.main import main

main()
