"""Read the TOML configuration into validated settings.

Every key is optional: a missing key takes the default documented in
``config.example.toml`` (a test keeps the two equal). A wrong value raises ``ConfigError``
naming the file, the key and the reason, e.g.
``clinic.toml: protocol.ank.infusions: must be a whole number >= 1, got 'eight'``.

The sections live in their own modules: protocols in ``config_protocol``, reminders, the
bot and feeds in ``config_sections``, the typed reader in ``config_reader``.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from planner.config.protocols import (
    BUILT_IN_PROTOCOLS,
    check_fits_hours,
    check_weekday_pairs,
    parse_protocol,
)
from planner.config.reader import WEEKDAYS, Reader, weekday_numbers
from planner.config.sections import (
    CONTACT_KEYS,
    BotSettings,
    FeedSettings,
    parse_bot,
    parse_feed,
    parse_letterhead,
    parse_reminders,
)
from planner.core.errors import ConfigError
from planner.core.model import INFUSION, Clinic, Protocol
from planner.core.reminders import ReminderPolicy
from planner.texts.letterhead import Letterhead

BUILT_IN = "<built-in defaults>"

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
    busy_timeout: int = 10
    """Seconds to wait for another program's write to end before a command gives up."""
    reminders: ReminderPolicy = field(default_factory=ReminderPolicy)
    bot: BotSettings = field(default_factory=BotSettings)
    feed: FeedSettings = field(default_factory=FeedSettings)
    source: str = BUILT_IN
    letterhead: Letterhead = field(default_factory=Letterhead)

    def protocol(self, name: str | None) -> Protocol:
        wanted = name or self.default_protocol
        if wanted not in self.protocols:
            known = ", ".join(sorted(self.protocols))
            raise ConfigError(f"--protocol: unknown protocol {wanted!r}; known: {known}")
        return self.protocols[wanted]


def _parse_clinic(r: Reader) -> Clinic:
    r.check_keys({"name", "timezone", "open_weekdays", "opens", "closes", "holidays",
                  "year_end_closure", "closed_dates", "infusion_chairs",
                  "collections_per_day", "lab_notice_days", "infusion_starts_per_slot",
                  "lab_open_weekdays", "lab_closed_dates", *CONTACT_KEYS})
    zone = r.text("timezone", "Asia/Tokyo")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise r.fail("timezone", "is not a known IANA time zone", zone) from None
    opens, closes = r.clock("opens", "09:00"), r.clock("closes", "18:00")
    if opens >= closes:
        raise r.fail("closes", f"must be later than opens ({opens:%H:%M})", f"{closes:%H:%M}")
    country = r.text("holidays", "JP")
    if country.lower() != "none" and not _known_holiday_country(country.upper()):
        raise r.fail("holidays", "unknown country code (use e.g. \"JP\" or \"none\")", country)
    return Clinic(
        name=r.text("name", "ANK clinic"),
        timezone=zone,
        open_weekdays=frozenset(weekday_numbers(
            r.names("open_weekdays", ["mon", "tue", "wed", "thu", "fri", "sat"], WEEKDAYS))),
        opens=opens,
        closes=closes,
        holiday_country=None if country.lower() == "none" else country.upper(),
        year_end_closure=_year_end(r),
        closed_dates=_closed_dates(r),
        infusion_chairs=r.integer("infusion_chairs", 3, 1, 1000),
        collections_per_day=r.integer("collections_per_day", 2, 1, 1000),
        lab_notice_days=r.integer("lab_notice_days", 2, 0, 60),
        infusion_starts_per_slot=r.integer("infusion_starts_per_slot", 0, 0, 1000),
        lab_open_weekdays=frozenset(weekday_numbers(r.names(
            "lab_open_weekdays", ["mon", "tue", "wed", "thu", "fri", "sat"], WEEKDAYS))),
        lab_closed_dates=_closed_dates(r, "lab_closed_dates"),
    )


