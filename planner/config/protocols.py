"""Protocols as data: the ``[protocol.NAME]`` tables, validated, and back to tables.

A planned course keeps its protocol as the table ``protocol_to_table`` makes, read back by
``parse_protocol``: editing the configuration later never changes a course already planned.
"""

from __future__ import annotations

import copy
import re
from datetime import time
from typing import Any

from planner.config.reader import WEEKDAYS, Reader, weekday_numbers
from planner.core.errors import ConfigError
from planner.core.model import AUDIENCES, Anchor, Clinic, Protocol, Step

DEFAULT_PROTOCOL: dict[str, Any] = {
    "infusions": 8,
    "per_week": 2,
    "gap_days": [2, 5],
    "weekday_pairs": [["mon", "thu"], ["tue", "fri"], ["wed", "sat"]],
    "infusion_time": "10:00",
    "infusion_minutes": 60,
    "audience": ["patient", "nurse", "doctor", "lab"],
    "max_gap_days_over_closure": 8,
    "closure_gaps_per_course": 1,
    "bends_per_course": 3,
    "steps": {
        "collection": {
            "anchor": "first_infusion", "offset_days": -21, "window_days": [-28, -14],
            "time": "09:00", "minutes": 240, "audience": ["patient", "nurse", "lab"],
        },
        "blood_test": {
            "anchor": "each_infusion", "offset_minutes": -30, "minutes": 15,
            "audience": ["patient", "nurse"],
        },
        "cell_delivery": {
            "anchor": "each_infusion", "offset_days": -1, "window_days": [-2, -1],
            "time": "16:00", "minutes": 30, "audience": ["lab", "nurse"],
            "same_day_time": "09:00",
        },
        "follow_up": {
            "anchor": "last_infusion", "offset_days": 14, "window_days": [11, 17],
            "time": "10:00", "minutes": 60, "audience": ["patient", "doctor"],
        },
    },
}


# The course templates a clinic gets without configuring any: the case report's course of
# eight, the standard full course of twelve and the half course of six (twice a week).
BUILT_IN_PROTOCOLS: dict[str, dict[str, Any]] = {
    "ank": {}, "ank12": {"infusions": 12}, "ank6": {"infusions": 6},
}


def parse_protocol(name: str, table: dict[str, Any], source: str) -> Protocol:
    """Validate one ``[protocol.NAME]`` table (also used for stored course snapshots)."""
    merged = copy.deepcopy(DEFAULT_PROTOCOL)
    merged.update({k: v for k, v in table.items()})
    r = Reader(source, merged, f"protocol.{name}.")
    r.check_keys(set(DEFAULT_PROTOCOL))
    pairs_raw = merged["weekday_pairs"]
    if not isinstance(pairs_raw, list):
        raise r.fail("weekday_pairs", "must be a list of weekday lists", pairs_raw)
    pairs = tuple(
        weekday_numbers(Reader(source, {"pair": p}, f"protocol.{name}.weekday_pairs.")
                         .names("pair", [], WEEKDAYS))
        for p in pairs_raw
    )
    protocol = Protocol(
        name=name,
        infusions=r.integer("infusions", 8, 1),
        per_week=r.integer("per_week", 2, 1, 7),
        gap_days=r.int_pair("gap_days", [2, 5]),
        weekday_pairs=pairs,
        infusion_time=r.clock("infusion_time", "10:00"),
        infusion_minutes=r.integer("infusion_minutes", 60, 5, 720),
        infusion_audience=r.names("audience", ["patient"], AUDIENCES),
        steps=_parse_steps(r.sub("steps")),
        max_gap_days_over_closure=r.integer("max_gap_days_over_closure", 8, 1, 60),
        closure_gaps_per_course=r.integer("closure_gaps_per_course", 1, 0),
        bends_per_course=r.integer("bends_per_course", 3, 0, 20),
    )
    if protocol.gap_days[0] < 1:
        raise r.fail("gap_days", "the smallest gap must be at least 1 day", list(protocol.gap_days))
    if protocol.max_gap_days_over_closure < protocol.gap_days[1]:
        raise r.fail("max_gap_days_over_closure", f"must be at least the largest gap of "
                     f"gap_days ({protocol.gap_days[1]})", protocol.max_gap_days_over_closure)
    return protocol


def _parse_steps(r: Reader) -> tuple[Step, ...]:
    return tuple(_parse_step(kind, r.sub(kind)) for kind in r.table)


