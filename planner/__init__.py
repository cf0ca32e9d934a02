"""ANK course planner: plan courses, keep them in SQLite, export calendars, remind people."""

__version__ = "0.1.0"
