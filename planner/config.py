"""Read the TOML configuration into validated settings.

Every key is optional: a missing key takes the default documented in
``config.example.toml`` (a test keeps the two equal). A wrong value raises ``ConfigError``
naming the file, the key and the reason, e.g.
``clinic.toml: protocol.ank.infusions: must be a whole number >= 1, got 'eight'``.
"""

from __future__ import annotations

import copy
import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from planner.config_sections import (
    BotSettings,
    FeedSettings,
    parse_bot,
    parse_feed,
    parse_reminders,
)
from planner.errors import ConfigError
from planner.model import AUDIENCES, Anchor, Clinic, Protocol, Step
from planner.reminders import ReminderPolicy

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
BUILT_IN = "<built-in defaults>"

DEFAULT_PROTOCOL: dict[str, Any] = {
    "infusions": 8,
    "per_week": 2,
    "gap_days": [2, 5],
    "weekday_pairs": [["mon", "thu"], ["tue", "fri"], ["wed", "sat"]],
    "infusion_time": "10:00",
    "infusion_minutes": 60,
    "audience": ["patient", "nurse", "doctor", "lab"],
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
        },
        "follow_up": {
            "anchor": "last_infusion", "offset_days": 14, "window_days": [11, 17],
            "time": "10:00", "minutes": 60, "audience": ["patient", "doctor"],
        },
    },
}


@dataclass(frozen=True)
class ExportSettings:
    """How calendars are written."""

    staff_names: str = "initials"
    staff_language: str = "ja"
    alarm_minutes: int | None = None
    uid_domain: str = "ank-planner.invalid"


@dataclass(frozen=True)
class Settings:
    """Everything read from one configuration file (or the built-in defaults)."""

    clinic: Clinic = field(default_factory=Clinic)
    protocols: dict[str, Protocol] = field(default_factory=dict)
    default_protocol: str = "ank"
    export: ExportSettings = field(default_factory=ExportSettings)
    database: Path = Path("planner.db")
    reminders: ReminderPolicy = field(default_factory=ReminderPolicy)
    bot: BotSettings = field(default_factory=BotSettings)
    feed: FeedSettings = field(default_factory=FeedSettings)
    source: str = BUILT_IN

    def protocol(self, name: str | None) -> Protocol:
        wanted = name or self.default_protocol
        if wanted not in self.protocols:
            known = ", ".join(sorted(self.protocols))
            raise ConfigError(f"--protocol: unknown protocol {wanted!r}; known: {known}")
        return self.protocols[wanted]


class _Reader:
    """Typed access to one TOML table; every error names the source and the full key."""

    def __init__(self, source: str, table: dict[str, Any], prefix: str = "") -> None:
        self.source, self.table, self.prefix = source, table, prefix

    def fail(self, key: str, reason: str, value: Any = ...) -> ConfigError:
        got = "" if value is ... else f", got {value!r}"
        return ConfigError(f"{self.source}: {self.prefix}{key}: {reason}{got}")

    def sub(self, key: str) -> _Reader:
        value = self.table.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table", value)
        return _Reader(self.source, value, f"{self.prefix}{key}.")

    def check_keys(self, allowed: set[str]) -> None:
        for key in self.table:
            if key not in allowed:
                raise self.fail(key, f"unknown key (known: {', '.join(sorted(allowed))})")

    def integer(self, key: str, default: int, low: int | None = None, high: int | None = None
                ) -> int:
        value = self.table.get(key, default)
        bad = not isinstance(value, int) or isinstance(value, bool)
        if bad or (low is not None and value < low) or (high is not None and value > high):
            bounds = _bounds(low, high)
            raise self.fail(key, f"must be a whole number{bounds}", value)
        return int(value)

    def text(self, key: str, default: str, choices: tuple[str, ...] = ()) -> str:
        value = self.table.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "must be a non-empty string", value)
        if choices and value not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}", value)
        return value

    def clock(self, key: str, default: str) -> time:
        value = self.table.get(key, default)
        if not isinstance(value, str) or not re.fullmatch(r"\d{2}:\d{2}", value):
            raise self.fail(key, "must be a time written HH:MM", value)
        try:
            return time.fromisoformat(value)
        except ValueError:
            raise self.fail(key, "is not a valid time of day", value) from None

    def int_pair(self, key: str, default: list[int]) -> tuple[int, int]:
        value = self.table.get(key, default)
        ok = (isinstance(value, list) and len(value) == 2
              and all(isinstance(v, int) and not isinstance(v, bool) for v in value))
        if not ok or value[0] > value[1]:
            raise self.fail(key, "must be two whole numbers [low, high] with low <= high", value)
        return int(value[0]), int(value[1])

    def names(self, key: str, default: list[str], allowed: tuple[str, ...]) -> tuple[str, ...]:
        value = self.table.get(key, default)
        if not isinstance(value, list) or not value:
            raise self.fail(key, "must be a non-empty list", value)
        for item in value:
            if item not in allowed:
                raise self.fail(key, f"each entry must be one of {', '.join(allowed)}", item)
        return tuple(value)


