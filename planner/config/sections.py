"""The [reminders] and [bot] sections of the configuration.

Kept apart from ``config.py`` (clinic and protocols) because only the bot and the
reminder commands need them; the same reader gives errors that name file and key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from planner.config.reader import Reader
from planner.core.model import AUDIENCES
from planner.core.reminders import ReminderPolicy, ReminderRule
from planner.texts.letterhead import Letterhead

DEFAULT_RULES: list[dict[str, Any]] = [
    {"kind": "collection", "audience": "patient", "days_before": 2, "at": "10:00"},
    {"kind": "collection", "audience": "patient", "days_before": 1, "at": "18:00"},
    {"kind": "infusion", "audience": "patient", "days_before": 1, "at": "18:00"},
    {"kind": "infusion", "audience": "patient", "minutes_before": 120},
    {"kind": "infusion", "audience": "patient", "check_in_at": "19:00"},
    {"kind": "cell_delivery", "audience": "lab", "days_before": 2, "at": "10:00"},
    {"kind": "follow_up", "audience": "patient", "days_before": 3, "at": "10:00"},
]

TOKEN_VARIABLE = "PLANNER_BOT_TOKEN"


@dataclass(frozen=True)
class BotSettings:
    """How the bot reaches Telegram. The token is read from the environment first."""

    token: str = ""
    username: str = "ank_clinic_bot"
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    link_days: int = 7
    messages_per_second: float = 29.0
    seconds_between_messages_to_one_chat: float = 1.0

    def __repr__(self) -> str:  # never show the token, even in a traceback's locals
        return f"BotSettings(username={self.username!r}, base_url={self.base_url!r}, token=***)"


@dataclass(frozen=True)
class FeedSettings:
    """The calendar feed server."""

    host: str = "127.0.0.1"
    port: int = 8080
    base_url: str = "http://127.0.0.1:8080"
    cancelled_days: int = 30
    refresh_minutes: int = 60
    serve_in_bot: bool = True
    past_days: int = 7
    future_days: int = 56


def parse_feed(r: Reader) -> FeedSettings:
    r.check_keys({"host", "port", "base_url", "cancelled_days", "refresh_minutes",
                  "serve_in_bot", "past_days", "future_days"})
    serve = r.table.get("serve_in_bot", True)
    if not isinstance(serve, bool):
        raise r.fail("serve_in_bot", "must be true or false", serve)
    port = r.integer("port", 8080, 0, 65535)
    return FeedSettings(
        host=r.text("host", "127.0.0.1"),
        port=port,
        base_url=r.url("base_url", f"http://127.0.0.1:{port}").rstrip("/"),
        cancelled_days=r.integer("cancelled_days", 30, 0, 3650),
        refresh_minutes=r.integer("refresh_minutes", 60, 5, 7 * 24 * 60),
        serve_in_bot=serve,
        past_days=r.integer("past_days", 7, 0, 3650),
        future_days=r.integer("future_days", 56, 0, 3650),
    )


def parse_reminders(r: Reader) -> ReminderPolicy:
    r.check_keys({"quiet_hours", "max_late_minutes", "min_lead_minutes", "digest_time",
                  "digest_roles", "rule"})
    quiet = r.table.get("quiet_hours", ["21:00", "08:00"])
    if quiet == []:
        quiet_start = quiet_end = None
    else:
        if not (isinstance(quiet, list) and len(quiet) == 2):
            raise r.fail("quiet_hours", 'must be ["HH:MM", "HH:MM"] or []', quiet)
        pair = Reader(r.source, {"start": quiet[0], "end": quiet[1]}, f"{r.prefix}quiet_hours.")
        quiet_start, quiet_end = pair.clock("start", "21:00"), pair.clock("end", "08:00")
        if quiet_start == quiet_end:  # would silently mean "never quiet"
            raise r.fail("quiet_hours", "start and end are the same time; give two different "
                         "times, or [] for no quiet hours", quiet)
    rules_raw = r.table.get("rule", DEFAULT_RULES)
    if not isinstance(rules_raw, list):
        raise r.fail("rule", "must be a list of [[reminders.rule]] tables", rules_raw)
    rules = []
    for index, raw in enumerate(rules_raw):
        if not isinstance(raw, dict):
            raise r.fail(f"rule[{index}]", "must be a table", raw)
        rules.append(_rule(Reader(r.source, raw, f"{r.prefix}rule[{index}].")))
    return ReminderPolicy(
        rules=tuple(rules),
        quiet_start=quiet_start,
        quiet_end=quiet_end,
        max_late=timedelta(minutes=r.integer("max_late_minutes", 120, 1, 7 * 24 * 60)),
        min_lead=timedelta(minutes=r.integer("min_lead_minutes", 30, 0, 24 * 60)),
        digest_time=r.clock("digest_time", "07:30"),
        digest_roles=r.names("digest_roles", ["doctor", "nurse", "reception", "lab"],
                             ("doctor", "nurse", "reception", "lab")),
    )


def _rule(r: Reader) -> ReminderRule:
    r.check_keys({"kind", "audience", "days_before", "at", "hours_before", "minutes_before",
                  "check_in_at"})
    kind = r.text("kind", "")
    audience = r.text("audience", "patient", AUDIENCES)
    if "check_in_at" in r.table:
        return _check_in_rule(r, kind, audience)
    relative = [k for k in ("hours_before", "minutes_before") if k in r.table]
    if "days_before" in r.table:
        if relative:
            raise r.fail(relative[0], "give either days_before with at, or hours/minutes_before")
        return ReminderRule(kind, audience, days_before=r.integer("days_before", 1, 0, 60),
                            at=r.clock("at", "18:00"))
    if len(relative) != 1:
        raise r.fail("days_before", "give days_before with at, or one of hours_before and "
                     "minutes_before")
    minutes = (r.integer("hours_before", 1, 0, 24 * 14) * 60 if relative[0] == "hours_before"
               else r.integer("minutes_before", 60, 0, 24 * 60 * 14))
    return ReminderRule(kind, audience, minutes_before=minutes)


def _check_in_rule(r: Reader, kind: str, audience: str) -> ReminderRule:
    """An evening check-in: only for patients and family, and with no other timing key."""
    others = [k for k in ("days_before", "at", "hours_before", "minutes_before") if k in r.table]
    if others:
        raise r.fail(others[0], "a check-in rule takes check_in_at only")
    if audience not in ("patient", "family"):
        raise r.fail("audience", "a check-in is for patient or family", audience)
    return ReminderRule(kind, audience, at=r.clock("check_in_at", "19:00"), check_in=True)


def parse_bot(r: Reader) -> BotSettings:
    r.check_keys({"token", "username", "base_url", "base_file_url", "link_days",
                  "messages_per_second", "seconds_between_messages_to_one_chat"})
    token = os.environ.get(TOKEN_VARIABLE) or str(r.table.get("token", ""))
    rate = r.table.get("messages_per_second", 29.0)
    spacing = r.table.get("seconds_between_messages_to_one_chat", 1.0)
    for key, value, high in (("messages_per_second", rate, 30.0),
                             ("seconds_between_messages_to_one_chat", spacing, 3600.0)):
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= high:
            raise r.fail(key, f"must be a number above 0 and at most {high:g}", value)
    return BotSettings(
        token=token,
        username=r.text("username", "ank_clinic_bot").lstrip("@"),
        base_url=r.text("base_url", "https://api.telegram.org/bot"),
        base_file_url=r.text("base_file_url", "https://api.telegram.org/file/bot"),
        link_days=r.integer("link_days", 7, 1, 90),
        messages_per_second=float(rate),
        seconds_between_messages_to_one_chat=float(spacing),
    )


CONTACT_KEYS = ("phone", "after_hours_phone", "address", "map_url")


def parse_letterhead(clinic: Reader, privacy: Reader, name: str) -> Letterhead:
    """The clinic's contact details (optional keys of ``[clinic]``, "" when not given) and
    ``[privacy] discreet``, as patient messages show them."""
    privacy.check_keys({"discreet"})
    discreet = privacy.table.get("discreet", True)
    if not isinstance(discreet, bool):
        raise privacy.fail("discreet", "must be true or false", discreet)
    values = {}
    for key in CONTACT_KEYS:
        value = clinic.table.get(key, "")
        if not isinstance(value, str):
            raise clinic.fail(key, "must be text in quotes", value)
        values[key] = value.strip()
    if values["map_url"] and not values["map_url"].startswith(("https://", "http://")):
        raise clinic.fail("map_url", "must start with https:// or http://", values["map_url"])
    return Letterhead(clinic=name, discreet=discreet, **values)
