"""The pieces every bot text is made of: a visit as people see it, one language's words
(HTML-escaped), the answers a patient can give, and the tags.

Escaping: each piece of text goes through :func:`html.escape` once, after its
placeholders are filled, so a patient called ``<b>A&B</b>`` reads as exactly that.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from planner.texts.catalogue import (
    Messages,
    event_title,
    load_messages,
)

COME = "come"
CHANGE = "change"
ANSWERS = (COME, CHANGE)
PATIENT_COMMANDS = ("next", "schedule", "ics", "language", "stop", "help")
STAFF_COMMANDS = ("today", "tomorrow", "week", "unconfirmed")
# Why a message did not reach a chat, as alerts word them (other reasons are shown as given).
REASONS = ("blocked", "chat_not_found", "deactivated", "too_late")


@dataclass(frozen=True)
class Visit:
    """One event as a patient or staff member sees it.

    ``kind`` is ``collection``, ``infusion``, ``blood_test``, ``cell_delivery``,
    ``follow_up`` or a step a clinic added; ``seq`` the infusion number (or the infusion a
    step belongs to) of ``total``; ``start``/``end`` aware, in the clinic's zone; ``status``
    ``scheduled``/``done``/``missed``/``cancelled``; ``confirmed`` the patient's answer to
    the reminder: None, ``"come"`` or ``"change"``.
    """

    kind: str
    seq: int
    total: int
    start: datetime
    end: datetime
    status: str
    patient_name: str = ""
    patient_id: int = 0
    confirmed: str | None = None
    makeup: bool = False
    """An infusion added to make up for a missed one."""
    arrive: datetime | None = None
    """For an infusion day: when the patient must be there (the blood test before it)."""
    mrn: str | None = None
    infusion_start: datetime | None = None
    """For a step serving an infusion (the cell delivery): that infusion's start."""


def escape(text: str) -> str:
    return html.escape(text, quote=False)


def bold(text: str) -> str:
    return f"<b>{text}</b>"


@dataclass(frozen=True)
class Words:
    """One language's catalogue; every text it hands out is already HTML-escaped."""

    lang: str
    override_dir: Path | None = None

    @property
    def messages(self) -> Messages:
        return load_messages(self.lang, self.override_dir)

    def plain(self, key: str, **values: object) -> str:
        return self.messages.format(key, **values)

    def text(self, key: str, **values: object) -> str:
        return escape(self.plain(key, **values))

    def optional(self, key: str) -> str | None:
        return escape(self.messages.get(key)) if key in self.messages else None

    def title(self, visit: Visit) -> str:
        return escape(self.plain_title(visit))

    def plain_title(self, visit: Visit) -> str:
        if visit.makeup:
            return self.plain("infusion.numbered_makeup", n=visit.seq, total=visit.total)
        return event_title(
            visit.kind, visit.seq, visit.total, self.lang, override_dir=self.override_dir
        )