def _bounds(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f" from {low} to {high}"
    if low is not None:
        return f" >= {low}"
    return f" <= {high}" if high is not None else ""


def _weekday_numbers(names: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(WEEKDAYS.index(n) for n in names)


def parse_protocol(name: str, table: dict[str, Any], source: str) -> Protocol:
    """Validate one ``[protocol.NAME]`` table (also used for stored course snapshots)."""
    merged = copy.deepcopy(DEFAULT_PROTOCOL)
    merged.update({k: v for k, v in table.items()})
    r = _Reader(source, merged, f"protocol.{name}.")
    r.check_keys(set(DEFAULT_PROTOCOL))
    pairs_raw = merged["weekday_pairs"]
    if not isinstance(pairs_raw, list):
        raise r.fail("weekday_pairs", "must be a list of weekday lists", pairs_raw)
    pairs = tuple(
        _weekday_numbers(_Reader(source, {"pair": p}, f"protocol.{name}.weekday_pairs.")
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
    )
    if protocol.gap_days[0] < 1:
        raise r.fail("gap_days", "the smallest gap must be at least 1 day", list(protocol.gap_days))
    return protocol


def _parse_steps(r: _Reader) -> tuple[Step, ...]:
    return tuple(_parse_step(kind, r.sub(kind)) for kind in r.table)


def _parse_step(kind: str, r: _Reader) -> Step:
    r.check_keys({"anchor", "offset_days", "window_days", "time", "offset_minutes",
                  "minutes", "audience"})
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
    )
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
        steps[s.kind] = table
    return {
        "infusions": protocol.infusions,
        "per_week": protocol.per_week,
        "gap_days": list(protocol.gap_days),
        "weekday_pairs": [[WEEKDAYS[d] for d in pair] for pair in protocol.weekday_pairs],
        "infusion_time": f"{protocol.infusion_time:%H:%M}",
        "infusion_minutes": protocol.infusion_minutes,
        "audience": list(protocol.infusion_audience),
        "steps": steps,
    }


def _parse_clinic(r: _Reader) -> Clinic:
    r.check_keys({"name", "timezone", "open_weekdays", "opens", "closes", "holidays",
                  "year_end_closure", "closed_dates", "infusion_chairs",
                  "collections_per_day", "lab_notice_days"})
    zone = r.text("timezone", "Asia/Tokyo")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise r.fail("timezone", "is not a known IANA time zone", zone) from None
    opens, closes = r.clock("opens", "09:00"), r.clock("closes", "18:00")
    if opens >= closes:
        raise r.fail("closes", f"must be later than opens ({opens:%H:%M})", f"{closes:%H:%M}")
    country = r.text("holidays", "JP")
    if country.lower() != "none" and country.upper() not in holidays.list_supported_countries():
        raise r.fail("holidays", "unknown country code (use e.g. \"JP\" or \"none\")", country)
    return Clinic(
        name=r.text("name", "ANK clinic"),
        timezone=zone,
        open_weekdays=frozenset(_weekday_numbers(
            r.names("open_weekdays", ["mon", "tue", "wed", "thu", "fri", "sat"], WEEKDAYS))),
        opens=opens,
        closes=closes,
        holiday_country=None if country.lower() == "none" else country.upper(),
        year_end_closure=_year_end(r),
        closed_dates=_closed_dates(r),
        infusion_chairs=r.integer("infusion_chairs", 3, 1, 1000),
        collections_per_day=r.integer("collections_per_day", 2, 1, 1000),
        lab_notice_days=r.integer("lab_notice_days", 2, 0, 60),
    )


def _year_end(r: _Reader) -> tuple[tuple[int, int], tuple[int, int]] | None:
    value = r.table.get("year_end_closure", ["12-29", "01-03"])
    if value == []:
        return None
    if not (isinstance(value, list) and len(value) == 2):
        raise r.fail("year_end_closure", 'must be ["MM-DD", "MM-DD"] or []', value)
    ends = []
    for item in value:
        try:
            parsed = date.fromisoformat(f"2000-{item}")
        except (TypeError, ValueError):
            raise r.fail("year_end_closure", 'must be ["MM-DD", "MM-DD"] or []', value) from None
        ends.append((parsed.month, parsed.day))
    return ends[0], ends[1]


def _closed_dates(r: _Reader) -> frozenset[date]:
    value = r.table.get("closed_dates", [])
    if not isinstance(value, list):
        raise r.fail("closed_dates", "must be a list of dates", value)
    days = set()
    for item in value:
        if isinstance(item, date):
            days.add(item)
            continue
        try:
            days.add(date.fromisoformat(str(item)))
        except ValueError:
            raise r.fail("closed_dates", "each entry must be a date YYYY-MM-DD", item) from None
    return frozenset(days)


def _parse_export(r: _Reader) -> ExportSettings:
    r.check_keys({"staff_names", "staff_language", "alarm_minutes", "uid_domain"})
    alarm = r.integer("alarm_minutes", 0, 0, 10080)
    return ExportSettings(
        staff_names=r.text("staff_names", "initials", ("full", "initials", "id")),
        staff_language=r.text("staff_language", "ja", ("ja", "en")),
        alarm_minutes=alarm or None,
        uid_domain=r.text("uid_domain", "ank-planner.invalid"),
    )


def parse_settings(data: dict[str, Any], source: str) -> Settings:
    """Validate a whole configuration table."""
    r = _Reader(source, data)
    r.check_keys({"clinic", "protocol", "default_protocol", "export", "database",
                  "reminders", "bot", "feed"})
    protocols_table = r.sub("protocol").table or {"ank": {}}
    protocols = {}
    for name, table in protocols_table.items():
        if not isinstance(table, dict):
            raise r.fail(f"protocol.{name}", "must be a table", table)
        protocols[name] = parse_protocol(name, table, source)
    default = r.text("default_protocol", "ank" if "ank" in protocols else next(iter(protocols)))
    if default not in protocols:
        raise r.fail("default_protocol", "names no protocol defined here", default)
    database = r.sub("database").text("path", "planner.db")
    clinic = _parse_clinic(r.sub("clinic"))
    for protocol in protocols.values():
        _check_fits_hours(protocol, clinic, source)
    return Settings(
        clinic=clinic,
        protocols=protocols,
        default_protocol=default,
        export=_parse_export(r.sub("export")),
        database=Path(database),
        reminders=parse_reminders(r.sub("reminders")),
        bot=parse_bot(r.sub("bot")),
        feed=parse_feed(r.sub("feed")),
        source=source,
    )


def _minutes(clock: time) -> int:
    return clock.hour * 60 + clock.minute


def _check_fits_hours(protocol: Protocol, clinic: Clinic, source: str) -> None:
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


def load_settings(path: str | os.PathLike[str] | None) -> Settings:
    """Read ``path`` (or the built-in defaults when None); errors name the file and key."""
    if path is None:
        return parse_settings({}, BUILT_IN)
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{source}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read the config file ({exc.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{source}: the config file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    return parse_settings(data, source)
