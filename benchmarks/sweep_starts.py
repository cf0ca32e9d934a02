"""Sweep every day of 2027 and 2028 as the first infusion with the default configuration.

Run: python benchmarks/sweep_starts.py [--first 2027-01-01] [--last 2028-12-31]

Prints the share of start days that get a plan, the longest run of refused days, the
refusals grouped by the rule and the closure the message names, and how many plans bend
a rule (``Plan.exceptions``, when the planner records bends). Pure planning: no database.
"""

from __future__ import annotations

import argparse
import re
import time
from collections import Counter
from dataclasses import replace
from datetime import date, timedelta

from planner.config.settings import parse_settings
from planner.core.calendar import ClinicCalendar
from planner.core.errors import PlanningError
from planner.core.schedule import plan_course

_CAUSES = (
    ("Golden Week", "Golden Week"),
    ("year-end closure", "year-end closure"),
    ("public holiday", "public holiday"),
    ("closed on", "weekly closed day"),
    ("chairs are taken", "full day"),
    ("no room", "full day"),
)


def _cause(error: PlanningError) -> str:
    """The rule and the kind of closure a refusal names, for grouping."""
    text = str(error).split("; the nearest", 1)[0]
    for needle, label in _CAUSES:
        if needle in text:
            return f"{error.rule}: {label}"
    return f"{error.rule}: {re.sub(r'[0-9-]{10}', 'DATE', error.reason)[:70]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--first", type=date.fromisoformat, default=date(2027, 1, 1))
    parser.add_argument("--last", type=date.fromisoformat, default=date(2028, 12, 31))
    parser.add_argument("--protocol", default=None, help="A built-in protocol (default: ank).")
    parser.add_argument("--no-bends", action="store_true",
                        help="Bend nothing (bends_per_course = 0), to see the refusals' causes.")
    args = parser.parse_args()
    settings = parse_settings({}, "sweep")
    protocol = settings.protocol(args.protocol)
    if args.no_bends and hasattr(protocol, "bends_per_course"):
        protocol = replace(protocol, bends_per_course=0)
    calendar = ClinicCalendar(settings.clinic)
    days = [args.first + timedelta(days=i) for i in range((args.last - args.first).days + 1)]
    planned, bent, causes = 0, 0, Counter[str]()
    run, longest, longest_end = 0, 0, args.first
    started = time.perf_counter()
    for day in days:
        try:
            plan = plan_course(protocol, calendar, first_infusion=day)
        except PlanningError as error:
            causes[_cause(error)] += 1
            run += 1
            if run > longest:
                longest, longest_end = run, day
            continue
        planned += 1
        run = 0
        if getattr(plan, "exceptions", ()):
            bent += 1
    elapsed = time.perf_counter() - started
    refused = len(days) - planned
    print(f"protocol {protocol.name}; start days {args.first} to {args.last}: {len(days)}")
    print(f"planned: {planned} ({planned / len(days):.1%}), of which {bent} bend a rule; "
          f"refused: {refused}")
    if longest:
        start = longest_end - timedelta(days=longest - 1)
        print(f"longest run of refused days: {longest} ({start} to {longest_end})")
    else:
        print("longest run of refused days: 0")
    for cause, count in causes.most_common():
        print(f"  {count:4d}  {cause}")
    print(f"({elapsed:.1f} s, {elapsed / len(days) * 1000:.2f} ms per start day)")


if __name__ == "__main__":
    main()
