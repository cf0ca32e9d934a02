"""Run the ANK reminder bot: ``python bot.py [--config PATH] [--db PATH] [--console]``."""

import sys

from planner.channels.telegram.app import main

if __name__ == "__main__":
    sys.exit(main())