def _parse_step(kind: str, r: Reader) -> Step:
    r.check_keys({"anchor", "offset_days", "window_days", "time", "offset_minutes",
                  "minutes", "audience", "same_day_time", "calendar"})
    if not re.fullmatch(r"[a-z][a-z0-9_]*", kind):
        raise r.fail("", "step names are lower-case letters, digits and _", kind)
    anchor_name = r.text("anchor", "each_infusion", tuple(a.value for a in Anchor))
    offset_days = r.integer("offset_days", 0, -120, 120)
    has_time = "time" in r.table
    step = Step(
        kind=kind,
        anchor=Anchor(anchor_name),
        minutes=r.integer("minutes", 30, 1, 720),
        audience=r.names("audience", ["patient"], AUDIENCES),
        offset_days=offset_days,
        window_days=r.int_pair("window_days", [offset_days, offset_days]),
        time=r.clock("time", "09:00") if has_time else None,
        offset_minutes=r.integer("offset_minutes", 0, -720, 720),
        same_day_time=r.clock("same_day_time", "09:00") if "same_day_time" in r.table else None,
        on_lab_days=r.text("calendar", "clinic", ("clinic", "lab")) == "lab",
    )
    if step.same_day_time is not None and (not has_time or step.anchor is not Anchor.EACH):
        raise r.fail("same_day_time", "is only for a dated step of each infusion (with time)")
    low, high = step.window_days
    if has_time and not low <= offset_days <= high:
        raise r.fail("window_days", f"must contain offset_days ({offset_days})",
                     list(step.window_days))
    if not has_time and (step.anchor is not Anchor.EACH or "window_days" in r.table):
        raise r.fail("time", "is required unless the step is a same-day step of each infusion "
                     "(offset_minutes)")
    return step


def protocol_to_table(protocol: Protocol) -> dict[str, Any]:
    """The TOML-shaped table of a protocol: how a course keeps its snapshot."""
    steps: dict[str, Any] = {}
    for s in protocol.steps:
        table: dict[str, Any] = {"anchor": s.anchor.value, "minutes": s.minutes,
                                 "audience": list(s.audience)}
        if s.time is None:
            table["offset_minutes"] = s.offset_minutes
        else:
            table.update(offset_days=s.offset_days, window_days=list(s.window_days),
                         time=f"{s.time:%H:%M}")
        if s.same_day_time is not None:
            table["same_day_time"] = f"{s.same_day_time:%H:%M}"
        if s.on_lab_days:
            table["calendar"] = "lab"
        steps[s.kind] = table
    return {
        "infusions": protocol.infusions,
        "per_week": protocol.per_week,
        "gap_days": list(protocol.gap_days),
        "weekday_pairs": [[WEEKDAYS[d] for d in pair] for pair in protocol.weekday_pairs],
        "infusion_time": f"{protocol.infusion_time:%H:%M}",
        "infusion_minutes": protocol.infusion_minutes,
        "audience": list(protocol.infusion_audience),
        "max_gap_days_over_closure": protocol.max_gap_days_over_closure,
        "closure_gaps_per_course": protocol.closure_gaps_per_course,
        "bends_per_course": protocol.bends_per_course,
        "steps": steps,
    }


def check_weekday_pairs(protocol: Protocol, table: dict[str, Any], source: str) -> None:
    """Each preferred pair is two different weekdays, and a weekday is in one pair only:
    the first infusion's weekday picks its pair, so a triple or an overlap is ambiguous.

    Checked for the configuration only, so a course stored earlier still reads back.
    """
    key = f"{source}: protocol.{protocol.name}.weekday_pairs"
    raw = table.get("weekday_pairs", DEFAULT_PROTOCOL["weekday_pairs"])
    seen: set[int] = set()
    for pair, written in zip(protocol.weekday_pairs, raw, strict=True):
        if len(pair) != 2 or pair[0] == pair[1]:
            raise ConfigError(f"{key}: each pair must be two different weekdays, got {written!r}")
        if seen & set(pair):
            raise ConfigError(f"{key}: a weekday may be in one pair only, got {written!r}")
        seen.update(pair)


def _minutes(clock: time) -> int:
    return clock.hour * 60 + clock.minute


def check_fits_hours(protocol: Protocol, clinic: Clinic, source: str) -> None:
    """A protocol whose events cannot fit inside opening hours can never be planned."""
    prefix = f"{source}: protocol.{protocol.name}"
    opens, closes = _minutes(clinic.opens), _minutes(clinic.closes)
    if protocol.infusion_minutes > closes - opens:
        raise ConfigError(f"{prefix}.infusion_minutes: {protocol.infusion_minutes} minutes is "
                          f"longer than the clinic is open ({clinic.opens:%H:%M}–"
                          f"{clinic.closes:%H:%M})")
    for step in protocol.steps:
        if step.time is None:
            continue
        start = _minutes(step.time)
        if start < opens or start + step.minutes > closes:
            raise ConfigError(
                f"{prefix}.steps.{step.kind}: {step.time:%H:%M} + {step.minutes} minutes "
                f"starts before the clinic opens or ends after the clinic closes "
                f"({clinic.opens:%H:%M}–{clinic.closes:%H:%M})")
