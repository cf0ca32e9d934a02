"""Typed access to a TOML table, with errors that name the file, the key and the reason.

Shared by every part of the configuration (clinic, protocols, reminders, bot, feeds), so
each message reads the same way: ``clinic.toml: protocol.ank.infusions: must be a whole
number >= 1, got 'eight'``.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import time
from typing import Any
from urllib.parse import urlsplit

from planner.core.errors import ConfigError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Reader:
    """Typed access to one TOML table; every error names the source and the full key."""

    def __init__(self, source: str, table: dict[str, Any], prefix: str = "") -> None:
        self.source, self.table, self.prefix = source, table, prefix

    def fail(self, key: str, reason: str, value: Any = ...) -> ConfigError:
        got = "" if value is ... else f", got {value!r}"
        return ConfigError(f"{self.source}: {self.prefix}{key}: {reason}{got}")

    def sub(self, key: str) -> Reader:
        value = self.table.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table", value)
        return Reader(self.source, value, f"{self.prefix}{key}.")

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
        if any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in value):
            raise self.fail(key, "must not hold control characters or line breaks", value)
        if choices and value not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}", value)
        return value

    def url(self, key: str, default: str) -> str:
        """An http:// or https:// URL with a host (what calendar apps and browsers open)."""
        value = self.text(key, default)
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise self.fail(key, "must be an http:// or https:// URL with a host", value)
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


def weekday_numbers(names: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(WEEKDAYS.index(n) for n in names)
