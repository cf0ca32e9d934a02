"""Words and dates as patients and staff read them, in Japanese or English.

Texts live in one TOML catalogue per language (``planner/messages/ja.toml``, ``en.toml``) so
a clinic edits them in one place; a clinic's override folder may replace single texts.
Dates always carry the weekday, because elderly patients plan by it
(``12月7日(月) 10:00``, ``Mon 7 Dec, 10:00``). Nothing here reads the clock.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType

from planner.core.errors import ConfigError
from planner.core.model import INFUSION

LANGUAGES = ("ja", "en")

# Babel (CLDR) patterns per language: day without year, day with year, text before the time.
# The locale supplies the weekday names, so no weekday table is kept here.
_DAY_PATTERNS = {
    "ja": ("M月d日(EEE)", "y年M月d日(EEE)", " "),
    "en": ("EEE d MMM", "EEE d MMM y", ", "),
}
_TIME_PATTERN = "HH:mm"


class UnknownMessageError(KeyError):
    """Code asked for a text the catalogue does not hold: a bug, so it fails loudly.

    ``str()`` names the key and the language instead of KeyError's bare quoted key.
    """

    def __init__(self, key: str, lang: str) -> None:
        super().__init__(key)
        self.key = key
        self.lang = lang

    def __str__(self) -> str:
        return f"no message {self.key!r} in the {self.lang!r} catalogue (messages/{self.lang}.toml)"


@dataclass(frozen=True)
class Messages:
    """The texts of one language, looked up by dotted key such as ``"infusion.title"``."""

    lang: str
    texts: Mapping[str, str] = field(hash=False)

    def __contains__(self, key: object) -> bool:
        return key in self.texts

    def keys(self) -> frozenset[str]:
        """Every key this catalogue holds."""
        return frozenset(self.texts)

    def get(self, key: str) -> str:
        """The text for ``key``; raises :class:`UnknownMessageError` when there is none."""
        try:
            return self.texts[key]
        except KeyError:
            raise UnknownMessageError(key, self.lang) from None

    def format(self, key: str, **values: object) -> str:
        """The text for ``key`` with its ``{placeholders}`` filled; extra values are ignored.

        A placeholder without a value is a bug in the caller: ValueError names it.
        """
        text = self.get(key)
        missing = placeholders(text) - values.keys()
        if missing:
            names = ", ".join(sorted(missing))
            raise ValueError(f"message {key!r} ({self.lang}) needs a value for: {names}")
        return text.format(**values)


def placeholders(text: str) -> frozenset[str]:
    """The ``{names}`` a text expects, e.g. ``{"n", "total"}``."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(text) if name)


@lru_cache(maxsize=32)
def load_messages(lang: str, override_dir: Path | None = None) -> Messages:
    """The packaged catalogue for ``lang``, with a clinic's overrides merged over it.

    ``override_dir`` may hold ``ja.toml`` and/or ``en.toml`` with only the texts to change;
    a missing file there means no overrides for that language. An override with a key the
    package does not know, or with different placeholders, is a ConfigError naming the file
    and key, so a typo cannot silently leave the old text in place. Results are cached by
    arguments: edits to override files are seen after a restart.
    """
    check_language(lang)
    packaged = _flatten(tomllib.loads(_packaged_text(lang)))
    merged = dict(packaged)
    if override_dir is not None:
        merged.update(_read_overrides(override_dir, lang, packaged))
    return Messages(lang, MappingProxyType(merged))


def check_language(lang: str) -> None:
    """Reject a language the catalogue does not have, naming the value."""
    if lang not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, got {lang!r}")


def _packaged_text(lang: str) -> str:
    return (files("planner.texts") / "messages" / f"{lang}.toml").read_text(encoding="utf-8")


def _flatten(table: Mapping[str, object], prefix: str = "") -> dict[str, str]:
    """Nested TOML tables to dotted keys; surrounding blank lines of texts are dropped."""
    flat: dict[str, str] = {}
    for name, value in table.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{key}."))
        elif isinstance(value, str):
            flat[key] = value.strip("\r\n")
        else:
            raise ConfigError(f"{key}: must be text in quotes, got {value!r}")
    return flat


def _read_overrides(override_dir: Path, lang: str, packaged: Mapping[str, str]) -> dict[str, str]:
    if not override_dir.is_dir():
        raise ConfigError(f"{override_dir}: message override folder does not exist")
    path = override_dir / f"{lang}.toml"
    if not path.is_file():
        return {}
    try:
        overrides = _flatten(tomllib.loads(path.read_text(encoding="utf-8")))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, ConfigError) as error:
        raise ConfigError(f"{path}: {error}") from None
    for key, text in overrides.items():
        _check_override(path, key, text, packaged)
    return overrides