def _known_holiday_country(code: str) -> bool:
    """Whether the ``holidays`` package has the public holidays of country ``code``.

    JP, the default and the clinic's own country, is answered without importing the
    package: that import takes about 35 ms, and every command reads the config (a test
    checks that the package does list JP). Other codes are looked up in the package.
    """
    if code == "JP":
        return True
    import holidays

    return code in holidays.list_supported_countries()


def _year_end(r: Reader) -> tuple[tuple[int, int], tuple[int, int]] | None:
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


def _closed_dates(r: Reader, key: str = "closed_dates") -> frozenset[date]:
    value = r.table.get(key, [])
    if not isinstance(value, list):
        raise r.fail(key, "must be a list of dates", value)
    days = set()
    for item in value:
        if isinstance(item, date):
            days.add(item)
            continue
        try:
            days.add(date.fromisoformat(str(item)))
        except ValueError:
            raise r.fail(key, "each entry must be a date YYYY-MM-DD", item) from None
    return frozenset(days)


def _parse_export(r: Reader) -> ExportSettings:
    r.check_keys({"staff_names", "staff_language", "alarm_minutes", "uid_domain"})
    alarm = r.integer("alarm_minutes", 0, 0, 10080)
    return ExportSettings(
        staff_names=r.text("staff_names", "initials", ("full", "initials", "id")),
        staff_language=r.text("staff_language", "ja", ("ja", "en")),
        alarm_minutes=alarm or None,
        uid_domain=_uid_domain(r),
    )


def _uid_domain(r: Reader) -> str:
    """The domain part of every calendar UID: a DNS name, so no .ics line can break."""
    value = r.text("uid_domain", "ank-planner.invalid")
    if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?", value):
        raise r.fail("uid_domain", "must be a domain name (letters, digits, dots, hyphens)",
                     value)
    return value


def parse_settings(data: dict[str, Any], source: str) -> Settings:
    """Validate a whole configuration table."""
    r = Reader(source, data)
    r.check_keys({"clinic", "protocol", "default_protocol", "export", "database",
                  "reminders", "bot", "feed", "privacy"})
    protocols_table = r.sub("protocol").table or BUILT_IN_PROTOCOLS
    protocols = {}
    for name, table in protocols_table.items():
        if not isinstance(table, dict):
            raise r.fail(f"protocol.{name}", "must be a table", table)
        protocols[name] = parse_protocol(name, table, source)
    default = r.text("default_protocol", "ank" if "ank" in protocols else next(iter(protocols)))
    if default not in protocols:
        raise r.fail("default_protocol", "names no protocol defined here", default)
    database_table = r.sub("database")
    database_table.check_keys({"path", "busy_timeout"})
    database = database_table.text("path", "planner.db")
    clinic = _parse_clinic(r.sub("clinic"))
    for protocol in protocols.values():
        check_fits_hours(protocol, clinic, source)
        check_weekday_pairs(protocol, protocols_table[protocol.name], source)
    reminders = parse_reminders(r.sub("reminders"))
    if "rule" in r.sub("reminders").table:
        _check_rule_kinds(reminders, protocols, source)
    return Settings(
        clinic=clinic,
        protocols=protocols,
        default_protocol=default,
        export=_parse_export(r.sub("export")),
        database=Path(database),
        busy_timeout=database_table.integer("busy_timeout", 10, 1, 600),
        reminders=reminders,
        bot=parse_bot(r.sub("bot")),
        feed=parse_feed(r.sub("feed")),
        source=source,
        letterhead=parse_letterhead(r.sub("clinic"), r.sub("privacy"), clinic.name),
    )


def _check_rule_kinds(policy: ReminderPolicy, protocols: dict[str, Protocol],
                      source: str) -> None:
    """A rule about a kind no protocol has would never remind anybody: a typo."""
    kinds = {INFUSION} | {step.kind for p in protocols.values() for step in p.steps}
    for index, rule in enumerate(policy.rules):
        if rule.kind not in kinds:
            raise ConfigError(f"{source}: reminders.rule[{index}].kind: is not an event kind "
                              f"of any protocol (kinds: {', '.join(sorted(kinds))}), "
                              f"got {rule.kind!r}")


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