def _check_override(path: Path, key: str, text: str, packaged: Mapping[str, str]) -> None:
    if key not in packaged:
        raise ConfigError(f"{path}: {key}: not a known message key")
    expected = placeholders(packaged[key])
    got = placeholders(text)
    if got != expected:
        want = ", ".join(f"{{{name}}}" for name in sorted(expected)) or "none"
        raise ConfigError(f"{path}: {key}: placeholders must be {want}, got {text!r}")


# --- dates ------------------------------------------------------------------------------
# babel is imported at the first date formatted: loading it takes about 20 ms, and the
# commands that read no dates (``planner --help``, ``planner show``) need not pay it.


def format_day(day: date, lang: str, *, with_year: bool = False) -> str:
    """``12月7日(月)`` / ``Mon 7 Dec``; the year (``2026年12月7日(月)``) only when asked."""
    check_language(lang)
    without, with_, _ = _DAY_PATTERNS[lang]
    from babel.dates import format_date

    return format_date(day, with_ if with_year else without, locale=lang)


def format_when(moment: datetime, lang: str, *, with_year: bool = False) -> str:
    """``12月7日(月) 10:00`` / ``Mon 7 Dec, 10:00``.

    Shows the wall-clock time of ``moment`` in its own zone: convert to the clinic's zone
    first. A naive value is shown as is.
    """
    check_language(lang)
    without, with_, separator = _DAY_PATTERNS[lang]
    pattern = f"{with_ if with_year else without}{separator}{_TIME_PATTERN}"
    from babel.dates import format_datetime

    return format_datetime(moment, pattern, locale=lang)


def format_time_range(start: datetime, end: datetime, lang: str) -> str:
    """``10:00–11:00`` (en dash), each end in its own zone; the day is not repeated."""
    check_language(lang)
    from babel.dates import format_datetime

    first = format_datetime(start, _TIME_PATTERN, locale=lang)
    last = format_datetime(end, _TIME_PATTERN, locale=lang)
    return f"{first}–{last}"


# --- events -----------------------------------------------------------------------------


def event_title(
    kind: str, seq: int, total: int, lang: str, *, override_dir: Path | None = None
) -> str:
    """The visit's name: numbered for infusions (``ANK細胞の点滴（3/8回目）``).

    A kind the catalogue does not know (a step a clinic added) falls back to its name with
    underscores as spaces, so a new step never breaks a reminder.
    """
    messages = load_messages(lang, override_dir)
    if kind == INFUSION:
        return messages.format("infusion.numbered", n=seq, total=total)
    if f"{kind}.title" in messages:
        return messages.get(f"{kind}.title")
    return kind.replace("_", " ")


def patient_description(
    kind: str, seq: int, total: int, lang: str, *, override_dir: Path | None = None
) -> str:
    """The title line, then the patient's instructions (one sentence per line) if any."""
    title = event_title(kind, seq, total, lang, override_dir=override_dir)
    messages = load_messages(lang, override_dir)
    key = f"{kind}.instructions"
    if key not in messages:
        return title
    return f"{title}\n{messages.get(key)}"


def staff_description(
    kind: str,
    seq: int,
    total: int,
    lang: str,
    patient_label: str,
    *,
    override_dir: Path | None = None,
) -> str:
    """The staff note for the event, naming the patient by ``patient_label`` (initials)."""
    messages = load_messages(lang, override_dir)
    title = event_title(kind, seq, total, lang, override_dir=override_dir)
    key = f"{kind}.staff" if f"{kind}.staff" in messages else "other.staff"
    return messages.format(key, patient=patient_label, n=seq, total=total, title=title)


def initials(name: str) -> str:
    """A short label that lets staff recognise a patient without the full name showing.

    The first character of each space-separated part, each followed by a dot, in any
    script: ``Yamada Taro`` → ``Y.T.``, ``山田 太郎`` (or ``山田　太郎``) → ``山.太.``.
    Japanese names written without a space (``山田太郎``) cannot be split reliably and
    give only ``山.``. Raises ValueError for a blank name.
    """
    parts = name.split()
    if not parts:
        raise ValueError("name is blank: cannot make initials")
    return "".join(f"{part[0].upper()}." for part in parts)
